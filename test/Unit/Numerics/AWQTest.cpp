//===- AWQTest.cpp - activation-aware weight quantization -----------------===//
//
// The AWQ searches against statements written out here: the scale grid and
// its normalisation, the output error recomputed with plain loops from
// fakeQuantize, the exactness of folding s into the previous op, and the
// clipping search's bounds and its never-worse guarantee.
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/AWQ.h"

#include "quantc/Numerics/Isa.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace quantc;

namespace {

std::vector<float> normalMatrix(int64_t rows, int64_t cols, float sigma,
                                unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> values(static_cast<size_t>(rows * cols));
  for (float &value : values)
    value = normal(rng);
  return values;
}

/// Calibration activations whose `salient` channels are `gain` times
/// larger than the rest.
std::vector<float> salientActivations(int64_t tokens, int64_t cols,
                                      const std::vector<int64_t> &salient,
                                      float gain, unsigned seed) {
  std::vector<float> x = normalMatrix(tokens, cols, 1.0f, seed);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j : salient)
      x[t * cols + j] *= gain;
  return x;
}

/// H = 2/n X^T X, written out.
std::vector<double> hessianOf(const std::vector<float> &x, int64_t tokens,
                              int64_t cols) {
  std::vector<double> h(static_cast<size_t>(cols * cols), 0.0);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        h[i * cols + j] += 2.0 / tokens * x[t * cols + i] * x[t * cols + j];
  return h;
}

std::vector<float> meanAbsOf(const std::vector<float> &x, int64_t tokens,
                             int64_t cols) {
  std::vector<float> mean(static_cast<size_t>(cols), 0.0f);
  for (int64_t j = 0; j < cols; ++j) {
    double sum = 0.0;
    for (int64_t t = 0; t < tokens; ++t)
      sum += std::fabs(x[t * cols + j]);
    mean[j] = static_cast<float>(sum / tokens);
  }
  return mean;
}

/// sum over rows of d H d^T, the plain double loop.
double naiveError(const std::vector<double> &delta, int64_t rows, int64_t cols,
                  const std::vector<double> &h) {
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        total += delta[r * cols + i] * h[i * cols + j] * delta[r * cols + j];
  return total;
}

/// The output error of Q(W diag(s)) diag(s)^-1 against W.
double scaledError(const std::vector<float> &w, int64_t rows, int64_t cols,
                   const WeightTarget &target, const std::vector<float> &s,
                   const std::vector<double> &h) {
  std::vector<float> scaled(w.size()), quantized(w.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      scaled[r * cols + j] = w[r * cols + j] * s[j];
  EXPECT_TRUE(
      fakeQuantize(target, scaled.data(), rows, cols, quantized.data()));
  std::vector<double> delta(w.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      delta[r * cols + j] = static_cast<double>(w[r * cols + j]) -
                            static_cast<double>(quantized[r * cols + j]) / s[j];
  return naiveError(delta, rows, cols, h);
}

double roundedError(const std::vector<float> &weights,
                    const std::vector<float> &reference, int64_t rows,
                    int64_t cols, const WeightTarget &target,
                    const std::vector<double> &h) {
  std::vector<float> quantized(weights.size());
  EXPECT_TRUE(
      fakeQuantize(target, weights.data(), rows, cols, quantized.data()));
  std::vector<double> delta(weights.size());
  for (size_t i = 0; i < weights.size(); ++i)
    delta[i] = static_cast<double>(reference[i]) - quantized[i];
  return naiveError(delta, rows, cols, h);
}

WeightTarget int4g32() { return WeightTarget::ofGrouped({4, false, 32}); }
WeightTarget int3g32() { return WeightTarget::ofGrouped({3, false, 32}); }

struct SalientCase {
  int64_t tokens = 256, cols = 128, rows = 64;
  std::vector<float> x, meanAbs, w1, w2;
  std::vector<double> h;
  SalientCase() {
    x = salientActivations(tokens, cols, {5, 40, 77, 100}, 10.0f, 1);
    // Channel 0 is never excited.
    for (int64_t t = 0; t < tokens; ++t)
      x[t * cols] = 0.0f;
    meanAbs = meanAbsOf(x, tokens, cols);
    h = hessianOf(x, tokens, cols);
    w1 = normalMatrix(rows, cols, 0.05f, 2);
    w2 = normalMatrix(rows / 2, cols, 0.05f, 3);
  }
};

TEST(AWQScales, RatioZeroIsNoScaling) {
  SalientCase c;
  AWQOptions options;
  options.gridPoints = 1;
  AWQScaleSearch search =
      searchAWQScales({{c.w1.data(), c.rows, int4g32()}}, c.cols,
                      c.meanAbs.data(), c.h.data(), options);
  ASSERT_EQ(search.tried.size(), 1u);
  EXPECT_EQ(search.bestRatio, 0.0);
  ASSERT_EQ(search.scales.size(), static_cast<size_t>(c.cols));
  for (float s : search.scales)
    EXPECT_EQ(s, 1.0f);
  EXPECT_EQ(search.error, search.unscaledError);
  EXPECT_NEAR(search.unscaledError,
              roundedError(c.w1, c.w1, c.rows, c.cols, int4g32(), c.h),
              1e-9 * search.unscaledError);
}

TEST(AWQScales, EqualActivationsTieToRatioZero) {
  // xbar constant: every ratio normalises to s = 1, so every error ties
  // and the smallest ratio is kept.
  SalientCase c;
  std::vector<float> flat(static_cast<size_t>(c.cols), 0.7f);
  AWQScaleSearch search =
      searchAWQScales({{c.w1.data(), c.rows, int4g32()}}, c.cols, flat.data(),
                      c.h.data(), AWQOptions());
  ASSERT_EQ(search.tried.size(), 20u);
  EXPECT_EQ(search.bestRatio, 0.0);
  for (auto [ratio, error] : search.tried)
    EXPECT_EQ(error, search.unscaledError) << "ratio " << ratio;
  for (float s : search.scales)
    EXPECT_EQ(s, 1.0f);
}

TEST(AWQScales, SalientChannelsLowerTheError) {
  SalientCase c;
  for (WeightTarget target :
       {int4g32(), int3g32(), WeightTarget::ofBlock(Format::Q4_0)}) {
    SCOPED_TRACE(target.name());
    std::vector<AWQLayer> layers{{c.w1.data(), c.rows, target},
                                 {c.w2.data(), c.rows / 2, target}};
    AWQScaleSearch search = searchAWQScales(layers, c.cols, c.meanAbs.data(),
                                            c.h.data(), AWQOptions());
    ASSERT_EQ(search.tried.size(), 20u);
    for (size_t i = 0; i < search.tried.size(); ++i) {
      EXPECT_EQ(search.tried[i].first, static_cast<double>(i) / 20.0);
      EXPECT_GE(search.tried[i].second, search.error);
    }
    EXPECT_EQ(search.tried.front().second, search.unscaledError);
    EXPECT_LT(search.error, 0.9 * search.unscaledError);
    EXPECT_GT(search.bestRatio, 0.0);

    // Normalised: sqrt(max * min) = 1.
    auto [lowest, highest] =
        std::minmax_element(search.scales.begin(), search.scales.end());
    EXPECT_NEAR(std::sqrt(double(*lowest) * *highest), 1.0, 1e-6);
    // The salient channels get the largest scales.
    EXPECT_EQ(*highest, std::max({search.scales[5], search.scales[40],
                                  search.scales[77], search.scales[100]}));
    // The grid formula; the dead channel 0 is clamped to 1e-4, the lowest.
    std::vector<double> raw(static_cast<size_t>(c.cols));
    for (int64_t j = 0; j < c.cols; ++j)
      raw[j] = std::max(std::pow(double(c.meanAbs[j]), search.bestRatio), 1e-4);
    EXPECT_EQ(raw[0], 1e-4);
    double norm = std::sqrt(*std::min_element(raw.begin(), raw.end()) *
                            *std::max_element(raw.begin(), raw.end()));
    for (int64_t j = 0; j < c.cols; ++j)
      EXPECT_FLOAT_EQ(search.scales[j], static_cast<float>(raw[j] / norm));
    EXPECT_EQ(*lowest, search.scales[0]);

    // The reported error is the plain-loop error of the kept scales.
    double expected =
        scaledError(c.w1, c.rows, c.cols, target, search.scales, c.h) +
        scaledError(c.w2, c.rows / 2, c.cols, target, search.scales, c.h);
    EXPECT_NEAR(search.error, expected, 1e-9 * expected);
  }
}

TEST(AWQScales, FoldingIsExactInFloat) {
  // (X / s) (W s)^T = X W^T: the scales cost nothing before quantization.
  SalientCase c;
  AWQScaleSearch search =
      searchAWQScales({{c.w1.data(), c.rows, int4g32()}}, c.cols,
                      c.meanAbs.data(), c.h.data(), AWQOptions());
  ASSERT_GT(search.bestRatio, 0.0);
  const std::vector<float> &s = search.scales;
  for (int64_t t = 0; t < c.tokens; t += 7)
    for (int64_t r = 0; r < c.rows; ++r) {
      double folded = 0.0, plain = 0.0, magnitude = 0.0;
      for (int64_t j = 0; j < c.cols; ++j) {
        float x = c.x[t * c.cols + j], w = c.w1[r * c.cols + j];
        folded += static_cast<double>(x / s[j]) * (w * s[j]);
        plain += static_cast<double>(x) * w;
        magnitude += std::fabs(static_cast<double>(x) * w);
      }
      EXPECT_NEAR(folded, plain, 1e-5 * magnitude);
    }
}

TEST(AWQScales, OddShapesMatchPlainLoops) {
  // Rows and columns off the kernels' 4 x 16 blocking, a ragged group.
  int64_t tokens = 50, cols = 37, rows = 13;
  std::vector<float> x = salientActivations(tokens, cols, {2, 20}, 8.0f, 21);
  std::vector<float> meanAbs = meanAbsOf(x, tokens, cols);
  std::vector<double> h = hessianOf(x, tokens, cols);
  std::vector<float> w = normalMatrix(rows, cols, 0.05f, 22);
  WeightTarget target = WeightTarget::ofGrouped({4, false, 16});
  AWQScaleSearch search = searchAWQScales(
      {{w.data(), rows, target}}, cols, meanAbs.data(), h.data(), AWQOptions());
  for (auto [ratio, error] : search.tried) {
    std::vector<double> raw(static_cast<size_t>(cols));
    for (int64_t j = 0; j < cols; ++j)
      raw[j] = std::max(std::pow(double(meanAbs[j]), ratio), 1e-4);
    double norm = std::sqrt(*std::min_element(raw.begin(), raw.end()) *
                            *std::max_element(raw.begin(), raw.end()));
    std::vector<float> s(static_cast<size_t>(cols));
    for (int64_t j = 0; j < cols; ++j)
      s[j] = static_cast<float>(raw[j] / norm);
    double expected = scaledError(w, rows, cols, target, s, h);
    EXPECT_NEAR(error, expected, 1e-9 * expected) << "ratio " << ratio;
  }
  std::vector<float> clipped = w;
  AWQClipResult clip =
      searchAWQClip(clipped.data(), rows, cols, target, h.data(), AWQOptions());
  double before = roundedError(w, w, rows, cols, target, h);
  EXPECT_NEAR(clip.errorBefore, before, 1e-9 * before);
  EXPECT_NEAR(clip.errorAfter, roundedError(clipped, w, rows, cols, target, h),
              1e-9 * before);
  EXPECT_LE(clip.errorAfter, clip.errorBefore);
}

TEST(AWQScales, LargeLayerMatchesPlainLoops) {
  // Large enough for the error to be split over threads where there are
  // several cores; each row's sum stays on one thread, in one order.
  int64_t tokens = 300, cols = 256, rows = 256;
  std::vector<float> x =
      salientActivations(tokens, cols, {1, 100, 200}, 6.0f, 23);
  std::vector<float> meanAbs = meanAbsOf(x, tokens, cols);
  std::vector<double> h = hessianOf(x, tokens, cols);
  std::vector<float> w = normalMatrix(rows, cols, 0.05f, 24);
  WeightTarget target = WeightTarget::ofBlock(Format::Q4_K);
  AWQOptions options;
  options.gridPoints = 2;
  AWQScaleSearch search = searchAWQScales({{w.data(), rows, target}}, cols,
                                          meanAbs.data(), h.data(), options);
  std::vector<float> ones(static_cast<size_t>(cols), 1.0f);
  double expected = scaledError(w, rows, cols, target, ones, h);
  EXPECT_NEAR(search.unscaledError, expected, 1e-9 * expected);
  if (search.bestRatio > 0.0) {
    expected = scaledError(w, rows, cols, target, search.scales, h);
    EXPECT_NEAR(search.error, expected, 1e-9 * expected);
  }
}

TEST(AWQScales, SameBitsOnEveryInstructionSet) {
  SalientCase c;
  Isa saved = getNumericsIsa();
  std::vector<AWQScaleSearch> searches;
  for (Isa isa : {Isa::Scalar, Isa::AVX2, Isa::AVX512}) {
    setNumericsIsa(isa);
    searches.push_back(searchAWQScales({{c.w1.data(), c.rows, int4g32()}},
                                       c.cols, c.meanAbs.data(), c.h.data(),
                                       AWQOptions()));
  }
  setNumericsIsa(saved);
  for (const AWQScaleSearch &search : searches) {
    EXPECT_EQ(search.tried, searches[0].tried);
    EXPECT_EQ(search.scales, searches[0].scales);
  }
}

TEST(AWQClip, GroupAloneQuantizesAsInTheRow) {
  // The clip search quantizes one group at a time: for integer groups
  // (ragged tail included) and for block formats (K-quants: 256) that is
  // what the whole row stores.
  struct Case {
    WeightTarget target;
    int64_t cols;
  };
  std::vector<Case> cases{
      {int4g32(), 80},
      {int3g32(), 80},
      {WeightTarget::ofGrouped({4, true, 32}), 80},
      {WeightTarget::ofGrouped({4, false, 0}), 80},
      {WeightTarget::ofBlock(Format::Q4_0), 128},
      {WeightTarget::ofBlock(Format::Q4_1), 128},
      {WeightTarget::ofBlock(Format::Q5_0), 128},
      {WeightTarget::ofBlock(Format::Q8_0), 128},
      {WeightTarget::ofBlock(Format::IQ4_NL), 128},
      {WeightTarget::ofBlock(Format::Q2_K), 512},
      {WeightTarget::ofBlock(Format::Q3_K), 512},
      {WeightTarget::ofBlock(Format::Q4_K), 512},
      {WeightTarget::ofBlock(Format::Q5_K), 512},
      {WeightTarget::ofBlock(Format::Q6_K), 512},
      {WeightTarget::ofBlock(Format::IQ4_XS), 512},
  };
  for (const Case &test : cases) {
    SCOPED_TRACE(test.target.name());
    std::vector<float> w = normalMatrix(1, test.cols, 0.05f, 9);
    std::vector<float> row(w.size());
    ASSERT_TRUE(fakeQuantize(test.target, w.data(), 1, test.cols, row.data()));
    int64_t group = test.target.groupColumns(test.cols);
    for (int64_t first = 0; first < test.cols; first += group) {
      int64_t length = std::min(group, test.cols - first);
      std::vector<float> alone(static_cast<size_t>(length));
      ASSERT_TRUE(
          fakeQuantize(test.target, w.data() + first, 1, length, alone.data()));
      for (int64_t j = 0; j < length; ++j)
        ASSERT_EQ(alone[j], row[first + j]) << first + j;
    }
  }
}

/// Heavy-tailed weights (a few large values per group), which clipping
/// helps, against activations with salient channels.
struct ClipCase {
  int64_t tokens = 192, cols, rows = 48;
  std::vector<float> x, w;
  std::vector<double> h;
  explicit ClipCase(int64_t cols) : cols(cols) {
    x = salientActivations(tokens, cols, {3, 50}, 4.0f, 4);
    h = hessianOf(x, tokens, cols);
    w = normalMatrix(rows, cols, 0.05f, 5);
    std::mt19937 rng(6);
    std::uniform_int_distribution<int64_t> pick(0, rows * cols - 1);
    for (int i = 0; i < rows * cols / 24; ++i)
      w[pick(rng)] *= 6.0f;
  }
};

/// Every group of `clipped` is `original` clamped to a bound of the grid
/// amax * (1 - i/20), i < 10, or left alone.
void expectGridClamps(const std::vector<float> &original,
                      const std::vector<float> &clipped, int64_t rows,
                      int64_t cols, int64_t group, int64_t &changedGroups) {
  changedGroups = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t first = 0; first < cols; first += group) {
      int64_t length = std::min(group, cols - first);
      const float *w = original.data() + r * cols + first;
      const float *c = clipped.data() + r * cols + first;
      float amax = 0.0f, bound = 0.0f;
      bool changed = false;
      for (int64_t j = 0; j < length; ++j) {
        amax = std::max(amax, std::fabs(w[j]));
        bound = std::max(bound, std::fabs(c[j]));
        changed |= w[j] != c[j];
      }
      if (!changed)
        continue;
      ++changedGroups;
      EXPECT_GE(bound, amax * 0.5f);
      EXPECT_LT(bound, amax);
      bool onGrid = false;
      for (int i = 1; i < 10; ++i)
        onGrid |= bound == static_cast<float>(amax * (1.0 - i / 20.0));
      EXPECT_TRUE(onGrid) << "row " << r << " group at " << first;
      for (int64_t j = 0; j < length; ++j)
        EXPECT_EQ(c[j], std::clamp(w[j], -bound, bound));
    }
}

TEST(AWQClip, NeverWorseAndBoundsOnTheGrid) {
  struct Case {
    WeightTarget target;
    int64_t cols;
  };
  // 80 columns in groups of 32: a ragged last group of 16.
  std::vector<Case> cases{{int4g32(), 80},
                          {int3g32(), 80},
                          {WeightTarget::ofGrouped({4, false, 0}), 80},
                          {WeightTarget::ofBlock(Format::Q4_0), 96},
                          {WeightTarget::ofBlock(Format::Q4_K), 256}};
  for (const Case &test : cases) {
    SCOPED_TRACE(test.target.name());
    ClipCase c(test.cols);
    std::vector<float> clipped = c.w;
    AWQClipResult result = searchAWQClip(clipped.data(), c.rows, c.cols,
                                         test.target, c.h.data(), AWQOptions());
    EXPECT_LE(result.errorAfter, result.errorBefore);
    double before = roundedError(c.w, c.w, c.rows, c.cols, test.target, c.h);
    double after = roundedError(clipped, c.w, c.rows, c.cols, test.target, c.h);
    EXPECT_NEAR(result.errorBefore, before, 1e-9 * before);
    EXPECT_NEAR(result.errorAfter, after, 1e-9 * before);
    int64_t changed = 0;
    expectGridClamps(c.w, clipped, c.rows, c.cols,
                     test.target.groupColumns(c.cols), changed);
    EXPECT_EQ(changed, result.clippedGroups);
    // Heavy tails: clipping pays somewhere, and lowers the error.
    EXPECT_GT(result.clippedGroups, 0);
    EXPECT_LT(result.errorAfter, result.errorBefore);
  }
}

TEST(AWQClip, RowsMadeWorseByCrossGroupTermsAreReverted) {
  // Rank-one H (every input the same signal): a row's error is
  // (sum_j d_j)^2, so per-group choices can undo a cancellation between
  // groups. Such rows keep their unclipped weights.
  int64_t tokens = 64, cols = 64, rows = 64;
  std::vector<float> signal = normalMatrix(tokens, 1, 1.0f, 7);
  std::vector<float> x(static_cast<size_t>(tokens * cols));
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < cols; ++j)
      x[t * cols + j] = signal[t];
  std::vector<double> h = hessianOf(x, tokens, cols);
  std::vector<float> w = normalMatrix(rows, cols, 0.05f, 8);
  std::vector<float> clipped = w;
  WeightTarget target = int3g32();
  AWQClipResult result =
      searchAWQClip(clipped.data(), rows, cols, target, h.data(), AWQOptions());
  EXPECT_GT(result.revertedRows, 0);
  EXPECT_LE(result.errorAfter, result.errorBefore);
  // Row by row: never worse than round-to-nearest of the original.
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> original(w.begin() + r * cols,
                                w.begin() + (r + 1) * cols);
    std::vector<float> mine(clipped.begin() + r * cols,
                            clipped.begin() + (r + 1) * cols);
    EXPECT_LE(roundedError(mine, original, 1, cols, target, h),
              roundedError(original, original, 1, cols, target, h) *
                  (1 + 1e-12));
  }
  int64_t changed = 0;
  expectGridClamps(w, clipped, rows, cols, 32, changed);
  EXPECT_EQ(changed, result.clippedGroups);
}

TEST(AWQClip, UnstorableWidthIsLeftAlone) {
  std::vector<float> w = normalMatrix(2, 48, 0.05f, 10);
  std::vector<float> copy = w;
  std::vector<double> h(48 * 48, 0.0);
  AWQClipResult result =
      searchAWQClip(copy.data(), 2, 48, WeightTarget::ofBlock(Format::Q4_0),
                    h.data(), AWQOptions());
  EXPECT_EQ(result.clippedGroups, 0);
  EXPECT_EQ(copy, w);
}

} // namespace
