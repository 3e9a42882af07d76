//===- GPTQ.h - GPTQ (Frantar et al., 2023) for one weight matrix -*- C++ -*-===//
//
// Quantizes a weight W [rows = output channels, cols = inputs] column by
// column, spreading each column's rounding error over the columns not yet
// quantized through the inverse Hessian of the layer's squared output error,
// H = 2/n * sum over calibration tokens of x x^T:
//   - dead inputs (H_ii = 0): H_ii = 1 and W[:, i] = 0;
//   - dampening: H += damp * mean(diag H) * I, damp = 1% by default;
//     when the Cholesky factorization still fails, damp is multiplied by 10
//     and retried (reported), up to 1.0;
//   - U = upper Cholesky factor of H^-1 (cholesky, cholesky_inverse,
//     cholesky upper, as gptq.py);
//   - blocks of `blockSize` columns; inside a block, column i:
//       q = Q(w_i), err = (w_i - q) / U_ii, W[:, j] -= err * U_ij (j > i in
//     the block); after the block, the lazy batch update
//       W[:, rest] -= Err * U[block, rest] (one GEMM);
//   - act-order (desc_act): columns visited by decreasing H_ii, undone at
//     the end;
//   - groups: a group's quantization parameters are fitted when GPTQ first
//     reaches the group, from the error-updated weights (dynamic, gptq.py's
//     default), or all from the original W before the loop
//     (`staticGroups`, forced with act-order so that groups stay contiguous
//     in storage, as static_groups does).
// Targets: integer groups (the parameters are the group's min/max affine
// fit, GroupedAffine) and the llama.cpp block formats whose codes are
// scalars: q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, q3_K, q4_K, q5_K, q6_K,
// iq4_nl and iq4_xs (a block's scales/mins are fitted by the format's own
// quantizer on the block's weights, then each weight takes the nearest
// value of that block's grid). The result is packed exactly as
// qc-quantize stores the target. The linear algebra is double precision
// (LAPACK Cholesky, BLAS GEMM for the lazy updates). MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_GPTQ_H
#define QUANTC_NUMERICS_GPTQ_H

#include "quantc/Numerics/WeightTarget.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace quantc {

/// Accumulates H = 2/n * sum x x^T over token rows x of `columns` floats.
/// Rows are buffered and folded in with one BLAS SYRK per chunk into a
/// double-precision sum, so n can be millions of tokens.
class HessianAccumulator {
public:
  explicit HessianAccumulator(int64_t columns);

  /// Adds `tokens` rows of `columns` floats each, `stride` floats apart.
  void add(const float *rows, int64_t tokens, int64_t stride);
  /// Adds another accumulator's tokens (same width).
  void merge(const HessianAccumulator &other);

  int64_t columns() const { return width; }
  /// Tokens added so far.
  int64_t samples() const { return count; }
  /// H = 2/n * X^T X, full and symmetric, row-major columns x columns;
  /// all zeros when nothing was added.
  std::vector<double> hessian() const;

private:
  void flush() const;
  int64_t width;
  int64_t count = 0;
  /// Rows not yet folded in.
  mutable std::vector<float> pending;
  mutable int64_t pendingRows = 0;
  /// Upper triangle of sum x x^T.
  mutable std::vector<double> sum;
};

struct GPTQOptions {
  /// Dampening, as a fraction of mean(diag H).
  double dampFraction = 0.01;
  /// Columns per lazy-batch block.
  int64_t blockSize = 128;
  /// Visit columns by decreasing H_ii (desc_act); implies static groups.
  bool actOrder = false;
  /// Fit every group's parameters from the original weights up front.
  bool staticGroups = false;
};

struct GPTQResult {
  /// The packed weight, byte for byte what qc-quantize stores for the
  /// target (WeightTarget::packedBytes bytes).
  std::vector<uint8_t> packed;
  /// unpack(packed), row-major rows x cols: what the model will compute
  /// with, for the next layer's calibration (true-sequential).
  std::vector<float> dequantized;
  /// gptq.py's loss: sum over columns of (w - q)^2 / U_ii^2 / 2.
  double loss = 0.0;
  /// The dampening actually used (larger than asked when the Cholesky
  /// factorization needed retries).
  double dampFraction = 0.0;
  int dampRetries = 0;
  /// Inputs the calibration never excited (H_ii = 0), zeroed.
  int64_t deadColumns = 0;
};

/// Whether GPTQ can target `target` (scalar codes); otherwise sets `why`.
bool supportsGPTQ(const WeightTarget &target, std::string *why);

/// GPTQ of a row-major rows x cols weight against `hessian` (cols x cols,
/// row-major, symmetric). Fails (nullopt, `error` set) on a target it does
/// not support, a shape the target does not admit, non-finite weights or
/// Hessian, or a Hessian that stays indefinite at damp = 1.
std::optional<GPTQResult> quantizeGPTQ(const float *weights, int64_t rows,
                                       int64_t cols, const double *hessian,
                                       const WeightTarget &target,
                                       const GPTQOptions &options,
                                       std::string *error);

/// The layer's output error over the calibration set for weights `w`
/// quantized to `q` (both rows x cols): sum over rows of
/// (w - q)_r H (w - q)_r^T, i.e. 2/n * ||(W - Q) X^T||^2.
double layerOutputError(const float *w, const float *q, int64_t rows,
                        int64_t cols, const double *hessian);

} // namespace quantc

#endif // QUANTC_NUMERICS_GPTQ_H
