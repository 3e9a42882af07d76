//===- BlockDecodeIQuants.cpp - IQ4_NL and IQ4_XS decoded in linalg -------===//
//
// The non-linear 4-bit formats, as dequantizeRowIQ4_* in
// lib/Numerics/IQuants.cpp compute them: scale * level[code], the 16
// levels a constant table. Block layouts (ggml-common.h), offsets in bytes:
//   IQ4_NL: d (fp16), qs[16].
//   IQ4_XS: d (fp16), scales_h (u16, 2 high bits per group) @2,
//           scales_l[4] (low nibbles, two groups per byte) @4,
//           qs[128] @8 (16 bytes per 32-element group).
//
//===----------------------------------------------------------------------===//

#include "BlockElementBuilder.h"

#include "quantc/Numerics/IQuants.h"

#include <array>

using namespace mlir;
using namespace mlir::qc::detail;

namespace {

/// kIQ4Levels as the floats the decoder multiplies by (exact).
constexpr std::array<float, 16> makeLevels() {
  std::array<float, 16> levels{};
  for (int k = 0; k < 16; ++k)
    levels[k] = static_cast<float>(quantc::kIQ4Levels[k]);
  return levels;
}
constexpr std::array<float, 16> kLevels = makeLevels();

/// d * level[code].
Value decodeIQ4_NL(BlockElementBuilder &e) {
  Value d = e.halfAt(0);
  Value code = e.nibbleAt(2, e.element());
  return e.mulF(d, e.lookup(kLevels, code));
}

/// (d * float(l)) * level[code], with l the group's 6-bit scale less 32.
Value decodeIQ4_XS(BlockElementBuilder &e) {
  Value x = e.element();
  Value d = e.halfAt(0);
  Value g = e.divU(x, 32);
  Value i = e.remU(x, 32);
  Value lowByte = e.byteAt(e.add(e.divU(g, 2), 4));
  Value lowShift = e.toI32(e.mul(e.remU(g, 2), 4));
  Value low = e.andI(e.shrU(lowByte, lowShift), 0xF);
  Value highByte = e.byteAt(e.add(e.divU(g, 4), 2));
  Value highShift = e.toI32(e.mul(e.remU(g, 4), 2));
  Value high = e.andI(e.shrU(highByte, highShift), 3);
  Value l = e.sub(e.orI(low, e.shl(high, 4)), 32);
  Value scale = e.mulF(d, e.toF32(l));
  Value code = e.nibbleAt(e.add(e.mul(g, 16), 8), i);
  return e.mulF(scale, e.lookup(kLevels, code));
}

} // namespace

ElementDecoder
mlir::qc::detail::getIQuantElementDecoder(quantc::Format format) {
  switch (format) {
  case quantc::Format::IQ4_NL:
    return decodeIQ4_NL;
  case quantc::Format::IQ4_XS:
    return decodeIQ4_XS;
  default:
    return nullptr;
  }
}
