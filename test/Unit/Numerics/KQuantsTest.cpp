//===- KQuantsTest.cpp - Q2_K Q3_K Q4_K Q5_K Q6_K Q8_K --------------------===//

#include "quantc/Numerics/KQuants.h"

#include "quantc/Numerics/BlockCodecs.h"
#include "quantc/Numerics/Float.h"

#include "BlockTesting.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace quantc;
using namespace quantc::test;

namespace {

constexpr Format kWeightFormats[] = {Format::Q2_K, Format::Q3_K, Format::Q4_K,
                                     Format::Q5_K, Format::Q6_K};
constexpr int kSuperBlock = 256;

//===----------------------------------------------------------------------===//
// llama.cpp golden files (the test itself is in BlockGoldenTest.cpp)
//===----------------------------------------------------------------------===//

INSTANTIATE_TEST_SUITE_P(KQuants, BlockGolden,
                         testing::Values(GoldenCase{Format::Q2_K, "plain"},
                                         GoldenCase{Format::Q2_K, "imatrix"},
                                         GoldenCase{Format::Q3_K, "plain"},
                                         GoldenCase{Format::Q3_K, "imatrix"},
                                         GoldenCase{Format::Q4_K, "plain"},
                                         GoldenCase{Format::Q4_K, "imatrix"},
                                         GoldenCase{Format::Q5_K, "plain"},
                                         GoldenCase{Format::Q5_K, "imatrix"},
                                         GoldenCase{Format::Q6_K, "plain"},
                                         GoldenCase{Format::Q6_K, "imatrix"}),
                         goldenCaseName);

//===----------------------------------------------------------------------===//
// Decoding sub-block scales, independently of the library
//===----------------------------------------------------------------------===//

float halfAt(const uint8_t *p) {
  return fp16ToFp32(static_cast<uint16_t>(p[0] | (p[1] << 8)));
}

/// What a sub-block can represent: values scale * q - offset for integer q
/// in [lowCode, highCode], and the super-block scale its scale is a
/// multiple of.
struct SubBlock {
  float scale;
  float offset;
  int lowCode;
  int highCode;
  float superScale;
  float superMinScale;
};

/// Sub-block `j` of a super-block, from the layouts in ggml-common.h.
SubBlock decodeSubBlock(Format format, const uint8_t *block, int j) {
  switch (format) {
  case Format::Q2_K: {
    float d = halfAt(block + 80), dmin = halfAt(block + 82);
    uint8_t packed = block[j];
    return {d * float(packed & 0xF), dmin * float(packed >> 4), 0, 3, d, dmin};
  }
  case Format::Q3_K: {
    float d = halfAt(block + 108);
    const uint8_t *s = block + 96;
    int low = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
    int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return {d * float((low | (high << 4)) - 32), 0.0f, -4, 3, d, 0.0f};
  }
  case Format::Q4_K:
  case Format::Q5_K: {
    float d = halfAt(block), dmin = halfAt(block + 2);
    const uint8_t *s = block + 4;
    int sc, m;
    if (j < 4) {
      sc = s[j] & 63;
      m = s[j + 4] & 63;
    } else {
      sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
      m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
    int nmax = format == Format::Q4_K ? 15 : 31;
    return {d * float(sc), dmin * float(m), 0, nmax, d, dmin};
  }
  default: { // Q6_K
    float d = halfAt(block + 208);
    auto sc = static_cast<int8_t>(block[192 + j]);
    return {d * float(sc), 0.0f, -32, 31, d, 0.0f};
  }
  }
}

int subBlockSize(Format format) {
  return format == Format::Q4_K || format == Format::Q5_K ? 32 : 16;
}

std::vector<float> normalRows(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> values(rows * cols);
  for (float &v : values)
    v = normal(rng);
  return values;
}

//===----------------------------------------------------------------------===//
// Weight formats
//===----------------------------------------------------------------------===//

// After the scale search, llama.cpp re-rounds every element against the
// scale and min it will be dequantized with: each value must come back as
// the level of its sub-block nearest to it (the end level when it lies
// outside the sub-block's range). A sub-block whose scale code is 0 keeps
// a constant; its values are then within a few super-block steps of it.
TEST(KQuants, ElementsDequantizeToTheNearestLevel) {
  const int64_t rows = 8, cols = 1024;
  std::vector<float> src = randomRows(rows, cols, 1234);
  std::vector<float> importance = randomImportance(cols, 3);
  for (Format format : kWeightFormats) {
    for (const float *imp : {static_cast<const float *>(nullptr),
                             static_cast<const float *>(importance.data())}) {
      SCOPED_TRACE(formatName(format) + (imp ? " imatrix" : " plain"));
      const size_t blockBytes = getFormatInfo(format).bytesPerBlock;
      const int groupSize = subBlockSize(format);
      std::vector<uint8_t> q = quantize(format, src, rows, cols, imp);
      std::vector<float> deq = dequantize(format, q, rows, cols);
      size_t clamped = 0, requantized = 0;
      for (size_t block = 0; block < src.size() / kSuperBlock; ++block) {
        for (int j = 0; j < kSuperBlock / groupSize; ++j) {
          SubBlock sub = decodeSubBlock(format, &q[block * blockBytes], j);
          float levelA = sub.scale * float(sub.lowCode) - sub.offset;
          float levelB = sub.scale * float(sub.highCode) - sub.offset;
          float lowest = std::min(levelA, levelB);
          float highest = std::max(levelA, levelB);
          for (int i = 0; i < groupSize; ++i) {
            size_t e = block * kSuperBlock + j * groupSize + i;
            double x = src[e], y = deq[e];
            double slack =
                1e-5 * (std::fabs(x) + std::fabs(lowest) + std::fabs(highest));
            if (sub.scale == 0) {
              double bound =
                  (sub.highCode - sub.lowCode + 1) * std::fabs(sub.superScale) +
                  std::fabs(sub.superMinScale) + slack;
              ASSERT_LE(std::fabs(x - y), bound) << "element " << e;
              continue;
            }
            ++requantized;
            if (x < lowest || x > highest) {
              ++clamped;
              ASSERT_NEAR(y, x < lowest ? lowest : highest, slack)
                  << "element " << e << " x " << x;
            } else {
              ASSERT_LE(std::fabs(x - y), 0.5 * std::fabs(sub.scale) + slack)
                  << "element " << e << " x " << x << " scale " << sub.scale;
            }
          }
        }
      }
      // The searches trade some clipping for finer steps (most in the 2-bit
      // format), never much.
      EXPECT_GT(requantized, src.size() * 9 / 10);
      EXPECT_LT(clamped, src.size() / 5);
    }
  }
}

// Relative RMSE on normal weight-like data, about 10% above what llama.cpp's
// algorithms reach on it (0.296, 0.151, 0.071, 0.036, 0.018): a search that
// went wrong shows up here even when every element is rounded to its
// nearest level.
TEST(KQuants, ErrorIsAtLlamaCppLevel) {
  const int64_t rows = 16, cols = 2048;
  std::vector<float> src = normalRows(rows, cols, 77);
  const struct {
    Format format;
    double maxRelativeRmse;
  } expectations[] = {{Format::Q2_K, 0.32},
                      {Format::Q3_K, 0.165},
                      {Format::Q4_K, 0.078},
                      {Format::Q5_K, 0.040},
                      {Format::Q6_K, 0.020}};
  double sumSquares = 0;
  for (float v : src)
    sumSquares += double(v) * v;
  for (const auto &expect : expectations) {
    SCOPED_TRACE(formatName(expect.format));
    std::vector<float> deq = dequantize(
        expect.format, quantize(expect.format, src, rows, cols, nullptr), rows,
        cols);
    double errorSquares = 0;
    for (size_t i = 0; i < src.size(); ++i)
      errorSquares += (double(src[i]) - deq[i]) * (double(src[i]) - deq[i]);
    EXPECT_LT(std::sqrt(errorSquares / sumSquares), expect.maxRelativeRmse);
  }
}

// The importance-weighted searches exist to lower the importance-weighted
// error; over many blocks they must beat the plain algorithms.
TEST(KQuants, ImportanceLowersWeightedError) {
  const int64_t rows = 8, cols = 2048;
  std::vector<float> src = randomRows(rows, cols, 99);
  std::vector<float> importance = randomImportance(cols, 7);
  for (Format format : kWeightFormats) {
    SCOPED_TRACE(formatName(format));
    EXPECT_LT(
        weightedRoundTripError(format, src, rows, cols, importance, true),
        weightedRoundTripError(format, src, rows, cols, importance, false));
  }
}

// llama.cpp stores an all-zero super-block as all-zero bytes in every
// K-quant format, with or without importance weights.
TEST(KQuants, ZeroRowsAreZeroBytes) {
  const int64_t rows = 2, cols = 512;
  std::vector<float> zeros(rows * cols, 0.0f);
  std::vector<float> importance(cols, 1.0f);
  for (Format format : kWeightFormats) {
    for (const float *imp : {static_cast<const float *>(nullptr),
                             static_cast<const float *>(importance.data())}) {
      SCOPED_TRACE(formatName(format) + (imp ? " imatrix" : " plain"));
      std::vector<uint8_t> q = quantize(format, zeros, rows, cols, imp);
      EXPECT_EQ(q, std::vector<uint8_t>(q.size(), 0));
      for (float v : dequantize(format, q, rows, cols))
        ASSERT_EQ(v, 0.0f);
    }
  }
}

TEST(KQuants, RowsMustBeWholeSuperBlocks) {
  std::vector<float> src(384, 1.0f);
  std::vector<uint8_t> dst(1024);
  for (Format format : kWeightFormats)
    EXPECT_EQ(quantizeRows(format, src.data(), dst.data(), 1, 384, nullptr), 0u)
        << formatName(format);
}

//===----------------------------------------------------------------------===//
// Q8_K
//===----------------------------------------------------------------------===//

struct Q8Block {
  float d;
  int8_t qs[kSuperBlock];
  int16_t bsums[16];
};

Q8Block decodeQ8_K(const uint8_t *p) {
  Q8Block block;
  std::memcpy(&block.d, p, 4);
  std::memcpy(block.qs, p + 4, kSuperBlock);
  for (int j = 0; j < 16; ++j)
    block.bsums[j] =
        static_cast<int16_t>(p[260 + 2 * j] | (p[261 + 2 * j] << 8));
  return block;
}

TEST(KQuants, Q8_KBlocksHoldRoundedCodesAndTheirSums) {
  const int64_t rows = 4, cols = 1024;
  std::vector<float> src = randomRows(rows, cols, 21);
  EXPECT_FALSE(getFormatInfo(Format::Q8_K).acceptsImportance);
  std::vector<uint8_t> q = quantize(Format::Q8_K, src, rows, cols, nullptr);
  std::vector<float> deq = dequantize(Format::Q8_K, q, rows, cols);
  for (size_t b = 0; b < src.size() / kSuperBlock; ++b) {
    Q8Block block = decodeQ8_K(&q[b * 292]);
    const float *x = &src[b * kSuperBlock];
    float amax = 0;
    for (int i = 0; i < kSuperBlock; ++i)
      amax = std::max(amax, std::fabs(x[i]));
    // The largest magnitude maps to -127 (d = -max / 127 carries its sign).
    EXPECT_NEAR(std::fabs(block.d), amax / 127, amax * 1e-6);
    int extremes = 0;
    for (int i = 0; i < kSuperBlock; ++i) {
      ASSERT_GE(block.qs[i], -127);
      extremes += block.qs[i] == -127;
      // Dequantization is d * q, bit for bit.
      ASSERT_EQ(floatBits(deq[b * kSuperBlock + i]),
                floatBits(block.d * float(block.qs[i])));
      ASSERT_LE(std::fabs(x[i] - deq[b * kSuperBlock + i]),
                0.5 * std::fabs(block.d) * (1 + 1e-5))
          << "block " << b << " element " << i;
    }
    EXPECT_GE(extremes, 1);
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i)
        sum += block.qs[16 * j + i];
      EXPECT_EQ(block.bsums[j], sum) << "block " << b << " group " << j;
    }
  }
}

TEST(KQuants, Q8_KZeroBlockIsZeroBytes) {
  std::vector<float> zeros(kSuperBlock, 0.0f);
  std::vector<uint8_t> q =
      quantize(Format::Q8_K, zeros, 1, kSuperBlock, nullptr);
  EXPECT_EQ(q, std::vector<uint8_t>(292, 0));
  for (float v : dequantize(Format::Q8_K, q, 1, kSuperBlock))
    ASSERT_EQ(v, 0.0f);
}

TEST(KQuants, DispatchCoversKQuantFormatsOnly) {
  expectFamilyDispatch(getKQuantRowCodec,
                       {Format::Q2_K, Format::Q3_K, Format::Q4_K, Format::Q5_K,
                        Format::Q6_K, Format::Q8_K});
}

} // namespace
