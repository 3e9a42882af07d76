//===- AWQ.h - activation-aware weight quantization (Lin et al.) -*- C++ -*-===//
//
// AWQ protects the weights that meet large activations by scaling input
// channel j of every layer reading an input by s_j before quantization, and
// dividing the input by s_j (folded into the op that produces it):
//   s = xbar^ratio, xbar_j = mean |x_j| over calibration tokens,
//   clamped to >= 1e-4 and normalised by sqrt(max(s) * min(s)),
//   for ratio in {0, 1/grid, ..., (grid-1)/grid} (20 points);
// the ratio kept minimises the summed output error of the layers that share
// the input (the paper's objective, Eq. 4):
//   sum over layers of || Q(W diag(s)) diag(s)^-1 X^T - W X^T ||^2,
// evaluated exactly over every calibration token through H = 2/n X^T X
// (GPTQ.h: layerOutputError), with Q the target's round-to-nearest
// (WeightTarget.h: fakeQuantize), so the search scores what qc-quantize
// will store. Then, per layer, the clipping search: for every row and
// group (the target's groupColumns), the bound
//   amax * (1 - i / clipGrid), i < maxShrink * clipGrid,
// whose clamped-then-quantized group has the least output error
// (delta_g H_gg delta_g^T, H_gg the group's diagonal block of H). The
// clipped weights are what qc-quantize then rounds to nearest. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_AWQ_H
#define QUANTC_NUMERICS_AWQ_H

#include "quantc/Numerics/WeightTarget.h"

#include <cstdint>
#include <vector>

namespace quantc {

struct AWQOptions {
  /// Ratios tried: {0, 1/gridPoints, ..., (gridPoints-1)/gridPoints}.
  int64_t gridPoints = 20;
  /// Shrink bounds tried by the clipping search: amax * (1 - i/clipGrid),
  /// i = 0 .. maxShrink * clipGrid - 1.
  int64_t clipGridPoints = 20;
  double maxShrink = 0.5;
};

/// One layer reading the shared input: a row-major rows x cols weight and
/// what it will be quantized to.
struct AWQLayer {
  const float *weights = nullptr;
  int64_t rows = 0;
  WeightTarget target;
};

struct AWQScaleSearch {
  /// s_j per input channel (all 1 when ratio 0 wins).
  std::vector<float> scales;
  double bestRatio = 0.0;
  /// Summed output error (2/n ||.||^2 units) with the kept scales, and
  /// with no scaling (ratio 0).
  double error = 0.0;
  double unscaledError = 0.0;
  /// (ratio, error) for every grid point, in order.
  std::vector<std::pair<double, double>> tried;
};

/// The scale search for layers sharing one input of `cols` channels.
/// `meanAbs` is mean |x_j| (cols), `hessian` H = 2/n X^T X (cols x cols).
/// Every layer's target must admit `cols`.
AWQScaleSearch searchAWQScales(const std::vector<AWQLayer> &layers,
                               int64_t cols, const float *meanAbs,
                               const double *hessian,
                               const AWQOptions &options);

struct AWQClipResult {
  /// Output error of round-to-nearest before and after clipping.
  double errorBefore = 0.0;
  double errorAfter = 0.0;
  /// Groups whose bound was shrunk.
  int64_t clippedGroups = 0;
  /// Rows left unclipped because their per-group choices, each scored on
  /// its diagonal block of H, raised the row's full output error.
  int64_t revertedRows = 0;
};

/// The clipping search on one (already scaled) row-major rows x cols
/// weight, clamping `weights` in place to each group's best bound.
AWQClipResult searchAWQClip(float *weights, int64_t rows, int64_t cols,
                            const WeightTarget &target, const double *hessian,
                            const AWQOptions &options);

} // namespace quantc

#endif // QUANTC_NUMERICS_AWQ_H
