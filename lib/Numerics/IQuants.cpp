//===- IQuants.cpp - llama.cpp's non-linear 4-bit formats -----------------===//
//
// Both formats share one search: per 32-element group, fit the scale that
// minimises the weighted squared error of scale * level over a few trial
// inverse scales. IQ4_NL stores that scale; IQ4_XS stores the largest one
// per super-block and the others as 6-bit multiples of it, then re-encodes
// each group with its rounded scale.
//
// Bit-exactness with llama.cpp rests on the same float operations in the
// same order (see LegacyQuants.cpp); the nearest-level lookup is exact by
// construction, so it may differ from ggml's in how it gets there.
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/IQuants.h"

#include "quantc/Numerics/Float.h"

#include "BlockBytes.h"

#include <cassert>
#include <cmath>

namespace quantc {
namespace {

using namespace detail;

/// Elements sharing one scale in both formats.
constexpr int kGroup = 32;
constexpr int kHalfGroup = kGroup / 2;
/// IQ4_XS super-block: eight groups under one fp16 scale.
constexpr int kSuperBlock = 256;
constexpr int kGroupsPerSuperBlock = kSuperBlock / kGroup;
/// Trial inverse scales (level0 + step) / max for step in [-7, 7]; llama.cpp
/// uses this count whether or not it has an importance matrix.
constexpr int kSearchSteps = 7;
/// Groups whose largest magnitude is below this get scale 0.
constexpr float kGroupMaxEps = 1e-15f;
/// IQ4_XS stores each group's scale multiple l in [-32, 31] as 6 bits, l + 32.
constexpr int kSubScaleBias = 32;

// Block layouts (ggml-common.h), offsets in bytes, little-endian:
//   IQ4_NL: d (fp16), qs[16].
//   IQ4_XS: d (fp16), scales_h (u16: 2 high bits per group), scales_l[4]
//           (low nibbles, two groups per byte), qs[128] (16 per group).
constexpr int kXsScalesHOffset = 2;
constexpr int kXsScalesLOffset = 4;
constexpr int kXsCodesOffset = 8;

//===----------------------------------------------------------------------===//
// Scalar helpers
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// Nearest level
//===----------------------------------------------------------------------===//

// v is nearer level k than level k - 1 (or equally near) exactly when
// 2v >= kIQ4Levels[k - 1] + kIQ4Levels[k]. Those sums are integers and 2v is
// exact, so the level depends only on floor(2v): one table lookup instead of
// a search, and ties go to the upper level as in llama.cpp.
constexpr int kLowestSum = kIQ4Levels[0] + kIQ4Levels[1];
constexpr int kHighestSum = kIQ4Levels[14] + kIQ4Levels[15];
/// floor(2v) is clamped to [kLowestSum - 1, kHighestSum]; outside that the
/// level is 0 or 15 regardless.
constexpr int kFloorBase = kLowestSum - 1;
constexpr int kFloorCount = kHighestSum - kFloorBase + 1;

struct LevelTable {
  uint8_t levelAtFloor[kFloorCount];
  float value[16];
};

constexpr LevelTable makeLevelTable() {
  LevelTable table{};
  for (int i = 0; i < kFloorCount; ++i) {
    int twice = kFloorBase + i;
    int level = 0;
    for (int k = 1; k < 16; ++k)
      if (twice >= kIQ4Levels[k - 1] + kIQ4Levels[k])
        level = k;
    table.levelAtFloor[i] = static_cast<uint8_t>(level);
  }
  for (int k = 0; k < 16; ++k)
    table.value[k] = static_cast<float>(kIQ4Levels[k]);
  return table;
}

constexpr LevelTable kLevelTable = makeLevelTable();

/// Index of the level nearest to `v`, the upper one on ties; NaN gives 0.
inline int nearestLevel(float v) {
  float twice = v + v;
  // Clamp before converting so the conversion stays in range.
  constexpr auto lo = static_cast<float>(kFloorBase);
  constexpr auto hi = static_cast<float>(kHighestSum);
  twice = twice >= lo ? twice : lo;
  twice = twice <= hi ? twice : hi;
  int whole = static_cast<int>(twice);
  whole -= static_cast<float>(whole) > twice ? 1 : 0; // trunc -> floor
  return kLevelTable.levelAtFloor[whole - kFloorBase];
}

//===----------------------------------------------------------------------===//
// Group scale search
//===----------------------------------------------------------------------===//

/// Sum of squares of `n` values, accumulated in order as ggml does.
float sumOfSquares(const float *x, int n) {
  float sum = 0;
  for (int j = 0; j < n; ++j)
    sum += x[j] * x[j];
  return sum;
}

/// Per-element weights of the error the search minimises: with importance,
/// llama.cpp's importance * sqrt(sigma2 + x^2) (sigma2 = twice the block's
/// mean square); without, x^2, which favours the large values.
void groupWeights(const float *x, const float *importance, float sigma2,
                  float *weight) {
  if (importance) {
    for (int j = 0; j < kGroup; ++j)
      weight[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
  } else {
    for (int j = 0; j < kGroup; ++j)
      weight[j] = x[j] * x[j];
  }
}

/// Weighted least-squares fit of the group against the levels that
/// `inverseScale` selects: sum w*q*x and sum w*q*q, in element order.
void fitLevels(const float *x, const float *weight, float inverseScale,
               float &sumQX, float &sumQ2) {
  float qx = 0, q2 = 0;
  for (int j = 0; j < kGroup; ++j) {
    float q = kLevelTable.value[nearestLevel(inverseScale * x[j])];
    float wq = weight[j] * q;
    qx += wq * x[j];
    q2 += wq * q;
  }
  sumQX = qx;
  sumQ2 = q2;
}

/// The scale of one group; 0 when all its magnitudes are below 1e-15.
/// Starts at inverse scale 127 / max (max: the value of largest magnitude,
/// which lands past the top level), then tries (step - 127) / max, which
/// put it at or near the bottom level. Each trial's least-squares scale
/// replaces the best when it explains more weighted energy (sumQX^2 /
/// sumQ2); the comparison is strict, so earlier trials win ties.
float searchGroupScale(const float *x, const float *weight) {
  float amax = 0, max = 0;
  for (int j = 0; j < kGroup; ++j) {
    float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  if (amax < kGroupMaxEps)
    return 0.0f;

  const auto level0 = static_cast<float>(kIQ4Levels[0]);
  float sumQX, sumQ2;
  fitLevels(x, weight, 1 / (-max / level0), sumQX, sumQ2);
  float scale = sumQ2 > 0 ? sumQX / sumQ2 : 0.0f;
  float best = scale * sumQX;
  for (int step = -kSearchSteps; step <= kSearchSteps; ++step) {
    float inverse = static_cast<float>(step + kIQ4Levels[0]) / max;
    fitLevels(x, weight, inverse, sumQX, sumQ2);
    if (sumQ2 > 0 && sumQX * sumQX > best * sumQ2) {
      scale = sumQX / sumQ2;
      best = scale * sumQX;
    }
  }
  return scale;
}

/// Codes of a group at `inverseScale`, packed as ggml does: element j in
/// the low nibble of byte j, element j + 16 in its high nibble.
void encodeGroup(const float *x, float inverseScale, uint8_t *qs) {
  for (int j = 0; j < kHalfGroup; ++j) {
    int lo = nearestLevel(inverseScale * x[j]);
    int hi = nearestLevel(inverseScale * x[j + kHalfGroup]);
    qs[j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

//===----------------------------------------------------------------------===//
// Block quantizers
//===----------------------------------------------------------------------===//

void quantizeBlockIQ4_NL(const float *x, const float *importance,
                         uint8_t *out) {
  const float sigma2 = sumOfSquares(x, kGroup) * (2.0f / kGroup);
  float weight[kGroup];
  groupWeights(x, importance, sigma2, weight);
  // Codes are re-derived from the fp32 scale (not its fp16 rounding), and a
  // zero scale encodes every element as the level nearest 0.
  const float scale = searchGroupScale(x, weight);
  storeHalf(out, scale);
  encodeGroup(x, scale != 0 ? 1 / scale : 0.0f, out + 2);
}

void quantizeSuperBlockIQ4_XS(const float *x, const float *importance,
                              uint8_t *out) {
  const float sigma2 = sumOfSquares(x, kSuperBlock) * (2.0f / kSuperBlock);
  float scales[kGroupsPerSuperBlock];
  float weight[kGroup];
  float maxScale = 0, amaxScale = 0;
  for (int g = 0; g < kGroupsPerSuperBlock; ++g) {
    groupWeights(x + g * kGroup, importance ? importance + g * kGroup : nullptr,
                 sigma2, weight);
    scales[g] = searchGroupScale(x + g * kGroup, weight);
    if (std::fabs(scales[g]) > amaxScale) {
      amaxScale = std::fabs(scales[g]);
      maxScale = scales[g];
    }
  }

  // The signed largest scale maps to sub-scale -32, so d may be negative;
  // an all-zero super-block stores d = -0.
  const float d = -maxScale / kSubScaleBias;
  const float inverse = d != 0 ? 1 / d : 0.0f;
  storeHalf(out, d);
  uint16_t scalesH = 0;
  uint8_t *scalesL = out + kXsScalesLOffset;
  for (int g = 0; g < kGroupsPerSuperBlock / 2; ++g)
    scalesL[g] = 0;
  for (int g = 0; g < kGroupsPerSuperBlock; ++g) {
    int l = nearestInt(inverse * scales[g]);
    l = l < -kSubScaleBias ? -kSubScaleBias
                           : (l > kSubScaleBias - 1 ? kSubScaleBias - 1 : l);
    const float groupScale = d * static_cast<float>(l);
    encodeGroup(x + g * kGroup, groupScale != 0 ? 1 / groupScale : 0.0f,
                out + kXsCodesOffset + g * kHalfGroup);
    const auto stored = static_cast<unsigned>(l + kSubScaleBias);
    scalesL[g / 2] |= static_cast<uint8_t>((stored & 0xFu) << (4 * (g % 2)));
    scalesH |= static_cast<uint16_t>((stored >> 4) << (2 * g));
  }
  out[kXsScalesHOffset] = static_cast<uint8_t>(scalesH);
  out[kXsScalesHOffset + 1] = static_cast<uint8_t>(scalesH >> 8);
}

using BlockFn = void (*)(const float *x, const float *importance, uint8_t *out);

size_t quantizeRow(Format format, BlockFn block, const float *src, void *dst,
                   int64_t n, const float *importance) {
  const FormatInfo &info = getFormatInfo(format);
  assert(n % info.blockSize == 0 &&
         "row length must be a whole number of blocks");
  const int64_t blocks = n / info.blockSize;
  auto *out = static_cast<uint8_t *>(dst);
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t first = b * info.blockSize;
    block(src + first, importance ? importance + first : nullptr,
          out + b * info.bytesPerBlock);
  }
  return static_cast<size_t>(blocks) * info.bytesPerBlock;
}

//===----------------------------------------------------------------------===//
// Dequantization
//===----------------------------------------------------------------------===//

void dequantizeGroup(const uint8_t *qs, float scale, float *y) {
  for (int j = 0; j < kHalfGroup; ++j) {
    y[j] = scale * kLevelTable.value[qs[j] & 0xF];
    y[j + kHalfGroup] = scale * kLevelTable.value[qs[j] >> 4];
  }
}

constexpr RowCodec kIQuantCodecs[] = {
    {Format::IQ4_NL, quantizeRowIQ4_NL, dequantizeRowIQ4_NL},
    {Format::IQ4_XS, quantizeRowIQ4_XS, dequantizeRowIQ4_XS},
};

} // namespace

//===----------------------------------------------------------------------===//
// Public row functions
//===----------------------------------------------------------------------===//

size_t quantizeRowIQ4_NL(const float *src, void *dst, int64_t n,
                         const float *importance) {
  return quantizeRow(Format::IQ4_NL, quantizeBlockIQ4_NL, src, dst, n,
                     importance);
}

size_t quantizeRowIQ4_XS(const float *src, void *dst, int64_t n,
                         const float *importance) {
  return quantizeRow(Format::IQ4_XS, quantizeSuperBlockIQ4_XS, src, dst, n,
                     importance);
}

void dequantizeRowIQ4_NL(const void *src, float *dst, int64_t n) {
  const FormatInfo &info = getFormatInfo(Format::IQ4_NL);
  assert(n % kGroup == 0 && "row length must be a whole number of blocks");
  const auto *in = static_cast<const uint8_t *>(src);
  for (int64_t b = 0; b < n / kGroup; ++b) {
    const uint8_t *block = in + b * info.bytesPerBlock;
    dequantizeGroup(block + 2, loadHalf(block), dst + b * kGroup);
  }
}

void dequantizeRowIQ4_XS(const void *src, float *dst, int64_t n) {
  const FormatInfo &info = getFormatInfo(Format::IQ4_XS);
  assert(n % kSuperBlock == 0 && "row length must be a whole number of blocks");
  const auto *in = static_cast<const uint8_t *>(src);
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const uint8_t *block = in + b * info.bytesPerBlock;
    const float d = loadHalf(block);
    const auto scalesH = static_cast<unsigned>(
        block[kXsScalesHOffset] | (block[kXsScalesHOffset + 1] << 8));
    for (int g = 0; g < kGroupsPerSuperBlock; ++g) {
      unsigned low = (block[kXsScalesLOffset + g / 2] >> (4 * (g % 2))) & 0xFu;
      unsigned high = (scalesH >> (2 * g)) & 3u;
      int l = static_cast<int>(low | (high << 4)) - kSubScaleBias;
      dequantizeGroup(block + kXsCodesOffset + g * kHalfGroup,
                      d * static_cast<float>(l),
                      dst + b * kSuperBlock + g * kGroup);
    }
  }
}

//===----------------------------------------------------------------------===//
// Dispatch
//===----------------------------------------------------------------------===//

const RowCodec *getIQuantRowCodec(Format format) {
  for (const RowCodec &codec : kIQuantCodecs)
    if (codec.format == format)
      return &codec;
  return nullptr;
}

} // namespace quantc
