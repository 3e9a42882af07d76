//===- GroupedAffineTest.cpp - integer weights in groups along a row ------===//
//
// The storage of `!qc.grouped` against statements written out here: the bit
// stream read one bit at a time, the plane layout from its definition, and
// the codes and parameters of the per-group affine math in Affine.h.
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/GroupedAffine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace quantc;

namespace {

/// Code k of a row, bit by bit from the definition: bits [k*b, k*b + b) of
/// the row as a little-endian bit stream, two's complement when signed.
int32_t codeFromBits(const std::vector<uint8_t> &row, int64_t k, unsigned bits,
                     bool isSigned) {
  int32_t code = 0;
  for (unsigned i = 0; i < bits; ++i) {
    int64_t bit = k * bits + i;
    code |= ((row[bit / 8] >> (bit % 8)) & 1) << i;
  }
  if (isSigned && code >= (1 << (bits - 1)))
    code -= 1 << bits;
  return code;
}

std::vector<float> randomMatrix(int64_t rows, int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> values(static_cast<size_t>(rows * cols));
  for (float &value : values)
    value = normal(rng);
  // One outlier per row, so that groups differ in range.
  for (int64_t r = 0; r < rows; ++r)
    values[r * cols + (r * 7) % cols] = 0.4f * ((r % 2) ? 1.0f : -1.0f);
  return values;
}

TEST(GroupedAffine, EveryWidthAndSignRoundTripsThroughTheBitStream) {
  std::mt19937 rng(7);
  for (unsigned bits = 2; bits <= 8; ++bits) {
    for (bool isSigned : {false, true}) {
      SCOPED_TRACE(testing::Message()
                   << "bits " << bits << " signed " << isSigned);
      const int64_t cols = 173; // odd, so the last code ends mid-byte
      int32_t lo = isSigned ? -(1 << (bits - 1)) : 0;
      int32_t hi = isSigned ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
      std::uniform_int_distribution<int32_t> code(lo, hi);
      std::vector<int32_t> codes(cols);
      for (int32_t &c : codes)
        c = code(rng);
      codes[0] = lo;
      codes[1] = hi;
      std::vector<uint8_t> row((cols * bits + 7) / 8, 0);
      for (int64_t k = 0; k < cols; ++k)
        writeGroupedCode(row.data(), k, bits, codes[k]);
      for (int64_t k = 0; k < cols; ++k) {
        ASSERT_EQ(readGroupedCode(row.data(), k, bits, isSigned), codes[k])
            << "k " << k;
        ASSERT_EQ(codeFromBits(row, k, bits, isSigned), codes[k]) << "k " << k;
      }
    }
  }
}

TEST(GroupedAffine, ThreeBitCodesStraddleBytes) {
  // Codes 0..7 at 3 bits: 0b111'110'101'100'011'010'001'000 = 0xFAC688.
  std::vector<uint8_t> row(3, 0);
  for (int32_t k = 0; k < 8; ++k)
    writeGroupedCode(row.data(), k, 3, k);
  EXPECT_EQ(row[0], 0x88);
  EXPECT_EQ(row[1], 0xC6);
  EXPECT_EQ(row[2], 0xFA);
  // Code 2 spans bits 6..8: the top bit of byte 0 and the low bit of byte 1.
  EXPECT_EQ(readGroupedCode(row.data(), 2, 3, false), 2);
  EXPECT_EQ(readGroupedCode(row.data(), 5, 3, true), -3);
}

TEST(GroupedAffine, LayoutPlanesAre64ByteAligned) {
  for (unsigned bits : {2u, 3u, 4u, 5u, 8u}) {
    for (bool isSigned : {false, true}) {
      for (int64_t group : {0, 32, 64}) {
        for (auto [rows, cols] :
             {std::pair<int64_t, int64_t>{7, 172}, {64, 64}, {3, 5}, {1, 1}}) {
          GroupedFormat format{bits, isSigned, group};
          GroupedLayout layout = groupedLayout(format, rows, cols);
          SCOPED_TRACE(format.name() + " " + std::to_string(rows) + "x" +
                       std::to_string(cols));
          int64_t effective = group == 0 || group >= cols ? cols : group;
          int64_t groups = (cols + effective - 1) / effective;
          EXPECT_EQ(layout.groupsPerRow, groups);
          EXPECT_EQ(layout.codeRowBytes, (cols * bits + 7) / 8);
          EXPECT_EQ(layout.codesOffset, 0u);
          EXPECT_EQ(layout.scalesOffset % kPlaneAlignment, 0u);
          EXPECT_GE(layout.scalesOffset,
                    static_cast<uint64_t>(rows * layout.codeRowBytes));
          EXPECT_LT(layout.scalesOffset,
                    rows * layout.codeRowBytes + kPlaneAlignment);
          uint64_t scalesEnd = layout.scalesOffset + rows * groups * 4;
          if (isSigned) {
            EXPECT_EQ(layout.zeroPointsOffset, layout.totalBytes);
            EXPECT_EQ(layout.totalBytes, scalesEnd);
          } else {
            EXPECT_EQ(layout.zeroPointsOffset % kPlaneAlignment, 0u);
            EXPECT_GE(layout.zeroPointsOffset, scalesEnd);
            EXPECT_LT(layout.zeroPointsOffset, scalesEnd + kPlaneAlignment);
            EXPECT_EQ(layout.totalBytes,
                      layout.zeroPointsOffset + rows * groups);
          }
        }
      }
    }
  }
}

TEST(GroupedAffine, PackAgreesWithGroupParamsAndQuantizeGroups) {
  const int64_t rows = 6, cols = 172; // groups of 32: the last one has 12
  std::vector<float> weights = randomMatrix(rows, cols, 3);
  for (unsigned bits = 2; bits <= 8; ++bits) {
    for (bool isSigned : {false, true}) {
      for (int64_t group : {0, 32}) {
        GroupedFormat format{bits, isSigned, group};
        SCOPED_TRACE(format.name());
        GroupedLayout layout = groupedLayout(format, rows, cols);
        std::vector<uint8_t> blob(layout.totalBytes, 0xAB);
        ASSERT_TRUE(
            packGrouped(weights.data(), rows, cols, format, blob.data()));

        int64_t effective = format.effectiveGroupSize(cols);
        std::optional<std::vector<AffineParams>> params = computeGroupParams(
            weights.data(), rows, cols, effective, format.scheme());
        ASSERT_TRUE(params);
        std::vector<uint8_t> codes(rows * cols);
        quantizeGroups(weights.data(), rows, cols, effective, *params,
                       format.scheme(), codes.data());
        std::vector<float> expected(rows * cols), unpacked(rows * cols);
        dequantizeGroups(codes.data(), rows, cols, effective, *params,
                         format.scheme(), expected.data());
        unpackGrouped(blob.data(), rows, cols, format, unpacked.data());

        for (int64_t r = 0; r < rows; ++r) {
          const uint8_t *codeRow =
              blob.data() + layout.codesOffset + r * layout.codeRowBytes;
          for (int64_t g = 0; g < layout.groupsPerRow; ++g) {
            AffineParams stored =
                readGroupedParams(blob.data(), layout, format, r, g);
            const AffineParams &want = (*params)[r * layout.groupsPerRow + g];
            ASSERT_EQ(stored.scale, want.scale);
            ASSERT_EQ(stored.zeroPoint, want.zeroPoint);
          }
          for (int64_t c = 0; c < cols; ++c) {
            int32_t code = readGroupedCode(codeRow, c, bits, isSigned);
            int32_t byteCode = isSigned
                                   ? static_cast<int8_t>(codes[r * cols + c])
                                   : codes[r * cols + c];
            ASSERT_EQ(code, byteCode) << r << "," << c;
            // Bit for bit, and within half a step of the weight.
            float value = unpacked[r * cols + c];
            ASSERT_EQ(std::memcmp(&value, &expected[r * cols + c], 4), 0);
            float scale =
                (*params)[r * layout.groupsPerRow + c / effective].scale;
            ASSERT_LE(std::fabs(value - weights[r * cols + c]),
                      0.5f * scale * 1.0001f);
          }
        }
        // Padding between planes is zeroed (files are deterministic).
        for (uint64_t i = rows * layout.codeRowBytes; i < layout.scalesOffset;
             ++i)
          ASSERT_EQ(blob[i], 0) << i;
      }
    }
  }
}

TEST(GroupedAffine, RaggedLastGroupHasItsOwnRange) {
  // Row: 32 values in [-1, 1], then 12 in [0, 0.1]: the last group's scale
  // comes from its 12 values only.
  std::vector<float> row(44);
  for (int i = 0; i < 32; ++i)
    row[i] = -1.0f + 2.0f * i / 31.0f;
  for (int i = 0; i < 12; ++i)
    row[32 + i] = 0.1f * i / 11.0f;
  row[43] = 0.1f;
  GroupedFormat format{4, false, 32};
  GroupedLayout layout = groupedLayout(format, 1, 44);
  ASSERT_EQ(layout.groupsPerRow, 2);
  std::vector<uint8_t> blob(layout.totalBytes);
  ASSERT_TRUE(packGrouped(row.data(), 1, 44, format, blob.data()));
  AffineParams first = readGroupedParams(blob.data(), layout, format, 0, 0);
  AffineParams last = readGroupedParams(blob.data(), layout, format, 0, 1);
  EXPECT_EQ(first.scale, 2.0f / 15.0f);
  EXPECT_EQ(last.scale, 0.1f / 15.0f);
  EXPECT_EQ(last.zeroPoint, 0);
}

TEST(GroupedAffine, NonFiniteWeightsAreRefused) {
  GroupedFormat format{4, true, 32};
  std::vector<uint8_t> blob(groupedLayout(format, 2, 64).totalBytes);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> weights = randomMatrix(2, 64, 5);
    weights[70] = bad;
    EXPECT_FALSE(packGrouped(weights.data(), 2, 64, format, blob.data()));
  }
}

TEST(GroupedAffine, NamesAndBitsPerWeight) {
  EXPECT_EQ((GroupedFormat{8, true, 0}).name(), "si8");
  EXPECT_EQ((GroupedFormat{4, false, 32}).name(), "ui4:g32");
  // 4 bits + (32-bit scale + 8-bit zero point) / 32.
  EXPECT_DOUBLE_EQ((GroupedFormat{4, false, 32}).bitsPerWeight(64), 4.0 + 1.25);
  // Ragged: 172 columns in 6 groups.
  EXPECT_DOUBLE_EQ((GroupedFormat{3, true, 32}).bitsPerWeight(172),
                   3.0 + 32.0 * 6 / 172);
}

} // namespace
