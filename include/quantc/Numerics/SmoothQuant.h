//===- SmoothQuant.h - migrating activation outliers into weights -*- C++ -*-===//
//
// SmoothQuant (Xiao et al.) divides input channel j of the activations by
//   s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)
// and multiplies column j of every weight reading them by s_j: the product is
// unchanged in exact arithmetic, but the activations' outlier channels
// shrink, so per-tensor int8 activations lose less. max|W_j| is the column's
// largest magnitude over all the layers sharing the input (q/k/v, gate/up),
// clamped to >= 1e-5, and s is clamped to >= 1e-5 (smooth.py). A channel the
// calibration never excited (max|X_j| = 0) keeps s_j = 1 rather than
// smooth.py's 1e-5, which would multiply the folded norm weight by 1e5.
//
// The automatic alpha: for alpha in {0, step, ..., 1}, the layers' quantized
// output error on sampled tokens X,
//   sum over layers of || Qa(X diag(s)^-1) Qw(diag(s) W^T) - X W^T ||^2,
// with the scheme's activation quantization Qa and per-row symmetric int8
// weights Qw (qc-quantize's si8, QuantizedLinear.h), is minimised. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_SMOOTHQUANT_H
#define QUANTC_NUMERICS_SMOOTHQUANT_H

#include <cstdint>
#include <vector>

namespace quantc {

/// How the smoothed activations will be quantized (the scheme's).
enum class SmoothedActivations : uint8_t {
  /// Symmetric int8, one scale per token at run time (w8a8).
  DynamicPerToken,
  /// Affine int8, one min/max range for the tensor (w8a8-static; the
  /// range is the samples' min/max after smoothing).
  StaticPerTensor,
  /// E4M3 with one scale, amax / 448 (fp8; weights E4M3 per tensor too).
  FP8PerTensor,
};

/// out_j = max(out_j, max_r |W[r, j]|) for a row-major rows x cols weight.
void accumulateColumnAbsMax(const float *weights, int64_t rows, int64_t cols,
                            float *out);

/// s_j as above, from max|X_j| and the combined max|W_j| (`cols` each).
std::vector<float> smoothQuantScales(const float *activationAbsMax,
                                     const float *weightAbsMax, int64_t cols,
                                     double alpha);

/// One layer reading the smoothed input: row-major rows x cols.
struct SmoothedLayer {
  const float *weights = nullptr;
  int64_t rows = 0;
};

/// The summed squared output error of the quantized layers on `tokens`
/// sample rows `x` (row-major tokens x cols) when the input is smoothed by
/// `scales` (all ones: no smoothing).
double smoothedOutputError(const float *x, int64_t tokens, int64_t cols,
                           const std::vector<SmoothedLayer> &layers,
                           const float *scales, SmoothedActivations mode);

struct SmoothQuantAlphaSearch {
  double alpha = 0.5;
  std::vector<float> scales;
  double error = 0.0;
  /// The error without smoothing.
  double unsmoothedError = 0.0;
  /// (alpha, error) for every grid point, in order.
  std::vector<std::pair<double, double>> tried;
};

/// Searches alpha over {0, step, 2 step, ..., 1}.
SmoothQuantAlphaSearch
searchSmoothQuantAlpha(const float *x, int64_t tokens, int64_t cols,
                       const std::vector<SmoothedLayer> &layers,
                       const float *activationAbsMax,
                       SmoothedActivations mode, double step = 0.05);

} // namespace quantc

#endif // QUANTC_NUMERICS_SMOOTHQUANT_H
