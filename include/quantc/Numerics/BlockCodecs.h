//===- BlockCodecs.h - row codecs of the block formats ----------*- C++ -*-===//
//
// One dispatch from a block format to its row quantizer and dequantizer.
// The float formats and each family of block formats (LegacyQuants.h,
// KQuants.h, IQuants.h, TernaryQuants.h) provide lookups that getRowCodec
// chains through.
// MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_BLOCKCODECS_H
#define QUANTC_NUMERICS_BLOCKCODECS_H

#include "quantc/Numerics/Formats.h"

#include <cstddef>
#include <cstdint>

namespace quantc {

//===----------------------------------------------------------------------===//
// Row-codec dispatch
//===----------------------------------------------------------------------===//

/// Quantizes one row of `n` elements (a whole number of blocks); returns the
/// bytes written. `importance` may be null; formats that take none ignore it.
using QuantizeRowFn = size_t (*)(const float *src, void *dst, int64_t n,
                                 const float *importance);
using DequantizeRowFn = void (*)(const void *src, float *dst, int64_t n);

/// A block format's row quantizer and dequantizer.
struct RowCodec {
  Format format;
  QuantizeRowFn quantize;
  DequantizeRowFn dequantize;
};

/// The codec of any block format quantc can (de)quantize, or null when it has
/// none yet. Each family of formats contributes a `get*RowCodec` lookup that
/// this chains through, so adding a family is one line here.
const RowCodec *getRowCodec(Format format);

/// Quantizes `rows` rows of `cols` floats each into consecutive GGUF rows, as
/// `ggml_quantize_chunk` does; `importance` (length `cols`, may be null)
/// applies to every row. Returns the bytes written, or 0 (writing nothing)
/// when the format has no codec or `cols` is not a whole number of blocks.
size_t quantizeRows(Format format, const float *src, void *dst, int64_t rows,
                    int64_t cols, const float *importance);

/// Dequantizes `rows` GGUF rows of `cols` elements each. Returns false
/// (writing nothing) when the format has no codec or `cols` is not a whole
/// number of blocks.
bool dequantizeRows(Format format, const void *src, float *dst, int64_t rows,
                    int64_t cols);

} // namespace quantc

#endif // QUANTC_NUMERICS_BLOCKCODECS_H
