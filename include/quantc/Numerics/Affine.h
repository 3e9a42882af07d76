//===- Affine.h - integer affine quantization -----------------*- C++ -*-===//
//
// 2..8-bit affine quantization with the exact parameter math of PyTorch's
// MinMaxObserver/PerChannelMinMaxObserver (float32 arithmetic, eps floor,
// zero included in the range, round-half-even zero points), so quantc's
// numbers can be checked against theirs; and the quantize/dequantize maps
// that compiled integer code must agree with bit for bit.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_AFFINE_H
#define QUANTC_NUMERICS_AFFINE_H

#include <cstdint>
#include <optional>
#include <vector>

namespace quantc {

/// How an integer grid is laid out.
struct AffineScheme {
  unsigned bits = 8; // 2..8
  bool isSigned = true;
  /// Zero point fixed at the grid's centre, range +-max|x|.
  bool symmetric = false;
  /// PyTorch's reduce_range: one bit less of range (for VNNI overflow).
  bool reduceRange = false;
  /// Signed grids drop their most negative code ([-127, 127] for 8 bits).
  bool narrowRange = false;
};

/// Inclusive storage range of a scheme.
struct IntRange {
  int32_t min;
  int32_t max;
};
IntRange storageRange(const AffineScheme &scheme);

/// x ~ (q - zeroPoint) * scale.
struct AffineParams {
  float scale;
  int32_t zeroPoint;
};

/// The smallest scale PyTorch allows (float32 machine epsilon, 2^-23).
constexpr float kMinScale = 0x1p-23f;

/// Parameters for values observed in [min, max], as PyTorch computes them:
/// the range is widened to include 0; symmetric grids use
/// scale = max|x| / ((qmax - qmin) / 2) (127.5 for int8, not 127) with the
/// zero point at 0 (signed) or the grid's centre (unsigned); affine grids use
/// scale = (max - min) / (qmax - qmin), zero point = qmin - round(min / scale)
/// clamped into the grid. nullopt when min or max is not finite or
/// min > max (PyTorch asserts there).
std::optional<AffineParams> computeAffineParams(float min, float max,
                                                const AffineScheme &scheme);

/// clamp(zeroPoint + round_half_even(x * inverseScale), qmin, qmax) in
/// float32, with inverseScale = 1.0f / scale as PyTorch's quantize_per_tensor
/// computes it. NaN maps to the zero point. Loops hoist the inverse.
int32_t quantizeAffineWithInverse(float x, float inverseScale,
                                  int32_t zeroPoint, IntRange range);
inline int32_t quantizeAffine(float x, const AffineParams &params,
                              IntRange range) {
  return quantizeAffineWithInverse(x, 1.0f / params.scale, params.zeroPoint,
                                   range);
}
/// (q - zeroPoint) * scale in float32.
inline float dequantizeAffine(int32_t q, const AffineParams &params) {
  return static_cast<float>(q - params.zeroPoint) * params.scale;
}

/// Min and max of `count` floats; nullopt when empty or any value is NaN or
/// infinite (callers diagnose: a NaN weight must never become a scale).
std::optional<std::pair<float, float>> finiteMinMax(const float *data,
                                                    int64_t count);

/// Per-row parameters of a row-major rows x cols matrix split into groups
/// of `groupSize` columns (groupSize <= 0 or >= cols: one group per row, i.e.
/// per-channel along axis 0). The last group of a row may be ragged.
/// Returns rows * ceil(cols / groupSize) parameters, row-major; nullopt on a
/// non-finite value.
std::optional<std::vector<AffineParams>>
computeGroupParams(const float *data, int64_t rows, int64_t cols,
                   int64_t groupSize, const AffineScheme &scheme);

/// Quantizes a row-major matrix with per-(row, group) parameters from
/// computeGroupParams; codes are stored one per byte (two's complement for
/// signed grids).
void quantizeGroups(const float *data, int64_t rows, int64_t cols,
                    int64_t groupSize, const std::vector<AffineParams> &params,
                    const AffineScheme &scheme, uint8_t *codes);
void dequantizeGroups(const uint8_t *codes, int64_t rows, int64_t cols,
                      int64_t groupSize,
                      const std::vector<AffineParams> &params,
                      const AffineScheme &scheme, float *out);

} // namespace quantc

#endif // QUANTC_NUMERICS_AFFINE_H
