//===- LegacyQuants.h - llama.cpp's 32-element block formats ----*- C++ -*-===//
//
// Quantizers and dequantizers for ggml's original block formats (Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0 for weights; Q8_1 for activations), reproducing
// llama.cpp's bytes exactly: without an importance matrix the reference
// (`*_ref`) algorithm, with one the weighted search llama.cpp runs when
// `ggml_quantize_chunk` gets `quant_weights`.
//
// On x86-64 the row functions run AVX2 or AVX-512 kernels chosen at run
// time (Isa.h), byte-identical to the scalar reference.
//
// Registered with the row-codec dispatch of BlockCodecs.h. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_LEGACYQUANTS_H
#define QUANTC_NUMERICS_LEGACYQUANTS_H

#include "quantc/Numerics/BlockCodecs.h"

#include <cstddef>
#include <cstdint>

namespace quantc {

// Row quantizers. `n` must be a multiple of the format's block size (32);
// `dst` receives n / 32 blocks in GGUF layout. `importance`, when not null,
// holds one non-negative weight per element of the row (llama.cpp's
// imatrix column weights) and selects the weighted algorithm. Each returns
// the number of bytes written.
size_t quantizeRowQ4_0(const float *src, void *dst, int64_t n,
                       const float *importance);
size_t quantizeRowQ4_1(const float *src, void *dst, int64_t n,
                       const float *importance);
size_t quantizeRowQ5_0(const float *src, void *dst, int64_t n,
                       const float *importance);
size_t quantizeRowQ5_1(const float *src, void *dst, int64_t n,
                       const float *importance);
/// llama.cpp ignores importance weights for Q8_0; so does this (the
/// parameter is kept so that every weight format has the same signature).
size_t quantizeRowQ8_0(const float *src, void *dst, int64_t n,
                       const float *importance);
/// The activation-side format: round-to-nearest with scale amax / 127, plus
/// the block's `s` field = fp16(d * sum of the 32 stored quants).
size_t quantizeRowQ8_1(const float *src, void *dst, int64_t n);

// Row dequantizers: n / 32 blocks from `src` to n floats, bit for bit as
// llama.cpp's `to_float`.
void dequantizeRowQ4_0(const void *src, float *dst, int64_t n);
void dequantizeRowQ4_1(const void *src, float *dst, int64_t n);
void dequantizeRowQ5_0(const void *src, float *dst, int64_t n);
void dequantizeRowQ5_1(const void *src, float *dst, int64_t n);
void dequantizeRowQ8_0(const void *src, float *dst, int64_t n);
/// Q8_1 values are qs * d; the `s` field is not needed to recover them.
void dequantizeRowQ8_1(const void *src, float *dst, int64_t n);

/// The codec of a legacy 32-element format, or null for any other format.
const RowCodec *getLegacyRowCodec(Format format);

} // namespace quantc

#endif // QUANTC_NUMERICS_LEGACYQUANTS_H
