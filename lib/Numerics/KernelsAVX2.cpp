//===- KernelsAVX2.cpp - AVX2 block codecs and float conversions ----------===//
//
// The AVX-512 kernels (KernelsAVX512.cpp) on 8-lane vectors, for CPUs
// without AVX-512: the same transcription of the scalar reference (same
// float operations in the same order, no FMA contraction, vcvttps2dq's
// INT32_MIN for NaN and out-of-range values, blocks with NaN or infinity
// handed to the reference), so the bytes are the reference's. The
// importance-weighted searches stay scalar on this tier.
//
// The library is built for baseline x86-64: these functions carry target
// attributes, and Isa.cpp selects them only on CPUs with AVX2 and F16C.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#if defined(__x86_64__)

#include "quantc/Numerics/Float.h"

#include <immintrin.h>

#include <cstring>

#define QUANTC_AVX2 __attribute__((target("avx2,f16c")))

namespace quantc::detail {
namespace {

constexpr int kBlock = 32;
/// Bit pattern of +infinity: |x| at or above it is infinity or NaN.
constexpr int kInfBits = 0x7F800000;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// A block as four 8-lane vectors: elements 0-7, 8-15, 16-23, 24-31.
struct Block {
  __m256 v[4];
};

QUANTC_AVX2 Block loadBlock(const float *x) {
  return {{_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8), _mm256_loadu_ps(x + 16),
           _mm256_loadu_ps(x + 24)}};
}

/// fp16 fields: vcvtps2ph rounds to nearest even like fp32ToFp16 for every
/// non-NaN value, and block scales are never NaN here.
QUANTC_AVX2 void storeHalf(uint8_t *p, float value) {
  uint16_t bits = _cvtss_sh(value, _MM_FROUND_TO_NEAREST_INT);
  std::memcpy(p, &bits, sizeof(bits));
}

/// vcvtph2ps quiets a signalling-NaN scale, which the reference keeps; the
/// products the scale feeds come out the same NaN either way.
QUANTC_AVX2 float loadHalf(const uint8_t *p) {
  uint16_t bits;
  std::memcpy(&bits, p, sizeof(bits));
  return _cvtsh_ss(bits);
}

QUANTC_AVX2 int reduceMaxInt(__m256i v) {
  __m128i m =
      _mm_max_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(m);
}

QUANTC_AVX2 float reduceMin(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

QUANTC_AVX2 float reduceMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

QUANTC_AVX2 __m256i absBits(__m256 x) {
  return _mm256_and_si256(_mm256_castps_si256(x),
                          _mm256_set1_epi32(0x7FFFFFFF));
}

/// Bit j set where lane j of the block is set in `lanes`.
QUANTC_AVX2 uint32_t blockMask(const __m256 *lanes) {
  return uint32_t(_mm256_movemask_ps(lanes[0])) |
         uint32_t(_mm256_movemask_ps(lanes[1])) << 8 |
         uint32_t(_mm256_movemask_ps(lanes[2])) << 16 |
         uint32_t(_mm256_movemask_ps(lanes[3])) << 24;
}

/// Largest |x| of a block as a bit pattern (for non-negative floats, integer
/// order is float order); kInfBits or more when the block is not finite.
/// Also returns the magnitudes.
QUANTC_AVX2 int absMaxBits(const Block &block, __m256i *abs) {
  for (int k = 0; k < 4; ++k)
    abs[k] = absBits(block.v[k]);
  return reduceMaxInt(_mm256_max_epi32(_mm256_max_epi32(abs[0], abs[1]),
                                       _mm256_max_epi32(abs[2], abs[3])));
}

/// The reference's signedAbsMax of a finite block: the first element of
/// the largest magnitude, or +0.
QUANTC_AVX2 float signedAbsMax(const float *x, const __m256i *abs,
                               int amaxBits) {
  if (amaxBits == 0)
    return 0.0f;
  const __m256i v = _mm256_set1_epi32(amaxBits);
  __m256 hits[4];
  for (int k = 0; k < 4; ++k)
    hits[k] = _mm256_castsi256_ps(_mm256_cmpeq_epi32(abs[k], v));
  return x[__builtin_ctz(blockMask(hits))];
}

/// Index of the first element of the block equal to `value`.
QUANTC_AVX2 int firstEqual(const Block &block, float value) {
  const __m256 v = _mm256_set1_ps(value);
  __m256 hits[4];
  for (int k = 0; k < 4; ++k)
    hits[k] = _mm256_cmp_ps(block.v[k], v, _CMP_EQ_OQ);
  return __builtin_ctz(blockMask(hits));
}

/// The reference's extremes of a finite block: the numeric min and max,
/// each with the sign of the first element equal to it (which matters for
/// zero: the reference keeps the first of -0 and +0 it meets).
QUANTC_AVX2 void minMax(const float *x, const Block &block, float &min,
                        float &max) {
  min = reduceMin(_mm256_min_ps(_mm256_min_ps(block.v[0], block.v[1]),
                                _mm256_min_ps(block.v[2], block.v[3])));
  max = reduceMax(_mm256_max_ps(_mm256_max_ps(block.v[0], block.v[1]),
                                _mm256_max_ps(block.v[2], block.v[3])));
  if (min == 0)
    min = x[firstEqual(block, 0.0f)];
  if (max == 0)
    max = x[firstEqual(block, 0.0f)];
}

/// ggml's `(int8_t)value` on int32 lanes: the low byte, sign-extended.
QUANTC_AVX2 __m256i lowByteSigned(__m256i v) {
  return _mm256_srai_epi32(_mm256_slli_epi32(v, 24), 24);
}

/// The low bytes of 16 int32 lanes (a: elements 0-7, b: 8-15), in order.
QUANTC_AVX2 __m128i lowBytes(__m256i a, __m256i b) {
  const __m256i byte = _mm256_set1_epi32(0xFF);
  a = _mm256_and_si256(a, byte);
  b = _mm256_and_si256(b, byte);
  // Values 0..255: the saturating packs keep them as they are.
  return _mm_packus_epi16(_mm_packus_epi32(_mm256_castsi256_si128(a),
                                           _mm256_extracti128_si256(a, 1)),
                          _mm_packus_epi32(_mm256_castsi256_si128(b),
                                           _mm256_extracti128_si256(b, 1)));
}

/// Bit 4 of each code at bit j of the qh word.
QUANTC_AVX2 uint32_t packHighBits(const __m256i *codes) {
  __m256 bits[4];
  for (int k = 0; k < 4; ++k)
    bits[k] = _mm256_castsi256_ps(_mm256_slli_epi32(codes[k], 27));
  return blockMask(bits);
}

/// Nibbles of 32 codes: element j low, element j + 16 high; `mask` keeps
/// four bits of each code, as packNibbles does (Q4_0 and Q4_1 OR the whole
/// codes in).
QUANTC_AVX2 __m128i packNibbles(const __m256i *codes, bool mask) {
  const __m256i low = _mm256_set1_epi32(mask ? 0x0F : -1);
  __m256i pairs[2];
  for (int k = 0; k < 2; ++k)
    pairs[k] = _mm256_or_si256(
        _mm256_and_si256(codes[k], low),
        _mm256_slli_epi32(_mm256_and_si256(codes[k + 2], low), 4));
  return lowBytes(pairs[0], pairs[1]);
}

QUANTC_AVX2 void storeBytes(uint8_t *p, __m128i bytes) {
  _mm_storeu_si128(reinterpret_cast<__m128i *>(p), bytes);
}

/// std::round (halves away from zero): truncate, then step away from zero
/// where the dropped fraction (exact) is at least one half.
QUANTC_AVX2 __m256 roundHalfAway(__m256 v) {
  __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  __m256 fraction =
      _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(v, t));
  __m256 up = _mm256_cmp_ps(fraction, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  __m256 step = _mm256_or_ps(_mm256_and_ps(v, _mm256_set1_ps(-0.0f)),
                             _mm256_set1_ps(1.0f));
  return _mm256_add_ps(t, _mm256_and_ps(up, step));
}

//===----------------------------------------------------------------------===//
// Quantizers (no importance)
//===----------------------------------------------------------------------===//

/// Codes of the symmetric formats: min(int8(x * id + bias), top).
QUANTC_AVX2 void symmetricCodes(const Block &block, float id, float bias,
                                int top, __m256i *codes) {
  const __m256 vid = _mm256_set1_ps(id), vbias = _mm256_set1_ps(bias);
  for (int k = 0; k < 4; ++k)
    codes[k] = _mm256_min_epi32(lowByteSigned(_mm256_cvttps_epi32(_mm256_add_ps(
                                    _mm256_mul_ps(block.v[k], vid), vbias))),
                                _mm256_set1_epi32(top));
}

/// Codes of the affine formats: truncate((x - min) * id + 0.5).
QUANTC_AVX2 void affineCodes(const Block &block, float min, float id,
                             __m256i *codes) {
  const __m256 vmin = _mm256_set1_ps(min), vid = _mm256_set1_ps(id);
  for (int k = 0; k < 4; ++k)
    codes[k] = _mm256_cvttps_epi32(
        _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(block.v[k], vmin), vid),
                      _mm256_set1_ps(0.5f)));
}

QUANTC_AVX2 void quantizeQ4_0(const float *x, uint8_t *out, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, x += kBlock, out += 18) {
    Block block = loadBlock(x);
    __m256i abs[4];
    int amaxBits = absMaxBits(block, abs);
    if (amaxBits >= kInfBits) {
      quantizeBlockQ4_0Ref(x, out);
      continue;
    }
    const float d = signedAbsMax(x, abs, amaxBits) / -8;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    storeHalf(out, d);
    __m256i codes[4];
    symmetricCodes(block, id, 8.5f, 15, codes);
    storeBytes(out + 2, packNibbles(codes, false));
  }
}

QUANTC_AVX2 void quantizeQ5_0(const float *x, uint8_t *out, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, x += kBlock, out += 22) {
    Block block = loadBlock(x);
    __m256i abs[4];
    int amaxBits = absMaxBits(block, abs);
    if (amaxBits >= kInfBits) {
      quantizeBlockQ5_0Ref(x, out);
      continue;
    }
    const float d = signedAbsMax(x, abs, amaxBits) / -16;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    storeHalf(out, d);
    __m256i codes[4];
    symmetricCodes(block, id, 16.5f, 31, codes);
    uint32_t qh = packHighBits(codes);
    std::memcpy(out + 2, &qh, sizeof(qh));
    storeBytes(out + 6, packNibbles(codes, true));
  }
}

QUANTC_AVX2 void quantizeQ4_1(const float *x, uint8_t *out, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, x += kBlock, out += 20) {
    Block block = loadBlock(x);
    __m256i abs[4];
    if (absMaxBits(block, abs) >= kInfBits) {
      quantizeBlockQ4_1Ref(x, out);
      continue;
    }
    float min, max;
    minMax(x, block, min, max);
    const float d = (max - min) / 15;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    storeHalf(out, d);
    storeHalf(out + 2, min);
    __m256i codes[4];
    affineCodes(block, min, id, codes);
    for (__m256i &code : codes)
      code = _mm256_min_epi32(lowByteSigned(code), _mm256_set1_epi32(15));
    storeBytes(out + 4, packNibbles(codes, false));
  }
}

QUANTC_AVX2 void quantizeQ5_1(const float *x, uint8_t *out, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, x += kBlock, out += 24) {
    Block block = loadBlock(x);
    __m256i abs[4];
    if (absMaxBits(block, abs) >= kInfBits) {
      quantizeBlockQ5_1Ref(x, out);
      continue;
    }
    float min, max;
    minMax(x, block, min, max);
    const float d = (max - min) / 31;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    storeHalf(out, d);
    storeHalf(out + 2, min);
    // Unclamped: only the low byte counts, as in the reference.
    __m256i codes[4];
    affineCodes(block, min, id, codes);
    uint32_t qh = packHighBits(codes);
    std::memcpy(out + 4, &qh, sizeof(qh));
    storeBytes(out + 8, packNibbles(codes, true));
  }
}

/// Q8_0/Q8_1 codes of a finite block into out[0..31]; returns d and the
/// sum of the codes.
QUANTC_AVX2 float quantizeInt8(const Block &block, int amaxBits, uint8_t *out,
                               int &sum) {
  float amax;
  std::memcpy(&amax, &amaxBits, sizeof(amax));
  const float d = amax / 127;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  const __m256 vid = _mm256_set1_ps(id);
  __m256i codes[4];
  for (int k = 0; k < 4; ++k)
    codes[k] =
        _mm256_cvttps_epi32(roundHalfAway(_mm256_mul_ps(block.v[k], vid)));
  storeBytes(out, lowBytes(codes[0], codes[1]));
  storeBytes(out + 16, lowBytes(codes[2], codes[3]));
  __m256i total = _mm256_add_epi32(
      _mm256_add_epi32(lowByteSigned(codes[0]), lowByteSigned(codes[1])),
      _mm256_add_epi32(lowByteSigned(codes[2]), lowByteSigned(codes[3])));
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(total),
                            _mm256_extracti128_si256(total, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  sum = _mm_cvtsi128_si32(s);
  return d;
}

QUANTC_AVX2 void quantizeQ8_0(const float *x, uint8_t *out, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, x += kBlock, out += 34) {
    Block block = loadBlock(x);
    __m256i abs[4];
    int amaxBits = absMaxBits(block, abs);
    if (amaxBits >= kInfBits) {
      quantizeBlockQ8_0Ref(x, out);
      continue;
    }
    int sum;
    storeHalf(out, quantizeInt8(block, amaxBits, out + 2, sum));
  }
}

QUANTC_AVX2 void quantizeQ8_1(const float *x, uint8_t *out, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, x += kBlock, out += 36) {
    Block block = loadBlock(x);
    __m256i abs[4];
    int amaxBits = absMaxBits(block, abs);
    if (amaxBits >= kInfBits) {
      quantizeBlockQ8_1Ref(x, out);
      continue;
    }
    int sum;
    const float d = quantizeInt8(block, amaxBits, out + 4, sum);
    storeHalf(out, d);
    storeHalf(out + 2, static_cast<float>(sum) * d);
  }
}

//===----------------------------------------------------------------------===//
// Dequantizers
//===----------------------------------------------------------------------===//

/// The 32 nibbles at `qs` (element j low in byte j, j + 16 high) as codes.
QUANTC_AVX2 void loadNibbles(const uint8_t *qs, __m256i *codes) {
  __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i *>(qs));
  __m256i lo = _mm256_cvtepu8_epi32(bytes);
  __m256i hi = _mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8));
  const __m256i low = _mm256_set1_epi32(0x0F);
  codes[0] = _mm256_and_si256(lo, low);
  codes[1] = _mm256_and_si256(hi, low);
  codes[2] = _mm256_srli_epi32(lo, 4);
  codes[3] = _mm256_srli_epi32(hi, 4);
}

/// Adds bit j of qh as bit 4 of code j.
QUANTC_AVX2 void addHighBits(const uint8_t *qhBytes, __m256i *codes) {
  uint32_t qh;
  std::memcpy(&qh, qhBytes, sizeof(qh));
  const __m256i shifts = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int k = 0; k < 4; ++k) {
    __m256i bits = _mm256_srlv_epi32(
        _mm256_set1_epi32(static_cast<int>(qh >> (8 * k))), shifts);
    codes[k] = _mm256_or_si256(
        codes[k],
        _mm256_slli_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(1)), 4));
  }
}

/// y = (code - offset) * d over a block.
QUANTC_AVX2 void storeSymmetric(float *y, const __m256i *codes, int offset,
                                float d) {
  const __m256i o = _mm256_set1_epi32(offset);
  const __m256 vd = _mm256_set1_ps(d);
  for (int k = 0; k < 4; ++k)
    _mm256_storeu_ps(
        y + 8 * k,
        _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(codes[k], o)), vd));
}

/// y = code * d + m over a block.
QUANTC_AVX2 void storeAffine(float *y, const __m256i *codes, float d, float m) {
  const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
  for (int k = 0; k < 4; ++k)
    _mm256_storeu_ps(
        y + 8 * k,
        _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(codes[k]), vd), vm));
}

QUANTC_AVX2 void dequantizeQ4_0(const uint8_t *in, float *y, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, in += 18, y += kBlock) {
    __m256i codes[4];
    loadNibbles(in + 2, codes);
    storeSymmetric(y, codes, 8, loadHalf(in));
  }
}

QUANTC_AVX2 void dequantizeQ4_1(const uint8_t *in, float *y, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, in += 20, y += kBlock) {
    __m256i codes[4];
    loadNibbles(in + 4, codes);
    storeAffine(y, codes, loadHalf(in), loadHalf(in + 2));
  }
}

QUANTC_AVX2 void dequantizeQ5_0(const uint8_t *in, float *y, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, in += 22, y += kBlock) {
    __m256i codes[4];
    loadNibbles(in + 6, codes);
    addHighBits(in + 2, codes);
    storeSymmetric(y, codes, 16, loadHalf(in));
  }
}

QUANTC_AVX2 void dequantizeQ5_1(const uint8_t *in, float *y, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, in += 24, y += kBlock) {
    __m256i codes[4];
    loadNibbles(in + 8, codes);
    addHighBits(in + 4, codes);
    storeAffine(y, codes, loadHalf(in), loadHalf(in + 2));
  }
}

/// Int8 codes at `qs` times d.
QUANTC_AVX2 void storeInt8(float *y, const uint8_t *qs, float d) {
  __m256i codes[4];
  for (int k = 0; k < 4; ++k)
    codes[k] = _mm256_cvtepi8_epi32(
        _mm_loadl_epi64(reinterpret_cast<const __m128i *>(qs + 8 * k)));
  storeSymmetric(y, codes, 0, d);
}

QUANTC_AVX2 void dequantizeQ8_0(const uint8_t *in, float *y, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, in += 34, y += kBlock)
    storeInt8(y, in + 2, loadHalf(in));
}

QUANTC_AVX2 void dequantizeQ8_1(const uint8_t *in, float *y, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, in += 36, y += kBlock)
    storeInt8(y, in + 4, loadHalf(in));
}

//===----------------------------------------------------------------------===//
// 16-bit floats (tails run the scalar conversions)
//===----------------------------------------------------------------------===//

/// fp32ToFp16 on 8 lanes: vcvtps2ph rounds like it but keeps NaN payloads,
/// where the reference stores sign | 0x7E00.
QUANTC_AVX2 __m128i narrowFp16(__m256 x) {
  __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  if (_mm256_movemask_ps(nan)) {
    __m256i quiet = _mm256_or_si256(
        _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(x), 16),
                         _mm256_set1_epi32(0x8000)),
        _mm256_set1_epi32(0x7E00));
    __m256i mask = _mm256_castps_si256(nan);
    h = _mm_blendv_epi8(h,
                        _mm_packus_epi32(_mm256_castsi256_si128(quiet),
                                         _mm256_extracti128_si256(quiet, 1)),
                        _mm_packs_epi32(_mm256_castsi256_si128(mask),
                                        _mm256_extracti128_si256(mask, 1)));
  }
  return h;
}

/// fp16ToFp32 on 8 lanes: vcvtph2ps is exact but quiets signalling NaNs,
/// whose payload the reference keeps as it is.
QUANTC_AVX2 __m256 widenFp16(__m128i h) {
  __m256 f = _mm256_cvtph_ps(h);
  __m128i nan = _mm_cmpgt_epi16(_mm_and_si128(h, _mm_set1_epi16(0x7FFF)),
                                _mm_set1_epi16(0x7C00));
  if (_mm_movemask_epi8(nan)) {
    __m256i w = _mm256_cvtepu16_epi32(h);
    __m256i bits = _mm256_or_si256(
        _mm256_slli_epi32(_mm256_and_si256(w, _mm256_set1_epi32(0x8000)), 16),
        _mm256_or_si256(_mm256_slli_epi32(
                            _mm256_and_si256(w, _mm256_set1_epi32(0x7FFF)), 13),
                        _mm256_set1_epi32(0x70000000)));
    f = _mm256_blendv_ps(f, _mm256_castsi256_ps(bits),
                         _mm256_castsi256_ps(_mm256_cvtepi16_epi32(nan)));
  }
  return f;
}

/// fp32ToBf16 on 8 lanes: add 0x7FFF plus the kept lsb, keep the top half;
/// NaN keeps its top half with the quiet bit set.
QUANTC_AVX2 __m128i narrowBf16(__m256 x) {
  __m256i bits = _mm256_castps_si256(x);
  __m256i top = _mm256_srli_epi32(bits, 16);
  __m256i bias = _mm256_add_epi32(_mm256_set1_epi32(0x7FFF),
                                  _mm256_and_si256(top, _mm256_set1_epi32(1)));
  __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(bits, bias), 16);
  __m256i quiet = _mm256_or_si256(top, _mm256_set1_epi32(0x40));
  rounded = _mm256_blendv_epi8(
      rounded, quiet, _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q)));
  // Values 0..0xFFFF: the saturating pack keeps them as they are.
  return _mm_packus_epi32(_mm256_castsi256_si128(rounded),
                          _mm256_extracti128_si256(rounded, 1));
}

QUANTC_AVX2 void fp32ToFp16(const float *src, uint16_t *dst, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i),
                     narrowFp16(_mm256_loadu_ps(src + i)));
  for (; i < count; ++i)
    dst[i] = quantc::fp32ToFp16(src[i]);
}

QUANTC_AVX2 void fp16ToFp32(const uint16_t *src, float *dst, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(dst + i, widenFp16(_mm_loadu_si128(
                                  reinterpret_cast<const __m128i *>(src + i))));
  for (; i < count; ++i)
    dst[i] = quantc::fp16ToFp32(src[i]);
}

QUANTC_AVX2 void fp32ToBf16(const float *src, uint16_t *dst, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i),
                     narrowBf16(_mm256_loadu_ps(src + i)));
  for (; i < count; ++i)
    dst[i] = quantc::fp32ToBf16(src[i]);
}

QUANTC_AVX2 void bf16ToFp32(const uint16_t *src, float *dst, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(dst + i,
                     _mm256_castsi256_ps(_mm256_slli_epi32(
                         _mm256_cvtepu16_epi32(_mm_loadu_si128(
                             reinterpret_cast<const __m128i *>(src + i))),
                         16)));
  for (; i < count; ++i)
    dst[i] = quantc::bf16ToFp32(src[i]);
}

constexpr Kernels kAVX2Kernels = {
    quantizeQ4_0,   quantizeQ4_1,   quantizeQ5_0,   quantizeQ5_1,
    quantizeQ8_0,   quantizeQ8_1,
    nullptr, // the importance-weighted searches stay scalar
    nullptr,        nullptr,        nullptr,        dequantizeQ4_0,
    dequantizeQ4_1, dequantizeQ5_0, dequantizeQ5_1, dequantizeQ8_0,
    dequantizeQ8_1, fp32ToFp16,     fp32ToBf16,     fp16ToFp32,
    bf16ToFp32,
};

} // namespace

const Kernels *avx2Kernels() { return &kAVX2Kernels; }

} // namespace quantc::detail

#else

namespace quantc::detail {
const Kernels *avx2Kernels() { return nullptr; }
} // namespace quantc::detail

#endif // defined(__x86_64__)
