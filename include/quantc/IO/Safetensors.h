//===- Safetensors.h - safetensors files: read and write --------*- C++ -*-===//
//
// A safetensors file is an 8-byte little-endian header length, a JSON header
// naming each tensor's dtype, shape and byte range, then the tensor bytes.
// The reader checks what the reference implementation (huggingface/
// safetensors) checks: byte ranges that tile the data exactly, in order,
// each of product(shape) * dtype-size bytes, and a header under 100 MB. The
// writer produces the reference's layout: tensors ordered by descending
// dtype then name, `__metadata__` first, compact JSON padded with spaces to
// a multiple of 8 bytes.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_IO_SAFETENSORS_H
#define QUANTC_IO_SAFETENSORS_H

#include "quantc/IO/MappedFile.h"
#include "quantc/IO/OutputStream.h"
#include "quantc/IO/Result.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quantc::io {

/// The reference's dtypes, in its order (the writer sorts by it).
enum class SafetensorsDType : uint8_t {
  BOOL,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  F64,
  I64,
  U64,
};

/// "F32", "BF16", "F8_E4M3", ... as the header spells them.
std::string_view getSafetensorsDTypeName(SafetensorsDType dtype);
std::optional<SafetensorsDType> lookupSafetensorsDType(std::string_view name);
size_t getSafetensorsDTypeSize(SafetensorsDType dtype);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDType dtype = SafetensorsDType::F32;
  /// Row-major, outermost first; empty for a scalar.
  std::vector<uint64_t> shape;
  /// The bytes (a view into the mapping for tensors a reader returned).
  const uint8_t *data = nullptr;
  uint64_t size = 0;

  uint64_t getElementCount() const;
};

struct SafetensorsFile {
  /// `__metadata__`, when the header has it (string values only).
  std::optional<std::map<std::string, std::string>> metadata;
  /// In file order (ascending byte ranges) when read.
  std::vector<SafetensorsTensor> tensors;
  std::shared_ptr<const MappedFile> mapping;

  const SafetensorsTensor *find(std::string_view name) const;
};

Result<SafetensorsFile> readSafetensors(const std::string &path);
/// Parses a safetensors file in memory; tensors view `data`. `name`
/// prefixes error messages.
Result<SafetensorsFile> parseSafetensors(const uint8_t *data, size_t size,
                                         const std::string &name);

/// Writes the reference implementation's layout for the same tensors and
/// metadata; checks names are unique and sizes match shapes.
Status writeSafetensors(const SafetensorsFile &file, OutputStream &out);
/// writeSafetensors into `path`, atomically.
Status writeSafetensorsFile(const SafetensorsFile &file,
                            const std::string &path);

} // namespace quantc::io

#endif // QUANTC_IO_SAFETENSORS_H
