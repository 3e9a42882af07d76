//===- BlockDecodeLegacy.cpp - Q4_0..Q8_1 decoded in linalg ---------------===//
//
// The 32-element formats, as dequantizeRow* in lib/Numerics/LegacyQuants.cpp
// compute them. Block layouts (ggml-common.h), offsets in bytes:
//   Q4_0: d, qs[16]            Q4_1: d, m, qs[16]
//   Q5_0: d, qh (u32), qs[16]  Q5_1: d, m, qh (u32), qs[16]
//   Q8_0: d, qs[32] (int8)     Q8_1: d, s, qs[32] (int8)
// with d, m, s fp16. Nibble i of qs is element i (see nibbleAt); bit i of
// qh is element i's fifth bit.
//
//===----------------------------------------------------------------------===//

#include "BlockElementBuilder.h"

using namespace mlir;
using namespace mlir::qc::detail;

namespace {

/// float(q - 8) * d.
Value decodeQ4_0(BlockElementBuilder &e) {
  Value d = e.halfAt(0);
  Value q = e.nibbleAt(2, e.element());
  return e.mulF(e.toF32(e.sub(q, 8)), d);
}

/// float(q) * d + m.
Value decodeQ4_1(BlockElementBuilder &e) {
  Value d = e.halfAt(0);
  Value m = e.halfAt(2);
  Value q = e.nibbleAt(4, e.element());
  return e.addF(e.mulF(e.toF32(q), d), m);
}

/// The 5-bit code of a Q5 element: its nibble plus the qh bit.
Value code5(BlockElementBuilder &e, int64_t qhOffset, int64_t qsOffset) {
  Value high = e.bitAt(qhOffset, e.element());
  Value low = e.nibbleAt(qsOffset, e.element());
  return e.orI(low, e.shl(high, 4));
}

/// float(code - 16) * d.
Value decodeQ5_0(BlockElementBuilder &e) {
  Value d = e.halfAt(0);
  Value code = code5(e, 2, 6);
  return e.mulF(e.toF32(e.sub(code, 16)), d);
}

/// float(code) * d + m.
Value decodeQ5_1(BlockElementBuilder &e) {
  Value d = e.halfAt(0);
  Value m = e.halfAt(2);
  Value code = code5(e, 4, 8);
  return e.addF(e.mulF(e.toF32(code), d), m);
}

/// float(int8 q) * d, q at `qsOffset`.
Value decodeInt8(BlockElementBuilder &e, int64_t qsOffset) {
  Value d = e.halfAt(0);
  Value q = e.signedByteAt(e.add(e.element(), qsOffset));
  return e.mulF(e.toF32(q), d);
}

Value decodeQ8_0(BlockElementBuilder &e) { return decodeInt8(e, 2); }

/// Q8_1's sum field `s` is not needed to recover the values.
Value decodeQ8_1(BlockElementBuilder &e) { return decodeInt8(e, 4); }

} // namespace

ElementDecoder
mlir::qc::detail::getLegacyElementDecoder(quantc::Format format) {
  switch (format) {
  case quantc::Format::Q4_0:
    return decodeQ4_0;
  case quantc::Format::Q4_1:
    return decodeQ4_1;
  case quantc::Format::Q5_0:
    return decodeQ5_0;
  case quantc::Format::Q5_1:
    return decodeQ5_1;
  case quantc::Format::Q8_0:
    return decodeQ8_0;
  case quantc::Format::Q8_1:
    return decodeQ8_1;
  default:
    return nullptr;
  }
}
