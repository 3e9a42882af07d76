//===- SmoothQuant.cpp - migrating activation outliers into weights -------===//
//
// The alpha search scores each candidate by running the layers the way the
// compiled code will: the same activation and weight quantizers
// (QuantizedLinear.h, packGrouped), the int8 products exact and their
// epilogue float(acc) * (xScale * wScale) as referenceInt8Linear computes
// it, against y = X W^T of the unsmoothed float operands in double.
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/SmoothQuant.h"

#include "quantc/Numerics/Affine.h"
#include "quantc/Numerics/FP8.h"
#include "quantc/Numerics/GroupedAffine.h"
#include "quantc/Numerics/QuantizedLinear.h"

#include "OutputErrorKernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace quantc {

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

/// smooth.py's floors on max|W_j| and on s.
constexpr double kMinWeightMax = 1e-5;
constexpr double kMinSmoothScale = 1e-5;

/// y = X W^T (tokens x rows) in double, from the unsmoothed float operands:
/// float products are exact in double, so this is the error's fixed target.
std::vector<double> referenceOutputs(const float *x, int64_t tokens,
                                     int64_t cols, const SmoothedLayer &layer) {
  std::vector<double> y(static_cast<size_t>(tokens * layer.rows));
  detail::forEachProductTile(
      x, tokens, detail::packTransposed(layer.weights, layer.rows, cols),
      [&](int64_t t, int64_t n0, int64_t count, const double *c) {
        std::copy(c, c + count, y.begin() + t * layer.rows + n0);
      });
  return y;
}

/// The quantized activations: values to multiply (int8 codes, or decoded
/// E4M3), one scale per token or for the tensor, and the zero point.
struct QuantizedActivations {
  std::vector<float> values;
  std::vector<float> scales;
  bool perToken = false;
  int32_t zeroPoint = 0;
};

bool quantizeActivations(const float *x, int64_t tokens, int64_t cols,
                         SmoothedActivations mode, QuantizedActivations &out) {
  int64_t count = tokens * cols;
  out.values.resize(static_cast<size_t>(count));
  switch (mode) {
  case SmoothedActivations::DynamicPerToken: {
    std::vector<int8_t> codes(static_cast<size_t>(count));
    out.scales.resize(static_cast<size_t>(tokens));
    out.perToken = true;
    quantizeActivationsDynamic(x, tokens, cols, /*perToken=*/true, codes.data(),
                               out.scales.data());
    std::copy(codes.begin(), codes.end(), out.values.begin());
    return true;
  }
  case SmoothedActivations::StaticPerTensor: {
    // qc-quantize's planActivations: signed 8-bit affine from the range.
    std::optional<std::pair<float, float>> range = finiteMinMax(x, count);
    if (!range)
      return false;
    AffineScheme scheme;
    scheme.bits = 8;
    scheme.isSigned = true;
    scheme.symmetric = false;
    std::optional<AffineParams> params =
        computeAffineParams(range->first, range->second, scheme);
    if (!params)
      return false;
    IntRange storage = storageRange(scheme);
    float inverse = 1.0f / params->scale;
    for (int64_t i = 0; i < count; ++i)
      out.values[i] = static_cast<float>(
          quantizeAffineWithInverse(x[i], inverse, params->zeroPoint, storage));
    out.scales.assign(1, params->scale);
    out.zeroPoint = params->zeroPoint;
    return true;
  }
  case SmoothedActivations::FP8PerTensor: {
    float absMax = 0.0f;
    for (int64_t i = 0; i < count; ++i)
      absMax = std::max(absMax, std::fabs(x[i]));
    float scale = fp8E4M3Scale(absMax);
    std::vector<uint8_t> codes(static_cast<size_t>(count));
    quantizeFP8E4M3(x, count, scale, codes.data());
    fp8ToFp32Row(codes.data(), out.values.data(), count, FP8Kind::E4M3FN);
    out.scales.assign(1, scale);
    return true;
  }
  }
  return false;
}

/// sum over tokens and rows of (y_q - y)^2 for one layer whose weight
/// columns are multiplied by `scales`, reading the quantized activations.
double layerError(const QuantizedActivations &activations, int64_t tokens,
                  int64_t cols, const SmoothedLayer &layer, const float *scales,
                  SmoothedActivations mode,
                  const std::vector<double> &reference) {
  int64_t rows = layer.rows;
  int64_t count = rows * cols;
  std::vector<float> smoothed(static_cast<size_t>(count));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      smoothed[r * cols + j] = layer.weights[r * cols + j] * scales[j];

  // Weight values to multiply, their scales,
  // and the code sums the activation zero point is corrected with.
  std::vector<float> values(static_cast<size_t>(count));
  std::vector<float> weightScales;
  std::vector<double> codeSums(static_cast<size_t>(rows), 0.0);
  if (mode == SmoothedActivations::FP8PerTensor) {
    float absMax = 0.0f;
    for (float w : smoothed)
      absMax = std::max(absMax, std::fabs(w));
    float scale = fp8E4M3Scale(absMax);
    std::vector<uint8_t> codes(static_cast<size_t>(count));
    quantizeFP8E4M3(smoothed.data(), count, scale, codes.data());
    fp8ToFp32Row(codes.data(), values.data(), count, FP8Kind::E4M3FN);
    weightScales.assign(1, scale);
  } else {
    // si8: per-row symmetric, max|row| / 127, narrow range, as qc-quantize
    // packs w8a8 weights.
    GroupedFormat format{8, true, 0};
    std::vector<uint8_t> blob(groupedLayout(format, rows, cols).totalBytes);
    if (!packGrouped(smoothed.data(), rows, cols, format, blob.data()))
      return kInfinity;
    std::vector<int8_t> codes;
    unpackInt8RowWeights(blob.data(), rows, cols, codes, weightScales);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j) {
        values[r * cols + j] = codes[r * cols + j];
        codeSums[r] += codes[r * cols + j];
      }
  }

  bool fp8 = mode == SmoothedActivations::FP8PerTensor;
  double zeroPoint = activations.zeroPoint;
  std::vector<double> perToken(static_cast<size_t>(tokens), 0.0);
  detail::forEachProductTile(
      activations.values.data(), tokens,
      detail::packTransposed(values.data(), rows, cols),
      [&](int64_t t, int64_t n0, int64_t length, const double *c) {
        float xScale = activations.scales[activations.perToken ? t : 0];
        const double *y = reference.data() + t * rows + n0;
        double sum = 0.0;
        for (int64_t j = 0; j < length; ++j) {
          int64_t n = n0 + j;
          // Integer products are exact in double, so float(acc) is what
          // referenceInt8Linear's int32 accumulator converts to.
          float scale = xScale * weightScales[fp8 ? 0 : n];
          double acc = fp8 ? c[j] : c[j] - zeroPoint * codeSums[n];
          float out = static_cast<float>(acc) * scale;
          double diff = static_cast<double>(out) - y[j];
          sum += diff * diff;
        }
        perToken[t] += sum;
      });
  double total = 0.0;
  for (double error : perToken)
    total += error;
  return total;
}

double errorAgainst(const float *x, int64_t tokens, int64_t cols,
                    const std::vector<SmoothedLayer> &layers,
                    const float *scales, SmoothedActivations mode,
                    const std::vector<std::vector<double>> &references) {
  std::vector<float> smoothed(static_cast<size_t>(tokens * cols));
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < cols; ++j)
      smoothed[t * cols + j] = x[t * cols + j] / scales[j];
  QuantizedActivations activations;
  if (!quantizeActivations(smoothed.data(), tokens, cols, mode, activations))
    return kInfinity;
  double total = 0.0;
  for (size_t i = 0; i < layers.size(); ++i)
    total += layerError(activations, tokens, cols, layers[i], scales, mode,
                        references[i]);
  return total;
}

std::vector<std::vector<double>>
referencesOf(const float *x, int64_t tokens, int64_t cols,
             const std::vector<SmoothedLayer> &layers) {
  std::vector<std::vector<double>> references;
  references.reserve(layers.size());
  for (const SmoothedLayer &layer : layers)
    references.push_back(referenceOutputs(x, tokens, cols, layer));
  return references;
}

} // namespace

void accumulateColumnAbsMax(const float *weights, int64_t rows, int64_t cols,
                            float *out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      out[j] = std::max(out[j], std::fabs(weights[r * cols + j]));
}

std::vector<float> smoothQuantScales(const float *activationAbsMax,
                                     const float *weightAbsMax, int64_t cols,
                                     double alpha) {
  std::vector<float> scales(static_cast<size_t>(std::max<int64_t>(cols, 0)));
  for (int64_t j = 0; j < cols; ++j) {
    double activation = activationAbsMax[j];
    // Never excited (or NaN): s = 1 leaves the folded norm weight alone.
    if (!(activation > 0.0)) {
      scales[j] = 1.0f;
      continue;
    }
    double weight = weightAbsMax[j];
    if (!(weight >= kMinWeightMax))
      weight = kMinWeightMax;
    double scale = std::pow(activation, alpha) / std::pow(weight, 1.0 - alpha);
    scales[j] = static_cast<float>(std::max(scale, kMinSmoothScale));
  }
  return scales;
}

double smoothedOutputError(const float *x, int64_t tokens, int64_t cols,
                           const std::vector<SmoothedLayer> &layers,
                           const float *scales, SmoothedActivations mode) {
  if (tokens <= 0 || cols <= 0)
    return 0.0;
  return errorAgainst(x, tokens, cols, layers, scales, mode,
                      referencesOf(x, tokens, cols, layers));
}

SmoothQuantAlphaSearch
searchSmoothQuantAlpha(const float *x, int64_t tokens, int64_t cols,
                       const std::vector<SmoothedLayer> &layers,
                       const float *activationAbsMax, SmoothedActivations mode,
                       double step) {
  SmoothQuantAlphaSearch result;
  if (cols <= 0)
    return result;
  std::vector<float> weightAbsMax(static_cast<size_t>(cols), 0.0f);
  for (const SmoothedLayer &layer : layers)
    accumulateColumnAbsMax(layer.weights, layer.rows, cols,
                           weightAbsMax.data());
  std::vector<std::vector<double>> references =
      referencesOf(x, tokens, cols, layers);

  std::vector<float> ones(static_cast<size_t>(cols), 1.0f);
  result.unsmoothedError =
      errorAgainst(x, tokens, cols, layers, ones.data(), mode, references);

  // Integer steps, the last one exactly 1 (0.05 * 20 is not): i / steps
  // when the step divides 1 (0.15, not 3 * 0.05), else i * step then 1.
  if (!(step > 0.0) || step > 1.0)
    step = 1.0;
  double perUnit = 1.0 / step;
  int64_t steps = static_cast<int64_t>(std::ceil(perUnit - 1e-9));
  bool divides = std::fabs(perUnit - std::round(perUnit)) < 1e-9;
  double bestError = kInfinity;
  int64_t best = 0;
  for (int64_t i = 0; i <= steps; ++i) {
    double alpha = i == steps ? 1.0
                   : divides  ? static_cast<double>(i) / steps
                              : std::min(i * step, 1.0);
    std::vector<float> scales =
        smoothQuantScales(activationAbsMax, weightAbsMax.data(), cols, alpha);
    double error =
        errorAgainst(x, tokens, cols, layers, scales.data(), mode, references);
    result.tried.emplace_back(alpha, error);
    // Strictly lower: ties keep the smaller alpha.
    if (error < bestError) {
      bestError = error;
      best = i;
      result.scales = std::move(scales);
    }
  }
  result.alpha = result.tried[best].first;
  result.error = result.tried[best].second;
  if (result.scales.empty()) // No finite error at all.
    result.scales = smoothQuantScales(activationAbsMax, weightAbsMax.data(),
                                      cols, result.alpha);
  return result;
}

} // namespace quantc
