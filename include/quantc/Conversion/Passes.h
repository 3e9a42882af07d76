//===- Passes.h - quantc conversions ----------------------------*- C++ -*-===//

#ifndef QUANTC_CONVERSION_PASSES_H
#define QUANTC_CONVERSION_PASSES_H

#include "mlir/Pass/Pass.h"
#include "quantc/Support/GeneratedCode.h"

namespace mlir::qc {
QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DECL
#include "quantc/Conversion/Passes.h.inc"
QUANTC_END_GENERATED_CODE

QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_REGISTRATION
#include "quantc/Conversion/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

#endif // QUANTC_CONVERSION_PASSES_H
