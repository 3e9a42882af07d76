//===- BlockDecode.cpp - llama.cpp block formats decoded in linalg --------===//
//
// A packed tensor decodes as one linalg.generic over (rows..., block,
// element in block) that writes a `rows... x blocks x blockSize` tensor,
// collapsed to the logical shape. Making the block an iteration dimension
// keeps divisions out of the byte addressing: each element reads the bytes
// it needs at block * bytesPerBlock + a format-specific offset. The body
// recomputes the block's shared fields (scales, mins) for every element:
// they only depend on the outer loops, so a consumer that tiles the
// element loop can hoist them, and no intermediate tensor of scales is
// needed.
//
//===----------------------------------------------------------------------===//

#include "BlockDecode.h"

#include "BlockElementBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace mlir::qc;
using namespace mlir::qc::detail;

//===----------------------------------------------------------------------===//
// BlockElementBuilder
//===----------------------------------------------------------------------===//

BlockElementBuilder::BlockElementBuilder(ImplicitLocOpBuilder &builder,
                                         Value bytes, ValueRange rowIndices,
                                         Value blockOffset, Value element)
    : b(builder), bytes(bytes), rowIndices(rowIndices),
      blockOffset(blockOffset), elementIndex(element) {}

Value BlockElementBuilder::constant(Type type, int64_t value) {
  if (type.isIndex())
    return arith::ConstantIndexOp::create(b, value);
  return arith::ConstantIntOp::create(b, type, value);
}

Value BlockElementBuilder::index(int64_t value) {
  return constant(b.getIndexType(), value);
}

Value BlockElementBuilder::i32(int64_t value) {
  return constant(b.getI32Type(), value);
}

Value BlockElementBuilder::add(Value a, Value c) {
  return arith::AddIOp::create(b, a, c);
}

Value BlockElementBuilder::add(Value a, int64_t c) {
  return add(a, constant(a.getType(), c));
}

Value BlockElementBuilder::sub(Value a, Value c) {
  return arith::SubIOp::create(b, a, c);
}

Value BlockElementBuilder::sub(Value a, int64_t c) {
  return sub(a, constant(a.getType(), c));
}

Value BlockElementBuilder::mul(Value a, Value c) {
  return arith::MulIOp::create(b, a, c);
}

Value BlockElementBuilder::mul(Value a, int64_t c) {
  return mul(a, constant(a.getType(), c));
}

Value BlockElementBuilder::divU(Value a, int64_t c) {
  return arith::DivUIOp::create(b, a, constant(a.getType(), c));
}

Value BlockElementBuilder::remU(Value a, int64_t c) {
  return arith::RemUIOp::create(b, a, constant(a.getType(), c));
}

Value BlockElementBuilder::shrU(Value a, Value amount) {
  return arith::ShRUIOp::create(b, a, amount);
}

Value BlockElementBuilder::shrU(Value a, int64_t amount) {
  return shrU(a, constant(a.getType(), amount));
}

Value BlockElementBuilder::shl(Value a, Value amount) {
  return arith::ShLIOp::create(b, a, amount);
}

Value BlockElementBuilder::shl(Value a, int64_t amount) {
  return shl(a, constant(a.getType(), amount));
}

Value BlockElementBuilder::andI(Value a, int64_t mask) {
  return arith::AndIOp::create(b, a, constant(a.getType(), mask));
}

Value BlockElementBuilder::orI(Value a, Value c) {
  return arith::OrIOp::create(b, a, c);
}

Value BlockElementBuilder::ult(Value a, int64_t c) {
  return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, a,
                               constant(a.getType(), c));
}

Value BlockElementBuilder::eq(Value a, int64_t c) {
  return arith::CmpIOp::create(b, arith::CmpIPredicate::eq, a,
                               constant(a.getType(), c));
}

Value BlockElementBuilder::select(Value condition, Value ifTrue,
                                  Value ifFalse) {
  return arith::SelectOp::create(b, condition, ifTrue, ifFalse);
}

Value BlockElementBuilder::toI32(Value value) {
  if (!value.getType().isIndex())
    return value;
  return arith::IndexCastUIOp::create(b, b.getI32Type(), value);
}

Value BlockElementBuilder::asIndex(Value value) {
  if (value.getType().isIndex())
    return value;
  return arith::IndexCastUIOp::create(b, b.getIndexType(), value);
}

Value BlockElementBuilder::byteAt(Value offset) {
  SmallVector<Value> indices(rowIndices);
  indices.push_back(add(blockOffset, asIndex(offset)));
  Value byte = tensor::ExtractOp::create(b, bytes, indices);
  return arith::ExtUIOp::create(b, b.getI32Type(), byte);
}

Value BlockElementBuilder::byteAt(int64_t offset) {
  return byteAt(index(offset));
}

Value BlockElementBuilder::signedByteAt(Value offset) {
  SmallVector<Value> indices(rowIndices);
  indices.push_back(add(blockOffset, asIndex(offset)));
  Value byte = tensor::ExtractOp::create(b, bytes, indices);
  return arith::ExtSIOp::create(b, b.getI32Type(), byte);
}

Value BlockElementBuilder::bitAt(int64_t offset, Value bit) {
  Value byte = byteAt(add(divU(bit, 8), offset));
  return andI(shrU(byte, toI32(remU(bit, 8))), 1);
}

Value BlockElementBuilder::nibbleAt(Value offset, Value i) {
  Value byte = byteAt(add(remU(i, 16), offset));
  return andI(shrU(byte, toI32(mul(divU(i, 16), 4))), 0xF);
}

Value BlockElementBuilder::nibbleAt(int64_t offset, Value i) {
  return nibbleAt(index(offset), i);
}

Value BlockElementBuilder::loadLittleEndian(int64_t offset, int count) {
  Value bits = byteAt(offset);
  for (int k = 1; k < count; ++k)
    bits = orI(bits, shl(byteAt(offset + k), 8 * k));
  return bits;
}

Value BlockElementBuilder::halfAt(int64_t offset) {
  // Integer unpacking rather than arith.extf: it needs neither F16C nor a
  // runtime call on any target, and it keeps a NaN's payload and quiet bit
  // exactly as quantc::fp16ToFp32 does.
  Value bits = loadLittleEndian(offset, 2);
  Value sign = shl(andI(bits, 0x8000), 16);
  Value exponent = andI(shrU(bits, 10), 0x1F);
  Value mantissa = andI(bits, 0x3FF);
  Value shiftedMantissa = shl(mantissa, 13);
  Value infOrNaN = orI(sign, orI(i32(0x7F800000), shiftedMantissa));
  // Rebias 15 -> 127.
  Value normal = orI(sign, orI(shl(add(exponent, 112), 23), shiftedMantissa));
  // Zero or subnormal: mantissa * 2^-24, exact in f32.
  // Operands built one statement at a time: the order of the ops in the IR
  // must not depend on the compiler's order of argument evaluation.
  Value mantissaF32 = arith::UIToFPOp::create(b, b.getF32Type(), mantissa);
  Value ulp =
      arith::ConstantFloatOp::create(b, b.getF32Type(), APFloat(0x1p-24f));
  Value scaled = mulF(mantissaF32, ulp);
  Value subnormal =
      orI(sign, arith::BitcastOp::create(b, b.getI32Type(), scaled));
  Value isInfOrNaN = eq(exponent, 0x1F);
  Value isSubnormal = eq(exponent, 0);
  Value finite = select(isSubnormal, subnormal, normal);
  Value result = select(isInfOrNaN, infOrNaN, finite);
  return arith::BitcastOp::create(b, b.getF32Type(), result);
}

Value BlockElementBuilder::floatAt(int64_t offset) {
  return arith::BitcastOp::create(b, b.getF32Type(),
                                  loadLittleEndian(offset, 4));
}

Value BlockElementBuilder::toF32(Value value) {
  return arith::SIToFPOp::create(b, b.getF32Type(), value);
}

Value BlockElementBuilder::mulF(Value a, Value c) {
  return arith::MulFOp::create(b, a, c);
}

Value BlockElementBuilder::addF(Value a, Value c) {
  return arith::AddFOp::create(b, a, c);
}

Value BlockElementBuilder::subF(Value a, Value c) {
  return arith::SubFOp::create(b, a, c);
}

Value BlockElementBuilder::lookup(ArrayRef<float> table, Value i) {
  auto type = RankedTensorType::get({static_cast<int64_t>(table.size())},
                                    b.getF32Type());
  Value values = arith::ConstantOp::create(
      b, cast<TypedAttr>(DenseElementsAttr::get(type, table)));
  return tensor::ExtractOp::create(b, values, asIndex(i));
}

Value BlockElementBuilder::lookup(ArrayRef<int32_t> table, Value i) {
  auto type = RankedTensorType::get({static_cast<int64_t>(table.size())},
                                    b.getI32Type());
  Value values = arith::ConstantOp::create(
      b, cast<TypedAttr>(DenseElementsAttr::get(type, table)));
  return tensor::ExtractOp::create(b, values, asIndex(i));
}

//===----------------------------------------------------------------------===//
// buildPackedDequantize
//===----------------------------------------------------------------------===//

namespace {

ElementDecoder lookupDecoder(quantc::Format format) {
  for (ElementDecoder (*family)(quantc::Format) :
       {getLegacyElementDecoder, getKQuantElementDecoder,
        getIQuantElementDecoder, getTernaryElementDecoder})
    if (ElementDecoder decoder = family(format))
      return decoder;
  return nullptr;
}

} // namespace

FailureOr<Value> mlir::qc::buildPackedDequantize(OpBuilder &builder,
                                                 Location loc, Value rowBytes,
                                                 PackedType type) {
  const quantc::FormatInfo &info = type.getFormatInfo();
  StringRef name(info.name.data(), info.name.size());
  ElementDecoder decoder = lookupDecoder(info.format);
  if (!decoder) {
    emitError(loc) << "no IR decoder for format " << name;
    return failure();
  }

  ArrayRef<int64_t> shape = type.getShape();
  auto rank = static_cast<unsigned>(shape.size());
  int64_t blocks = shape.back() / info.blockSize;
  SmallVector<int64_t> bytesShape(shape.drop_back());
  bytesShape.push_back(blocks * info.bytesPerBlock);
  auto bytesType = dyn_cast<RankedTensorType>(rowBytes.getType());
  if (!bytesType || !bytesType.getElementType().isSignlessInteger(8) ||
      failed(verifyCompatibleShape(bytesType.getShape(), bytesShape))) {
    emitError(loc) << "expected the bytes of " << type << " as "
                   << RankedTensorType::get(bytesShape, builder.getI8Type())
                   << ", got " << rowBytes.getType();
    return failure();
  }

  Type f32 = builder.getF32Type();
  SmallVector<int64_t> blockedShape(shape.drop_back());
  blockedShape.append({blocks, static_cast<int64_t>(info.blockSize)});
  Value init = tensor::EmptyOp::create(builder, loc, blockedShape, f32);
  unsigned loops = rank + 1;
  SmallVector<AffineMap> maps = {builder.getMultiDimIdentityMap(loops)};
  SmallVector<utils::IteratorType> iterators(loops,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      builder, loc, TypeRange{init.getType()}, ValueRange{}, ValueRange{init},
      maps, iterators, [&](OpBuilder &nested, Location nestedLoc, ValueRange) {
        ImplicitLocOpBuilder b(nestedLoc, nested);
        SmallVector<Value> ivs;
        for (unsigned d = 0; d < loops; ++d)
          ivs.push_back(linalg::IndexOp::create(b, d));
        Value blockOffset = arith::MulIOp::create(
            b, ivs[rank - 1],
            arith::ConstantIndexOp::create(b, info.bytesPerBlock));
        BlockElementBuilder element(b, rowBytes,
                                    ArrayRef<Value>(ivs).take_front(rank - 1),
                                    blockOffset, ivs[rank]);
        linalg::YieldOp::create(b, decoder(element));
      });

  SmallVector<ReassociationIndices> reassociation;
  for (unsigned d = 0; d + 1 < rank; ++d)
    reassociation.push_back({d});
  reassociation.push_back({rank - 1, rank});
  Value decoded = tensor::CollapseShapeOp::create(
      builder, loc, RankedTensorType::get(shape, f32), generic.getResult(0),
      reassociation);
  return decoded;
}
