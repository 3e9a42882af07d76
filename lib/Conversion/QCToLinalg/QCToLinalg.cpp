//===- QCToLinalg.cpp - convert-qc-to-linalg ------------------------------===//
//
// Quantized weight globals become plain byte/scale tensors, and qc.linear
// becomes integer and float linalg on tensors whose arithmetic is that of
// lib/Numerics/QuantizedLinear.h (bit for bit on the integer paths).
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/Passes.h"

#include "BlockDecode.h"
#include "quantc/Conversion/QCToLinalg/ElementCodecs.h"
#include "quantc/Numerics/GroupedAffine.h"

#include "QC/QCOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"

#include <cstring>

namespace mlir::qc {
QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DEF_CONVERTQCTOLINALG
#include "quantc/Conversion/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

using utils::IteratorType;
constexpr IteratorType kParallel = IteratorType::parallel;
constexpr IteratorType kReduction = IteratorType::reduction;

bool isFP8Weight(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && isa<Float8E4M3FNType>(tensor.getElementType());
}

bool isQuantizedWeight(Type type) {
  return isa<GroupedType, PackedType>(type) || isFP8Weight(type);
}

//===----------------------------------------------------------------------===//
// Globals
//===----------------------------------------------------------------------===//

/// The plain globals one quantized global becomes.
struct WeightGlobals {
  /// !qc.grouped: bit-packed codes, scales, zero points (unsigned only).
  ml_program::GlobalOp codes, scales, zeroPoints;
  /// !qc.packed (whole rows of blocks) and FP8 (one byte per weight).
  ml_program::GlobalOp bytes;
};

/// Where the bytes of a quantized global are: in a file, or (small tests)
/// inline.
struct WeightSource {
  ExternalAttr external;
  /// The whole blob as bytes, when inline.
  ArrayRef<char> inlineBytes;
  /// A splat value's bytes, expanded.
  std::vector<char> storage;
};

class GlobalSplitter {
public:
  GlobalSplitter(ModuleOp module) : symbols(module) {}

  FailureOr<WeightGlobals> split(ml_program::GlobalOp global) {
    if (global.getIsMutable())
      return global.emitOpError("is a mutable quantized weight, which "
                                "convert-qc-to-linalg cannot lower");
    Attribute value = global.getValue().value_or(Attribute());
    Type type = global.getType();
    WeightSource source;
    source.external = dyn_cast_if_present<ExternalAttr>(value);
    uint64_t size = sizeInBytes(type);
    if (!source.external) {
      auto elements = dyn_cast_if_present<DenseElementsAttr>(value);
      Type element = elements ? elements.getElementType() : Type();
      bool bytes = element &&
                   (element.isInteger(8) || isFP8Weight(elements.getType())) &&
                   static_cast<uint64_t>(elements.getNumElements()) == size;
      if (!bytes)
        return global.emitOpError("holds a quantized weight whose value is "
                                  "neither a #qc.external reference nor ")
               << size << " bytes of elements";
      source.inlineBytes = elements.getRawData();
      if (elements.isSplat()) {
        source.storage.assign(size, source.inlineBytes.front());
        source.inlineBytes = source.storage;
      }
    }
    builder.emplace(global);
    builder->setInsertionPointAfter(global);
    WeightGlobals planes;
    MLIRContext *context = global.getContext();
    Type i8 = IntegerType::get(context, 8);
    if (auto grouped = dyn_cast<GroupedType>(type)) {
      ::quantc::GroupedFormat format = grouped.getFormat();
      ::quantc::GroupedLayout layout = ::quantc::groupedLayout(
          format, grouped.getNumRows(), grouped.getRowLength());
      int64_t rows = layout.rows, groups = layout.groupsPerRow;
      planes.codes =
          plane(global, source, "codes",
                RankedTensorType::get({rows, layout.codeRowBytes}, i8),
                layout.codesOffset);
      planes.scales = plane(
          global, source, "scales",
          RankedTensorType::get({rows, groups}, Float32Type::get(context)),
          layout.scalesOffset);
      if (!format.isSigned)
        planes.zeroPoints = plane(global, source, "zero_points",
                                  RankedTensorType::get({rows, groups}, i8),
                                  layout.zeroPointsOffset);
    } else if (auto packed = dyn_cast<PackedType>(type)) {
      int64_t rows = packed.getNumRows();
      auto rowBytes = static_cast<int64_t>(packed.getSizeInBytes()) / rows;
      planes.bytes = plane(global, source, "bytes",
                           RankedTensorType::get({rows, rowBytes}, i8), 0);
    } else {
      auto tensor = cast<RankedTensorType>(type);
      planes.bytes = plane(global, source, "bytes", tensor.clone(i8), 0);
    }
    return planes;
  }

private:
  static uint64_t sizeInBytes(Type type) {
    if (auto grouped = dyn_cast<GroupedType>(type))
      return grouped.getSizeInBytes();
    if (auto packed = dyn_cast<PackedType>(type))
      return packed.getSizeInBytes();
    return static_cast<uint64_t>(cast<RankedTensorType>(type).getNumElements());
  }

  /// A global of `type` holding the bytes at `offset` of the weight.
  ml_program::GlobalOp plane(ml_program::GlobalOp global,
                             const WeightSource &source, StringRef suffix,
                             RankedTensorType type, uint64_t offset) {
    Attribute value;
    if (source.external) {
      value = ExternalAttr::get(global.getContext(), source.external.getPath(),
                                source.external.getOffset() + offset);
    } else {
      // Inline bytes: the plane's elements, little-endian as in a file.
      uint64_t bytes = static_cast<uint64_t>(type.getNumElements()) *
                       type.getElementTypeBitWidth() / 8;
      value = DenseElementsAttr::getFromRawBuffer(
          type, source.inlineBytes.slice(offset, bytes));
    }
    auto op = ml_program::GlobalOp::create(
        *builder, global.getLoc(), (global.getSymName() + "." + suffix).str(),
        type, /*is_mutable=*/false, value, builder->getStringAttr("private"));
    // Renames on a clash with an existing symbol.
    symbols.insert(op, builder->getInsertionPoint());
    builder->setInsertionPointAfter(op);
    return op;
  }

  SymbolTable symbols;
  std::optional<OpBuilder> builder;
};

//===----------------------------------------------------------------------===//
// qc.linear
//===----------------------------------------------------------------------===//

/// Builds the linalg form of one qc.linear, before it.
class LinearLowering {
public:
  LinearLowering(LinearOp op, const WeightGlobals &globals, bool fuse)
      : op(op), globals(globals), fuse(fuse), b(op.getLoc(), op) {
    auto shape = op.getWeightShape();
    outputs = shape[0];
    depth = shape[1];
    Value input = op.getInput();
    tokens = tensor::getMixedSize(b, b.getLoc(), input, 0);
  }

  /// The result, or failure after a diagnostic on the op.
  FailureOr<Value> lower() {
    Type weight = op.getWeight().getType();
    if (op.getDynamic() || op.getStaticType())
      return lowerInt8();
    if (auto grouped = dyn_cast<GroupedType>(weight))
      return lowerGroupedWeightOnly(grouped);
    if (auto packed = dyn_cast<PackedType>(weight))
      return lowerPacked(packed);
    return lowerFP8();
  }

private:
  // Small builders.
  Type f32() { return b.getF32Type(); }
  Type i32() { return b.getI32Type(); }
  Value f32Const(float value) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(value));
  }
  Value load(ml_program::GlobalOp global) {
    return ml_program::GlobalLoadConstOp::create(
        b, global.getType(), FlatSymbolRefAttr::get(global.getSymNameAttr()));
  }
  Value empty(ArrayRef<OpFoldResult> sizes, Type element) {
    return tensor::EmptyOp::create(b, sizes, element);
  }
  Value zeros(ArrayRef<OpFoldResult> sizes, Type element) {
    Value zero = arith::ConstantOp::create(b, b.getZeroAttr(element));
    return linalg::FillOp::create(b, ValueRange{zero},
                                  ValueRange{empty(sizes, element)})
        .getResult(0);
  }
  OpFoldResult size(int64_t value) { return b.getIndexAttr(value); }
  AffineMap map(unsigned dims, ArrayRef<unsigned> results) {
    SmallVector<AffineExpr> exprs;
    for (unsigned dim : results)
      exprs.push_back(b.getAffineDimExpr(dim));
    return AffineMap::get(dims, 0, exprs, b.getContext());
  }
  using BodyFn =
      function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;
  ValueRange generic(ValueRange inputs, ValueRange inits,
                     ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iterators,
                     BodyFn body) {
    return linalg::GenericOp::create(
               b, ValueRange(inits).getTypes(), inputs, inits, maps, iterators,
               [&](OpBuilder &nb, Location loc, ValueRange args) {
                 linalg::YieldOp::create(nb, loc, body(nb, loc, args));
               })
        .getResults();
  }
  /// tensor<N x 1 x T> as tensor<N x T>... collapsed to tensor<N x T>'s rows:
  /// a per-row plane as a vector indexed by the row.
  Value rowsOf(Value plane) {
    return tensor::CollapseShapeOp::create(
        b, plane, ArrayRef<ReassociationIndices>{{0, 1}});
  }

  /// [M, K] x [N, K]^T into a zeroed [M, N] of `accumulator`, as the
  /// importer writes projections (linalg.matmul, transposed-B maps); i8
  /// inputs are sign-extended.
  Value matmulTransposedB(Value lhs, Value rhs, Type accumulator) {
    Value init = zeros({tokens, size(outputs)}, accumulator);
    Attribute maps = b.getAffineMapArrayAttr(
        {map(3, {0, 2}), map(3, {1, 2}), map(3, {0, 1})});
    return linalg::MatmulOp::create(
               b, TypeRange{init.getType()}, ValueRange{lhs, rhs},
               ValueRange{init},
               ArrayRef<NamedAttribute>{b.getNamedAttr("indexing_maps", maps)})
        .getResult(0);
  }

  /// How to compute one weight element w[n, k] in a linalg body: the
  /// tensors it reads through (n, k) indexing maps, and the computation
  /// from their elements and the indices.
  struct WeightElement {
    SmallVector<Value> inputs;
    /// Over (n, k).
    SmallVector<AffineMap> maps;
    std::function<Value(OpBuilder &, Location, ValueRange, Value, Value)>
        compute;
  };

  WeightElement groupedElement(GroupedType type);
  WeightElement fp8Element();
  /// The f32 [N, K] weight, or (fused) x * w^T directly.
  Value dequantizeThenMultiply(Value x, const WeightElement &element);

  FailureOr<Value> lowerGroupedWeightOnly(GroupedType type) {
    if (!fuse && hasWholeByteGroups(type.getFormat()))
      return dequantizeByCodeSlotThenMultiply(type);
    return dequantizeThenMultiply(op.getInput(), groupedElement(type));
  }
  /// Whether every group is whole bytes of whole codes (2, 4 or 8 bits,
  /// groups dividing the row): then the weight dequantizes without gathers.
  bool hasWholeByteGroups(const ::quantc::GroupedFormat &format) const {
    int64_t group = format.effectiveGroupSize(depth);
    return 8 % format.bits == 0 && depth % group == 0 &&
           group * format.bits % 8 == 0;
  }
  Value dequantizeByCodeSlotThenMultiply(GroupedType type);
  FailureOr<Value> lowerPacked(PackedType type);
  FailureOr<Value> lowerFP8();
  FailureOr<Value> lowerInt8();

  LinearOp op;
  const WeightGlobals &globals;
  bool fuse;
  ImplicitLocOpBuilder b;
  int64_t outputs = 0, depth = 0;
  /// M: the token count, static or a tensor.dim.
  OpFoldResult tokens;
};

LinearLowering::WeightElement LinearLowering::groupedElement(GroupedType type) {
  ::quantc::GroupedFormat format = type.getFormat();
  int64_t group = format.effectiveGroupSize(depth);
  bool perRow = format.groupsPerRow(depth) == 1;
  unsigned bits = format.bits;
  bool isSigned = format.isSigned;
  Value codes = load(globals.codes);
  Value scales = load(globals.scales);
  Value zeroPoints = globals.zeroPoints ? load(globals.zeroPoints) : Value();

  // Inputs read through indexing maps where they can be (8-bit codes are
  // the matrix itself; a single group per row is a vector over rows), so
  // that the common formats vectorize; the rest is read with tensor.extract
  // from the indices.
  WeightElement element;
  bool codesByMap = bits == 8;
  if (codesByMap) {
    element.inputs.push_back(codes);
    element.maps.push_back(map(2, {0, 1}));
  }
  if (perRow) {
    element.inputs.push_back(rowsOf(scales));
    element.maps.push_back(map(2, {0}));
    if (zeroPoints) {
      element.inputs.push_back(rowsOf(zeroPoints));
      element.maps.push_back(map(2, {0}));
    }
  }
  element.compute = [=](OpBuilder &nb, Location loc, ValueRange args, Value n,
                        Value k) -> Value {
    unsigned next = 0;
    Value code;
    if (codesByMap) {
      Value byte = args[next++];
      code = isSigned ? arith::ExtSIOp::create(nb, loc, nb.getI32Type(), byte)
                            .getResult()
                      : arith::ExtUIOp::create(nb, loc, nb.getI32Type(), byte)
                            .getResult();
    } else {
      code = buildGroupedCodeRead(nb, loc, codes, n, k, bits, isSigned);
    }
    Value scale, zeroPoint;
    if (perRow) {
      scale = args[next++];
      if (zeroPoints)
        zeroPoint = args[next++];
    } else {
      Value g = arith::DivUIOp::create(
          nb, loc, k, arith::ConstantIndexOp::create(nb, loc, group));
      scale = tensor::ExtractOp::create(nb, loc, scales, ValueRange{n, g});
      if (zeroPoints)
        zeroPoint =
            tensor::ExtractOp::create(nb, loc, zeroPoints, ValueRange{n, g});
    }
    // (code - zero point) * scale, as quantc::dequantizeAffine.
    if (zeroPoint)
      code = arith::SubIOp::create(
          nb, loc, code,
          arith::ExtUIOp::create(nb, loc, nb.getI32Type(), zeroPoint));
    Value value = arith::SIToFPOp::create(nb, loc, nb.getF32Type(), code);
    return arith::MulFOp::create(nb, loc, value, scale);
  };
  return element;
}

LinearLowering::WeightElement LinearLowering::fp8Element() {
  WeightElement element;
  element.inputs.push_back(load(globals.bytes));
  element.maps.push_back(map(2, {0, 1}));
  element.compute = [](OpBuilder &nb, Location loc, ValueRange args, Value,
                       Value) {
    return buildFP8E4M3FNToFP32(nb, loc, args[0]);
  };
  return element;
}

Value LinearLowering::dequantizeThenMultiply(Value x,
                                             const WeightElement &element) {
  auto index = [](OpBuilder &nb, Location loc, unsigned dim) {
    return linalg::IndexOp::create(nb, loc, dim).getResult();
  };
  if (!fuse) {
    SmallVector<AffineMap> maps = element.maps;
    maps.push_back(map(2, {0, 1}));
    Value weight =
        generic(element.inputs, empty({size(outputs), size(depth)}, f32()),
                maps, {kParallel, kParallel},
                [&](OpBuilder &nb, Location loc, ValueRange args) {
                  Value n = index(nb, loc, 0);
                  Value k = index(nb, loc, 1);
                  return SmallVector<Value>{
                      element.compute(nb, loc, args.drop_back(), n, k)};
                })[0];
    return matmulTransposedB(x, weight, f32());
  }
  // Fused: (m, n, k) with the weight element computed in the body; every
  // token recomputes it, in exchange for never storing the f32 weight.
  SmallVector<Value> inputs{x};
  llvm::append_range(inputs, element.inputs);
  SmallVector<AffineMap> maps{map(3, {0, 2})};
  for (AffineMap weightMap : element.maps)
    maps.push_back(weightMap.shiftDims(1));
  maps.push_back(map(3, {0, 1}));
  return generic(inputs, zeros({tokens, size(outputs)}, f32()), maps,
                 {kParallel, kParallel, kReduction},
                 [&](OpBuilder &nb, Location loc, ValueRange args) {
                   Value n = index(nb, loc, 1);
                   Value k = index(nb, loc, 2);
                   Value w = element.compute(
                       nb, loc, args.slice(1, args.size() - 2), n, k);
                   Value product = arith::MulFOp::create(nb, loc, args[0], w);
                   return SmallVector<Value>{
                       arith::AddFOp::create(nb, loc, args.back(), product)};
                 })[0];
}

Value LinearLowering::dequantizeByCodeSlotThenMultiply(GroupedType type) {
  // With 8 / bits codes per byte, code k of a row is slot k % slots of byte
  // k / slots. Dequantizing over (n, slot, group, byte in group) reads
  // every plane through projected indexing maps (no gathers, so it
  // vectorizes along the bytes of a group), and yields the weight with its
  // columns in slot-major order: k' = slot * rowBytes + byte. The
  // activations' columns are put in the same order (a transpose of
  // [M, rowBytes, slots]), which leaves the sum over k the same sum.
  ::quantc::GroupedFormat format = type.getFormat();
  unsigned bits = format.bits;
  bool isSigned = format.isSigned;
  int64_t slots = 8 / bits;
  int64_t group = format.effectiveGroupSize(depth);
  int64_t groups = depth / group;
  int64_t groupBytes = group * bits / 8;
  int64_t rowBytes = depth * bits / 8;
  Value codes = tensor::ExpandShapeOp::create(
      b, RankedTensorType::get({outputs, groups, groupBytes}, b.getI8Type()),
      load(globals.codes), ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  SmallVector<Value> inputs{codes, load(globals.scales)};
  SmallVector<AffineMap> maps{map(4, {0, 2, 3}), map(4, {0, 2})};
  if (globals.zeroPoints) {
    inputs.push_back(load(globals.zeroPoints));
    maps.push_back(map(4, {0, 2}));
  }
  maps.push_back(map(4, {0, 1, 2, 3}));
  Value slotMajor = generic(
      inputs,
      empty({size(outputs), size(slots), size(groups), size(groupBytes)},
            f32()),
      maps, {kParallel, kParallel, kParallel, kParallel},
      [&](OpBuilder &nb, Location loc, ValueRange args) {
        auto i32 = [&](int64_t value) {
          return arith::ConstantOp::create(
              nb, loc, nb.getI32IntegerAttr(static_cast<int32_t>(value)));
        };
        Value code = arith::ExtUIOp::create(nb, loc, nb.getI32Type(), args[0]);
        if (slots > 1) {
          Value slot = arith::IndexCastOp::create(
              nb, loc, nb.getI32Type(), linalg::IndexOp::create(nb, loc, 1));
          Value shift = arith::MulIOp::create(nb, loc, slot, i32(bits));
          Value shifted = arith::ShRUIOp::create(nb, loc, code, shift);
          code = arith::AndIOp::create(nb, loc, shifted, i32((1 << bits) - 1));
        }
        if (isSigned) {
          Value up = i32(32 - bits);
          code = arith::ShRSIOp::create(
              nb, loc, arith::ShLIOp::create(nb, loc, code, up), up);
        }
        if (args.size() == 4)
          code = arith::SubIOp::create(
              nb, loc, code,
              arith::ExtUIOp::create(nb, loc, nb.getI32Type(), args[2]));
        Value value = arith::SIToFPOp::create(nb, loc, nb.getF32Type(), code);
        return SmallVector<Value>{
            arith::MulFOp::create(nb, loc, value, args[1])};
      })[0];
  Value weight = tensor::CollapseShapeOp::create(
      b, slotMajor, ArrayRef<ReassociationIndices>{{0}, {1, 2, 3}});

  Value x = op.getInput();
  if (slots > 1) {
    Type xElement = f32();
    Value interleaved = tensor::ExpandShapeOp::create(
        b,
        RankedTensorType::get(
            {op.getInput().getType().getDimSize(0), rowBytes, slots}, xElement),
        x, ArrayRef<ReassociationIndices>{{0}, {1, 2}},
        ArrayRef<OpFoldResult>{tokens, size(rowBytes), size(slots)});
    Value bySlot = generic(
        interleaved, empty({tokens, size(slots), size(rowBytes)}, xElement),
        {map(3, {0, 2, 1}), map(3, {0, 1, 2})},
        {kParallel, kParallel, kParallel},
        [](OpBuilder &, Location, ValueRange args) {
          return SmallVector<Value>{args[0]};
        })[0];
    x = tensor::CollapseShapeOp::create(
        b, bySlot, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  }
  return matmulTransposedB(x, weight, f32());
}

FailureOr<Value> LinearLowering::lowerPacked(PackedType type) {
  // The decoder reports what it cannot decode, at the op's location.
  FailureOr<Value> weight =
      buildPackedDequantize(b, b.getLoc(), load(globals.bytes), type);
  if (failed(weight))
    return failure();
  return matmulTransposedB(op.getInput(), *weight, f32());
}

FailureOr<Value> LinearLowering::lowerFP8() {
  float weightScale = op.getWeightScale()->convertToFloat();
  float outputScale = weightScale;
  Value x = op.getInput();
  if (auto inputScale = op.getInputScale()) {
    // Activations through E4M3FN: x * (1 / s) rounded (saturating, nearest
    // even) then decoded, as quantc::quantizeFP8E4M3 and fp8ToFp32.
    float scale = inputScale->convertToFloat();
    Value inverse = f32Const(1.0f / scale);
    outputScale = scale * weightScale;
    x = generic(
        x, empty({tokens, size(depth)}, f32()),
        {map(2, {0, 1}), map(2, {0, 1})}, {kParallel, kParallel},
        [&](OpBuilder &nb, Location loc, ValueRange args) {
          Value scaled = arith::MulFOp::create(nb, loc, args[0], inverse);
          Value code = buildFP32ToFP8E4M3FN(nb, loc, scaled);
          return SmallVector<Value>{buildFP8E4M3FNToFP32(nb, loc, code)};
        })[0];
  }
  Value product = dequantizeThenMultiply(x, fp8Element());
  Value scale = f32Const(outputScale);
  return generic(product, empty({tokens, size(outputs)}, f32()),
                 {map(2, {0, 1}), map(2, {0, 1})}, {kParallel, kParallel},
                 [&](OpBuilder &nb, Location loc, ValueRange args) {
                   return SmallVector<Value>{
                       arith::MulFOp::create(nb, loc, args[0], scale)};
                 })[0];
}

FailureOr<Value> LinearLowering::lowerInt8() {
  Value x = op.getInput();
  Value codes = load(globals.codes); // [N, K] i8 (8-bit codes, one per byte)
  Value weightScales = rowsOf(load(globals.scales)); // [N] f32
  Type i8 = b.getI8Type();
  OpFoldResult k = size(depth);
  SmallVector<AffineMap> elementwise(2, map(2, {0, 1}));

  // Activation codes, and their scale per row ([M]) or for the tensor.
  Value xCodes, rowScales, tensorScale;
  int32_t zeroPoint = 0;
  if (std::optional<DynamicGranularity> dynamic = op.getDynamic()) {
    bool perToken = *dynamic == DynamicGranularity::PerToken;
    // max |x|, NaN ignored (maxnumf), as quantizeActivationsDynamic.
    auto absMax = [](OpBuilder &nb, Location loc, ValueRange args) {
      Value magnitude = math::AbsFOp::create(nb, loc, args[0]);
      return SmallVector<Value>{
          arith::MaxNumFOp::create(nb, loc, args[1], magnitude)};
    };
    // dynamicInt8Scale: max(amax / 127, 2^-23), and its inverse.
    auto scaleOf = [](OpBuilder &nb, Location loc, Value amax) {
      auto constant = [&](float value) {
        return arith::ConstantOp::create(nb, loc, nb.getF32FloatAttr(value));
      };
      Value quotient = arith::DivFOp::create(nb, loc, amax, constant(127.0f));
      Value scale =
          arith::MaxNumFOp::create(nb, loc, quotient, constant(0x1p-23f));
      Value inverse = arith::DivFOp::create(nb, loc, constant(1.0f), scale);
      return std::make_pair(scale, inverse);
    };
    Value inverse;
    SmallVector<AffineMap> maps;
    if (perToken) {
      Value amax =
          generic(x, zeros({tokens}, f32()), {map(2, {0, 1}), map(2, {0})},
                  {kParallel, kReduction}, absMax)[0];
      ValueRange scales =
          generic(amax, {empty({tokens}, f32()), empty({tokens}, f32())},
                  {map(1, {0}), map(1, {0}), map(1, {0})}, {kParallel},
                  [&](OpBuilder &nb, Location loc, ValueRange args) {
                    auto [scale, inv] = scaleOf(nb, loc, args[0]);
                    return SmallVector<Value>{scale, inv};
                  });
      rowScales = scales[0];
      inverse = scales[1];
      maps = {map(2, {0, 1}), map(2, {0}), map(2, {0, 1})};
    } else {
      Value amax = generic(x, zeros({}, f32()), {map(2, {0, 1}), map(2, {})},
                           {kReduction, kReduction}, absMax)[0];
      auto [scale, inv] = scaleOf(
          b, b.getLoc(), tensor::ExtractOp::create(b, amax, ValueRange{}));
      tensorScale = scale;
      inverse = inv;
      maps = elementwise;
    }
    SmallVector<Value> inputs{x};
    if (perToken)
      inputs.push_back(inverse);
    xCodes =
        generic(inputs, empty({tokens, k}, i8), maps, {kParallel, kParallel},
                [&](OpBuilder &nb, Location loc, ValueRange args) {
                  Value q = buildAffineQuantize(nb, loc, args[0],
                                                perToken ? args[1] : inverse, 0,
                                                -127, 127);
                  return SmallVector<Value>{
                      arith::TruncIOp::create(nb, loc, nb.getI8Type(), q)};
                })[0];
  } else {
    auto uniform = cast<quant::UniformQuantizedType>(*op.getStaticType());
    float scale = static_cast<float>(uniform.getScale());
    zeroPoint = static_cast<int32_t>(uniform.getZeroPoint());
    auto qmin = static_cast<int32_t>(uniform.getStorageTypeMin());
    auto qmax = static_cast<int32_t>(uniform.getStorageTypeMax());
    // The same inverse quantc::quantizeAffine uses: 1 / scale in f32.
    Value inverse = f32Const(1.0f / scale);
    tensorScale = f32Const(scale);
    xCodes =
        generic(x, empty({tokens, k}, i8), elementwise, {kParallel, kParallel},
                [&](OpBuilder &nb, Location loc, ValueRange args) {
                  Value q = buildAffineQuantize(nb, loc, args[0], inverse,
                                                zeroPoint, qmin, qmax);
                  return SmallVector<Value>{
                      arith::TruncIOp::create(nb, loc, nb.getI8Type(), q)};
                })[0];
  }

  // The exact integer products, then the zero point's share of them:
  // sum_k (xq - z) w = sum_k xq w - z * sum_k w (referenceInt8Linear), so
  // that the contraction itself stays a plain i8 x i8 -> i32 matmul.
  Value accumulators = matmulTransposedB(xCodes, codes, i32());
  Value rowSums;
  if (zeroPoint != 0)
    rowSums = generic(
        codes, zeros({size(outputs)}, i32()), {map(2, {0, 1}), map(2, {0})},
        {kParallel, kReduction},
        [](OpBuilder &nb, Location loc, ValueRange args) {
          Value w = arith::ExtSIOp::create(nb, loc, nb.getI32Type(), args[0]);
          return SmallVector<Value>{arith::AddIOp::create(nb, loc, args[1], w)};
        })[0];

  // Epilogue: float(acc) * (xScale * wScale[n]), in this order.
  SmallVector<Value> inputs{accumulators, weightScales};
  SmallVector<AffineMap> maps{map(2, {0, 1}), map(2, {1})};
  if (rowScales) {
    inputs.push_back(rowScales);
    maps.push_back(map(2, {0}));
  }
  if (rowSums) {
    inputs.push_back(rowSums);
    maps.push_back(map(2, {1}));
  }
  maps.push_back(map(2, {0, 1}));
  return generic(
      inputs, empty({tokens, size(outputs)}, f32()), maps,
      {kParallel, kParallel},
      [&](OpBuilder &nb, Location loc, ValueRange args) {
        Value acc = args[0];
        unsigned next = 2;
        Value xScale = rowScales ? args[next++] : tensorScale;
        if (rowSums) {
          Value correction = arith::MulIOp::create(
              nb, loc, args[next++],
              arith::ConstantOp::create(nb, loc,
                                        nb.getI32IntegerAttr(zeroPoint)));
          acc = arith::SubIOp::create(nb, loc, acc, correction);
        }
        Value scale = arith::MulFOp::create(nb, loc, xScale, args[1]);
        Value value = arith::SIToFPOp::create(nb, loc, nb.getF32Type(), acc);
        return SmallVector<Value>{arith::MulFOp::create(nb, loc, value, scale)};
      })[0];
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct ConvertQCToLinalgPass
    : public qc::impl::ConvertQCToLinalgBase<ConvertQCToLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(run(module)))
      signalPassFailure();
  }

  LogicalResult run(ModuleOp module) {
    // Every quantized global becomes its plain planes.
    GlobalSplitter splitter(module);
    llvm::DenseMap<Operation *, WeightGlobals> lowered;
    SmallVector<ml_program::GlobalOp> quantizedGlobals;
    for (auto global : module.getOps<ml_program::GlobalOp>())
      if (isQuantizedWeight(global.getType()))
        quantizedGlobals.push_back(global);
    for (ml_program::GlobalOp global : quantizedGlobals) {
      FailureOr<WeightGlobals> planes = splitter.split(global);
      if (failed(planes))
        return failure();
      lowered[global] = *planes;
    }

    // Each qc.linear reads the planes of its weight's global.
    SmallVector<LinearOp> linears;
    module.walk([&](LinearOp linear) { linears.push_back(linear); });
    SymbolTableCollection symbols;
    for (LinearOp linear : linears) {
      auto weightLoad =
          linear.getWeight().getDefiningOp<ml_program::GlobalLoadConstOp>();
      ml_program::GlobalOp global =
          weightLoad ? symbols.lookupNearestSymbolFrom<ml_program::GlobalOp>(
                           weightLoad, weightLoad.getGlobalAttr())
                     : ml_program::GlobalOp();
      auto it = global ? lowered.find(global) : lowered.end();
      if (it == lowered.end())
        return linear.emitOpError(
            "weight must be an ml_program.global_load_const of a quantized "
            "global (a #qc.external or byte value) for convert-qc-to-linalg");
      FailureOr<Value> result =
          LinearLowering(linear, it->second, fuseDequantize).lower();
      if (failed(result))
        return failure();
      linear.getResult().replaceAllUsesWith(*result);
      linear.erase();
    }

    // Loads of quantized globals now feed nothing, or something this pass
    // does not lower.
    SmallVector<Operation *> deadLoads;
    WalkResult walk = module.walk([&](Operation *op) {
      if (!isa<ml_program::GlobalLoadConstOp, ml_program::GlobalLoadOp>(op) ||
          op->getNumResults() != 1 ||
          !isQuantizedWeight(op->getResult(0).getType()))
        return WalkResult::advance();
      for (Operation *user : op->getResult(0).getUsers()) {
        InFlightDiagnostic diagnostic =
            user->emitOpError("uses a quantized weight, which "
                              "convert-qc-to-linalg only lowers in qc.linear");
        diagnostic.attachNote(op->getLoc()) << "loaded here";
        return WalkResult::interrupt();
      }
      deadLoads.push_back(op);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
    for (Operation *load : deadLoads)
      load->erase();
    for (ml_program::GlobalOp global : quantizedGlobals)
      global.erase();
    return success();
  }
};

} // namespace
