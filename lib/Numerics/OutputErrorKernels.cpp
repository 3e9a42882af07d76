//===- OutputErrorKernels.cpp - double products for the searches ----------===//
//
// One loop body, compiled for the baseline and for AVX2 / AVX-512 and picked
// by getNumericsIsa(). The body only multiplies and adds element by element
// in a fixed order (no FMA, no reassociation), so every tier returns the
// same bits.
//
//===----------------------------------------------------------------------===//

#include "OutputErrorKernels.h"

#include "quantc/Numerics/Isa.h"

namespace quantc::detail {
namespace {

constexpr int64_t kMicroRows = 4;

/// acc[i, c] += sum_{p < depth} a[i, p] panel[p, c] for R rows and the
/// panel's 16 columns, the R x 16 block held in registers throughout.
template <int64_t R, typename T>
[[gnu::always_inline]] inline void microBlock(const T *a, int64_t lda,
                                              int64_t depth, const T *panel,
                                              double *acc) {
  double c[R][kPanelCols];
  for (int64_t i = 0; i < R; ++i)
    for (int64_t j = 0; j < kPanelCols; ++j)
      c[i][j] = acc[i * kProductCols + j];
  for (int64_t p = 0; p < depth; ++p) {
    double b[kPanelCols];
    for (int64_t j = 0; j < kPanelCols; ++j)
      b[j] = static_cast<double>(panel[p * kPanelCols + j]);
    for (int64_t i = 0; i < R; ++i) {
      double ap = static_cast<double>(a[i * lda + p]);
      for (int64_t j = 0; j < kPanelCols; ++j)
        c[i][j] += ap * b[j];
    }
  }
  for (int64_t i = 0; i < R; ++i)
    for (int64_t j = 0; j < kPanelCols; ++j)
      acc[i * kProductCols + j] = c[i][j];
}

template <typename T>
[[gnu::always_inline]] inline void panelRows(const T *a, int64_t lda,
                                             int64_t rowCount, int64_t depth,
                                             const T *panel, double *acc) {
  int64_t i = 0;
  for (; i + kMicroRows <= rowCount; i += kMicroRows)
    microBlock<kMicroRows>(a + i * lda, lda, depth, panel,
                           acc + i * kProductCols);
  switch (rowCount - i) {
  case 3:
    microBlock<3>(a + i * lda, lda, depth, panel, acc + i * kProductCols);
    break;
  case 2:
    microBlock<2>(a + i * lda, lda, depth, panel, acc + i * kProductCols);
    break;
  case 1:
    microBlock<1>(a + i * lda, lda, depth, panel, acc + i * kProductCols);
    break;
  default:
    break;
  }
}

template <typename T>
[[gnu::always_inline]] inline void
productTileBody(const T *a, int64_t lda, int64_t rowCount,
                const PackedOperand<T> &b, int64_t first, int64_t panels,
                double *acc) {
  for (int64_t q = 0; q < panels; ++q)
    panelRows(a, lda, rowCount, b.depth, b.panel(first + q),
              acc + q * kPanelCols);
}

[[gnu::always_inline]] inline void upperTileBody(const double *a, int64_t lda,
                                                 int64_t rowCount,
                                                 const PackedOperand<double> &b,
                                                 int64_t first, int64_t panels,
                                                 double *acc) {
  for (int64_t i = 0; i < rowCount; ++i)
    for (int64_t j = 0; j < panels * kPanelCols; ++j)
      acc[i * kProductCols + j] = 0.0;
  for (int64_t q = 0; q < panels; ++q) {
    const double *panel = b.panel(first + q);
    double *tile = acc + q * kPanelCols;
    // Every column of the panel takes p < col0 in full; p in [col0,
    // col0 + 15) reaches only the columns after it.
    int64_t col0 = (first + q) * kPanelCols;
    panelRows(a, lda, rowCount, col0, panel, tile);
    int64_t end = std::min(col0 + kPanelCols - 1, b.depth);
    for (int64_t p = col0; p < end; ++p)
      for (int64_t i = 0; i < rowCount; ++i) {
        double ap = a[i * lda + p];
        for (int64_t j = p - col0 + 1; j < kPanelCols; ++j)
          tile[i * kProductCols + j] += ap * panel[p * kPanelCols + j];
      }
  }
}

#if defined(__x86_64__)
#define QUANTC_TIERED 1
#define QUANTC_AVX2 __attribute__((target("avx2")))
#define QUANTC_AVX512 __attribute__((target("avx512f")))

QUANTC_AVX2 void productTileAVX2(const float *a, int64_t lda, int64_t rowCount,
                                 const PackedOperand<float> &b, int64_t first,
                                 int64_t panels, double *acc) {
  productTileBody(a, lda, rowCount, b, first, panels, acc);
}
QUANTC_AVX2 void productTileAVX2(const double *a, int64_t lda, int64_t rowCount,
                                 const PackedOperand<double> &b, int64_t first,
                                 int64_t panels, double *acc) {
  productTileBody(a, lda, rowCount, b, first, panels, acc);
}
QUANTC_AVX2 void upperTileAVX2(const double *a, int64_t lda, int64_t rowCount,
                               const PackedOperand<double> &b, int64_t first,
                               int64_t panels, double *acc) {
  upperTileBody(a, lda, rowCount, b, first, panels, acc);
}
QUANTC_AVX512 void productTileAVX512(const float *a, int64_t lda,
                                     int64_t rowCount,
                                     const PackedOperand<float> &b,
                                     int64_t first, int64_t panels,
                                     double *acc) {
  productTileBody(a, lda, rowCount, b, first, panels, acc);
}
QUANTC_AVX512 void productTileAVX512(const double *a, int64_t lda,
                                     int64_t rowCount,
                                     const PackedOperand<double> &b,
                                     int64_t first, int64_t panels,
                                     double *acc) {
  productTileBody(a, lda, rowCount, b, first, panels, acc);
}
QUANTC_AVX512 void upperTileAVX512(const double *a, int64_t lda,
                                   int64_t rowCount,
                                   const PackedOperand<double> &b,
                                   int64_t first, int64_t panels, double *acc) {
  upperTileBody(a, lda, rowCount, b, first, panels, acc);
}
#endif

template <typename T>
void dispatchProductTile(const T *a, int64_t lda, int64_t rowCount,
                         const PackedOperand<T> &b, int64_t first,
                         int64_t panels, double *acc) {
#ifdef QUANTC_TIERED
  switch (getNumericsIsa()) {
  case Isa::AVX512:
    return productTileAVX512(a, lda, rowCount, b, first, panels, acc);
  case Isa::AVX2:
    return productTileAVX2(a, lda, rowCount, b, first, panels, acc);
  case Isa::Scalar:
    break;
  }
#endif
  productTileBody(a, lda, rowCount, b, first, panels, acc);
}

} // namespace

void accumulateProductTile(const float *a, int64_t lda, int64_t rowCount,
                           const PackedOperand<float> &b, int64_t first,
                           int64_t panels, double *acc) {
  dispatchProductTile(a, lda, rowCount, b, first, panels, acc);
}

void accumulateProductTile(const double *a, int64_t lda, int64_t rowCount,
                           const PackedOperand<double> &b, int64_t first,
                           int64_t panels, double *acc) {
  dispatchProductTile(a, lda, rowCount, b, first, panels, acc);
}

void upperProductTile(const double *a, int64_t lda, int64_t rowCount,
                      const PackedOperand<double> &b, int64_t first,
                      int64_t panels, double *acc) {
#ifdef QUANTC_TIERED
  switch (getNumericsIsa()) {
  case Isa::AVX512:
    return upperTileAVX512(a, lda, rowCount, b, first, panels, acc);
  case Isa::AVX2:
    return upperTileAVX2(a, lda, rowCount, b, first, panels, acc);
  case Isa::Scalar:
    break;
  }
#endif
  upperTileBody(a, lda, rowCount, b, first, panels, acc);
}

} // namespace quantc::detail
