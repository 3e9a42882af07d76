//===- KQuantsSearch.h - scale searches of the K-quants ---------*- C++ -*-===//
//
// Internal to lib/Numerics: the per-group scale searches that llama.cpp's
// K-quant quantizers share, and the scalar helpers around them. Each search
// reproduces ggml's float operations in ggml's order, so the codes and
// scales it returns are bit for bit those of llama.cpp.
//
// The searches of a super-block's sub-blocks are independent, so the
// `*Groups` entry points search several consecutive groups of n values
// (group g at x[g * n]) at once, one group per SIMD lane; each lane still
// does exactly the scalar sequence of operations.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_LIB_NUMERICS_KQUANTSSEARCH_H
#define QUANTC_LIB_NUMERICS_KQUANTSSEARCH_H

#include "quantc/Numerics/Float.h"

#include "BlockBytes.h"

#include <cstdint>

namespace quantc::kquants {

using detail::clampInt;
using detail::loadHalf;
using detail::nearestInt;
using detail::storeHalf;

/// Elements per K-quant super-block.
constexpr int kSuperBlock = 256;

/// Groups whose largest magnitude is below this are stored as all zeros.
constexpr float kGroupMaxEps = 1e-15f;

/// The longest group any search takes (Q4_K/Q5_K sub-blocks).
constexpr int kMaxGroup = 32;

/// Symmetric codes minimising the weighted squared error, ggml's
/// `make_qx_quants` with rmse_type 1: tries the scales -(nmax + 0.1 k) / max
/// for k in [-9, 9] and keeps the best least-squares fit. `weight` null
/// means x^2. Writes codes in [0, 2 nmax) (value = scale * (code - nmax));
/// the scale is 0 for a negligible group.
float fitSymmetric(int n, int nmax, const float *x, const float *weight,
                   int8_t *codes);
/// fitSymmetric of `groups` groups (a multiple of 8); `scales` receives one
/// per group.
void fitSymmetricGroups(int groups, int n, int nmax, const float *x,
                        const float *weight, int8_t *codes, float *scales);

/// ggml's `make_q3_quants` with rmse refinement (weights x^2) for `groups`
/// groups (a multiple of 8): the scale -max / nmax, then up to five passes
/// moving single codes while that improves the least-squares fit. Codes in
/// [0, 2 nmax).
void fitSymmetricRefinedGroups(int groups, int n, int nmax, const float *x,
                               int8_t *codes, float *scales);

/// Which of ggml's affine searches to reproduce. They differ only in how
/// degenerate groups are detected and how out-of-range trial codes clamp.
enum class AffineSearch {
  MinMax,  // make_qkx2_quants (reference quantizers)
  Clamped, // make_qkx3_quants (importance-matrix quantizers)
};

struct AffineSearchParams {
  AffineSearch variant;
  int nmax;
  /// Trial inverse scales are (nmax + rmin + rdelta k) / (max - min) for
  /// k in [0, nstep].
  float rmin;
  float rdelta;
  int nstep;
  /// Minimise the weighted absolute error rather than the squared one.
  bool useMad;
};

/// Affine codes in [0, nmax] for `groups` groups (a multiple of 8),
/// minimising the weighted error of scale * code - offset: the min/max fit,
/// then each trial inverse scale with scale and min solved by weighted least
/// squares. Per group, `scales` gets the scale and `negMins` the
/// non-negative offset subtracted on dequantization.
void fitAffineGroups(const AffineSearchParams &params, int groups, int n,
                     const float *x, const float *weight, uint8_t *codes,
                     float *scales, float *negMins);

/// Non-negative codes in [0, nmax] for `n` non-negative values (a
/// super-block's sub-block scales or mins), ggml's `make_qp_quants`: the
/// best of nine scales near max / nmax, then refinement passes as in
/// fitSymmetricRefinedGroups, weighted by `weight`. Returns the scale.
float fitUnsigned(int n, int nmax, const float *x, const float *weight,
                  uint8_t *codes);

} // namespace quantc::kquants

#endif // QUANTC_LIB_NUMERICS_KQUANTSSEARCH_H
