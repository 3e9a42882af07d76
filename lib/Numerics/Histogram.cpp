//===- Histogram.cpp - value histograms and range searches ----------------===//

#include "quantc/Numerics/Histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace quantc {

std::optional<Histogram> buildHistogram(const float *data, int64_t count,
                                        int64_t bins,
                                        HistogramBinning binning) {
  if (bins < 1)
    return std::nullopt;
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(data[i]))
      continue;
    lo = std::min(lo, data[i]);
    hi = std::max(hi, data[i]);
  }
  if (lo > hi)
    return std::nullopt;
  Histogram histogram;
  histogram.min = lo;
  histogram.max = hi;
  histogram.counts.assign(bins, 0.0f);

  // The edges torch.histc bins over: the range itself, or PyTorch 1.13's
  // truncated one. histc widens a zero-width range by one either side.
  float left = lo, right = hi;
  if (binning == HistogramBinning::PyTorch113) {
    left = std::trunc(lo);
    right = std::trunc(hi);
    if (left == right) {
      left = lo;
      right = hi;
    }
  }
  if (left == right) {
    left -= 1.0f;
    right += 1.0f;
  }
  const float width = right - left;
  for (int64_t i = 0; i < count; ++i) {
    const float x = data[i];
    if (!(x >= left && x <= right))
      continue;
    const auto bin =
        static_cast<int64_t>((x - left) * static_cast<float>(bins) / width);
    histogram.counts[std::min(bin, bins - 1)] += 1.0f;
  }
  return histogram;
}

namespace {

/// Python's floor division of float32s as torch.div(rounding_mode='floor')
/// computes it: through fmod, so that a / b just below an integer does not
/// round up to it.
float floorDivide(float a, float b) {
  const float mod = std::fmod(a, b);
  float quotient = (a - mod) / b;
  if (mod != 0 && (b < 0) != (mod < 0))
    quotient -= 1.0f;
  if (quotient == 0)
    return std::copysign(0.0f, a / b);
  float floored = std::floor(quotient);
  if (quotient - floored > 0.5f)
    floored += 1.0f;
  return floored;
}

/// Integral of x^2 times the density between begin and end.
float normOf(float begin, float end, float density) {
  return density * ((end * end * end - begin * begin * begin) / 3.0f);
}

/// The L2 error of mapping the source bins onto `targetBins` equal bins
/// spanning source bins [startBin, endBin], every source bin's mass spread
/// uniformly over it (PyTorch's _compute_quantization_error).
double quantizationError(const Histogram &histogram, int64_t startBin,
                         int64_t endBin, int64_t targetBins) {
  const int64_t bins = static_cast<int64_t>(histogram.counts.size());
  // Python floats (double) from the float32 range...
  const double binWidth = (static_cast<double>(histogram.max) -
                           static_cast<double>(histogram.min)) /
                          static_cast<double>(bins);
  const double dstWidth = binWidth *
                          static_cast<double>(endBin - startBin + 1) /
                          static_cast<double>(targetBins);
  if (dstWidth == 0.0)
    return 0.0;
  // ...that enter float32 tensor arithmetic rounded to float.
  const float binWidthF = static_cast<float>(binWidth);
  const float dstWidthF = static_cast<float>(dstWidth);
  const float halfDstF = static_cast<float>(dstWidth / 2);
  const float minusHalfDstF = static_cast<float>(-dstWidth / 2);
  const float lastDst = static_cast<float>(targetBins - 1);
  const float wholeBinNorm = (halfDstF * halfDstF * halfDstF -
                              minusHalfDstF * minusHalfDstF * minusHalfDstF) /
                             3.0f;
  double total = 0;
  for (int64_t bin = 0; bin < bins; ++bin) {
    const float srcBegin = static_cast<float>(bin - startBin) * binWidthF;
    const float srcEnd = srcBegin + binWidthF;
    const float dstOfBegin =
        std::clamp(floorDivide(srcBegin, dstWidthF), 0.0f, lastDst);
    const float dstOfEnd =
        std::clamp(floorDivide(srcEnd, dstWidthF), 0.0f, lastDst);
    const float beginCenter = (dstOfBegin + 0.5f) * dstWidthF;
    const float density = histogram.counts[bin] / binWidthF;
    float norm = 0.0f;
    norm += normOf(srcBegin - beginCenter, halfDstF, density);
    norm += (dstOfEnd - dstOfBegin - 1.0f) * (density * wholeBinNorm);
    const float endCenter = dstOfEnd * dstWidthF + halfDstF;
    norm += normOf(minusHalfDstF, srcEnd - endCenter, density);
    total += norm;
  }
  // PyTorch sums in float32; its result is a float.
  return static_cast<float>(total);
}

} // namespace

std::pair<float, float> searchRangeL2(const Histogram &histogram,
                                      int64_t targetBins) {
  const int64_t bins = static_cast<int64_t>(histogram.counts.size());
  std::vector<float> cumulative(bins);
  float sum = 0;
  for (int64_t bin = 0; bin < bins; ++bin)
    cumulative[bin] = sum += histogram.counts[bin];
  const double total = sum;

  const double step = 1e-5;
  double alpha = 0.0, beta = 1.0;
  int64_t startBin = 0, endBin = bins - 1;
  double bestNorm = std::numeric_limits<double>::infinity();
  while (alpha < beta) {
    const double nextAlpha = alpha + step, nextBeta = beta - step;
    // The quantile bounds meet float32 counts in float32, as in PyTorch.
    const float lowMass = static_cast<float>(nextAlpha * total);
    const float highMass = static_cast<float>(nextBeta * total);
    int64_t left = startBin, right = endBin;
    while (left < endBin && cumulative[left] < lowMass)
      ++left;
    while (right > startBin && cumulative[right] > highMass)
      --right;
    int64_t nextStart = startBin, nextEnd = endBin;
    // Trim the side where this quantile step reaches further.
    if (left - startBin > endBin - right) {
      nextStart = left;
      alpha = nextAlpha;
    } else {
      nextEnd = right;
      beta = nextBeta;
    }
    if (nextStart == startBin && nextEnd == endBin)
      continue;
    const double norm =
        quantizationError(histogram, nextStart, nextEnd, targetBins);
    if (norm > bestNorm)
      break;
    bestNorm = norm;
    startBin = nextStart;
    endBin = nextEnd;
  }
  const float width = histogram.binWidth();
  return {histogram.min + width * static_cast<float>(startBin),
          histogram.min + width * static_cast<float>(endBin + 1)};
}

} // namespace quantc
