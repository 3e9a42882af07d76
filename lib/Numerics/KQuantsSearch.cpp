//===- KQuantsSearch.cpp - scale searches of the K-quants -----------------===//
//
// Bit-exactness with llama.cpp rests on doing the same float operations in
// the same order: every expression keeps ggml's association (a * b * c is
// (a * b) * c), and int codes convert to float where ggml's C does.
//
//===----------------------------------------------------------------------===//

#include "KQuantsSearch.h"

#include <cassert>
#include <cmath>
#include <cstring>

// A fused multiply-add rounds once where ggml's build (baseline x86-64, no
// FMA) rounds twice; forbid contraction so -march=native builds stay exact.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace quantc::kquants {
namespace {

/// The largest code count of any group the searches see (Q4_K/Q5_K
/// sub-blocks of 32).
constexpr int kMaxGroup = 32;

/// The value of largest magnitude (the first one on ties) and that
/// magnitude.
void signedAbsMax(int n, const float *x, float &max, float &amax) {
  max = 0;
  amax = 0;
  for (int i = 0; i < n; ++i) {
    float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
}

} // namespace

float fitSymmetric(int n, int nmax, const float *x, const float *weight,
                   int8_t *codes) {
  float max, amax;
  signedAbsMax(n, x, max, amax);
  if (amax < kGroupMaxEps) {
    std::memset(codes, 0, n);
    return 0.0f;
  }
  auto weightAt = [&](int i) { return weight ? weight[i] : x[i] * x[i]; };
  auto levelAt = [&](float iscale, int i) {
    return clampInt(nearestInt(iscale * x[i]), -nmax, nmax - 1);
  };

  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = levelAt(iscale, i);
    codes[i] = static_cast<int8_t>(l + nmax);
    float w = weightAt(i);
    auto fl = static_cast<float>(l);
    sumlx += w * x[i] * fl;
    suml2 += w * fl * fl;
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0)
      continue;
    iscale =
        -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      auto fl = static_cast<float>(levelAt(iscale, i));
      float w = weightAt(i);
      sumlx += w * x[i] * fl;
      suml2 += w * fl * fl;
    }
    // Maximising sumlx^2 / suml2 minimises the weighted squared error.
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i)
        codes[i] = static_cast<int8_t>(levelAt(iscale, i) + nmax);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

float fitSymmetricRefined(int n, int nmax, const float *x, int8_t *codes) {
  float max, amax;
  signedAbsMax(n, x, max, amax);
  if (amax < kGroupMaxEps) {
    std::memset(codes, 0, n);
    return 0.0f;
  }
  const float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = clampInt(nearestInt(iscale * x[i]), -nmax, nmax - 1);
    codes[i] = static_cast<int8_t>(l);
    float w = x[i] * x[i];
    auto fl = static_cast<float>(l);
    sumlx += w * x[i] * fl;
    suml2 += w * fl * fl;
  }
  // Move one code at a time to where the rest of the fit puts it, keeping
  // the move when it raises sumlx^2 / suml2.
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      float w = x[i] * x[i];
      auto old = static_cast<float>(codes[i]);
      float slx = sumlx - w * x[i] * old;
      if (!(slx > 0))
        continue;
      float sl2 = suml2 - w * old * old;
      int l = clampInt(nearestInt(x[i] * sl2 / slx), -nmax, nmax - 1);
      if (l == codes[i])
        continue;
      auto fl = static_cast<float>(l);
      slx += w * x[i] * fl;
      sl2 += w * fl * fl;
      if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
        codes[i] = static_cast<int8_t>(l);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (!changed)
      break;
  }
  for (int i = 0; i < n; ++i)
    codes[i] = static_cast<int8_t>(codes[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

float fitAffine(AffineSearch variant, int n, int nmax, const float *x,
                const float *weight, uint8_t *codes, float &negMin, float rmin,
                float rdelta, int nstep, bool useMad) {
  assert(n <= kMaxGroup && nstep >= 1 && "unsupported search shape");
  float min = x[0];
  float max = x[0];
  float sumW = weight[0];
  float sumX = sumW * x[0];
  for (int i = 1; i < n; ++i) {
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
  if (variant == AffineSearch::MinMax ? max == min : max <= min) {
    std::memset(codes, 0, n);
    negMin = -min;
    return 0.0f;
  }
  auto errorOf = [&](float diff) {
    return useMad ? std::fabs(diff) : diff * diff;
  };
  const auto fnmax = static_cast<float>(nmax);

  float iscale = fnmax / (max - min);
  float scale = 1 / iscale;
  float bestError = 0;
  for (int i = 0; i < n; ++i) {
    codes[i] = static_cast<uint8_t>(
        clampInt(nearestInt(iscale * (x[i] - min)), 0, nmax));
    float diff = scale * static_cast<float>(codes[i]) + min - x[i];
    bestError += weight[i] * errorOf(diff);
  }

  uint8_t trial[kMaxGroup];
  for (int step = 0; step <= nstep; ++step) {
    iscale = (rmin + rdelta * static_cast<float>(step) + fnmax) / (max - min);
    float sumL = 0, sumL2 = 0, sumXL = 0;
    for (int i = 0; i < n; ++i) {
      float v = iscale * (x[i] - min);
      int l;
      if (variant == AffineSearch::MinMax) {
        l = clampInt(nearestInt(v), 0, nmax);
      } else {
        // `min` is the best fit so far and may sit at or past `max`, making
        // v infinite or NaN; make_qkx3_quants clamps before rounding.
        l = v > 0 ? nearestInt(v < fnmax ? v : fnmax) : 0;
      }
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
    for (int i = 0; i < n; ++i) {
      float diff = thisScale * static_cast<float>(trial[i]) + thisMin - x[i];
      error += weight[i] * errorOf(diff);
    }
    if (error < bestError) {
      std::memcpy(codes, trial, n);
      bestError = error;
      scale = thisScale;
      min = thisMin;
    }
  }
  negMin = -min;
  return scale;
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
  // negative input (never produced by the searches above) wraps.
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
