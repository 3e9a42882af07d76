//===- BlockGrid.h - scalar code grids of the block formats -----*- C++ -*-===//
//
// What GPTQ needs from a llama.cpp block format whose codes are scalars:
// once a block's scales (and mins) are fitted, every element of a
// sub-block takes one of a fixed list of values, scale * level(code)
// (+ offset), computed in float32 exactly as the format's dequantizer
// computes it; and a code can be written into the block's bytes without
// touching the fitted header. Private to lib/Numerics.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_LIB_NUMERICS_BLOCKGRID_H
#define QUANTC_LIB_NUMERICS_BLOCKGRID_H

#include "quantc/Numerics/Formats.h"

#include <cstdint>

namespace quantc::detail {

/// The fixed shape of a format's grids.
struct BlockGridInfo {
  Format format;
  /// Elements and bytes of one block (a super-block for K-quants).
  int blockSize;
  int bytesPerBlock;
  /// Elements sharing one grid (a sub-block; the block for legacy formats).
  int span;
  /// Codes 0..codes-1.
  int codes;
  /// level(k) = k - codeBias, or levels[k] when levels is set (IQ4).
  int codeBias;
  const int8_t *levels;
};

/// The grid of one sub-block: value(k) = scale * level(k), plus offset when
/// hasOffset (an offset of 0 would turn -0 into +0, unlike the decoder).
struct SubBlockGrid {
  float scale;
  float offset;
  bool hasOffset;
};

/// The format's grid shape, or null when its codes are not scalars GPTQ
/// can choose one by one.
const BlockGridInfo *getBlockGridInfo(Format format);

/// Grid of sub-block `sub` of a block whose header is fitted.
SubBlockGrid readSubBlockGrid(const BlockGridInfo &info, const uint8_t *block,
                              int sub);

inline float gridValue(const BlockGridInfo &info, const SubBlockGrid &grid,
                       int code) {
  float level = info.levels ? static_cast<float>(info.levels[code])
                            : static_cast<float>(code - info.codeBias);
  float value = grid.scale * level;
  return grid.hasOffset ? value + grid.offset : value;
}

/// The code whose value is nearest to x (|x - value| in double), the lowest
/// such code on ties, so a zero-scale grid always gives code 0.
int nearestGridCode(const BlockGridInfo &info, const SubBlockGrid &grid,
                    double x);

/// Replaces the code of element `element` (0..blockSize-1) of a block.
void writeBlockCode(const BlockGridInfo &info, uint8_t *block, int element,
                    int code);
/// The code of element `element`, as writeBlockCode numbers it.
int readBlockCode(const BlockGridInfo &info, const uint8_t *block, int element);

} // namespace quantc::detail

#endif // QUANTC_LIB_NUMERICS_BLOCKGRID_H
