//===- KQuants.cpp - llama.cpp's 256-element K-quant formats --------------===//
//
// Each weight format quantizes a 256-element super-block in three steps, as
// ggml does: a scale search per sub-block (KQuantsSearch.h), quantizing the
// sub-block scales (and mins) to 4, 6 or 8 bits against one fp16
// super-block scale, then re-rounding every element against the scale it
// will actually be dequantized with. Float expressions keep ggml's order
// and association so that the bytes come out identical.
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/KQuants.h"

#include "KQuantsSearch.h"

#include <cassert>
#include <cmath>
#include <cstring>

namespace quantc {
namespace {

using namespace kquants;

//===----------------------------------------------------------------------===//
// Block layouts (ggml-common.h), offsets in bytes; multi-byte fields
// little-endian
//===----------------------------------------------------------------------===//

// Q2_K: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin.
// Q3_K: hmask[32], qs[64], scales[12] (16 x 6 bits), d.
// Q4_K: d, dmin, scales[12] (8 scales + 8 mins, 6 bits each), qs[128].
// Q5_K: d, dmin, scales[12], qh[32], qs[128].
// Q6_K: ql[128], qh[64], scales[16] (int8), d.
// Q8_K: d (float32), qs[256] (int8), bsums[16] (int16).
constexpr int kBlockBytesQ6_K = 210;
constexpr int kBlockBytesQ8_K = 292;

/// Sum of squares of a super-block, accumulated in order.
float sumOfSquares(const float *x, int n) {
  float sum = 0;
  for (int i = 0; i < n; ++i)
    sum += x[i] * x[i];
  return sum;
}

/// The imatrix weights of a super-block: importance scaled by each
/// element's magnitude relative to the super-block's mean square `sigma2`.
/// `groupWeight` gets the sum over each group of `groupSize`, which weights
/// the group's scale in the second-level fit.
void importanceWeights(const float *x, const float *importance, float sigma2,
                       int groupSize, float *weight, float *groupWeight) {
  for (int i = 0; i < kSuperBlock; ++i)
    weight[i] = importance[i] * std::sqrt(sigma2 + x[i] * x[i]);
  for (int j = 0; j < kSuperBlock / groupSize; ++j) {
    float sum = 0;
    for (int i = 0; i < groupSize; ++i)
      sum += weight[groupSize * j + i];
    groupWeight[j] = sum;
  }
}

/// Packs 2-bit codes: in each 128-element half, element 32 s + l goes to
/// bits 2 s of byte l.
void pack2Bit(const uint8_t *codes, uint8_t *qs) {
  for (int half = 0; half < kSuperBlock; half += 128)
    for (int l = 0; l < 32; ++l)
      qs[half / 4 + l] = static_cast<uint8_t>(
          codes[half + l] | (codes[half + l + 32] << 2) |
          (codes[half + l + 64] << 4) | (codes[half + l + 96] << 6));
}

/// The 2-bit code of element `e` packed by pack2Bit.
int unpack2Bit(const uint8_t *qs, int e) {
  int half = e / 128, within = e % 128;
  return (qs[half * 32 + within % 32] >> (2 * (within / 32))) & 3;
}

//===----------------------------------------------------------------------===//
// Q2_K
//===----------------------------------------------------------------------===//

/// Re-rounds every element against its stored scale and min, for the
/// sub-blocks whose scale is not zero (the others keep their search codes).
void requantizeQ2_K(const float *x, const uint8_t *packedScales, float d,
                    float dmin, uint8_t *codes) {
  for (int j = 0; j < 16; ++j) {
    const float scale = d * static_cast<float>(packedScales[j] & 0xF);
    if (scale == 0)
      continue;
    const float min = dmin * static_cast<float>(packedScales[j] >> 4);
    for (int i = 0; i < 16; ++i)
      codes[16 * j + i] = static_cast<uint8_t>(
          clampInt(nearestInt((x[16 * j + i] + min) / scale), 0, 3));
  }
}

void quantizeBlockQ2_K(const float *x, const float *importance, uint8_t *out) {
  uint8_t codes[kSuperBlock];
  float scales[16], mins[16], weight[kSuperBlock];
  uint8_t *packedScales = out;
  if (!importance) {
    for (int i = 0; i < kSuperBlock; ++i)
      weight[i] = std::fabs(x[i]);
    fitAffineGroups({AffineSearch::MinMax, 3, -0.5f, 0.1f, 15, true}, 16, 16, x,
                    weight, codes, scales, mins);
    // Sub-block scales and mins are both non-negative; each gets a 4-bit
    // code against the largest of its kind.
    float maxScale = 0, maxMin = 0;
    for (int j = 0; j < 16; ++j) {
      if (scales[j] > maxScale)
        maxScale = scales[j];
      if (mins[j] > maxMin)
        maxMin = mins[j];
    }
    if (maxScale > 0) {
      const float iscale = 15.0f / maxScale;
      for (int j = 0; j < 16; ++j)
        packedScales[j] = static_cast<uint8_t>(nearestInt(iscale * scales[j]));
      storeHalf(out + 80, maxScale / 15.0f);
    } else {
      std::memset(packedScales, 0, 16);
      storeHalf(out + 80, 0.0f);
    }
    if (maxMin > 0) {
      const float iscale = 15.0f / maxMin;
      // A subnormal maxMin makes iscale infinite and the rounded value
      // negative; shifting it unsigned keeps the low byte ggml stores.
      for (int j = 0; j < 16; ++j)
        packedScales[j] = static_cast<uint8_t>(
            packedScales[j] |
            (static_cast<uint32_t>(nearestInt(iscale * mins[j])) << 4));
      storeHalf(out + 82, maxMin / 15.0f);
    } else {
      storeHalf(out + 82, 0.0f);
    }
  } else {
    const float sigma2 = sumOfSquares(x, kSuperBlock) / kSuperBlock;
    float groupWeight[16];
    importanceWeights(x, importance, sigma2, 16, weight, groupWeight);
    fitAffineGroups({AffineSearch::Clamped, 3, -0.9f, 0.05f, 36, false}, 16, 16,
                    x, weight, codes, scales, mins);
    uint8_t scaleCodes[16], minCodes[16];
    storeHalf(out + 80, fitUnsigned(16, 15, scales, groupWeight, scaleCodes));
    storeHalf(out + 82, fitUnsigned(16, 15, mins, groupWeight, minCodes));
    for (int j = 0; j < 16; ++j)
      packedScales[j] =
          static_cast<uint8_t>(scaleCodes[j] | (minCodes[j] << 4));
  }
  requantizeQ2_K(x, packedScales, loadHalf(out + 80), loadHalf(out + 82),
                 codes);
  pack2Bit(codes, out + 16);
}

//===----------------------------------------------------------------------===//
// Q3_K
//===----------------------------------------------------------------------===//

/// Q3_K's sixteen 6-bit scale codes: the low nibbles fill bytes 0-7 (codes
/// 8-15 in the high halves), the top two bits of code j go to byte
/// 8 + j % 4 at bit 2 (j / 4).
void packQ3Scale(uint8_t *packed, int j, int code) {
  if (j < 8)
    packed[j] = static_cast<uint8_t>(code & 0xF);
  else
    packed[j - 8] = static_cast<uint8_t>(packed[j - 8] | ((code & 0xF) << 4));
  packed[8 + j % 4] =
      static_cast<uint8_t>(packed[8 + j % 4] | ((code >> 4) << (2 * (j / 4))));
}

/// The signed scale of sub-block j (code - 32).
int unpackQ3Scale(const uint8_t *packed, int j) {
  int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
  int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

/// Re-rounds against the stored scales, then splits the 3-bit codes into
/// the high-bit mask (element e at bit e / 32 of byte e % 32) and 2 bits.
void finishQ3_K(const float *x, int8_t *codes, uint8_t *out) {
  const uint8_t *packedScales = out + 96;
  const float d = loadHalf(out + 108);
  for (int j = 0; j < 16; ++j) {
    const float scale = d * static_cast<float>(unpackQ3Scale(packedScales, j));
    if (scale == 0)
      continue;
    for (int i = 0; i < 16; ++i)
      codes[16 * j + i] = static_cast<int8_t>(
          clampInt(nearestInt(x[16 * j + i] / scale), -4, 3) + 4);
  }
  // Codes are in [0, 7]: bit 2 is the high bit, and without it the code is
  // ggml's code - 4. Branch-free, as the bit is close to random.
  uint8_t low[kSuperBlock];
  uint8_t *hmask = out;
  std::memset(hmask, 0, 32);
  for (int bit = 0; bit < 8; ++bit) {
    for (int l = 0; l < 32; ++l) {
      int code = codes[32 * bit + l];
      hmask[l] = static_cast<uint8_t>(hmask[l] | ((code >> 2) << bit));
      low[32 * bit + l] = static_cast<uint8_t>(code & 3);
    }
  }
  pack2Bit(low, out + 32);
}

void quantizeBlockQ3_K(const float *x, const float *importance, uint8_t *out) {
  int8_t codes[kSuperBlock];
  float scales[16];
  uint8_t *packedScales = out + 96;
  std::memset(packedScales, 0, 12);
  if (!importance) {
    fitSymmetricRefinedGroups(16, 16, 4, x, codes, scales);
    // Signed sub-block scales: the one of largest magnitude maps to -32.
    float maxScale = 0, maxAbsScale = 0;
    for (int j = 0; j < 16; ++j) {
      float a = std::fabs(scales[j]);
      if (a > maxAbsScale) {
        maxAbsScale = a;
        maxScale = scales[j];
      }
    }
    if (maxScale != 0) {
      const float iscale = -32.0f / maxScale;
      for (int j = 0; j < 16; ++j) {
        // ggml narrows the rounded value to int8 before clamping.
        int l = static_cast<int8_t>(nearestInt(iscale * scales[j]));
        packQ3Scale(packedScales, j, clampInt(l, -32, 31) + 32);
      }
      storeHalf(out + 108, 1 / iscale);
    } else {
      storeHalf(out + 108, 0.0f);
    }
  } else {
    const float sigma2 = 2 * sumOfSquares(x, kSuperBlock) / kSuperBlock;
    float weight[kSuperBlock], groupWeight[16];
    importanceWeights(x, importance, sigma2, 16, weight, groupWeight);
    fitSymmetricGroups(16, 16, 4, x, weight, codes, scales);
    int8_t scaleCodes[16];
    const float d = fitSymmetric(16, 32, scales, groupWeight, scaleCodes);
    for (int j = 0; j < 16; ++j)
      packQ3Scale(packedScales, j, scaleCodes[j]);
    storeHalf(out + 108, d);
  }
  finishQ3_K(x, codes, out);
}

//===----------------------------------------------------------------------===//
// Q4_K and Q5_K
//===----------------------------------------------------------------------===//

/// The 6-bit scale and min codes of Q4_K/Q5_K's eight sub-blocks in 12
/// bytes: codes 0-3 whole in bytes 0-3 (scales) and 4-7 (mins); codes 4-7
/// as nibbles in bytes 8-11 with their top two bits in bits 6-7 of bytes
/// 0-3 (scales) and 4-7 (mins). Called for j = 0..7 in order.
void packK4Scale(uint8_t *packed, int j, uint8_t scale, uint8_t min) {
  if (j < 4) {
    packed[j] = scale;
    packed[j + 4] = min;
    return;
  }
  packed[j + 4] = static_cast<uint8_t>((scale & 0xF) | ((min & 0xF) << 4));
  packed[j - 4] = static_cast<uint8_t>(packed[j - 4] | ((scale >> 4) << 6));
  packed[j] = static_cast<uint8_t>(packed[j] | ((min >> 4) << 6));
}

void unpackK4Scale(const uint8_t *packed, int j, int &scale, int &min) {
  if (j < 4) {
    scale = packed[j] & 63;
    min = packed[j + 4] & 63;
  } else {
    scale = (packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4);
    min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
  }
}

/// Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fills the d, dmin and
/// scales fields and returns the codes, re-rounded against the stored
/// scales, of all 256 elements.
void quantizeScalesK4(const float *x, const float *importance, int nmax,
                      uint8_t *out, uint8_t *codes) {
  float scales[8], mins[8], weight[kSuperBlock];
  uint8_t *packedScales = out + 4;
  if (!importance) {
    for (int j = 0; j < 8; ++j) {
      const float *xs = x + 32 * j;
      const float rms = std::sqrt(sumOfSquares(xs, 32) / 32);
      for (int i = 0; i < 32; ++i)
        weight[32 * j + i] = rms + std::fabs(xs[i]);
    }
    const bool q4 = nmax == 15;
    fitAffineGroups({AffineSearch::MinMax, nmax, q4 ? -1.0f : -0.5f, 0.1f,
                     q4 ? 20 : 15, false},
                    8, 32, x, weight, codes, scales, mins);
    float maxScale = 0, maxMin = 0;
    for (int j = 0; j < 8; ++j) {
      if (scales[j] > maxScale)
        maxScale = scales[j];
      if (mins[j] > maxMin)
        maxMin = mins[j];
    }
    const float invScale = maxScale > 0 ? 63.0f / maxScale : 0.0f;
    const float invMin = maxMin > 0 ? 63.0f / maxMin : 0.0f;
    for (int j = 0; j < 8; ++j) {
      // Rounded values narrow to bytes before the clamp, as in ggml.
      auto ls = static_cast<uint8_t>(nearestInt(invScale * scales[j]));
      auto lm = static_cast<uint8_t>(nearestInt(invMin * mins[j]));
      packK4Scale(packedScales, j, ls < 63 ? ls : 63, lm < 63 ? lm : 63);
    }
    storeHalf(out, maxScale / 63.0f);
    storeHalf(out + 2, maxMin / 63.0f);
  } else {
    const float sigma2 = 2 * sumOfSquares(x, kSuperBlock) / kSuperBlock;
    float groupWeight[8];
    importanceWeights(x, importance, sigma2, 32, weight, groupWeight);
    fitAffineGroups({AffineSearch::Clamped, nmax, -0.9f, 0.05f, 36, false}, 8,
                    32, x, weight, codes, scales, mins);
    uint8_t scaleCodes[8], minCodes[8];
    const float d = fitUnsigned(8, 63, scales, groupWeight, scaleCodes);
    const float dmin = fitUnsigned(8, 63, mins, groupWeight, minCodes);
    for (int j = 0; j < 8; ++j) {
      uint8_t ls = scaleCodes[j], lm = minCodes[j];
      // Q5_K clamps codes that are already at most 63; Q4_K does not.
      if (nmax == 31) {
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
      }
      packK4Scale(packedScales, j, ls, lm);
    }
    storeHalf(out, d);
    storeHalf(out + 2, dmin);
  }

  const float d = loadHalf(out);
  const float dmin = loadHalf(out + 2);
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    unpackK4Scale(packedScales, j, sc, m);
    const float scale = d * static_cast<float>(sc);
    if (scale == 0)
      continue;
    const float min = dmin * static_cast<float>(m);
    for (int i = 0; i < 32; ++i)
      codes[32 * j + i] = static_cast<uint8_t>(
          clampInt(nearestInt((x[32 * j + i] + min) / scale), 0, nmax));
  }
}

void quantizeBlockQ4_K(const float *x, const float *importance, uint8_t *out) {
  uint8_t codes[kSuperBlock];
  quantizeScalesK4(x, importance, 15, out, codes);
  // Each 64 elements: the first 32 in the low nibbles, the next 32 high.
  uint8_t *qs = out + 16;
  for (int chunk = 0; chunk < kSuperBlock; chunk += 64)
    for (int l = 0; l < 32; ++l)
      qs[chunk / 2 + l] =
          static_cast<uint8_t>(codes[chunk + l] | (codes[chunk + l + 32] << 4));
}

void quantizeBlockQ5_K(const float *x, const float *importance, uint8_t *out) {
  uint8_t codes[kSuperBlock];
  quantizeScalesK4(x, importance, 31, out, codes);
  // Low nibbles as in Q4_K; bit 4 of element 64 c + l goes to qh[l] bit
  // 2 c, of element 64 c + 32 + l to bit 2 c + 1.
  uint8_t *qh = out + 16;
  uint8_t *qs = out + 48;
  std::memset(qh, 0, 32);
  for (int chunk = 0; chunk < kSuperBlock / 64; ++chunk) {
    for (int l = 0; l < 32; ++l) {
      int lo = codes[64 * chunk + l];
      int hi = codes[64 * chunk + 32 + l];
      qs[32 * chunk + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      qh[l] = static_cast<uint8_t>(qh[l] | ((lo >> 4) << (2 * chunk)) |
                                   ((hi >> 4) << (2 * chunk + 1)));
    }
  }
}

//===----------------------------------------------------------------------===//
// Q6_K
//===----------------------------------------------------------------------===//

void quantizeBlockQ6_K(const float *x, const float *importance, uint8_t *out) {
  int8_t codes[kSuperBlock];
  float scales[16];
  // llama.cpp weights Q6_K's search by the raw importance.
  fitSymmetricGroups(16, 16, 32, x, importance, codes, scales);
  float maxScale = 0, maxAbsScale = 0;
  for (int j = 0; j < 16; ++j) {
    float a = std::fabs(scales[j]);
    if (a > maxAbsScale) {
      maxAbsScale = a;
      maxScale = scales[j];
    }
  }
  if (maxAbsScale < kGroupMaxEps) {
    std::memset(out, 0, kBlockBytesQ6_K);
    return;
  }

  auto *packedScales = reinterpret_cast<int8_t *>(out + 192);
  const float iscale = -128.0f / maxScale;
  storeHalf(out + 208, 1 / iscale);
  for (int j = 0; j < 16; ++j) {
    int l = nearestInt(iscale * scales[j]);
    packedScales[j] = static_cast<int8_t>(l < 127 ? l : 127);
  }
  const float d = loadHalf(out + 208);
  for (int j = 0; j < 16; ++j) {
    const float scale = d * static_cast<float>(packedScales[j]);
    if (scale == 0)
      continue;
    for (int i = 0; i < 16; ++i)
      codes[16 * j + i] = static_cast<int8_t>(
          clampInt(nearestInt(x[16 * j + i] / scale), -32, 31) + 32);
  }

  // In each 128-element half, element 32 s + l: low nibble in ql[l + 32
  // (s % 2)] (high half of the byte for s >= 2), top two bits in qh[l] at
  // bit 2 s.
  uint8_t *ql = out;
  uint8_t *qh = out + 128;
  for (int half = 0; half < 2; ++half) {
    const int8_t *c = codes + 128 * half;
    for (int l = 0; l < 32; ++l) {
      ql[64 * half + l] =
          static_cast<uint8_t>((c[l] & 0xF) | ((c[l + 64] & 0xF) << 4));
      ql[64 * half + l + 32] =
          static_cast<uint8_t>((c[l + 32] & 0xF) | ((c[l + 96] & 0xF) << 4));
      qh[32 * half + l] = static_cast<uint8_t>(
          (c[l] >> 4) | ((c[l + 32] >> 4) << 2) | ((c[l + 64] >> 4) << 4) |
          ((c[l + 96] >> 4) << 6));
    }
  }
}

//===----------------------------------------------------------------------===//
// Q8_K
//===----------------------------------------------------------------------===//

void quantizeBlockQ8_K(const float *x, const float * /*importance*/,
                       uint8_t *out) {
  float max = 0, amax = 0;
  for (int i = 0; i < kSuperBlock; ++i) {
    float a = std::fabs(x[i]);
    if (a > amax) {
      amax = a;
      max = x[i];
    }
  }
  // ggml leaves bsums of a zero block unwritten; zeros are what they sum to.
  if (amax == 0) {
    std::memset(out, 0, kBlockBytesQ8_K);
    return;
  }
  // The scale is -max / 127 rather than -max / 128 so that codes stay
  // within [-127, 127].
  const float iscale = -127.0f / max;
  int8_t codes[kSuperBlock];
  for (int i = 0; i < kSuperBlock; ++i) {
    int v = nearestInt(iscale * x[i]);
    codes[i] = static_cast<int8_t>(v < 127 ? v : 127);
  }
  const float d = 1 / iscale;
  std::memcpy(out, &d, sizeof(d));
  std::memcpy(out + 4, codes, kSuperBlock);
  for (int j = 0; j < 16; ++j) {
    int sum = 0;
    for (int i = 0; i < 16; ++i)
      sum += codes[16 * j + i];
    auto bits = static_cast<uint16_t>(static_cast<int16_t>(sum));
    out[260 + 2 * j] = static_cast<uint8_t>(bits);
    out[261 + 2 * j] = static_cast<uint8_t>(bits >> 8);
  }
}

//===----------------------------------------------------------------------===//
// Row drivers
//===----------------------------------------------------------------------===//

using BlockFn = void (*)(const float *x, const float *importance, uint8_t *out);

size_t quantizeRow(Format format, BlockFn block, const float *src, void *dst,
                   int64_t n, const float *importance) {
  const FormatInfo &info = getFormatInfo(format);
  assert(info.blockSize == static_cast<uint32_t>(kSuperBlock) &&
         n % kSuperBlock == 0 && "row length must be whole super-blocks");
  auto *out = static_cast<uint8_t *>(dst);
  const int64_t blocks = n / kSuperBlock;
  for (int64_t b = 0; b < blocks; ++b)
    block(src + b * kSuperBlock,
          importance ? importance + b * kSuperBlock : nullptr,
          out + b * info.bytesPerBlock);
  return static_cast<size_t>(blocks) * info.bytesPerBlock;
}

template <typename BlockFn>
void dequantizeRow(Format format, const void *src, float *dst, int64_t n,
                   BlockFn block) {
  const FormatInfo &info = getFormatInfo(format);
  assert(info.blockSize == static_cast<uint32_t>(kSuperBlock) &&
         n % kSuperBlock == 0 && "row length must be whole super-blocks");
  const auto *in = static_cast<const uint8_t *>(src);
  for (int64_t b = 0; b < n / kSuperBlock; ++b)
    block(in + b * info.bytesPerBlock, dst + b * kSuperBlock);
}

size_t quantizeRowQ8_KCodec(const float *src, void *dst, int64_t n,
                            const float * /*importance*/) {
  return quantizeRowQ8_K(src, dst, n);
}

constexpr RowCodec kKQuantCodecs[] = {
    {Format::Q2_K, quantizeRowQ2_K, dequantizeRowQ2_K},
    {Format::Q3_K, quantizeRowQ3_K, dequantizeRowQ3_K},
    {Format::Q4_K, quantizeRowQ4_K, dequantizeRowQ4_K},
    {Format::Q5_K, quantizeRowQ5_K, dequantizeRowQ5_K},
    {Format::Q6_K, quantizeRowQ6_K, dequantizeRowQ6_K},
    {Format::Q8_K, quantizeRowQ8_KCodec, dequantizeRowQ8_K},
};

} // namespace

//===----------------------------------------------------------------------===//
// Public row functions
//===----------------------------------------------------------------------===//

size_t quantizeRowQ2_K(const float *src, void *dst, int64_t n,
                       const float *importance) {
  return quantizeRow(Format::Q2_K, quantizeBlockQ2_K, src, dst, n, importance);
}

size_t quantizeRowQ3_K(const float *src, void *dst, int64_t n,
                       const float *importance) {
  return quantizeRow(Format::Q3_K, quantizeBlockQ3_K, src, dst, n, importance);
}

size_t quantizeRowQ4_K(const float *src, void *dst, int64_t n,
                       const float *importance) {
  return quantizeRow(Format::Q4_K, quantizeBlockQ4_K, src, dst, n, importance);
}

size_t quantizeRowQ5_K(const float *src, void *dst, int64_t n,
                       const float *importance) {
  return quantizeRow(Format::Q5_K, quantizeBlockQ5_K, src, dst, n, importance);
}

size_t quantizeRowQ6_K(const float *src, void *dst, int64_t n,
                       const float *importance) {
  return quantizeRow(Format::Q6_K, quantizeBlockQ6_K, src, dst, n, importance);
}

size_t quantizeRowQ8_K(const float *src, void *dst, int64_t n) {
  return quantizeRow(Format::Q8_K, quantizeBlockQ8_K, src, dst, n, nullptr);
}

void dequantizeRowQ2_K(const void *src, float *dst, int64_t n) {
  dequantizeRow(Format::Q2_K, src, dst, n, [](const uint8_t *in, float *y) {
    const float d = loadHalf(in + 80);
    const float dmin = loadHalf(in + 82);
    for (int j = 0; j < 16; ++j) {
      const float scale = d * static_cast<float>(in[j] & 0xF);
      const float min = dmin * static_cast<float>(in[j] >> 4);
      for (int i = 0; i < 16; ++i) {
        int e = 16 * j + i;
        y[e] = scale * static_cast<float>(unpack2Bit(in + 16, e)) - min;
      }
    }
  });
}

void dequantizeRowQ3_K(const void *src, float *dst, int64_t n) {
  dequantizeRow(Format::Q3_K, src, dst, n, [](const uint8_t *in, float *y) {
    const float d = loadHalf(in + 108);
    for (int j = 0; j < 16; ++j) {
      const float scale = d * static_cast<float>(unpackQ3Scale(in + 96, j));
      for (int i = 0; i < 16; ++i) {
        int e = 16 * j + i;
        // A clear high bit means the code is 4 below its low two bits.
        int high = (in[e % 32] >> (e / 32)) & 1;
        int code = unpack2Bit(in + 32, e) - (high ? 0 : 4);
        y[e] = scale * static_cast<float>(code);
      }
    }
  });
}

void dequantizeRowQ4_K(const void *src, float *dst, int64_t n) {
  dequantizeRow(Format::Q4_K, src, dst, n, [](const uint8_t *in, float *y) {
    const float d = loadHalf(in);
    const float dmin = loadHalf(in + 2);
    const uint8_t *qs = in + 16;
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      unpackK4Scale(in + 4, j, sc, m);
      const float scale = d * static_cast<float>(sc);
      const float min = dmin * static_cast<float>(m);
      const uint8_t *q = qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int i = 0; i < 32; ++i)
        y[32 * j + i] = scale * static_cast<float>((q[i] >> shift) & 0xF) - min;
    }
  });
}

void dequantizeRowQ5_K(const void *src, float *dst, int64_t n) {
  dequantizeRow(Format::Q5_K, src, dst, n, [](const uint8_t *in, float *y) {
    const float d = loadHalf(in);
    const float dmin = loadHalf(in + 2);
    const uint8_t *qh = in + 16;
    const uint8_t *qs = in + 48;
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      unpackK4Scale(in + 4, j, sc, m);
      const float scale = d * static_cast<float>(sc);
      const float min = dmin * static_cast<float>(m);
      const uint8_t *q = qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int i = 0; i < 32; ++i) {
        int code = ((q[i] >> shift) & 0xF) | (((qh[i] >> j) & 1) << 4);
        y[32 * j + i] = scale * static_cast<float>(code) - min;
      }
    }
  });
}

void dequantizeRowQ6_K(const void *src, float *dst, int64_t n) {
  dequantizeRow(Format::Q6_K, src, dst, n, [](const uint8_t *in, float *y) {
    const float d = loadHalf(in + 208);
    const auto *scales = reinterpret_cast<const int8_t *>(in + 192);
    for (int e = 0; e < kSuperBlock; ++e) {
      int half = e / 128, s = (e % 128) / 32, l = e % 32;
      int low = (in[64 * half + l + 32 * (s % 2)] >> (4 * (s / 2))) & 0xF;
      int high = (in[128 + 32 * half + l] >> (2 * s)) & 3;
      int code = (low | (high << 4)) - 32;
      y[e] = d * static_cast<float>(scales[e / 16]) * static_cast<float>(code);
    }
  });
}

void dequantizeRowQ8_K(const void *src, float *dst, int64_t n) {
  dequantizeRow(Format::Q8_K, src, dst, n, [](const uint8_t *in, float *y) {
    float d;
    std::memcpy(&d, in, sizeof(d));
    for (int i = 0; i < kSuperBlock; ++i)
      y[i] = d * static_cast<float>(static_cast<int8_t>(in[4 + i]));
  });
}

//===----------------------------------------------------------------------===//
// Dispatch
//===----------------------------------------------------------------------===//

const RowCodec *getKQuantRowCodec(Format format) {
  for (const RowCodec &codec : kKQuantCodecs)
    if (codec.format == format)
      return &codec;
  return nullptr;
}

} // namespace quantc
