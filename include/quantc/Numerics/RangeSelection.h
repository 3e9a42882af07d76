//===- RangeSelection.h - calibration amax from |x| histograms --*- C++ -*-===//
//
// The symmetric clipping-range (amax) searches of TensorRT's calibrators as
// NVIDIA ModelOpt reimplements them (calib/histogram.py): percentile, KL
// divergence ("entropy") and MSE, over a histogram of absolute values that
// keeps growing as calibration batches arrive. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_RANGESELECTION_H
#define QUANTC_NUMERICS_RANGESELECTION_H

#include "quantc/Numerics/Histogram.h"

#include <cstdint>
#include <optional>

namespace quantc {

/// The bin count ModelOpt and TensorRT calibrate over.
constexpr int64_t kCalibrationBins = 2048;
/// The most bins a growing histogram keeps (4 MiB of counts).
constexpr int64_t kMaxCalibrationBins = int64_t(1) << 20;

/// Adds |x| for the finite values of `data` to `histogram`, which bins
/// [0, max] (`min` stays 0). An empty histogram (no counts) starts with
/// `bins` bins over [0, max|x|]; later batches bin over the existing edges,
/// appending bins of the existing width until max|x| is covered, as
/// ModelOpt's collector does. Values are binned as torch.histc does
/// (bin = trunc(x * bins / max), the top edge in the last bin).
///
/// Differences from ModelOpt: the top edge is exactly bins * width (its
/// arange may add one bin past the data that histc then spreads over), and
/// while only zeros have been seen the range stays [0, 0] with the zeros in
/// bin 0, the first positive batch then setting the range (ModelOpt's zero
/// bin width would make the growth divide by zero), and growth is capped at
/// kMaxCalibrationBins: past it, adjacent bins merge by a whole factor
/// first (ModelOpt's memory grows with the ratio of the largest to the first
/// max, without bound). `bins` < 1 leaves the histogram unchanged.
void accumulateAbsHistogram(Histogram &histogram, const float *data,
                            int64_t count, int64_t bins = kCalibrationBins);

// The searches below all read `histogram` as bins over [min, max] with edge
// k at min + (max - min) * k / bins, and return nullopt when it holds no
// counts or its range is empty (only zeros observed): there is no range to
// choose then, and a caller falls back to its own default.

/// ModelOpt's percentile: the lower edge of the first bin where the
/// cumulative fraction (float64, summed bin by bin) reaches percentile/100.
/// Note it is a lower edge, so a percentile met within the last occupied
/// bin clips that bin. Returns nullopt also when `percentile` is outside
/// [0, 100]. ONNX Runtime's symmetric percentile (default 99.999) is this
/// same search; it differs only around it, in binning the first batch over
/// [min|x|, max|x|] rather than [0, max|x|] and in clipping the threshold
/// pair to the observed signed min and max, which callers apply themselves.
std::optional<float> percentileAmax(const Histogram &histogram,
                                    double percentile = 99.99);

/// TensorRT's KL-divergence calibration as ModelOpt implements it: for each
/// candidate end bin i = startBin, startBin + stride, ... <= bins, compare P
/// (bins [0, i) with the mass beyond folded into bin i - 1) against Q (those
/// bins merged into `numQuantBins` groups, bin j in group j * numQuantBins
/// / i, each group's mass spread evenly over its non-empty bins), both
/// normalized, and return edge i of the smallest KL(P || Q), ties going to
/// the largest i. Bin 0 is first replaced by bin 1, so that a spike of
/// exact zeros does not dominate. 128 quantized bins suit int8.
///
/// Differences from ModelOpt: group boundaries are exact rationals (numpy's
/// linspace agrees whenever numQuantBins is a power of two); a candidate
/// keeping no mass scores +inf where ModelOpt's NaN would win; and when all
/// mass lies in bin 0 (so none is left after the replacement) this returns
/// the last candidate's edge, which is what ModelOpt's all-NaN argmin
/// picks. Returns nullopt also for fewer than 2 or fewer than `startBin`
/// bins (ModelOpt fails there) and for non-positive parameters.
std::optional<float> entropyAmax(const Histogram &histogram,
                                 int64_t numQuantBins = 128,
                                 int64_t startBin = 128, int64_t stride = 1);

/// ModelOpt's MSE calibration for int8: over candidate bin centres c_i,
/// i = startBin, startBin + stride, ... < bins, the one minimizing
/// sum_k count_k * (fakeQuant(c_k, c_i) - c_k)^2, ties going to the smallest.
/// fakeQuant is ModelOpt's symmetric narrow-range int8 fake quantization in
/// float32: round-half-even of x * (127 / amax) clamped to [-127, 127],
/// divided back by the scale, and 0 when amax <= 2^-24. The error sums in
/// double where ModelOpt averages in float32, which can only move exact
/// near-ties. Returns nullopt also when there is no candidate (bins <=
/// startBin, where ModelOpt fails), a negative `startBin` or a non-positive
/// `stride`.
std::optional<float> mseAmax(const Histogram &histogram, int64_t startBin = 128,
                             int64_t stride = 1);

} // namespace quantc

#endif // QUANTC_NUMERICS_RANGESELECTION_H
