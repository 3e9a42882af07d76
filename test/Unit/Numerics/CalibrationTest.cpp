//===- CalibrationTest.cpp - streaming statistics and range choice --------===//

#include "quantc/Numerics/Calibration.h"
#include "quantc/Numerics/Affine.h"

#include "Golden.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <set>

using namespace quantc;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> normalValues(size_t count, uint32_t seed, float mean = 0,
                                float stddev = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(mean, stddev);
  std::vector<float> values(count);
  for (float &v : values)
    v = normal(rng);
  return values;
}

void expectSameStatistics(const TensorStatistics &a,
                          const TensorStatistics &b) {
  EXPECT_EQ(a.getCount(), b.getCount());
  EXPECT_EQ(a.getNonFiniteCount(), b.getNonFiniteCount());
  EXPECT_EQ(a.getMin(), b.getMin());
  EXPECT_EQ(a.getMax(), b.getMax());
  EXPECT_EQ(a.getChannelMins(), b.getChannelMins());
  EXPECT_EQ(a.getChannelMaxs(), b.getChannelMaxs());
  EXPECT_EQ(a.getHistogramMax(), b.getHistogramMax());
  EXPECT_EQ(a.getHistogramCounts(), b.getHistogramCounts());
}

StatisticsOptions makeOptions(bool perChannel, int64_t bins = 0) {
  StatisticsOptions options;
  options.perChannel = perChannel;
  options.histogramBins = bins;
  return options;
}

int64_t sum(const std::vector<int64_t> &counts) {
  int64_t total = 0;
  for (int64_t c : counts)
    total += c;
  return total;
}

TEST(Calibration, MethodNamesRoundTrip) {
  for (CalibrationMethod method :
       {CalibrationMethod::MinMax, CalibrationMethod::Percentile,
        CalibrationMethod::Entropy, CalibrationMethod::MSE}) {
    std::optional<CalibrationMethod> parsed =
        parseCalibrationMethod(getCalibrationMethodName(method));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, method);
  }
  EXPECT_EQ(getCalibrationMethodName(CalibrationMethod::MinMax), "minmax");
  EXPECT_EQ(getCalibrationMethodName(CalibrationMethod::MSE), "mse");
  EXPECT_FALSE(parseCalibrationMethod("kl"));
  EXPECT_FALSE(parseCalibrationMethod("MinMax"));
  EXPECT_FALSE(parseCalibrationMethod(""));
}

TEST(Calibration, PerTensorAndPerChannelRanges) {
  // 3 rows x 4 channels (columns).
  const float data[] = {1.0f,  -2.0f, 0.5f, 0.0f, //
                        -3.0f, 4.0f,  0.5f, 0.0f, //
                        2.0f,  -1.0f, 0.5f, -0.25f};
  TensorStatistics stats(makeOptions(/*perChannel=*/true));
  EXPECT_EQ(stats.update(data, 3, 4), 0);
  EXPECT_EQ(stats.getCount(), 12);
  EXPECT_EQ(stats.getMin(), -3.0f);
  EXPECT_EQ(stats.getMax(), 4.0f);
  EXPECT_EQ(stats.getAbsMax(), 4.0f);
  ASSERT_EQ(stats.getNumChannels(), 4);
  EXPECT_EQ(stats.getChannelMins(),
            (std::vector<float>{-3.0f, -2.0f, 0.5f, -0.25f}));
  EXPECT_EQ(stats.getChannelMaxs(),
            (std::vector<float>{2.0f, 4.0f, 0.5f, 0.0f}));
  EXPECT_EQ(stats.getChannelAbsMax(0), 3.0f);
  EXPECT_EQ(stats.getChannelAbsMax(3), 0.25f);
  EXPECT_FALSE(stats.hasHistogram());

  // The same values as 1 x 3 x 4 with the middle dimension the channel:
  // rows are channels now.
  TensorStatistics rows(makeOptions(/*perChannel=*/true));
  rows.update(data, 1, 3, 4);
  EXPECT_EQ(rows.getChannelMins(), (std::vector<float>{-2.0f, -3.0f, -1.0f}));
  EXPECT_EQ(rows.getChannelMaxs(), (std::vector<float>{1.0f, 4.0f, 2.0f}));

  // Per-tensor statistics keep no channels.
  TensorStatistics perTensor;
  perTensor.update(data, 3, 4);
  EXPECT_EQ(perTensor.getNumChannels(), 0);
  EXPECT_EQ(perTensor.getMin(), -3.0f);
}

TEST(Calibration, NewChannelsStartWithTheBatchThatHasThem) {
  // Attention over a growing context: later batches have more channels.
  TensorStatistics stats(makeOptions(/*perChannel=*/true));
  const float first[] = {1.0f, 2.0f};
  const float second[] = {-1.0f, 0.0f, 5.0f};
  stats.update(first, 1, 2);
  stats.update(second, 1, 3);
  EXPECT_EQ(stats.getChannelMins(), (std::vector<float>{-1.0f, 0.0f, 5.0f}));
  EXPECT_EQ(stats.getChannelMaxs(), (std::vector<float>{1.0f, 2.0f, 5.0f}));
  stats.update(first, 1, 2); // fewer channels: the others keep theirs
  EXPECT_EQ(stats.getChannelMaxs(), (std::vector<float>{1.0f, 2.0f, 5.0f}));
}

TEST(Calibration, StreamingInChunksEqualsOneShot) {
  const int64_t rows = 300, cols = 24;
  std::vector<float> data = normalValues(rows * cols, 11, 0.3f, 2.0f);
  // The largest magnitude sits in the first chunk, so that the first batch
  // fixes the same histogram edges as the whole.
  data[5] = 40.0f;
  StatisticsOptions options = makeOptions(/*perChannel=*/true, 2048);
  TensorStatistics whole(options);
  whole.update(data.data(), rows, cols);
  TensorStatistics chunked(options);
  const int64_t bounds[] = {0, 7, 100, 101, 250, rows};
  for (size_t i = 0; i + 1 < std::size(bounds); ++i)
    chunked.update(data.data() + bounds[i] * cols, bounds[i + 1] - bounds[i],
                   cols);
  expectSameStatistics(whole, chunked);
  EXPECT_EQ(sum(whole.getHistogramCounts()), rows * cols);
  EXPECT_EQ(whole.getHistogramMax(), 40.0f);
  EXPECT_EQ(whole.getHistogramCounts().size(), 2048u);
}

TEST(Calibration, AFixedHistogramRangeMakesStreamingOrderFree) {
  // With the range known up front (a first pass's max|x|), any split and
  // any order of the batches gives the same histogram of exactly the bins
  // asked for, ending at max|x|.
  const int64_t rows = 200, cols = 16;
  std::vector<float> data = normalValues(rows * cols, 3);
  data[rows * cols - 1] = -9.0f; // the largest magnitude, last
  TensorStatistics range;
  range.update(data.data(), rows, cols);
  StatisticsOptions options;
  options.histogramBins = 512;
  options.histogramRange = range.getAbsMax();
  TensorStatistics whole(options), reversed(options);
  whole.update(data.data(), rows, cols);
  for (int64_t row = rows - 1; row >= 0; --row)
    reversed.update(data.data() + row * cols, 1, cols);
  EXPECT_EQ(whole.getHistogramCounts(), reversed.getHistogramCounts());
  EXPECT_EQ(whole.getHistogramCounts().size(), 512u);
  EXPECT_EQ(whole.getHistogramMax(), 9.0f);
  EXPECT_EQ(whole.getHistogramCounts().back(), 1);
  EXPECT_EQ(sum(whole.getHistogramCounts()), rows * cols);
}

TEST(Calibration, HistogramGrowsByWholeBinsAsLaterBatchesExceedIt) {
  StatisticsOptions options;
  options.histogramBins = 100;
  TensorStatistics stats(options);
  const float first[] = {1.0f, -0.5f, 0.25f};
  stats.update(first, 1, 3);
  EXPECT_EQ(stats.getHistogramMax(), 1.0f);
  ASSERT_EQ(stats.getHistogramCounts().size(), 100u);
  const float second[] = {-1.5f, 0.0f};
  stats.update(second, 1, 2);
  // Bins of width 0.01 appended until 1.5 is covered.
  EXPECT_EQ(stats.getHistogramCounts().size(), 150u);
  EXPECT_FLOAT_EQ(stats.getHistogramMax(), 1.5f);
  EXPECT_EQ(sum(stats.getHistogramCounts()), 5);
  EXPECT_EQ(stats.getHistogramCounts()[0], 1);   // 0
  EXPECT_EQ(stats.getHistogramCounts()[25], 1);  // 0.25
  EXPECT_EQ(stats.getHistogramCounts()[149], 1); // 1.5 in the last bin
}

TEST(Calibration, GrowthPastTheBinCapMergesTheTotals) {
  StatisticsOptions options;
  options.histogramBins = 2048;
  TensorStatistics stats(options);
  std::vector<float> small = normalValues(5000, 9, 0.0f, 0.01f);
  stats.update(small.data(), 1, small.size());
  const int64_t before = sum(stats.getHistogramCounts());
  // max|x| grows a million-fold: far past kMaxCalibrationBins bins of the
  // first width.
  const float far[] = {1e4f, -3.0f};
  stats.update(far, 1, 2);
  EXPECT_LE(static_cast<int64_t>(stats.getHistogramCounts().size()),
            kMaxCalibrationBins);
  EXPECT_GE(stats.getHistogramMax(), 1e4f);
  EXPECT_EQ(sum(stats.getHistogramCounts()), before + 2);
  EXPECT_EQ(stats.getHistogramCounts().back(), 1);
}

TEST(Calibration, HistogramCountsStayExactPastFloatPrecision) {
  // accumulateAbsHistogram counts in float32 (exact to 2^24 per bin); the
  // statistics' 64-bit totals must not saturate, in one batch or many.
  StatisticsOptions options;
  options.histogramBins = 16;
  TensorStatistics stats(options);
  std::vector<float> zeros((int64_t(1) << 24) + 1000, 0.0f);
  zeros.back() = 1.0f;
  stats.update(zeros.data(), 1, zeros.size());
  stats.update(zeros.data(), 1, zeros.size());
  EXPECT_EQ(stats.getHistogramCounts()[0], 2 * (int64_t(zeros.size()) - 1));
  EXPECT_EQ(stats.getHistogramCounts()[15], 2);
}

TEST(Calibration, ReportsNonFiniteValuesAndLeavesThemOut) {
  const float data[] = {1.0f, kNaN, -2.0f, kInf, -kInf, 0.5f};
  TensorStatistics stats(makeOptions(/*perChannel=*/true, 8));
  EXPECT_EQ(stats.update(data, 2, 3), 3);
  EXPECT_EQ(stats.getNonFiniteCount(), 3);
  EXPECT_EQ(stats.getCount(), 6);
  EXPECT_EQ(stats.getMin(), -2.0f);
  EXPECT_EQ(stats.getMax(), 1.0f);
  // Channel 1 saw nothing finite: its range stays unset.
  EXPECT_EQ(stats.getChannelMins(), (std::vector<float>{1.0f, kInf, -2.0f}));
  EXPECT_EQ(stats.getChannelAbsMax(1), 0.0f);
  EXPECT_EQ(sum(stats.getHistogramCounts()), 3);
  EXPECT_EQ(stats.update(data, 1, 1), 0);

  // A range is never chosen from statistics that saw a NaN or infinity.
  std::string error;
  EXPECT_FALSE(selectRange(stats, CalibrationMethod::MinMax, 99.99, &error));
  EXPECT_EQ(error, "3 of 7 observed values are not finite (NaN or infinity)");

  // A batch of only NaNs leaves the range unset.
  TensorStatistics nans;
  const float onlyNaN[] = {kNaN, kNaN};
  EXPECT_EQ(nans.update(onlyNaN, 1, 2), 2);
  EXPECT_FALSE(nans.hasRange());
  EXPECT_EQ(nans.getAbsMax(), 0.0f);
}

TEST(Calibration, SelectRangeByMethod) {
  std::vector<float> data = normalValues(50000, 5);
  data[0] = 30.0f; // a far outlier the searches clip
  data[1] = -12.0f;
  StatisticsOptions options;
  options.histogramBins = 2048;
  TensorStatistics stats(options);
  stats.update(data.data(), 1, data.size());
  Histogram histogram = stats.getHistogram();

  std::optional<ClipRange> minmax =
      selectRange(stats, CalibrationMethod::MinMax);
  ASSERT_TRUE(minmax);
  EXPECT_EQ(minmax->lo, -12.0f);
  EXPECT_EQ(minmax->hi, 30.0f);

  // Each search's amax, clipped to the signed observed range.
  for (auto [method, amax] :
       {std::make_pair(CalibrationMethod::Percentile,
                       percentileAmax(histogram, 99.9)),
        std::make_pair(CalibrationMethod::Entropy, entropyAmax(histogram)),
        std::make_pair(CalibrationMethod::MSE, mseAmax(histogram))}) {
    ASSERT_TRUE(amax);
    std::optional<ClipRange> range = selectRange(stats, method, 99.9);
    ASSERT_TRUE(range) << getCalibrationMethodName(method);
    EXPECT_EQ(range->hi, std::min(30.0f, *amax));
    EXPECT_EQ(range->lo, std::max(-12.0f, -*amax));
    EXPECT_LT(range->hi, 30.0f) << getCalibrationMethodName(method);
  }
}

TEST(Calibration, SelectRangeClipsToTheSignedObservedRange) {
  // All-positive values: the symmetric amax must not invent negatives.
  std::vector<float> data = normalValues(20000, 8, 4.0f, 0.5f);
  StatisticsOptions options;
  options.histogramBins = 2048;
  TensorStatistics stats(options);
  stats.update(data.data(), 1, data.size());
  for (CalibrationMethod method :
       {CalibrationMethod::Percentile, CalibrationMethod::Entropy,
        CalibrationMethod::MSE}) {
    std::optional<ClipRange> range = selectRange(stats, method);
    ASSERT_TRUE(range);
    EXPECT_EQ(range->lo, stats.getMin()) << getCalibrationMethodName(method);
    EXPECT_LE(range->hi, stats.getMax());
    EXPECT_GT(range->hi, range->lo);
  }
}

TEST(Calibration, SelectRangeRefusals) {
  std::string error;
  TensorStatistics empty;
  EXPECT_FALSE(selectRange(empty, CalibrationMethod::MinMax, 99.99, &error));
  EXPECT_EQ(error, "no finite values were observed");

  TensorStatistics noHistogram;
  const float data[] = {1.0f, -1.0f};
  noHistogram.update(data, 1, 2);
  EXPECT_TRUE(selectRange(noHistogram, CalibrationMethod::MinMax));
  for (CalibrationMethod method :
       {CalibrationMethod::Percentile, CalibrationMethod::Entropy,
        CalibrationMethod::MSE}) {
    error.clear();
    EXPECT_FALSE(selectRange(noHistogram, method, 99.99, &error));
    EXPECT_EQ(error, "the " + std::string(getCalibrationMethodName(method)) +
                         " method needs a histogram of |x|, and none was "
                         "collected (calibrate with bins > 0)");
  }

  StatisticsOptions few;
  few.histogramBins = 64;
  TensorStatistics coarse(few);
  coarse.update(data, 1, 2);
  EXPECT_TRUE(selectRange(coarse, CalibrationMethod::Percentile));
  EXPECT_FALSE(selectRange(coarse, CalibrationMethod::Entropy, 99.99, &error));
  EXPECT_EQ(error, "the entropy search starts at bin 128 and the histogram "
                   "has 64 bins; collect more");
  EXPECT_FALSE(
      selectRange(coarse, CalibrationMethod::Percentile, 100.5, &error));
  EXPECT_EQ(error, "percentile 100.500000 is outside [0, 100]");
  EXPECT_FALSE(selectRange(coarse, CalibrationMethod::Percentile, kNaN));
}

TEST(Calibration, AConstantTensorClipsToOneEnd) {
  // All values 0.5: the MSE search's amax is a bin centre just below it,
  // so every value clips to amax; the range is that point, not inverted.
  StatisticsOptions options;
  options.histogramBins = 2048;
  TensorStatistics positive(options), negative(options);
  std::vector<float> halves(1000, 0.5f), minusHalves(1000, -0.5f);
  positive.update(halves.data(), 1, halves.size());
  negative.update(minusHalves.data(), 1, minusHalves.size());
  float amax = *mseAmax(positive.getHistogram());
  ASSERT_LT(amax, 0.5f);
  std::optional<ClipRange> up = selectRange(positive, CalibrationMethod::MSE);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->lo, amax);
  EXPECT_EQ(up->hi, amax);
  std::optional<ClipRange> down = selectRange(negative, CalibrationMethod::MSE);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->lo, -amax);
  EXPECT_EQ(down->hi, -amax);
}

TEST(Calibration, OnlyZerosKeepTheirRange) {
  StatisticsOptions options;
  options.histogramBins = 2048;
  TensorStatistics stats(options);
  std::vector<float> zeros(100, 0.0f);
  stats.update(zeros.data(), 10, 10);
  EXPECT_TRUE(stats.hasHistogram());
  EXPECT_EQ(stats.getHistogramMax(), 0.0f);
  EXPECT_EQ(stats.getHistogramCounts()[0], 100);
  for (CalibrationMethod method :
       {CalibrationMethod::MinMax, CalibrationMethod::Percentile,
        CalibrationMethod::Entropy, CalibrationMethod::MSE}) {
    std::optional<ClipRange> range = selectRange(stats, method);
    ASSERT_TRUE(range);
    EXPECT_EQ(range->lo, 0.0f);
    EXPECT_EQ(range->hi, 0.0f);
  }
}

/// The golden observer input (32 x 4096), or nullopt when shared data is
/// absent.
std::optional<std::vector<float>> goldenInput() {
  return test::readFloats(test::goldenDir("ggml") / "input.f32");
}

std::vector<float> goldenRows(const std::vector<float> &input,
                              const nlohmann::json &rows) {
  std::vector<float> values;
  for (int64_t row : rows)
    values.insert(values.end(), input.begin() + row * test::kGgmlCols,
                  input.begin() + (row + 1) * test::kGgmlCols);
  return values;
}

// PyTorch 1.13's MinMaxObserver and PerChannelMinMaxObserver on the golden
// input: the streamed min/max statistics (rows fed one at a time) give the
// same scale and zero point through computeAffineParams.
TEST(Calibration, MinMaxStatisticsGiveThePyTorchObserverParameters) {
  auto jsonPath = test::goldenDir("observers") / "observers.json";
  std::ifstream jsonFile(jsonPath);
  if (!jsonFile)
    GTEST_SKIP() << "golden file " << jsonPath.string()
                 << " is absent (../shared/data not beside the checkout)";
  auto inputPath = test::goldenDir("ggml") / "input.f32";
  QUANTC_REQUIRE_GOLDEN(input, goldenInput(), inputPath);
  nlohmann::json golden = nlohmann::json::parse(jsonFile);
  int checked = 0;
  for (const auto &c : golden["cases"]) {
    std::string observer = c["observer"], qscheme = c["qscheme"];
    bool perChannel = observer == "PerChannelMinMaxObserver";
    if (observer != "MinMaxObserver" && !perChannel)
      continue;
    AffineScheme scheme;
    scheme.isSigned = c["dtype"] == "qint8";
    scheme.symmetric = qscheme.find("symmetric") != std::string::npos;
    scheme.reduceRange = c["reduce_range"];
    std::vector<float> rows = goldenRows(*input, c["rows"]);
    const auto numRows = static_cast<int64_t>(c["rows"].size());

    // Streamed in two batches of half the columns each. Per tensor, a
    // batch is numRows x 2048 values; per channel (axis 0 = row), it is
    // 1 x numRows x 2048 with the middle dimension the channel.
    TensorStatistics stats(makeOptions(perChannel));
    const int64_t half = test::kGgmlCols / 2;
    for (int64_t part = 0; part < 2; ++part) {
      std::vector<float> batch;
      for (int64_t r = 0; r < numRows; ++r)
        batch.insert(batch.end(),
                     rows.begin() + r * test::kGgmlCols + part * half,
                     rows.begin() + r * test::kGgmlCols + (part + 1) * half);
      ASSERT_EQ(stats.update(batch.data(), 1, numRows, half), 0);
    }
    std::string where = std::string(c["case"]) + " " + observer + " " +
                        std::string(c["dtype"]) + " " + qscheme +
                        (scheme.reduceRange ? " reduce_range" : "");
    std::vector<std::pair<float, float>> ranges;
    if (perChannel) {
      for (int64_t r = 0; r < numRows; ++r)
        ranges.emplace_back(stats.getChannelMins()[r],
                            stats.getChannelMaxs()[r]);
    } else {
      ranges.emplace_back(stats.getMin(), stats.getMax());
    }
    ASSERT_EQ(ranges.size(), c["scale"].size()) << where;
    for (size_t i = 0; i < ranges.size(); ++i) {
      std::optional<ClipRange> range =
          selectRange(ranges[i].first, ranges[i].second, nullptr,
                      CalibrationMethod::MinMax);
      ASSERT_TRUE(range) << where;
      std::optional<AffineParams> params =
          computeAffineParams(range->lo, range->hi, scheme);
      ASSERT_TRUE(params) << where;
      EXPECT_EQ(params->scale, static_cast<float>(c["scale"][i])) << where;
      EXPECT_EQ(params->zeroPoint, static_cast<int32_t>(c["zero_point"][i]))
          << where;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 72);
}

// The histogram methods have no PyTorch counterpart in the golden file;
// on each of its cases (normal, Laplace, uniform, outliers, constant,
// zeros, ...) their ranges must keep their defining properties.
TEST(Calibration, HistogramMethodsOnTheGoldenCases) {
  auto jsonPath = test::goldenDir("observers") / "observers.json";
  std::ifstream jsonFile(jsonPath);
  if (!jsonFile)
    GTEST_SKIP() << "golden file " << jsonPath.string()
                 << " is absent (../shared/data not beside the checkout)";
  auto inputPath = test::goldenDir("ggml") / "input.f32";
  QUANTC_REQUIRE_GOLDEN(input, goldenInput(), inputPath);
  nlohmann::json golden = nlohmann::json::parse(jsonFile);
  std::set<std::string> seen;
  for (const auto &c : golden["cases"]) {
    if (!seen.insert(c["case"].get<std::string>()).second)
      continue;
    std::vector<float> rows = goldenRows(*input, c["rows"]);
    const auto numRows = static_cast<int64_t>(c["rows"].size());
    StatisticsOptions options;
    options.histogramBins = kCalibrationBins;
    TensorStatistics stats(options);
    // Streamed row by row, and one-shot with the range known up front.
    for (int64_t r = 0; r < numRows; ++r)
      stats.update(rows.data() + r * test::kGgmlCols, 1, test::kGgmlCols);
    options.histogramRange = stats.getAbsMax();
    TensorStatistics fixed(options);
    fixed.update(rows.data(), numRows, test::kGgmlCols);
    EXPECT_EQ(fixed.getHistogramCounts().size(), size_t(kCalibrationBins));
    EXPECT_EQ(fixed.getHistogramMax(), stats.getAbsMax());

    const std::string where = c["case"];
    for (const TensorStatistics *s : {&stats, &fixed}) {
      EXPECT_EQ(sum(s->getHistogramCounts()), numRows * test::kGgmlCols);
      std::optional<ClipRange> full =
          selectRange(*s, CalibrationMethod::Percentile, 100.0);
      ASSERT_TRUE(full) << where;
      EXPECT_EQ(full->lo, s->getMin()) << where;
      EXPECT_EQ(full->hi, s->getMax()) << where;
      float previous = -1.0f;
      for (double p : {90.0, 99.0, 99.9, 99.99, 99.999}) {
        std::optional<ClipRange> range =
            selectRange(*s, CalibrationMethod::Percentile, p);
        ASSERT_TRUE(range) << where << " " << p;
        float width = range->hi - range->lo;
        EXPECT_GE(width, previous) << where << " " << p;
        previous = width;
      }
      for (CalibrationMethod method :
           {CalibrationMethod::Entropy, CalibrationMethod::MSE}) {
        std::optional<ClipRange> range = selectRange(*s, method);
        ASSERT_TRUE(range) << where << " " << getCalibrationMethodName(method);
        // Within the observed range, unless every value lay beyond amax
        // (the constant case) and the range is the one point amax.
        if (range->lo != range->hi) {
          EXPECT_GE(range->lo, s->getMin()) << where;
        }
        EXPECT_LE(range->hi, s->getMax()) << where;
        EXPECT_LE(range->lo, range->hi) << where;
        // amax never exceeds max|x|.
        EXPECT_LE(std::max(-range->lo, range->hi), s->getAbsMax()) << where;
      }
    }
  }
  EXPECT_GE(seen.size(), 7u);
}

// Property: on random data, every method's range lies within the observed
// one, and percentile 100 is the observed one.
TEST(Calibration, RangesLieWithinTheObservedRange) {
  std::mt19937 rng(21);
  for (int trial = 0; trial < 6; ++trial) {
    // Heavy tails: later batches keep growing the histogram.
    std::student_t_distribution<float> heavy(2.0f + trial % 3);
    std::vector<float> data(4000 + 500 * trial);
    for (float &v : data)
      v = heavy(rng) + (trial % 3 == 0 ? 2.0f : 0.0f);
    StatisticsOptions options;
    options.histogramBins = kCalibrationBins;
    TensorStatistics stats(options);
    for (size_t start = 0; start < data.size(); start += 1000)
      stats.update(data.data() + start, 1,
                   std::min<size_t>(1000, data.size() - start));
    for (CalibrationMethod method :
         {CalibrationMethod::MinMax, CalibrationMethod::Percentile,
          CalibrationMethod::Entropy, CalibrationMethod::MSE}) {
      std::optional<ClipRange> range = selectRange(stats, method);
      ASSERT_TRUE(range);
      EXPECT_GE(range->lo, stats.getMin());
      EXPECT_LE(range->hi, stats.getMax());
      EXPECT_LE(range->lo, range->hi);
    }
    std::optional<ClipRange> full =
        selectRange(stats, CalibrationMethod::Percentile, 100.0);
    ASSERT_TRUE(full);
    EXPECT_EQ(full->hi, stats.getMax());
    EXPECT_EQ(full->lo, stats.getMin());
  }
}

} // namespace
