//===- ElementCodecs.cpp - one quantized element, encoded in IR -----------===//

#include "quantc/Conversion/QCToLinalg/ElementCodecs.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <algorithm>

using namespace mlir;

namespace {

/// Small helpers over i32 scalars, so that the bit manipulations below read
/// like their C++ counterparts in lib/Numerics. Each op is built in a
/// statement of its own, never two in the arguments of one call: the order
/// of argument evaluation is the compiler's choice, and the IR must not
/// depend on it.
struct I32Builder {
  OpBuilder &b;
  Location loc;

  Value c(int64_t value) {
    return arith::ConstantOp::create(
        b, loc, b.getI32IntegerAttr(static_cast<int32_t>(value)));
  }
  Value andi(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value ori(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value addi(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value subi(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value shl(Value x, Value y) { return arith::ShLIOp::create(b, loc, x, y); }
  Value lshr(Value x, Value y) { return arith::ShRUIOp::create(b, loc, x, y); }
  Value ashr(Value x, Value y) { return arith::ShRSIOp::create(b, loc, x, y); }
  Value cmp(arith::CmpIPredicate predicate, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, predicate, x, y);
  }
  Value select(Value condition, Value x, Value y) {
    return arith::SelectOp::create(b, loc, condition, x, y);
  }

  /// `quantc::detail::shiftRightRoundEven`: drops the low `shift` bits
  /// (0 < shift < 32) rounding to nearest, ties to even.
  Value shiftRightRoundEven(Value bits, Value shift) {
    Value one = c(1);
    Value kept = lshr(bits, shift);
    Value rest = andi(bits, subi(shl(one, shift), one));
    Value halfway = shl(one, subi(shift, one));
    Value above = cmp(arith::CmpIPredicate::ugt, rest, halfway);
    Value tie = cmp(arith::CmpIPredicate::eq, rest, halfway);
    Value keptLow = andi(kept, one);
    Value odd = cmp(arith::CmpIPredicate::ne, keptLow, c(0));
    Value roundUp = arith::OrIOp::create(
        b, loc, above, arith::AndIOp::create(b, loc, tie, odd));
    return addi(kept, arith::ExtUIOp::create(b, loc, b.getI32Type(), roundUp));
  }
};

} // namespace

Value mlir::qc::buildFP32ToFP8E4M3FN(OpBuilder &b, Location loc, Value value) {
  // E4M3FN: bias 7, 3 mantissa bits, max finite magnitude code 0x7E (448),
  // NaN 0x7F, no infinities. Same case split as quantc::fp32ToFP8; both
  // roundings are computed and the right one selected, so the body has no
  // control flow and vectorizes.
  I32Builder i{b, loc};
  using P = arith::CmpIPredicate;
  Value bits = arith::BitcastOp::create(b, loc, b.getI32Type(), value);
  Value signByte = i.lshr(bits, i.c(24));
  Value sign = i.andi(signByte, i.c(0x80));
  Value magnitude = i.andi(bits, i.c(0x7FFFFFFF));
  Value isNaN = i.cmp(P::ugt, magnitude, i.c(0x7F800000));

  // Normal (exponent >= -6, i.e. magnitude >= 2^-6): rebias the exponent
  // from 127 to 7 in place and drop 20 mantissa bits; a carry out of the
  // mantissa bumps the exponent, and values past 448 (inf included) come
  // out above the max code and saturate below.
  Value rebased = i.subi(magnitude, i.c(120 << 23));
  Value normal = i.shiftRightRoundEven(rebased, i.c(20));

  // Subnormal: the significand 1.f * 2^e in units of 2^-9 (the smallest
  // subnormal), i.e. full >> (14 - e) with full = 1.f * 2^23. Shifts past 24
  // round to zero whatever the mantissa; 25 gives exactly that (full <
  // 2^24 is below half of 2^25), so the shift is clamped there, which also
  // covers zero and fp32 subnormals.
  Value biasedExponent = i.lshr(magnitude, i.c(23));
  Value unclampedShift = i.subi(i.c(127 + 14), biasedExponent);
  Value shift = arith::MinSIOp::create(b, loc, unclampedShift, i.c(25));
  // (Lanes taking the normal path may compute a shift below 1: keep it in
  // range so that no shift is poison, even where unselected.)
  shift = arith::MaxSIOp::create(b, loc, shift, i.c(1));
  Value fraction = i.andi(magnitude, i.c(0x7FFFFF));
  Value full = i.ori(fraction, i.c(0x800000));
  Value subnormal = i.shiftRightRoundEven(full, shift);

  Value isNormal = i.cmp(P::uge, magnitude, i.c(121 << 23));
  Value code = i.select(isNormal, normal, subnormal);
  code = arith::MinUIOp::create(b, loc, code, i.c(0x7E));
  code = i.select(isNaN, i.c(0x7F), code);
  return arith::TruncIOp::create(b, loc, b.getI8Type(), i.ori(sign, code));
}

Value mlir::qc::buildFP8E4M3FNToFP32(OpBuilder &b, Location loc, Value byte) {
  I32Builder i{b, loc};
  using P = arith::CmpIPredicate;
  Value bits = arith::ExtUIOp::create(b, loc, b.getI32Type(), byte);
  Value signBit = i.andi(bits, i.c(0x80));
  Value sign = i.shl(signBit, i.c(24));
  Value magnitude = i.andi(bits, i.c(0x7F));
  Value exponent = i.lshr(magnitude, i.c(3));
  Value mantissa = i.andi(magnitude, i.c(7));
  // Normal: rebias 7 -> 127, mantissa to the top of the f32 mantissa.
  Value rebiased = i.addi(exponent, i.c(120));
  Value normalExponent = i.shl(rebiased, i.c(23));
  Value normalMantissa = i.shl(mantissa, i.c(20));
  Value normal = i.ori(normalExponent, normalMantissa);
  // Subnormal (and zero): mantissa * 2^-9, exact in f32.
  Value mantissaF32 = arith::UIToFPOp::create(b, loc, b.getF32Type(), mantissa);
  Value ulp = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0x1p-9f));
  Value scaled = arith::MulFOp::create(b, loc, mantissaF32, ulp);
  Value subnormal = arith::BitcastOp::create(b, loc, b.getI32Type(), scaled);
  Value magnitudeBits =
      i.select(i.cmp(P::eq, exponent, i.c(0)), subnormal, normal);
  Value isNaN = i.cmp(P::eq, magnitude, i.c(0x7F));
  magnitudeBits = i.select(isNaN, i.c(0x7FC00000), magnitudeBits);
  return arith::BitcastOp::create(b, loc, b.getF32Type(),
                                  i.ori(sign, magnitudeBits));
}

Value mlir::qc::buildGroupedCodeRead(OpBuilder &b, Location loc, Value codes,
                                     Value row, Value col, unsigned bits,
                                     bool isSigned) {
  I32Builder i{b, loc};
  auto index = [&](int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  auto readByte = [&](Value byteIndex) {
    Value byte =
        tensor::ExtractOp::create(b, loc, codes, ValueRange{row, byteIndex});
    return arith::ExtUIOp::create(b, loc, b.getI32Type(), byte).getResult();
  };
  Value word, shift;
  if (bits == 8) {
    word = readByte(col);
  } else {
    Value bit = arith::MulIOp::create(b, loc, col, index(bits));
    Value byteIndex = arith::ShRUIOp::create(b, loc, bit, index(3));
    shift = arith::IndexCastOp::create(
        b, loc, b.getI32Type(), arith::AndIOp::create(b, loc, bit, index(7)));
    word = readByte(byteIndex);
    if (8 % bits != 0) {
      // The code may continue into the next byte. At the row's last byte it
      // cannot (the row holds every bit of its codes), so reading that byte
      // again instead keeps the access inside the row.
      int64_t rowBytes = cast<ShapedType>(codes.getType()).getDimSize(1);
      Value following = arith::AddIOp::create(b, loc, byteIndex, index(1));
      Value next =
          arith::MinUIOp::create(b, loc, following, index(rowBytes - 1));
      Value nextByte = readByte(next);
      word = i.ori(word, i.shl(nextByte, i.c(8)));
    }
    Value shifted = i.lshr(word, shift);
    word = i.andi(shifted, i.c((1 << bits) - 1));
  }
  if (!isSigned)
    return word;
  // Sign-extend the low `bits` bits.
  Value up = i.c(32 - bits);
  return i.ashr(i.shl(word, up), up);
}

Value mlir::qc::buildAffineQuantize(OpBuilder &b, Location loc, Value x,
                                    Value inverseScale, int32_t zeroPoint,
                                    int32_t qmin, int32_t qmax) {
  auto f32 = [&](float value) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
  };
  Value scaled = math::RoundEvenOp::create(
      b, loc, arith::MulFOp::create(b, loc, x, inverseScale));
  Value isNaN =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, scaled, scaled);
  Value low = arith::MaxNumFOp::create(
      b, loc, scaled, f32(static_cast<float>(qmin - zeroPoint)));
  Value clamped = arith::MinNumFOp::create(
      b, loc, low, f32(static_cast<float>(qmax - zeroPoint)));
  // NaN becomes the zero point (clamped into the range), i.e. this offset.
  int32_t nanOffset = std::clamp(zeroPoint, qmin, qmax) - zeroPoint;
  clamped = arith::SelectOp::create(
      b, loc, isNaN, f32(static_cast<float>(nanOffset)), clamped);
  Value integer = arith::FPToSIOp::create(b, loc, b.getI32Type(), clamped);
  if (zeroPoint == 0)
    return integer;
  return arith::AddIOp::create(
      b, loc, integer,
      arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(zeroPoint)));
}
