//===- RangeSelection.cpp - calibration amax from |x| histograms ----------===//

#include "quantc/Numerics/RangeSelection.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace quantc {

void accumulateAbsHistogram(Histogram &histogram, const float *data,
                            int64_t count, int64_t bins) {
  if (bins < 1)
    return;
  float batchMax = -1.0f;
  for (int64_t i = 0; i < count; ++i)
    if (std::isfinite(data[i]))
      batchMax = std::max(batchMax, std::fabs(data[i]));
  if (batchMax < 0)
    return;

  if (histogram.counts.empty()) {
    histogram.min = 0;
    histogram.max = batchMax;
    histogram.counts.assign(bins, 0.0f);
  } else if (histogram.max == 0) {
    // Everything so far was zero and sits in bin 0 on any range.
    histogram.max = batchMax;
  } else if (batchMax > histogram.max) {
    const auto oldBins = static_cast<int64_t>(histogram.counts.size());
    double width = static_cast<double>(histogram.max) / oldBins;
    double needed = std::ceil(batchMax / width);
    if (needed > kMaxCalibrationBins) {
      // Merge runs of `factor` bins so the grown histogram fits the cap;
      // the edges stay edges of the old bins.
      const auto factor =
          static_cast<int64_t>(std::ceil(needed / kMaxCalibrationBins));
      std::vector<float> merged((oldBins + factor - 1) / factor, 0.0f);
      for (int64_t bin = 0; bin < oldBins; ++bin)
        merged[bin / factor] += histogram.counts[bin];
      histogram.counts = std::move(merged);
      width *= static_cast<double>(factor);
      needed = std::ceil(batchMax / width);
    }
    const auto newBins = static_cast<int64_t>(needed);
    histogram.counts.resize(std::max<int64_t>(newBins, histogram.counts.size()),
                            0.0f);
    histogram.max = static_cast<float>(width * histogram.counts.size());
  }

  const int64_t binCount = static_cast<int64_t>(histogram.counts.size());
  const float binsF = static_cast<float>(binCount);
  for (int64_t i = 0; i < count; ++i) {
    const float x = std::fabs(data[i]);
    if (!std::isfinite(x))
      continue;
    // With max 0 every value is 0 and belongs in bin 0; a top edge rounded
    // just below max|x| must not drop the largest values.
    const int64_t bin = histogram.max == 0
                            ? 0
                            : static_cast<int64_t>(x * binsF / histogram.max);
    histogram.counts[std::min(bin, binCount - 1)] += 1.0f;
  }
}

namespace {

/// Edge k of `histogram`'s bins, rounded once from the exact value.
float binEdge(const Histogram &histogram, int64_t k) {
  const double span = static_cast<double>(histogram.max) - histogram.min;
  return histogram.min +
         static_cast<float>(span * k /
                            static_cast<double>(histogram.counts.size()));
}

/// The sum of the counts, or nullopt when there is nothing to search: no
/// counts, or an empty range.
std::optional<double> searchableTotal(const Histogram &histogram) {
  if (!(histogram.max > histogram.min))
    return std::nullopt;
  double total = 0;
  for (float c : histogram.counts)
    total += c;
  if (!(total > 0))
    return std::nullopt;
  return total;
}

/// ModelOpt's fake_tensor_quant for signed narrow-range int8, in float32.
float fakeQuantInt8(float x, float amax) {
  if (amax <= 1.0f / (1 << 24))
    return 0.0f;
  const float scale = 127.0f / amax;
  const float q = std::clamp(std::nearbyint(x * scale), -127.0f, 127.0f);
  return q / scale;
}

} // namespace

std::optional<float> percentileAmax(const Histogram &histogram,
                                    double percentile) {
  if (!(percentile >= 0 && percentile <= 100))
    return std::nullopt;
  const std::optional<double> total = searchableTotal(histogram);
  if (!total)
    return std::nullopt;
  // numpy's cumsum of the normalized counts, then searchsorted (left).
  const double target = percentile / 100.0;
  const int64_t bins = static_cast<int64_t>(histogram.counts.size());
  double cumulative = 0;
  int64_t index = 0;
  for (; index < bins; ++index) {
    cumulative += histogram.counts[index] / *total;
    if (cumulative >= target)
      break;
  }
  return binEdge(histogram, index);
}

std::optional<float> entropyAmax(const Histogram &histogram,
                                 int64_t numQuantBins, int64_t startBin,
                                 int64_t stride) {
  const int64_t bins = static_cast<int64_t>(histogram.counts.size());
  if (numQuantBins < 1 || startBin < 1 || stride < 1 || bins < 2 ||
      bins < startBin || !searchableTotal(histogram))
    return std::nullopt;

  std::vector<double> counts(histogram.counts.begin(), histogram.counts.end());
  counts[0] = counts[1];
  std::vector<double> suffix(bins + 1, 0.0);
  for (int64_t j = bins - 1; j >= 0; --j)
    suffix[j] = suffix[j + 1] + counts[j];
  const double total = suffix[0];

  const int64_t lastCandidate = startBin + (bins - startBin) / stride * stride;
  if (!(total > 0))
    return binEdge(histogram, lastCandidate);

  std::vector<double> groupMass(numQuantBins), groupBins(numQuantBins);
  std::vector<double> expanded;
  double best = std::numeric_limits<double>::infinity();
  int64_t bestEnd = lastCandidate;
  for (int64_t end = startBin; end <= bins; end += stride) {
    std::fill(groupMass.begin(), groupMass.end(), 0.0);
    std::fill(groupBins.begin(), groupBins.end(), 0.0);
    for (int64_t j = 0; j < end; ++j) {
      if (counts[j] == 0)
        continue;
      const int64_t group = j * numQuantBins / end;
      groupMass[group] += counts[j];
      groupBins[group] += 1;
    }
    expanded.assign(end, 0.0);
    double expandedTotal = 0;
    for (int64_t j = 0; j < end; ++j) {
      if (counts[j] == 0)
        continue;
      const int64_t group = j * numQuantBins / end;
      expanded[j] = groupMass[group] / groupBins[group];
      expandedTotal += expanded[j];
    }

    double divergence = std::numeric_limits<double>::infinity();
    if (expandedTotal > 0) {
      divergence = 0;
      for (int64_t j = 0; j < end; ++j) {
        // P's last bin carries the clipped tail.
        const double p =
            (j == end - 1 ? counts[j] + suffix[end] : counts[j]) / total;
        if (p == 0)
          continue;
        const double q = expanded[j] / expandedTotal;
        if (q == 0) {
          divergence = std::numeric_limits<double>::infinity();
          break;
        }
        divergence += p * std::log(p / q);
      }
    }
    if (divergence <= best) {
      best = divergence;
      bestEnd = end;
    }
  }
  return binEdge(histogram, bestEnd);
}

std::optional<float> mseAmax(const Histogram &histogram, int64_t startBin,
                             int64_t stride) {
  const int64_t bins = static_cast<int64_t>(histogram.counts.size());
  if (startBin < 0 || stride < 1 || bins <= startBin ||
      !searchableTotal(histogram))
    return std::nullopt;

  std::vector<float> centers(bins);
  for (int64_t k = 0; k < bins; ++k)
    centers[k] = (binEdge(histogram, k) + binEdge(histogram, k + 1)) / 2;

  double best = std::numeric_limits<double>::infinity();
  float bestAmax = centers[startBin];
  for (int64_t i = startBin; i < bins; i += stride) {
    const float amax = centers[i];
    double error = 0;
    for (int64_t k = 0; k < bins; ++k) {
      const double diff =
          static_cast<double>(fakeQuantInt8(centers[k], amax)) - centers[k];
      error += histogram.counts[k] * diff * diff;
    }
    if (error < best) {
      best = error;
      bestAmax = amax;
    }
  }
  return bestAmax;
}

} // namespace quantc
