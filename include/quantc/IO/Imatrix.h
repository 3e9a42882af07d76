//===- Imatrix.h - llama.cpp importance matrices ----------------*- C++ -*-===//
//
// An importance matrix gives each weight column a non-negative importance
// (the mean squared activation that multiplies it), which llama.cpp's
// quantizers use to weight their error. Three files are read:
//  - llama-imatrix's GGUF (`general.type` imatrix): per tensor `NAME.in_sum2`
//    (sums of squared activations, ne = [columns, matrices]) and
//    `NAME.counts` (ne = [1, matrices]); importance = sum / count, or 1 for
//    a matrix that saw no input, as llama-quantize computes it;
//  - llama-imatrix's legacy `.dat`: int32 entry count, then per entry an
//    int32 name length, the name, int32 ncall, int32 nval and nval float32
//    (divided by ncall when positive), optionally followed by int32
//    last_call, int32 dataset length and the dataset name;
//  - a raw little-endian float32 file (`.f32`): one vector for every
//    quantized tensor, for single-tensor work.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_IO_IMATRIX_H
#define QUANTC_IO_IMATRIX_H

#include "quantc/IO/GGUF.h"
#include "quantc/IO/Result.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace quantc::io {

struct ImportanceMatrix {
  /// "gguf", "legacy" or "raw".
  std::string format;
  /// Per tensor name: ne[0] weights per matrix (ne[0] * experts for 3-D
  /// expert tensors).
  std::map<std::string, std::vector<float>> entries;
  /// A raw file's one vector, meant for every tensor.
  std::optional<std::vector<float>> forEveryTensor;
  std::vector<std::string> datasets;
  std::optional<uint32_t> chunkCount;

  /// The weights for tensor `name`, or null.
  const std::vector<float> *lookup(const std::string &name) const;
};

/// Reads any of the three formats: GGUF by its magic, raw by the `.f32`
/// extension, otherwise the legacy format.
Result<ImportanceMatrix> readImatrix(const std::string &path);
Result<ImportanceMatrix> parseGGUFImatrix(const GGUFFile &file,
                                          const std::string &name);
Result<ImportanceMatrix> parseLegacyImatrix(const uint8_t *data, size_t size,
                                            const std::string &name);
Result<ImportanceMatrix> parseRawImatrix(const uint8_t *data, size_t size,
                                         const std::string &name);

} // namespace quantc::io

#endif // QUANTC_IO_IMATRIX_H
