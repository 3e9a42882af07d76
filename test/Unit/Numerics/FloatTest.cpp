//===- FloatTest.cpp - half and bfloat16 conversions ----------------------===//

#include "quantc/Numerics/Float.h"

#include "Golden.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace quantc;

namespace {

bool isFp16NaN(uint16_t bits) {
  return (bits & 0x7C00u) == 0x7C00u && (bits & 0x3FFu) != 0;
}

TEST(Fp16, EveryCodeDecodesAndReEncodesToItself) {
  for (uint32_t code = 0; code <= 0xFFFFu; ++code) {
    auto bits = static_cast<uint16_t>(code);
    float value = fp16ToFp32(bits);
    if (isFp16NaN(bits)) {
      EXPECT_TRUE(std::isnan(value)) << std::hex << code;
      EXPECT_TRUE(isFp16NaN(fp32ToFp16(value))) << std::hex << code;
      continue;
    }
    ASSERT_EQ(fp32ToFp16(value), bits) << std::hex << code;
  }
}

TEST(Fp16, DecodesKnownValues) {
  EXPECT_EQ(fp16ToFp32(0x3C00), 1.0f);
  EXPECT_EQ(fp16ToFp32(0xC000), -2.0f);
  EXPECT_EQ(fp16ToFp32(0x7BFF), 65504.0f);
  EXPECT_EQ(fp16ToFp32(0x0400), 0x1p-14f);
  EXPECT_EQ(fp16ToFp32(0x0001), 0x1p-24f);
  EXPECT_EQ(fp16ToFp32(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::signbit(fp16ToFp32(0x8000)));
}

// Between every pair of adjacent finite halves: the midpoint goes to the
// even code, anything off the midpoint to the nearer one.
TEST(Fp16, RoundsToNearestEvenAtEveryBoundary) {
  for (uint32_t code = 0; code < 0x7BFFu; ++code) {
    for (uint32_t sign : {0u, 0x8000u}) {
      auto lo = static_cast<uint16_t>(code | sign);
      auto hi = static_cast<uint16_t>((code + 1) | sign);
      double a = fp16ToFp32(lo), b = fp16ToFp32(hi);
      auto mid = static_cast<float>((a + b) / 2); // exact in float
      uint16_t even = (code & 1u) ? hi : lo;
      ASSERT_EQ(fp32ToFp16(mid), even) << std::hex << code;
      ASSERT_EQ(fp32ToFp16(std::nextafter(mid, static_cast<float>(a))), lo);
      ASSERT_EQ(fp32ToFp16(std::nextafter(mid, static_cast<float>(b))), hi);
    }
  }
}

TEST(Fp16, OverflowUnderflowAndNaN) {
  EXPECT_EQ(fp32ToFp16(65519.99f), 0x7BFF);
  EXPECT_EQ(fp32ToFp16(65520.0f), 0x7C00) << "tie above max rounds to inf";
  EXPECT_EQ(fp32ToFp16(-1e30f), 0xFC00);
  EXPECT_EQ(fp32ToFp16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(fp32ToFp16(0x1p-25f), 0x0000)
      << "half the smallest subnormal ties to 0";
  EXPECT_EQ(fp32ToFp16(std::nextafter(0x1p-25f, 1.0f)), 0x0001);
  EXPECT_EQ(fp32ToFp16(-1e-30f), 0x8000);
  EXPECT_EQ(fp32ToFp16(std::numeric_limits<float>::quiet_NaN()), 0x7E00);
  EXPECT_EQ(fp32ToFp16(-std::numeric_limits<float>::quiet_NaN()), 0xFE00);
}

TEST(Bf16, EveryCodeDecodesAndReEncodesToItself) {
  for (uint32_t code = 0; code <= 0xFFFFu; ++code) {
    auto bits = static_cast<uint16_t>(code);
    float value = bf16ToFp32(bits);
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(bf16ToFp32(fp32ToBf16(value))));
      continue;
    }
    ASSERT_EQ(fp32ToBf16(value), bits) << std::hex << code;
  }
}

TEST(Bf16, RoundsToNearestEven) {
  // 1 + 2^-8 is half-way between bf16 1.0 and 1.0078125: ties to even (1.0).
  EXPECT_EQ(fp32ToBf16(1.0f + 0x1p-8f), 0x3F80);
  // 1 + 3 * 2^-8 ties between 1.0078125 (odd) and 1.015625: goes up.
  EXPECT_EQ(fp32ToBf16(1.0f + 3 * 0x1p-8f), 0x3F82);
  EXPECT_EQ(fp32ToBf16(std::nextafter(1.0f + 0x1p-8f, 2.0f)), 0x3F81);
  // The largest float rounds up to infinity.
  EXPECT_EQ(fp32ToBf16(std::numeric_limits<float>::max()), 0x7F80);
  EXPECT_EQ(fp32ToBf16(-std::numeric_limits<float>::quiet_NaN()) & 0xFFC0u,
            0xFFC0u);
}

// llama.cpp's own f16/bf16 tensors of the golden input, byte for byte, and
// their dequantized floats bit for bit.
void checkGolden(const char *type, uint16_t (*encode)(float),
                 float (*decode)(uint16_t)) {
  auto dir = test::goldenDir("ggml");
  auto inputPath = dir / "input.f32";
  auto quantPath = dir / (std::string(type) + ".plain.q");
  auto deqPath = dir / (std::string(type) + ".plain.deq.f32");
  QUANTC_REQUIRE_GOLDEN(input, test::readFloats(inputPath), inputPath);
  QUANTC_REQUIRE_GOLDEN(quant, test::readBytes(quantPath), quantPath);
  QUANTC_REQUIRE_GOLDEN(deq, test::readFloats(deqPath), deqPath);
  ASSERT_EQ(input->size(), size_t(test::kGgmlRows * test::kGgmlCols));
  ASSERT_EQ(quant->size(), input->size() * 2);
  ASSERT_EQ(deq->size(), input->size());
  for (size_t i = 0; i < input->size(); ++i) {
    uint16_t expected =
        static_cast<uint16_t>((*quant)[2 * i] | ((*quant)[2 * i + 1] << 8));
    ASSERT_EQ(encode((*input)[i]), expected)
        << type << " element " << i << " of " << (*input)[i];
    ASSERT_EQ(floatBits(decode(expected)), floatBits((*deq)[i])) << i;
  }
}

TEST(Fp16, MatchesLlamaCppGolden) {
  checkGolden("f16", fp32ToFp16, fp16ToFp32);
}
TEST(Bf16, MatchesLlamaCppGolden) {
  checkGolden("bf16", fp32ToBf16, bf16ToFp32);
}

} // namespace
