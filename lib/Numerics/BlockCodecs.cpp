//===- BlockCodecs.cpp - row codecs of the block formats ------------------===//

#include "quantc/Numerics/BlockCodecs.h"

#include "quantc/Numerics/Float.h"
#include "quantc/Numerics/IQuants.h"
#include "quantc/Numerics/KQuants.h"
#include "quantc/Numerics/LegacyQuants.h"
#include "quantc/Numerics/TernaryQuants.h"

#include <cstring>
#include <optional>

namespace quantc {

namespace {

// GGUF stores f32, f16 and bf16 tensors row by row like one-element blocks;
// as codecs they let every tool treat all storage formats alike.
size_t quantizeRowF32(const float *src, void *dst, int64_t n, const float *) {
  std::memcpy(dst, src, n * sizeof(float));
  return n * sizeof(float);
}
void dequantizeRowF32(const void *src, float *dst, int64_t n) {
  std::memcpy(dst, src, n * sizeof(float));
}
size_t quantizeRowF16(const float *src, void *dst, int64_t n, const float *) {
  fp32ToFp16Row(src, static_cast<uint16_t *>(dst), n);
  return n * sizeof(uint16_t);
}
void dequantizeRowF16(const void *src, float *dst, int64_t n) {
  fp16ToFp32Row(static_cast<const uint16_t *>(src), dst, n);
}
size_t quantizeRowBF16(const float *src, void *dst, int64_t n, const float *) {
  fp32ToBf16Row(src, static_cast<uint16_t *>(dst), n);
  return n * sizeof(uint16_t);
}
void dequantizeRowBF16(const void *src, float *dst, int64_t n) {
  bf16ToFp32Row(static_cast<const uint16_t *>(src), dst, n);
}

constexpr RowCodec kFloatCodecs[] = {
    {Format::F32, quantizeRowF32, dequantizeRowF32},
    {Format::F16, quantizeRowF16, dequantizeRowF16},
    {Format::BF16, quantizeRowBF16, dequantizeRowBF16},
};

} // namespace

const RowCodec *getRowCodec(Format format) {
  for (const RowCodec &codec : kFloatCodecs)
    if (codec.format == format)
      return &codec;
  // Each block-format family chains its lookup here.
  if (const RowCodec *codec = getLegacyRowCodec(format))
    return codec;
  if (const RowCodec *codec = getKQuantRowCodec(format))
    return codec;
  if (const RowCodec *codec = getIQuantRowCodec(format))
    return codec;
  if (const RowCodec *codec = getTernaryRowCodec(format))
    return codec;
  return nullptr;
}

size_t quantizeRows(Format format, const float *src, void *dst, int64_t rows,
                    int64_t cols, const float *importance) {
  const RowCodec *codec = getRowCodec(format);
  if (!codec || rows < 0 || cols < 0)
    return 0;
  std::optional<uint64_t> rowBytes =
      getFormatInfo(format).rowBytes(static_cast<uint64_t>(cols));
  if (!rowBytes)
    return 0;
  // Float rows are contiguous elements: one call converts them all, as
  // ggml_quantize_chunk does, and lets the kernel stream large tensors.
  if (getFormatInfo(format).blockSize == 1)
    return codec->quantize(src, dst, rows * cols, importance);
  auto *out = static_cast<uint8_t *>(dst);
  size_t written = 0;
  for (int64_t r = 0; r < rows; ++r)
    written +=
        codec->quantize(src + r * cols, out + r * *rowBytes, cols, importance);
  return written;
}

bool dequantizeRows(Format format, const void *src, float *dst, int64_t rows,
                    int64_t cols) {
  const RowCodec *codec = getRowCodec(format);
  if (!codec || rows < 0 || cols < 0)
    return false;
  std::optional<uint64_t> rowBytes =
      getFormatInfo(format).rowBytes(static_cast<uint64_t>(cols));
  if (!rowBytes)
    return false;
  const auto *in = static_cast<const uint8_t *>(src);
  for (int64_t r = 0; r < rows; ++r)
    codec->dequantize(in + r * *rowBytes, dst + r * cols, cols);
  return true;
}

} // namespace quantc
