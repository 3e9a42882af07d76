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

/// Equal-width bins over [min, max]; counts are float32 as in PyTorch, exact
/// up to 2^24 values per bin.
struct Histogram {
  float min = 0;
  float max = 0;
  std::vector<float> counts;

  float binWidth() const {
    return (max - min) / static_cast<float>(counts.size());
  }
};

/// Histogram of the finite values of `data` over their own [min, max],
/// binned as torch.histc does (bin = trunc((x - min) * bins / (max - min)),
/// the top edge in the last bin). Non-finite values are skipped. Returns
/// nullopt when `bins` < 1 or no value is finite.
std::optional<Histogram> buildHistogram(const float *data, int64_t count,
                                        int64_t bins);

/// PyTorch HistogramObserver's clipping-range search: trims the tail whose
/// quantile step moves more bins, 1e-5 of the mass at a time, while the
/// estimated L2 error of quantizing onto `targetBins` levels keeps falling.
/// Returns the chosen [min, max] (float32, PyTorch's arithmetic).
std::pair<float, float> searchRangeL2(const Histogram &histogram,
                                      int64_t targetBins);

} // namespace quantc

#endif // QUANTC_NUMERICS_HISTOGRAM_H
