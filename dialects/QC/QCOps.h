//===- QCOps.h - qc operations ----------------------------------*- C++ -*-===//
//
// The one header users of the dialect include: dialect, attributes, types,
// operations and the verification helpers passes share with the verifiers.
//
//===----------------------------------------------------------------------===//

#ifndef QC_QCOPS_H
#define QC_QCOPS_H

#include "quantc/Support/GeneratedCode.h"
#include "QC/QCDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::qc {
/// Checks that `quantType` (a `!quant.uniform` element type) can quantize a
/// tensor of `shape` with float element `expressed`: 2..8-bit integer storage,
/// finite positive scales, zero points inside the storage range, axes inside
/// the rank, per-axis scale counts and sub-channel blocks matching the shape.
/// Reports through `emitError`; used by op verifiers and by passes before
/// they build a type.
LogicalResult verifyUniformQuantization(function_ref<InFlightDiagnostic()> emitError,
                                        ArrayRef<int64_t> shape, Type expressed,
                                        Type quantType);
} // namespace mlir::qc

QUANTC_BEGIN_GENERATED_CODE
#define GET_OP_CLASSES
#include "QC/QCOps.h.inc"
QUANTC_END_GENERATED_CODE

#endif // QC_QCOPS_H
