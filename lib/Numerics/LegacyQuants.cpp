//===- LegacyQuants.cpp - llama.cpp's 32-element block formats ------------===//
//
// Bit-exactness with llama.cpp rests on doing the same float operations in
// the same order: every expression below keeps ggml's association, casts
// reproduce what its C casts compile to on x86-64, and the library is built
// without FMA contraction (lib/Numerics/CMakeLists.txt).
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/LegacyQuants.h"

#include "quantc/Numerics/Float.h"

#include "BlockBytes.h"

#include "Kernels.h"

#include <algorithm>
#include <cassert>
#include <cfloat>
#include <cmath>
#include <cstring>

namespace quantc {
namespace {

using namespace detail;

/// Elements per block of every legacy format (checked against the registry).
constexpr int kBlock = 32;
constexpr int kHalfBlock = kBlock / 2;

const FormatInfo &legacyInfo(Format format) {
  const FormatInfo &info = getFormatInfo(format);
  assert(info.blockSize == static_cast<uint32_t>(kBlock) &&
         "legacy formats have 32-element blocks");
  return info;
}

//===----------------------------------------------------------------------===//
// Scalar helpers
//===----------------------------------------------------------------------===//

void storeU32(uint8_t *p, uint32_t value) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<uint8_t>(value >> (8 * i));
}

uint32_t loadU32(const uint8_t *p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
         uint32_t(p[3]) << 24;
}

/// Float to int32 as x86's truncating conversion does it: toward zero, and
/// INT32_MIN for NaN or anything out of range. ggml's float-to-small-int
/// casts compile to that instruction, so degenerate blocks (an infinite
/// 1/d) produce the same bytes here; C++ would call them undefined.
int32_t truncateToInt32(float value) {
  if (!(value >= -2147483648.0f && value < 2147483648.0f))
    return INT32_MIN;
  return static_cast<int32_t>(value);
}

/// ggml's `(int8_t)value`: the low byte of the truncated int, read signed.
int truncateToInt8(float value) {
  auto low = static_cast<uint8_t>(truncateToInt32(value));
  return (low ^ 0x80) - 0x80;
}

/// ggml's `(uint8_t)value`.
int truncateToUInt8(float value) {
  return static_cast<uint8_t>(truncateToInt32(value));
}

/// Packs the low nibbles of a block's 32 codes: element j in the low half of
/// byte j, element j + 16 in its high half.
void packNibbles(const uint8_t *codes, uint8_t *qs) {
  for (int j = 0; j < kHalfBlock; ++j)
    qs[j] = static_cast<uint8_t>((codes[j] & 0x0F) |
                                 ((codes[j + kHalfBlock] & 0x0F) << 4));
}

/// Bit 4 of each code goes to bit j of the little-endian 32-bit qh word, in
/// element order.
uint32_t packHighBits(const uint8_t *codes) {
  uint32_t qh = 0;
  for (int j = 0; j < kBlock; ++j)
    qh |= ((codes[j] & 0x10u) >> 4) << j;
  return qh;
}

/// Per-element weights of llama.cpp's imatrix search: the importance scaled
/// by the element's magnitude relative to the row's mean square `sigma2`.
void blockWeights(const float *x, const float *importance, float sigma2,
                  float *weight) {
  for (int j = 0; j < kBlock; ++j)
    weight[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

/// Mean square of a row, summed in order as ggml does.
float rowMeanSquare(const float *x, int64_t n) {
  float sum = 0;
  for (int64_t j = 0; j < n; ++j)
    sum += x[j] * x[j];
  return sum / static_cast<float>(n);
}

//===----------------------------------------------------------------------===//
// Weighted searches (importance-matrix path)
//===----------------------------------------------------------------------===//

/// Blocks whose largest magnitude is below this are stored as all zeros.
constexpr float kGroupMaxEps = 1e-15f;

/// Symmetric codes in [0, 2*nmax) around nmax minimising the weighted error:
/// tries scales -(nmax + 0.1*k)/max for k in [-9, 9] and keeps the best
/// least-squares fit. Returns the scale d (value = d * (code - nmax)).
float searchSymmetric(int nmax, const float *x, const float *weight,
                      uint8_t *codes) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < kBlock; ++i) {
    float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::memset(codes, 0, kBlock);
    return 0.0f;
  }

  auto levelAt = [&](float iscale, int i) {
    return clampInt(nearestInt(iscale * x[i]), -nmax, nmax - 1);
  };

  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < kBlock; ++i) {
    int l = levelAt(iscale, i);
    codes[i] = static_cast<uint8_t>(l + nmax);
    float w = weight[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0)
      continue;
    iscale =
        -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < kBlock; ++i) {
      auto l = static_cast<float>(levelAt(iscale, i));
      float w = weight[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    // Maximising sumlx^2 / suml2 minimises the weighted squared error.
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < kBlock; ++i)
        codes[i] = static_cast<uint8_t>(levelAt(iscale, i) + nmax);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/// Affine codes in [0, nmax] minimising the weighted squared error of
/// scale * code - offset: starts from the min/max fit, then tries 37 scales
/// (nmax - 0.9 + 0.05*k)/(max - min), solving the 2x2 least-squares system
/// for scale and min each time (min clamped to <= 0). Returns the scale and
/// sets `negMin` to the (non-negative) offset subtracted on dequantization.
float searchAffine(int nmax, const float *x, const float *weight,
                   uint8_t *codes, float &negMin) {
  constexpr float rmin = -0.9f, rdelta = 0.05f;
  constexpr int nstep = 36;
  uint8_t trial[kBlock];

  float min = x[0];
  float max = x[0];
  float sumW = weight[0];
  float sumX = sumW * x[0];
  for (int i = 1; i < kBlock; ++i) {
    if (x[i] < min)
      min = x[i];
    if (x[i] > max)
      max = x[i];
    float w = weight[i];
    sumW += w;
    sumX += w * x[i];
  }
  if (min > 0)
    min = 0;
  if (max <= min) {
    std::memset(codes, 0, kBlock);
    negMin = -min;
    return 0.0f;
  }

  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float bestError = 0;
  for (int i = 0; i < kBlock; ++i) {
    int l = nearestInt(iscale * (x[i] - min));
    codes[i] = static_cast<uint8_t>(clampInt(l, 0, nmax));
    float diff = scale * static_cast<float>(codes[i]) + min - x[i];
    bestError += weight[i] * (diff * diff);
  }

  for (int step = 0; step <= nstep; ++step) {
    iscale =
        (rmin + rdelta * static_cast<float>(step) + static_cast<float>(nmax)) /
        (max - min);
    float sumL = 0, sumL2 = 0, sumXL = 0;
    for (int i = 0; i < kBlock; ++i) {
      // `min` is the best fit so far and may sit at or past `max`, making v
      // infinite or NaN; llama.cpp clamps before rounding and so do we.
      float v = iscale * (x[i] - min);
      float capped =
          v < static_cast<float>(nmax) ? v : static_cast<float>(nmax);
      int l = v > 0 ? nearestInt(capped) : 0;
      trial[i] = static_cast<uint8_t>(l);
      float w = weight[i];
      auto fl = static_cast<float>(l);
      sumL += w * fl;
      sumL2 += w * fl * fl;
      sumXL += w * fl * x[i];
    }
    float det = sumW * sumL2 - sumL * sumL;
    if (!(det > 0))
      continue;
    float thisScale = (sumW * sumXL - sumX * sumL) / det;
    float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
    if (thisMin > 0) {
      thisMin = 0;
      thisScale = sumXL / sumL2;
    }
    float error = 0;
    for (int i = 0; i < kBlock; ++i) {
      float diff = thisScale * static_cast<float>(trial[i]) + thisMin - x[i];
      error += weight[i] * (diff * diff);
    }
    if (error < bestError) {
      std::memcpy(codes, trial, kBlock);
      bestError = error;
      scale = thisScale;
      min = thisMin;
    }
  }
  negMin = -min;
  return scale;
}

//===----------------------------------------------------------------------===//
// Block layouts (ggml-common.h), offsets in bytes; fp16 fields little-endian
//===----------------------------------------------------------------------===//

// Q4_0: d, qs[16].                 Q4_1: d, m, qs[16].
// Q5_0: d, qh[4], qs[16].          Q5_1: d, m, qh[4], qs[16].
// Q8_0: d, qs[32] (int8).          Q8_1: d, s, qs[32] (int8).

//===----------------------------------------------------------------------===//
// Reference (no importance) block quantizers
//===----------------------------------------------------------------------===//

/// Scale for the symmetric formats: the signed value of largest magnitude
/// (first one on ties) maps to code 0, i.e. d = max / -half.
float signedAbsMax(const float *x) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    float a = std::fabs(x[j]);
    if (amax < a) {
      amax = a;
      max = x[j];
    }
  }
  return max;
}

void minMax(const float *x, float &min, float &max) {
  min = FLT_MAX;
  max = -FLT_MAX;
  for (int j = 0; j < kBlock; ++j) {
    if (x[j] < min)
      min = x[j];
    if (x[j] > max)
      max = x[j];
  }
}

/// Shared by Q8_0 and Q8_1: scale amax / 127, codes round(x / d) with
/// halves away from zero. Returns d (before fp16 rounding).
float quantizeInt8(const float *x, int8_t *codes) {
  float amax = 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;
  }
  const float d = amax / 127;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  for (int j = 0; j < kBlock; ++j)
    codes[j] = static_cast<int8_t>(truncateToInt8(std::round(x[j] * id)));
  return d;
}

} // namespace

// The vector kernels reproduce these (Kernels.h).
namespace detail {

void quantizeBlockQ4_0Ref(const float *x, uint8_t *out) {
  const float d = signedAbsMax(x) / -8;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  storeHalf(out, d);
  uint8_t codes[kBlock];
  for (int j = 0; j < kBlock; ++j) {
    int q = truncateToInt8(x[j] * id + 8.5f);
    codes[j] = static_cast<uint8_t>(q < 15 ? q : 15);
  }
  // ggml ORs the whole codes in (they are 0..15 unless the input is NaN);
  // packNibbles masks, which equals that for every finite input.
  for (int j = 0; j < kHalfBlock; ++j)
    out[2 + j] = static_cast<uint8_t>(codes[j] | (codes[j + kHalfBlock] << 4));
}

void quantizeBlockQ4_1Ref(const float *x, uint8_t *out) {
  float min, max;
  minMax(x, min, max);
  const float d = (max - min) / 15;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  storeHalf(out, d);
  storeHalf(out + 2, min);
  uint8_t codes[kBlock];
  for (int j = 0; j < kBlock; ++j) {
    int q = truncateToInt8((x[j] - min) * id + 0.5f);
    codes[j] = static_cast<uint8_t>(q < 15 ? q : 15);
  }
  for (int j = 0; j < kHalfBlock; ++j)
    out[4 + j] = static_cast<uint8_t>(codes[j] | (codes[j + kHalfBlock] << 4));
}

void quantizeBlockQ5_0Ref(const float *x, uint8_t *out) {
  const float d = signedAbsMax(x) / -16;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  storeHalf(out, d);
  uint8_t codes[kBlock];
  for (int j = 0; j < kBlock; ++j) {
    int q = truncateToInt8(x[j] * id + 16.5f);
    codes[j] = static_cast<uint8_t>(q < 31 ? q : 31);
  }
  storeU32(out + 2, packHighBits(codes));
  packNibbles(codes, out + 6);
}

void quantizeBlockQ5_1Ref(const float *x, uint8_t *out) {
  float min, max;
  minMax(x, min, max);
  const float d = (max - min) / 31;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  storeHalf(out, d);
  storeHalf(out + 2, min);
  uint8_t codes[kBlock];
  // No clamp here in ggml: (x - min) / d never exceeds 31.5 for finite input.
  for (int j = 0; j < kBlock; ++j)
    codes[j] = static_cast<uint8_t>(truncateToUInt8((x[j] - min) * id + 0.5f));
  storeU32(out + 4, packHighBits(codes));
  packNibbles(codes, out + 8);
}

void quantizeBlockQ8_0Ref(const float *x, uint8_t *out) {
  int8_t codes[kBlock];
  storeHalf(out, quantizeInt8(x, codes));
  std::memcpy(out + 2, codes, kBlock);
}

void quantizeBlockQ8_1Ref(const float *x, uint8_t *out) {
  int8_t codes[kBlock];
  const float d = quantizeInt8(x, codes);
  // s caches d * sum(qs) for dot products against asymmetric (Q4_1/Q5_1)
  // weights; ggml multiplies by the unrounded d.
  int sum = 0;
  for (int j = 0; j < kBlock; ++j)
    sum += codes[j];
  storeHalf(out, d);
  storeHalf(out + 2, static_cast<float>(sum) * d);
  std::memcpy(out + 4, codes, kBlock);
}

} // namespace detail

namespace {

//===----------------------------------------------------------------------===//
// Importance-weighted block quantizers
//===----------------------------------------------------------------------===//

void quantizeBlockQ4_0Weighted(const float *x, const float *weight,
                               uint8_t *out) {
  uint8_t codes[kBlock];
  storeHalf(out, searchSymmetric(8, x, weight, codes));
  packNibbles(codes, out + 2);
}

void quantizeBlockQ4_1Weighted(const float *x, const float *weight,
                               uint8_t *out) {
  uint8_t codes[kBlock];
  float negMin;
  float d = searchAffine(15, x, weight, codes, negMin);
  storeHalf(out, d);
  storeHalf(out + 2, -negMin);
  packNibbles(codes, out + 4);
}

void quantizeBlockQ5_0Weighted(const float *x, const float *weight,
                               uint8_t *out) {
  uint8_t codes[kBlock];
  storeHalf(out, searchSymmetric(16, x, weight, codes));
  storeU32(out + 2, packHighBits(codes));
  packNibbles(codes, out + 6);
}

void quantizeBlockQ5_1Weighted(const float *x, const float *weight,
                               uint8_t *out) {
  uint8_t codes[kBlock];
  float negMin;
  float d = searchAffine(31, x, weight, codes, negMin);
  storeHalf(out, d);
  storeHalf(out + 2, -negMin);
  storeU32(out + 4, packHighBits(codes));
  packNibbles(codes, out + 8);
}

using RefBlockFn = void (*)(const float *x, uint8_t *out);
using WeightedBlockFn = void (*)(const float *x, const float *weight,
                                 uint8_t *out);

/// Runs a block quantizer over a row: the selected tier's kernel where it
/// has one, else the reference. With importance weights, llama.cpp scales
/// them per element by the row's mean square, so the whole row is needed
/// before the first block.
size_t quantizeRow(Format format, detail::QuantizeBlocksFn kernel,
                   detail::QuantizeWeightedGroupFn weightedKernel,
                   RefBlockFn ref, WeightedBlockFn weighted, const float *src,
                   void *dst, int64_t n, const float *importance) {
  const FormatInfo &info = legacyInfo(format);
  assert(n % kBlock == 0 && "row length must be a whole number of blocks");
  const int64_t blocks = n / kBlock;
  const size_t bytes = info.bytesPerBlock;
  auto *out = static_cast<uint8_t *>(dst);
  if (!importance || !weighted) {
    if (kernel)
      kernel(src, out, blocks);
    else
      for (int64_t b = 0; b < blocks; ++b)
        ref(src + b * kBlock, out + b * bytes);
    return static_cast<size_t>(blocks) * bytes;
  }
  const float sigma2 = rowMeanSquare(src, n);
  float weight[kBlock];
  for (int64_t first = 0; first < blocks; first += detail::kWeightedGroup) {
    const int count = static_cast<int>(
        std::min<int64_t>(detail::kWeightedGroup, blocks - first));
    if (weightedKernel &&
        weightedKernel(src + first * kBlock, importance + first * kBlock,
                       sigma2, out + first * bytes, count))
      continue;
    for (int64_t b = first; b < first + count; ++b) {
      const float *x = src + b * kBlock;
      blockWeights(x, importance + b * kBlock, sigma2, weight);
      weighted(x, weight, out + b * bytes);
    }
  }
  return static_cast<size_t>(blocks) * bytes;
}

//===----------------------------------------------------------------------===//
// Dequantization
//===----------------------------------------------------------------------===//

/// Low nibble of byte j is element j, high nibble element j + 16.
template <typename EmitFn> void forEachNibble(const uint8_t *qs, EmitFn emit) {
  for (int j = 0; j < kHalfBlock; ++j) {
    emit(j, qs[j] & 0x0F);
    emit(j + kHalfBlock, qs[j] >> 4);
  }
}

/// The selected tier's kernel if it has one, else `block` on each block.
template <typename BlockFn>
void dequantizeRow(Format format, detail::DequantizeBlocksFn kernel,
                   const void *src, float *dst, int64_t n, BlockFn block) {
  const FormatInfo &info = legacyInfo(format);
  assert(n % kBlock == 0 && "row length must be a whole number of blocks");
  const auto *in = static_cast<const uint8_t *>(src);
  if (kernel)
    return kernel(in, dst, n / kBlock);
  for (int64_t b = 0; b < n / kBlock; ++b)
    block(in + b * info.bytesPerBlock, dst + b * kBlock);
}

//===----------------------------------------------------------------------===//
// Codec table
//===----------------------------------------------------------------------===//

size_t quantizeRowQ8_1Codec(const float *src, void *dst, int64_t n,
                            const float * /*importance*/) {
  return quantizeRowQ8_1(src, dst, n);
}

constexpr RowCodec kLegacyCodecs[] = {
    {Format::Q4_0, quantizeRowQ4_0, dequantizeRowQ4_0},
    {Format::Q4_1, quantizeRowQ4_1, dequantizeRowQ4_1},
    {Format::Q5_0, quantizeRowQ5_0, dequantizeRowQ5_0},
    {Format::Q5_1, quantizeRowQ5_1, dequantizeRowQ5_1},
    {Format::Q8_0, quantizeRowQ8_0, dequantizeRowQ8_0},
    {Format::Q8_1, quantizeRowQ8_1Codec, dequantizeRowQ8_1},
};

} // namespace

//===----------------------------------------------------------------------===//
// Public row functions
//===----------------------------------------------------------------------===//

size_t quantizeRowQ4_0(const float *src, void *dst, int64_t n,
                       const float *importance) {
  const detail::Kernels &kernels = detail::activeKernels();
  return quantizeRow(Format::Q4_0, kernels.quantizeQ4_0,
                     kernels.quantizeQ4_0Weighted, detail::quantizeBlockQ4_0Ref,
                     quantizeBlockQ4_0Weighted, src, dst, n, importance);
}

size_t quantizeRowQ4_1(const float *src, void *dst, int64_t n,
                       const float *importance) {
  const detail::Kernels &kernels = detail::activeKernels();
  return quantizeRow(Format::Q4_1, kernels.quantizeQ4_1,
                     kernels.quantizeQ4_1Weighted, detail::quantizeBlockQ4_1Ref,
                     quantizeBlockQ4_1Weighted, src, dst, n, importance);
}

size_t quantizeRowQ5_0(const float *src, void *dst, int64_t n,
                       const float *importance) {
  const detail::Kernels &kernels = detail::activeKernels();
  return quantizeRow(Format::Q5_0, kernels.quantizeQ5_0,
                     kernels.quantizeQ5_0Weighted, detail::quantizeBlockQ5_0Ref,
                     quantizeBlockQ5_0Weighted, src, dst, n, importance);
}

size_t quantizeRowQ5_1(const float *src, void *dst, int64_t n,
                       const float *importance) {
  const detail::Kernels &kernels = detail::activeKernels();
  return quantizeRow(Format::Q5_1, kernels.quantizeQ5_1,
                     kernels.quantizeQ5_1Weighted, detail::quantizeBlockQ5_1Ref,
                     quantizeBlockQ5_1Weighted, src, dst, n, importance);
}

size_t quantizeRowQ8_0(const float *src, void *dst, int64_t n,
                       const float * /*importance*/) {
  return quantizeRow(Format::Q8_0, detail::activeKernels().quantizeQ8_0,
                     nullptr, detail::quantizeBlockQ8_0Ref, nullptr, src, dst,
                     n, nullptr);
}

size_t quantizeRowQ8_1(const float *src, void *dst, int64_t n) {
  return quantizeRow(Format::Q8_1, detail::activeKernels().quantizeQ8_1,
                     nullptr, detail::quantizeBlockQ8_1Ref, nullptr, src, dst,
                     n, nullptr);
}

void dequantizeRowQ4_0(const void *src, float *dst, int64_t n) {
  dequantizeRow(Format::Q4_0, detail::activeKernels().dequantizeQ4_0, src, dst,
                n, [](const uint8_t *in, float *y) {
                  const float d = loadHalf(in);
                  forEachNibble(in + 2, [&](int j, int q) {
                    y[j] = static_cast<float>(q - 8) * d;
                  });
                });
}

void dequantizeRowQ4_1(const void *src, float *dst, int64_t n) {
  dequantizeRow(Format::Q4_1, detail::activeKernels().dequantizeQ4_1, src, dst,
                n, [](const uint8_t *in, float *y) {
                  const float d = loadHalf(in);
                  const float m = loadHalf(in + 2);
                  forEachNibble(in + 4, [&](int j, int q) {
                    y[j] = static_cast<float>(q) * d + m;
                  });
                });
}

void dequantizeRowQ5_0(const void *src, float *dst, int64_t n) {
  dequantizeRow(Format::Q5_0, detail::activeKernels().dequantizeQ5_0, src, dst,
                n, [](const uint8_t *in, float *y) {
                  const float d = loadHalf(in);
                  const uint32_t qh = loadU32(in + 2);
                  forEachNibble(in + 6, [&](int j, int q) {
                    int code = q | static_cast<int>(((qh >> j) & 1u) << 4);
                    y[j] = static_cast<float>(code - 16) * d;
                  });
                });
}

void dequantizeRowQ5_1(const void *src, float *dst, int64_t n) {
  dequantizeRow(Format::Q5_1, detail::activeKernels().dequantizeQ5_1, src, dst,
                n, [](const uint8_t *in, float *y) {
                  const float d = loadHalf(in);
                  const float m = loadHalf(in + 2);
                  const uint32_t qh = loadU32(in + 4);
                  forEachNibble(in + 8, [&](int j, int q) {
                    int code = q | static_cast<int>(((qh >> j) & 1u) << 4);
                    y[j] = static_cast<float>(code) * d + m;
                  });
                });
}

void dequantizeRowQ8_0(const void *src, float *dst, int64_t n) {
  dequantizeRow(Format::Q8_0, detail::activeKernels().dequantizeQ8_0, src, dst,
                n, [](const uint8_t *in, float *y) {
                  const float d = loadHalf(in);
                  for (int j = 0; j < kBlock; ++j)
                    y[j] =
                        static_cast<float>(static_cast<int8_t>(in[2 + j])) * d;
                });
}

void dequantizeRowQ8_1(const void *src, float *dst, int64_t n) {
  dequantizeRow(Format::Q8_1, detail::activeKernels().dequantizeQ8_1, src, dst,
                n, [](const uint8_t *in, float *y) {
                  const float d = loadHalf(in);
                  for (int j = 0; j < kBlock; ++j)
                    y[j] =
                        static_cast<float>(static_cast<int8_t>(in[4 + j])) * d;
                });
}

//===----------------------------------------------------------------------===//
// Dispatch
//===----------------------------------------------------------------------===//

const RowCodec *getLegacyRowCodec(Format format) {
  for (const RowCodec &codec : kLegacyCodecs)
    if (codec.format == format)
      return &codec;
  return nullptr;
}

} // namespace quantc
