//===- OutputErrorKernels.h - double products for the searches -*- C++ -*-===//
//
// Internal to lib/Numerics: the products the AWQ and SmoothQuant searches
// score candidates with, accumulated in double so that comparing nearby
// candidates is not decided by float rounding. Plain loops (the library
// links no BLAS), blocked so that the inner loop is an axpy the compiler
// vectorises without reassociating, and split over rows with std::thread.
// Every row is computed by one thread in a fixed order, so results do not
// depend on the thread count.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_LIB_NUMERICS_OUTPUTERRORKERNELS_H
#define QUANTC_LIB_NUMERICS_OUTPUTERRORKERNELS_H

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace quantc::detail {

/// Runs fn(begin, end) over [0, count) split into contiguous chunks, one
/// per thread, each thread given at least `minPerThread` items.
template <typename Fn>
void parallelChunks(int64_t count, int64_t minPerThread, Fn fn) {
  if (count <= 0)
    return;
  int64_t hardware = std::max<int64_t>(std::thread::hardware_concurrency(), 1);
  int64_t threads = std::clamp<int64_t>(
      count / std::max<int64_t>(minPerThread, 1), 1, hardware);
  if (threads == 1) {
    fn(int64_t{0}, count);
    return;
  }
  int64_t chunk = (count + threads - 1) / threads;
  std::vector<std::thread> pool;
  for (int64_t begin = chunk; begin < count; begin += chunk)
    pool.emplace_back(fn, begin, std::min(begin + chunk, count));
  fn(int64_t{0}, std::min(chunk, count));
  for (std::thread &thread : pool)
    thread.join();
}

/// Rows of A computed together, and columns of the product per tile.
constexpr int64_t kProductRows = 8;
constexpr int64_t kProductCols = 256;
/// Columns of one packed panel of B (a multiple of it makes a tile).
constexpr int64_t kPanelCols = 16;

/// The right operand B (depth x n) of a product, packed for the kernels:
/// panel q holds columns [16 q, 16 q + 16) as `depth` contiguous rows of 16,
/// zero past n, so that the kernel streams it.
template <typename T> struct PackedOperand {
  std::vector<T> data;
  int64_t depth = 0;
  int64_t cols = 0;
  const T *panel(int64_t q) const {
    return data.data() + q * depth * kPanelCols;
  }
};

/// Packs B given row-major depth x n (B itself, as for H).
template <typename T>
PackedOperand<T> packRows(const T *b, int64_t depth, int64_t n) {
  PackedOperand<T> packed;
  packed.depth = depth;
  packed.cols = n;
  int64_t panels = (n + kPanelCols - 1) / kPanelCols;
  packed.data.assign(static_cast<size_t>(panels * depth * kPanelCols), T(0));
  for (int64_t p = 0; p < depth; ++p)
    for (int64_t j = 0; j < n; ++j)
      packed.data[(j / kPanelCols * depth + p) * kPanelCols + j % kPanelCols] =
          b[p * n + j];
  return packed;
}

/// Packs B = W^T given the row-major n x depth W (a weight read as y = x W^T).
template <typename T>
PackedOperand<T> packTransposed(const T *w, int64_t n, int64_t depth) {
  PackedOperand<T> packed;
  packed.depth = depth;
  packed.cols = n;
  int64_t panels = (n + kPanelCols - 1) / kPanelCols;
  packed.data.assign(static_cast<size_t>(panels * depth * kPanelCols), T(0));
  for (int64_t j = 0; j < n; ++j) {
    T *out = packed.data.data() + j / kPanelCols * depth * kPanelCols +
             j % kPanelCols;
    for (int64_t p = 0; p < depth; ++p)
      out[p * kPanelCols] = w[j * depth + p];
  }
  return packed;
}

/// acc[i * kProductCols + 16 q + c] (+)= sum_p a[i * lda + p] b[p, col]
/// over `panels` consecutive panels starting at `first`, for i < rowCount,
/// in double, p ascending for every element (so every instruction-set tier
/// gives the same bits). The plain form sums p < depth and adds to acc;
/// the upper form (B symmetric, n = depth) sums p < col only, for
/// d H d^T, and overwrites acc.
void accumulateProductTile(const float *a, int64_t lda, int64_t rowCount,
                           const PackedOperand<float> &b, int64_t first,
                           int64_t panels, double *acc);
void accumulateProductTile(const double *a, int64_t lda, int64_t rowCount,
                           const PackedOperand<double> &b, int64_t first,
                           int64_t panels, double *acc);
void upperProductTile(const double *a, int64_t lda, int64_t rowCount,
                      const PackedOperand<double> &b, int64_t first,
                      int64_t panels, double *acc);

/// Computes C = A B (A row-major m x depth) in double, tile by tile, handing
/// each finished row tile to tile(row, n0, count, const double *c) with
/// c[j] = C[row, n0 + j]; tiles of one row arrive in increasing n0, on one
/// thread.
template <typename T, typename Tile>
void forEachProductTile(const T *a, int64_t m, const PackedOperand<T> &b,
                        Tile tile) {
  int64_t k = b.depth, n = b.cols;
  int64_t blocks = (m + kProductRows - 1) / kProductRows;
  // About 2^22 multiply-adds per thread at least, so small products stay
  // on the calling thread.
  int64_t perBlock = std::max<int64_t>(kProductRows * k * n, 1);
  int64_t minBlocks = std::max<int64_t>((int64_t{1} << 22) / perBlock, 1);
  parallelChunks(blocks, minBlocks, [&](int64_t first, int64_t last) {
    std::vector<double> acc(kProductRows * kProductCols);
    for (int64_t block = first; block < last; ++block) {
      int64_t r0 = block * kProductRows;
      int64_t rowCount = std::min(kProductRows, m - r0);
      for (int64_t n0 = 0; n0 < n; n0 += kProductCols) {
        int64_t count = std::min(kProductCols, n - n0);
        std::fill(acc.begin(), acc.end(), 0.0);
        accumulateProductTile(a + r0 * k, k, rowCount, b, n0 / kPanelCols,
                              (count + kPanelCols - 1) / kPanelCols,
                              acc.data());
        for (int64_t i = 0; i < rowCount; ++i)
          tile(r0 + i, n0, count, acc.data() + i * kProductCols);
      }
    }
  });
}

/// out[r] = d_r H d_r^T for every row d_r of the row-major rows x cols
/// matrix `delta`, with H symmetric cols x cols (row-major, and packed by
/// packRows). Only the strictly upper triangle and the diagonal of H count:
///   d H d^T = sum_j H_jj d_j^2 + 2 sum_j d_j sum_{p<j} d_p H_pj,
/// which halves the work of the full product.
inline void quadraticFormRows(const double *delta, int64_t rows, int64_t cols,
                              const double *hessian,
                              const PackedOperand<double> &packed,
                              double *out) {
  int64_t blocks = (rows + kProductRows - 1) / kProductRows;
  int64_t perBlock = std::max<int64_t>(kProductRows * cols * cols / 2, 1);
  int64_t minBlocks = std::max<int64_t>((int64_t{1} << 22) / perBlock, 1);
  parallelChunks(blocks, minBlocks, [&](int64_t first, int64_t last) {
    std::vector<double> acc(kProductRows * kProductCols);
    for (int64_t block = first; block < last; ++block) {
      int64_t r0 = block * kProductRows;
      int64_t rowCount = std::min(kProductRows, rows - r0);
      const double *d = delta + r0 * cols;
      for (int64_t i = 0; i < rowCount; ++i)
        out[r0 + i] = 0.0;
      for (int64_t n0 = 0; n0 < cols; n0 += kProductCols) {
        int64_t count = std::min(kProductCols, cols - n0);
        upperProductTile(d, cols, rowCount, packed, n0 / kPanelCols,
                         (count + kPanelCols - 1) / kPanelCols, acc.data());
        for (int64_t i = 0; i < rowCount; ++i) {
          const double *di = d + i * cols + n0;
          const double *c = acc.data() + i * kProductCols;
          double sum = 0.0;
          for (int64_t j = 0; j < count; ++j) {
            double diagonal = hessian[(n0 + j) * cols + n0 + j];
            sum += di[j] * (2.0 * c[j] + diagonal * di[j]);
          }
          out[r0 + i] += sum;
        }
      }
    }
  });
}

} // namespace quantc::detail

#endif // QUANTC_LIB_NUMERICS_OUTPUTERRORKERNELS_H
