//===- KQuantsSearch.cpp - scale searches of the K-quants -----------------===//
//
// Bit-exactness with llama.cpp rests on doing the same float operations in
// the same order: every expression keeps ggml's association (a * b * c is
// (a * b) * c), and int codes convert to float where ggml's C does.
//
// The batched searches use GCC/Clang vector extensions, one group per lane.
// Vector float operations round exactly as scalar ones, so a lane computes
// what the scalar code computes for its group; ggml's branches become
// per-lane selects, and a lane whose scalar search would return early (a
// negligible or degenerate group) runs along and is overwritten at the end.
//
//===----------------------------------------------------------------------===//

#include "KQuantsSearch.h"

#include <cassert>
#include <cmath>
#include <cstring>

// Vector arguments of these internal helpers never cross an ABI boundary.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace quantc::kquants {
namespace {

//===----------------------------------------------------------------------===//
// Lanes
//===----------------------------------------------------------------------===//

template <int W> struct Lanes {
  typedef float F __attribute__((vector_size(4 * W)));
  typedef int32_t I __attribute__((vector_size(4 * W)));
};

/// The mask type of a float vector: all ones in lanes where a comparison
/// holds.
template <typename F> using MaskOf = decltype(F{} < F{});

template <typename F> constexpr int laneCount() {
  return sizeof(F) / sizeof(float);
}

template <typename V, typename T> V splat(T value) {
  V v;
  for (int k = 0; k < laneCount<V>(); ++k)
    v[k] = value;
  return v;
}

template <typename F> F select(MaskOf<F> mask, F a, F b) {
  using I = MaskOf<F>;
  return reinterpret_cast<F>((mask & reinterpret_cast<I>(a)) |
                             (~mask & reinterpret_cast<I>(b)));
}

template <typename I> I selectInt(I mask, I a, I b) {
  return (mask & a) | (~mask & b);
}

template <typename I> bool anyLane(I mask) {
  int32_t any = 0;
  for (int k = 0; k < laneCount<I>(); ++k)
    any |= mask[k];
  return any != 0;
}

template <typename I> bool allLanes(I mask) {
  int32_t all = -1;
  for (int k = 0; k < laneCount<I>(); ++k)
    all &= mask[k];
  return all != 0;
}

template <typename F> F absLanes(F v) {
  return reinterpret_cast<F>(reinterpret_cast<MaskOf<F>>(v) & 0x7FFFFFFF);
}

template <typename F> F toFloat(MaskOf<F> v) {
  return __builtin_convertvector(v, F);
}

/// nearestInt per lane, wrapping for out-of-range values exactly as it does.
template <typename F> MaskOf<F> nearestLanes(F v) {
  using I = MaskOf<F>;
  return (reinterpret_cast<I>(v + 12582912.0f) & 0x007FFFFF) - 0x00400000;
}

/// ggml asserts |v| <= this in nearest_int; within it the rounded value is
/// also (v + 1.5 * 2^23) - 1.5 * 2^23, computed without leaving floats.
constexpr float kRoundingRange = 4194303.0f;

/// clampInt(nearestInt(v), lo, hi) as a float, for |v| <= kRoundingRange.
template <typename F> F roundClamp(F v, float lo, float hi) {
  F r = (v + 12582912.0f) - 12582912.0f;
  r = select(r < lo, splat<F>(lo), r);
  return select(r > hi, splat<F>(hi), r);
}

/// clampInt(nearestInt(v), lo, hi) as a float, for any v.
template <typename F> F roundClampExact(F v, int lo, int hi) {
  using I = MaskOf<F>;
  I r = nearestLanes(v);
  r = selectInt(r < lo, splat<I>(lo), r);
  return toFloat<F>(selectInt(r > hi, splat<I>(hi), r));
}

/// Lane g of out[i] = x[g * n + i]: element i of every group in one vector.
template <typename F> void transposeGroups(const float *x, int n, F *out) {
  for (int i = 0; i < n; ++i) {
    F column = {};
    for (int g = 0; g < laneCount<F>(); ++g)
      column[g] = x[g * n + i];
    out[i] = column;
  }
}

/// The signed value of largest magnitude per lane (the first on ties) and
/// that magnitude.
template <typename F> void signedAbsMax(int n, const F *x, F &max, F &amax) {
  max = F{};
  amax = F{};
  for (int i = 0; i < n; ++i) {
    F ax = absLanes(x[i]);
    MaskOf<F> larger = ax > amax;
    amax = select(larger, ax, amax);
    max = select(larger, x[i], max);
  }
}

//===----------------------------------------------------------------------===//
// make_qx_quants
//===----------------------------------------------------------------------===//

template <int W>
void fitSymmetricLanes(int n, int nmax, const float *x, const float *weight,
                       int8_t *codes, float *scales) {
  using F = typename Lanes<W>::F;
  using I = typename Lanes<W>::I;
  assert(n <= kMaxGroup && "group too long");
  F xs[kMaxGroup], ws[kMaxGroup];
  transposeGroups(x, n, xs);
  if (weight)
    transposeGroups(weight, n, ws);
  else
    for (int i = 0; i < n; ++i)
      ws[i] = xs[i] * xs[i];

  F max, amax;
  signedAbsMax(n, xs, max, amax);
  const I negligible = amax < kGroupMaxEps;
  const auto lo = static_cast<float>(-nmax);
  const auto hi = static_cast<float>(nmax - 1);

  // |iscale * x| <= nmax + 1 for every group that is not negligible, well
  // within roundClamp's range.
  auto sumsAt = [&](F iscale, F &sumlx, F &suml2) {
    sumlx = F{};
    suml2 = F{};
    for (int i = 0; i < n; ++i) {
      F l = roundClamp(iscale * xs[i], lo, hi);
      sumlx += ws[i] * xs[i] * l;
      suml2 += ws[i] * l * l;
    }
  };

  F bestIscale = splat<F>(lo) / max;
  F sumlx, suml2;
  sumsAt(bestIscale, sumlx, suml2);
  F scale = select(suml2 != 0, sumlx / suml2, F{});
  F best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0)
      continue;
    F iscale = splat<F>(-(static_cast<float>(nmax) +
                          0.1f * static_cast<float>(step))) /
               max;
    sumsAt(iscale, sumlx, suml2);
    // Maximising sumlx^2 / suml2 minimises the weighted squared error.
    I better = (suml2 > 0) & (sumlx * sumlx > best * suml2);
    if (!anyLane(better))
      continue;
    F trialScale = sumlx / suml2;
    scale = select(better, trialScale, scale);
    best = select(better, trialScale * sumlx, best);
    bestIscale = select(better, iscale, bestIscale);
  }

  for (int i = 0; i < n; ++i) {
    F l = roundClamp(bestIscale * xs[i], lo, hi);
    for (int g = 0; g < W; ++g)
      codes[g * n + i] =
          negligible[g] ? 0
                        : static_cast<int8_t>(static_cast<int>(l[g]) + nmax);
  }
  for (int g = 0; g < W; ++g)
    scales[g] = negligible[g] ? 0.0f : scale[g];
}

//===----------------------------------------------------------------------===//
// make_q3_quants
//===----------------------------------------------------------------------===//

template <int W>
void fitSymmetricRefinedLanes(int n, int nmax, const float *x, int8_t *codes,
                              float *scales) {
  using F = typename Lanes<W>::F;
  using I = typename Lanes<W>::I;
  assert(n <= kMaxGroup && "group too long");
  F xs[kMaxGroup], ls[kMaxGroup];
  transposeGroups(x, n, xs);
  F max, amax;
  signedAbsMax(n, xs, max, amax);
  const I negligible = amax < kGroupMaxEps;
  const auto lo = static_cast<float>(-nmax);
  const auto hi = static_cast<float>(nmax - 1);

  const F iscale = splat<F>(lo) / max;
  F sumlx = F{}, suml2 = F{};
  for (int i = 0; i < n; ++i) {
    ls[i] = roundClamp(iscale * xs[i], lo, hi);
    F w = xs[i] * xs[i];
    sumlx += w * xs[i] * ls[i];
    suml2 += w * ls[i] * ls[i];
  }
  // Move one code at a time to where the rest of the fit puts it, keeping
  // the move when it raises sumlx^2 / suml2. A group whose pass changed
  // nothing would change nothing in later passes either, so running on
  // until every lane is settled matches ggml's per-group early exit.
  for (int pass = 0; pass < 5; ++pass) {
    I changed = I{};
    for (int i = 0; i < n; ++i) {
      F w = xs[i] * xs[i];
      F slx = sumlx - w * xs[i] * ls[i];
      F sl2 = suml2 - w * ls[i] * ls[i];
      // slx may be tiny, putting the ratio far out of roundClamp's range.
      F l = roundClampExact(xs[i] * sl2 / slx, -nmax, nmax - 1);
      F newSlx = slx + w * xs[i] * l;
      F newSl2 = sl2 + w * l * l;
      I accept = (slx > 0) & (l != ls[i]) & (newSl2 > 0) &
                 (newSlx * newSlx * suml2 > sumlx * sumlx * newSl2);
      ls[i] = select(accept, l, ls[i]);
      sumlx = select(accept, newSlx, sumlx);
      suml2 = select(accept, newSl2, suml2);
      changed |= accept;
    }
    if (!anyLane(changed))
      break;
  }

  for (int i = 0; i < n; ++i)
    for (int g = 0; g < W; ++g)
      codes[g * n + i] =
          negligible[g]
              ? 0
              : static_cast<int8_t>(static_cast<int>(ls[i][g]) + nmax);
  F scale = select(suml2 > 0.0f, sumlx / suml2, F{});
  for (int g = 0; g < W; ++g)
    scales[g] = negligible[g] ? 0.0f : scale[g];
}

//===----------------------------------------------------------------------===//
// make_qkx2_quants / make_qkx3_quants
//===----------------------------------------------------------------------===//

/// A trial code of ggml's affine searches for v = iscale * (x - min),
/// exactly, including v out of nearestInt's range, infinite or NaN (ggml's
/// running min can make iscale so).
template <typename F> F affineCodeExact(AffineSearch variant, F v, int nmax) {
  using I = MaskOf<F>;
  if (variant == AffineSearch::MinMax)
    return roundClampExact(v, 0, nmax);
  const auto fnmax = static_cast<float>(nmax);
  I r = nearestLanes(select(v < fnmax, v, splat<F>(fnmax)));
  return toFloat<F>(selectInt(v > 0, r, I{}));
}

template <int W>
void fitAffineLanes(const AffineSearchParams &p, int n, const float *x,
                    const float *weight, uint8_t *codes, float *scales,
                    float *negMins) {
  using F = typename Lanes<W>::F;
  using I = typename Lanes<W>::I;
  assert(n <= kMaxGroup && p.nstep >= 1 && "unsupported search shape");
  F xs[kMaxGroup] = {}, ws[kMaxGroup] = {};
  F trial[kMaxGroup], best[kMaxGroup];
  transposeGroups(x, n, xs);
  transposeGroups(weight, n, ws);

  F min = xs[0], max = xs[0];
  F sumW = ws[0];
  F sumX = sumW * xs[0];
  for (int i = 1; i < n; ++i) {
    min = select(xs[i] < min, xs[i], min);
    max = select(xs[i] > max, xs[i], max);
    sumW += ws[i];
    sumX += ws[i] * xs[i];
  }
  const F lowest = min;
  min = select(min > 0, F{}, min);
  const I degenerate =
      p.variant == AffineSearch::MinMax ? max == min : max <= min;
  const F initialMin = min;
  const auto fnmax = static_cast<float>(p.nmax);

  auto errorOf = [&](F diff) {
    return p.useMad ? absLanes(diff) : diff * diff;
  };

  // Codes for v = iscale * (x - min). v is monotonic in x, so its extremes
  // tell whether float-only rounding is exact for the whole group; it is
  // not where a tiny (subnormal) range overflows iscale, or where min has
  // moved to a least-squares fit and x - min left [0, max - min].
  auto codesAt = [&](F iscale, AffineSearch variant, F *out) {
    F vLow = iscale * (lowest - min), vHigh = iscale * (max - min);
    bool inRange = allLanes(degenerate | ((absLanes(vLow) <= kRoundingRange) &
                                          (absLanes(vHigh) <= kRoundingRange)));
    for (int i = 0; i < n; ++i) {
      F v = iscale * (xs[i] - min);
      out[i] = inRange ? roundClamp(v, 0.0f, fnmax)
                       : affineCodeExact(variant, v, p.nmax);
    }
  };

  // The min/max fit; both of ggml's searches round it as make_qkx2_quants.
  F iscale = fnmax / (max - min);
  F scale = 1.0f / iscale;
  codesAt(iscale, AffineSearch::MinMax, best);
  F bestError = F{};
  for (int i = 0; i < n; ++i) {
    F diff = scale * best[i] + min - xs[i];
    bestError += ws[i] * errorOf(diff);
  }

  for (int step = 0; step <= p.nstep; ++step) {
    iscale = splat<F>(p.rmin + p.rdelta * static_cast<float>(step) + fnmax) /
             (max - min);
    codesAt(iscale, p.variant, trial);
    F sumL = F{}, sumL2 = F{}, sumXL = F{};
    for (int i = 0; i < n; ++i) {
      F l = trial[i];
      F wl = ws[i] * l;
      sumL += wl;
      sumL2 += wl * l;
      sumXL += wl * xs[i];
    }
    F det = sumW * sumL2 - sumL * sumL;
    F thisScale = (sumW * sumXL - sumX * sumL) / det;
    F thisMin = (sumL2 * sumX - sumL * sumXL) / det;
    I positiveMin = thisMin > 0;
    thisMin = select(positiveMin, F{}, thisMin);
    thisScale = select(positiveMin, sumXL / sumL2, thisScale);
    F error = F{};
    for (int i = 0; i < n; ++i) {
      F diff = thisScale * trial[i] + thisMin - xs[i];
      error += ws[i] * errorOf(diff);
    }
    I better = ~degenerate & (det > 0) & (error < bestError);
    if (!anyLane(better))
      continue;
    bestError = select(better, error, bestError);
    scale = select(better, thisScale, scale);
    min = select(better, thisMin, min);
    for (int i = 0; i < n; ++i)
      best[i] = select(better, trial[i], best[i]);
  }

  for (int i = 0; i < n; ++i)
    for (int g = 0; g < W; ++g)
      codes[g * n + i] =
          degenerate[g] ? 0
                        : static_cast<uint8_t>(static_cast<int>(best[i][g]));
  for (int g = 0; g < W; ++g) {
    scales[g] = degenerate[g] ? 0.0f : scale[g];
    negMins[g] = -(degenerate[g] ? initialMin[g] : min[g]);
  }
}

/// Groups per batched search, a lane per group. Eight lanes are fastest,
/// but without AVX GCC splits 8-wide comparisons into scalar ones, so it
/// gets the native SSE width there.
#if defined(__clang__) || defined(__AVX__)
constexpr int kBatch = 8;
#else
constexpr int kBatch = 4;
#endif

template <typename SearchFn> void forEachBatch(int groups, SearchFn search) {
  assert(groups % kBatch == 0 && "groups must fill whole batches");
  for (int first = 0; first < groups; first += kBatch)
    search(first);
}

} // namespace

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

float fitSymmetric(int n, int nmax, const float *x, const float *weight,
                   int8_t *codes) {
  float scale;
  fitSymmetricLanes<1>(n, nmax, x, weight, codes, &scale);
  return scale;
}

void fitSymmetricGroups(int groups, int n, int nmax, const float *x,
                        const float *weight, int8_t *codes, float *scales) {
  forEachBatch(groups, [&](int first) {
    fitSymmetricLanes<kBatch>(n, nmax, x + first * n,
                              weight ? weight + first * n : nullptr,
                              codes + first * n, scales + first);
  });
}

void fitSymmetricRefinedGroups(int groups, int n, int nmax, const float *x,
                               int8_t *codes, float *scales) {
  forEachBatch(groups, [&](int first) {
    fitSymmetricRefinedLanes<kBatch>(n, nmax, x + first * n, codes + first * n,
                                     scales + first);
  });
}

void fitAffineGroups(const AffineSearchParams &params, int groups, int n,
                     const float *x, const float *weight, uint8_t *codes,
                     float *scales, float *negMins) {
  forEachBatch(groups, [&](int first) {
    fitAffineLanes<kBatch>(params, n, x + first * n, weight + first * n,
                           codes + first * n, scales + first, negMins + first);
  });
}

float fitUnsigned(int n, int nmax, const float *x, const float *weight,
                  uint8_t *codes) {
  float max = 0;
  for (int i = 0; i < n; ++i)
    max = max > x[i] ? max : x[i];
  if (max < kGroupMaxEps) {
    std::memset(codes, 0, n);
    return 0.0f;
  }
  const auto fnmax = static_cast<float>(nmax);
  // Codes are stored as bytes and read back as bytes, as in ggml: a
  // negative input (which the searches above never produce) wraps.
  auto weightedError = [&](float scale, auto codeAt) {
    float error = 0;
    for (int i = 0; i < n; ++i) {
      float diff = x[i] - scale * static_cast<float>(codeAt(i));
      error += weight[i] * diff * diff;
    }
    return error;
  };

  float iscale = fnmax / max;
  for (int i = 0; i < n; ++i)
    codes[i] = static_cast<uint8_t>(nearestInt(iscale * x[i]));
  float bestError = weightedError(1 / iscale, [&](int i) { return codes[i]; });
  for (int step = -4; step <= 4; ++step) {
    if (step == 0)
      continue;
    float trialIscale = (0.1f * static_cast<float>(step) + fnmax) / max;
    float error = weightedError(1 / trialIscale, [&](int i) {
      int l = nearestInt(trialIscale * x[i]);
      return l < nmax ? l : nmax;
    });
    if (error < bestError) {
      bestError = error;
      iscale = trialIscale;
    }
  }

  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearestInt(iscale * x[i]);
    l = l < nmax ? l : nmax;
    codes[i] = static_cast<uint8_t>(l);
    float w = weight[i];
    auto fl = static_cast<float>(l);
    sumlx += w * x[i] * fl;
    suml2 += w * fl * fl;
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      float w = weight[i];
      auto old = static_cast<float>(codes[i]);
      float slx = sumlx - w * x[i] * old;
      float sl2 = suml2 - w * old * old;
      if (!(slx > 0 && sl2 > 0))
        continue;
      int l = nearestInt(x[i] * sl2 / slx);
      l = l < nmax ? l : nmax;
      if (l == codes[i])
        continue;
      auto fl = static_cast<float>(l);
      slx += w * x[i] * fl;
      sl2 += w * fl * fl;
      if (slx * slx * suml2 > sumlx * sumlx * sl2) {
        codes[i] = static_cast<uint8_t>(l);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (!changed)
      break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

} // namespace quantc::kquants
