//===- Golden.h - reading ../shared/data golden files in tests --*- C++ -*-===//

#ifndef QUANTC_TEST_UNIT_NUMERICS_GOLDEN_H
#define QUANTC_TEST_UNIT_NUMERICS_GOLDEN_H

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace quantc::test {

/// `../shared/data/golden/<sub>`, wherever CMake found shared data.
inline std::filesystem::path goldenDir(const std::string &sub) {
  return std::filesystem::path(QUANTC_SHARED_DATA_DIR) / "golden" / sub;
}

/// The whole file, or nullopt when it is absent.
inline std::optional<std::vector<uint8_t>>
readBytes(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::nullopt;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

/// A little-endian float32 file (this machine is little-endian).
inline std::optional<std::vector<float>>
readFloats(const std::filesystem::path &path) {
  std::optional<std::vector<uint8_t>> bytes = readBytes(path);
  if (!bytes)
    return std::nullopt;
  std::vector<float> values(bytes->size() / sizeof(float));
  std::memcpy(values.data(), bytes->data(), values.size() * sizeof(float));
  return values;
}

/// The 32 x 4096 llama.cpp golden input (see golden/ggml/README.md).
constexpr int64_t kGgmlRows = 32;
constexpr int64_t kGgmlCols = 4096;

} // namespace quantc::test

// Skips the current test with a clear message when a golden file is absent.
#define QUANTC_REQUIRE_GOLDEN(var, expr, path)                                 \
  auto var = (expr);                                                           \
  if (!var)                                                                    \
    GTEST_SKIP() << "golden file " << (path).string()                          \
                 << " is absent (../shared/data not beside the checkout)";

#endif // QUANTC_TEST_UNIT_NUMERICS_GOLDEN_H
