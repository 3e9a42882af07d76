//===- BlockDecodeKQuants.cpp - Q2_K..Q8_K decoded in linalg --------------===//
//
// The 256-element super-block formats, as dequantizeRow* in
// lib/Numerics/KQuants.cpp compute them. Block layouts (ggml-common.h),
// offsets in bytes; d and dmin are fp16:
//   Q2_K: scales[16] (low nibble scale, high nibble min), qs[64] @16,
//         d @80, dmin @82.
//   Q3_K: hmask[32], qs[64] @32, scales[12] @96 (16 x 6 bits), d @108.
//   Q4_K: d, dmin, scales[12] @4 (8 scales + 8 mins, 6 bits), qs[128] @16.
//   Q5_K: d, dmin, scales[12] @4, qh[32] @16, qs[128] @48.
//   Q6_K: ql[128], qh[64] @128, scales[16] @192 (int8), d @208.
//   Q8_K: d (f32), qs[256] @4 (int8), bsums[16] (unused here).
//
//===----------------------------------------------------------------------===//

#include "BlockElementBuilder.h"

#include <utility>

using namespace mlir;
using namespace mlir::qc::detail;

namespace {

/// The 2-bit code of element `x` from the 64 bytes at `offset`: in each
/// 128-element half, element 32 s + l sits at bits 2 s of byte l.
Value twoBitCode(BlockElementBuilder &e, int64_t offset, Value x) {
  Value halfStart = e.mul(e.divU(x, 128), 32);
  Value byte = e.byteAt(e.add(e.add(halfStart, e.remU(x, 32)), offset));
  Value shift = e.toI32(e.mul(e.remU(e.divU(x, 32), 4), 2));
  return e.andI(e.shrU(byte, shift), 3);
}

/// scale * float(code) - min.
Value decodeQ2_K(BlockElementBuilder &e) {
  Value x = e.element();
  Value d = e.halfAt(80);
  Value dmin = e.halfAt(82);
  Value packed = e.byteAt(e.divU(x, 16));
  Value scale = e.mulF(d, e.toF32(e.andI(packed, 0xF)));
  Value min = e.mulF(dmin, e.toF32(e.shrU(packed, 4)));
  Value code = twoBitCode(e, 16, x);
  return e.subF(e.mulF(scale, e.toF32(code)), min);
}

/// The signed 6-bit scale of Q3_K sub-block `j` (unpackQ3Scale): its low
/// nibble is in byte j % 8 (high nibble for j >= 8), its top two bits at
/// bit 2 (j / 4) of byte 8 + j % 4, stored with a bias of 32.
Value q3Scale(BlockElementBuilder &e, Value j) {
  constexpr int64_t kScales = 96;
  Value lowByte = e.byteAt(e.add(e.remU(j, 8), kScales));
  Value lowShift = e.toI32(e.mul(e.divU(j, 8), 4));
  Value low = e.andI(e.shrU(lowByte, lowShift), 0xF);
  Value highByte = e.byteAt(e.add(e.remU(j, 4), kScales + 8));
  Value highShift = e.toI32(e.mul(e.divU(j, 4), 2));
  Value high = e.andI(e.shrU(highByte, highShift), 3);
  return e.sub(e.orI(low, e.shl(high, 4)), 32);
}

/// scale * float(code): a clear hmask bit makes the code 4 below its low
/// two bits.
Value decodeQ3_K(BlockElementBuilder &e) {
  Value x = e.element();
  Value d = e.halfAt(108);
  Value scale = e.mulF(d, e.toF32(q3Scale(e, e.divU(x, 16))));
  Value highByte = e.byteAt(e.remU(x, 32));
  Value highShift = e.toI32(e.divU(x, 32));
  Value high = e.andI(e.shrU(highByte, highShift), 1);
  Value lowBits = twoBitCode(e, 32, x);
  Value highClear = e.eq(high, 0);
  Value four = e.i32(4);
  Value zero = e.i32(0);
  Value code = e.sub(lowBits, e.select(highClear, four, zero));
  return e.mulF(scale, e.toF32(code));
}

/// The 6-bit scale and min of Q4_K/Q5_K sub-block `j` < 8 (unpackK4Scale)
/// from the 12 bytes at 4. Sub-blocks 0-3 keep them in the low six bits of
/// bytes j and j + 4; sub-blocks 4-7 split them over byte j + 4 (low
/// nibbles) and the top two bits of bytes j - 4 and j. Every address below
/// stays inside the 12 bytes for any j, so both cases are read and the
/// right one selected.
std::pair<Value, Value> k4ScaleAndMin(BlockElementBuilder &e, Value j) {
  constexpr int64_t kScales = 4;
  Value first = e.byteAt(e.add(e.andI(j, 3), kScales));      // j % 4
  Value second = e.byteAt(e.add(e.andI(j, 3), kScales + 4)); // j % 4 + 4
  Value nibbles = e.byteAt(e.add(j, kScales + 4));           // j + 4
  Value direct = e.ult(j, 4);
  Value directScale = e.andI(first, 63);
  Value lowScale = e.andI(nibbles, 0xF);
  Value highScale = e.shl(e.shrU(first, 6), 4);
  Value scale = e.select(direct, directScale, e.orI(lowScale, highScale));
  Value directMin = e.andI(second, 63);
  Value lowMin = e.shrU(nibbles, 4);
  Value highMin = e.shl(e.shrU(second, 6), 4);
  Value min = e.select(direct, directMin, e.orI(lowMin, highMin));
  return {scale, min};
}

/// The 4-bit code of element 32 j + i (j, i indices) from the 128 bytes at
/// `offset`: sub-blocks 2 p and 2 p + 1 share bytes 32 p..32 p + 31, low
/// and high nibbles.
Value k4Code(BlockElementBuilder &e, int64_t offset, Value j, Value i) {
  Value byte = e.byteAt(e.add(e.add(e.mul(e.divU(j, 2), 32), i), offset));
  return e.andI(e.shrU(byte, e.toI32(e.mul(e.remU(j, 2), 4))), 0xF);
}

/// scale * float(code) - min for Q4_K (`qhOffset` < 0) and Q5_K, whose
/// fifth bit of element 32 j + i is bit j of qh[i].
Value decodeK4(BlockElementBuilder &e, int64_t qhOffset, int64_t qsOffset) {
  Value x = e.element();
  Value d = e.halfAt(0);
  Value dmin = e.halfAt(2);
  Value j = e.divU(x, 32);
  Value i = e.remU(x, 32);
  auto [sc, m] = k4ScaleAndMin(e, j);
  Value scale = e.mulF(d, e.toF32(sc));
  Value min = e.mulF(dmin, e.toF32(m));
  Value code = k4Code(e, qsOffset, j, i);
  if (qhOffset >= 0) {
    Value highByte = e.byteAt(e.add(i, qhOffset));
    Value high = e.andI(e.shrU(highByte, e.toI32(j)), 1);
    code = e.orI(code, e.shl(high, 4));
  }
  return e.subF(e.mulF(scale, e.toF32(code)), min);
}

Value decodeQ4_K(BlockElementBuilder &e) { return decodeK4(e, -1, 16); }

Value decodeQ5_K(BlockElementBuilder &e) { return decodeK4(e, 16, 48); }

/// d * float(scale) * float(code - 32), left to right. In each 128-element
/// half h, element 32 s + l takes its low nibble from ql[64 h + l + 32 (s %
/// 2)] (nibble s / 2) and its top two bits from qh[32 h + l] (bits 2 s).
Value decodeQ6_K(BlockElementBuilder &e) {
  Value x = e.element();
  Value d = e.halfAt(208);
  Value half = e.divU(x, 128);
  Value s = e.divU(e.remU(x, 128), 32);
  Value l = e.remU(x, 32);
  Value lowRow = e.add(e.mul(half, 64), l);
  Value lowByte = e.byteAt(e.add(lowRow, e.mul(e.remU(s, 2), 32)));
  Value low = e.andI(e.shrU(lowByte, e.toI32(e.mul(e.divU(s, 2), 4))), 0xF);
  Value highByte = e.byteAt(e.add(e.add(e.mul(half, 32), l), 128));
  Value high = e.andI(e.shrU(highByte, e.toI32(e.mul(s, 2))), 3);
  Value code = e.sub(e.orI(low, e.shl(high, 4)), 32);
  Value scale = e.signedByteAt(e.add(e.divU(x, 16), 192));
  Value scaled = e.mulF(d, e.toF32(scale));
  return e.mulF(scaled, e.toF32(code));
}

/// d * float(q) with an f32 d.
Value decodeQ8_K(BlockElementBuilder &e) {
  Value d = e.floatAt(0);
  Value q = e.signedByteAt(e.add(e.element(), 4));
  return e.mulF(d, e.toF32(q));
}

} // namespace

ElementDecoder
mlir::qc::detail::getKQuantElementDecoder(quantc::Format format) {
  switch (format) {
  case quantc::Format::Q2_K:
    return decodeQ2_K;
  case quantc::Format::Q3_K:
    return decodeQ3_K;
  case quantc::Format::Q4_K:
    return decodeQ4_K;
  case quantc::Format::Q5_K:
    return decodeQ5_K;
  case quantc::Format::Q6_K:
    return decodeQ6_K;
  case quantc::Format::Q8_K:
    return decodeQ8_K;
  default:
    return nullptr;
  }
}
