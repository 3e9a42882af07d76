//===- BitRounding.h - round-to-nearest-even on bit patterns ----*- C++ -*-===//
//
// Internal to lib/Numerics: the one place narrowing float conversions drop
// mantissa bits.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_LIB_NUMERICS_BITROUNDING_H
#define QUANTC_LIB_NUMERICS_BITROUNDING_H

#include <cstdint>

namespace quantc::detail {

/// Drops the low `shift` bits of `bits` (0 < shift < 32), rounding to nearest
/// even. A carry out of a mantissa field correctly bumps the exponent above
/// it.
inline uint32_t shiftRightRoundEven(uint32_t bits, int shift) {
  uint32_t kept = bits >> shift;
  uint32_t rest = bits & ((1u << shift) - 1u);
  uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (kept & 1u)))
    ++kept;
  return kept;
}

} // namespace quantc::detail

#endif // QUANTC_LIB_NUMERICS_BITROUNDING_H
