//===- IQuantsTest.cpp - IQ4_NL IQ4_XS ------------------------------------===//

#include "quantc/Numerics/IQuants.h"

#include "quantc/Numerics/BlockCodecs.h"
#include "quantc/Numerics/Float.h"

#include "BlockTesting.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace quantc;
using namespace quantc::test;

namespace {

constexpr Format kIQuantFormats[] = {Format::IQ4_NL, Format::IQ4_XS};

//===----------------------------------------------------------------------===//
// llama.cpp golden files (the test itself is in BlockGoldenTest.cpp)
//===----------------------------------------------------------------------===//

INSTANTIATE_TEST_SUITE_P(IQuants, BlockGolden,
                         testing::Values(GoldenCase{Format::IQ4_NL, "plain"},
                                         GoldenCase{Format::IQ4_NL, "imatrix"},
                                         GoldenCase{Format::IQ4_XS, "plain"},
                                         GoldenCase{Format::IQ4_XS, "imatrix"}),
                         goldenCaseName);

//===----------------------------------------------------------------------===//
// Properties that need no golden data
//===----------------------------------------------------------------------===//

float halfAt(const uint8_t *p) {
  return fp16ToFp32(static_cast<uint16_t>(p[0] | (p[1] << 8)));
}

/// The 6-bit sub-block scale of group g of an IQ4_XS super-block, biased
/// back to [-32, 31].
int xsSubScale(const uint8_t *block, int g) {
  int low = (block[4 + g / 2] >> (4 * (g % 2))) & 0xF;
  int high = ((block[2] | (block[3] << 8)) >> (2 * g)) & 3;
  return (low | (high << 4)) - 32;
}

/// Dequantization scale of each 32-element group of a quantized row.
std::vector<float> groupScales(Format format, const std::vector<uint8_t> &q) {
  std::vector<float> scales;
  const size_t blockBytes = getFormatInfo(format).bytesPerBlock;
  for (size_t at = 0; at < q.size(); at += blockBytes) {
    const uint8_t *block = &q[at];
    if (format == Format::IQ4_NL) {
      scales.push_back(halfAt(block));
      continue;
    }
    for (int g = 0; g < 8; ++g)
      scales.push_back(halfAt(block) *
                       static_cast<float>(xsSubScale(block, g)));
  }
  return scales;
}

// Each element decodes to (nearly) the nearest value its group can
// represent: codes are chosen at the fp32 scale, which fp16 then rounds by
// at most 2^-11, moving any value by at most 127 * 2^-11 steps either way.
// Within the levels' range that bounds the error by half the widest gap
// (113 - 89) / 2 = 12 steps.
TEST(IQuants, ElementsDecodeToTheNearestLevelOfTheirGroup) {
  const int64_t rows = 8, cols = 1024;
  std::vector<float> src = randomRows(rows, cols, 1234);
  std::vector<float> importance(cols);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(0.0f, 2.0f);
  for (float &w : importance)
    w = uniform(rng);
  for (Format format : kIQuantFormats) {
    for (const float *imp :
         {(const float *)nullptr, (const float *)importance.data()}) {
      SCOPED_TRACE(formatName(format) + (imp ? " imatrix" : " plain"));
      std::vector<uint8_t> q = quantize(format, src, rows, cols, imp);
      std::vector<float> deq = dequantize(format, q, rows, cols);
      std::vector<float> scales = groupScales(format, q);
      ASSERT_EQ(scales.size(), src.size() / 32);
      for (size_t i = 0; i < src.size(); ++i) {
        const double x = src[i], s = scales[i / 32];
        double nearest = INFINITY;
        for (int8_t level : kIQ4Levels)
          nearest = std::min(nearest, std::fabs(x - s * level));
        const double slack = 0.125 * std::fabs(s) + 1e-6 * std::fabs(x);
        const double error = std::fabs(x - double(deq[i]));
        ASSERT_LE(error, nearest + slack) << "element " << i << " scale " << s;
        const double lo = std::min(-127 * s, 113 * s);
        const double hi = std::max(-127 * s, 113 * s);
        if (x >= lo && x <= hi) {
          ASSERT_LE(error, 12 * std::fabs(s) + slack) << "element " << i;
        }
      }
    }
  }
}

// IQ4_XS maps its signed largest group scale to sub-scale -32, so that group
// uses the full 6-bit range and d carries the sign.
TEST(IQuants, XsLargestGroupScaleIsMinus32) {
  const int64_t rows = 4, cols = 2048;
  std::vector<float> src = randomRows(rows, cols, 77);
  std::vector<uint8_t> q = quantize(Format::IQ4_XS, src, rows, cols, nullptr);
  const size_t blockBytes = getFormatInfo(Format::IQ4_XS).bytesPerBlock;
  for (size_t at = 0; at < q.size(); at += blockBytes) {
    int lowest = 31;
    for (int g = 0; g < 8; ++g)
      lowest = std::min(lowest, xsSubScale(&q[at], g));
    EXPECT_EQ(lowest, -32) << "super-block " << at / blockBytes;
  }
}

// The importance-weighted search exists to lower the importance-weighted
// error; over many blocks it must beat the plain (x^2-weighted) search.
TEST(IQuants, ImportanceLowersWeightedError) {
  const int64_t rows = 8, cols = 2048;
  std::vector<float> src = randomRows(rows, cols, 99);
  std::vector<float> importance = randomImportance(cols, 7);
  for (Format format : kIQuantFormats) {
    SCOPED_TRACE(formatName(format));
    EXPECT_LT(
        weightedRoundTripError(format, src, rows, cols, importance, true),
        weightedRoundTripError(format, src, rows, cols, importance, false));
  }
}

// A zero block stores scale 0 (IQ4_XS: -0, from -max/32) and every code at
// the level nearest 0 (index 8, level 1); IQ4_XS's sub-scales are all 0,
// stored as 32 (high bits 0b10 in every scales_h pair).
TEST(IQuants, ZeroRowsMatchLlamaCppAndDequantizeToZero) {
  const int64_t cols = 512;
  std::vector<float> zeros(cols, 0.0f);
  std::vector<float> importance(cols, 1.0f);
  for (const float *imp :
       {(const float *)nullptr, (const float *)importance.data()}) {
    SCOPED_TRACE(imp ? "imatrix" : "plain");
    std::vector<uint8_t> nl = quantize(Format::IQ4_NL, zeros, 1, cols, imp);
    std::vector<uint8_t> nlBlock = {0x00, 0x00};
    nlBlock.resize(18, 0x88);
    for (size_t at = 0; at < nl.size(); at += nlBlock.size())
      EXPECT_TRUE(std::equal(nlBlock.begin(), nlBlock.end(), &nl[at]));
    std::vector<uint8_t> xs = quantize(Format::IQ4_XS, zeros, 1, cols, imp);
    std::vector<uint8_t> xsBlock = {0x00, 0x80, 0xAA, 0xAA, 0, 0, 0, 0};
    xsBlock.resize(136, 0x88);
    for (size_t at = 0; at < xs.size(); at += xsBlock.size())
      EXPECT_TRUE(std::equal(xsBlock.begin(), xsBlock.end(), &xs[at]));
    for (Format format : kIQuantFormats)
      for (float v :
           dequantize(format, quantize(format, zeros, 1, cols, imp), 1, cols))
        ASSERT_EQ(v, 0.0f) << formatName(format);
  }
}

// Values around 1e-8 give scales below fp16's smallest subnormal: llama.cpp
// stores d = 0 and the whole block dequantizes to zeros.
TEST(IQuants, TinyScalesUnderflowToZeroLikeLlamaCpp) {
  const int64_t cols = 512;
  std::vector<float> tiny(cols);
  for (int64_t c = 0; c < cols; ++c)
    tiny[c] = 1e-8f * static_cast<float>((c % 7) - 3);
  for (Format format : kIQuantFormats) {
    SCOPED_TRACE(formatName(format));
    std::vector<uint8_t> q = quantize(format, tiny, 1, cols, nullptr);
    EXPECT_EQ(halfAt(q.data()), 0.0f);
    for (float v : dequantize(format, q, 1, cols))
      ASSERT_EQ(v, 0.0f);
  }
}

// Only relative importance matters: a power-of-two factor scales every
// weighted sum of the search exactly, so no decision may change.
TEST(IQuants, ImportanceScaleDoesNotMatter) {
  const int64_t rows = 4, cols = 1024;
  std::vector<float> src = randomRows(rows, cols, 21);
  std::vector<float> importance(cols), scaled(cols);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(0.1f, 3.0f);
  for (int64_t c = 0; c < cols; ++c) {
    importance[c] = uniform(rng);
    scaled[c] = importance[c] * 64.0f;
  }
  for (Format format : kIQuantFormats)
    EXPECT_EQ(quantize(format, src, rows, cols, importance.data()),
              quantize(format, src, rows, cols, scaled.data()))
        << formatName(format);
}

TEST(IQuants, RowFunctionsReturnRegistryRowBytes) {
  const int64_t n = 512;
  std::vector<float> src = randomRows(1, n, 3);
  std::vector<uint8_t> buf(n);
  EXPECT_EQ(quantizeRowIQ4_NL(src.data(), buf.data(), n, nullptr),
            rowBytes(Format::IQ4_NL, n));
  EXPECT_EQ(quantizeRowIQ4_XS(src.data(), buf.data(), n, nullptr),
            rowBytes(Format::IQ4_XS, n));
}

TEST(IQuants, DispatchCoversIQ4FormatsOnly) {
  expectFamilyDispatch(getIQuantRowCodec, {Format::IQ4_NL, Format::IQ4_XS});
  for (Format format : {Format::IQ4_NL, Format::IQ4_XS})
    EXPECT_TRUE(getFormatInfo(format).acceptsImportance) << formatName(format);
}

} // namespace
