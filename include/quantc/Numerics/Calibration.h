//===- Calibration.h - streaming tensor statistics and range choice -*- C++
//-*-//
//
// What calibration keeps about one tensor while a model runs over sample
// text, batch after batch, without holding the values: how many, their
// range (per tensor and optionally per channel), and a histogram of |x|
// that grows as ModelOpt's does (RangeSelection.h). And the choice of a
// clipping range from such statistics by one of the calibration methods
// (min/max, percentile, entropy, MSE). MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_CALIBRATION_H
#define QUANTC_NUMERICS_CALIBRATION_H

#include "quantc/Numerics/Histogram.h"
#include "quantc/Numerics/RangeSelection.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quantc {

/// How a clipping range is chosen from a tensor's statistics.
enum class CalibrationMethod {
  /// The observed [min, max].
  MinMax,
  /// ModelOpt's percentile of |x| (default 99.99).
  Percentile,
  /// TensorRT's KL-divergence search (128 quantized bins).
  Entropy,
  /// ModelOpt's int8 MSE search.
  MSE,
};

/// "minmax", "percentile", "entropy" or "mse".
std::string_view getCalibrationMethodName(CalibrationMethod method);
/// The method named `name` (see getCalibrationMethodName), or nullopt.
std::optional<CalibrationMethod> parseCalibrationMethod(std::string_view name);

/// What a TensorStatistics collects besides the count and per-tensor range.
struct StatisticsOptions {
  /// Also keep the range of each channel.
  bool perChannel = false;
  /// Keep a histogram of |x| with this many bins (0: none).
  int64_t histogramBins = 0;
  /// Bin |x| over [0, histogramRange] from the first batch on, instead of
  /// over the first batch's own [0, max|x|]. A caller that already knows
  /// the tensor's max|x| (from an earlier pass over the same data) gets
  /// exactly `histogramBins` bins ending at it. Values beyond it still grow
  /// the histogram. Ignored unless finite and non-negative.
  std::optional<float> histogramRange;
};

/// Streaming statistics of one tensor: count, per-tensor min/max,
/// optionally per-channel min/max and a histogram of |x|.
///
/// Non-finite values are counted (getNonFiniteCount) and otherwise left
/// out of every statistic: a caller decides whether they are an error
/// (calibration treats any as one, naming the tensor).
///
/// The histogram is accumulateAbsHistogram's: the first batch with a finite
/// value fixes the bin width, later batches append bins of that width as
/// max|x| grows. Each batch shapes the bins as one call would, whatever its
/// size. Its counts are 64-bit: accumulateAbsHistogram counts in float32,
/// exact only to 2^24 per bin, so each batch is binned in slices of at most
/// 2^24 values whose counts are then added here.
class TensorStatistics {
public:
  explicit TensorStatistics(StatisticsOptions options = {});

  /// Adds a row-major rows x cols batch whose channel is the column (the
  /// last dimension). Returns how many of its values are not finite.
  int64_t update(const float *data, int64_t rows, int64_t cols) {
    return update(data, rows, cols, 1);
  }
  /// Adds a row-major outer x channels x inner batch: channel c holds the
  /// values data[(o * channels + c) * inner + i]. A batch may have more
  /// channels than earlier ones (a dynamic channel dimension, such as
  /// attention over a context that grows): the new channels start with it.
  /// Returns how many of its values are not finite.
  int64_t update(const float *data, int64_t outer, int64_t channels,
                 int64_t inner);

  const StatisticsOptions &getOptions() const { return options; }
  /// Values seen, non-finite ones included.
  int64_t getCount() const { return count; }
  int64_t getNonFiniteCount() const { return nonFinite; }
  /// Whether some finite value was seen (otherwise min > max).
  bool hasRange() const { return min <= max; }
  /// The range of the finite values: +inf and -inf before any.
  float getMin() const { return min; }
  float getMax() const { return max; }
  /// max(|min|, |max|); 0 before any finite value.
  float getAbsMax() const;

  /// Channels seen so far (0 without per-channel statistics).
  int64_t getNumChannels() const {
    return static_cast<int64_t>(channelMins.size());
  }
  const std::vector<float> &getChannelMins() const { return channelMins; }
  const std::vector<float> &getChannelMaxs() const { return channelMaxs; }
  float getChannelAbsMax(int64_t channel) const;

  /// Whether a histogram was asked for and holds values.
  bool hasHistogram() const { return options.histogramBins > 0 && hasRange(); }
  /// The histogram of |x|: equal bins over [0, getHistogramMax()].
  const std::vector<int64_t> &getHistogramCounts() const {
    return histogramCounts;
  }
  float getHistogramMax() const { return layout.max; }
  /// The histogram as the range searches read it (float32 counts, which
  /// round beyond 2^24 per bin; the searches only use proportions).
  Histogram getHistogram() const;

private:
  void accumulateHistogram(const float *data, int64_t size, float batchAbsMax);

  StatisticsOptions options;
  int64_t count = 0;
  int64_t nonFinite = 0;
  float min;
  float max;
  std::vector<float> channelMins, channelMaxs;
  /// The bins' edges, as accumulateAbsHistogram grows them; its counts are
  /// zero between batches.
  Histogram layout;
  std::vector<int64_t> histogramCounts;
};

/// A clipping range [lo, hi].
struct ClipRange {
  float lo;
  float hi;
};

/// The clipping range `method` chooses for values observed in [min, max]
/// with `histogram` of their |x| (over [histogram.min = 0,
/// histogram.max]; may be null for MinMax):
///  - MinMax: [min, max];
///  - Percentile, Entropy, MSE: amax from percentileAmax (`percentile`),
///    entropyAmax (128 quantized bins, from bin 128) or mseAmax (from bin
///    128) over the histogram, clipped to the signed observed range,
///    [max(min, -amax), min(max, amax)], as ONNX Runtime clips its
///    thresholds; when all values lie beyond amax on one side (min > amax
///    or max < -amax), that end alone: [amax, amax] or [-amax, -amax],
///    where ONNX Runtime's pair would be inverted (lo > hi). A histogram
///    holding only zeros has no range to search:
///    [min, max] then. Percentile 100 keeps [min, max]: the search reports
///    the lower edge of the bin reaching it, which would clip the top bin.
/// Fails (nullopt, and a message in `error` when given) when min > max or
/// either is not finite (nothing finite observed), when a histogram method
/// has no histogram or one with too few bins for its search (entropy and
/// MSE start at bin 128), or for a percentile outside [0, 100].
std::optional<ClipRange> selectRange(float min, float max,
                                     const Histogram *histogram,
                                     CalibrationMethod method,
                                     double percentile = 99.99,
                                     std::string *error = nullptr);

/// selectRange over collected statistics; also fails when any value seen
/// was not finite (a NaN or infinity must never become a range).
std::optional<ClipRange> selectRange(const TensorStatistics &stats,
                                     CalibrationMethod method,
                                     double percentile = 99.99,
                                     std::string *error = nullptr);

} // namespace quantc

#endif // QUANTC_NUMERICS_CALIBRATION_H
