//===- ElementCodecs.h - one quantized element, encoded in IR ---*- C++ -*-===//
//
// Scalar arith/tensor builders for the element maps convert-qc-to-linalg
// puts in linalg.generic bodies, each the IR form of a function in
// lib/Numerics and equal to it bit for bit for every input. They use only
// integer and exact float operations, because the CPU backend cannot
// extend or truncate f8 values and because rounding must not depend on
// the target.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_CONVERSION_QCTOLINALG_ELEMENTCODECS_H
#define QUANTC_CONVERSION_QCTOLINALG_ELEMENTCODECS_H

#include "mlir/IR/Builders.h"

namespace mlir::qc {

/// f32 -> the E4M3FN byte (i8): round to nearest even, saturating to +-448
/// (inf included), NaN to the NaN of its sign. `quantc::fp32ToFP8(x,
/// E4M3FN, Saturate)`.
Value buildFP32ToFP8E4M3FN(OpBuilder &b, Location loc, Value value);

/// E4M3FN byte (i8) -> f32, exact (NaN codes give sign | 0x7FC00000).
/// `quantc::fp8ToFp32(x, E4M3FN)`.
Value buildFP8E4M3FNToFP32(OpBuilder &b, Location loc, Value byte);

/// Code `col` (index) of row `row` of a bit-packed code plane `codes`
/// (tensor<rows x codeRowBytes x i8>): `quantc::readGroupedCode` as i32,
/// sign-extended for signed formats. Reads the byte holding the code's
/// first bit and, for widths that straddle bytes, the next one (clamped to
/// the row, where the code never reaches).
Value buildGroupedCodeRead(OpBuilder &b, Location loc, Value codes, Value row,
                           Value col, unsigned bits, bool isSigned);

/// clamp(zeroPoint + roundeven(x * inverseScale), qmin, qmax) as i32, NaN
/// to the zero point: `quantc::quantizeAffineWithInverse`. The clamp is
/// done in float before the conversion, as there, so that huge values
/// cannot overflow it.
Value buildAffineQuantize(OpBuilder &b, Location loc, Value x,
                          Value inverseScale, int32_t zeroPoint, int32_t qmin,
                          int32_t qmax);

} // namespace mlir::qc

#endif // QUANTC_CONVERSION_QCTOLINALG_ELEMENTCODECS_H
