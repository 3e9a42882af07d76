//===- GPTQ.cpp - GPTQ (Frantar et al., 2023) for one weight matrix -------===//
//
// The solve is double precision end to end: the weights are copied to
// double, the Hessian is factored by LAPACK (dpotrf/dpotri) and the lazy
// updates are one BLAS dgemm per block. Only the quantizer itself works in
// float32, because the stored parameters and values are float32 and must
// come out exactly as packGrouped / the block codecs produce them.
//
// Row-major symmetric matrices are handed to LAPACK as column-major with
// uplo = 'L': the column-major lower triangle is the row-major upper one,
// so "lower Cholesky factor L" read back row-major is the upper factor
// U = L^T that gptq.py uses, with no transposition.
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/GPTQ.h"

#include "quantc/Numerics/Affine.h"
#include "quantc/Numerics/BlockCodecs.h"

#include "BlockGrid.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <thread>

namespace quantc {
namespace {

/// Token rows per SYRK. Large enough that the fold into the double sum
/// (memory-bound, columns^2 / 2 elements) costs a few percent of the SYRK
/// (columns^2 * rows flops); small enough that the float32 partial sums of
/// one chunk stay accurate (relative error ~ sqrt(rows) * 2^-24).
constexpr int64_t kChunkRows = 4096;
/// Columns per SYRK/GEMM tile of the fold, so the float32 scratch stays at
/// 16 MiB however wide the layer is.
constexpr int64_t kFoldTile = 2048;

/// Runs body(begin, end) over [0, count) split across the cores; rows of
/// the GPTQ loop are independent, so this is deterministic. (OpenBLAS's
/// workers spin for a while after each GEMM and compete with these threads;
/// OPENBLAS_THREAD_TIMEOUT shortens the spin.)
template <typename Body> void parallelRows(int64_t count, Body body) {
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  // Below ~64 rows per thread the thread start costs more than it saves.
  int64_t threads = std::min<int64_t>(cores, std::max<int64_t>(1, count / 64));
  if (threads <= 1) {
    body(int64_t{0}, count);
    return;
  }
  std::vector<std::thread> workers;
  int64_t per = (count + threads - 1) / threads;
  for (int64_t t = 1; t < threads; ++t) {
    int64_t begin = std::min(count, t * per);
    int64_t end = std::min(count, begin + per);
    if (begin < end)
      workers.emplace_back([&body, begin, end] { body(begin, end); });
  }
  body(int64_t{0}, std::min(count, per));
  for (std::thread &worker : workers)
    worker.join();
}

/// A BLAS dimension: plain int converts to whichever integer the CBLAS
/// header declares (OpenBLAS's blasint, netlib's int).
int blasDim(int64_t value) {
  assert(value >= 0 && value <= INT32_MAX && "matrix too large for BLAS");
  return static_cast<int>(value);
}

/// Adds X^T X of `k` rows (`ld` floats apart) of `width` floats to the
/// upper triangle of the row-major double `sum`. float32 SYRK/GEMM per
/// tile (twice the double rate); each tile is then added in double, so only
/// one chunk's terms are ever summed in float32.
void foldChunk(const float *x, int64_t k, int64_t ld, int64_t width,
               double *sum) {
  const int64_t tile = std::min(width, kFoldTile);
  std::unique_ptr<float[]> scratch(new float[tile * tile]);
  for (int64_t i0 = 0; i0 < width; i0 += tile) {
    int64_t ni = std::min(tile, width - i0);
    for (int64_t j0 = i0; j0 < width; j0 += tile) {
      int64_t nj = std::min(tile, width - j0);
      bool diagonal = i0 == j0;
      if (diagonal)
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, blasDim(ni),
                    blasDim(k), 1.0f, x + i0, blasDim(ld), 0.0f, scratch.get(),
                    blasDim(nj));
      else
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasDim(ni),
                    blasDim(nj), blasDim(k), 1.0f, x + i0, blasDim(ld), x + j0,
                    blasDim(ld), 0.0f, scratch.get(), blasDim(nj));
      for (int64_t i = 0; i < ni; ++i) {
        double *target = sum + (i0 + i) * width + j0;
        const float *source = scratch.get() + i * nj;
        for (int64_t j = diagonal ? i : 0; j < nj; ++j)
          target[j] += static_cast<double>(source[j]);
      }
    }
  }
}

void setError(std::string *error, std::string message) {
  if (error)
    *error = std::move(message);
}

//===----------------------------------------------------------------------===//
// Per-group quantizers
//===----------------------------------------------------------------------===//

/// Quantizes one weight at a time with the parameters of its group, which
/// are fitted per row (fitGroup, from the weights at that time) or all at
/// once (fitAll). Row-parallel callers only touch their own rows.
class ColumnQuantizer {
public:
  virtual ~ColumnQuantizer() = default;
  /// Fits every group from a float32 rows x cols matrix.
  virtual bool fitAll(const float *weights) = 0;
  /// Fits the group of row `row` starting at column `first` from its
  /// `length` current values.
  virtual bool fitGroup(int64_t row, int64_t first, const double *values,
                        int64_t length) = 0;
  /// Quantizes the weight at (row, col) to its group's grid, remembering
  /// the code; returns the value the weight now has.
  virtual float quantize(int64_t row, int64_t col, double value) = 0;
  /// Packs the remembered codes with their parameters into `out`.
  virtual void pack(uint8_t *out) const = 0;
};

class GroupedQuantizer final : public ColumnQuantizer {
public:
  GroupedQuantizer(const GroupedFormat &format, int64_t rows, int64_t cols)
      : format(format), scheme(format.scheme()), range(storageRange(scheme)),
        rows(rows), cols(cols), group(format.effectiveGroupSize(cols)),
        groupsPerRow(format.groupsPerRow(cols)),
        params(static_cast<size_t>(rows * groupsPerRow)),
        inverse(params.size()), codes(static_cast<size_t>(rows * cols)) {}

  bool fitAll(const float *weights) override {
    // packGrouped's own path, so static groups are its parameters exactly.
    std::optional<std::vector<AffineParams>> all =
        computeGroupParams(weights, rows, cols, group, scheme);
    if (!all)
      return false;
    params = std::move(*all);
    for (size_t i = 0; i < params.size(); ++i)
      inverse[i] = 1.0f / params[i].scale;
    return true;
  }

  bool fitGroup(int64_t row, int64_t first, const double *values,
                int64_t length) override {
    // As computeGroupParams: min/max of the float32 values, then the
    // observer math.
    float buffer[256];
    std::vector<float> large;
    float *narrow = buffer;
    if (length > 256) {
      large.resize(static_cast<size_t>(length));
      narrow = large.data();
    }
    for (int64_t i = 0; i < length; ++i)
      narrow[i] = static_cast<float>(values[i]);
    auto minMax = finiteMinMax(narrow, length);
    if (!minMax)
      return false;
    auto fitted = computeAffineParams(minMax->first, minMax->second, scheme);
    if (!fitted)
      return false;
    size_t index = static_cast<size_t>(row * groupsPerRow + first / group);
    params[index] = *fitted;
    inverse[index] = 1.0f / fitted->scale;
    return true;
  }

  float quantize(int64_t row, int64_t col, double value) override {
    size_t index = static_cast<size_t>(row * groupsPerRow + col / group);
    int32_t code =
        quantizeAffineWithInverse(static_cast<float>(value), inverse[index],
                                  params[index].zeroPoint, range);
    codes[static_cast<size_t>(row * cols + col)] = code;
    return dequantizeAffine(code, params[index]);
  }

  void pack(uint8_t *out) const override {
    packGroupedCodes(codes.data(), params, rows, cols, format, out);
  }

private:
  GroupedFormat format;
  AffineScheme scheme;
  IntRange range;
  int64_t rows, cols, group, groupsPerRow;
  std::vector<AffineParams> params;
  /// 1 / scale as packGrouped hoists it (quantizeAffineWithInverse).
  std::vector<float> inverse;
  std::vector<int32_t> codes;
};

class BlockQuantizer final : public ColumnQuantizer {
public:
  BlockQuantizer(const detail::BlockGridInfo &info, int64_t rows, int64_t cols)
      : info(info), codec(getRowCodec(info.format)), rows(rows), cols(cols),
        blocksPerRow(cols / info.blockSize), gridsPerRow(cols / info.span),
        bytes(static_cast<size_t>(rows * blocksPerRow * info.bytesPerBlock)),
        grids(static_cast<size_t>(rows * gridsPerRow)),
        codes(static_cast<size_t>(rows * cols)) {}

  bool fitAll(const float *weights) override {
    if (quantizeRows(info.format, weights, bytes.data(), rows, cols, nullptr) !=
        bytes.size())
      return false;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < blocksPerRow; ++b)
        readGrids(r, b);
    return true;
  }

  bool fitGroup(int64_t row, int64_t first, const double *values,
                int64_t length) override {
    assert(length == info.blockSize && first % info.blockSize == 0);
    float block[256];
    for (int64_t i = 0; i < length; ++i)
      block[i] = static_cast<float>(values[i]);
    int64_t b = first / info.blockSize;
    // The format's own quantizer fits the header; its codes are replaced.
    codec->quantize(block, blockBytes(row, b), length, nullptr);
    readGrids(row, b);
    return true;
  }

  float quantize(int64_t row, int64_t col, double value) override {
    const detail::SubBlockGrid &grid =
        grids[static_cast<size_t>(row * gridsPerRow + col / info.span)];
    int code = detail::nearestGridCode(info, grid, value);
    codes[static_cast<size_t>(row * cols + col)] = static_cast<uint8_t>(code);
    return detail::gridValue(info, grid, code);
  }

  void pack(uint8_t *out) const override {
    std::memcpy(out, bytes.data(), bytes.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        detail::writeBlockCode(info,
                               out + (r * blocksPerRow + c / info.blockSize) *
                                         info.bytesPerBlock,
                               static_cast<int>(c % info.blockSize),
                               codes[static_cast<size_t>(r * cols + c)]);
  }

private:
  uint8_t *blockBytes(int64_t row, int64_t block) {
    return bytes.data() + (row * blocksPerRow + block) * info.bytesPerBlock;
  }
  void readGrids(int64_t row, int64_t block) {
    const int subBlocks = info.blockSize / info.span;
    for (int s = 0; s < subBlocks; ++s)
      grids[static_cast<size_t>(row * gridsPerRow + block * subBlocks + s)] =
          detail::readSubBlockGrid(info, blockBytes(row, block), s);
  }

  const detail::BlockGridInfo &info;
  const RowCodec *codec;
  int64_t rows, cols, blocksPerRow, gridsPerRow;
  /// The packed matrix: fitted headers, codes filled in by pack().
  std::vector<uint8_t> bytes;
  std::vector<detail::SubBlockGrid> grids;
  std::vector<uint8_t> codes;
};

//===----------------------------------------------------------------------===//
// Inverse Hessian
//===----------------------------------------------------------------------===//

/// U with U^T U = (H + damp * mean(diag H) * I)^-1, row-major upper
/// (only the upper triangle is meaningful). Raises the dampening tenfold,
/// up to 1, while a factorization fails.
bool invertHessian(const std::vector<double> &hessian, int64_t n,
                   double dampFraction, std::vector<double> &u,
                   GPTQResult &result) {
  double meanDiagonal = 0.0;
  for (int64_t i = 0; i < n; ++i)
    meanDiagonal += hessian[i * n + i];
  meanDiagonal /= static_cast<double>(n);

  const auto order = static_cast<lapack_int>(n);
  double damp = dampFraction;
  for (int retries = 0;; ++retries) {
    u = hessian;
    for (int64_t i = 0; i < n; ++i)
      u[i * n + i] += damp * meanDiagonal;
    // cholesky, cholesky_inverse, cholesky(upper), as gptq.py; see the file
    // comment for why 'L' in column-major is the row-major upper triangle.
    bool ok =
        LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', order, u.data(), order) == 0 &&
        LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', order, u.data(), order) == 0 &&
        LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', order, u.data(), order) == 0;
    if (ok) {
      result.dampFraction = damp;
      result.dampRetries = retries;
      return true;
    }
    if (damp >= 1.0)
      return false;
    // A zero request still deserves gptq.py's default before giving up.
    damp = damp > 0.0 ? std::min(1.0, damp * 10.0) : 0.01;
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// HessianAccumulator
//===----------------------------------------------------------------------===//

HessianAccumulator::HessianAccumulator(int64_t columns)
    : width(columns), sum(static_cast<size_t>(columns * columns), 0.0) {
  assert(columns > 0);
}

void HessianAccumulator::add(const float *rows, int64_t tokens,
                             int64_t stride) {
  assert(stride >= width && "rows overlap");
  count += std::max<int64_t>(tokens, 0);
  while (tokens > 0) {
    if (pendingRows == 0 && tokens >= kChunkRows) {
      // Whole chunks go to BLAS straight from the caller's buffer (any
      // stride is a leading dimension), without a copy.
      foldChunk(rows, kChunkRows, stride, width, sum.data());
      rows += kChunkRows * stride;
      tokens -= kChunkRows;
      continue;
    }
    int64_t take = std::min(tokens, kChunkRows - pendingRows);
    pending.resize(static_cast<size_t>((pendingRows + take) * width));
    for (int64_t t = 0; t < take; ++t)
      std::memcpy(pending.data() + (pendingRows + t) * width, rows + t * stride,
                  sizeof(float) * width);
    pendingRows += take;
    rows += take * stride;
    tokens -= take;
    if (pendingRows == kChunkRows)
      flush();
  }
}

void HessianAccumulator::flush() const {
  if (pendingRows == 0)
    return;
  foldChunk(pending.data(), pendingRows, width, width, sum.data());
  pendingRows = 0;
  pending.clear();
}

void HessianAccumulator::merge(const HessianAccumulator &other) {
  assert(other.width == width && "merging Hessians of different widths");
  flush();
  other.flush();
  for (int64_t i = 0; i < width; ++i)
    for (int64_t j = i; j < width; ++j)
      sum[i * width + j] += other.sum[i * width + j];
  count += other.count;
}

std::vector<double> HessianAccumulator::hessian() const {
  flush();
  std::vector<double> h(static_cast<size_t>(width * width), 0.0);
  if (count == 0)
    return h;
  const double factor = 2.0 / static_cast<double>(count);
  for (int64_t i = 0; i < width; ++i)
    for (int64_t j = i; j < width; ++j) {
      double value = factor * sum[i * width + j];
      h[i * width + j] = value;
      h[j * width + i] = value;
    }
  return h;
}

//===----------------------------------------------------------------------===//
// GPTQ
//===----------------------------------------------------------------------===//

bool supportsGPTQ(const WeightTarget &target, std::string *why) {
  auto refuse = [&](std::string reason) {
    if (why)
      *why = std::move(reason);
    return false;
  };
  if (target.kind == WeightTarget::Kind::Grouped) {
    if (!target.grouped.isValid())
      return refuse("GPTQ: " + target.name() +
                    " is not a valid integer format (2..8 bits)");
    return true;
  }
  const FormatInfo &info = getFormatInfo(target.block);
  std::string name(info.name);
  if (!info.isBlockQuantized())
    return refuse("GPTQ: " + name +
                  " is a float format, not a quantized grid to round to");
  if (info.role == FormatRole::Activation)
    return refuse("GPTQ: " + name +
                  " is an activation-side format, not a weight format");
  if (target.block == Format::TQ1_0 || target.block == Format::TQ2_0)
    return refuse("GPTQ: " + name +
                  " is ternary: its single per-block scale is the block's "
                  "absolute maximum and its codes are trits (packed base 3 "
                  "in tq1_0), not a scalar grid GPTQ can round within");
  if (!detail::getBlockGridInfo(target.block))
    return refuse("GPTQ: " + name +
                  " does not store one scalar code per weight (vector "
                  "codebooks), so GPTQ cannot round weights one by one");
  return true;
}

std::optional<GPTQResult> quantizeGPTQ(const float *weights, int64_t rows,
                                       int64_t cols, const double *hessian,
                                       const WeightTarget &target,
                                       const GPTQOptions &options,
                                       std::string *error) {
  std::string why;
  if (!supportsGPTQ(target, &why)) {
    setError(error, why);
    return std::nullopt;
  }
  if (rows <= 0 || cols <= 0) {
    setError(error, "GPTQ: empty weight (" + std::to_string(rows) + " x " +
                        std::to_string(cols) + ")");
    return std::nullopt;
  }
  if (!target.admits(cols)) {
    setError(error, "GPTQ: " + target.name() + " cannot store rows of " +
                        std::to_string(cols) +
                        " columns (not a whole number of blocks)");
    return std::nullopt;
  }
  if (!(options.dampFraction >= 0.0) || !std::isfinite(options.dampFraction) ||
      options.blockSize <= 0) {
    setError(error, "GPTQ: dampening must be finite and >= 0 and the block "
                    "size positive");
    return std::nullopt;
  }
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(weights[i])) {
      setError(error, "GPTQ: weight (" + std::to_string(i / cols) + ", " +
                          std::to_string(i % cols) + ") is not finite");
      return std::nullopt;
    }
  for (int64_t i = 0; i < cols * cols; ++i)
    if (!std::isfinite(hessian[i])) {
      setError(error, "GPTQ: Hessian entry (" + std::to_string(i / cols) +
                          ", " + std::to_string(i % cols) + ") is not finite");
      return std::nullopt;
    }

  GPTQResult result;
  const auto n = static_cast<size_t>(cols);

  // Dead inputs: the calibration says nothing about them, so they are
  // zeroed and given a unit diagonal to keep H invertible.
  std::vector<double> diagonal(n);
  std::vector<bool> dead(n, false);
  for (int64_t i = 0; i < cols; ++i) {
    diagonal[i] = hessian[i * cols + i];
    if (diagonal[i] == 0.0) {
      dead[i] = true;
      diagonal[i] = 1.0;
      ++result.deadColumns;
    }
  }

  // perm[position] = original column; act-order visits the most excited
  // inputs first, equal diagonals in column order (a stable argsort).
  std::vector<int64_t> perm(n);
  std::iota(perm.begin(), perm.end(), int64_t{0});
  if (options.actOrder)
    std::sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      return diagonal[a] > diagonal[b] || (diagonal[a] == diagonal[b] && a < b);
    });

  std::vector<double> h(n * n);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j)
      h[i * cols + j] =
          i == j ? diagonal[perm[i]] : hessian[perm[i] * cols + perm[j]];

  // Working weights in visiting order, double; the original (dead inputs
  // zeroed) in float for static groups.
  std::vector<double> w(static_cast<size_t>(rows) * n);
  std::vector<float> original(static_cast<size_t>(rows) * n);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float value = dead[c] ? 0.0f : weights[r * cols + c];
      original[r * cols + c] = value;
    }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < cols; ++i)
      w[r * cols + i] = original[r * cols + perm[i]];

  std::vector<double> u;
  if (!invertHessian(h, cols, options.dampFraction, u, result)) {
    setError(error, "GPTQ: the Hessian is not positive definite even with "
                    "dampening 1 (calibration data degenerate?)");
    return std::nullopt;
  }
  h.clear();
  h.shrink_to_fit();

  std::unique_ptr<ColumnQuantizer> quantizer;
  if (target.kind == WeightTarget::Kind::Grouped)
    quantizer = std::make_unique<GroupedQuantizer>(target.grouped, rows, cols);
  else
    quantizer = std::make_unique<BlockQuantizer>(
        *detail::getBlockGridInfo(target.block), rows, cols);
  const int64_t group = target.groupColumns(cols);
  const bool staticGroups = options.staticGroups || options.actOrder;
  if (staticGroups && !quantizer->fitAll(original.data())) {
    setError(error, "GPTQ: fitting the groups of the original weights failed");
    return std::nullopt;
  }

  // The values GPTQ rounds to, original column order: checked against the
  // decoded bytes at the end.
  std::vector<float> values(static_cast<size_t>(rows) * n);
  std::vector<double> rowLoss(static_cast<size_t>(rows), 0.0);
  std::vector<char> rowFailed(static_cast<size_t>(rows), 0);
  const int64_t maxBlock = std::min(options.blockSize, cols);
  std::vector<double> errors(static_cast<size_t>(rows * maxBlock));

  for (int64_t i1 = 0; i1 < cols;) {
    int64_t i2 = std::min(cols, i1 + maxBlock);
    if (!staticGroups) {
      // A dynamic group is fitted from fully updated weights; one starting
      // inside the block and running past it would miss this block's lazy
      // update, so the block ends there instead.
      for (int64_t s = (i1 / group + 1) * group; s < i2; s += group)
        if (std::min(cols, s + group) > i2) {
          i2 = s;
          break;
        }
    }
    const int64_t width = i2 - i1;

    parallelRows(rows, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        double *row = w.data() + r * cols;
        double *err = errors.data() + r * width;
        double loss = 0.0;
        for (int64_t i = i1; i < i2; ++i) {
          const int64_t c = perm[i];
          if (!staticGroups && c % group == 0 &&
              !quantizer->fitGroup(r, c, row + i, std::min(group, cols - c))) {
            rowFailed[r] = 1;
            return;
          }
          const double x = row[i];
          const float q = quantizer->quantize(r, c, x);
          values[r * cols + c] = q;
          const double d = u[i * cols + i];
          const double delta = x - static_cast<double>(q);
          loss += delta * delta / (d * d) / 2.0;
          const double e = delta / d;
          err[i - i1] = e;
          const double *ui = u.data() + i * cols;
          for (int64_t j = i + 1; j < i2; ++j)
            row[j] -= e * ui[j];
        }
        rowLoss[r] += loss;
      }
    });
    if (std::find(rowFailed.begin(), rowFailed.end(), 1) != rowFailed.end()) {
      setError(error, "GPTQ: a group's weights stopped being finite");
      return std::nullopt;
    }

    // W[:, i2:] -= Err * U[i1:i2, i2:], all rows at once.
    if (i2 < cols)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasDim(rows),
                  blasDim(cols - i2), blasDim(width), -1.0, errors.data(),
                  blasDim(width), u.data() + i1 * cols + i2, blasDim(cols), 1.0,
                  w.data() + i2, blasDim(cols));
    i1 = i2;
  }

  for (double loss : rowLoss)
    result.loss += loss;

  result.packed.resize(target.packedBytes(rows, cols));
  quantizer->pack(result.packed.data());
  result.dequantized.resize(static_cast<size_t>(rows) * n);
  if (!unpackWeights(target, result.packed.data(), rows, cols,
                     result.dequantized.data())) {
    setError(error, "GPTQ: decoding the packed weight failed");
    return std::nullopt;
  }
  // The bytes must decode to what the error feedback assumed.
  for (size_t i = 0; i < values.size(); ++i)
    if (!(result.dequantized[i] == values[i])) {
      setError(error, "GPTQ: internal error: packed " + target.name() +
                          " decodes to other values than GPTQ chose");
      return std::nullopt;
    }
  return result;
}

double layerOutputError(const float *w, const float *q, int64_t rows,
                        int64_t cols, const double *hessian) {
  // Row panels keep the scratch small: delta (panel x cols) and delta * H.
  const int64_t panel = std::max<int64_t>(1, std::min<int64_t>(rows, 256));
  std::vector<double> delta(static_cast<size_t>(panel * cols));
  std::vector<double> product(delta.size());
  double total = 0.0;
  for (int64_t r0 = 0; r0 < rows; r0 += panel) {
    int64_t count = std::min(panel, rows - r0);
    for (int64_t i = 0; i < count * cols; ++i)
      delta[i] = static_cast<double>(w[r0 * cols + i]) -
                 static_cast<double>(q[r0 * cols + i]);
    cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, blasDim(count),
                blasDim(cols), 1.0, hessian, blasDim(cols), delta.data(),
                blasDim(cols), 0.0, product.data(), blasDim(cols));
    for (int64_t i = 0; i < count * cols; ++i)
      total += delta[i] * product[i];
  }
  return total;
}

} // namespace quantc
