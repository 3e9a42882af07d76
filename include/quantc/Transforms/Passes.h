//===- Passes.h - quantc passes over func/linalg/qc -------------*- C++ -*-===//

#ifndef QUANTC_TRANSFORMS_PASSES_H
#define QUANTC_TRANSFORMS_PASSES_H

#include "quantc/Support/GeneratedCode.h"
#include "QC/QCOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::qc {
/// What statistics an observer collects.
enum class ObserveGranularity { PerTensor, PerChannel, None };

QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DECL
#include "quantc/Transforms/Passes.h.inc"
QUANTC_END_GENERATED_CODE

QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_REGISTRATION
#include "quantc/Transforms/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

#endif // QUANTC_TRANSFORMS_PASSES_H
