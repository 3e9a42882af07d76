//===- Float.h - IEEE half, bfloat16 and float bit conversions --*- C++ -*-===//
//
// Conversions between float32 and the 16-bit float formats, rounding to
// nearest even exactly as llama.cpp (ggml) and PyTorch do, so that GGUF f16
// and bf16 tensors come out byte for byte.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_FLOAT_H
#define QUANTC_NUMERICS_FLOAT_H

#include <cstdint>
#include <cstring>

namespace quantc {

inline uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

inline float floatFromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

/// float32 -> IEEE binary16, round to nearest even; overflow goes to +-inf,
/// NaN to a quiet NaN of the same sign (0x7E00).
uint16_t fp32ToFp16(float value);
/// IEEE binary16 -> float32 (exact).
float fp16ToFp32(uint16_t bits);

/// float32 -> bfloat16, round to nearest even; NaN to a quiet NaN keeping
/// the sign and top payload bits.
uint16_t fp32ToBf16(float value);
/// bfloat16 -> float32 (exact).
inline float bf16ToFp32(uint16_t bits) {
  return floatFromBits(static_cast<uint32_t>(bits) << 16);
}

/// Row conversions: `count` elements. On x86-64 they run AVX2 or AVX-512
/// kernels chosen at run time (Isa.h), bit-identical to the functions above.
void fp32ToFp16Row(const float *src, uint16_t *dst, int64_t count);
void fp16ToFp32Row(const uint16_t *src, float *dst, int64_t count);
void fp32ToBf16Row(const float *src, uint16_t *dst, int64_t count);
void bf16ToFp32Row(const uint16_t *src, float *dst, int64_t count);

} // namespace quantc

#endif // QUANTC_NUMERICS_FLOAT_H
