//===- Bytes.h - bounds-checked little-endian reading and writing *- C++
//-*-===//
//
// Every reader in lib/IO walks hostile bytes through ByteReader, whose reads
// fail instead of running past the end; nothing else indexes the input.
// quantc only runs on little-endian hosts, so values are copied as they are.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_LIB_IO_BYTES_H
#define QUANTC_LIB_IO_BYTES_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "lib/IO reads and writes little-endian files natively");

namespace quantc::io {

class ByteReader {
public:
  ByteReader(const uint8_t *data, size_t size) : data(data), size(size) {}

  size_t offset() const { return position; }
  size_t remaining() const { return size - position; }

  template <typename T> bool read(T &value) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T))
      return false;
    std::memcpy(&value, data + position, sizeof(T));
    position += sizeof(T);
    return true;
  }
  /// A view of the next `count` bytes.
  bool view(uint64_t count, const uint8_t *&bytes) {
    if (remaining() < count)
      return false;
    bytes = data + position;
    position += static_cast<size_t>(count);
    return true;
  }
  bool readString(uint64_t length, std::string &value) {
    const uint8_t *bytes;
    if (!view(length, bytes))
      return false;
    value.assign(reinterpret_cast<const char *>(bytes),
                 static_cast<size_t>(length));
    return true;
  }

private:
  const uint8_t *data;
  size_t size;
  size_t position = 0;
};

/// Appends little-endian values to a byte vector.
class ByteWriter {
public:
  explicit ByteWriter(std::vector<uint8_t> &out) : out(out) {}

  template <typename T> void write(const T &value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto *bytes = reinterpret_cast<const uint8_t *>(&value);
    out.insert(out.end(), bytes, bytes + sizeof(T));
  }
  void writeBytes(const void *data, size_t count) {
    const auto *bytes = static_cast<const uint8_t *>(data);
    out.insert(out.end(), bytes, bytes + count);
  }

private:
  std::vector<uint8_t> &out;
};

/// Sets `product` to a * b; true when that overflows uint64.
inline bool mulOverflows(uint64_t a, uint64_t b, uint64_t &product) {
  return __builtin_mul_overflow(a, b, &product);
}
/// Sets `sum` to a + b; true when that overflows uint64.
inline bool addOverflows(uint64_t a, uint64_t b, uint64_t &sum) {
  return __builtin_add_overflow(a, b, &sum);
}

} // namespace quantc::io

#endif // QUANTC_LIB_IO_BYTES_H
