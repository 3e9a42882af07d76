//===- BlockBytes.h - scalar helpers shared by the block codecs -*- C++ -*-===//
//
// Little-endian fields of GGUF blocks and ggml's rounding idioms, shared by
// every codec family so that each is written (and checked) once. Private to
// lib/Numerics.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_LIB_NUMERICS_BLOCKBYTES_H
#define QUANTC_LIB_NUMERICS_BLOCKBYTES_H

#include "quantc/Numerics/Float.h"

#include <cstdint>

namespace quantc::detail {

inline void storeHalf(uint8_t *p, float value) {
  uint16_t bits = fp32ToFp16(value);
  p[0] = static_cast<uint8_t>(bits);
  p[1] = static_cast<uint8_t>(bits >> 8);
}

inline float loadHalf(const uint8_t *p) {
  return fp16ToFp32(static_cast<uint16_t>(p[0] | (p[1] << 8)));
}

/// Round to nearest (ties to even) via the float adder: adding 1.5 * 2^23
/// leaves the rounded integer in the low mantissa bits. ggml rounds this way
/// in its K-quant and imatrix searches; matching it matters for ties and for
/// out-of-range values (|v| > 2^22), where the result wraps as in ggml.
inline int nearestInt(float value) {
  float shifted = value + 12582912.0f;
  return static_cast<int>(floatBits(shifted) & 0x007FFFFFu) - 0x00400000;
}

inline int clampInt(int value, int lo, int hi) {
  return value < lo ? lo : (value > hi ? hi : value);
}

} // namespace quantc::detail

#endif // QUANTC_LIB_NUMERICS_BLOCKBYTES_H
