//===- QuantizedLinear.h - quantized y = x W^T, the reference ---*- C++ -*-===//
//
// The arithmetic of `qc.linear` (y[m, n] = sum_k x[m, k] * W[n, k]) for each
// way its operands can be quantized, written once here so that the compiled
// code (convert-qc-to-linalg) and the tests have one definition to agree
// with. Integer paths are exact, and their float epilogue is fixed operation
// by operation, so compiled results match these bit for bit. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_QUANTIZEDLINEAR_H
#define QUANTC_NUMERICS_QUANTIZEDLINEAR_H

#include "quantc/Numerics/Affine.h"
#include "quantc/Numerics/GroupedAffine.h"

#include <cstdint>
#include <vector>

namespace quantc {

/// Symmetric int8 codes of activations quantized at run time: [-127, 127],
/// so that the +128 shift to u8 for VNNI can never overflow.
constexpr IntRange kDynamicInt8Range{-127, 127};

/// The scale of a dynamically quantized row (or tensor) whose largest
/// magnitude is `absMax`: max(absMax / 127, 2^-23) in float32 (PyTorch's
/// symmetric narrow-range math, eps floor included).
float dynamicInt8Scale(float absMax);

/// Quantizes `rows` x `cols` activations with one scale per row
/// (`perToken`) or one for the whole tensor: q = clamp(rne(x * (1 / s)),
/// -127, 127). Writes rows (or 1) scales. NaN maps to 0.
void quantizeActivationsDynamic(const float *x, int64_t rows, int64_t cols,
                                bool perToken, int8_t *codes, float *scales);

/// y[m, n] = float(acc) * (xScale[m] * wScale[n]) with
/// acc = sum_k xq[m, k] * wq[n, k] - xZeroPoint * sum_k wq[n, k], the
/// integer sum exact in int32 (K * 127 * 128 must fit, K < 2^17). xScales
/// holds one scale per row, or one for all rows when `perTokenScales` is
/// false. The epilogue multiplies the two scales first, then the
/// accumulator, in float32, as the compiled code does.
void referenceInt8Linear(const int8_t *xq, const float *xScales,
                         bool perTokenScales, int32_t xZeroPoint, int64_t rows,
                         int64_t depth, const int8_t *wq, const float *wScales,
                         int64_t outputs, float *y);

/// Splits a packed per-row signed 8-bit `!qc.grouped` weight (si8, one group
/// per row) into its codes and per-row scales.
void unpackInt8RowWeights(const uint8_t *blob, int64_t rows, int64_t cols,
                          std::vector<int8_t> &codes,
                          std::vector<float> &scales);

/// The per-tensor scale of FP8 E4M3 values for a tensor whose largest
/// magnitude is absMax: absMax / 448 (1 when absMax is 0 or not finite, so
/// that an all-zero tensor stays zero).
float fp8E4M3Scale(float absMax);

/// FP8 E4M3 (saturating, round to nearest even) codes of x * (1 / scale).
void quantizeFP8E4M3(const float *x, int64_t count, float scale,
                     uint8_t *codes);

} // namespace quantc

#endif // QUANTC_NUMERICS_QUANTIZEDLINEAR_H
