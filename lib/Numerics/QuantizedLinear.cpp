//===- QuantizedLinear.cpp - quantized y = x W^T, the reference -----------===//

#include "quantc/Numerics/QuantizedLinear.h"

#include "quantc/Numerics/FP8.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

namespace quantc {

float dynamicInt8Scale(float absMax) {
  return std::max(absMax / 127.0f, kMinScale);
}

void quantizeActivationsDynamic(const float *x, int64_t rows, int64_t cols,
                                bool perToken, int8_t *codes, float *scales) {
  auto absMaxOf = [](const float *data, int64_t count) {
    float absMax = 0.0f;
    for (int64_t i = 0; i < count; ++i)
      absMax = std::max(absMax, std::fabs(data[i]));
    return absMax;
  };
  auto quantizeRows = [&](const float *data, int64_t count, float scale,
                          int8_t *out) {
    float inverse = 1.0f / scale;
    for (int64_t i = 0; i < count; ++i)
      out[i] = static_cast<int8_t>(
          quantizeAffineWithInverse(data[i], inverse, 0, kDynamicInt8Range));
  };
  if (!perToken) {
    scales[0] = dynamicInt8Scale(absMaxOf(x, rows * cols));
    quantizeRows(x, rows * cols, scales[0], codes);
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    scales[r] = dynamicInt8Scale(absMaxOf(x + r * cols, cols));
    quantizeRows(x + r * cols, cols, scales[r], codes + r * cols);
  }
}

void referenceInt8Linear(const int8_t *xq, const float *xScales,
                         bool perTokenScales, int32_t xZeroPoint, int64_t rows,
                         int64_t depth, const int8_t *wq, const float *wScales,
                         int64_t outputs, float *y) {
  for (int64_t m = 0; m < rows; ++m) {
    float xScale = xScales[perTokenScales ? m : 0];
    for (int64_t n = 0; n < outputs; ++n) {
      int32_t acc = 0;
      int32_t weightSum = 0;
      for (int64_t k = 0; k < depth; ++k) {
        acc += static_cast<int32_t>(xq[m * depth + k]) * wq[n * depth + k];
        weightSum += wq[n * depth + k];
      }
      acc -= xZeroPoint * weightSum;
      y[m * outputs + n] = static_cast<float>(acc) * (xScale * wScales[n]);
    }
  }
}

void unpackInt8RowWeights(const uint8_t *blob, int64_t rows, int64_t cols,
                          std::vector<int8_t> &codes,
                          std::vector<float> &scales) {
  GroupedFormat format{8, true, 0};
  GroupedLayout layout = groupedLayout(format, rows, cols);
  codes.resize(static_cast<size_t>(rows * cols));
  scales.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(codes.data() + r * cols,
                blob + layout.codesOffset + r * layout.codeRowBytes,
                static_cast<size_t>(cols));
  std::memcpy(scales.data(), blob + layout.scalesOffset,
              static_cast<size_t>(rows) * sizeof(float));
}

float fp8E4M3Scale(float absMax) {
  if (!(absMax > 0.0f) || !std::isfinite(absMax))
    return 1.0f;
  return absMax / fp8MaxFinite(FP8Kind::E4M3FN);
}

void quantizeFP8E4M3(const float *x, int64_t count, float scale,
                     uint8_t *codes) {
  float inverse = 1.0f / scale;
  for (int64_t i = 0; i < count; ++i)
    codes[i] =
        fp32ToFP8(x[i] * inverse, FP8Kind::E4M3FN, FP8Overflow::Saturate);
}

} // namespace quantc
