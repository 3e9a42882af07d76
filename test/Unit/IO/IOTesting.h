//===- IOTesting.h - helpers for the file I/O tests -------------*- C++ -*-===//

#ifndef QUANTC_TEST_UNIT_IO_IOTESTING_H
#define QUANTC_TEST_UNIT_IO_IOTESTING_H

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

namespace quantc::test {

/// Little-endian bytes assembled field by field, so that tests state file
/// layouts independently of the writers under test.
class ByteBuilder {
public:
  template <typename T> ByteBuilder &add(T value) {
    return append(&value, sizeof(T));
  }
  ByteBuilder &u8(uint8_t v) { return add(v); }
  ByteBuilder &u32(uint32_t v) { return add(v); }
  ByteBuilder &i32(int32_t v) { return add(v); }
  ByteBuilder &u64(uint64_t v) { return add(v); }
  ByteBuilder &i64(int64_t v) { return add(v); }
  ByteBuilder &f32(float v) { return add(v); }
  ByteBuilder &raw(const std::string &text) {
    return append(text.data(), text.size());
  }
  /// A GGUF string: u64 length, then the bytes.
  ByteBuilder &str(const std::string &text) {
    return u64(text.size()).raw(text);
  }
  ByteBuilder &zeros(size_t count) {
    bytes.insert(bytes.end(), count, 0);
    return *this;
  }
  ByteBuilder &padTo(size_t alignment) {
    return zeros((alignment - bytes.size() % alignment) % alignment);
  }
  size_t size() const { return bytes.size(); }
  // resize + memcpy rather than insert, which g++ 12 misreports as an
  // overflow (-Wstringop-overflow) when the vector is empty.
  ByteBuilder &append(const void *data, size_t count) {
    size_t old = bytes.size();
    bytes.resize(old + count);
    if (count != 0)
      std::memcpy(bytes.data() + old, data, count);
    return *this;
  }

  std::vector<uint8_t> bytes;
};

/// A fresh directory under the test temp dir, removed with its contents.
class TempDir {
public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "quantc-io-XXXXXX").string();
    char *made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string file(const std::string &name) const {
    return (path / name).string();
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto &entry : std::filesystem::directory_iterator(path))
      names.push_back(entry.path().filename().string());
    return names;
  }

  std::filesystem::path path;
};

inline void writeFile(const std::string &path,
                      const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

/// A deterministic token stream: BOS (1), then an LCG's tokens below
/// `vocab`, so tests need no text.
inline std::vector<int32_t> someTokens(int32_t vocab, size_t count,
                                       uint32_t seed) {
  std::vector<int32_t> tokens = {1};
  uint32_t state = seed;
  while (tokens.size() < count) {
    state = state * 1664525u + 1013904223u;
    tokens.push_back(static_cast<int32_t>(state % vocab));
  }
  return tokens;
}

/// Writes tokens as a little-endian int32 samples file (`.i32`).
inline void writeTokenFile(const std::string &path,
                           const std::vector<int32_t> &tokens) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(tokens.data()),
            static_cast<std::streamsize>(tokens.size() * sizeof(int32_t)));
}

inline std::optional<std::vector<uint8_t>>
readFile(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::nullopt;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

/// `../shared/data/models/<name>`, wherever CMake found shared data.
inline std::filesystem::path modelPath(const std::string &name) {
  return std::filesystem::path(QUANTC_SHARED_DATA_DIR) / "models" / name;
}

} // namespace quantc::test

// Skips the current test with a clear message when a shared model is absent.
#define QUANTC_REQUIRE_MODEL(var, name)                                        \
  const std::filesystem::path var = ::quantc::test::modelPath(name);           \
  if (!std::filesystem::exists(var))                                           \
    GTEST_SKIP() << "model " << var.string()                                   \
                 << " is absent (../shared/data not beside the checkout)";

#endif // QUANTC_TEST_UNIT_IO_IOTESTING_H
