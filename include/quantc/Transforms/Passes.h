//===- Passes.h - quantc passes over func/linalg/qc -------------*- C++ -*-===//

#ifndef QUANTC_TRANSFORMS_PASSES_H
#define QUANTC_TRANSFORMS_PASSES_H

#include "QC/QCOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::qc {
/// What statistics an observer collects.
enum class ObserveGranularity { PerTensor, PerChannel, None };

#define GEN_PASS_DECL
#include "quantc/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

#endif // QUANTC_TRANSFORMS_PASSES_H
