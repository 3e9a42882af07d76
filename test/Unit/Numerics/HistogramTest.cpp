//===- HistogramTest.cpp - histograms and the L2 range search -------------===//

#include "quantc/Numerics/Histogram.h"

#include "quantc/Numerics/Affine.h"

#include "Golden.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <string>

using namespace quantc;

namespace {

TEST(Histogram, BinsLikeTorchHistc) {
  // [0, 8] in 4 bins of width 2: edges 0 2 4 6 8; the top edge joins the
  // last bin, a value on an inner edge the bin above it.
  const float values[] = {0.0f, 1.9f, 2.0f, 5.0f, 6.0f, 8.0f, 8.0f};
  auto histogram = buildHistogram(values, 7, 4);
  ASSERT_TRUE(histogram);
  EXPECT_EQ(histogram->min, 0.0f);
  EXPECT_EQ(histogram->max, 8.0f);
  EXPECT_EQ(histogram->counts, (std::vector<float>{2, 1, 1, 3}));
}

TEST(Histogram, SkipsNonFiniteValuesAndRefusesEmptyInput) {
  const float inf = std::numeric_limits<float>::infinity();
  const float values[] = {-inf, 1.0f, std::nanf(""), 3.0f, inf};
  auto histogram = buildHistogram(values, 5, 2);
  ASSERT_TRUE(histogram);
  EXPECT_EQ(histogram->min, 1.0f);
  EXPECT_EQ(histogram->max, 3.0f);
  EXPECT_EQ(histogram->counts, (std::vector<float>{1, 1}));
  const float nothingFinite[] = {inf, std::nanf("")};
  EXPECT_FALSE(buildHistogram(nothingFinite, 2, 8));
  EXPECT_FALSE(buildHistogram(values, 0, 8));
  EXPECT_FALSE(buildHistogram(values, 5, 0));
}

// torch.histc widens a zero-width range by one either side, so a constant
// lands in the middle bin; the range stays the constant.
TEST(Histogram, ConstantInputIsOneBinAndKeepsItsRange) {
  std::vector<float> values(100, 0.25f);
  auto histogram = buildHistogram(values.data(), values.size(), 16);
  ASSERT_TRUE(histogram);
  EXPECT_EQ(histogram->counts[8], 100.0f);
  auto [lo, hi] = searchRangeL2(*histogram, 256);
  EXPECT_EQ(lo, 0.25f);
  EXPECT_EQ(hi, 0.25f);
}

// PyTorch 1.13 bins over the truncated range [-1, 2] and drops what lies
// outside it, while the histogram still claims the data's range.
TEST(Histogram, PyTorch113BinsOverTheTruncatedRange) {
  const float values[] = {-1.5f, -1.0f, 0.0f, 0.5f, 1.9f, 2.0f, 2.7f};
  auto histogram = buildHistogram(values, 7, 3, HistogramBinning::PyTorch113);
  ASSERT_TRUE(histogram);
  EXPECT_EQ(histogram->min, -1.5f);
  EXPECT_EQ(histogram->max, 2.7f);
  EXPECT_EQ(histogram->counts, (std::vector<float>{1, 2, 2}));
  // Both ends truncating to 0 fall back to the data's own range.
  const float small[] = {-0.5f, 0.25f, 0.5f};
  histogram = buildHistogram(small, 3, 2, HistogramBinning::PyTorch113);
  ASSERT_TRUE(histogram);
  EXPECT_EQ(histogram->counts, (std::vector<float>{1, 2}));
}

// Uniform data has no tail worth cutting: the search keeps the whole range.
// Laplace data has long thin tails: it trims them, but keeps the bulk. An
// isolated outlier costs more clipped than it saves in resolution, so the
// L2 search keeps it.
TEST(Histogram, L2SearchTrimsLongTailsOnly) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(20000);
  for (float &v : values)
    v = uniform(rng);
  auto histogram = buildHistogram(values.data(), values.size(), 2048);
  ASSERT_TRUE(histogram);
  auto [lo, hi] = searchRangeL2(*histogram, 256);
  EXPECT_LT(lo, -0.99f);
  EXPECT_GT(hi, 0.99f);

  values[0] = 100.0f;
  histogram = buildHistogram(values.data(), values.size(), 2048);
  ASSERT_TRUE(histogram);
  std::tie(lo, hi) = searchRangeL2(*histogram, 256);
  EXPECT_GT(hi, 99.0f);

  std::exponential_distribution<float> exponential(1.0f);
  std::bernoulli_distribution sign(0.5);
  values.resize(1 << 20);
  for (float &v : values)
    v = exponential(rng) * (sign(rng) ? 1.0f : -1.0f);
  histogram = buildHistogram(values.data(), values.size(), 2048);
  ASSERT_TRUE(histogram);
  std::tie(lo, hi) = searchRangeL2(*histogram, 256);
  EXPECT_GT(lo, histogram->min);
  EXPECT_LT(hi, histogram->max);
  EXPECT_LT(lo, -4.0f);
  EXPECT_GT(hi, 4.0f);
}

// PyTorch 1.13's HistogramObserver on the golden input: one forward call
// over the listed rows, then calculate_qparams. Same scale as float32, same
// zero point. Three of the seven inputs reach outside [-1, 1], where 1.13's
// truncated histc range (HistogramBinning::PyTorch113) changes the result.
TEST(Histogram, MatchesPyTorchHistogramObserver) {
  auto jsonPath = test::goldenDir("observers") / "observers.json";
  auto inputPath = test::goldenDir("ggml") / "input.f32";
  std::ifstream jsonFile(jsonPath);
  if (!jsonFile)
    GTEST_SKIP() << "golden file " << jsonPath.string() << " is absent";
  QUANTC_REQUIRE_GOLDEN(input, test::readFloats(inputPath), inputPath);
  const std::set<std::string> divergent = {"outliers", "real", "chan_outliers"};
  nlohmann::json golden = nlohmann::json::parse(jsonFile);
  int checked = 0;
  for (const auto &c : golden["cases"]) {
    if (c["observer"] != "HistogramObserver")
      continue;
    std::string qscheme = c["qscheme"];
    AffineScheme scheme;
    scheme.isSigned = c["dtype"] == "qint8";
    scheme.symmetric = qscheme.find("symmetric") != std::string::npos;
    scheme.reduceRange = c["reduce_range"];
    std::vector<float> rows;
    for (int64_t row : c["rows"])
      rows.insert(rows.end(), input->begin() + row * test::kGgmlCols,
                  input->begin() + (row + 1) * test::kGgmlCols);
    auto histogram = buildHistogram(rows.data(), rows.size(), 2048,
                                    HistogramBinning::PyTorch113);
    ASSERT_TRUE(histogram);
    // dst_nbins = 2^bits of the dtype, whatever reduce_range says.
    auto [lo, hi] = searchRangeL2(*histogram, 256);
    auto params = computeAffineParams(lo, hi, scheme);
    ASSERT_TRUE(params);
    const std::string name = c["case"];
    const std::string where =
        name + " " + std::string(c["dtype"]) + " " + qscheme;
    const auto goldenScale = static_cast<float>(c["scale"][0]);
    const auto goldenZeroPoint = static_cast<int32_t>(c["zero_point"][0]);
    EXPECT_EQ(params->scale, goldenScale) << where;
    EXPECT_EQ(params->zeroPoint, goldenZeroPoint) << where;
    ++checked;
  }
  EXPECT_EQ(checked, 14);
}

} // namespace
