//===- TernaryQuants.h - llama.cpp's ternary formats ------------*- C++ -*-===//
//
// Quantizers and dequantizers for TQ1_0 and TQ2_0, the BitNet b1.58 / TriLM
// formats: 256-element blocks of values in {-d, 0, +d} with d the block's
// largest magnitude (fp16). TQ1_0 packs five trits per byte in base 3 (1.69
// bits per weight); TQ2_0 spends two bits per trit (2.06 bits per weight).
// They reproduce llama.cpp's bytes exactly; like llama.cpp they take no
// importance matrix.
//
// Registered with the row-codec dispatch of BlockCodecs.h. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_TERNARYQUANTS_H
#define QUANTC_NUMERICS_TERNARYQUANTS_H

#include "quantc/Numerics/BlockCodecs.h"

#include <cstddef>
#include <cstdint>

namespace quantc {

// Row quantizers. `n` must be a multiple of 256; `dst` receives n / 256
// blocks in GGUF layout. `importance` is ignored, as in llama.cpp (kept so
// that every weight format has the same signature). Each returns the number
// of bytes written.
size_t quantizeRowTQ1_0(const float *src, void *dst, int64_t n,
                        const float *importance);
size_t quantizeRowTQ2_0(const float *src, void *dst, int64_t n,
                        const float *importance);

// Row dequantizers, bit for bit as llama.cpp's `to_float`.
void dequantizeRowTQ1_0(const void *src, float *dst, int64_t n);
void dequantizeRowTQ2_0(const void *src, float *dst, int64_t n);

/// The codec of TQ1_0 or TQ2_0, or null for any other format.
const RowCodec *getTernaryRowCodec(Format format);

} // namespace quantc

#endif // QUANTC_NUMERICS_TERNARYQUANTS_H
