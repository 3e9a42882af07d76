//===- AWQ.cpp - activation-aware weight quantization (Lin et al.) --------===//
//
// Both searches score candidates with the exact output error through H
// (sum over rows of delta H delta^T, double precision), computed here with
// loops (OutputErrorKernels.h) so that the numerics link without BLAS.
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/AWQ.h"

#include "OutputErrorKernels.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace quantc {

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

/// llm-awq's floor on s before normalisation.
constexpr double kMinScale = 1e-4;

/// s = max(xbar^ratio, 1e-4) / sqrt(max(s) min(s)). A channel the
/// calibration never excited (xbar = 0; NaN and negatives are read as 0)
/// gets pow(0, ratio) = 0 for ratio > 0, clamped to 1e-4: the smallest scale
/// of all, so its weights all but vanish in W diag(s) and quantize to ~0.
/// H has a zero row and column there, so the search cannot see it; this is
/// llm-awq's rule, kept so the scores match it. At ratio 0, pow(0, 0) = 1
/// and every scale is exactly 1.
std::vector<float> scalesForRatio(const float *meanAbs, int64_t cols,
                                  double ratio) {
  std::vector<double> raw(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) {
    double mean = meanAbs[j] > 0.0f ? static_cast<double>(meanAbs[j]) : 0.0;
    raw[j] = std::max(std::pow(mean, ratio), kMinScale);
  }
  auto [lowest, highest] = std::minmax_element(raw.begin(), raw.end());
  double norm = std::sqrt(*lowest * *highest);
  std::vector<float> scales(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j)
    scales[j] = static_cast<float>(raw[j] / norm);
  return scales;
}

/// Per-row output error d_r H d_r^T of one layer whose weight is scaled by
/// `scales` (W diag(s)), rounded to nearest by the target and unscaled; the
/// scaled input the quantized layer will read makes Q(W s) / s its
/// effective weight. Infinity when the target cannot store the weight.
double scaledLayerError(const AWQLayer &layer, int64_t cols,
                        const std::vector<float> &scales, const double *hessian,
                        const detail::PackedOperand<double> &packed) {
  int64_t count = layer.rows * cols;
  std::vector<float> scaled(static_cast<size_t>(count));
  for (int64_t r = 0; r < layer.rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      scaled[r * cols + j] = layer.weights[r * cols + j] * scales[j];
  std::vector<float> quantized(static_cast<size_t>(count));
  if (!fakeQuantize(layer.target, scaled.data(), layer.rows, cols,
                    quantized.data()))
    return kInfinity;
  std::vector<double> delta(static_cast<size_t>(count));
  for (int64_t r = 0; r < layer.rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      delta[r * cols + j] =
          static_cast<double>(layer.weights[r * cols + j]) -
          static_cast<double>(quantized[r * cols + j]) / scales[j];
  std::vector<double> rowErrors(static_cast<size_t>(layer.rows));
  detail::quadraticFormRows(delta.data(), layer.rows, cols, hessian, packed,
                            rowErrors.data());
  double total = 0.0;
  for (double error : rowErrors)
    total += error;
  return total;
}

/// Per-row output error of round-to-nearest `weights` against `reference`;
/// false when the target cannot store them.
bool roundedRowErrors(const WeightTarget &target, const float *weights,
                      const float *reference, int64_t rows, int64_t cols,
                      const double *hessian,
                      const detail::PackedOperand<double> &packed,
                      std::vector<double> &errors) {
  std::vector<float> quantized(static_cast<size_t>(rows * cols));
  if (!fakeQuantize(target, weights, rows, cols, quantized.data()))
    return false;
  std::vector<double> delta(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows * cols; ++i)
    delta[i] = static_cast<double>(reference[i]) - quantized[i];
  errors.assign(static_cast<size_t>(rows), 0.0);
  detail::quadraticFormRows(delta.data(), rows, cols, hessian, packed,
                            errors.data());
  return true;
}

/// d H_gg d^T for a group of `length` columns starting at `first`.
double groupError(const double *delta, int64_t first, int64_t length,
                  const double *hessian, int64_t cols, double *scratch) {
  std::fill(scratch, scratch + length, 0.0);
  for (int64_t i = 0; i < length; ++i) {
    if (delta[i] == 0.0)
      continue;
    const double *h = hessian + (first + i) * cols + first;
    for (int64_t j = 0; j < length; ++j)
      scratch[j] += delta[i] * h[j];
  }
  double sum = 0.0;
  for (int64_t j = 0; j < length; ++j)
    sum += delta[j] * scratch[j];
  return sum;
}

} // namespace

AWQScaleSearch searchAWQScales(const std::vector<AWQLayer> &layers,
                               int64_t cols, const float *meanAbs,
                               const double *hessian,
                               const AWQOptions &options) {
  AWQScaleSearch result;
  if (cols <= 0)
    return result;
  int64_t grid = std::max<int64_t>(options.gridPoints, 1);
  detail::PackedOperand<double> packed = detail::packRows(hessian, cols, cols);
  double bestError = kInfinity;
  int64_t best = 0;
  for (int64_t i = 0; i < grid; ++i) {
    double ratio = static_cast<double>(i) / static_cast<double>(grid);
    std::vector<float> scales = scalesForRatio(meanAbs, cols, ratio);
    double error = 0.0;
    for (const AWQLayer &layer : layers)
      error += scaledLayerError(layer, cols, scales, hessian, packed);
    result.tried.emplace_back(ratio, error);
    // Strictly lower: ties keep the smaller ratio.
    if (error < bestError) {
      bestError = error;
      best = i;
      result.scales = std::move(scales);
    }
  }
  result.bestRatio = result.tried[best].first;
  result.error = result.tried[best].second;
  result.unscaledError = result.tried.front().second;
  if (result.scales.empty()) // No finite error at all: do not scale.
    result.scales.assign(static_cast<size_t>(cols), 1.0f);
  return result;
}

AWQClipResult searchAWQClip(float *weights, int64_t rows, int64_t cols,
                            const WeightTarget &target, const double *hessian,
                            const AWQOptions &options) {
  AWQClipResult result;
  if (rows <= 0 || !target.admits(cols))
    return result;
  std::vector<float> original(weights, weights + rows * cols);
  detail::PackedOperand<double> packed = detail::packRows(hessian, cols, cols);
  std::vector<double> before;
  if (!roundedRowErrors(target, original.data(), original.data(), rows, cols,
                        hessian, packed, before))
    return result;

  int64_t group = target.groupColumns(cols);
  int64_t clipGrid = std::max<int64_t>(options.clipGridPoints, 1);
  // i = 0 (no clipping) is always a candidate; llm-awq truncates
  // max_shrink * n_grid, the epsilon keeps 0.5 * 20 at 10. A shrink past 1
  // would make bounds negative, so it stops at 1.
  double shrink =
      options.maxShrink > 0.0 ? std::min(options.maxShrink, 1.0) : 0.0;
  int64_t candidates = std::clamp<int64_t>(
      static_cast<int64_t>(shrink * clipGrid + 1e-9), 1, clipGrid);
  std::vector<int64_t> clippedPerRow(static_cast<size_t>(rows), 0);

  // Each group is quantized alone, as a 1 x length matrix: integer groups
  // take their parameters from their own min/max (a ragged last group too,
  // since effectiveGroupSize(length) == length), and every block format
  // quantizes its blocks independently when no importance is given, so this
  // is exactly what packing the whole row stores for the group.
  int64_t perRow = std::max<int64_t>(candidates * cols * group, 1);
  detail::parallelChunks(
      rows, std::max<int64_t>((int64_t{1} << 22) / perRow, 1),
      [&](int64_t firstRow, int64_t lastRow) {
        std::vector<float> clamped(static_cast<size_t>(group));
        std::vector<float> rounded(static_cast<size_t>(group));
        std::vector<double> delta(static_cast<size_t>(group));
        std::vector<double> scratch(static_cast<size_t>(group));
        for (int64_t r = firstRow; r < lastRow; ++r) {
          for (int64_t first = 0; first < cols; first += group) {
            int64_t length = std::min(group, cols - first);
            const float *w = original.data() + r * cols + first;
            float amax = 0.0f;
            for (int64_t j = 0; j < length; ++j)
              amax = std::max(amax, std::fabs(w[j]));
            if (amax == 0.0f)
              continue;
            double bestError = kInfinity;
            float bestBound = amax;
            int64_t bestIndex = 0;
            for (int64_t i = 0; i < candidates; ++i) {
              float bound = static_cast<float>(
                  amax * (1.0 - static_cast<double>(i) / clipGrid));
              for (int64_t j = 0; j < length; ++j)
                clamped[j] = std::clamp(w[j], -bound, bound);
              if (!fakeQuantize(target, clamped.data(), 1, length,
                                rounded.data()))
                break;
              // Against the unclipped weights: clipping is an error too.
              for (int64_t j = 0; j < length; ++j)
                delta[j] = static_cast<double>(w[j]) - rounded[j];
              double error = groupError(delta.data(), first, length, hessian,
                                        cols, scratch.data());
              // Strictly lower: ties keep the larger bound.
              if (error < bestError) {
                bestError = error;
                bestBound = bound;
                bestIndex = i;
              }
            }
            if (bestIndex == 0)
              continue;
            float *out = weights + r * cols + first;
            for (int64_t j = 0; j < length; ++j)
              out[j] = std::clamp(w[j], -bestBound, bestBound);
            ++clippedPerRow[r];
          }
        }
      });

  // The groups were scored on their diagonal blocks of H; the cross-group
  // terms can still make a row worse as a whole. Such rows keep their
  // unclipped weights, so errorAfter <= errorBefore row by row.
  std::vector<double> after;
  if (!roundedRowErrors(target, weights, original.data(), rows, cols, hessian,
                        packed, after)) {
    std::copy(original.begin(), original.end(), weights);
    after = before;
    std::fill(clippedPerRow.begin(), clippedPerRow.end(), 0);
  }
  for (int64_t r = 0; r < rows; ++r) {
    if (clippedPerRow[r] > 0 && after[r] > before[r]) {
      std::copy(original.begin() + r * cols, original.begin() + (r + 1) * cols,
                weights + r * cols);
      after[r] = before[r];
      ++result.revertedRows;
      continue;
    }
    result.clippedGroups += clippedPerRow[r];
  }
  for (int64_t r = 0; r < rows; ++r) {
    result.errorBefore += before[r];
    result.errorAfter += after[r];
  }
  return result;
}

} // namespace quantc
