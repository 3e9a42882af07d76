//===- FormatsTest.cpp - the format registry ------------------------------===//

#include "quantc/Numerics/Formats.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

using namespace quantc;

namespace {

TEST(FormatRegistry, NamesAndGgmlIdsAreUniqueAndRoundTrip) {
  size_t count = 0;
  const FormatInfo *formats = allFormats(count);
  ASSERT_GT(count, 0u);
  std::set<std::string_view> names;
  std::set<uint32_t> ids;
  for (size_t i = 0; i < count; ++i) {
    const FormatInfo &info = formats[i];
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    EXPECT_TRUE(ids.insert(info.ggmlType).second) << info.name;
    EXPECT_EQ(lookupFormat(info.name), info.format) << info.name;
    EXPECT_EQ(lookupFormatByGgmlType(info.ggmlType), info.format);
    EXPECT_EQ(&getFormatInfo(info.format), &info);
    EXPECT_GT(info.blockSize, 0u);
    EXPECT_GT(info.bytesPerBlock, 0u);
    EXPECT_EQ(info.isBlockQuantized(), info.blockSize > 1) << info.name;
  }
  EXPECT_FALSE(lookupFormat("q4_k").has_value()) << "K must stay upper-case";
  EXPECT_FALSE(lookupFormat("").has_value());
  EXPECT_FALSE(lookupFormatByGgmlType(4).has_value()) << "ggml retired Q4_2";
}

// Bits per weight as llama.cpp documents them.
TEST(FormatRegistry, BitsPerWeight) {
  struct Expected {
    Format format;
    double bpw;
  } expected[] = {
      {Format::F32, 32.0},     {Format::F16, 16.0},    {Format::BF16, 16.0},
      {Format::Q4_0, 4.5},     {Format::Q4_1, 5.0},    {Format::Q5_0, 5.5},
      {Format::Q5_1, 6.0},     {Format::Q8_0, 8.5},    {Format::Q2_K, 2.625},
      {Format::Q3_K, 3.4375},  {Format::Q4_K, 4.5},    {Format::Q5_K, 5.5},
      {Format::Q6_K, 6.5625},  {Format::IQ4_NL, 4.5},  {Format::IQ4_XS, 4.25},
      {Format::TQ1_0, 1.6875}, {Format::TQ2_0, 2.0625}};
  for (const Expected &e : expected)
    EXPECT_DOUBLE_EQ(getFormatInfo(e.format).bitsPerWeight(), e.bpw)
        << getFormatInfo(e.format).name;
}

TEST(FormatRegistry, RowBytesNeedWholeBlocks) {
  const FormatInfo &q4k = getFormatInfo(Format::Q4_K);
  EXPECT_EQ(q4k.rowBytes(4096), std::optional<uint64_t>(16 * 144));
  EXPECT_FALSE(q4k.rowBytes(172).has_value()) << "stories260K's FFN width";
  EXPECT_FALSE(q4k.rowBytes(64).has_value()) << "below one super-block";
  EXPECT_EQ(getFormatInfo(Format::Q8_0).rowBytes(64),
            std::optional<uint64_t>(68));
  EXPECT_EQ(getFormatInfo(Format::F16).rowBytes(3),
            std::optional<uint64_t>(6));
}

// The byte counts of tensors llama.cpp itself wrote must follow from the
// registry: catches a wrong block size or block byte count.
TEST(FormatRegistry, MatchesLlamaCppGoldenSizes) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(QUANTC_SHARED_DATA_DIR) / "golden" / "ggml";
  std::ifstream manifest(dir / "manifest.tsv");
  if (!manifest)
    GTEST_SKIP() << "no golden data at " << dir.string()
                 << " (../shared/data is absent)";
  std::string line;
  std::getline(manifest, line); // header
  int checked = 0;
  while (std::getline(manifest, line)) {
    std::istringstream fields(line);
    std::string type, variant, fileQ;
    uint64_t rows, cols, bytes;
    double rmse;
    fields >> type >> variant >> rows >> cols >> bytes >> rmse >> fileQ;
    ASSERT_TRUE(fields) << "malformed manifest line: " << line;
    std::optional<Format> format = lookupFormat(type);
    ASSERT_TRUE(format.has_value()) << "registry lacks " << type;
    std::optional<uint64_t> rowBytes = getFormatInfo(*format).rowBytes(cols);
    ASSERT_TRUE(rowBytes.has_value()) << type;
    EXPECT_EQ(rows * *rowBytes, bytes) << type << "." << variant;
    EXPECT_EQ(fs::file_size(dir / fileQ), bytes) << fileQ;
    ++checked;
  }
  EXPECT_GE(checked, 28);
}

} // namespace
