//===- GroupedAffine.cpp - integer weights in groups along a row ----------===//

#include "quantc/Numerics/GroupedAffine.h"

#include <cassert>
#include <cstring>

namespace quantc {

namespace {
uint64_t alignUp(uint64_t value) {
  return (value + kPlaneAlignment - 1) / kPlaneAlignment * kPlaneAlignment;
}
} // namespace

double GroupedFormat::bitsPerWeight(int64_t cols) const {
  if (cols <= 0)
    return 0;
  double perGroupBits = isSigned ? 32.0 : 40.0; // f32 scale (+ u8 zero point)
  return bits + perGroupBits * static_cast<double>(groupsPerRow(cols)) /
                    static_cast<double>(cols);
}

std::string GroupedFormat::name() const {
  std::string text = (isSigned ? "si" : "ui") + std::to_string(bits);
  if (groupSize != 0)
    text += ":g" + std::to_string(groupSize);
  return text;
}

bool operator==(const GroupedFormat &a, const GroupedFormat &b) {
  return a.bits == b.bits && a.isSigned == b.isSigned &&
         a.groupSize == b.groupSize;
}

GroupedLayout groupedLayout(const GroupedFormat &format, int64_t rows,
                            int64_t cols) {
  GroupedLayout layout;
  layout.rows = rows;
  layout.cols = cols;
  layout.groupsPerRow = format.groupsPerRow(cols);
  layout.codeRowBytes = (cols * static_cast<int64_t>(format.bits) + 7) / 8;
  layout.codesOffset = 0;
  layout.scalesOffset =
      alignUp(static_cast<uint64_t>(rows * layout.codeRowBytes));
  uint64_t groups = static_cast<uint64_t>(rows * layout.groupsPerRow);
  uint64_t scalesEnd = layout.scalesOffset + groups * sizeof(float);
  if (format.isSigned) {
    layout.zeroPointsOffset = scalesEnd;
    layout.totalBytes = scalesEnd;
  } else {
    layout.zeroPointsOffset = alignUp(scalesEnd);
    layout.totalBytes = layout.zeroPointsOffset + groups;
  }
  return layout;
}

int32_t readGroupedCode(const uint8_t *codeRow, int64_t k, unsigned bits,
                        bool isSigned) {
  int64_t bit = k * static_cast<int64_t>(bits);
  int64_t byte = bit >> 3;
  unsigned shift = static_cast<unsigned>(bit & 7);
  // A code straddles at most two bytes (bits <= 8); read the second only
  // when it does, so the last code never reads past the row.
  uint32_t word = codeRow[byte];
  if (shift + bits > 8)
    word |= static_cast<uint32_t>(codeRow[byte + 1]) << 8;
  uint32_t mask = (1u << bits) - 1u;
  auto code = static_cast<int32_t>((word >> shift) & mask);
  if (isSigned && (code & (1 << (bits - 1))))
    code -= 1 << bits;
  return code;
}

void writeGroupedCode(uint8_t *codeRow, int64_t k, unsigned bits,
                      int32_t code) {
  int64_t bit = k * static_cast<int64_t>(bits);
  int64_t byte = bit >> 3;
  unsigned shift = static_cast<unsigned>(bit & 7);
  uint32_t mask = (1u << bits) - 1u;
  uint32_t word = (static_cast<uint32_t>(code) & mask) << shift;
  codeRow[byte] |= static_cast<uint8_t>(word & 0xff);
  if (shift + bits > 8)
    codeRow[byte + 1] |= static_cast<uint8_t>(word >> 8);
}

void packGroupedCodes(const int32_t *codes,
                      const std::vector<AffineParams> &params, int64_t rows,
                      int64_t cols, const GroupedFormat &format, uint8_t *out) {
  GroupedLayout layout = groupedLayout(format, rows, cols);
  assert(static_cast<int64_t>(params.size()) == rows * layout.groupsPerRow);
  std::memset(out, 0, layout.totalBytes);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t *codeRow = out + layout.codesOffset + r * layout.codeRowBytes;
    for (int64_t c = 0; c < cols; ++c)
      writeGroupedCode(codeRow, c, format.bits, codes[r * cols + c]);
  }
  auto *scales = reinterpret_cast<float *>(out + layout.scalesOffset);
  for (size_t i = 0; i < params.size(); ++i) {
    std::memcpy(scales + i, &params[i].scale, sizeof(float));
    if (!format.isSigned)
      out[layout.zeroPointsOffset + i] =
          static_cast<uint8_t>(params[i].zeroPoint);
  }
}

bool packGrouped(const float *weights, int64_t rows, int64_t cols,
                 const GroupedFormat &format, uint8_t *out) {
  assert(format.isValid());
  AffineScheme scheme = format.scheme();
  int64_t group = format.effectiveGroupSize(cols);
  std::optional<std::vector<AffineParams>> params =
      computeGroupParams(weights, rows, cols, group, scheme);
  if (!params)
    return false;
  IntRange range = storageRange(scheme);
  std::vector<int32_t> codes(static_cast<size_t>(rows * cols));
  int64_t groupsPerRow = format.groupsPerRow(cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const AffineParams &p = (*params)[r * groupsPerRow + c / group];
      codes[r * cols + c] = quantizeAffineWithInverse(
          weights[r * cols + c], 1.0f / p.scale, p.zeroPoint, range);
    }
  packGroupedCodes(codes.data(), *params, rows, cols, format, out);
  return true;
}

AffineParams readGroupedParams(const uint8_t *blob, const GroupedLayout &layout,
                               const GroupedFormat &format, int64_t row,
                               int64_t group) {
  int64_t index = row * layout.groupsPerRow + group;
  AffineParams params{0.0f, 0};
  std::memcpy(&params.scale, blob + layout.scalesOffset + index * sizeof(float),
              sizeof(float));
  if (!format.isSigned)
    params.zeroPoint = blob[layout.zeroPointsOffset + index];
  return params;
}

void unpackGrouped(const uint8_t *blob, int64_t rows, int64_t cols,
                   const GroupedFormat &format, float *out) {
  GroupedLayout layout = groupedLayout(format, rows, cols);
  int64_t group = format.effectiveGroupSize(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t *codeRow =
        blob + layout.codesOffset + r * layout.codeRowBytes;
    for (int64_t c = 0; c < cols; ++c) {
      AffineParams p = readGroupedParams(blob, layout, format, r, c / group);
      out[r * cols + c] = dequantizeAffine(
          readGroupedCode(codeRow, c, format.bits, format.isSigned), p);
    }
  }
}

} // namespace quantc
