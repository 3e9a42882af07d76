//===- RangeSelectionTest.cpp - calibration amax searches -----------------===//

#include "quantc/Numerics/RangeSelection.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <vector>

using namespace quantc;

namespace {

Histogram makeHistogram(float max, std::vector<float> counts) {
  Histogram histogram;
  histogram.max = max;
  histogram.counts = std::move(counts);
  return histogram;
}

/// |x| of normal data plus a few far outliers, in one 2048-bin histogram.
Histogram outlierHistogram() {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(40000);
  for (float &v : values)
    v = normal(rng);
  values[10] = 40.0f;
  values[20] = -38.0f;
  values[30] = 31.0f;
  Histogram histogram;
  accumulateAbsHistogram(histogram, values.data(), values.size());
  return histogram;
}

/// TensorRT's KL search written out plainly, as numpy runs it: linspace
/// group edges, digitize, scipy's entropy on the normalized vectors.
float bruteForceEntropyAmax(const Histogram &histogram, int64_t quantBins,
                            int64_t startBin, int64_t stride) {
  std::vector<double> bins(histogram.counts.begin(), histogram.counts.end());
  bins[0] = bins[1];
  const int64_t n = bins.size();
  std::vector<std::pair<int64_t, double>> divergences;
  for (int64_t i = startBin; i <= n; i += stride) {
    std::vector<int64_t> group(i);
    for (int64_t j = 0; j < i; ++j) {
      int64_t q = 0;
      while (q + 1 <= quantBins &&
             static_cast<double>(q + 1) * i / quantBins <= j)
        ++q;
      group[j] = bins[j] == 0 ? -1 : q;
    }
    std::map<int64_t, double> mass, members;
    for (int64_t j = 0; j < i; ++j)
      if (group[j] != -1) {
        mass[group[j]] += bins[j];
        members[group[j]] += 1;
      }
    std::vector<double> p(bins.begin(), bins.begin() + i), q(i, 0.0);
    for (int64_t j = i; j < n; ++j)
      p[i - 1] += bins[j];
    for (int64_t j = 0; j < i; ++j)
      if (group[j] != -1)
        q[j] = mass[group[j]] / members[group[j]];
    double pSum = 0, qSum = 0;
    for (int64_t j = 0; j < i; ++j) {
      pSum += p[j];
      qSum += q[j];
    }
    double kl = 0;
    for (int64_t j = 0; j < i; ++j) {
      const double pj = p[j] / pSum, qj = q[j] / qSum;
      if (pj > 0)
        kl += qj > 0 ? pj * std::log(pj / qj)
                     : std::numeric_limits<double>::infinity();
    }
    divergences.push_back({i, kl});
  }
  auto best = divergences.front();
  for (auto candidate : divergences)
    if (candidate.second <= best.second)
      best = candidate;
  return histogram.max * static_cast<float>(best.first) / n;
}

/// ModelOpt's MSE search written out plainly over float32 bin centres.
float bruteForceMseAmax(const Histogram &histogram, int64_t startBin) {
  const int64_t n = histogram.counts.size();
  const float width = histogram.max / n;
  std::vector<float> centers(n);
  for (int64_t k = 0; k < n; ++k)
    centers[k] = (k * width + (k + 1) * width) / 2;
  float bestAmax = 0;
  double bestError = std::numeric_limits<double>::infinity();
  for (int64_t i = startBin; i < n; ++i) {
    const float scale = 127.0f / centers[i];
    double error = 0;
    for (int64_t k = 0; k < n; ++k) {
      float q = std::nearbyint(centers[k] * scale);
      q = q > 127.0f ? 127.0f : q;
      const double diff = static_cast<double>(q / scale) - centers[k];
      error += histogram.counts[k] * diff * diff;
    }
    if (error < bestError) {
      bestError = error;
      bestAmax = centers[i];
    }
  }
  return bestAmax;
}

TEST(RangeSelectionHistogram, BinsAbsoluteValuesOverZeroToMax) {
  // [0, 2] in 4 bins of width 0.5; -2 sets the range and joins the last bin.
  const float values[] = {-2.0f, 0.1f, -0.6f, 0.5f, 1.2f, 0.0f};
  Histogram histogram;
  accumulateAbsHistogram(histogram, values, 6, 4);
  EXPECT_EQ(histogram.min, 0.0f);
  EXPECT_EQ(histogram.max, 2.0f);
  EXPECT_EQ(histogram.counts, (std::vector<float>{2, 2, 1, 1}));
}

TEST(RangeSelectionHistogram, SkipsNonFiniteValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float values[] = {nan, -inf, 3.0f, inf, 1.0f};
  Histogram histogram;
  accumulateAbsHistogram(histogram, values, 5, 3);
  EXPECT_EQ(histogram.max, 3.0f);
  EXPECT_EQ(histogram.counts, (std::vector<float>{0, 1, 1}));

  const float nothingFinite[] = {nan, inf};
  Histogram empty;
  accumulateAbsHistogram(empty, nothingFinite, 2, 3);
  accumulateAbsHistogram(empty, values, 0, 3);
  EXPECT_TRUE(empty.counts.empty());
  EXPECT_FALSE(percentileAmax(empty));
  EXPECT_FALSE(entropyAmax(empty));
  EXPECT_FALSE(mseAmax(empty));
}

// Bins of the first batch's width are appended until the new max is
// covered, so a second batch lands where a one-shot histogram over the
// final range puts it. The one exception is the first batch's max, which
// histc puts in the last bin of its own range rather than on the edge.
TEST(RangeSelectionHistogram, GrowingRangeMatchesOneShotWhenEdgesLineUp) {
  const std::vector<float> first = {0.1f, 0.3f, -0.6f, 1.0f, 0.8f};
  const std::vector<float> second = {1.9f, -2.0f, 0.45f, 1.3f};
  Histogram grown;
  accumulateAbsHistogram(grown, first.data(), first.size(), 4);
  accumulateAbsHistogram(grown, second.data(), second.size(), 4);
  EXPECT_EQ(grown.max, 2.0f);
  ASSERT_EQ(grown.counts.size(), 8u);

  std::vector<float> all = first;
  all.insert(all.end(), second.begin(), second.end());
  Histogram oneShot;
  accumulateAbsHistogram(oneShot, all.data(), all.size(), 8);
  EXPECT_EQ(oneShot.max, 2.0f);
  std::vector<float> expected = oneShot.counts;
  expected[4] -= 1; // 1.0, the first batch's max...
  expected[3] += 1; // ...is in the first range's last bin.
  EXPECT_EQ(grown.counts, expected);
}

TEST(RangeSelectionHistogram, GrowsInStepsOfTheExistingWidth) {
  const float first[] = {1.0f, 0.3f};
  const float second[] = {1.6f, 1.55f, 0.1f};
  Histogram histogram;
  accumulateAbsHistogram(histogram, first, 2, 4);
  accumulateAbsHistogram(histogram, second, 3, 4);
  // ceil(1.6 / 0.25) = 7 bins, so the range ends at 1.75, not 1.6.
  EXPECT_EQ(histogram.max, 1.75f);
  EXPECT_EQ(histogram.counts, (std::vector<float>{1, 1, 0, 1, 0, 0, 2}));

  // A batch within the range changes nothing but the counts.
  const float third[] = {0.2f};
  accumulateAbsHistogram(histogram, third, 1, 4);
  EXPECT_EQ(histogram.max, 1.75f);
  EXPECT_EQ(histogram.counts, (std::vector<float>{2, 1, 0, 1, 0, 0, 2}));
}

// A batch far beyond the first range would need billions of bins; the
// histogram merges whole runs of bins instead, keeping every count and the
// old edges, and stays within the cap.
TEST(RangeSelectionHistogram, GrowthBeyondTheCapMergesBins) {
  const float first[] = {1.0f, 0.3f, 0.9f};
  const float huge[] = {1e9f};
  Histogram histogram;
  accumulateAbsHistogram(histogram, first, 3, 4);
  accumulateAbsHistogram(histogram, huge, 1, 4);
  const auto bins = static_cast<int64_t>(histogram.counts.size());
  EXPECT_LE(bins, kMaxCalibrationBins);
  EXPECT_GT(bins, kMaxCalibrationBins / 2);
  EXPECT_GE(histogram.max, 1e9f);
  EXPECT_LT(histogram.max, 1e9f * 1.001f);
  float total = 0;
  for (float c : histogram.counts)
    total += c;
  EXPECT_EQ(total, 4.0f);
  // The three small values share the first merged bin; 1e9 is in the last.
  EXPECT_EQ(histogram.counts.front(), 3.0f);
  EXPECT_EQ(histogram.counts.back(), 1.0f);
  // Zero bins asked for: nothing changes.
  accumulateAbsHistogram(histogram, first, 3, 0);
  EXPECT_EQ(static_cast<int64_t>(histogram.counts.size()), bins);
}

TEST(RangeSelectionHistogram, ZerosBeforeTheFirstPositiveBatchStayInBinZero) {
  const float zeros[] = {0.0f, -0.0f, 0.0f};
  Histogram histogram;
  accumulateAbsHistogram(histogram, zeros, 3, 4);
  EXPECT_EQ(histogram.max, 0.0f);
  EXPECT_EQ(histogram.counts, (std::vector<float>{3, 0, 0, 0}));
  // Nothing to choose from zeros alone.
  EXPECT_FALSE(percentileAmax(histogram));
  EXPECT_FALSE(entropyAmax(histogram, 2, 2));
  EXPECT_FALSE(mseAmax(histogram, 0));

  const float positive[] = {4.0f, 2.5f};
  accumulateAbsHistogram(histogram, positive, 2, 4);
  EXPECT_EQ(histogram.max, 4.0f);
  EXPECT_EQ(histogram.counts, (std::vector<float>{3, 0, 1, 1}));
}

TEST(RangeSelectionPercentile, PicksTheLowerEdgeOfTheBinReachingIt) {
  // [0, 4] in bins of width 1; the cumulative fractions are exact:
  // 0.5, 0.75, 0.875, 1.
  const Histogram histogram = makeHistogram(4.0f, {4, 2, 1, 1});
  EXPECT_EQ(percentileAmax(histogram, 0), 0.0f);
  EXPECT_EQ(percentileAmax(histogram, 50), 0.0f);
  EXPECT_EQ(percentileAmax(histogram, 60), 1.0f);
  EXPECT_EQ(percentileAmax(histogram, 75), 1.0f);
  EXPECT_EQ(percentileAmax(histogram, 80), 2.0f);
  EXPECT_EQ(percentileAmax(histogram, 90), 3.0f);
  // Even all of the mass clips the last occupied bin.
  EXPECT_EQ(percentileAmax(histogram, 100), 3.0f);
  EXPECT_EQ(percentileAmax(histogram), 3.0f);
}

TEST(RangeSelectionPercentile, RejectsPercentilesOutsideZeroToHundred) {
  const Histogram histogram = makeHistogram(4.0f, {4, 2, 1, 1});
  EXPECT_FALSE(percentileAmax(histogram, -1));
  EXPECT_FALSE(percentileAmax(histogram, 100.5));
  EXPECT_FALSE(percentileAmax(histogram, std::nan("")));
  EXPECT_FALSE(percentileAmax(makeHistogram(4.0f, {0, 0, 0, 0})));
}

TEST(RangeSelectionPercentile, HigherPercentileNeverGivesASmallerAmax) {
  const Histogram histogram = outlierHistogram();
  float previous = 0;
  for (double percentile = 0; percentile <= 100; percentile += 0.25) {
    const std::optional<float> amax = percentileAmax(histogram, percentile);
    ASSERT_TRUE(amax);
    EXPECT_GE(*amax, previous) << "percentile " << percentile;
    previous = *amax;
  }
  // The outliers are 3 of 40000 values: 99.99% clips them, 99.999% not.
  EXPECT_LT(*percentileAmax(histogram), 10.0f);
  EXPECT_GT(*percentileAmax(histogram, 99.999), 30.0f);
}

TEST(RangeSelectionEntropy, UniformDistributionKeepsTheFullRange) {
  // Every candidate but the full range folds a tail into its last bin; the
  // full range reproduces P exactly (KL 0).
  EXPECT_EQ(entropyAmax(makeHistogram(4.0f, {4, 4, 4, 4}), 2, 2), 4.0f);
  const Histogram uniform =
      makeHistogram(3.0f, std::vector<float>(kCalibrationBins, 10.0f));
  EXPECT_EQ(entropyAmax(uniform), 3.0f);
}

TEST(RangeSelectionEntropy, ClipsASparseOutlierTail) {
  // Bins of width 1 over [0, 8], 2 quantized bins, candidates 2..8:
  //   end 2: P = (8, 10)/18, Q = (1, 1)/2,           KL = 0.00619
  //   end 3: P = (8, 8, 2)/18, Q = (8, 8, 1)/17,     KL = 0.01986
  //   end 4..7: the folded tail meets an empty bin,  KL = inf
  //   end 8: bins 0-2 share 17/3 each, bin 7 keeps 1, KL = 0.21016
  const Histogram histogram = makeHistogram(8.0f, {8, 8, 1, 0, 0, 0, 0, 1});
  EXPECT_EQ(entropyAmax(histogram, 2, 2), 2.0f);
  EXPECT_EQ(bruteForceEntropyAmax(histogram, 2, 2, 1), 2.0f);
}

TEST(RangeSelectionEntropy, MatchesBruteForceKL) {
  const Histogram histogram = outlierHistogram();
  ASSERT_EQ(histogram.counts.size(), static_cast<size_t>(kCalibrationBins));
  const std::optional<float> amax = entropyAmax(histogram);
  ASSERT_TRUE(amax);
  EXPECT_EQ(*amax, bruteForceEntropyAmax(histogram, 128, 128, 1));
  // The outlier tail is clipped, the normal bulk kept.
  EXPECT_GT(*amax, 2.0f);
  EXPECT_LT(*amax, 10.0f);
  EXPECT_EQ(entropyAmax(histogram, 128, 128, 7),
            bruteForceEntropyAmax(histogram, 128, 128, 7));
  EXPECT_EQ(entropyAmax(histogram, 100, 300, 3),
            bruteForceEntropyAmax(histogram, 100, 300, 3));
}

TEST(RangeSelectionEntropy, TiesGoToTheLargestRange) {
  // Ends 2, 3 and 4 all reproduce P exactly (KL 0); the last one wins.
  EXPECT_EQ(entropyAmax(makeHistogram(4.0f, {4, 4, 0, 0}), 2, 2), 4.0f);
}

TEST(RangeSelectionEntropy, ReplacesTheZeroSpikeByBinOne) {
  // Read as is, the spike would make merging bins 0 and 1 so costly
  // (KL 0.625 at end 4) that end 2 (KL 0.012) won; as bin 1's count the
  // histogram is uniform and keeps its full range.
  EXPECT_EQ(entropyAmax(makeHistogram(4.0f, {100, 1, 1, 1}), 2, 2), 4.0f);
  EXPECT_EQ(bruteForceEntropyAmax(makeHistogram(4.0f, {100, 1, 1, 1}), 2, 2, 1),
            4.0f);
}

TEST(RangeSelectionEntropy, CandidatesAndDegenerateHistograms) {
  const Histogram histogram = makeHistogram(8.0f, {8, 8, 1, 0, 0, 0, 0, 1});
  // One candidate: the full range.
  EXPECT_EQ(entropyAmax(histogram, 2, 8), 8.0f);
  // No candidate, or no usable parameters.
  EXPECT_FALSE(entropyAmax(histogram, 2, 9));
  EXPECT_FALSE(entropyAmax(histogram, 0, 2));
  EXPECT_FALSE(entropyAmax(histogram, 2, 2, 0));
  EXPECT_FALSE(entropyAmax(makeHistogram(8.0f, {8}), 1, 1));
  EXPECT_FALSE(entropyAmax(makeHistogram(8.0f, {0, 0, 0, 0}), 2, 2));
  // All the mass in bin 0 vanishes with the spike: the last candidate.
  EXPECT_EQ(entropyAmax(makeHistogram(8.0f, {5, 0, 0, 0, 0, 0, 0, 0}), 2, 2, 2),
            8.0f);
  EXPECT_EQ(entropyAmax(makeHistogram(8.0f, {5, 0, 0, 0, 0, 0, 0, 0}), 2, 3, 2),
            7.0f);
}

TEST(RangeSelectionMse, HandComputedChoices) {
  // Centres 0.5 1.5 2.5 3.5. With 1000 values at 0.5 and one at 3.5:
  //   amax 0.5: clips 3.5 to 0.5                      error 9
  //   amax 1.5: 0.5 -> 42/84.67, 3.5 clipped           error 4.0155
  //   amax 2.5: 0.5 -> 25/50.8, 3.5 clipped            error 1.062
  //   amax 3.5: 0.5 -> 18/36.29, 3.5 exact             error 0.0155
  EXPECT_EQ(mseAmax(makeHistogram(4.0f, {1000, 0, 0, 1}), 0), 3.5f);
  // A million values at 0.5 make amax 3.5's rounding cost 15.5 > 9.
  EXPECT_EQ(mseAmax(makeHistogram(4.0f, {1e6f, 0, 0, 1}), 0), 0.5f);
  // From startBin 1 on, amax 1.5 rounds 0.5 as amax 3.5 does (to 63/127)
  // but also clips: 3.5 again.
  EXPECT_EQ(mseAmax(makeHistogram(4.0f, {1e6f, 0, 0, 1}), 1), 3.5f);
}

TEST(RangeSelectionMse, MatchesBruteForce) {
  // Three outliers among 40000 values cost less unclipped than the coarser
  // rounding they force on the rest, so MSE keeps most of the range.
  const Histogram histogram = outlierHistogram();
  const std::optional<float> amax = mseAmax(histogram);
  ASSERT_TRUE(amax);
  EXPECT_EQ(*amax, bruteForceMseAmax(histogram, 128));
  EXPECT_GT(*amax, 30.0f);
  // Uniform data: clipping costs about what rounding saves, so the best
  // range stays within a few bins of the top.
  const Histogram uniform = makeHistogram(2.0f, std::vector<float>(256, 1));
  EXPECT_EQ(mseAmax(uniform), bruteForceMseAmax(uniform, 128));
  EXPECT_GT(*mseAmax(uniform), 1.95f);
}

TEST(RangeSelectionMse, ClipsAFarOutlierBehindADenseBulk) {
  // 256000 values over [0, 8] and one at 64. Rounding costs about
  // 256000 (a/127)^2 / 12 and clipping (64 - a)^2, least at a = 27.6.
  std::vector<float> counts(kCalibrationBins, 0.0f);
  std::fill(counts.begin(), counts.begin() + 256, 1000.0f);
  counts.back() = 1;
  const Histogram histogram = makeHistogram(64.0f, counts);
  const std::optional<float> amax = mseAmax(histogram);
  ASSERT_TRUE(amax);
  EXPECT_EQ(*amax, bruteForceMseAmax(histogram, 128));
  EXPECT_GT(*amax, 24.0f);
  EXPECT_LT(*amax, 32.0f);
}

TEST(RangeSelectionMse, DegenerateHistograms) {
  EXPECT_FALSE(mseAmax(makeHistogram(4.0f, {1, 0, 0, 1}), 4));
  EXPECT_FALSE(mseAmax(makeHistogram(4.0f, {1, 0, 0, 1}), -1));
  EXPECT_FALSE(mseAmax(makeHistogram(4.0f, {1, 0, 0, 1}), 0, 0));
  EXPECT_FALSE(mseAmax(makeHistogram(4.0f, {0, 0, 0, 0}), 0));
}

// A single value lands in the last of 2048 bins; each search keeps it.
TEST(RangeSelection, SingleValue) {
  const float value = -3.0f;
  Histogram histogram;
  accumulateAbsHistogram(histogram, &value, 1);
  EXPECT_EQ(histogram.max, 3.0f);
  EXPECT_EQ(histogram.counts.back(), 1.0f);
  // Percentile reports that bin's lower edge...
  EXPECT_EQ(percentileAmax(histogram), 3.0f * 2047 / 2048);
  // ...entropy's every shorter candidate keeps no mass...
  EXPECT_EQ(entropyAmax(histogram), 3.0f);
  // ...and MSE's best centre is that bin's.
  EXPECT_EQ(mseAmax(histogram), 3.0f * 4095 / 4096);
}

} // namespace
