//===- LlamaImporter.cpp - a Llama checkpoint as linalg-on-tensors --------===//
//
// The forward pass follows llama2.c's run.c operation by operation (same
// float32 formulas, same order within an element) so that its logits agree
// with the float64 reference to ~1e-6: RMSNorm as w * (x * 1/sqrt(mean + eps)),
// RoPE frequencies 1/theta^(2i/hs) computed in float32, scores divided by
// sqrt(head size), softmax with the maximum subtracted, SiLU as
// x * (1/(1+exp(-x))). Attention reads the cache only up to pos + T, so the
// uninitialised tail of the cache is never touched.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/LlamaImporter.h"

#include "QC/QCOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineExpr.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include "llvm/ADT/StringMap.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace quantc {

void registerImportDialects(DialectRegistry &registry) {
  registry.insert<qc::QCDialect, func::FuncDialect, arith::ArithDialect,
                  math::MathDialect, tensor::TensorDialect,
                  linalg::LinalgDialect, ml_program::MLProgramDialect>();
}

namespace {

using utils::IteratorType;
constexpr int64_t kDynamic = ShapedType::kDynamic;

class LlamaBuilder {
public:
  LlamaBuilder(ModuleOp module, const io::LlamaSpec &spec)
      : module(module), spec(spec), config(spec.config),
        b(module.getLoc(), module.getContext()) {
    f32 = b.getF32Type();
  }

  void build();

private:
  // Types and small values.
  RankedTensorType tensorOf(ArrayRef<int64_t> shape, Type element = {}) {
    return RankedTensorType::get(shape, element ? element : f32);
  }
  Value f32Const(float value) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(value));
  }
  Value indexConst(int64_t value) {
    return arith::ConstantIndexOp::create(b, value);
  }
  /// `shape` with every dynamic size taken from `dynamicSizes` in order.
  Value empty(ArrayRef<int64_t> shape, ValueRange dynamicSizes) {
    return tensor::EmptyOp::create(b, shape, f32, dynamicSizes);
  }
  Value filled(Value init, float value) {
    return linalg::FillOp::create(b, ValueRange{f32Const(value)},
                                  ValueRange{init})
        .getResult(0);
  }
  AffineMap map(unsigned dims, ArrayRef<AffineExpr> results) {
    return AffineMap::get(dims, 0, results, b.getContext());
  }
  AffineExpr d(unsigned position) {
    return getAffineDimExpr(position, b.getContext());
  }
  Value generic(Type resultType, ValueRange inputs, Value init,
                ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iterators,
                function_ref<void(OpBuilder &, Location, ValueRange)> body) {
    return linalg::GenericOp::create(b, TypeRange{resultType}, inputs,
                                     ValueRange{init}, maps, iterators, body)
        .getResult(0);
  }

  // Weights.
  Value loadWeight(const io::WeightRef &weight);
  Value loadWeightAsF32(const io::WeightRef &weight);

  // Building blocks, on [T, n] activations.
  Value matmulTransposedB(Value input, Value weight);
  Value rmsNorm(Value input, const io::WeightRef &weight);
  Value ropeTables(bool cosine);
  Value applyRope(Value input, int64_t heads, Value cos, Value sin);
  Value attention(Value q, Value keys, Value values, Value contextLength);
  Value swiGLU(Value gate, Value up);
  Value add(Value lhs, Value rhs);
  Value embed(Value tokens);

  ModuleOp module;
  const io::LlamaSpec &spec;
  const io::LlamaConfig &config;
  ImplicitLocOpBuilder b;
  Type f32;
  /// Token count of this call and the position of its first token.
  Value tokenCount, position;
  func::FuncOp function;
  llvm::StringMap<ml_program::GlobalOp> globals;
};

Type getStorageType(MLIRContext *context, Format format) {
  switch (format) {
  case Format::F16:
    return Float16Type::get(context);
  case Format::BF16:
    return BFloat16Type::get(context);
  default:
    return Float32Type::get(context);
  }
}

Value LlamaBuilder::loadWeight(const io::WeightRef &weight) {
  auto type = tensorOf(weight.shape,
                       getStorageType(b.getContext(), weight.format));
  ml_program::GlobalOp &global = globals[weight.name];
  if (!global) {
    // Globals precede the function, in first-use order.
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(function);
    global = ml_program::GlobalOp::create(
        b, weight.name, type, /*is_mutable=*/false,
        qc::ExternalAttr::get(b.getContext(), weight.file, weight.offset),
        b.getStringAttr("private"));
  }
  return ml_program::GlobalLoadConstOp::create(
      b, type, FlatSymbolRefAttr::get(global.getSymNameAttr()));
}

Value LlamaBuilder::loadWeightAsF32(const io::WeightRef &weight) {
  Value stored = loadWeight(weight);
  if (weight.format == Format::F32)
    return stored;
  auto storedType = cast<RankedTensorType>(stored.getType());
  unsigned rank = storedType.getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  SmallVector<IteratorType> parallel(rank, IteratorType::parallel);
  return generic(tensorOf(storedType.getShape()), stored,
                 tensor::EmptyOp::create(b, storedType.getShape(), f32),
                 {identity, identity}, parallel,
                 [](OpBuilder &nb, Location loc, ValueRange args) {
                   Value wide = arith::ExtFOp::create(nb, loc, nb.getF32Type(),
                                                      args[0]);
                   linalg::YieldOp::create(nb, loc, wide);
                 });
}

/// [T, K] x [N, K]^T: a projection as checkpoints store it (out x in).
Value LlamaBuilder::matmulTransposedB(Value input, Value weight) {
  int64_t rows = cast<RankedTensorType>(weight.getType()).getDimSize(0);
  Value init = filled(empty({kDynamic, rows}, tokenCount), 0.0f);
  Attribute maps = b.getAffineMapArrayAttr(
      {map(3, {d(0), d(2)}), map(3, {d(1), d(2)}), map(3, {d(0), d(1)})});
  return linalg::MatmulOp::create(
             b, TypeRange{init.getType()}, ValueRange{input, weight},
             ValueRange{init},
             ArrayRef<NamedAttribute>{b.getNamedAttr("indexing_maps", maps)})
      .getResult(0);
}

Value LlamaBuilder::rmsNorm(Value input, const io::WeightRef &weightRef) {
  int64_t width = cast<RankedTensorType>(input.getType()).getDimSize(1);
  Value weight = loadWeightAsF32(weightRef);
  auto rowsType = tensorOf({kDynamic});
  Value sumSquares = generic(
      rowsType, input, filled(empty({kDynamic}, tokenCount), 0.0f),
      {map(2, {d(0), d(1)}), map(2, {d(0)})},
      {IteratorType::parallel, IteratorType::reduction},
      [](OpBuilder &nb, Location loc, ValueRange args) {
        Value square = arith::MulFOp::create(nb, loc, args[0], args[0]);
        linalg::YieldOp::create(
            nb, loc, ValueRange{arith::AddFOp::create(nb, loc, args[1], square)});
      });
  float widthValue = static_cast<float>(width);
  float eps = config.normEps;
  Value inverseRms = generic(
      rowsType, sumSquares, empty({kDynamic}, tokenCount),
      {map(1, {d(0)}), map(1, {d(0)})}, {IteratorType::parallel},
      [&](OpBuilder &nb, Location loc, ValueRange args) {
        auto constant = [&](float value) {
          return arith::ConstantOp::create(nb, loc, nb.getF32FloatAttr(value));
        };
        Value mean = arith::DivFOp::create(nb, loc, args[0], constant(widthValue));
        Value shifted = arith::AddFOp::create(nb, loc, mean, constant(eps));
        Value root = math::SqrtOp::create(nb, loc, shifted);
        linalg::YieldOp::create(
            nb, loc,
            ValueRange{arith::DivFOp::create(nb, loc, constant(1.0f), root)});
      });
  return generic(
      input.getType(), ValueRange{input, inverseRms, weight},
      empty({kDynamic, width}, tokenCount),
      {map(2, {d(0), d(1)}), map(2, {d(0)}), map(2, {d(1)}),
       map(2, {d(0), d(1)})},
      {IteratorType::parallel, IteratorType::parallel},
      [](OpBuilder &nb, Location loc, ValueRange args) {
        Value scaled = arith::MulFOp::create(nb, loc, args[1], args[0]);
        linalg::YieldOp::create(
            nb, loc, ValueRange{arith::MulFOp::create(nb, loc, args[2], scaled)});
      });
}

/// cos or sin of (pos + t) * freq[j], [T, headSize / 2]; freq[j] =
/// 1 / theta^(2j / headSize) in float32, as run.c computes it.
Value LlamaBuilder::ropeTables(bool cosine) {
  int64_t half = config.getHeadSize() / 2;
  SmallVector<float> frequencies;
  for (int64_t j = 0; j < half; ++j)
    frequencies.push_back(
        1.0f / std::pow(config.ropeTheta,
                        static_cast<float>(2 * j) /
                            static_cast<float>(config.getHeadSize())));
  auto frequencyType = tensorOf({half});
  Value frequencyTable = arith::ConstantOp::create(
      b, DenseElementsAttr::get(frequencyType, ArrayRef<float>(frequencies)));
  Value start = position;
  return generic(
      tensorOf({kDynamic, half}), frequencyTable,
      empty({kDynamic, half}, tokenCount),
      {map(2, {d(1)}), map(2, {d(0), d(1)})},
      {IteratorType::parallel, IteratorType::parallel},
      [&](OpBuilder &nb, Location loc, ValueRange args) {
        Value t = linalg::IndexOp::create(nb, loc, 0);
        Value p = arith::AddIOp::create(nb, loc, start, t);
        Value p64 = arith::IndexCastOp::create(nb, loc, nb.getI64Type(), p);
        Value pf = arith::SIToFPOp::create(nb, loc, nb.getF32Type(), p64);
        Value angle = arith::MulFOp::create(nb, loc, pf, args[0]);
        Value result = cosine ? Value(math::CosOp::create(nb, loc, angle))
                              : Value(math::SinOp::create(nb, loc, angle));
        linalg::YieldOp::create(nb, loc, result);
      });
}

/// Rotates each head's pairs: (x0, x1) -> (x0 c - x1 s, x0 s + x1 c). The
/// pair is (2j, 2j+1) or (j, j + hs/2) by the model's rope style; either is
/// a reshape to [T, heads, pairs, 2] or [T, heads, 2, pairs].
Value LlamaBuilder::applyRope(Value input, int64_t heads, Value cos,
                              Value sin) {
  int64_t headSize = config.getHeadSize();
  int64_t half = headSize / 2;
  bool adjacent = config.ropeStyle == io::RopeStyle::AdjacentPairs;
  SmallVector<int64_t> expanded =
      adjacent ? SmallVector<int64_t>{kDynamic, heads, half, 2}
               : SmallVector<int64_t>{kDynamic, heads, 2, half};
  SmallVector<ReassociationIndices> groups = {{0}, {1, 2, 3}};
  SmallVector<OpFoldResult> expandedSizes;
  expandedSizes.push_back(tokenCount);
  for (int64_t size : ArrayRef<int64_t>(expanded).drop_front())
    expandedSizes.push_back(b.getIndexAttr(size));
  Value pairs = tensor::ExpandShapeOp::create(b, tensorOf(expanded), input,
                                              groups, expandedSizes);
  // Dims (t, h, j, c) for adjacent pairs, (t, h, c, j) for split halves.
  unsigned pairDim = adjacent ? 2 : 3, partDim = adjacent ? 3 : 2;
  auto partAt = [&](int64_t part) {
    SmallVector<AffineExpr> results = {d(0), d(1), d(2), d(3)};
    results[partDim] = getAffineConstantExpr(part, b.getContext());
    return map(4, results);
  };
  AffineMap table = map(4, {d(0), d(pairDim)});
  Value rotated = generic(
      tensorOf(expanded), ValueRange{pairs, pairs, cos, sin},
      empty(expanded, tokenCount),
      {partAt(0), partAt(1), table, table, b.getMultiDimIdentityMap(4)},
      SmallVector<IteratorType>(4, IteratorType::parallel),
      [&](OpBuilder &nb, Location loc, ValueRange args) {
        Value x0 = args[0], x1 = args[1], c = args[2], s = args[3];
        Value part = linalg::IndexOp::create(nb, loc, partDim);
        Value zero = arith::ConstantIndexOp::create(nb, loc, 0);
        Value isFirst = arith::CmpIOp::create(nb, loc, arith::CmpIPredicate::eq,
                                              part, zero);
        Value first = arith::SubFOp::create(
            nb, loc, arith::MulFOp::create(nb, loc, x0, c),
            arith::MulFOp::create(nb, loc, x1, s));
        Value second = arith::AddFOp::create(
            nb, loc, arith::MulFOp::create(nb, loc, x0, s),
            arith::MulFOp::create(nb, loc, x1, c));
        linalg::YieldOp::create(
            nb, loc,
            ValueRange{arith::SelectOp::create(nb, loc, isFirst, first, second)});
      });
  return tensor::CollapseShapeOp::create(b, input.getType(), rotated, groups);
}

/// Grouped-query attention of q [T, dim] over keys/values [C, kvDim] (the
/// cache up to C = pos + T), causal: query t sees positions <= pos + t.
Value LlamaBuilder::attention(Value q, Value keys, Value values,
                              Value contextLength) {
  int64_t headSize = config.getHeadSize();
  int64_t kvHeads = config.kvHeads;
  int64_t group = config.heads / config.kvHeads;
  // Query head h = g * group + r reads kv head g.
  SmallVector<int64_t> queryShape = {kDynamic, kvHeads, group, headSize};
  Value queries = tensor::ExpandShapeOp::create(
      b, tensorOf(queryShape), q, SmallVector<ReassociationIndices>{{0}, {1, 2, 3}},
      SmallVector<OpFoldResult>{tokenCount, b.getIndexAttr(kvHeads),
                                b.getIndexAttr(group),
                                b.getIndexAttr(headSize)});
  SmallVector<int64_t> kvShape = {kDynamic, kvHeads, headSize};
  SmallVector<ReassociationIndices> kvGroups = {{0}, {1, 2}};
  SmallVector<OpFoldResult> kvSizes = {contextLength, b.getIndexAttr(kvHeads),
                                       b.getIndexAttr(headSize)};
  Value keyHeads = tensor::ExpandShapeOp::create(b, tensorOf(kvShape), keys,
                                                 kvGroups, kvSizes);
  Value valueHeads = tensor::ExpandShapeOp::create(b, tensorOf(kvShape), values,
                                                   kvGroups, kvSizes);

  // scores[g, r, t, s] = q[t, g, r, :] . k[s, g, :]; dims (g, r, t, s, e).
  SmallVector<int64_t> scoreShape = {kvHeads, group, kDynamic, kDynamic};
  auto scoreType = tensorOf(scoreShape);
  auto scoreInit = [&] {
    return empty(scoreShape, ValueRange{tokenCount, contextLength});
  };
  Value dots = generic(
      scoreType, ValueRange{queries, keyHeads}, filled(scoreInit(), 0.0f),
      {map(5, {d(2), d(0), d(1), d(4)}), map(5, {d(3), d(0), d(4)}),
       map(5, {d(0), d(1), d(2), d(3)})},
      {IteratorType::parallel, IteratorType::parallel, IteratorType::parallel,
       IteratorType::parallel, IteratorType::reduction},
      [](OpBuilder &nb, Location loc, ValueRange args) {
        Value product = arith::MulFOp::create(nb, loc, args[0], args[1]);
        linalg::YieldOp::create(
            nb, loc, ValueRange{arith::AddFOp::create(nb, loc, args[2], product)});
      });

  // Scale, and mask the future with -inf.
  AffineMap identity4 = b.getMultiDimIdentityMap(4);
  SmallVector<IteratorType> parallel4(4, IteratorType::parallel);
  float rootHeadSize = std::sqrt(static_cast<float>(headSize));
  Value start = position;
  Value scores = generic(
      scoreType, dots, scoreInit(), {identity4, identity4}, parallel4,
      [&](OpBuilder &nb, Location loc, ValueRange args) {
        Value t = linalg::IndexOp::create(nb, loc, 2);
        Value s = linalg::IndexOp::create(nb, loc, 3);
        Value last = arith::AddIOp::create(nb, loc, start, t);
        Value visible =
            arith::CmpIOp::create(nb, loc, arith::CmpIPredicate::ule, s, last);
        Value scaled = arith::DivFOp::create(
            nb, loc, args[0],
            arith::ConstantOp::create(nb, loc, nb.getF32FloatAttr(rootHeadSize)));
        Value minusInf = arith::ConstantOp::create(
            nb, loc,
            nb.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
        linalg::YieldOp::create(
            nb, loc,
            ValueRange{arith::SelectOp::create(nb, loc, visible, scaled, minusInf)});
      });

  // Softmax over s.
  SmallVector<int64_t> rowShape = {kvHeads, group, kDynamic};
  auto rowType = tensorOf(rowShape);
  AffineMap rowOf4 = map(4, {d(0), d(1), d(2)});
  SmallVector<IteratorType> reduceLast = {
      IteratorType::parallel, IteratorType::parallel, IteratorType::parallel,
      IteratorType::reduction};
  Value maxima = generic(
      rowType, scores,
      filled(empty(rowShape, tokenCount), -std::numeric_limits<float>::infinity()),
      {identity4, rowOf4}, reduceLast,
      [](OpBuilder &nb, Location loc, ValueRange args) {
        linalg::YieldOp::create(
            nb, loc, ValueRange{arith::MaximumFOp::create(nb, loc, args[1], args[0])});
      });
  Value exponentials = generic(
      scoreType, ValueRange{scores, maxima}, scoreInit(),
      {identity4, rowOf4, identity4}, parallel4,
      [](OpBuilder &nb, Location loc, ValueRange args) {
        Value shifted = arith::SubFOp::create(nb, loc, args[0], args[1]);
        linalg::YieldOp::create(nb, loc,
                                ValueRange{math::ExpOp::create(nb, loc, shifted)});
      });
  Value sums = generic(
      rowType, exponentials, filled(empty(rowShape, tokenCount), 0.0f),
      {identity4, rowOf4}, reduceLast,
      [](OpBuilder &nb, Location loc, ValueRange args) {
        linalg::YieldOp::create(
            nb, loc, ValueRange{arith::AddFOp::create(nb, loc, args[1], args[0])});
      });
  Value probabilities = generic(
      scoreType, ValueRange{exponentials, sums}, scoreInit(),
      {identity4, rowOf4, identity4}, parallel4,
      [](OpBuilder &nb, Location loc, ValueRange args) {
        linalg::YieldOp::create(
            nb, loc, ValueRange{arith::DivFOp::create(nb, loc, args[0], args[1])});
      });

  // out[t, g, r, e] = sum_s p[g, r, t, s] v[s, g, e]; dims (t, g, r, e, s).
  Value mixed = generic(
      tensorOf(queryShape), ValueRange{probabilities, valueHeads},
      filled(empty(queryShape, tokenCount), 0.0f),
      {map(5, {d(1), d(2), d(0), d(4)}), map(5, {d(4), d(1), d(3)}),
       map(5, {d(0), d(1), d(2), d(3)})},
      {IteratorType::parallel, IteratorType::parallel, IteratorType::parallel,
       IteratorType::parallel, IteratorType::reduction},
      [](OpBuilder &nb, Location loc, ValueRange args) {
        Value product = arith::MulFOp::create(nb, loc, args[0], args[1]);
        linalg::YieldOp::create(
            nb, loc, ValueRange{arith::AddFOp::create(nb, loc, args[2], product)});
      });
  return tensor::CollapseShapeOp::create(
      b, q.getType(), mixed, SmallVector<ReassociationIndices>{{0}, {1, 2, 3}});
}

Value LlamaBuilder::swiGLU(Value gate, Value up) {
  AffineMap identity = b.getMultiDimIdentityMap(2);
  int64_t width = cast<RankedTensorType>(gate.getType()).getDimSize(1);
  return generic(
      gate.getType(), ValueRange{gate, up}, empty({kDynamic, width}, tokenCount),
      {identity, identity, identity},
      {IteratorType::parallel, IteratorType::parallel},
      [](OpBuilder &nb, Location loc, ValueRange args) {
        auto constant = [&](float value) {
          return arith::ConstantOp::create(nb, loc, nb.getF32FloatAttr(value));
        };
        Value negated = arith::NegFOp::create(nb, loc, args[0]);
        Value denominator = arith::AddFOp::create(
            nb, loc, constant(1.0f), math::ExpOp::create(nb, loc, negated));
        Value sigmoid = arith::DivFOp::create(nb, loc, constant(1.0f), denominator);
        Value silu = arith::MulFOp::create(nb, loc, args[0], sigmoid);
        linalg::YieldOp::create(
            nb, loc, ValueRange{arith::MulFOp::create(nb, loc, silu, args[1])});
      });
}

Value LlamaBuilder::add(Value lhs, Value rhs) {
  AffineMap identity = b.getMultiDimIdentityMap(2);
  int64_t width = cast<RankedTensorType>(lhs.getType()).getDimSize(1);
  return generic(lhs.getType(), ValueRange{lhs, rhs},
                 empty({kDynamic, width}, tokenCount),
                 {identity, identity, identity},
                 {IteratorType::parallel, IteratorType::parallel},
                 [](OpBuilder &nb, Location loc, ValueRange args) {
                   linalg::YieldOp::create(
                       nb, loc,
                       ValueRange{arith::AddFOp::create(nb, loc, args[0], args[1])});
                 });
}

/// x[t, :] = embedding[tokens[t], :], widened to f32.
Value LlamaBuilder::embed(Value tokens) {
  Value table = loadWeight(spec.tokenEmbedding);
  int64_t width = config.dim;
  return generic(
      tensorOf({kDynamic, width}), tokens, empty({kDynamic, width}, tokenCount),
      {map(2, {d(0)}), map(2, {d(0), d(1)})},
      {IteratorType::parallel, IteratorType::parallel},
      [&](OpBuilder &nb, Location loc, ValueRange args) {
        Value row =
            arith::IndexCastOp::create(nb, loc, nb.getIndexType(), args[0]);
        Value column = linalg::IndexOp::create(nb, loc, 1);
        Value value = tensor::ExtractOp::create(nb, loc, table,
                                                ValueRange{row, column});
        if (value.getType() != nb.getF32Type())
          value = arith::ExtFOp::create(nb, loc, nb.getF32Type(), value);
        linalg::YieldOp::create(nb, loc, value);
      });
}

void LlamaBuilder::build() {
  MLIRContext *context = b.getContext();
  int64_t layers = config.layers, cacheLength = config.contextLength;
  int64_t kvDim = config.getKVDim(), vocab = config.vocabSize;
  auto tokensType = RankedTensorType::get({kDynamic}, b.getI32Type());
  auto cacheType = tensorOf({layers, cacheLength, kvDim});
  auto logitsType = tensorOf({kDynamic, vocab});
  auto functionType = FunctionType::get(
      context,
      {tokensType, b.getIndexType(), cacheType, cacheType, logitsType},
      {logitsType, cacheType, cacheType});

  b.setInsertionPointToEnd(module.getBody());
  function = func::FuncOp::create(b, "forward", functionType);
  static constexpr const char *kArgNames[] = {"tokens", "pos", "k_cache",
                                              "v_cache", "logits"};
  for (auto [index, name] : llvm::enumerate(kArgNames))
    function.setArgAttr(index, "qc.name", b.getStringAttr(name));
  Block *entry = function.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value tokens = entry->getArgument(0);
  position = entry->getArgument(1);
  Value keyCache = entry->getArgument(2), valueCache = entry->getArgument(3);
  Value logitsOut = entry->getArgument(4);
  tokenCount = tensor::DimOp::create(b, tokens, 0);
  Value contextLength = arith::AddIOp::create(b, position, tokenCount);

  Value cos = ropeTables(/*cosine=*/true);
  Value sin = ropeTables(/*cosine=*/false);
  Value x = embed(tokens);
  auto kvRowsType = tensorOf({kDynamic, kvDim});
  for (int64_t layer = 0; layer < layers; ++layer) {
    const io::LlamaLayerWeights &w = spec.layers[layer];
    Value normed = rmsNorm(x, w.attnNorm);
    Value q = matmulTransposedB(normed, loadWeightAsF32(w.wq));
    Value k = matmulTransposedB(normed, loadWeightAsF32(w.wk));
    Value v = matmulTransposedB(normed, loadWeightAsF32(w.wv));
    q = applyRope(q, config.heads, cos, sin);
    k = applyRope(k, config.kvHeads, cos, sin);

    // Append this call's keys and values at [layer, pos:pos+T), then attend
    // over [layer, 0:pos+T).
    SmallVector<OpFoldResult> unitStrides(3, b.getIndexAttr(1));
    SmallVector<OpFoldResult> writeOffsets = {b.getIndexAttr(layer), position,
                                              b.getIndexAttr(0)};
    SmallVector<OpFoldResult> writeSizes = {b.getIndexAttr(1), tokenCount,
                                            b.getIndexAttr(kvDim)};
    keyCache = tensor::InsertSliceOp::create(b, k, keyCache, writeOffsets,
                                             writeSizes, unitStrides);
    valueCache = tensor::InsertSliceOp::create(b, v, valueCache, writeOffsets,
                                               writeSizes, unitStrides);
    SmallVector<OpFoldResult> readOffsets = {b.getIndexAttr(layer),
                                             b.getIndexAttr(0), b.getIndexAttr(0)};
    SmallVector<OpFoldResult> readSizes = {b.getIndexAttr(1), contextLength,
                                           b.getIndexAttr(kvDim)};
    Value keys = tensor::ExtractSliceOp::create(b, kvRowsType, keyCache,
                                                readOffsets, readSizes,
                                                unitStrides);
    Value values = tensor::ExtractSliceOp::create(b, kvRowsType, valueCache,
                                                  readOffsets, readSizes,
                                                  unitStrides);
    Value mixed = attention(q, keys, values, contextLength);
    x = add(x, matmulTransposedB(mixed, loadWeightAsF32(w.wo)));

    normed = rmsNorm(x, w.ffnNorm);
    Value gate = matmulTransposedB(normed, loadWeightAsF32(w.wGate));
    Value up = matmulTransposedB(normed, loadWeightAsF32(w.wUp));
    x = add(x, matmulTransposedB(swiGLU(gate, up), loadWeightAsF32(w.wDown)));
  }
  Value normed = rmsNorm(x, spec.outputNorm);
  Value classifier = loadWeightAsF32(spec.output);
  Value zeroed = filled(logitsOut, 0.0f);
  Attribute maps = b.getAffineMapArrayAttr(
      {map(3, {d(0), d(2)}), map(3, {d(1), d(2)}), map(3, {d(0), d(1)})});
  Value logits =
      linalg::MatmulOp::create(
          b, TypeRange{logitsType}, ValueRange{normed, classifier},
          ValueRange{zeroed},
          ArrayRef<NamedAttribute>{b.getNamedAttr("indexing_maps", maps)})
          .getResult(0);
  func::ReturnOp::create(b, ValueRange{logits, keyCache, valueCache});
}

} // namespace

OwningOpRef<ModuleOp> importLlama(MLIRContext &context,
                                  const io::LlamaSpec &spec) {
  context.loadDialect<qc::QCDialect, func::FuncDialect, arith::ArithDialect,
                      math::MathDialect, tensor::TensorDialect,
                      linalg::LinalgDialect, ml_program::MLProgramDialect>();
  Location loc = FileLineColLoc::get(&context, spec.sourcePath, 0, 0);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  Builder attrs(&context);
  (*module)->setAttr("qc.source", attrs.getStringAttr(spec.sourcePath));
  (*module)->setAttr("qc.source_kind", attrs.getStringAttr(spec.sourceKind));
  if (!spec.tokenizerPath.empty())
    (*module)->setAttr("qc.tokenizer", attrs.getStringAttr(spec.tokenizerPath));
  LlamaBuilder(*module, spec).build();
  return module;
}

} // namespace quantc
