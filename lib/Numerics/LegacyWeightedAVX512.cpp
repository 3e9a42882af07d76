//===- LegacyWeightedAVX512.cpp - imatrix searches, 16 blocks at a time ---===//
//
// The importance-weighted searches of LegacyQuants.cpp accumulate their sums
// element after element, an order no within-block vectorization may change.
// So each lane here runs the whole reference search of one block: lane b
// holds block b's element i in vector i, every scalar statement becomes the
// same operation on 16 lanes, and every branch a lane mask. The result is
// the reference's, bit for bit, as long as no NaN enters from outside: NaNs
// the arithmetic makes are all the default NaN, but input NaNs carry
// payloads that operand order would pick between, so groups with NaN or
// infinite inputs are declined and run the scalar code.
//
// Built without FMA contraction; selected only on CPUs with AVX-512.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "quantc/Numerics/Float.h"

#if defined(__x86_64__)

#include <immintrin.h>

// GCC 12's AVX-512 intrinsics warn about their own undefined-vector
// placeholders wherever they inline (GCC bug 105593, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstring>

#define QUANTC_AVX512                                                          \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

namespace quantc::detail {
namespace {

constexpr int kBlock = 32;
/// As in LegacyQuants.cpp: blocks below it are stored as zeros.
constexpr float kGroupMaxEps = 1e-15f;

/// A group of up to 16 blocks, transposed: x[i] lane b is element i of
/// block b; w the reference's per-element weights.
struct Group {
  __m512 x[kBlock];
  __m512 w[kBlock];
};

/// Gathers `count` blocks into lanes (the others zero) and computes their
/// weights importance * sqrt(sigma2 + x * x). False when any value or
/// importance is NaN or infinite.
QUANTC_AVX512 bool loadGroup(const float *src, const float *importance,
                             float sigma2, int count, Group &group) {
  const __m512i offsets = _mm512_mullo_epi32(
      _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
      _mm512_set1_epi32(kBlock));
  const __mmask16 lanes = static_cast<__mmask16>((1u << count) - 1);
  const __m512 zero = _mm512_setzero_ps();
  const __m512 s2 = _mm512_set1_ps(sigma2);
  const __m512i absMask = _mm512_set1_epi32(0x7FFFFFFF);
  __m512i largest = _mm512_setzero_si512();
  for (int i = 0; i < kBlock; ++i) {
    __m512 x = _mm512_mask_i32gather_ps(zero, lanes, offsets, src + i, 4);
    __m512 q =
        _mm512_mask_i32gather_ps(zero, lanes, offsets, importance + i, 4);
    largest = _mm512_max_epi32(
        largest, _mm512_and_si512(_mm512_castps_si512(x), absMask));
    largest = _mm512_max_epi32(
        largest, _mm512_and_si512(_mm512_castps_si512(q), absMask));
    group.x[i] = x;
    group.w[i] = _mm512_mul_ps(
        q, _mm512_sqrt_ps(_mm512_add_ps(s2, _mm512_mul_ps(x, x))));
  }
  return _mm512_reduce_max_epi32(largest) < 0x7F800000;
}

/// nearestInt: round to nearest via the float adder, as the reference does.
QUANTC_AVX512 __m512i nearestInt(__m512 v) {
  __m512 shifted = _mm512_add_ps(v, _mm512_set1_ps(12582912.0f));
  return _mm512_sub_epi32(_mm512_and_si512(_mm512_castps_si512(shifted),
                                           _mm512_set1_epi32(0x007FFFFF)),
                          _mm512_set1_epi32(0x00400000));
}

/// clampInt(nearestInt(iscale * x), -nmax, nmax - 1).
QUANTC_AVX512 __m512i symmetricLevel(__m512 iscale, __m512 x, int nmax) {
  __m512i l = nearestInt(_mm512_mul_ps(iscale, x));
  return _mm512_max_epi32(_mm512_min_epi32(l, _mm512_set1_epi32(nmax - 1)),
                          _mm512_set1_epi32(-nmax));
}

/// One pass of the symmetric search: sumlx += w * x * l, suml2 += w * l * l.
QUANTC_AVX512 void symmetricSums(const Group &group, const __m512 *wx,
                                 __m512 iscale, int nmax, __m512 &sumlx,
                                 __m512 &suml2) {
  sumlx = suml2 = _mm512_setzero_ps();
  for (int i = 0; i < kBlock; ++i) {
    __m512 l = _mm512_cvtepi32_ps(symmetricLevel(iscale, group.x[i], nmax));
    sumlx = _mm512_add_ps(sumlx, _mm512_mul_ps(wx[i], l));
    suml2 =
        _mm512_add_ps(suml2, _mm512_mul_ps(_mm512_mul_ps(group.w[i], l), l));
  }
}

/// searchSymmetric on every lane: returns the scales, fills codes[i].
QUANTC_AVX512 __m512 searchSymmetric(int nmax, const Group &group,
                                     __m512i *codes) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 amax = zero, max = zero;
  __m512 wx[kBlock];
  for (int i = 0; i < kBlock; ++i) {
    __m512 ax = _mm512_abs_ps(group.x[i]);
    __mmask16 larger = _mm512_cmp_ps_mask(ax, amax, _CMP_GT_OQ);
    amax = _mm512_mask_mov_ps(amax, larger, ax);
    max = _mm512_mask_mov_ps(max, larger, group.x[i]);
    wx[i] = _mm512_mul_ps(group.w[i], group.x[i]);
  }
  // Lanes below the threshold run along harmlessly and are zeroed at the end.
  const __mmask16 live =
      _mm512_cmp_ps_mask(amax, _mm512_set1_ps(kGroupMaxEps), _CMP_NLT_UQ);

  __m512 iscale = _mm512_div_ps(_mm512_set1_ps(static_cast<float>(-nmax)), max);
  __m512 sumlx, suml2;
  symmetricSums(group, wx, iscale, nmax, sumlx, suml2);
  // `suml2 != 0 ? sumlx / suml2 : 0`, where NaN != 0.
  __m512 scale = _mm512_maskz_div_ps(
      _mm512_cmp_ps_mask(suml2, zero, _CMP_NEQ_UQ), sumlx, suml2);
  __m512 best = _mm512_mul_ps(scale, sumlx);
  __m512 bestIscale = iscale;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0)
      continue;
    const float numerator =
        -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step));
    iscale = _mm512_div_ps(_mm512_set1_ps(numerator), max);
    symmetricSums(group, wx, iscale, nmax, sumlx, suml2);
    __mmask16 better =
        _mm512_cmp_ps_mask(suml2, zero, _CMP_GT_OQ) &
        _mm512_cmp_ps_mask(_mm512_mul_ps(sumlx, sumlx),
                           _mm512_mul_ps(best, suml2), _CMP_GT_OQ);
    scale = _mm512_mask_div_ps(scale, better, sumlx, suml2);
    best = _mm512_mask_mul_ps(best, better, scale, sumlx);
    bestIscale = _mm512_mask_mov_ps(bestIscale, better, iscale);
  }
  // The reference re-derives the codes from the winning scale; so do we.
  for (int i = 0; i < kBlock; ++i)
    codes[i] = _mm512_maskz_add_epi32(
        live, symmetricLevel(bestIscale, group.x[i], nmax),
        _mm512_set1_epi32(nmax));
  return _mm512_maskz_mov_ps(live, scale);
}

/// searchAffine on every lane: returns the scales, sets `min` to the offsets
/// the reference stores (-negMin) and fills codes[i].
QUANTC_AVX512 __m512 searchAffine(int nmax, const Group &group, __m512i *codes,
                                  __m512 &min) {
  constexpr float rmin = -0.9f, rdelta = 0.05f;
  constexpr int nstep = 36;
  const __m512 zero = _mm512_setzero_ps();
  const __m512 top = _mm512_set1_ps(static_cast<float>(nmax));
  const __m512i topInt = _mm512_set1_epi32(nmax);
  const __m512 *x = group.x;
  const __m512 *w = group.w;

  min = x[0];
  __m512 max = x[0];
  __m512 sumW = w[0];
  __m512 sumX = _mm512_mul_ps(sumW, x[0]);
  for (int i = 1; i < kBlock; ++i) {
    min = _mm512_mask_mov_ps(min, _mm512_cmp_ps_mask(x[i], min, _CMP_LT_OQ),
                             x[i]);
    max = _mm512_mask_mov_ps(max, _mm512_cmp_ps_mask(x[i], max, _CMP_GT_OQ),
                             x[i]);
    sumW = _mm512_add_ps(sumW, w[i]);
    sumX = _mm512_add_ps(sumX, _mm512_mul_ps(w[i], x[i]));
  }
  min =
      _mm512_mask_mov_ps(min, _mm512_cmp_ps_mask(min, zero, _CMP_GT_OQ), zero);
  // Flat lanes (max <= min) return early in the reference: codes 0, scale
  // 0, this min. They run along here and are patched at the end.
  const __mmask16 flat = _mm512_cmp_ps_mask(max, min, _CMP_LE_OQ);
  const __m512 flatMin = min;

  __m512 iscale = _mm512_div_ps(top, _mm512_sub_ps(max, min));
  __m512 scale = _mm512_div_ps(_mm512_set1_ps(1.0f), iscale);
  __m512 bestError = zero;
  for (int i = 0; i < kBlock; ++i) {
    __m512i l = nearestInt(_mm512_mul_ps(iscale, _mm512_sub_ps(x[i], min)));
    codes[i] =
        _mm512_max_epi32(_mm512_min_epi32(l, topInt), _mm512_setzero_si512());
    __m512 diff = _mm512_sub_ps(
        _mm512_add_ps(_mm512_mul_ps(scale, _mm512_cvtepi32_ps(codes[i])), min),
        x[i]);
    bestError = _mm512_add_ps(bestError,
                              _mm512_mul_ps(w[i], _mm512_mul_ps(diff, diff)));
  }

  __m512 trial[kBlock];
  for (int step = 0; step <= nstep; ++step) {
    const float numerator =
        rmin + rdelta * static_cast<float>(step) + static_cast<float>(nmax);
    iscale = _mm512_div_ps(_mm512_set1_ps(numerator), _mm512_sub_ps(max, min));
    __m512 sumL = zero, sumL2 = zero, sumXL = zero;
    for (int i = 0; i < kBlock; ++i) {
      __m512 v = _mm512_mul_ps(iscale, _mm512_sub_ps(x[i], min));
      // `v < nmax ? v : nmax`, then `v > 0 ? nearestInt(capped) : 0`.
      __m512 capped = _mm512_min_ps(v, top);
      __m512i l = _mm512_maskz_mov_epi32(
          _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), nearestInt(capped));
      __m512 fl = _mm512_cvtepi32_ps(l);
      trial[i] = fl;
      __m512 wl = _mm512_mul_ps(w[i], fl);
      sumL = _mm512_add_ps(sumL, wl);
      sumL2 = _mm512_add_ps(sumL2, _mm512_mul_ps(wl, fl));
      sumXL = _mm512_add_ps(sumXL, _mm512_mul_ps(wl, x[i]));
    }
    __m512 det =
        _mm512_sub_ps(_mm512_mul_ps(sumW, sumL2), _mm512_mul_ps(sumL, sumL));
    __mmask16 solvable = _mm512_cmp_ps_mask(det, zero, _CMP_GT_OQ);
    if (!solvable)
      continue;
    __m512 thisScale = _mm512_div_ps(
        _mm512_sub_ps(_mm512_mul_ps(sumW, sumXL), _mm512_mul_ps(sumX, sumL)),
        det);
    __m512 thisMin = _mm512_div_ps(
        _mm512_sub_ps(_mm512_mul_ps(sumL2, sumX), _mm512_mul_ps(sumL, sumXL)),
        det);
    __mmask16 positive = _mm512_cmp_ps_mask(thisMin, zero, _CMP_GT_OQ);
    thisMin = _mm512_mask_mov_ps(thisMin, positive, zero);
    thisScale = _mm512_mask_div_ps(thisScale, positive, sumXL, sumL2);
    __m512 error = zero;
    for (int i = 0; i < kBlock; ++i) {
      __m512 diff = _mm512_sub_ps(
          _mm512_add_ps(_mm512_mul_ps(thisScale, trial[i]), thisMin), x[i]);
      error =
          _mm512_add_ps(error, _mm512_mul_ps(w[i], _mm512_mul_ps(diff, diff)));
    }
    __mmask16 better =
        solvable & _mm512_cmp_ps_mask(error, bestError, _CMP_LT_OQ);
    if (!better)
      continue;
    for (int i = 0; i < kBlock; ++i)
      codes[i] = _mm512_mask_mov_epi32(codes[i], better,
                                       _mm512_cvttps_epi32(trial[i]));
    bestError = _mm512_mask_mov_ps(bestError, better, error);
    scale = _mm512_mask_mov_ps(scale, better, thisScale);
    min = _mm512_mask_mov_ps(min, better, thisMin);
  }
  for (int i = 0; i < kBlock; ++i)
    codes[i] = _mm512_maskz_mov_epi32(static_cast<__mmask16>(~flat), codes[i]);
  min = _mm512_mask_mov_ps(min, flat, flatMin);
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~flat), scale);
}

/// Writes the first `count` lanes as blocks: fp16 d, fp16 m (when `min` is
/// given), qh (when `highBits`), then the nibbles, as the reference packs
/// them.
QUANTC_AVX512 void storeGroup(uint8_t *out, int bytesPerBlock, int count,
                              __m512 scale, const __m512 *min, bool highBits,
                              const __m512i *codes) {
  alignas(64) float d[16], m[16];
  alignas(64) uint32_t qh[16];
  alignas(16) uint8_t qs[kBlock / 2][16];
  _mm512_store_ps(d, scale);
  if (min)
    _mm512_store_ps(m, *min);
  const __m512i low = _mm512_set1_epi32(0x0F);
  for (int j = 0; j < kBlock / 2; ++j)
    _mm_store_si128(reinterpret_cast<__m128i *>(qs[j]),
                    _mm512_cvtepi32_epi8(_mm512_or_si512(
                        _mm512_and_si512(codes[j], low),
                        _mm512_slli_epi32(
                            _mm512_and_si512(codes[j + kBlock / 2], low), 4))));
  if (highBits) {
    __m512i bits = _mm512_setzero_si512();
    for (int j = 0; j < kBlock; ++j)
      bits = _mm512_or_si512(
          bits,
          _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(codes[j], 4),
                                             _mm512_set1_epi32(1)),
                            j));
    _mm512_store_si512(qh, bits);
  }
  for (int b = 0; b < count; ++b) {
    uint8_t *p = out + b * bytesPerBlock;
    uint16_t half = fp32ToFp16(d[b]);
    std::memcpy(p, &half, 2);
    p += 2;
    if (min) {
      half = fp32ToFp16(m[b]);
      std::memcpy(p, &half, 2);
      p += 2;
    }
    if (highBits) {
      std::memcpy(p, &qh[b], 4);
      p += 4;
    }
    for (int j = 0; j < kBlock / 2; ++j)
      p[j] = qs[j][b];
  }
}

} // namespace

QUANTC_AVX512 bool quantizeQ4_0WeightedAVX512(const float *src,
                                              const float *importance,
                                              float sigma2, uint8_t *dst,
                                              int count) {
  Group group;
  if (!loadGroup(src, importance, sigma2, count, group))
    return false;
  __m512i codes[kBlock];
  __m512 scale = searchSymmetric(8, group, codes);
  storeGroup(dst, 18, count, scale, nullptr, false, codes);
  return true;
}

QUANTC_AVX512 bool quantizeQ5_0WeightedAVX512(const float *src,
                                              const float *importance,
                                              float sigma2, uint8_t *dst,
                                              int count) {
  Group group;
  if (!loadGroup(src, importance, sigma2, count, group))
    return false;
  __m512i codes[kBlock];
  __m512 scale = searchSymmetric(16, group, codes);
  storeGroup(dst, 22, count, scale, nullptr, true, codes);
  return true;
}

QUANTC_AVX512 bool quantizeQ4_1WeightedAVX512(const float *src,
                                              const float *importance,
                                              float sigma2, uint8_t *dst,
                                              int count) {
  Group group;
  if (!loadGroup(src, importance, sigma2, count, group))
    return false;
  __m512i codes[kBlock];
  __m512 min;
  __m512 scale = searchAffine(15, group, codes, min);
  storeGroup(dst, 20, count, scale, &min, false, codes);
  return true;
}

QUANTC_AVX512 bool quantizeQ5_1WeightedAVX512(const float *src,
                                              const float *importance,
                                              float sigma2, uint8_t *dst,
                                              int count) {
  Group group;
  if (!loadGroup(src, importance, sigma2, count, group))
    return false;
  __m512i codes[kBlock];
  __m512 min;
  __m512 scale = searchAffine(31, group, codes, min);
  storeGroup(dst, 24, count, scale, &min, true, codes);
  return true;
}

} // namespace quantc::detail

#endif // defined(__x86_64__)
