//===- FP8.cpp - OCP OFP8 E4M3FN and E5M2 conversions ---------------------===//

#include "quantc/Numerics/FP8.h"

#include "quantc/Numerics/Float.h"

#include "BitRounding.h"

namespace quantc {

namespace {

/// Layout of one FP8 kind. Codes below are magnitudes (sign bit clear).
struct FP8Format {
  int mantissaBits;
  int bias;
  uint32_t maxFiniteCode;
  uint8_t nanCode;
  /// What a non-saturating cast gives for an overflow: NaN or inf.
  uint8_t overflowCode;
};

constexpr FP8Format E4M3FNFormat = {3, 7, 0x7Eu, 0x7Fu, 0x7Fu};
constexpr FP8Format E5M2Format = {2, 15, 0x7Bu, 0x7Eu, 0x7Cu};

const FP8Format &formatOf(FP8Kind kind) {
  return kind == FP8Kind::E4M3FN ? E4M3FNFormat : E5M2Format;
}

} // namespace

uint8_t fp32ToFP8(float value, FP8Kind kind, FP8Overflow overflow) {
  const FP8Format &format = formatOf(kind);
  uint32_t bits = floatBits(value);
  auto sign = static_cast<uint8_t>((bits >> 24) & 0x80u);
  uint32_t magnitude = bits & 0x7FFFFFFFu;

  if (magnitude > 0x7F800000u) // NaN
    return sign | format.nanCode;

  // Round with an unbounded exponent range first; the overflow check below
  // then covers finite values and inf alike, since inf rounds past the max
  // exactly like a huge finite value and both modes treat them the same.
  uint32_t code;
  int32_t exponent = static_cast<int32_t>(magnitude >> 23) - 127;
  int minNormalExponent = 1 - format.bias;
  if (exponent >= minNormalExponent) {
    // Normal: rebias the exponent in place, then drop the extra mantissa
    // bits. A carry out of the mantissa correctly bumps the exponent.
    uint32_t rebased =
        magnitude - (static_cast<uint32_t>(127 - format.bias) << 23);
    code = detail::shiftRightRoundEven(rebased, 23 - format.mantissaBits);
  } else {
    // Subnormal (or zero): value = m * 2^(minNormalExponent - mantissaBits).
    // The full significand is 1.f * 2^exponent = full * 2^(exponent - 23).
    // Rounding up to 2^mantissaBits yields the min normal code, as it should.
    int shift = 23 - exponent + minNormalExponent - format.mantissaBits;
    // full < 2^24, so beyond 24 dropped bits it is below half of the smallest
    // subnormal and rounds to zero. fp32 subnormals (wrong implicit one) land
    // here too.
    if (shift > 24)
      return sign;
    uint32_t full = (magnitude & 0x7FFFFFu) | 0x800000u;
    code = detail::shiftRightRoundEven(full, shift);
  }

  if (code > format.maxFiniteCode)
    return sign | (overflow == FP8Overflow::Saturate
                       ? static_cast<uint8_t>(format.maxFiniteCode)
                       : format.overflowCode);
  return sign | static_cast<uint8_t>(code);
}

float fp8ToFp32(uint8_t bits, FP8Kind kind) {
  const FP8Format &format = formatOf(kind);
  uint32_t sign = static_cast<uint32_t>(bits & 0x80u) << 24;
  uint32_t magnitude = bits & 0x7Fu;
  if (magnitude > format.maxFiniteCode) {
    // Only E5M2 has inf; every other code past the max is NaN.
    if (kind == FP8Kind::E5M2 && magnitude == 0x7Cu)
      return floatFromBits(sign | 0x7F800000u);
    return floatFromBits(sign | 0x7FC00000u);
  }
  uint32_t exponent = magnitude >> format.mantissaBits;
  uint32_t mantissa = magnitude & ((1u << format.mantissaBits) - 1u);
  if (exponent != 0)
    return floatFromBits(
        sign | ((exponent + 127u - static_cast<uint32_t>(format.bias)) << 23) |
        (mantissa << (23 - format.mantissaBits)));
  // Zero or subnormal: m * 2^(1 - bias - mantissaBits), exact in float.
  float scaled =
      static_cast<float>(mantissa) *
      floatFromBits(
          static_cast<uint32_t>(127 + 1 - format.bias - format.mantissaBits)
          << 23);
  return floatFromBits(sign | floatBits(scaled));
}

float fp8MaxFinite(FP8Kind kind) {
  return kind == FP8Kind::E4M3FN ? 448.0f : 57344.0f;
}

void fp32ToFP8Row(const float *src, uint8_t *dst, int64_t count, FP8Kind kind,
                  FP8Overflow overflow) {
  for (int64_t i = 0; i < count; ++i)
    dst[i] = fp32ToFP8(src[i], kind, overflow);
}

void fp8ToFp32Row(const uint8_t *src, float *dst, int64_t count, FP8Kind kind) {
  for (int64_t i = 0; i < count; ++i)
    dst[i] = fp8ToFp32(src[i], kind);
}

} // namespace quantc
