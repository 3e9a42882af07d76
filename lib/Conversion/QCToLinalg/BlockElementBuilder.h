//===- BlockElementBuilder.h - scalar IR of one decoded element -*- C++ -*-===//
//
// What every block decoder emits inside the decoding linalg.generic: reads
// of the current block's bytes, integer unpacking, fp16 fields, and float
// arithmetic without fast-math flags (so that nothing is contracted or
// reassociated and the result matches lib/Numerics bit for bit). Each
// family of formats (BlockDecode{Legacy,KQuants,IQuants,Ternary}.cpp)
// writes its formulas against this; private to lib/Conversion/QCToLinalg.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_LIB_CONVERSION_QCTOLINALG_BLOCKELEMENTBUILDER_H
#define QUANTC_LIB_CONVERSION_QCTOLINALG_BLOCKELEMENTBUILDER_H

#include "quantc/Numerics/Formats.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Value.h"
#include "mlir/Support/LLVM.h"

namespace mlir::qc::detail {

/// Builds the scalar code that decodes the element at position `element()`
/// of one block. Integer helpers take i32 or index operands; an int64_t
/// operand becomes a constant of the other operand's type. Unsigned
/// division and shifts, as every quantity here is non-negative.
class BlockElementBuilder {
public:
  /// `bytes` is the packed tensor, `rowIndices` select the row (all but the
  /// last dimension), `blockOffset` is the index of the block's first byte
  /// in that row and `element` the element's position in the block.
  BlockElementBuilder(ImplicitLocOpBuilder &builder, Value bytes,
                      ValueRange rowIndices, Value blockOffset, Value element);

  /// Position of the element inside its block, an index.
  Value element() const { return elementIndex; }

  // Integers.
  Value constant(Type type, int64_t value);
  Value index(int64_t value);
  Value i32(int64_t value);
  Value add(Value a, Value b);
  Value add(Value a, int64_t b);
  Value sub(Value a, Value b);
  Value sub(Value a, int64_t b);
  Value mul(Value a, Value b);
  Value mul(Value a, int64_t b);
  Value divU(Value a, int64_t b);
  Value remU(Value a, int64_t b);
  Value shrU(Value a, Value amount);
  Value shrU(Value a, int64_t amount);
  Value shl(Value a, Value amount);
  Value shl(Value a, int64_t amount);
  Value andI(Value a, int64_t mask);
  Value orI(Value a, Value b);
  Value ult(Value a, int64_t b);
  Value eq(Value a, int64_t b);
  Value select(Value condition, Value ifTrue, Value ifFalse);
  /// An index as i32, for shift amounts and codes.
  Value toI32(Value index);

  // Bytes of the current block; offsets count from its first byte.
  /// The byte at `offset`, zero-extended to i32.
  Value byteAt(Value offset);
  Value byteAt(int64_t offset);
  /// The byte at `offset` read as int8, sign-extended to i32.
  Value signedByteAt(Value offset);
  /// Bit `bit` (an index) of the little-endian bit field that starts at
  /// byte `offset`, as an i32 0 or 1.
  Value bitAt(int64_t offset, Value bit);
  /// Code `i` (an index below 32) of 32 nibbles packed in the 16 bytes at
  /// `offset` the way ggml's 32-element groups pack them: the low nibbles
  /// of the bytes are codes 0-15, the high nibbles codes 16-31.
  Value nibbleAt(Value offset, Value i);
  Value nibbleAt(int64_t offset, Value i);
  /// The little-endian fp16 at `offset`, converted to f32 as
  /// `quantc::fp16ToFp32` does.
  Value halfAt(int64_t offset);
  /// The little-endian f32 at `offset`.
  Value floatAt(int64_t offset);

  // Floats: no fast-math flags, one rounding per operation, as in C++
  // compiled with -ffp-contract=off.
  /// `static_cast<float>(value)` of an i32.
  Value toF32(Value value);
  Value mulF(Value a, Value b);
  Value addF(Value a, Value b);
  Value subF(Value a, Value b);

  /// `table[i]` of a constant table; `i` is i32 or index.
  Value lookup(ArrayRef<float> table, Value i);
  Value lookup(ArrayRef<int32_t> table, Value i);

private:
  Value asIndex(Value value);
  /// Bit pattern of the four (or two) little-endian bytes at `offset`.
  Value loadLittleEndian(int64_t offset, int bytes);

  ImplicitLocOpBuilder &b;
  Value bytes;
  SmallVector<Value> rowIndices;
  Value blockOffset;
  Value elementIndex;
};

/// Emits the decoded f32 of one element.
using ElementDecoder = Value (*)(BlockElementBuilder &);

// The decoders of each family; null for a format outside the family.
ElementDecoder getLegacyElementDecoder(quantc::Format format);
ElementDecoder getKQuantElementDecoder(quantc::Format format);
ElementDecoder getIQuantElementDecoder(quantc::Format format);
ElementDecoder getTernaryElementDecoder(quantc::Format format);

} // namespace mlir::qc::detail

#endif // QUANTC_LIB_CONVERSION_QCTOLINALG_BLOCKELEMENTBUILDER_H
