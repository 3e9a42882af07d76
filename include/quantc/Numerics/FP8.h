//===- FP8.h - OCP OFP8 E4M3FN and E5M2 conversions -------------*- C++ -*-===//
//
// Conversions between float32 and the two OCP 8-bit float formats (MLIR
// f8E4M3FN and f8E5M2), rounding to nearest even. The overflow mode picks
// between the CUDA/PTX SATFINITE behaviour and the non-saturating casts of
// PyTorch (c10) and ml_dtypes, so either can be matched byte for byte.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_FP8_H
#define QUANTC_NUMERICS_FP8_H

#include <cstdint>

namespace quantc {

enum class FP8Kind : uint8_t {
  /// Bias 7, no infinities, NaN is S.1111.111, max 448.
  E4M3FN,
  /// IEEE-like: bias 15, inf S.11111.00, NaN S.11111.{01,10,11}, max 57344.
  E5M2,
};

enum class FP8Overflow : uint8_t {
  /// SATFINITE: out-of-range finite values and +-inf go to +-max finite;
  /// NaN stays NaN.
  Saturate,
  /// c10 / ml_dtypes casts: values rounding above the max finite become NaN
  /// (E4M3FN, which has no inf) or +-inf (E5M2); inf becomes NaN (E4M3FN) or
  /// stays inf (E5M2).
  NonSaturating,
};

/// float32 -> FP8, round to nearest even (subnormals included). NaN becomes
/// the canonical NaN of the same sign: 0x7F (E4M3FN) or 0x7E (E5M2).
uint8_t fp32ToFP8(float value, FP8Kind kind, FP8Overflow overflow);
/// FP8 -> float32 (exact).
float fp8ToFp32(uint8_t bits, FP8Kind kind);

/// Largest finite value: 448 (E4M3FN) or 57344 (E5M2).
float fp8MaxFinite(FP8Kind kind);

/// Row conversions: `count` elements.
void fp32ToFP8Row(const float *src, uint8_t *dst, int64_t count, FP8Kind kind,
                  FP8Overflow overflow);
void fp8ToFp32Row(const uint8_t *src, float *dst, int64_t count, FP8Kind kind);

} // namespace quantc

#endif // QUANTC_NUMERICS_FP8_H
