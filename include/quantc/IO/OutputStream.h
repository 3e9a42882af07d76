//===- OutputStream.h - byte sinks for the writers --------------*- C++ -*-===//
//
// The writers stream into an OutputStream: into memory (tests, fuzzers
// checking read-write-read round trips) or into a file that appears
// atomically. A file is never left half-written: output goes to a temporary
// file in the destination's directory, which is synced and renamed over the
// destination only on commit(), and removed otherwise: also when SIGINT,
// SIGTERM or SIGHUP ends the process (where their action was the default).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_IO_OUTPUTSTREAM_H
#define QUANTC_IO_OUTPUTSTREAM_H

#include "quantc/IO/Result.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace quantc::io {

class OutputStream {
public:
  virtual ~OutputStream();
  /// Appends `size` bytes.
  virtual Status write(const void *data, size_t size) = 0;
  /// Appends `count` zero bytes.
  Status writeZeros(size_t count);
  /// Bytes written so far.
  uint64_t tell() const { return written; }

protected:
  uint64_t written = 0;
};

/// Collects the bytes in memory.
class MemoryOutputStream final : public OutputStream {
public:
  Status write(const void *data, size_t size) override;
  const std::vector<uint8_t> &bytes() const { return buffer; }

private:
  std::vector<uint8_t> buffer;
};

/// Writes a temporary file beside `path` and renames it to `path` on commit.
class AtomicFileOutputStream final : public OutputStream {
public:
  /// Creates the temporary file (mode 0666 less the umask, like a plain
  /// open would).
  static Result<std::unique_ptr<AtomicFileOutputStream>>
  create(const std::string &path);
  /// Removes the temporary file unless commit() succeeded.
  ~AtomicFileOutputStream() override;

  Status write(const void *data, size_t size) override;
  /// Syncs, closes and renames the temporary file over the destination, then
  /// syncs the directory so that the rename itself is durable.
  Status commit();

private:
  AtomicFileOutputStream(std::string path, std::string tempPath, int fd)
      : path(std::move(path)), tempPath(std::move(tempPath)), fd(fd) {}
  void discard();

  std::string path;
  std::string tempPath;
  int fd;
  /// Where a fatal signal finds the temporary path to remove, or -1.
  int pendingSlot = -1;
  bool committed = false;
};

} // namespace quantc::io

#endif // QUANTC_IO_OUTPUTSTREAM_H
