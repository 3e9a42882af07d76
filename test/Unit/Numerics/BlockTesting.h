//===- BlockTesting.h - shared helpers of the block-format tests -*- C++
//-*-===//
//
// Quantize/dequantize wrappers over the row-codec dispatch, random rows of
// several shapes, a scope that selects a kernel tier, and the llama.cpp
// golden-file fixture that each format
// family instantiates with its own formats (BlockGoldenTest.cpp holds the
// test body).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_TEST_UNIT_NUMERICS_BLOCKTESTING_H
#define QUANTC_TEST_UNIT_NUMERICS_BLOCKTESTING_H

#include "quantc/Numerics/BlockCodecs.h"
#include "quantc/Numerics/Formats.h"
#include "quantc/Numerics/Isa.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace quantc::test {

inline std::string formatName(Format format) {
  return std::string(getFormatInfo(format).name);
}

inline size_t rowBytes(Format format, int64_t cols) {
  return static_cast<size_t>(*getFormatInfo(format).rowBytes(cols));
}

inline std::vector<uint8_t> quantize(Format format,
                                     const std::vector<float> &src,
                                     int64_t rows, int64_t cols,
                                     const float *importance) {
  std::vector<uint8_t> out(rows * rowBytes(format, cols), 0xA5);
  size_t written =
      quantizeRows(format, src.data(), out.data(), rows, cols, importance);
  EXPECT_EQ(written, out.size()) << formatName(format);
  return out;
}

inline std::vector<float> dequantize(Format format,
                                     const std::vector<uint8_t> &src,
                                     int64_t rows, int64_t cols) {
  std::vector<float> out(rows * cols);
  EXPECT_TRUE(dequantizeRows(format, src.data(), out.data(), rows, cols));
  return out;
}

/// Rows of `cols` values of several shapes, all at unit-ish scale.
inline std::vector<float> randomRows(int64_t rows, int64_t cols,
                                     uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::exponential_distribution<float> exponential(1.0f);
  std::vector<float> values(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      float &v = values[r * cols + c];
      switch (r % 4) {
      case 0:
        v = normal(rng);
        break;
      case 1:
        v = uniform(rng) * 3.0f;
        break;
      case 2: // one-sided with occasional outliers
        v = exponential(rng) * (c % 37 == 0 ? 20.0f : 1.0f);
        break;
      default: // offset, so that the affine formats' min matters
        v = 0.7f + 0.1f * normal(rng);
        break;
      }
    }
  }
  return values;
}

/// Selects a kernel tier for the scope, restoring the previous one after.
class IsaScope {
public:
  explicit IsaScope(Isa isa) : previous(getNumericsIsa()) {
    setNumericsIsa(isa);
  }
  ~IsaScope() { setNumericsIsa(previous); }

private:
  Isa previous;
};

/// Importance weights like llama-imatrix's: positive, every 16th column
/// 100 times heavier.
inline std::vector<float> randomImportance(int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(0.01f, 1.0f);
  std::vector<float> importance(cols);
  for (int64_t c = 0; c < cols; ++c)
    importance[c] = uniform(rng) * (c % 16 == 0 ? 100.0f : 1.0f);
  return importance;
}

/// Importance-weighted squared error of a quantize/dequantize round trip of
/// `src`, quantized with `importance` when `useImportance`, else plain.
inline double weightedRoundTripError(Format format,
                                     const std::vector<float> &src,
                                     int64_t rows, int64_t cols,
                                     const std::vector<float> &importance,
                                     bool useImportance) {
  std::vector<float> deq =
      dequantize(format,
                 quantize(format, src, rows, cols,
                          useImportance ? importance.data() : nullptr),
                 rows, cols);
  double sum = 0;
  for (size_t i = 0; i < src.size(); ++i) {
    double e = double(src[i]) - double(deq[i]);
    sum += importance[i % cols] * e * e;
  }
  return sum;
}

/// Checks a format family's codec lookup: it answers exactly for `family`,
/// with codecs of the asked format, and getRowCodec hands out the same ones.
inline void expectFamilyDispatch(const RowCodec *(*lookup)(Format),
                                 const std::vector<Format> &family) {
  size_t count = 0;
  const FormatInfo *formats = allFormats(count);
  for (size_t i = 0; i < count; ++i) {
    const Format format = formats[i].format;
    const bool member =
        std::find(family.begin(), family.end(), format) != family.end();
    const RowCodec *codec = lookup(format);
    EXPECT_EQ(codec != nullptr, member) << formats[i].name;
    if (codec) {
      EXPECT_EQ(codec->format, format) << formats[i].name;
      EXPECT_EQ(getRowCodec(format), codec) << formats[i].name;
    }
  }
}

/// One llama.cpp golden tensor: `TYPE.VARIANT.q` and `TYPE.VARIANT.deq.f32`.
struct GoldenCase {
  Format format;
  const char *variant; // "plain" or "imatrix"
};

inline std::string
goldenCaseName(const testing::TestParamInfo<GoldenCase> &info) {
  return formatName(info.param.format) + "_" + info.param.variant;
}

/// Quantizes golden/ggml/input.f32 and compares with llama.cpp's bytes, and
/// dequantizes those bytes and compares bit for bit. Instantiate it with
/// INSTANTIATE_TEST_SUITE_P(Family, BlockGolden, testing::Values(...),
/// goldenCaseName).
class BlockGolden : public testing::TestWithParam<GoldenCase> {};

} // namespace quantc::test

#endif // QUANTC_TEST_UNIT_NUMERICS_BLOCKTESTING_H
