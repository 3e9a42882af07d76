//===- TernaryQuantsTest.cpp - TQ1_0 TQ2_0 --------------------------------===//

#include "quantc/Numerics/TernaryQuants.h"

#include "quantc/Numerics/BlockCodecs.h"
#include "quantc/Numerics/Float.h"

#include "BlockTesting.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace quantc;
using namespace quantc::test;

namespace {

constexpr Format kTernaryFormats[] = {Format::TQ1_0, Format::TQ2_0};

//===----------------------------------------------------------------------===//
// llama.cpp golden files (the test itself is in BlockGoldenTest.cpp)
//===----------------------------------------------------------------------===//

INSTANTIATE_TEST_SUITE_P(Ternary, BlockGolden,
                         testing::Values(GoldenCase{Format::TQ1_0, "plain"},
                                         GoldenCase{Format::TQ2_0, "plain"}),
                         goldenCaseName);

//===----------------------------------------------------------------------===//
// Properties that need no golden data
//===----------------------------------------------------------------------===//

/// The fp16 d, which both formats store after the codes.
float blockScale(Format format, const uint8_t *block) {
  int at = format == Format::TQ1_0 ? 52 : 64;
  return fp16ToFp32(static_cast<uint16_t>(block[at] | (block[at + 1] << 8)));
}

// Every value is -d, 0 or +d with d = fp16(block amax), and the trit is
// x / amax rounded half away from zero.
TEST(Ternary, ValuesAreRoundedTritsTimesBlockScale) {
  const int64_t rows = 8, cols = 1024;
  std::vector<float> src = randomRows(rows, cols, 31);
  for (Format format : kTernaryFormats) {
    SCOPED_TRACE(formatName(format));
    const size_t blockBytes = getFormatInfo(format).bytesPerBlock;
    std::vector<uint8_t> q = quantize(format, src, rows, cols, nullptr);
    std::vector<float> deq = dequantize(format, q, rows, cols);
    for (size_t block = 0; block < src.size() / 256; ++block) {
      const float *x = &src[block * 256];
      float amax = 0;
      for (int j = 0; j < 256; ++j)
        amax = std::max(amax, std::fabs(x[j]));
      const float d = blockScale(format, &q[block * blockBytes]);
      ASSERT_EQ(d, fp16ToFp32(fp32ToFp16(amax))) << "block " << block;
      for (int j = 0; j < 256; ++j) {
        const float v = deq[block * 256 + j];
        ASSERT_TRUE(v == d || v == 0.0f || v == -d) << j << ": " << v;
        const long trit = std::lround(x[j] * (1.0f / amax));
        ASSERT_EQ(v, static_cast<float>(trit) * d)
            << "block " << block << " element " << j;
      }
    }
  }
}

/// Element holding trit n (most significant first) of TQ1_0 byte `byte`:
/// bytes 0-31 take elements byte + 32n, bytes 32-47 elements 160 + 16n,
/// the qh bytes 48-51 elements 240 + 4n (four trits each).
int tq1Element(int byte, int n) {
  if (byte < 32)
    return byte + 32 * n;
  if (byte < 48)
    return 160 + (byte - 32) + 16 * n;
  return 240 + (byte - 48) + 4 * n;
}

// Exhaustive over the base-3 packing: block p gives byte b the trit pattern
// (p + b) mod 3^k, so across 243 blocks every byte position sees every
// pattern. A byte must hold ceil(v * 256 / 243), v being its trits read as
// a five-digit base-3 number (the qh bytes with a zero last digit), and
// must dequantize back to exactly those trits.
TEST(Ternary, TQ1PacksEveryTritPatternInBase3) {
  const int blocks = 243;
  std::vector<float> src(blocks * 256);
  for (int p = 0; p < blocks; ++p) {
    for (int byte = 0; byte < 52; ++byte) {
      const int trits = byte < 48 ? 5 : 4;
      int pattern = (p + byte) % (trits == 5 ? 243 : 81);
      for (int n = trits - 1; n >= 0; --n, pattern /= 3)
        src[p * 256 + tq1Element(byte, n)] =
            static_cast<float>(pattern % 3 - 1);
    }
  }
  std::vector<uint8_t> q = quantize(Format::TQ1_0, src, blocks, 256, nullptr);
  std::vector<float> deq = dequantize(Format::TQ1_0, q, blocks, 256);
  EXPECT_EQ(deq, src);
  for (int p = 0; p < blocks; ++p) {
    const uint8_t *block = &q[p * 54];
    ASSERT_EQ(blockScale(Format::TQ1_0, block), 1.0f);
    for (int byte = 0; byte < 52; ++byte) {
      const int trits = byte < 48 ? 5 : 4;
      int value = 0;
      for (int n = 0; n < 5; ++n) {
        int code =
            n < trits ? static_cast<int>(src[p * 256 + tq1Element(byte, n)]) + 1
                      : 0;
        value = value * 3 + code;
      }
      ASSERT_EQ(block[byte], (value * 256 + 242) / 243)
          << "block " << p << " byte " << byte;
    }
  }
}

// TQ2_0: byte m of half h holds elements 128h + m + 32n in bits 2n..2n+1,
// as trit + 1.
TEST(Ternary, TQ2PacksTwoBitsPerTritInGgmlOrder) {
  std::vector<float> src(256);
  for (int j = 0; j < 256; ++j)
    src[j] = static_cast<float>((j * 7 + j / 3) % 3 - 1);
  src[5] = 1.0f; // amax 1 regardless of the pattern
  std::vector<uint8_t> q = quantize(Format::TQ2_0, src, 1, 256, nullptr);
  for (int h = 0; h < 2; ++h) {
    for (int m = 0; m < 32; ++m) {
      int expected = 0;
      for (int n = 0; n < 4; ++n)
        expected |= (static_cast<int>(src[128 * h + m + 32 * n]) + 1)
                    << (2 * n);
      EXPECT_EQ(q[32 * h + m], expected) << "half " << h << " byte " << m;
    }
  }
  EXPECT_EQ(dequantize(Format::TQ2_0, q, 1, 256), src);
}

// llama.cpp's zero block: d = 0 and every trit 0 (code 1): 0x55 for TQ2_0;
// for TQ1_0 ceil(121 * 256 / 243) = 128 in qs and ceil(120 * 256 / 243) =
// 127 in qh.
TEST(Ternary, ZeroRowsMatchLlamaCppAndDequantizeToZero) {
  std::vector<float> zeros(512, 0.0f);
  std::vector<uint8_t> tq1(48, 0x80);
  tq1.resize(52, 0x7F);
  tq1.resize(54, 0x00);
  std::vector<uint8_t> tq2(64, 0x55);
  tq2.resize(66, 0x00);
  std::vector<uint8_t> q1 = quantize(Format::TQ1_0, zeros, 1, 512, nullptr);
  std::vector<uint8_t> q2 = quantize(Format::TQ2_0, zeros, 1, 512, nullptr);
  for (int b = 0; b < 2; ++b) {
    EXPECT_TRUE(std::equal(tq1.begin(), tq1.end(), &q1[b * 54]));
    EXPECT_TRUE(std::equal(tq2.begin(), tq2.end(), &q2[b * 66]));
  }
  for (Format format : kTernaryFormats)
    for (float v :
         dequantize(format, quantize(format, zeros, 1, 512, nullptr), 1, 512))
      ASSERT_EQ(v, 0.0f) << formatName(format);
}

TEST(Ternary, IgnoresImportance) {
  const int64_t rows = 4, cols = 512;
  std::vector<float> src = randomRows(rows, cols, 5);
  std::vector<float> importance(cols, 3.0f);
  importance[7] = 1000.0f;
  for (Format format : kTernaryFormats)
    EXPECT_EQ(quantize(format, src, rows, cols, nullptr),
              quantize(format, src, rows, cols, importance.data()))
        << formatName(format);
}

TEST(Ternary, RowFunctionsReturnRegistryRowBytes) {
  const int64_t n = 512;
  std::vector<float> src = randomRows(1, n, 3);
  std::vector<uint8_t> buf(n);
  EXPECT_EQ(quantizeRowTQ1_0(src.data(), buf.data(), n, nullptr),
            rowBytes(Format::TQ1_0, n));
  EXPECT_EQ(quantizeRowTQ2_0(src.data(), buf.data(), n, nullptr),
            rowBytes(Format::TQ2_0, n));
}

TEST(Ternary, DispatchCoversTernaryFormatsOnly) {
  expectFamilyDispatch(getTernaryRowCodec, {Format::TQ1_0, Format::TQ2_0});
}

} // namespace
