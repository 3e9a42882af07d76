//===- KQuants.h - llama.cpp's 256-element K-quant formats ------*- C++ -*-===//
//
// Quantizers and dequantizers for ggml's K-quants: Q2_K, Q3_K, Q4_K, Q5_K,
// Q6_K for weights and Q8_K for activations, reproducing llama.cpp's bytes
// exactly. Without an importance matrix the weight quantizers run the
// reference (`quantize_row_*_ref`) algorithm; with one, the weighted search
// llama.cpp runs when `ggml_quantize_chunk` gets `quant_weights`.
//
// Registered with the row-codec dispatch of BlockCodecs.h. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_KQUANTS_H
#define QUANTC_NUMERICS_KQUANTS_H

#include "quantc/Numerics/BlockCodecs.h"

#include <cstddef>
#include <cstdint>

namespace quantc {

// Row quantizers. `n` must be a multiple of the super-block size (256);
// `dst` receives n / 256 blocks in GGUF layout. `importance`, when not
// null, holds one non-negative weight per element of the row (llama.cpp's
// imatrix column weights) and selects the weighted algorithm. Each returns
// the number of bytes written.
size_t quantizeRowQ2_K(const float *src, void *dst, int64_t n,
                       const float *importance);
size_t quantizeRowQ3_K(const float *src, void *dst, int64_t n,
                       const float *importance);
size_t quantizeRowQ4_K(const float *src, void *dst, int64_t n,
                       const float *importance);
size_t quantizeRowQ5_K(const float *src, void *dst, int64_t n,
                       const float *importance);
size_t quantizeRowQ6_K(const float *src, void *dst, int64_t n,
                       const float *importance);
/// The activation-side format: one float scale amax / 127 per 256 values,
/// int8 codes, and the sum of each 16 codes (`bsums`) for dot products.
size_t quantizeRowQ8_K(const float *src, void *dst, int64_t n);

// Row dequantizers: n / 256 blocks from `src` to n floats, bit for bit as
// llama.cpp's `to_float`.
void dequantizeRowQ2_K(const void *src, float *dst, int64_t n);
void dequantizeRowQ3_K(const void *src, float *dst, int64_t n);
void dequantizeRowQ4_K(const void *src, float *dst, int64_t n);
void dequantizeRowQ5_K(const void *src, float *dst, int64_t n);
void dequantizeRowQ6_K(const void *src, float *dst, int64_t n);
void dequantizeRowQ8_K(const void *src, float *dst, int64_t n);

/// The codec of a K-quant format, or null for any other format.
const RowCodec *getKQuantRowCodec(Format format);

} // namespace quantc

#endif // QUANTC_NUMERICS_KQUANTS_H
