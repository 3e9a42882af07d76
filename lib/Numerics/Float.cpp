//===- Float.cpp - IEEE half and bfloat16 conversions ---------------------===//

#include "quantc/Numerics/Float.h"

#include "BitRounding.h"
#include "Kernels.h"

namespace quantc {

uint16_t fp32ToFp16(float value) {
  uint32_t bits = floatBits(value);
  auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t magnitude = bits & 0x7FFFFFFFu;

  if (magnitude > 0x7F800000u) // NaN
    return sign | 0x7E00u;
  // At or above 65520 (half-way between the largest half, 65504, and the
  // next power of two) rounding to nearest even gives infinity.
  if (magnitude >= 0x477FF000u)
    return sign | 0x7C00u;

  int32_t exponent = static_cast<int32_t>(magnitude >> 23) - 127;
  if (exponent >= -14) {
    // Normal half: drop 13 mantissa bits.
    uint32_t rebased = magnitude - (112u << 23); // exponent bias 127 -> 15
    return sign |
           static_cast<uint16_t>(detail::shiftRightRoundEven(rebased, 13));
  }
  // Subnormal half (or zero): value = m * 2^-24 with m < 1024.
  if (exponent < -25) // below half of the smallest subnormal: rounds to zero
    return sign;
  uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u; // implicit one
  int shift = -exponent - 1; // 14..24 bits to drop
  return sign |
         static_cast<uint16_t>(detail::shiftRightRoundEven(mantissa, shift));
}

float fp16ToFp32(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1Fu;
  uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0x1Fu) // inf / NaN, payload kept
    return floatFromBits(sign | 0x7F800000u | (mantissa << 13));
  if (exponent != 0)
    return floatFromBits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  // Zero or subnormal: m * 2^-24, exact in float.
  float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
  return floatFromBits(sign | floatBits(magnitude));
}

uint16_t fp32ToBf16(float value) {
  uint32_t bits = floatBits(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) // NaN: keep sign, force quiet
    return static_cast<uint16_t>((bits >> 16) | 0x40u);
  uint32_t roundingBias = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + roundingBias) >> 16);
}

void fp32ToFp16Row(const float *src, uint16_t *dst, int64_t count) {
  if (auto kernel = detail::activeKernels().fp32ToFp16)
    return kernel(src, dst, count);
  for (int64_t i = 0; i < count; ++i)
    dst[i] = fp32ToFp16(src[i]);
}

void fp16ToFp32Row(const uint16_t *src, float *dst, int64_t count) {
  if (auto kernel = detail::activeKernels().fp16ToFp32)
    return kernel(src, dst, count);
  for (int64_t i = 0; i < count; ++i)
    dst[i] = fp16ToFp32(src[i]);
}

void fp32ToBf16Row(const float *src, uint16_t *dst, int64_t count) {
  if (auto kernel = detail::activeKernels().fp32ToBf16)
    return kernel(src, dst, count);
  for (int64_t i = 0; i < count; ++i)
    dst[i] = fp32ToBf16(src[i]);
}

void bf16ToFp32Row(const uint16_t *src, float *dst, int64_t count) {
  if (auto kernel = detail::activeKernels().bf16ToFp32)
    return kernel(src, dst, count);
  for (int64_t i = 0; i < count; ++i)
    dst[i] = bf16ToFp32(src[i]);
}

} // namespace quantc
