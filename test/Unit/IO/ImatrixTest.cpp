//===- ImatrixTest.cpp - importance matrices in their three formats -------===//

#include "IOTesting.h"

#include "quantc/IO/Imatrix.h"

#include <gtest/gtest.h>

using namespace quantc;
using namespace quantc::io;
using namespace quantc::test;

namespace {

/// Two entries; the second with a call count to divide by; optionally the
/// trailing chunk count and dataset name.
std::vector<uint8_t> legacyFile(bool withDataset) {
  ByteBuilder b;
  b.i32(2);
  b.i32(8).raw("a.weight").i32(0).i32(2).f32(1).f32(2);
  b.i32(1).raw("b").i32(4).i32(3).f32(4).f32(8).f32(12);
  if (withDataset)
    b.i32(10).i32(4).raw("wiki");
  return b.bytes;
}

TEST(Imatrix, ReadsTheLegacyFormat) {
  std::vector<uint8_t> bytes = legacyFile(true);
  Result<ImportanceMatrix> m =
      parseLegacyImatrix(bytes.data(), bytes.size(), "i.dat");
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->format, "legacy");
  EXPECT_EQ(*m->lookup("a.weight"), (std::vector<float>{1, 2}));
  EXPECT_EQ(*m->lookup("b"), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(m->lookup("c"), nullptr);
  EXPECT_EQ(m->chunkCount, 10u);
  EXPECT_EQ(m->datasets, std::vector<std::string>{"wiki"});

  std::vector<uint8_t> plain = legacyFile(false);
  m = parseLegacyImatrix(plain.data(), plain.size(), "i.dat");
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_TRUE(m->datasets.empty());
}

TEST(Imatrix, EveryTruncationOfTheLegacyFormatIsAnError) {
  std::vector<uint8_t> bytes = legacyFile(true);
  size_t entriesEnd = legacyFile(false).size();
  for (size_t size = 0; size < bytes.size(); ++size) {
    if (size == entriesEnd)
      continue; // the dataset tail is optional
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + size);
    EXPECT_FALSE(parseLegacyImatrix(prefix.data(), prefix.size(), "cut").ok())
        << "accepted an imatrix cut at byte " << size;
  }
}

TEST(Imatrix, RefusesBadLegacyFiles) {
  struct Case {
    ByteBuilder bytes;
    const char *error;
  };
  std::vector<Case> cases(5);
  cases[0].bytes.i32(0);
  cases[0].error = "legacy imatrix entry count 0 is not between 1 and";
  cases[1].bytes.i32(1 << 30).zeros(16);
  cases[1].error = "entry count 1073741824";
  cases[2].bytes.i32(1).i32(1).raw("a").i32(1).i32(0).zeros(4);
  cases[2].error = "imatrix entry 'a' has 0 values";
  cases[3].bytes.i32(1).i32(1).raw("a").i32(1).i32(1).f32(-1);
  cases[3].error = "importance of 'a' column 0 is -1; weights must be finite";
  cases[4].bytes.i32(1).i32(1).raw("a").i32(1).i32(1).f32(1).i32(0).i32(0).u8(
      7);
  cases[4].error = "1 unexpected bytes at the end";
  for (Case &c : cases) {
    Result<ImportanceMatrix> m =
        parseLegacyImatrix(c.bytes.bytes.data(), c.bytes.size(), "bad.dat");
    ASSERT_FALSE(m.ok()) << c.error;
    EXPECT_NE(m.error().find(c.error), std::string::npos) << m.error();
  }
}

TEST(Imatrix, ReadsLlamaImatrixGGUF) {
  // Two matrices of 2 columns; the second never saw input.
  const float sums[4] = {2, 4, 9, 9};
  const float counts[2] = {2, 0};
  GGUFFile file;
  file.set("general.type", GGUFValue::of("imatrix"));
  file.set("imatrix.datasets",
           GGUFValue::arrayOf(std::vector<std::string>{"calib.txt"}));
  file.set("imatrix.chunk_count", GGUFValue::of(uint32_t(5)));
  GGUFTensor sum;
  sum.name = "blk.0.ffn_up.weight.in_sum2";
  sum.shape = {2, 2};
  sum.data = reinterpret_cast<const uint8_t *>(sums);
  GGUFTensor count;
  count.name = "blk.0.ffn_up.weight.counts";
  count.shape = {1, 2};
  count.data = reinterpret_cast<const uint8_t *>(counts);
  file.tensors = {sum, count};

  Result<ImportanceMatrix> m = parseGGUFImatrix(file, "i.gguf");
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->format, "gguf");
  EXPECT_EQ(*m->lookup("blk.0.ffn_up.weight"),
            (std::vector<float>{1, 2, 1, 1}));
  EXPECT_EQ(m->datasets, std::vector<std::string>{"calib.txt"});
  EXPECT_EQ(m->chunkCount, 5u);

  TempDir dir;
  ASSERT_TRUE(writeGGUFFile(file, dir.file("i.gguf")).ok());
  Result<ImportanceMatrix> read = readImatrix(dir.file("i.gguf"));
  ASSERT_TRUE(read.ok()) << read.error();
  EXPECT_EQ(read->entries, m->entries);

  file.tensors.pop_back();
  m = parseGGUFImatrix(file, "i.gguf");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error(), "i.gguf: imatrix entry 'blk.0.ffn_up.weight' has sums "
                       "but no counts");
  file.tensors.clear();
  m = parseGGUFImatrix(file, "i.gguf");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().find("a GGUF without imatrix tensors"),
            std::string::npos);
}

TEST(Imatrix, ReadsRawFloatsByExtension) {
  TempDir dir;
  ByteBuilder raw;
  raw.f32(0.5f).f32(2);
  writeFile(dir.file("w.f32"), raw.bytes);
  Result<ImportanceMatrix> m = readImatrix(dir.file("w.f32"));
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->format, "raw");
  EXPECT_EQ(*m->lookup("any.weight"), (std::vector<float>{0.5f, 2}));

  writeFile(dir.file("odd.f32"), {1, 2, 3});
  m = readImatrix(dir.file("odd.f32"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().find("3 bytes is not a positive multiple of 4"),
            std::string::npos);

  // Anything else is read as the legacy format, and says what was expected.
  writeFile(dir.file("w.bin"), raw.bytes);
  m = readImatrix(dir.file("w.bin"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().find("a legacy .dat, or raw float32 named *.f32"),
            std::string::npos)
      << m.error();
}

} // namespace
