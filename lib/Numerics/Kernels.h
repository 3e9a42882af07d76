//===- Kernels.h - run-time selected vector kernels -------------*- C++ -*-===//
//
// Internal to lib/Numerics: the table of vector kernels that the row codecs
// and float conversions call when the selected tier (Isa.h) has one, and the
// scalar block quantizers the kernels hand blocks they do not cover to
// (those holding NaN or infinity), so that every input comes out exactly as
// the scalar reference makes it.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_LIB_NUMERICS_KERNELS_H
#define QUANTC_LIB_NUMERICS_KERNELS_H

#include <cstdint>

namespace quantc::detail {

/// `blocks` whole 32-element blocks from `src` to `dst`.
using QuantizeBlocksFn = void (*)(const float *src, uint8_t *dst,
                                  int64_t blocks);
using DequantizeBlocksFn = void (*)(const uint8_t *src, float *dst,
                                    int64_t blocks);
/// Importance-weighted quantization of `count` (1 to kWeightedGroup)
/// consecutive blocks of a row whose mean square is `sigma2`; `importance`
/// is aligned with `src`. Returns false, writing nothing, when a value or
/// weight is NaN or infinite (the scalar reference then runs).
using QuantizeWeightedGroupFn = bool (*)(const float *src,
                                         const float *importance, float sigma2,
                                         uint8_t *dst, int count);
constexpr int kWeightedGroup = 16;
/// `count` elements.
using NarrowFn = void (*)(const float *src, uint16_t *dst, int64_t count);
using WidenFn = void (*)(const uint16_t *src, float *dst, int64_t count);

/// One tier's kernels; a null entry means the scalar code runs.
struct Kernels {
  QuantizeBlocksFn quantizeQ4_0, quantizeQ4_1, quantizeQ5_0, quantizeQ5_1,
      quantizeQ8_0, quantizeQ8_1;
  QuantizeWeightedGroupFn quantizeQ4_0Weighted, quantizeQ4_1Weighted,
      quantizeQ5_0Weighted, quantizeQ5_1Weighted;
  DequantizeBlocksFn dequantizeQ4_0, dequantizeQ4_1, dequantizeQ5_0,
      dequantizeQ5_1, dequantizeQ8_0, dequantizeQ8_1;
  NarrowFn fp32ToFp16, fp32ToBf16;
  WidenFn fp16ToFp32, bf16ToFp32;
};

/// The kernels of the tier in effect (Isa.cpp).
const Kernels &activeKernels();
/// Each tier's table, or null where the build has none (non-x86 targets).
const Kernels *avx2Kernels();
const Kernels *avx512Kernels();

// AVX-512 importance-weighted kernels (LegacyWeightedAVX512.cpp).
bool quantizeQ4_0WeightedAVX512(const float *src, const float *importance,
                                float sigma2, uint8_t *dst, int count);
bool quantizeQ4_1WeightedAVX512(const float *src, const float *importance,
                                float sigma2, uint8_t *dst, int count);
bool quantizeQ5_0WeightedAVX512(const float *src, const float *importance,
                                float sigma2, uint8_t *dst, int count);
bool quantizeQ5_1WeightedAVX512(const float *src, const float *importance,
                                float sigma2, uint8_t *dst, int count);

// Scalar reference block quantizers (LegacyQuants.cpp), one block each.
void quantizeBlockQ4_0Ref(const float *x, uint8_t *out);
void quantizeBlockQ4_1Ref(const float *x, uint8_t *out);
void quantizeBlockQ5_0Ref(const float *x, uint8_t *out);
void quantizeBlockQ5_1Ref(const float *x, uint8_t *out);
void quantizeBlockQ8_0Ref(const float *x, uint8_t *out);
void quantizeBlockQ8_1Ref(const float *x, uint8_t *out);

} // namespace quantc::detail

#endif // QUANTC_LIB_NUMERICS_KERNELS_H
