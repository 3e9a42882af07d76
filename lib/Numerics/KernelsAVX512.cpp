//===- KernelsAVX512.cpp - AVX-512 block codecs and float conversions -----===//
//
// Every kernel here reproduces the scalar reference byte for byte: the same
// float operations in the same order (this file is built without FMA
// contraction), and vcvttps2dq, which like the x86 scalar cast the
// reference emulates gives INT32_MIN for NaN and out-of-range values. A
// block holding NaN or infinity goes to the scalar reference, whose
// comparisons treat them in ways a vector max does not.
//
// The library is built for baseline x86-64: these functions carry target
// attributes, and Isa.cpp selects them only on CPUs with AVX-512.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#if defined(__x86_64__)

#include <immintrin.h>

// GCC 12's AVX-512 intrinsics warn about their own undefined-vector
// placeholders wherever they inline (GCC bug 105593, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>

#define QUANTC_AVX512                                                          \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c")))

namespace quantc::detail {
namespace {

constexpr int kBlock = 32;
/// Bit pattern of +infinity: |x| at or above it is infinity or NaN.
constexpr int kInfBits = 0x7F800000;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// fp16 fields: vcvtps2ph rounds to nearest even like fp32ToFp16 for every
/// non-NaN value, and block scales are never NaN here.
QUANTC_AVX512 void storeHalf(uint8_t *p, float value) {
  uint16_t bits = _cvtss_sh(value, _MM_FROUND_TO_NEAREST_INT);
  std::memcpy(p, &bits, sizeof(bits));
}

/// vcvtph2ps quiets a signalling-NaN scale, which the reference keeps; the
/// products the scale feeds come out the same NaN either way.
QUANTC_AVX512 float loadHalf(const uint8_t *p) {
  uint16_t bits;
  std::memcpy(&bits, p, sizeof(bits));
  return _cvtsh_ss(bits);
}

/// Largest |x| of a block as a bit pattern (for non-negative floats, integer
/// order is float order); kInfBits or more when the block is not finite.
QUANTC_AVX512 int absMaxBits(__m512i absLo, __m512i absHi) {
  return _mm512_reduce_max_epi32(_mm512_max_epi32(absLo, absHi));
}

QUANTC_AVX512 __m512i absBits(__m512 x) {
  return _mm512_and_si512(_mm512_castps_si512(x),
                          _mm512_set1_epi32(0x7FFFFFFF));
}

/// Index of the first element of the block whose lanes in `lo`, `hi`
/// compare equal to `value`.
QUANTC_AVX512 int firstEqual(__m512 lo, __m512 hi, float value) {
  __m512 v = _mm512_set1_ps(value);
  uint32_t hits = _mm512_cmp_ps_mask(lo, v, _CMP_EQ_OQ) |
                  uint32_t(_mm512_cmp_ps_mask(hi, v, _CMP_EQ_OQ)) << 16;
  return __builtin_ctz(hits);
}

/// ggml's `(int8_t)value` on int32 lanes: the low byte, sign-extended.
QUANTC_AVX512 __m512i lowByteSigned(__m512i v) {
  return _mm512_srai_epi32(_mm512_slli_epi32(v, 24), 24);
}

/// truncateToInt8(x * id + bias) clamped above at `top`, as the reference
/// computes the codes of the symmetric formats.
QUANTC_AVX512 __m512i symmetricCodes(__m512 x, __m512 id, __m512 bias,
                                     __m512i top) {
  __m512i t = _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(x, id), bias));
  return _mm512_min_epi32(lowByteSigned(t), top);
}

/// Nibbles of 32 codes: element j low, element j + 16 high, masked.
QUANTC_AVX512 __m128i packNibbles(__m512i lo, __m512i hi) {
  const __m512i mask = _mm512_set1_epi32(0x0F);
  return _mm512_cvtepi32_epi8(
      _mm512_or_si512(_mm512_and_si512(lo, mask),
                      _mm512_slli_epi32(_mm512_and_si512(hi, mask), 4)));
}

/// Bit 4 of each code at bit j of the qh word.
QUANTC_AVX512 uint32_t packHighBits(__m512i lo, __m512i hi) {
  const __m512i bit = _mm512_set1_epi32(0x10);
  return _mm512_test_epi32_mask(lo, bit) |
         uint32_t(_mm512_test_epi32_mask(hi, bit)) << 16;
}

/// The reference's extremes of a finite block: the numeric min and max,
/// each with the sign of the first element equal to it (which matters for
/// zero: the reference keeps the first of -0 and +0 it meets).
QUANTC_AVX512 void minMax(const float *x, __m512 lo, __m512 hi, float &min,
                          float &max) {
  min = _mm512_reduce_min_ps(_mm512_min_ps(lo, hi));
  max = _mm512_reduce_max_ps(_mm512_max_ps(lo, hi));
  if (min == 0)
    min = x[firstEqual(lo, hi, 0.0f)];
  if (max == 0)
    max = x[firstEqual(lo, hi, 0.0f)];
}

/// The reference's signedAbsMax of a finite block whose largest |x| has
/// bits `amaxBits`: the first element of that magnitude, or +0.
QUANTC_AVX512 float signedAbsMax(const float *x, __m512i absLo, __m512i absHi,
                                 int amaxBits) {
  if (amaxBits == 0)
    return 0.0f;
  __m512i v = _mm512_set1_epi32(amaxBits);
  uint32_t hits = _mm512_cmpeq_epi32_mask(absLo, v) |
                  uint32_t(_mm512_cmpeq_epi32_mask(absHi, v)) << 16;
  return x[__builtin_ctz(hits)];
}

/// std::round (halves away from zero) on 16 lanes: truncate, then step
/// away from zero where the dropped fraction (exact) is at least one half.
QUANTC_AVX512 __m512 roundHalfAway(__m512 v) {
  __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  __m512 fraction = _mm512_abs_ps(_mm512_sub_ps(v, t));
  __mmask16 up = _mm512_cmp_ps_mask(fraction, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  __m512i sign =
      _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MIN));
  __m512 step = _mm512_castsi512_ps(
      _mm512_or_si512(sign, _mm512_castps_si512(_mm512_set1_ps(1.0f))));
  return _mm512_mask_add_ps(t, up, t, step);
}

//===----------------------------------------------------------------------===//
// Quantizers (no importance)
//===----------------------------------------------------------------------===//

QUANTC_AVX512 void quantizeQ4_0(const float *x, uint8_t *out, int64_t blocks) {
  const __m512 bias = _mm512_set1_ps(8.5f);
  const __m512i top = _mm512_set1_epi32(15);
  for (int64_t b = 0; b < blocks; ++b, x += kBlock, out += 18) {
    __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
    __m512i absLo = absBits(lo), absHi = absBits(hi);
    int amaxBits = absMaxBits(absLo, absHi);
    if (amaxBits >= kInfBits) {
      quantizeBlockQ4_0Ref(x, out);
      continue;
    }
    const float d = signedAbsMax(x, absLo, absHi, amaxBits) / -8;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    storeHalf(out, d);
    __m512 vid = _mm512_set1_ps(id);
    __m512i qlo = symmetricCodes(lo, vid, bias, top);
    __m512i qhi = symmetricCodes(hi, vid, bias, top);
    // Unmasked, as the reference ORs whole codes.
    _mm_storeu_si128(
        reinterpret_cast<__m128i *>(out + 2),
        _mm512_cvtepi32_epi8(_mm512_or_si512(qlo, _mm512_slli_epi32(qhi, 4))));
  }
}

QUANTC_AVX512 void quantizeQ5_0(const float *x, uint8_t *out, int64_t blocks) {
  const __m512 bias = _mm512_set1_ps(16.5f);
  const __m512i top = _mm512_set1_epi32(31);
  for (int64_t b = 0; b < blocks; ++b, x += kBlock, out += 22) {
    __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
    __m512i absLo = absBits(lo), absHi = absBits(hi);
    int amaxBits = absMaxBits(absLo, absHi);
    if (amaxBits >= kInfBits) {
      quantizeBlockQ5_0Ref(x, out);
      continue;
    }
    const float d = signedAbsMax(x, absLo, absHi, amaxBits) / -16;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    storeHalf(out, d);
    __m512 vid = _mm512_set1_ps(id);
    __m512i qlo = symmetricCodes(lo, vid, bias, top);
    __m512i qhi = symmetricCodes(hi, vid, bias, top);
    uint32_t qh = packHighBits(qlo, qhi);
    std::memcpy(out + 2, &qh, sizeof(qh));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(out + 6),
                     packNibbles(qlo, qhi));
  }
}

/// Codes of the affine formats: truncate((x - min) * id + 0.5).
QUANTC_AVX512 __m512i affineCodes(__m512 x, __m512 min, __m512 id) {
  return _mm512_cvttps_epi32(_mm512_add_ps(
      _mm512_mul_ps(_mm512_sub_ps(x, min), id), _mm512_set1_ps(0.5f)));
}

QUANTC_AVX512 void quantizeQ4_1(const float *x, uint8_t *out, int64_t blocks) {
  const __m512i top = _mm512_set1_epi32(15);
  for (int64_t b = 0; b < blocks; ++b, x += kBlock, out += 20) {
    __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
    if (absMaxBits(absBits(lo), absBits(hi)) >= kInfBits) {
      quantizeBlockQ4_1Ref(x, out);
      continue;
    }
    float min, max;
    minMax(x, lo, hi, min, max);
    const float d = (max - min) / 15;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    storeHalf(out, d);
    storeHalf(out + 2, min);
    __m512 vmin = _mm512_set1_ps(min), vid = _mm512_set1_ps(id);
    __m512i qlo =
        _mm512_min_epi32(lowByteSigned(affineCodes(lo, vmin, vid)), top);
    __m512i qhi =
        _mm512_min_epi32(lowByteSigned(affineCodes(hi, vmin, vid)), top);
    _mm_storeu_si128(
        reinterpret_cast<__m128i *>(out + 4),
        _mm512_cvtepi32_epi8(_mm512_or_si512(qlo, _mm512_slli_epi32(qhi, 4))));
  }
}

QUANTC_AVX512 void quantizeQ5_1(const float *x, uint8_t *out, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, x += kBlock, out += 24) {
    __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
    if (absMaxBits(absBits(lo), absBits(hi)) >= kInfBits) {
      quantizeBlockQ5_1Ref(x, out);
      continue;
    }
    float min, max;
    minMax(x, lo, hi, min, max);
    const float d = (max - min) / 31;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    storeHalf(out, d);
    storeHalf(out + 2, min);
    __m512 vmin = _mm512_set1_ps(min), vid = _mm512_set1_ps(id);
    // Unclamped: only the low byte counts, as in the reference.
    __m512i qlo = affineCodes(lo, vmin, vid);
    __m512i qhi = affineCodes(hi, vmin, vid);
    uint32_t qh = packHighBits(qlo, qhi);
    std::memcpy(out + 4, &qh, sizeof(qh));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(out + 8),
                     packNibbles(qlo, qhi));
  }
}

/// Q8_0/Q8_1 codes of a finite block into out[0..31]; returns d.
QUANTC_AVX512 float quantizeInt8(__m512 lo, __m512 hi, int amaxBits,
                                 uint8_t *out, __m512i &sum) {
  float amax;
  std::memcpy(&amax, &amaxBits, sizeof(amax));
  const float d = amax / 127;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  __m512 vid = _mm512_set1_ps(id);
  __m512i qlo = _mm512_cvttps_epi32(roundHalfAway(_mm512_mul_ps(lo, vid)));
  __m512i qhi = _mm512_cvttps_epi32(roundHalfAway(_mm512_mul_ps(hi, vid)));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(out), _mm512_cvtepi32_epi8(qlo));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(out + 16),
                   _mm512_cvtepi32_epi8(qhi));
  sum = _mm512_add_epi32(lowByteSigned(qlo), lowByteSigned(qhi));
  return d;
}

QUANTC_AVX512 void quantizeQ8_0(const float *x, uint8_t *out, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, x += kBlock, out += 34) {
    __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
    int amaxBits = absMaxBits(absBits(lo), absBits(hi));
    if (amaxBits >= kInfBits) {
      quantizeBlockQ8_0Ref(x, out);
      continue;
    }
    __m512i sum;
    storeHalf(out, quantizeInt8(lo, hi, amaxBits, out + 2, sum));
  }
}

QUANTC_AVX512 void quantizeQ8_1(const float *x, uint8_t *out, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, x += kBlock, out += 36) {
    __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
    int amaxBits = absMaxBits(absBits(lo), absBits(hi));
    if (amaxBits >= kInfBits) {
      quantizeBlockQ8_1Ref(x, out);
      continue;
    }
    __m512i sum;
    const float d = quantizeInt8(lo, hi, amaxBits, out + 4, sum);
    storeHalf(out, d);
    storeHalf(out + 2, static_cast<float>(_mm512_reduce_add_epi32(sum)) * d);
  }
}

//===----------------------------------------------------------------------===//
// Dequantizers
//===----------------------------------------------------------------------===//

/// The 32 nibbles at `qs` (element j low in byte j, j + 16 high).
QUANTC_AVX512 void loadNibbles(const uint8_t *qs, __m512i &lo, __m512i &hi) {
  __m512i bytes = _mm512_cvtepu8_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i *>(qs)));
  lo = _mm512_and_si512(bytes, _mm512_set1_epi32(0x0F));
  hi = _mm512_srli_epi32(bytes, 4);
}

/// Adds bit j of qh as bit 4 of code j.
QUANTC_AVX512 void addHighBits(const uint8_t *qhBytes, __m512i &lo,
                               __m512i &hi) {
  uint32_t qh;
  std::memcpy(&qh, qhBytes, sizeof(qh));
  const __m512i bit = _mm512_set1_epi32(0x10);
  lo = _mm512_mask_or_epi32(lo, static_cast<__mmask16>(qh), lo, bit);
  hi = _mm512_mask_or_epi32(hi, static_cast<__mmask16>(qh >> 16), hi, bit);
}

/// y = (code - offset) * d over a block.
QUANTC_AVX512 void storeSymmetric(float *y, __m512i lo, __m512i hi, int offset,
                                  float d) {
  const __m512i o = _mm512_set1_epi32(offset);
  const __m512 vd = _mm512_set1_ps(d);
  _mm512_storeu_ps(
      y, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(lo, o)), vd));
  _mm512_storeu_ps(
      y + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(hi, o)), vd));
}

/// y = code * d + m over a block.
QUANTC_AVX512 void storeAffine(float *y, __m512i lo, __m512i hi, float d,
                               float m) {
  const __m512 vd = _mm512_set1_ps(d), vm = _mm512_set1_ps(m);
  _mm512_storeu_ps(
      y, _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(lo), vd), vm));
  _mm512_storeu_ps(
      y + 16, _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(hi), vd), vm));
}

QUANTC_AVX512 void dequantizeQ4_0(const uint8_t *in, float *y, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, in += 18, y += kBlock) {
    __m512i lo, hi;
    loadNibbles(in + 2, lo, hi);
    storeSymmetric(y, lo, hi, 8, loadHalf(in));
  }
}

QUANTC_AVX512 void dequantizeQ4_1(const uint8_t *in, float *y, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, in += 20, y += kBlock) {
    __m512i lo, hi;
    loadNibbles(in + 4, lo, hi);
    storeAffine(y, lo, hi, loadHalf(in), loadHalf(in + 2));
  }
}

QUANTC_AVX512 void dequantizeQ5_0(const uint8_t *in, float *y, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, in += 22, y += kBlock) {
    __m512i lo, hi;
    loadNibbles(in + 6, lo, hi);
    addHighBits(in + 2, lo, hi);
    storeSymmetric(y, lo, hi, 16, loadHalf(in));
  }
}

QUANTC_AVX512 void dequantizeQ5_1(const uint8_t *in, float *y, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, in += 24, y += kBlock) {
    __m512i lo, hi;
    loadNibbles(in + 8, lo, hi);
    addHighBits(in + 4, lo, hi);
    storeAffine(y, lo, hi, loadHalf(in), loadHalf(in + 2));
  }
}

/// Int8 codes at `qs` times d.
QUANTC_AVX512 void storeInt8(float *y, const uint8_t *qs, float d) {
  __m512i lo = _mm512_cvtepi8_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i *>(qs)));
  __m512i hi = _mm512_cvtepi8_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i *>(qs + 16)));
  storeSymmetric(y, lo, hi, 0, d);
}

QUANTC_AVX512 void dequantizeQ8_0(const uint8_t *in, float *y, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, in += 34, y += kBlock)
    storeInt8(y, in + 2, loadHalf(in));
}

QUANTC_AVX512 void dequantizeQ8_1(const uint8_t *in, float *y, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, in += 36, y += kBlock)
    storeInt8(y, in + 4, loadHalf(in));
}

//===----------------------------------------------------------------------===//
// 16-bit floats
//===----------------------------------------------------------------------===//

/// fp32ToFp16 on 16 lanes: vcvtps2ph rounds like it but keeps NaN payloads,
/// where the reference stores sign | 0x7E00.
QUANTC_AVX512 __m256i narrowFp16(__m512 x) {
  __m256i h = _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  if (nan) {
    __m512i sign =
        _mm512_and_si512(_mm512_srli_epi32(_mm512_castps_si512(x), 16),
                         _mm512_set1_epi32(0x8000));
    __m256i quiet =
        _mm512_cvtepi32_epi16(_mm512_or_si512(sign, _mm512_set1_epi32(0x7E00)));
    h = _mm256_mask_blend_epi16(nan, h, quiet);
  }
  return h;
}

/// fp16ToFp32 on 16 lanes: vcvtph2ps is exact but quiets signalling NaNs,
/// whose payload the reference keeps as it is.
QUANTC_AVX512 __m512 widenFp16(__m256i h) {
  __m512 f = _mm512_cvtph_ps(h);
  __mmask16 nan =
      _mm256_cmpgt_epi16_mask(_mm256_and_si256(h, _mm256_set1_epi16(0x7FFF)),
                              _mm256_set1_epi16(0x7C00));
  if (nan) {
    __m512i w = _mm512_cvtepu16_epi32(h);
    __m512i bits = _mm512_or_si512(
        _mm512_slli_epi32(_mm512_and_si512(w, _mm512_set1_epi32(0x8000)), 16),
        _mm512_or_si512(_mm512_slli_epi32(
                            _mm512_and_si512(w, _mm512_set1_epi32(0x7FFF)), 13),
                        _mm512_set1_epi32(0x70000000)));
    f = _mm512_mask_mov_ps(f, nan, _mm512_castsi512_ps(bits));
  }
  return f;
}

/// fp32ToBf16 on 16 lanes: add 0x7FFF plus the kept lsb, keep the top half;
/// NaN keeps its top half with the quiet bit set.
QUANTC_AVX512 __m256i narrowBf16(__m512 x) {
  __m512i bits = _mm512_castps_si512(x);
  __m512i top = _mm512_srli_epi32(bits, 16);
  __m512i bias = _mm512_add_epi32(_mm512_set1_epi32(0x7FFF),
                                  _mm512_and_si512(top, _mm512_set1_epi32(1)));
  __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, bias), 16);
  __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  rounded = _mm512_mask_or_epi32(rounded, nan, top, _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(rounded);
}

QUANTC_AVX512 __m512 widenBf16(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

QUANTC_AVX512 __m256i narrow(__m512 x, bool bf16) {
  return bf16 ? narrowBf16(x) : narrowFp16(x);
}

/// Narrows up to 16 elements.
QUANTC_AVX512 void narrowPart(const float *src, uint16_t *dst, int64_t count,
                              bool bf16) {
  __mmask16 lanes = static_cast<__mmask16>((1u << count) - 1);
  _mm256_mask_storeu_epi16(dst, lanes,
                           narrow(_mm512_maskz_loadu_ps(lanes, src), bf16));
}

/// Output of at least this many bytes (a whole tensor converted at once)
/// goes around the caches, which it would only flush: streaming stores
/// skip reading each line before overwriting it. Shorter rows stay cached
/// for whoever reads them next.
constexpr int64_t kStreamingBytes = 1 << 20;

QUANTC_AVX512 void narrowRow(const float *src, uint16_t *dst, int64_t count,
                             bool bf16) {
  int64_t i = 0;
  if (count * 2 >= kStreamingBytes) {
    // Streaming stores write whole 64-byte lines of dst.
    const int64_t head = (64 - reinterpret_cast<uintptr_t>(dst) % 64) % 64 / 2;
    for (; i < head; i += 16)
      narrowPart(src + i, dst + i, std::min<int64_t>(16, head - i), bf16);
    i = head;
    for (; i + 32 <= count; i += 32) {
      __m512i line = _mm512_inserti64x4(
          _mm512_castsi256_si512(narrow(_mm512_loadu_ps(src + i), bf16)),
          narrow(_mm512_loadu_ps(src + i + 16), bf16), 1);
      _mm512_stream_si512(reinterpret_cast<__m512i *>(dst + i), line);
    }
    // Streaming stores are weakly ordered: publish them before returning.
    _mm_sfence();
  }
  for (; i + 16 <= count; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(dst + i),
                        narrow(_mm512_loadu_ps(src + i), bf16));
  if (i < count)
    narrowPart(src + i, dst + i, count - i, bf16);
}

QUANTC_AVX512 void fp32ToFp16(const float *src, uint16_t *dst, int64_t count) {
  narrowRow(src, dst, count, false);
}

QUANTC_AVX512 void fp32ToBf16(const float *src, uint16_t *dst, int64_t count) {
  narrowRow(src, dst, count, true);
}

QUANTC_AVX512 void fp16ToFp32(const uint16_t *src, float *dst, int64_t count) {
  int64_t i = 0;
  for (; i + 16 <= count; i += 16)
    _mm512_storeu_ps(dst + i, widenFp16(_mm256_loadu_si256(
                                  reinterpret_cast<const __m256i *>(src + i))));
  if (i < count) {
    __mmask16 tail = static_cast<__mmask16>((1u << (count - i)) - 1);
    _mm512_mask_storeu_ps(dst + i, tail,
                          widenFp16(_mm256_maskz_loadu_epi16(tail, src + i)));
  }
}

QUANTC_AVX512 void bf16ToFp32(const uint16_t *src, float *dst, int64_t count) {
  int64_t i = 0;
  for (; i + 16 <= count; i += 16)
    _mm512_storeu_ps(dst + i, widenBf16(_mm256_loadu_si256(
                                  reinterpret_cast<const __m256i *>(src + i))));
  if (i < count) {
    __mmask16 tail = static_cast<__mmask16>((1u << (count - i)) - 1);
    _mm512_mask_storeu_ps(dst + i, tail,
                          widenBf16(_mm256_maskz_loadu_epi16(tail, src + i)));
  }
}

constexpr Kernels kAVX512Kernels = {
    quantizeQ4_0,
    quantizeQ4_1,
    quantizeQ5_0,
    quantizeQ5_1,
    quantizeQ8_0,
    quantizeQ8_1,
    quantizeQ4_0WeightedAVX512,
    quantizeQ4_1WeightedAVX512,
    quantizeQ5_0WeightedAVX512,
    quantizeQ5_1WeightedAVX512,
    dequantizeQ4_0,
    dequantizeQ4_1,
    dequantizeQ5_0,
    dequantizeQ5_1,
    dequantizeQ8_0,
    dequantizeQ8_1,
    fp32ToFp16,
    fp32ToBf16,
    fp16ToFp32,
    bf16ToFp32,
};

} // namespace

const Kernels *avx512Kernels() { return &kAVX512Kernels; }

} // namespace quantc::detail

#else

namespace quantc::detail {
const Kernels *avx512Kernels() { return nullptr; }
} // namespace quantc::detail

#endif // defined(__x86_64__)
