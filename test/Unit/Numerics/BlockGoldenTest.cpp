//===- BlockGoldenTest.cpp - block formats against llama.cpp's bytes ------===//
//
// The golden-file test of every block format, on every kernel tier the CPU
// has; each format family's test file instantiates it with its formats.
// Also the 16-bit float formats, which GGUF stores row by row like the
// block formats.
//
//===----------------------------------------------------------------------===//

#include "BlockTesting.h"
#include "Golden.h"

#include "quantc/Numerics/Float.h"
#include "quantc/Numerics/Isa.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace quantc;
using namespace quantc::test;

namespace {

/// True when manifest.tsv lists this type and variant.
bool manifestLists(const std::filesystem::path &manifest,
                   const std::string &type, const std::string &variant,
                   size_t &bytes) {
  std::ifstream in(manifest);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string t, v, rows, cols, b;
    if (!(fields >> t >> v >> rows >> cols >> b))
      continue;
    if (t == type && v == variant) {
      bytes = std::stoull(b);
      return true;
    }
  }
  return false;
}

TEST_P(BlockGolden, QuantizesAndDequantizesLikeLlamaCpp) {
  const Format format = GetParam().format;
  const std::string variant = GetParam().variant;
  const std::string type = formatName(format);
  const auto dir = test::goldenDir("ggml");
  const auto manifestPath = dir / "manifest.tsv";
  const auto inputPath = dir / "input.f32";
  const auto imatrixPath = dir / "imatrix.f32";
  const auto quantPath = dir / (type + "." + variant + ".q");
  const auto deqPath = dir / (type + "." + variant + ".deq.f32");
  if (!std::filesystem::exists(manifestPath))
    GTEST_SKIP() << "golden manifest " << manifestPath.string()
                 << " is absent (../shared/data not beside the checkout)";
  size_t manifestBytes = 0;
  if (!manifestLists(manifestPath, type, variant, manifestBytes))
    GTEST_SKIP() << type << " " << variant << " is not in "
                 << manifestPath.string();
  QUANTC_REQUIRE_GOLDEN(input, test::readFloats(inputPath), inputPath);
  QUANTC_REQUIRE_GOLDEN(golden, test::readBytes(quantPath), quantPath);
  QUANTC_REQUIRE_GOLDEN(goldenDeq, test::readFloats(deqPath), deqPath);
  std::optional<std::vector<float>> imatrix;
  if (variant == "imatrix") {
    imatrix = test::readFloats(imatrixPath);
    if (!imatrix)
      GTEST_SKIP() << "golden file " << imatrixPath.string() << " is absent";
    ASSERT_EQ(imatrix->size(), size_t(test::kGgmlCols));
  }

  const int64_t rows = test::kGgmlRows, cols = test::kGgmlCols;
  const size_t stride = rowBytes(format, cols);
  const size_t blockBytes = getFormatInfo(format).bytesPerBlock;
  ASSERT_EQ(input->size(), size_t(rows * cols));
  ASSERT_EQ(golden->size(), rows * stride);
  ASSERT_EQ(manifestBytes, golden->size());
  ASSERT_EQ(goldenDeq->size(), input->size());

  // Every kernel tier this CPU has (the scalar reference first) must give
  // llama.cpp's bytes and floats.
  for (Isa isa : {Isa::Scalar, Isa::AVX2, Isa::AVX512}) {
    if (isa > detectIsa())
      continue;
    IsaScope tier(isa);
    SCOPED_TRACE(std::string(isaName(isa)) + " kernels");
    // Quantize: byte for byte, reporting the first differing block and how
    // many blocks differ in all.
    std::vector<uint8_t> ours = quantize(format, *input, rows, cols,
                                         imatrix ? imatrix->data() : nullptr);
    size_t differingBlocks = 0, firstDiff = ours.size();
    for (size_t block = 0; block < ours.size() / blockBytes; ++block) {
      if (std::memcmp(&ours[block * blockBytes], &(*golden)[block * blockBytes],
                      blockBytes) != 0) {
        if (firstDiff == ours.size())
          firstDiff = block;
        ++differingBlocks;
      }
    }
    if (differingBlocks != 0) {
      size_t blocksPerRow = stride / blockBytes;
      size_t at = firstDiff * blockBytes;
      while (ours[at] == (*golden)[at])
        ++at;
      ADD_FAILURE() << type << " " << variant << ": " << differingBlocks
                    << " blocks differ; first at row "
                    << firstDiff / blocksPerRow << " block "
                    << firstDiff % blocksPerRow << " byte "
                    << at - firstDiff * blockBytes << " (ours 0x" << std::hex
                    << int(ours[at]) << ", llama.cpp 0x" << int((*golden)[at])
                    << ")";
    }

    // Dequantize llama.cpp's bytes: float for float, bit for bit.
    std::vector<float> deq = dequantize(format, *golden, rows, cols);
    for (size_t i = 0; i < deq.size(); ++i)
      ASSERT_EQ(floatBits(deq[i]), floatBits((*goldenDeq)[i]))
          << type << " " << variant << " row " << i / cols << " column "
          << i % cols << ": ours " << deq[i] << ", llama.cpp "
          << (*goldenDeq)[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Float16, BlockGolden,
                         testing::Values(GoldenCase{Format::F16, "plain"},
                                         GoldenCase{Format::BF16, "plain"}),
                         goldenCaseName);

} // namespace
