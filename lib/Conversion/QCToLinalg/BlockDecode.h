//===- BlockDecode.h - llama.cpp block formats decoded in IR ----*- C++ -*-===//
//
// The IR counterpart of the block codecs in lib/Numerics: builds linalg on
// tensors that turns the bytes of a `!qc.packed` weight into its float32
// values, bit for bit what `quantc::dequantizeRow` produces.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_LIB_CONVERSION_QCTOLINALG_BLOCKDECODE_H
#define QUANTC_LIB_CONVERSION_QCTOLINALG_BLOCKDECODE_H

#include "QC/QCOps.h"

#include "mlir/IR/Builders.h"

namespace mlir::qc {

/// Dequantizes `rowBytes` (tensor<N x rowBytes x i8>, each row the blocks of
/// one weight row as GGUF stores them) to tensor<N x K x f32>, where `type`
/// is !qc.packed<N x K, format>. Fails, emitting nothing, for a format with
/// no IR decoder; the caller reports it.
FailureOr<Value> buildPackedDequantize(OpBuilder &b, Location loc,
                                       Value rowBytes, qc::PackedType type);

} // namespace mlir::qc

#endif // QUANTC_LIB_CONVERSION_QCTOLINALG_BLOCKDECODE_H
