//===- GroupedAffine.h - integer weights in groups along a row --*- C++ -*-===//
//
// The storage of quantc's integer weight formats (`!qc.grouped`): a rows x
// cols matrix whose rows are split into groups of `groupSize` columns (or one
// group per row), each group with its own affine parameters. Signed formats
// are symmetric (zero point 0, narrow range [-(2^(b-1)-1), 2^(b-1)-1]), as
// W8A8 weights and GPTQ's `sym=True` are; unsigned formats are asymmetric
// with a zero point per group, as GPTQ/AWQ int4 checkpoints are. The last
// group of a row may be ragged. MLIR-free; the compiled dequantization and
// integer matmuls agree with these maps bit for bit.
//
// Byte layout of one matrix, three planes, each starting 64-byte aligned:
//   codes:       rows x codeRowBytes; within a row, code k occupies bits
//                [k*bits, k*bits + bits) of the row read as a little-endian
//                bit stream (two's complement for signed formats);
//   scales:      rows x groupsPerRow float32 (little-endian);
//   zero points: rows x groupsPerRow uint8 (unsigned formats only).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_GROUPEDAFFINE_H
#define QUANTC_NUMERICS_GROUPEDAFFINE_H

#include "quantc/Numerics/Affine.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quantc {

struct GroupedFormat {
  unsigned bits = 8; // 2..8
  /// Signed: symmetric narrow range; unsigned: asymmetric with zero points.
  bool isSigned = true;
  /// Columns per group; 0 means one group per row (per output channel).
  int64_t groupSize = 0;

  bool isValid() const { return bits >= 2 && bits <= 8 && groupSize >= 0; }
  /// The group length actually used for a row of `cols` columns.
  int64_t effectiveGroupSize(int64_t cols) const {
    return groupSize == 0 || groupSize >= cols ? cols : groupSize;
  }
  int64_t groupsPerRow(int64_t cols) const {
    int64_t group = effectiveGroupSize(cols);
    return group == 0 ? 0 : (cols + group - 1) / group;
  }
  AffineScheme scheme() const {
    AffineScheme s;
    s.bits = bits;
    s.isSigned = isSigned;
    s.symmetric = isSigned;
    s.narrowRange = isSigned;
    return s;
  }
  /// Bits of storage per weight for a rows x cols matrix, planes included
  /// (alignment padding excluded).
  double bitsPerWeight(int64_t cols) const;
  /// `si8`, `ui4:g32`: the spelling used in IR and reports.
  std::string name() const;
};

bool operator==(const GroupedFormat &a, const GroupedFormat &b);

/// Alignment of each plane; also what quantc aligns whole weights to.
constexpr uint64_t kPlaneAlignment = 64;

struct GroupedLayout {
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t groupsPerRow = 0;
  int64_t codeRowBytes = 0;
  uint64_t codesOffset = 0;
  uint64_t scalesOffset = 0;
  /// Equal to totalBytes for signed formats (no zero-point plane).
  uint64_t zeroPointsOffset = 0;
  uint64_t totalBytes = 0;
};

GroupedLayout groupedLayout(const GroupedFormat &format, int64_t rows,
                            int64_t cols);

/// Reads code k of a row (sign-extended for signed formats).
int32_t readGroupedCode(const uint8_t *codeRow, int64_t k, unsigned bits,
                        bool isSigned);
/// Writes code k of a row; the row must start zeroed.
void writeGroupedCode(uint8_t *codeRow, int64_t k, unsigned bits, int32_t code);

/// Quantizes a row-major rows x cols matrix with round-to-nearest-even, each
/// group's parameters from its own min/max (PyTorch's MinMaxObserver math,
/// computeAffineParams), into `out` (groupedLayout(...).totalBytes bytes,
/// padding zeroed). Returns false, writing nothing useful, when a value is
/// NaN or infinite.
bool packGrouped(const float *weights, int64_t rows, int64_t cols,
                 const GroupedFormat &format, uint8_t *out);

/// Packs with caller-chosen parameters (rows * groupsPerRow of them, e.g.
/// from GPTQ or a clipping search) and caller-chosen codes (rows * cols,
/// already inside the format's range).
void packGroupedCodes(const int32_t *codes,
                      const std::vector<AffineParams> &params, int64_t rows,
                      int64_t cols, const GroupedFormat &format, uint8_t *out);

/// Parameters of group g of row r stored in a packed blob.
AffineParams readGroupedParams(const uint8_t *blob, const GroupedLayout &layout,
                               const GroupedFormat &format, int64_t row,
                               int64_t group);

/// (code - zero point) * scale for every weight, float32.
void unpackGrouped(const uint8_t *blob, int64_t rows, int64_t cols,
                   const GroupedFormat &format, float *out);

} // namespace quantc

#endif // QUANTC_NUMERICS_GROUPEDAFFINE_H
