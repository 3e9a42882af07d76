//===- LegacyQuantsTest.cpp - Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1 --------------===//

#include "quantc/Numerics/LegacyQuants.h"

#include "quantc/Numerics/BlockCodecs.h"

#include "quantc/Numerics/Float.h"

#include "BlockTesting.h"
#include "Golden.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace quantc;
using namespace quantc::test;

namespace {

constexpr Format kLegacyFormats[] = {Format::Q4_0, Format::Q4_1, Format::Q5_0,
                                     Format::Q5_1, Format::Q8_0, Format::Q8_1};
constexpr Format kWeightFormats[] = {Format::Q4_0, Format::Q4_1, Format::Q5_0,
                                     Format::Q5_1, Format::Q8_0};

//===----------------------------------------------------------------------===//
// llama.cpp golden files (the test itself is in BlockGoldenTest.cpp)
//===----------------------------------------------------------------------===//

INSTANTIATE_TEST_SUITE_P(Legacy, BlockGolden,
                         testing::Values(GoldenCase{Format::Q4_0, "plain"},
                                         GoldenCase{Format::Q4_0, "imatrix"},
                                         GoldenCase{Format::Q4_1, "plain"},
                                         GoldenCase{Format::Q4_1, "imatrix"},
                                         GoldenCase{Format::Q5_0, "plain"},
                                         GoldenCase{Format::Q5_0, "imatrix"},
                                         GoldenCase{Format::Q5_1, "plain"},
                                         GoldenCase{Format::Q5_1, "imatrix"},
                                         GoldenCase{Format::Q8_0, "plain"},
                                         GoldenCase{Format::Q8_0, "imatrix"}),
                         goldenCaseName);

//===----------------------------------------------------------------------===//
// Properties that need no golden data
//===----------------------------------------------------------------------===//

/// Largest |x - dequantized| allowed in a block, from the stored scale `d`
/// and min `m`: half a step of rounding (a whole step where the symmetric
/// formats clamp the side opposite the block's extreme), plus what rounding
/// d and m to fp16 (relative error <= 2^-11) moves the largest code.
double errorBound(Format format, float d, float m, float blockAbsMax) {
  double ad = std::fabs(d), am = std::fabs(m);
  double fp16Rel = std::ldexp(1.0, -11) * 1.01;
  double floatSlack = 1e-6 * blockAbsMax;
  switch (format) {
  case Format::Q4_0:
    return ad + 8 * ad * fp16Rel + floatSlack;
  case Format::Q5_0:
    return ad + 16 * ad * fp16Rel + floatSlack;
  case Format::Q4_1:
    return 0.5 * ad + 15 * ad * fp16Rel + am * fp16Rel + floatSlack;
  case Format::Q5_1:
    return 0.5 * ad + 31 * ad * fp16Rel + am * fp16Rel + floatSlack;
  default: // Q8_0, Q8_1
    return 0.5 * ad + 127 * ad * fp16Rel + floatSlack;
  }
}

/// Offset of the fp16 min field, or -1 where the format has none.
int minOffset(Format format) {
  return format == Format::Q4_1 || format == Format::Q5_1 ? 2 : -1;
}

float halfAt(const uint8_t *p) {
  return fp16ToFp32(static_cast<uint16_t>(p[0] | (p[1] << 8)));
}

TEST(LegacyQuants, RoundTripErrorIsBoundedPerBlock) {
  const int64_t rows = 8, cols = 1024;
  std::vector<float> src = randomRows(rows, cols, 1234);
  for (Format format : kLegacyFormats) {
    SCOPED_TRACE(formatName(format));
    const size_t blockBytes = getFormatInfo(format).bytesPerBlock;
    std::vector<uint8_t> q = quantize(format, src, rows, cols, nullptr);
    std::vector<float> deq = dequantize(format, q, rows, cols);
    for (size_t block = 0; block < src.size() / 32; ++block) {
      const uint8_t *b = &q[block * blockBytes];
      float d = halfAt(b);
      float m = minOffset(format) >= 0 ? halfAt(b + minOffset(format)) : 0;
      float absMax = 0;
      for (int j = 0; j < 32; ++j)
        absMax = std::max(absMax, std::fabs(src[block * 32 + j]));
      double bound = errorBound(format, d, m, absMax);
      for (int j = 0; j < 32; ++j) {
        size_t i = block * 32 + j;
        ASSERT_LE(std::fabs(double(src[i]) - double(deq[i])), bound)
            << "block " << block << " element " << j << " x " << src[i] << " d "
            << d << " m " << m;
      }
    }
  }
}

// The importance-weighted search exists to lower the importance-weighted
// error; over many blocks it must beat the plain algorithm.
TEST(LegacyQuants, ImportanceLowersWeightedError) {
  const int64_t rows = 8, cols = 2048;
  std::vector<float> src = randomRows(rows, cols, 99);
  std::vector<float> importance = randomImportance(cols, 7);
  for (Format format :
       {Format::Q4_0, Format::Q4_1, Format::Q5_0, Format::Q5_1}) {
    SCOPED_TRACE(formatName(format));
    EXPECT_LT(
        weightedRoundTripError(format, src, rows, cols, importance, true),
        weightedRoundTripError(format, src, rows, cols, importance, false));
  }
}

// Q8_0 is importance-blind in llama.cpp: the weights change nothing.
TEST(LegacyQuants, Q8_0IgnoresImportance) {
  const int64_t rows = 4, cols = 256;
  std::vector<float> src = randomRows(rows, cols, 5);
  std::vector<float> importance(cols, 3.0f);
  importance[7] = 1000.0f;
  EXPECT_EQ(quantize(Format::Q8_0, src, rows, cols, nullptr),
            quantize(Format::Q8_0, src, rows, cols, importance.data()));
}

TEST(LegacyQuants, AllZeroRowsDequantizeToZero) {
  const int64_t rows = 2, cols = 128;
  std::vector<float> zeros(rows * cols, 0.0f);
  std::vector<float> importance(cols, 1.0f);
  for (Format format : kLegacyFormats) {
    for (const float *imp :
         {(const float *)nullptr, (const float *)importance.data()}) {
      SCOPED_TRACE(formatName(format) + (imp ? " imatrix" : " plain"));
      std::vector<uint8_t> q = quantize(format, zeros, rows, cols, imp);
      EXPECT_EQ(halfAt(q.data()), 0.0f) << "scale of a zero block";
      for (float v : dequantize(format, q, rows, cols))
        ASSERT_EQ(v, 0.0f);
    }
  }
}

// llama.cpp's plain zero block: every code at the zero point (8 for Q4_0,
// 16 for Q5_0, so qh all ones) or code 0 with m = 0. The symmetric formats'
// d = max / -8 is -0.0, which fp16 keeps (0x8000).
TEST(LegacyQuants, ZeroBlockBytesMatchLlamaCpp) {
  std::vector<float> zeros(32, 0.0f);
  auto bytes = [&](Format format) {
    return quantize(format, zeros, 1, 32, nullptr);
  };
  std::vector<uint8_t> q40 = {0x00, 0x80};
  q40.resize(18, 0x88);
  EXPECT_EQ(bytes(Format::Q4_0), q40);
  std::vector<uint8_t> q50 = {0x00, 0x80, 0xFF, 0xFF, 0xFF, 0xFF};
  q50.resize(22, 0x00);
  EXPECT_EQ(bytes(Format::Q5_0), q50);
  EXPECT_EQ(bytes(Format::Q4_1), std::vector<uint8_t>(20, 0));
  EXPECT_EQ(bytes(Format::Q5_1), std::vector<uint8_t>(24, 0));
  EXPECT_EQ(bytes(Format::Q8_0), std::vector<uint8_t>(34, 0));
  EXPECT_EQ(bytes(Format::Q8_1), std::vector<uint8_t>(36, 0));
}

// A constant block is representable exactly by every 4/5-bit format (0.5 is
// exact in fp16): the symmetric ones put it at code 0 with d = -0.5/8 or
// -0.5/16, the affine ones store it as the min with d = 0.
TEST(LegacyQuants, ConstantRowsRoundTripExactly) {
  const int64_t cols = 64;
  std::vector<float> half(cols, 0.5f);
  for (Format format :
       {Format::Q4_0, Format::Q4_1, Format::Q5_0, Format::Q5_1}) {
    SCOPED_TRACE(formatName(format));
    for (float v :
         dequantize(format, quantize(format, half, 1, cols, nullptr), 1, cols))
      ASSERT_EQ(v, 0.5f);
  }
}

// Values around 1e-8 give block scales below fp16's smallest subnormal:
// llama.cpp stores d = 0 and the block dequantizes to zeros (or to the
// fp16-rounded min for the affine formats).
TEST(LegacyQuants, TinyScalesUnderflowToZeroLikeLlamaCpp) {
  const int64_t cols = 64;
  std::vector<float> tiny(cols);
  for (int64_t c = 0; c < cols; ++c)
    tiny[c] = 1e-8f * static_cast<float>((c % 7) - 3);
  for (Format format : kLegacyFormats) {
    SCOPED_TRACE(formatName(format));
    std::vector<uint8_t> q = quantize(format, tiny, 1, cols, nullptr);
    EXPECT_EQ(halfAt(q.data()), 0.0f);
    for (float v : dequantize(format, q, 1, cols))
      ASSERT_LT(std::fabs(v), 1e-7f);
  }
}

// Q8_1's second fp16 is s = d * sum(qs), with d the unrounded amax / 127 as
// llama.cpp computes it; its codes are Q8_0's.
TEST(LegacyQuants, Q8_1StoresScaledSumOfQuants) {
  const int64_t rows = 4, cols = 512;
  std::vector<float> src = randomRows(rows, cols, 42);
  std::vector<uint8_t> q81 = quantize(Format::Q8_1, src, rows, cols, nullptr);
  std::vector<uint8_t> q80 = quantize(Format::Q8_0, src, rows, cols, nullptr);
  std::vector<float> deq = dequantize(Format::Q8_1, q81, rows, cols);
  const size_t bytes81 = getFormatInfo(Format::Q8_1).bytesPerBlock;
  const size_t bytes80 = getFormatInfo(Format::Q8_0).bytesPerBlock;
  for (size_t block = 0; block < src.size() / 32; ++block) {
    const uint8_t *b = &q81[block * bytes81];
    float amax = 0;
    for (int j = 0; j < 32; ++j)
      amax = std::max(amax, std::fabs(src[block * 32 + j]));
    const float d = amax / 127;
    int sum = 0;
    for (int j = 0; j < 32; ++j)
      sum += static_cast<int8_t>(b[4 + j]);
    EXPECT_EQ(b[0] | (b[1] << 8), fp32ToFp16(d)) << block;
    EXPECT_EQ(b[2] | (b[3] << 8), fp32ToFp16(static_cast<float>(sum) * d))
        << block;
    EXPECT_EQ(std::memcmp(b + 4, &q80[block * bytes80 + 2], 32), 0) << block;
    // s summarises the block: close to the sum of its dequantized values.
    double deqSum = 0;
    for (int j = 0; j < 32; ++j)
      deqSum += deq[block * 32 + j];
    EXPECT_NEAR(halfAt(b + 2), deqSum, 1e-2 * (1 + std::fabs(deqSum)));
  }
}

// Nibble order and qh bit layout: element j in the low nibble of byte j,
// element j + 16 in the high nibble, bit 4 of element j at qh bit j.
TEST(LegacyQuants, Q5PacksHighBitsInElementOrder) {
  std::vector<float> ramp(32);
  for (int j = 0; j < 32; ++j)
    ramp[j] = static_cast<float>(j); // Q5_1: d = 1, m = 0, code j
  std::vector<uint8_t> q = quantize(Format::Q5_1, ramp, 1, 32, nullptr);
  EXPECT_EQ(halfAt(q.data()), 1.0f);
  EXPECT_EQ(halfAt(q.data() + 2), 0.0f);
  EXPECT_EQ(q[4] | q[5] << 8 | q[6] << 16 | uint32_t(q[7]) << 24, 0xFFFF0000u);
  for (int j = 0; j < 16; ++j)
    EXPECT_EQ(q[8 + j], uint8_t(j | ((j + 16) & 15) << 4)) << j;
  std::vector<float> deq = dequantize(Format::Q5_1, q, 1, 32);
  EXPECT_EQ(deq, ramp);
}

TEST(LegacyQuants, RowFunctionsReturnRegistryRowBytes) {
  const int64_t n = 96;
  std::vector<float> src = randomRows(1, n, 3);
  std::vector<uint8_t> buf(n * 4);
  EXPECT_EQ(quantizeRowQ4_0(src.data(), buf.data(), n, nullptr),
            rowBytes(Format::Q4_0, n));
  EXPECT_EQ(quantizeRowQ4_1(src.data(), buf.data(), n, nullptr),
            rowBytes(Format::Q4_1, n));
  EXPECT_EQ(quantizeRowQ5_0(src.data(), buf.data(), n, nullptr),
            rowBytes(Format::Q5_0, n));
  EXPECT_EQ(quantizeRowQ5_1(src.data(), buf.data(), n, nullptr),
            rowBytes(Format::Q5_1, n));
  EXPECT_EQ(quantizeRowQ8_0(src.data(), buf.data(), n, nullptr),
            rowBytes(Format::Q8_0, n));
  EXPECT_EQ(quantizeRowQ8_1(src.data(), buf.data(), n),
            rowBytes(Format::Q8_1, n));
}

TEST(LegacyQuants, DispatchCoversLegacyFormatsOnly) {
  expectFamilyDispatch(getLegacyRowCodec,
                       {std::begin(kLegacyFormats), std::end(kLegacyFormats)});
  for (Format format : kWeightFormats)
    EXPECT_EQ(getFormatInfo(format).acceptsImportance, format != Format::Q8_0)
        << getFormatInfo(format).name;
}

TEST(LegacyQuants, DispatchRejectsUnsupportedFormatsAndShapes) {
  std::vector<float> src(64, 1.0f);
  std::vector<uint8_t> dst(1024, 0xA5);
  std::vector<float> back(64, 7.0f);
  // Formats without a codec (yet): nothing written, 0 / false returned.
  for (Format format : {Format::F32, Format::Q4_K, Format::TQ2_0}) {
    if (getRowCodec(format))
      continue; // a later family supplies it
    EXPECT_EQ(quantizeRows(format, src.data(), dst.data(), 1, 64, nullptr), 0u);
    EXPECT_FALSE(dequantizeRows(format, dst.data(), back.data(), 1, 64));
  }
  // A row that is not a whole number of blocks.
  EXPECT_EQ(quantizeRows(Format::Q4_0, src.data(), dst.data(), 1, 48, nullptr),
            0u);
  EXPECT_FALSE(dequantizeRows(Format::Q8_0, dst.data(), back.data(), 1, 40));
  EXPECT_EQ(dst, std::vector<uint8_t>(1024, 0xA5));
  EXPECT_EQ(back, std::vector<float>(64, 7.0f));
}

// quantizeRows is row-by-row: rows quantize independently (the imatrix path
// normalises weights per row, so this also checks row boundaries).
TEST(LegacyQuants, RowsAreIndependent) {
  const int64_t rows = 4, cols = 256;
  std::vector<float> src = randomRows(rows, cols, 11);
  std::vector<float> importance(cols, 1.0f);
  for (int64_t c = 0; c < cols; c += 5)
    importance[c] = 50.0f;
  for (Format format : kWeightFormats) {
    SCOPED_TRACE(formatName(format));
    std::vector<uint8_t> all =
        quantize(format, src, rows, cols, importance.data());
    size_t stride = rowBytes(format, cols);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> row(src.begin() + r * cols,
                             src.begin() + (r + 1) * cols);
      std::vector<uint8_t> one =
          quantize(format, row, 1, cols, importance.data());
      EXPECT_EQ(std::memcmp(one.data(), &all[r * stride], stride), 0) << r;
    }
  }
}

} // namespace
