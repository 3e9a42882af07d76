//===- Histogram.h - value histograms and range searches --------*- C++ -*-===//
//
// Histograms of observed values and the searches that pick a clipping range
// from them. The L2 search reproduces PyTorch's HistogramObserver (1.13)
// operation for operation in float32, so that its scale and zero point come
// out the same as PyTorch's. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_HISTOGRAM_H
#define QUANTC_NUMERICS_HISTOGRAM_H

#include <cstdint>
#include <optional>
#include <vector>

namespace quantc {

/// Equal-width bins nominally over [min, max]; counts are float32 as in
/// PyTorch, exact up to 2^24 values per bin.
struct Histogram {
  float min = 0;
  float max = 0;
  std::vector<float> counts;

  float binWidth() const {
    return (max - min) / static_cast<float>(counts.size());
  }
};

/// Where the bins of buildHistogram lie.
enum class HistogramBinning {
  /// Over the values' own [min, max]: what the range search assumes.
  DataRange,
  /// PyTorch 1.13's HistogramObserver: torch.histc over [trunc(min),
  /// trunc(max)] (its `int()` cast, pytorch/pytorch#83672), falling back to
  /// [min, max] when both truncate alike, while the search still reads the
  /// bins as spanning [min, max]. Values outside the truncated range are
  /// dropped. Only for reproducing PyTorch's qparams.
  PyTorch113,
};

/// Histogram of the finite values of `data`, binned as torch.histc does
/// (bin = trunc((x - lo) * bins / (hi - lo)), the top edge in the last bin),
/// with `min`/`max` the values' own range. Non-finite values are skipped.
/// Returns nullopt when `bins` < 1 or no value is finite.
std::optional<Histogram>
buildHistogram(const float *data, int64_t count, int64_t bins,
               HistogramBinning binning = HistogramBinning::DataRange);

/// PyTorch HistogramObserver's clipping-range search: trims the tail whose
/// quantile step moves more bins, 1e-5 of the mass at a time, while the
/// estimated L2 error of quantizing onto `targetBins` levels keeps falling.
/// Returns the chosen [min, max] (float32, PyTorch's arithmetic).
std::pair<float, float> searchRangeL2(const Histogram &histogram,
                                      int64_t targetBins);

} // namespace quantc

#endif // QUANTC_NUMERICS_HISTOGRAM_H
