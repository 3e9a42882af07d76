//===- Formats.h - The one table of storage formats -------------*- C++ -*-===//
//
// Every storage format quantc knows that is not an upstream `!quant.uniform`
// element type: IEEE-like floats and llama.cpp's block formats. The dialect,
// the passes, the file readers and the runtime read this table; adding a
// format means adding one row here (plus its codec). MLIR-free on purpose.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_FORMATS_H
#define QUANTC_NUMERICS_FORMATS_H

#include <cstdint>
#include <optional>
#include <string_view>

namespace quantc {

/// Storage formats. The numeric values are quantc's own; `FormatInfo::ggmlType`
/// holds the GGUF on-disk type id.
enum class Format : uint8_t {
  F32,
  F16,
  BF16,
  Q4_0,
  Q4_1,
  Q5_0,
  Q5_1,
  Q8_0,
  Q8_1,
  Q2_K,
  Q3_K,
  Q4_K,
  Q5_K,
  Q6_K,
  Q8_K,
  IQ4_NL,
  IQ4_XS,
  TQ1_0,
  TQ2_0,
};

/// What a format is for: weights, or the activation side of a dot product
/// (Q8_1/Q8_K are what llama.cpp quantizes activations to on the fly).
enum class FormatRole : uint8_t { Float, Weight, Activation };

struct FormatInfo {
  Format format;
  /// Lower-case spelling used in IR, on the command line and by llama.cpp
  /// (`q4_K`, `iq4_nl`, `f16`).
  std::string_view name;
  /// GGUF `ggml_type` id of this format.
  uint32_t ggmlType;
  /// Elements per block (1 for plain floats).
  uint32_t blockSize;
  /// Bytes one block occupies in a GGUF tensor.
  uint32_t bytesPerBlock;
  FormatRole role;
  /// True where llama.cpp's quantizer accepts an importance matrix.
  bool acceptsImportance;

  bool isBlockQuantized() const { return role != FormatRole::Float; }
  double bitsPerWeight() const {
    return 8.0 * bytesPerBlock / static_cast<double>(blockSize);
  }
  /// Bytes of a row of `n` elements; nullopt when `n` is not a whole number
  /// of blocks.
  std::optional<uint64_t> rowBytes(uint64_t n) const {
    if (n % blockSize != 0)
      return std::nullopt;
    return n / blockSize * bytesPerBlock;
  }
};

/// All formats, in `Format` order.
const FormatInfo *allFormats(size_t &count);
const FormatInfo &getFormatInfo(Format format);
/// Case-sensitive lookup by `FormatInfo::name`; llama.cpp spells K-quants with
/// an upper-case K and we keep that spelling.
std::optional<Format> lookupFormat(std::string_view name);
std::optional<Format> lookupFormatByGgmlType(uint32_t ggmlType);

} // namespace quantc

#endif // QUANTC_NUMERICS_FORMATS_H
