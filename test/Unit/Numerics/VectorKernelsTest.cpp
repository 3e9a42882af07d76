//===- VectorKernelsTest.cpp - vector kernels against the scalar code -----===//
//
// Each vector tier this CPU has must give the scalar reference's bytes for
// every input: thousands of rows of edge-case blocks (zeros of both signs,
// ties on every rounding boundary, denormals, values near FLT_MAX, constant
// blocks, blocks whose largest magnitude is negative or tied between signs,
// NaN and infinity) through every legacy codec, plain and with importance
// weights; every 16-bit float code and every rounding boundary through the
// float conversions. The golden tests check the reference against llama.cpp.
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/BlockCodecs.h"
#include "quantc/Numerics/Float.h"
#include "quantc/Numerics/Formats.h"
#include "quantc/Numerics/Isa.h"

#include "BlockTesting.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace quantc;
using namespace quantc::test;

namespace {

constexpr Format kLegacyFormats[] = {Format::Q4_0, Format::Q4_1, Format::Q5_0,
                                     Format::Q5_1, Format::Q8_0, Format::Q8_1};
constexpr float kInf = std::numeric_limits<float>::infinity();

/// Runs `body` with the scalar reference and then with `isa`.
template <typename Body> auto scalarAndVector(Isa isa, Body body) {
  IsaScope scalar(Isa::Scalar);
  auto reference = body();
  IsaScope vector(isa);
  return std::make_pair(reference, body());
}

//===----------------------------------------------------------------------===//
// Edge-case rows
//===----------------------------------------------------------------------===//

class EdgeRows {
public:
  explicit EdgeRows(uint32_t seed) : rng(seed) {}

  /// A row of `blocks` 32-element blocks, each of a random kind; with
  /// `nonFinite`, some blocks also hold NaN or infinity.
  std::vector<float> row(int blocks, bool nonFinite) {
    std::vector<float> values(blocks * 32);
    for (int b = 0; b < blocks; ++b)
      fillBlock(&values[b * 32], nonFinite);
    return values;
  }

  /// Importance weights: mostly positive and well scaled, sometimes zero,
  /// tiny, denormal or huge.
  std::vector<float> importance(int n, bool nonFinite) {
    std::vector<float> values(n);
    int kind = pick(6);
    for (float &v : values) {
      switch (kind) {
      case 0:
        v = uniform(0.01f, 1.0f);
        break;
      case 1:
        v = pick(4) == 0 ? 0.0f : uniform(0.0f, 100.0f);
        break;
      case 2:
        v = uniform(0.5f, 2.0f) * std::ldexp(1.0f, pick(200) - 100);
        break;
      case 3:
        v = denormal();
        break;
      case 4:
        v = pick(50) == 0 ? 1e30f : 1.0f;
        break;
      default:
        v = uniform(0.0f, 1.0f) * (pick(16) == 0 ? 100.0f : 1.0f);
        break;
      }
    }
    if (nonFinite && pick(4) == 0)
      values[pick(n)] = pick(2) ? kInf : std::nanf("");
    return values;
  }

  /// A random float bit pattern: NaN payloads, infinities, denormals and
  /// all exponents alike.
  float anyBits() { return floatFromBits(static_cast<uint32_t>(rng())); }

private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
  float uniform(float lo, float hi) {
    return std::uniform_real_distribution<float>(lo, hi)(rng);
  }
  float sign() { return pick(2) ? -1.0f : 1.0f; }
  float denormal() {
    return floatFromBits((pick(2) ? 0x80000000u : 0u) |
                         (static_cast<uint32_t>(rng()) & 0x007FFFFFu));
  }
  float finiteBits() {
    float v;
    do
      v = anyBits();
    while (!std::isfinite(v));
    return v;
  }

  void fillBlock(float *x, bool nonFinite) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const float scale = std::ldexp(1.0f, pick(60) - 30);
    switch (pick(14)) {
    case 0: // normal at any scale
      for (int j = 0; j < 32; ++j)
        x[j] = normal(rng) * scale;
      break;
    case 1: // zeros of both signs
      for (int j = 0; j < 32; ++j)
        x[j] = pick(3) == 0 ? -0.0f : 0.0f;
      break;
    case 2: { // constant
      float c = normal(rng) * scale;
      for (int j = 0; j < 32; ++j)
        x[j] = c;
      break;
    }
    case 3: { // on the rounding boundaries: a grid of half steps whose
              // largest magnitude makes the scale a power of two
      const int steps[] = {8, 15, 16, 31, 127};
      int top = steps[pick(5)];
      float unit = std::ldexp(1.0f, pick(40) - 20);
      for (int j = 0; j < 32; ++j)
        x[j] = unit * (static_cast<float>(pick(2 * top + 1) - top) +
                       0.5f * static_cast<float>(pick(2)));
      x[pick(32)] = sign() * unit * static_cast<float>(top);
      break;
    }
    case 4: // denormals, some zeros
      for (int j = 0; j < 32; ++j)
        x[j] = pick(8) == 0 ? 0.0f : denormal();
      break;
    case 5: // tiny: scales that underflow fp16
      for (int j = 0; j < 32; ++j)
        x[j] = normal(rng) * std::ldexp(1.0f, -pick(40) - 100);
      break;
    case 6: // near FLT_MAX: max - min overflows
      for (int j = 0; j < 32; ++j)
        x[j] =
            sign() * (pick(4) == 0 ? FLT_MAX : uniform(0.5f, 1.0f) * FLT_MAX);
      break;
    case 7: { // largest magnitude tied between signs
      float a = uniform(0.5f, 2.0f) * scale;
      for (int j = 0; j < 32; ++j)
        x[j] = uniform(-a, a) * 0.9f;
      x[pick(32)] = a;
      x[pick(32)] = -a;
      break;
    }
    case 8: { // a unique negative extreme
      for (int j = 0; j < 32; ++j)
        x[j] = uniform(-1.0f, 1.0f) * scale;
      x[pick(32)] = -2.0f * scale;
      break;
    }
    case 9: // one value, the rest zeros of either sign
      for (int j = 0; j < 32; ++j)
        x[j] = pick(2) ? -0.0f : 0.0f;
      x[pick(32)] = normal(rng) * scale;
      break;
    case 10: // any finite bit pattern
      for (int j = 0; j < 32; ++j)
        x[j] = finiteBits();
      break;
    case 11: // one-signed, offset: the affine formats' min matters
      for (int j = 0; j < 32; ++j)
        x[j] = (0.7f + 0.1f * normal(rng)) * scale;
      break;
    case 12: // few distinct values, exactly repeated
      for (int j = 0; j < 32; ++j)
        x[j] = static_cast<float>(pick(5) - 2) * scale;
      break;
    default: // uniform with occasional outliers
      for (int j = 0; j < 32; ++j)
        x[j] = uniform(-1.0f, 1.0f) * scale * (pick(37) == 0 ? 20.0f : 1.0f);
      break;
    }
    if (nonFinite && pick(6) == 0) {
      int count = 1 + pick(3);
      for (int k = 0; k < count; ++k)
        x[pick(32)] = pick(3) == 0 ? sign() * kInf : anyNaN();
    }
  }

  float anyNaN() {
    return floatFromBits((static_cast<uint32_t>(rng()) & 0x807FFFFFu) |
                         0x7F800001u);
  }

  std::mt19937 rng;
};

//===----------------------------------------------------------------------===//
// Comparison
//===----------------------------------------------------------------------===//

/// The first block where the two quantized rows differ, or -1.
int64_t firstDifferentBlock(const std::vector<uint8_t> &a,
                            const std::vector<uint8_t> &b, size_t blockBytes) {
  for (size_t block = 0; block < a.size() / blockBytes; ++block)
    if (std::memcmp(&a[block * blockBytes], &b[block * blockBytes],
                    blockBytes) != 0)
      return static_cast<int64_t>(block);
  return -1;
}

std::string describeBlock(const float *x) {
  std::string text;
  char value[32];
  for (int j = 0; j < 32; ++j) {
    std::snprintf(value, sizeof(value), "%s%a", j ? " " : "", x[j]);
    text += value;
  }
  return text;
}

std::string hexBytes(const uint8_t *p, size_t n) {
  std::string text;
  char byte[4];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(byte, sizeof(byte), "%02x", p[i]);
    text += byte;
  }
  return text;
}

class VectorKernels : public testing::TestWithParam<Isa> {
protected:
  void SetUp() override {
    if (detectIsa() < GetParam())
      GTEST_SKIP() << "this CPU has no " << isaName(GetParam());
  }

  /// Quantizes `rows` edge-case rows of `blocks` blocks with both paths;
  /// `weighted` also draws an importance vector per row.
  void compareQuantizers(Format format, int rows, int blocks, bool weighted,
                         uint32_t seed) {
    const RowCodec *codec = getRowCodec(format);
    ASSERT_NE(codec, nullptr);
    const int64_t n = blocks * 32;
    const size_t blockBytes = getFormatInfo(format).bytesPerBlock;
    EdgeRows edge(seed);
    for (int r = 0; r < rows; ++r) {
      std::vector<float> x = edge.row(blocks, /*nonFinite=*/r % 4 == 3);
      std::vector<float> importance;
      if (weighted)
        importance = edge.importance(n, /*nonFinite=*/r % 8 == 7);
      auto [scalar, vector] = scalarAndVector(GetParam(), [&] {
        std::vector<uint8_t> out(n / 32 * blockBytes, 0xA5);
        codec->quantize(x.data(), out.data(), n,
                        weighted ? importance.data() : nullptr);
        return out;
      });
      int64_t block = firstDifferentBlock(scalar, vector, blockBytes);
      ASSERT_EQ(block, -1) << formatName(format) << (weighted ? " imatrix" : "")
                           << " row " << r << " block " << block
                           << "\n  x: " << describeBlock(&x[block * 32])
                           << "\n  scalar: "
                           << hexBytes(&scalar[block * blockBytes], blockBytes)
                           << "\n  vector: "
                           << hexBytes(&vector[block * blockBytes], blockBytes);
    }
  }
};

std::string isaCaseName(const testing::TestParamInfo<Isa> &info) {
  return std::string(isaName(info.param));
}

//===----------------------------------------------------------------------===//
// Block codecs
//===----------------------------------------------------------------------===//

// 37 blocks: two full groups of 16 for the weighted kernels and a ragged one.
TEST_P(VectorKernels, QuantizersMatchScalar) {
  for (Format format : kLegacyFormats)
    compareQuantizers(format, 600, 37, /*weighted=*/false,
                      1000 + static_cast<uint32_t>(format));
}

TEST_P(VectorKernels, WeightedQuantizersMatchScalar) {
  for (Format format : {Format::Q4_0, Format::Q4_1, Format::Q5_0, Format::Q5_1})
    compareQuantizers(format, 300, 37, /*weighted=*/true,
                      2000 + static_cast<uint32_t>(format));
}

// Any bytes, scales and mins of every class included. Where a block's fp16
// scale is NaN its values are NaN both ways; which NaN (sign, payload) a
// NaN scale times a NaN min gives is the compiler's operand order, in the
// scalar code as much as here, so NaN results only need to agree on NaN.
TEST_P(VectorKernels, DequantizersMatchScalar) {
  std::mt19937 rng(77);
  for (Format format : kLegacyFormats) {
    const int64_t blocks = 4099, n = blocks * 32;
    std::vector<uint8_t> bytes(blocks * getFormatInfo(format).bytesPerBlock);
    for (uint8_t &b : bytes)
      b = static_cast<uint8_t>(rng());
    auto [scalar, vector] = scalarAndVector(GetParam(), [&] {
      std::vector<float> out(n);
      getRowCodec(format)->dequantize(bytes.data(), out.data(), n);
      return out;
    });
    for (int64_t i = 0; i < n; ++i) {
      if (std::isnan(scalar[i]) && std::isnan(vector[i]))
        continue;
      ASSERT_EQ(floatBits(scalar[i]), floatBits(vector[i]))
          << formatName(format) << " element " << i << ": scalar " << scalar[i]
          << ", vector " << vector[i];
    }
  }
}

//===----------------------------------------------------------------------===//
// 16-bit floats
//===----------------------------------------------------------------------===//

/// Values around every rounding boundary of a 16-bit format whose codes
/// decode with `decode`: each code, the midpoints to its neighbours and one
/// ulp either side; plus random bit patterns (NaN payloads included), enough
/// for the kernels' streaming path (over a megabyte of output) to run.
template <typename Decode> std::vector<float> boundaryValues(Decode decode) {
  std::vector<float> values;
  for (uint32_t code = 0; code <= 0xFFFFu; ++code) {
    float a = decode(static_cast<uint16_t>(code));
    float b = decode(static_cast<uint16_t>(code + 1));
    values.push_back(a);
    if (!std::isfinite(a) || !std::isfinite(b))
      continue;
    auto mid = static_cast<float>((double(a) + double(b)) / 2);
    values.push_back(mid);
    values.push_back(std::nextafter(mid, -kInf));
    values.push_back(std::nextafter(mid, kInf));
  }
  EdgeRows edge(5);
  for (int i = 0; i < 400000; ++i)
    values.push_back(edge.anyBits());
  // Odd length, so that the kernels' tails run too.
  values.push_back(FLT_MAX);
  return values;
}

template <typename Narrow>
void compareNarrowing(Isa isa, const std::vector<float> &values,
                      Narrow narrow) {
  // Unaligned sources and destinations, every tail length.
  for (size_t offset : {0, 1, 3}) {
    if (offset > values.size())
      continue;
    const float *src = values.data() + offset;
    const size_t count = values.size() - offset;
    auto [scalar, vector] = scalarAndVector(isa, [&] {
      std::vector<uint16_t> out(count + offset);
      narrow(src, out.data() + offset, static_cast<int64_t>(count));
      return std::vector<uint16_t>(out.begin() + offset, out.end());
    });
    for (size_t i = 0; i < count; ++i)
      ASSERT_EQ(scalar[i], vector[i])
          << "input 0x" << std::hex << floatBits(src[i]) << " offset "
          << offset;
  }
}

template <typename Widen> void compareWidening(Isa isa, Widen widen) {
  std::vector<uint16_t> codes(0x10000 + 13);
  for (size_t i = 0; i < codes.size(); ++i)
    codes[i] = static_cast<uint16_t>(i);
  for (size_t offset : {0, 1, 7}) {
    const size_t count = codes.size() - offset;
    auto [scalar, vector] = scalarAndVector(isa, [&] {
      std::vector<float> out(count);
      widen(codes.data() + offset, out.data(), static_cast<int64_t>(count));
      return out;
    });
    for (size_t i = 0; i < count; ++i)
      ASSERT_EQ(floatBits(scalar[i]), floatBits(vector[i]))
          << "code 0x" << std::hex << codes[offset + i];
  }
}

TEST_P(VectorKernels, Fp16ConversionsMatchScalar) {
  compareNarrowing(GetParam(), boundaryValues(fp16ToFp32), fp32ToFp16Row);
  compareWidening(GetParam(), fp16ToFp32Row);
}

TEST_P(VectorKernels, Bf16ConversionsMatchScalar) {
  compareNarrowing(GetParam(), boundaryValues(bf16ToFp32), fp32ToBf16Row);
  compareWidening(GetParam(), bf16ToFp32Row);
}

// Short rows: only the tails run.
TEST_P(VectorKernels, ShortFloatRowsMatchScalar) {
  EdgeRows edge(9);
  for (int count = 0; count < 40; ++count) {
    std::vector<float> values(count);
    for (float &v : values)
      v = edge.anyBits();
    compareNarrowing(GetParam(), values, fp32ToFp16Row);
    compareNarrowing(GetParam(), values, fp32ToBf16Row);
  }
}

INSTANTIATE_TEST_SUITE_P(Tiers, VectorKernels,
                         testing::Values(Isa::AVX2, Isa::AVX512), isaCaseName);

//===----------------------------------------------------------------------===//
// Selection
//===----------------------------------------------------------------------===//

TEST(NumericsIsa, SelectionIsClampedToTheCpu) {
  const Isa best = detectIsa();
  IsaScope restore(best);
  EXPECT_EQ(setNumericsIsa(Isa::Scalar), Isa::Scalar);
  EXPECT_EQ(getNumericsIsa(), Isa::Scalar);
  EXPECT_EQ(setNumericsIsa(Isa::AVX512), best);
  EXPECT_EQ(getNumericsIsa(), best);
}

TEST(NumericsIsa, NamesRoundTrip) {
  for (Isa isa : {Isa::Scalar, Isa::AVX2, Isa::AVX512})
    EXPECT_EQ(lookupIsa(isaName(isa)), isa);
  EXPECT_EQ(lookupIsa("sse9"), std::nullopt);
}

} // namespace
