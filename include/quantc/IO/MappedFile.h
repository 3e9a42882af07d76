//===- MappedFile.h - read-only memory-mapped files -------------*- C++ -*-===//
//
// Model files are mapped, not read: a multi-GB checkpoint opens in
// milliseconds, tensors are views into the mapping, and memory stays near
// what is actually touched.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_IO_MAPPEDFILE_H
#define QUANTC_IO_MAPPEDFILE_H

#include "quantc/IO/Result.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace quantc::io {

/// A whole regular file mapped read-only; unmapped on destruction.
class MappedFile {
public:
  /// Maps `path`; errors name the path and the system's reason.
  static Result<std::shared_ptr<const MappedFile>>
  open(const std::string &path);

  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;
  ~MappedFile();

  const uint8_t *data() const { return bytes; }
  size_t size() const { return length; }
  const std::string &path() const { return filePath; }

private:
  MappedFile(std::string path, const uint8_t *bytes, size_t length)
      : filePath(std::move(path)), bytes(bytes), length(length) {}

  std::string filePath;
  /// Null for an empty file, which cannot be mapped.
  const uint8_t *bytes;
  size_t length;
};

} // namespace quantc::io

#endif // QUANTC_IO_MAPPEDFILE_H
