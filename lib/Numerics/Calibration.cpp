//===- Calibration.cpp - streaming tensor statistics and range choice -----===//

#include "quantc/Numerics/Calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace quantc {

namespace {

constexpr float kInfinity = std::numeric_limits<float>::infinity();

/// The most values binned by one accumulateAbsHistogram call: its float32
/// counts are exact up to 2^24.
constexpr int64_t kExactFloatCounts = int64_t(1) << 24;

struct MethodName {
  CalibrationMethod method;
  std::string_view name;
};
constexpr MethodName kMethodNames[] = {
    {CalibrationMethod::MinMax, "minmax"},
    {CalibrationMethod::Percentile, "percentile"},
    {CalibrationMethod::Entropy, "entropy"},
    {CalibrationMethod::MSE, "mse"},
};

void setError(std::string *error, std::string message) {
  if (error)
    *error = std::move(message);
}

} // namespace

std::string_view getCalibrationMethodName(CalibrationMethod method) {
  for (const MethodName &entry : kMethodNames)
    if (entry.method == method)
      return entry.name;
  return "unknown";
}

std::optional<CalibrationMethod> parseCalibrationMethod(std::string_view name) {
  for (const MethodName &entry : kMethodNames)
    if (entry.name == name)
      return entry.method;
  return std::nullopt;
}

TensorStatistics::TensorStatistics(StatisticsOptions options)
    : options(options), min(kInfinity), max(-kInfinity) {
  if (options.histogramBins > 0 && options.histogramRange &&
      std::isfinite(*options.histogramRange) && *options.histogramRange >= 0) {
    layout.max = *options.histogramRange;
    layout.counts.assign(options.histogramBins, 0.0f);
    histogramCounts.assign(options.histogramBins, 0);
  }
}

float TensorStatistics::getAbsMax() const {
  return hasRange() ? std::max(std::fabs(min), std::fabs(max)) : 0.0f;
}

float TensorStatistics::getChannelAbsMax(int64_t channel) const {
  const float lo = channelMins[channel], hi = channelMaxs[channel];
  return lo <= hi ? std::max(std::fabs(lo), std::fabs(hi)) : 0.0f;
}

int64_t TensorStatistics::update(const float *data, int64_t outer,
                                 int64_t channels, int64_t inner) {
  if (outer <= 0 || channels <= 0 || inner <= 0)
    return 0;
  const int64_t size = outer * channels * inner;
  // This batch's own range: it alone shapes the histogram.
  float lo = kInfinity, hi = -kInfinity;
  int64_t bad = 0;
  if (options.perChannel) {
    if (channels > getNumChannels()) {
      channelMins.resize(channels, kInfinity);
      channelMaxs.resize(channels, -kInfinity);
    }
    const float *run = data;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t c = 0; c < channels; ++c, run += inner) {
        float runLo = kInfinity, runHi = -kInfinity;
        for (int64_t i = 0; i < inner; ++i) {
          const float x = run[i];
          if (!std::isfinite(x)) {
            ++bad;
            continue;
          }
          runLo = std::min(runLo, x);
          runHi = std::max(runHi, x);
        }
        channelMins[c] = std::min(channelMins[c], runLo);
        channelMaxs[c] = std::max(channelMaxs[c], runHi);
        lo = std::min(lo, runLo);
        hi = std::max(hi, runHi);
      }
    }
  } else {
    for (int64_t i = 0; i < size; ++i) {
      const float x = data[i];
      if (!std::isfinite(x)) {
        ++bad;
        continue;
      }
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  }
  count += size;
  nonFinite += bad;
  if (!(lo <= hi))
    return bad; // nothing finite in this batch
  min = std::min(min, lo);
  max = std::max(max, hi);
  if (options.histogramBins > 0)
    accumulateHistogram(data, size, std::max(std::fabs(lo), std::fabs(hi)));
  return bad;
}

void TensorStatistics::accumulateHistogram(const float *data, int64_t size,
                                           float batchAbsMax) {
  const int64_t bins = options.histogramBins;
  // Shape the bins for this batch first: accumulateAbsHistogram sets or
  // grows them from the batch's max|x| alone, so one value equal to it
  // shapes them exactly as the whole batch would. Then the batch is binned
  // slice by slice over the fixed edges.
  const auto oldBins = static_cast<int64_t>(layout.counts.size());
  const double oldWidth =
      oldBins > 0 ? static_cast<double>(layout.max) / oldBins : 0.0;
  accumulateAbsHistogram(layout, &batchAbsMax, 1, bins);
  const auto newBins = static_cast<int64_t>(layout.counts.size());
  if (oldWidth > 0) {
    // Past kMaxCalibrationBins the growth merged runs of a whole number of
    // old bins; the totals merge alike.
    const double newWidth = static_cast<double>(layout.max) / newBins;
    const auto factor = static_cast<int64_t>(std::llround(newWidth / oldWidth));
    if (factor > 1) {
      std::vector<int64_t> merged((oldBins + factor - 1) / factor, 0);
      for (int64_t bin = 0; bin < oldBins; ++bin)
        merged[bin / factor] += histogramCounts[bin];
      histogramCounts = std::move(merged);
    }
  }
  histogramCounts.resize(newBins, 0);
  std::fill(layout.counts.begin(), layout.counts.end(), 0.0f);

  for (int64_t start = 0; start < size; start += kExactFloatCounts) {
    const int64_t slice = std::min(kExactFloatCounts, size - start);
    accumulateAbsHistogram(layout, data + start, slice, bins);
    for (int64_t bin = 0; bin < newBins; ++bin) {
      histogramCounts[bin] += static_cast<int64_t>(layout.counts[bin]);
      layout.counts[bin] = 0.0f;
    }
  }
}

Histogram TensorStatistics::getHistogram() const {
  Histogram histogram;
  histogram.min = 0;
  histogram.max = layout.max;
  histogram.counts.assign(histogramCounts.begin(), histogramCounts.end());
  return histogram;
}

std::optional<ClipRange> selectRange(float min, float max,
                                     const Histogram *histogram,
                                     CalibrationMethod method,
                                     double percentile, std::string *error) {
  if (!std::isfinite(min) || !std::isfinite(max) || min > max) {
    setError(error, "no finite values were observed");
    return std::nullopt;
  }
  const ClipRange observed{min, max};
  if (method == CalibrationMethod::MinMax)
    return observed;
  if (method == CalibrationMethod::Percentile &&
      !(percentile >= 0 && percentile <= 100)) {
    setError(error, "percentile " + std::to_string(percentile) +
                        " is outside [0, 100]");
    return std::nullopt;
  }
  if (!histogram || histogram->counts.empty()) {
    setError(error, "the " + std::string(getCalibrationMethodName(method)) +
                        " method needs a histogram of |x|, and none was "
                        "collected (calibrate with bins > 0)");
    return std::nullopt;
  }

  // Only zeros observed: there is nothing to clip.
  if (!(histogram->max > histogram->min))
    return observed;
  double total = 0;
  for (float binCount : histogram->counts)
    total += binCount;
  if (!(total > 0)) {
    setError(error, "the histogram of |x| holds no values");
    return std::nullopt;
  }

  std::optional<float> amax;
  switch (method) {
  case CalibrationMethod::MinMax:
    return observed;
  case CalibrationMethod::Percentile:
    if (percentile == 100)
      return observed;
    amax = percentileAmax(*histogram, percentile);
    break;
  case CalibrationMethod::Entropy:
    amax = entropyAmax(*histogram);
    break;
  case CalibrationMethod::MSE:
    amax = mseAmax(*histogram);
    break;
  }
  if (!amax) {
    setError(error, "the " + std::string(getCalibrationMethodName(method)) +
                        " search starts at bin 128 and the histogram has " +
                        std::to_string(histogram->counts.size()) +
                        " bins; collect more");
    return std::nullopt;
  }
  ClipRange clipped{std::max(min, -*amax), std::min(max, *amax)};
  // Every value beyond amax on one side (a constant tensor, say): the
  // intersection is empty and everything clips to that one end.
  if (clipped.lo > clipped.hi) {
    if (min > *amax)
      clipped.lo = clipped.hi;
    else
      clipped.hi = clipped.lo;
  }
  return clipped;
}

std::optional<ClipRange> selectRange(const TensorStatistics &stats,
                                     CalibrationMethod method,
                                     double percentile, std::string *error) {
  if (stats.getNonFiniteCount() > 0) {
    setError(error, std::to_string(stats.getNonFiniteCount()) + " of " +
                        std::to_string(stats.getCount()) +
                        " observed values are not finite (NaN or infinity)");
    return std::nullopt;
  }
  if (!stats.hasHistogram())
    return selectRange(stats.getMin(), stats.getMax(), nullptr, method,
                       percentile, error);
  Histogram histogram = stats.getHistogram();
  return selectRange(stats.getMin(), stats.getMax(), &histogram, method,
                     percentile, error);
}

} // namespace quantc
