//===- FP8Test.cpp - OCP OFP8 E4M3FN and E5M2 conversions -----------------===//

#include "quantc/Numerics/FP8.h"

#include "quantc/Numerics/Float.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

using namespace quantc;

namespace {

constexpr FP8Kind Kinds[] = {FP8Kind::E4M3FN, FP8Kind::E5M2};
constexpr FP8Overflow Modes[] = {FP8Overflow::Saturate,
                                 FP8Overflow::NonSaturating};

const char *kindName(FP8Kind kind) {
  return kind == FP8Kind::E4M3FN ? "E4M3FN" : "E5M2";
}

const float Inf = std::numeric_limits<float>::infinity();

struct Layout {
  int exponentBits;
  int mantissaBits;
  int bias;
};

Layout layoutOf(FP8Kind kind) {
  return kind == FP8Kind::E4M3FN ? Layout{4, 3, 7} : Layout{5, 2, 15};
}

/// Independent decode by the textbook formula, in double.
double referenceDecode(uint8_t code, FP8Kind kind) {
  Layout layout = layoutOf(kind);
  double sign = (code & 0x80u) ? -1.0 : 1.0;
  int exponent =
      (code >> layout.mantissaBits) & ((1 << layout.exponentBits) - 1);
  int mantissa = code & ((1 << layout.mantissaBits) - 1);
  int maxExponent = (1 << layout.exponentBits) - 1;
  double fraction = mantissa / std::ldexp(1.0, layout.mantissaBits);
  if (kind == FP8Kind::E4M3FN && exponent == maxExponent &&
      mantissa == (1 << layout.mantissaBits) - 1)
    return std::numeric_limits<double>::quiet_NaN();
  if (kind == FP8Kind::E5M2 && exponent == maxExponent)
    return mantissa == 0 ? sign * std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::quiet_NaN();
  if (exponent == 0)
    return sign * std::ldexp(fraction, 1 - layout.bias);
  return sign * std::ldexp(1.0 + fraction, exponent - layout.bias);
}

uint8_t maxFiniteCode(FP8Kind kind) {
  return kind == FP8Kind::E4M3FN ? 0x7E : 0x7B;
}

uint8_t canonicalNaN(FP8Kind kind) {
  return kind == FP8Kind::E4M3FN ? 0x7F : 0x7E;
}

bool isNaNCode(uint8_t code, FP8Kind kind) {
  return std::isnan(referenceDecode(code, kind));
}

TEST(FP8, DecodesEveryCodeLikeTheFormula) {
  for (FP8Kind kind : Kinds) {
    int nans = 0, infs = 0;
    for (uint32_t c = 0; c <= 0xFFu; ++c) {
      auto code = static_cast<uint8_t>(c);
      double expected = referenceDecode(code, kind);
      float value = fp8ToFp32(code, kind);
      if (std::isnan(expected)) {
        ++nans;
        EXPECT_TRUE(std::isnan(value)) << kindName(kind) << std::hex << c;
        continue;
      }
      if (std::isinf(expected))
        ++infs;
      EXPECT_EQ(static_cast<double>(value), expected)
          << kindName(kind) << " code 0x" << std::hex << c;
      EXPECT_EQ(std::signbit(value), (c & 0x80u) != 0)
          << kindName(kind) << " code 0x" << std::hex << c;
    }
    EXPECT_EQ(nans, kind == FP8Kind::E4M3FN ? 2 : 6) << kindName(kind);
    EXPECT_EQ(infs, kind == FP8Kind::E4M3FN ? 0 : 2) << kindName(kind);
  }
}

TEST(FP8, DecodesKnownValues) {
  EXPECT_EQ(fp8ToFp32(0x38, FP8Kind::E4M3FN), 1.0f);
  EXPECT_EQ(fp8ToFp32(0x7E, FP8Kind::E4M3FN), 448.0f);
  EXPECT_EQ(fp8ToFp32(0xC0, FP8Kind::E4M3FN), -2.0f);
  EXPECT_EQ(fp8ToFp32(0x08, FP8Kind::E4M3FN), 0x1p-6f);
  EXPECT_EQ(fp8ToFp32(0x01, FP8Kind::E4M3FN), 0x1p-9f);
  EXPECT_EQ(fp8ToFp32(0x07, FP8Kind::E4M3FN), 7 * 0x1p-9f);
  EXPECT_TRUE(std::isnan(fp8ToFp32(0x7F, FP8Kind::E4M3FN)));
  EXPECT_TRUE(std::isnan(fp8ToFp32(0xFF, FP8Kind::E4M3FN)));
  EXPECT_EQ(fp8ToFp32(0x78, FP8Kind::E4M3FN), 256.0f); // S.1111.000 is finite

  EXPECT_EQ(fp8ToFp32(0x3C, FP8Kind::E5M2), 1.0f);
  EXPECT_EQ(fp8ToFp32(0x7B, FP8Kind::E5M2), 57344.0f);
  EXPECT_EQ(fp8ToFp32(0xBE, FP8Kind::E5M2), -1.5f);
  EXPECT_EQ(fp8ToFp32(0x04, FP8Kind::E5M2), 0x1p-14f);
  EXPECT_EQ(fp8ToFp32(0x01, FP8Kind::E5M2), 0x1p-16f);
  EXPECT_EQ(fp8ToFp32(0x7C, FP8Kind::E5M2), Inf);
  EXPECT_EQ(fp8ToFp32(0xFC, FP8Kind::E5M2), -Inf);
  for (uint8_t nan : {0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF})
    EXPECT_TRUE(std::isnan(fp8ToFp32(nan, FP8Kind::E5M2))) << int(nan);

  EXPECT_TRUE(std::signbit(fp8ToFp32(0x80, FP8Kind::E4M3FN)));
  EXPECT_TRUE(std::signbit(fp8ToFp32(0x80, FP8Kind::E5M2)));
  EXPECT_EQ(fp8MaxFinite(FP8Kind::E4M3FN), 448.0f);
  EXPECT_EQ(fp8MaxFinite(FP8Kind::E5M2), 57344.0f);
}

TEST(FP8, EncodesKnownValues) {
  for (FP8Overflow mode : Modes) {
    EXPECT_EQ(fp32ToFP8(1.0f, FP8Kind::E4M3FN, mode), 0x38);
    EXPECT_EQ(fp32ToFP8(448.0f, FP8Kind::E4M3FN, mode), 0x7E);
    EXPECT_EQ(fp32ToFP8(-2.0f, FP8Kind::E4M3FN, mode), 0xC0);
    EXPECT_EQ(fp32ToFP8(0.1f, FP8Kind::E4M3FN, mode), 0x1D); // 0.1015625
    EXPECT_EQ(fp32ToFP8(0x1p-9f, FP8Kind::E4M3FN, mode), 0x01);
    EXPECT_EQ(fp32ToFP8(1.0f, FP8Kind::E5M2, mode), 0x3C);
    EXPECT_EQ(fp32ToFP8(57344.0f, FP8Kind::E5M2, mode), 0x7B);
    EXPECT_EQ(fp32ToFP8(-1.5f, FP8Kind::E5M2, mode), 0xBE);
    EXPECT_EQ(fp32ToFP8(0.1f, FP8Kind::E5M2, mode), 0x2E); // 0.09375
    EXPECT_EQ(fp32ToFP8(0x1p-16f, FP8Kind::E5M2, mode), 0x01);
  }
}

TEST(FP8, EveryNonNaNCodeReEncodesToItself) {
  for (FP8Kind kind : Kinds)
    for (FP8Overflow mode : Modes)
      for (uint32_t c = 0; c <= 0xFFu; ++c) {
        auto code = static_cast<uint8_t>(c);
        if (isNaNCode(code, kind))
          continue;
        // SATFINITE sends inf (E5M2 only) to the max finite value.
        uint8_t expected = code;
        if (std::isinf(referenceDecode(code, kind)) &&
            mode == FP8Overflow::Saturate)
          expected = (code & 0x80) | maxFiniteCode(kind);
        EXPECT_EQ(fp32ToFP8(fp8ToFp32(code, kind), kind, mode), expected)
            << kindName(kind) << " code 0x" << std::hex << c;
      }
}

TEST(FP8, EveryNaNEncodesToTheCanonicalNaN) {
  for (FP8Kind kind : Kinds)
    for (FP8Overflow mode : Modes) {
      for (uint32_t c = 0; c <= 0xFFu; ++c) {
        auto code = static_cast<uint8_t>(c);
        if (!isNaNCode(code, kind))
          continue;
        // Decoded NaNs keep their sign bit.
        EXPECT_EQ(fp32ToFP8(fp8ToFp32(code, kind), kind, mode),
                  (code & 0x80) | canonicalNaN(kind))
            << kindName(kind) << " code 0x" << std::hex << c;
      }
      // Signalling and payload-carrying fp32 NaNs too.
      for (uint32_t nan : {0x7F800001u, 0x7FC00000u, 0x7FFFFFFFu, 0x7FA00000u})
        for (uint32_t sign : {0u, 0x80000000u})
          EXPECT_EQ(fp32ToFP8(floatFromBits(sign | nan), kind, mode),
                    static_cast<uint8_t>((sign >> 24) | canonicalNaN(kind)))
              << kindName(kind) << std::hex << (sign | nan);
    }
}

// Between every pair of adjacent finite codes of one sign: the exact midpoint
// goes to the code with an even mantissa, and the floats on either side of it
// go to the nearer code.
TEST(FP8, RoundsToNearestEvenAtEveryBoundary) {
  for (FP8Kind kind : Kinds)
    for (FP8Overflow mode : Modes)
      for (uint8_t signBit : {0x00, 0x80})
        for (uint8_t lower = 0; lower < maxFiniteCode(kind); ++lower) {
          auto lowerCode = static_cast<uint8_t>(signBit | lower);
          auto upperCode = static_cast<uint8_t>(lowerCode + 1);
          double lowerValue = referenceDecode(lowerCode, kind);
          double upperValue = referenceDecode(upperCode, kind);
          double midpoint = (lowerValue + upperValue) / 2;
          auto mid = static_cast<float>(midpoint);
          ASSERT_EQ(static_cast<double>(mid), midpoint); // exact in float
          uint8_t evenCode = (lowerCode & 1) ? upperCode : lowerCode;
          float towardZero = std::nextafter(mid, 0.0f);
          float awayFromZero = std::nextafter(mid, std::copysign(Inf, mid));
          EXPECT_EQ(fp32ToFP8(mid, kind, mode), evenCode)
              << kindName(kind) << " midpoint " << mid;
          EXPECT_EQ(fp32ToFP8(towardZero, kind, mode), lowerCode)
              << kindName(kind) << " below " << mid;
          EXPECT_EQ(fp32ToFP8(awayFromZero, kind, mode), upperCode)
              << kindName(kind) << " above " << mid;
        }
}

TEST(FP8, SubnormalsAndUnderflow) {
  for (FP8Kind kind : Kinds)
    for (FP8Overflow mode : Modes) {
      float minSubnormal = fp8ToFp32(0x01, kind);
      float minNormal = fp8ToFp32(kind == FP8Kind::E4M3FN ? 0x08 : 0x04, kind);
      float maxSubnormal =
          fp8ToFp32(kind == FP8Kind::E4M3FN ? 0x07 : 0x03, kind);
      EXPECT_EQ(minSubnormal, kind == FP8Kind::E4M3FN ? 0x1p-9f : 0x1p-16f);
      EXPECT_EQ(minNormal, kind == FP8Kind::E4M3FN ? 0x1p-6f : 0x1p-14f);

      // Half the smallest subnormal ties to (even) zero; just above it rounds
      // up; anything smaller gives zero of the same sign.
      float half = minSubnormal / 2;
      for (float sign : {1.0f, -1.0f}) {
        uint8_t signBit = sign < 0 ? 0x80 : 0x00;
        EXPECT_EQ(fp32ToFP8(sign * half, kind, mode), signBit);
        EXPECT_EQ(fp32ToFP8(sign * std::nextafter(half, 1.0f), kind, mode),
                  signBit | 0x01);
        for (float tiny :
             {std::nextafter(half, 0.0f), half / 2, 0x1p-30f, 1e-38f,
              std::numeric_limits<float>::denorm_min(), 0.0f})
          EXPECT_EQ(fp32ToFP8(sign * tiny, kind, mode), signBit)
              << kindName(kind) << " " << sign * tiny;
        // 0.75 of the smallest subnormal rounds up to it.
        EXPECT_EQ(fp32ToFP8(sign * 0.75f * minSubnormal, kind, mode),
                  signBit | 0x01);
        // Between the largest subnormal and the smallest normal: the midpoint
        // ties to the even (normal) code.
        float boundary = (maxSubnormal + minNormal) / 2;
        uint8_t minNormalCode = kind == FP8Kind::E4M3FN ? 0x08 : 0x04;
        EXPECT_EQ(fp32ToFP8(sign * boundary, kind, mode),
                  signBit | minNormalCode);
        EXPECT_EQ(fp32ToFP8(sign * std::nextafter(boundary, 0.0f), kind, mode),
                  signBit | (minNormalCode - 1));
        // Just below the smallest normal rounds up into it.
        EXPECT_EQ(fp32ToFP8(sign * std::nextafter(minNormal, 0.0f), kind, mode),
                  signBit | minNormalCode);
      }
    }
}

TEST(FP8, E4M3FNOverflow) {
  const FP8Kind kind = FP8Kind::E4M3FN;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float sign : {1.0f, -1.0f}) {
    uint8_t s = sign < 0 ? 0x80 : 0x00;
    for (FP8Overflow mode : Modes) {
      EXPECT_EQ(fp32ToFP8(sign * 448.0f, kind, mode), s | 0x7E);
      EXPECT_EQ(fp32ToFP8(sign * std::nextafter(448.0f, Inf), kind, mode),
                s | 0x7E);
      EXPECT_EQ(fp32ToFP8(sign * std::nextafter(464.0f, 0.0f), kind, mode),
                s | 0x7E);
      // 464 is half-way to the would-be 480; 448 has the even mantissa.
      EXPECT_EQ(fp32ToFP8(sign * 464.0f, kind, mode), s | 0x7E);
      EXPECT_EQ(fp32ToFP8(std::copysign(nan, sign), kind, mode), s | 0x7F);
    }
    const FP8Overflow sat = FP8Overflow::Saturate;
    const FP8Overflow nonSat = FP8Overflow::NonSaturating;
    for (float big : {std::nextafter(464.0f, Inf), 480.0f, 1e6f,
                      std::numeric_limits<float>::max(), Inf}) {
      EXPECT_EQ(fp32ToFP8(sign * big, kind, sat), s | 0x7E) << sign * big;
      EXPECT_EQ(fp32ToFP8(sign * big, kind, nonSat), s | 0x7F) << sign * big;
    }
  }
  for (FP8Overflow mode : Modes)
    EXPECT_EQ(fp32ToFP8(-0.0f, kind, mode), 0x80);
}

TEST(FP8, E5M2Overflow) {
  const FP8Kind kind = FP8Kind::E5M2;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float sign : {1.0f, -1.0f}) {
    uint8_t s = sign < 0 ? 0x80 : 0x00;
    for (FP8Overflow mode : Modes) {
      EXPECT_EQ(fp32ToFP8(sign * 57344.0f, kind, mode), s | 0x7B);
      EXPECT_EQ(fp32ToFP8(sign * std::nextafter(61440.0f, 0.0f), kind, mode),
                s | 0x7B);
      EXPECT_EQ(fp32ToFP8(std::copysign(nan, sign), kind, mode), s | 0x7E);
    }
    const FP8Overflow sat = FP8Overflow::Saturate;
    const FP8Overflow nonSat = FP8Overflow::NonSaturating;
    // 61440 is half-way to 65536, whose code (the inf pattern) is even.
    for (float big : {61440.0f, std::nextafter(61440.0f, Inf), 65536.0f, 1e6f,
                      std::numeric_limits<float>::max(), Inf}) {
      EXPECT_EQ(fp32ToFP8(sign * big, kind, sat), s | 0x7B) << sign * big;
      EXPECT_EQ(fp32ToFP8(sign * big, kind, nonSat), s | 0x7C) << sign * big;
    }
  }
  for (FP8Overflow mode : Modes)
    EXPECT_EQ(fp32ToFP8(-0.0f, kind, mode), 0x80);
}

/// Decoded values of codes 0 .. max finite, ascending.
std::vector<double> positiveFiniteValues(FP8Kind kind) {
  std::vector<double> values;
  for (uint8_t c = 0; c <= maxFiniteCode(kind); ++c)
    values.push_back(referenceDecode(c, kind));
  return values;
}

/// Reference encoder by search over the sorted positive finite values, with
/// the overflow thresholds from the spec: independent of the bit tricks.
uint8_t referenceEncode(float value, FP8Kind kind, FP8Overflow mode) {
  uint8_t s = std::signbit(value) ? 0x80 : 0x00;
  if (std::isnan(value))
    return s | canonicalNaN(kind);
  double magnitude = std::fabs(static_cast<double>(value));
  uint8_t maxCode = maxFiniteCode(kind);
  double maxValue = referenceDecode(maxCode, kind);
  double threshold = kind == FP8Kind::E4M3FN ? 464.0 : 61440.0;
  bool overflows =
      kind == FP8Kind::E4M3FN ? magnitude > threshold : magnitude >= threshold;
  if (overflows) {
    if (mode == FP8Overflow::Saturate)
      return s | maxCode;
    return s | (kind == FP8Kind::E4M3FN ? 0x7F : 0x7C);
  }
  if (magnitude >= maxValue)
    return s | maxCode;
  static const std::vector<double> Tables[2] = {
      positiveFiniteValues(FP8Kind::E4M3FN),
      positiveFiniteValues(FP8Kind::E5M2)};
  const std::vector<double> &values = Tables[kind == FP8Kind::E5M2];
  auto upper = static_cast<uint8_t>(
      std::upper_bound(values.begin(), values.end(), magnitude) -
      values.begin());
  auto lower = static_cast<uint8_t>(upper - 1);
  double below = magnitude - values[lower];
  double above = values[upper] - magnitude;
  if (below < above || (below == above && (lower & 1) == 0))
    return s | lower;
  return s | upper;
}

TEST(FP8, MatchesSearchReferenceOnAFloatSweep) {
  // Every 2^11-th float bit pattern (with low bits varied so ties and
  // near-ties appear), both signs, all exponents.
  std::vector<float> inputs;
  for (uint64_t bits = 0; bits <= 0xFFFFFFFFu; bits += 2047)
    inputs.push_back(floatFromBits(static_cast<uint32_t>(bits)));
  for (FP8Kind kind : Kinds)
    for (FP8Overflow mode : Modes) {
      int failures = 0;
      for (float x : inputs) {
        uint8_t expected = referenceEncode(x, kind, mode);
        uint8_t actual = fp32ToFP8(x, kind, mode);
        if (expected != actual && ++failures <= 10)
          ADD_FAILURE() << kindName(kind) << " " << x << " (0x" << std::hex
                        << floatBits(x) << "): expected 0x" << int(expected)
                        << ", got 0x" << int(actual);
      }
      EXPECT_EQ(failures, 0) << kindName(kind);
    }
}

TEST(FP8, RowConversions) {
  const float src[] = {0.0f,   -0.0f,   1.0f,     -2.0f,
                       448.0f, 1000.0f, 0x1p-10f, Inf};
  constexpr int64_t n = sizeof(src) / sizeof(src[0]);
  for (FP8Kind kind : Kinds)
    for (FP8Overflow mode : Modes) {
      uint8_t codes[n];
      fp32ToFP8Row(src, codes, n, kind, mode);
      float back[n];
      fp8ToFp32Row(codes, back, n, kind);
      for (int64_t i = 0; i < n; ++i) {
        EXPECT_EQ(codes[i], fp32ToFP8(src[i], kind, mode)) << i;
        float single = fp8ToFp32(codes[i], kind);
        if (std::isnan(single))
          EXPECT_TRUE(std::isnan(back[i])) << i;
        else
          EXPECT_EQ(floatBits(back[i]), floatBits(single)) << i;
      }
    }
}

} // namespace
