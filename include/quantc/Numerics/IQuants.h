//===- IQuants.h - llama.cpp's non-linear 4-bit formats ---------*- C++ -*-===//
//
// Quantizers and dequantizers for IQ4_NL (32-element blocks, one fp16
// scale) and IQ4_XS (256-element super-blocks with eight 6-bit sub-block
// scales), whose 4-bit codes index a fixed table of 16 non-uniform levels.
// They reproduce the bytes of llama.cpp's `ggml_quantize_chunk`, with or
// without an importance matrix.
//
// Registered with the row-codec dispatch of BlockCodecs.h. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_IQUANTS_H
#define QUANTC_NUMERICS_IQUANTS_H

#include "quantc/Numerics/BlockCodecs.h"

#include <cstddef>
#include <cstdint>

namespace quantc {

/// The 16 levels a 4-bit IQ4 code selects (ggml's `kvalues_iq4nl`), in
/// increasing order; a value is block scale * level.
inline constexpr int8_t kIQ4Levels[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// Row quantizers. `n` must be a multiple of the block size (32 for IQ4_NL,
// 256 for IQ4_XS); `dst` receives the blocks in GGUF layout. `importance`,
// when not null, holds one non-negative weight per element of the row
// (llama.cpp's imatrix column weights) and weights the error the scale
// search minimises; without it the weights are x^2. Either way the search
// is the one `ggml_quantize_chunk` runs (15 trial scales), not the shorter
// one of llama.cpp's `quantize_row_iq4_nl_ref`. Each returns the number of
// bytes written.
size_t quantizeRowIQ4_NL(const float *src, void *dst, int64_t n,
                         const float *importance);
size_t quantizeRowIQ4_XS(const float *src, void *dst, int64_t n,
                         const float *importance);

// Row dequantizers, bit for bit as llama.cpp's `to_float`.
void dequantizeRowIQ4_NL(const void *src, float *dst, int64_t n);
void dequantizeRowIQ4_XS(const void *src, float *dst, int64_t n);

/// The codec of IQ4_NL or IQ4_XS, or null for any other format.
const RowCodec *getIQuantRowCodec(Format format);

} // namespace quantc

#endif // QUANTC_NUMERICS_IQUANTS_H
