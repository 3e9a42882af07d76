//===- BlockCodecs.cpp - row codecs of the block formats ------------------===//

#include "quantc/Numerics/BlockCodecs.h"

#include "quantc/Numerics/LegacyQuants.h"

#include <optional>

namespace quantc {

const RowCodec *getRowCodec(Format format) {
  // Other families (K-quants, IQ4, TQ) chain their lookups here.
  if (const RowCodec *codec = getLegacyRowCodec(format))
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
