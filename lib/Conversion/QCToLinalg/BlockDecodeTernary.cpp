//===- BlockDecodeTernary.cpp - TQ1_0 and TQ2_0 decoded in linalg ---------===//
//
// The ternary formats, as dequantizeRowTQ* in lib/Numerics/TernaryQuants.cpp
// compute them: float(t - 1) * d for a stored trit t in {0, 1, 2}. Block
// layouts (ggml-common.h), offsets in bytes; d is fp16 and comes last:
//   TQ1_0: qs[48] (5 trits per byte), qh[4] @48 (4 trits per byte), d @52.
//   TQ2_0: qs[64] (4 trits per byte, 2 bits each), d @64.
//
//===----------------------------------------------------------------------===//

#include "BlockElementBuilder.h"

#include <cstdint>

using namespace mlir;
using namespace mlir::qc::detail;

namespace {

/// In each 128-element half h, element 32 n + m is bits 2 n of byte
/// 32 h + m.
Value decodeTQ2_0(BlockElementBuilder &e) {
  Value x = e.element();
  Value d = e.halfAt(64);
  Value halfStart = e.mul(e.divU(x, 128), 32);
  Value byte = e.byteAt(e.add(halfStart, e.remU(x, 32)));
  Value shift = e.toI32(e.mul(e.divU(e.remU(x, 128), 32), 2));
  Value trit = e.andI(e.shrU(byte, shift), 3);
  return e.mulF(e.toF32(e.sub(trit, 1)), d);
}

/// Three runs of bytes: byte m of a run of `width` holds trit n of element
/// first + m + n * width. qs[0..31] cover elements 0-159, qs[32..47]
/// 160-239, qh 240-255. Trit n of a byte is the top bits of
/// (uint8_t)(byte * 3^n) * 3 (>> 8), with no division (tritOfByte).
Value decodeTQ1_0(BlockElementBuilder &e) {
  Value x = e.element();
  Value d = e.halfAt(52);
  // Each run's position of x, computed for all three and then selected, so
  // that only the selected byte is read. Outside its run an offset wraps
  // around, harmlessly: it is never selected.
  Value inFirst = e.ult(x, 160);
  Value inSecond = e.ult(x, 240);
  Value second = e.sub(x, 160);
  Value third = e.sub(x, 240);
  Value firstByte = e.remU(x, 32);
  Value secondByte = e.add(e.remU(second, 16), 32);
  Value thirdByte = e.add(e.remU(third, 4), 48);
  Value byteIndex =
      e.select(inFirst, firstByte, e.select(inSecond, secondByte, thirdByte));
  Value firstTrit = e.divU(x, 32);
  Value secondTrit = e.divU(second, 16);
  Value thirdTrit = e.divU(third, 4);
  Value n =
      e.select(inFirst, firstTrit, e.select(inSecond, secondTrit, thirdTrit));
  static constexpr int32_t kPow3[] = {1, 3, 9, 27, 81};
  Value byte = e.byteAt(byteIndex);
  Value power = e.lookup(kPow3, n);
  Value shifted = e.andI(e.mul(byte, power), 0xFF);
  Value trit = e.shrU(e.mul(shifted, 3), 8);
  return e.mulF(e.toF32(e.sub(trit, 1)), d);
}

} // namespace

ElementDecoder
mlir::qc::detail::getTernaryElementDecoder(quantc::Format format) {
  switch (format) {
  case quantc::Format::TQ1_0:
    return decodeTQ1_0;
  case quantc::Format::TQ2_0:
    return decodeTQ2_0;
  default:
    return nullptr;
  }
}
