//===- Affine.cpp - integer affine quantization ---------------------------===//

#include "quantc/Numerics/Affine.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace quantc {

IntRange storageRange(const AffineScheme &scheme) {
  assert(scheme.bits >= 2 && scheme.bits <= 8 && "storage of 2..8 bits");
  unsigned bits = scheme.reduceRange ? scheme.bits - 1 : scheme.bits;
  if (!scheme.isSigned)
    return {0, (1 << bits) - 1};
  int32_t max = (1 << (bits - 1)) - 1;
  return {scheme.narrowRange ? -max : -max - 1, max};
}

std::optional<AffineParams> computeAffineParams(float min, float max,
                                                const AffineScheme &scheme) {
  if (!std::isfinite(min) || !std::isfinite(max) || min > max)
    return std::nullopt;
  IntRange range = storageRange(scheme);
  // Every step below is float32, in PyTorch's order, so scales agree to the
  // bit.
  float minNeg = std::min(min, 0.0f);
  float maxPos = std::max(max, 0.0f);
  auto steps = static_cast<float>(range.max - range.min);
  if (scheme.symmetric) {
    float absMax = std::max(-minNeg, maxPos);
    float scale = std::max(absMax / (steps / 2.0f), kMinScale);
    int32_t zeroPoint = scheme.isSigned ? 0 : (range.min + range.max + 1) / 2;
    return AffineParams{scale, zeroPoint};
  }
  float scale = std::max((maxPos - minNeg) / steps, kMinScale);
  auto zeroPoint =
      range.min - static_cast<int32_t>(std::nearbyint(minNeg / scale));
  return AffineParams{scale, std::clamp(zeroPoint, range.min, range.max)};
}

int32_t quantizeAffineWithInverse(float x, float inverseScale,
                                  int32_t zeroPoint, IntRange range) {
  float scaled = std::nearbyint(x * inverseScale);
  if (std::isnan(scaled))
    return std::clamp(zeroPoint, range.min, range.max);
  // Clamp in float first: huge |x| must not overflow the integer conversion.
  float lo = static_cast<float>(range.min - zeroPoint);
  float hi = static_cast<float>(range.max - zeroPoint);
  scaled = std::clamp(scaled, lo, hi);
  return zeroPoint + static_cast<int32_t>(scaled);
}

std::optional<std::pair<float, float>> finiteMinMax(const float *data,
                                                    int64_t count) {
  if (count <= 0)
    return std::nullopt;
  float min = data[0], max = data[0];
  bool finite = true;
  for (int64_t i = 0; i < count; ++i) {
    finite &= std::isfinite(data[i]);
    min = std::min(min, data[i]);
    max = std::max(max, data[i]);
  }
  if (!finite)
    return std::nullopt;
  return std::make_pair(min, max);
}

namespace {
int64_t effectiveGroup(int64_t cols, int64_t groupSize) {
  return groupSize <= 0 || groupSize >= cols ? cols : groupSize;
}
} // namespace

std::optional<std::vector<AffineParams>>
computeGroupParams(const float *data, int64_t rows, int64_t cols,
                   int64_t groupSize, const AffineScheme &scheme) {
  int64_t group = effectiveGroup(cols, groupSize);
  int64_t groupsPerRow = (cols + group - 1) / group;
  std::vector<AffineParams> params;
  params.reserve(rows * groupsPerRow);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t start = 0; start < cols; start += group) {
      int64_t length = std::min(group, cols - start);
      auto range = finiteMinMax(data + r * cols + start, length);
      if (!range)
        return std::nullopt;
      auto p = computeAffineParams(range->first, range->second, scheme);
      if (!p)
        return std::nullopt;
      params.push_back(*p);
    }
  }
  return params;
}

void quantizeGroups(const float *data, int64_t rows, int64_t cols,
                    int64_t groupSize, const std::vector<AffineParams> &params,
                    const AffineScheme &scheme, uint8_t *codes) {
  int64_t group = effectiveGroup(cols, groupSize);
  int64_t groupsPerRow = (cols + group - 1) / group;
  assert(static_cast<int64_t>(params.size()) == rows * groupsPerRow);
  IntRange range = storageRange(scheme);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t start = 0; start < cols; start += group) {
      const AffineParams &p = params[r * groupsPerRow + start / group];
      float inverseScale = 1.0f / p.scale;
      for (int64_t c = start, end = std::min(cols, start + group); c < end; ++c)
        codes[r * cols + c] = static_cast<uint8_t>(quantizeAffineWithInverse(
            data[r * cols + c], inverseScale, p.zeroPoint, range));
    }
}

void dequantizeGroups(const uint8_t *codes, int64_t rows, int64_t cols,
                      int64_t groupSize,
                      const std::vector<AffineParams> &params,
                      const AffineScheme &scheme, float *out) {
  int64_t group = effectiveGroup(cols, groupSize);
  int64_t groupsPerRow = (cols + group - 1) / group;
  assert(static_cast<int64_t>(params.size()) == rows * groupsPerRow);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      uint8_t code = codes[r * cols + c];
      int32_t q = scheme.isSigned ? static_cast<int8_t>(code) : code;
      out[r * cols + c] =
          dequantizeAffine(q, params[r * groupsPerRow + c / group]);
    }
}

} // namespace quantc
