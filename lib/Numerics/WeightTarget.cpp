//===- WeightTarget.cpp - what a projection weight is quantized into ------===//

#include "quantc/Numerics/WeightTarget.h"

#include "quantc/Numerics/BlockCodecs.h"

#include <cmath>
#include <vector>

namespace quantc {

WeightTarget WeightTarget::ofGrouped(const GroupedFormat &format) {
  WeightTarget target;
  target.kind = Kind::Grouped;
  target.grouped = format;
  return target;
}

WeightTarget WeightTarget::ofBlock(Format format) {
  WeightTarget target;
  target.kind = Kind::Block;
  target.block = format;
  return target;
}

int64_t WeightTarget::groupColumns(int64_t cols) const {
  if (kind == Kind::Grouped)
    return grouped.effectiveGroupSize(cols);
  return getFormatInfo(block).blockSize;
}

bool WeightTarget::admits(int64_t cols) const {
  if (cols <= 0)
    return false;
  if (kind == Kind::Grouped)
    return grouped.isValid();
  const FormatInfo &info = getFormatInfo(block);
  return info.isBlockQuantized() && getRowCodec(block) &&
         info.rowBytes(static_cast<uint64_t>(cols)).has_value();
}

uint64_t WeightTarget::packedBytes(int64_t rows, int64_t cols) const {
  if (kind == Kind::Grouped)
    return groupedLayout(grouped, rows, cols).totalBytes;
  std::optional<uint64_t> row =
      getFormatInfo(block).rowBytes(static_cast<uint64_t>(cols));
  return row ? *row * static_cast<uint64_t>(rows) : 0;
}

std::string WeightTarget::name() const {
  if (kind == Kind::Grouped)
    return grouped.name();
  return std::string(getFormatInfo(block).name);
}

bool packWeights(const WeightTarget &target, const float *weights,
                 int64_t rows, int64_t cols, uint8_t *out) {
  if (!target.admits(cols))
    return false;
  if (target.kind == WeightTarget::Kind::Grouped)
    return packGrouped(weights, rows, cols, target.grouped, out);
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(weights[i]))
      return false;
  return quantizeRows(target.block, weights, out, rows, cols, nullptr) ==
         target.packedBytes(rows, cols);
}

bool unpackWeights(const WeightTarget &target, const uint8_t *packed,
                   int64_t rows, int64_t cols, float *out) {
  if (!target.admits(cols))
    return false;
  if (target.kind == WeightTarget::Kind::Grouped) {
    unpackGrouped(packed, rows, cols, target.grouped, out);
    return true;
  }
  return dequantizeRows(target.block, packed, out, rows, cols);
}

bool fakeQuantize(const WeightTarget &target, const float *weights,
                  int64_t rows, int64_t cols, float *out) {
  std::vector<uint8_t> packed(target.packedBytes(rows, cols));
  return packWeights(target, weights, rows, cols, packed.data()) &&
         unpackWeights(target, packed.data(), rows, cols, out);
}

} // namespace quantc
