//===- WeightTarget.h - what a projection weight is quantized into -*- C++ -*-===//
//
// The weight side of a scheme, as the error-aware passes (GPTQ, AWQ) see
// it: integer groups (`!qc.grouped`, GroupedAffine.h) or a llama.cpp block
// format (`!qc.packed`, BlockCodecs.h). Packing and round-to-nearest here are
// exactly what `qc-quantize` stores, so a search that scores
// `fakeQuantize(W)` scores the bytes the model will run. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_WEIGHTTARGET_H
#define QUANTC_NUMERICS_WEIGHTTARGET_H

#include "quantc/Numerics/Formats.h"
#include "quantc/Numerics/GroupedAffine.h"

#include <cstdint>
#include <string>

namespace quantc {

struct WeightTarget {
  enum class Kind : uint8_t { Grouped, Block };
  Kind kind = Kind::Grouped;
  /// For Kind::Grouped.
  GroupedFormat grouped;
  /// For Kind::Block: a block-quantized registry format.
  Format block = Format::Q4_0;

  static WeightTarget ofGrouped(const GroupedFormat &format);
  static WeightTarget ofBlock(Format format);

  /// Columns of a row that share one set of parameters: the group size
  /// (the whole row for per-row formats; a ragged last group is shorter),
  /// or the format's block size (256 for K-quants).
  int64_t groupColumns(int64_t cols) const;
  /// True when a row of `cols` can be stored (a block format needs whole
  /// blocks).
  bool admits(int64_t cols) const;
  /// Bytes of a packed rows x cols matrix, as qc-quantize lays it out
  /// (groupedLayout(...).totalBytes, or rows * row bytes of the format).
  uint64_t packedBytes(int64_t rows, int64_t cols) const;
  /// `ui4:g32`, `q4_K`: the spelling of `qc.format`.
  std::string name() const;
};

/// Round-to-nearest packing of a row-major rows x cols matrix, byte for
/// byte what qc-quantize writes (packGrouped, or quantizeRows without
/// importance). Returns false when a value is not finite or the target does
/// not admit `cols`.
bool packWeights(const WeightTarget &target, const float *weights,
                 int64_t rows, int64_t cols, uint8_t *out);
/// Decodes packed bytes back to floats (unpackGrouped / dequantizeRows).
bool unpackWeights(const WeightTarget &target, const uint8_t *packed,
                   int64_t rows, int64_t cols, float *out);
/// out = unpack(pack(weights)); `out` may alias nothing. Returns false as
/// packWeights does.
bool fakeQuantize(const WeightTarget &target, const float *weights,
                  int64_t rows, int64_t cols, float *out);

} // namespace quantc

#endif // QUANTC_NUMERICS_WEIGHTTARGET_H
