//===- BlockDecode.h - llama.cpp block formats decoded in linalg -*- C++
//-*-===//
//
// The IR counterpart of the row dequantizers in lib/Numerics: builds linalg
// that turns GGUF block bytes into the floats those dequantizers produce,
// bit for bit (same integer unpacking, same float operations in the same
// order, no fast-math flags).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_LIB_CONVERSION_QCTOLINALG_BLOCKDECODE_H
#define QUANTC_LIB_CONVERSION_QCTOLINALG_BLOCKDECODE_H

#include "QC/QCOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/Value.h"
#include "mlir/Support/LLVM.h"

namespace mlir::qc {

/// Dequantizes a packed weight. `rowBytes` holds the payload of `type` as
/// GGUF stores it, one row of blocks per row of the logical shape:
/// `tensor<D0 x ... x Dr-2 x R x i8>` with R = row length / block size *
/// bytes per block (dimensions may also be dynamic). Returns a
/// `tensor<D0 x ... x Dr-1 x f32>` (`tensor<N x K x f32>` for a weight
/// matrix) equal bit for bit to what `quantc::dequantizeRows` produces.
///
/// Emits an error at `loc` and returns failure when the format has no IR
/// decoder ("no IR decoder for format X") or when `rowBytes` does not have
/// that shape.
FailureOr<Value> buildPackedDequantize(OpBuilder &b, Location loc,
                                       Value rowBytes, qc::PackedType type);

} // namespace mlir::qc

#endif // QUANTC_LIB_CONVERSION_QCTOLINALG_BLOCKDECODE_H
