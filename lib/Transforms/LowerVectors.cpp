//===- LowerVectors.cpp - qc-lower-vectors --------------------------------===//
//
// Lowers the vector ops qc-tile-and-vectorize produces to the 1-D vector
// ops, loads and stores that convert-vector-to-llvm translates one to one,
// after bufferization.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qc {
QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DEF_QCLOWERVECTORS
#include "quantc/Transforms/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

using namespace mlir;

namespace {

/// Whether `contract` is best lowered as dot products: every operand reads
/// the reduction along its innermost dimension, over at least `width`
/// elements, so that a horizontal reduction per result element is cheap
/// next to the products. Otherwise outer products (FMAs along a parallel
/// dimension) avoid the horizontal reductions altogether.
bool prefersDotProducts(vector::ContractionOp contract, int64_t width) {
  SmallVector<AffineMap> maps = contract.getIndexingMapsArray();
  SmallVector<vector::IteratorType> iterators =
      contract.getIteratorTypesArray();
  auto innermostIsReduction = [&](AffineMap map) {
    if (map.getNumResults() == 0)
      return false;
    auto dim = dyn_cast<AffineDimExpr>(map.getResults().back());
    return dim &&
           iterators[dim.getPosition()] == vector::IteratorType::reduction;
  };
  if (!innermostIsReduction(maps[0]) || !innermostIsReduction(maps[1]))
    return false;
  auto lhsType = cast<VectorType>(contract.getLhsType());
  return lhsType.getShape().back() >= width;
}

/// Outer products accumulate in one chain of FMAs per result vector, as
/// long as the reduction: 16 of them (an attention tile weighting 16
/// values) take 16 FMA latencies, and a loop carrying the accumulator cannot
/// overlap its iterations. This splits the reduction into chunks of
/// `chunk`, contracted into zeros independently and summed pairwise, and
/// only then added to the accumulator: chains of `chunk` FMAs, and one add
/// carried from iteration to iteration.
struct SplitReductionChains : OpRewritePattern<vector::ContractionOp> {
  SplitReductionChains(MLIRContext *context, int64_t chunk)
      : OpRewritePattern(context, /*benefit=*/2), chunk(chunk) {}

  LogicalResult matchAndRewrite(vector::ContractionOp contract,
                                PatternRewriter &rewriter) const override {
    if (contract.getKind() != vector::CombiningKind::ADD ||
        contract->getParentOfType<vector::MaskOp>())
      return failure();
    auto resultType = dyn_cast<VectorType>(contract.getResultType());
    if (!resultType || !isa<FloatType>(resultType.getElementType()))
      return failure();
    SmallVector<vector::IteratorType> iterators =
        contract.getIteratorTypesArray();
    SmallVector<unsigned> reductions;
    for (auto [index, iterator] : llvm::enumerate(iterators))
      if (iterator == vector::IteratorType::reduction)
        reductions.push_back(index);
    if (reductions.size() != 1)
      return failure();
    unsigned reduction = reductions.front();
    SmallVector<AffineMap> maps = contract.getIndexingMapsArray();
    auto positionIn = [&](AffineMap map) -> std::optional<unsigned> {
      for (auto [position, expr] : llvm::enumerate(map.getResults()))
        if (auto dim = dyn_cast<AffineDimExpr>(expr);
            dim && dim.getPosition() == reduction)
          return position;
      return std::nullopt;
    };
    std::optional<unsigned> lhsPosition = positionIn(maps[0]);
    std::optional<unsigned> rhsPosition = positionIn(maps[1]);
    if (!lhsPosition || !rhsPosition)
      return failure();
    auto lhsType = cast<VectorType>(contract.getLhsType());
    auto rhsType = cast<VectorType>(contract.getRhsType());
    int64_t size = lhsType.getDimSize(*lhsPosition);
    if (lhsType.isScalable() || rhsType.isScalable() || size < 2 * chunk ||
        size % chunk != 0)
      return failure();
    // When the larger input reads the reduction along its innermost
    // dimension, the lowering transposes it once; split, it would transpose
    // every chunk. (Attention scores, reducing over the head size, keep
    // their chains; the weighted sum of values, reducing over keys, splits.)
    bool lhsLarger = lhsType.getNumElements() >= rhsType.getNumElements();
    VectorType larger = lhsLarger ? lhsType : rhsType;
    unsigned largerPosition = lhsLarger ? *lhsPosition : *rhsPosition;
    if (largerPosition == larger.getRank() - 1)
      return failure();

    Location loc = contract.getLoc();
    auto slice = [&](Value value, VectorType type, unsigned position,
                     int64_t offset) {
      SmallVector<int64_t> offsets(type.getRank(), 0),
          strides(type.getRank(), 1);
      SmallVector<int64_t> sizes(type.getShape());
      offsets[position] = offset;
      sizes[position] = chunk;
      return vector::ExtractStridedSliceOp::create(rewriter, loc, value,
                                                   offsets, sizes, strides)
          .getResult();
    };
    Value zero = arith::ConstantOp::create(rewriter, loc,
                                           rewriter.getZeroAttr(resultType));
    SmallVector<Value> partials;
    for (int64_t offset = 0; offset < size; offset += chunk) {
      // One statement per op: argument evaluation order is unspecified.
      Value lhs = slice(contract.getLhs(), lhsType, *lhsPosition, offset);
      Value rhs = slice(contract.getRhs(), rhsType, *rhsPosition, offset);
      partials.push_back(vector::ContractionOp::create(
          rewriter, loc, lhs, rhs, zero, contract.getIndexingMaps(),
          contract.getIteratorTypes(), contract.getKind()));
    }
    while (partials.size() > 1) {
      SmallVector<Value> sums;
      for (size_t i = 0; i + 1 < partials.size(); i += 2)
        sums.push_back(
            arith::AddFOp::create(rewriter, loc, partials[i], partials[i + 1]));
      if (partials.size() % 2)
        sums.push_back(partials.back());
      partials = std::move(sums);
    }
    rewriter.replaceOpWithNewOp<arith::AddFOp>(contract, contract.getAcc(),
                                               partials.front());
    return success();
  }

  int64_t chunk;
};

/// Dot products of the rows of `a[M, K]` with the rows of `b[N, K]` (a tile
/// of a projection: tokens times weight rows; M or N may be absent, a
/// vector), without a full horizontal reduction per result: each pair of
/// rows accumulates `width`-lane partial sums (FMAs over the K / width
/// chunks), then the M x N partial vectors are reduced together by a
/// butterfly of shuffles and adds, halving the lanes per result at each
/// level, so that all results come out in one vector. For 8 results and 16
/// lanes: 24 shuffles and adds instead of 8 reduction trees (~10
/// instructions each) and 8 inserts. Each result sums its lanes in the same
/// order whatever M and N, so a tile's shape does not change its bits.
struct ButterflyDotProducts : OpRewritePattern<vector::ContractionOp> {
  ButterflyDotProducts(MLIRContext *context, int64_t width)
      : OpRewritePattern(context, /*benefit=*/2), width(width) {}

  /// An input read as [rows, K] or [K]: its row loop, if any.
  struct Input {
    Value value;
    std::optional<unsigned> rowLoop;
    int64_t rows = 1;
  };

  LogicalResult matchAndRewrite(vector::ContractionOp contract,
                                PatternRewriter &rewriter) const override {
    if (contract.getKind() != vector::CombiningKind::ADD ||
        contract->getParentOfType<vector::MaskOp>() ||
        !llvm::isPowerOf2_64(width))
      return failure();
    // A vector of results, or one (a lone dot product).
    Type resultType = contract.getResultType();
    auto resultVectorType = dyn_cast<VectorType>(resultType);
    if ((resultVectorType &&
         (resultVectorType.getRank() > 2 || resultVectorType.isScalable())) ||
        !isa<FloatType>(getElementTypeOrSelf(resultType)))
      return failure();
    SmallVector<vector::IteratorType> iterators =
        contract.getIteratorTypesArray();
    SmallVector<unsigned> reductions;
    for (auto [index, iterator] : llvm::enumerate(iterators))
      if (iterator == vector::IteratorType::reduction)
        reductions.push_back(index);
    if (reductions.size() != 1)
      return failure();
    unsigned reduction = reductions.front();
    SmallVector<AffineMap> maps = contract.getIndexingMapsArray();

    // Each input: [row, k] or [k], the reduction innermost.
    auto input = [&](Value value, AffineMap map) -> std::optional<Input> {
      auto type = cast<VectorType>(value.getType());
      if (type.isScalable() || map.getNumResults() < 1 ||
          map.getNumResults() > 2 || !map.isProjectedPermutation() ||
          map.getDimPosition(map.getNumResults() - 1) != reduction)
        return std::nullopt;
      Input in{value, std::nullopt, 1};
      if (map.getNumResults() == 2) {
        in.rowLoop = map.getDimPosition(0);
        in.rows = type.getDimSize(0);
      }
      return in;
    };
    std::optional<Input> lhs = input(contract.getLhs(), maps[0]);
    std::optional<Input> rhs = input(contract.getRhs(), maps[1]);
    if (!lhs || !rhs)
      return failure();
    // The result's dimensions: the inputs' row loops, outer first.
    AffineMap resultMap = maps[2];
    if (!resultMap.isProjectedPermutation() ||
        resultMap.getNumResults() !=
            (lhs->rowLoop ? 1u : 0u) + (rhs->rowLoop ? 1u : 0u))
      return failure();
    Input outer = *lhs, inner = *rhs;
    if (resultMap.getNumResults() > 0) {
      if (resultMap.getDimPosition(0) != (outer.rowLoop ? *outer.rowLoop : ~0u))
        std::swap(outer, inner);
      if (!outer.rowLoop || resultMap.getDimPosition(0) != *outer.rowLoop ||
          (inner.rowLoop && (resultMap.getNumResults() != 2 ||
                             resultMap.getDimPosition(1) != *inner.rowLoop)))
        return failure();
    }
    int64_t depth = cast<VectorType>(lhs->value.getType()).getShape().back();
    int64_t results = outer.rows * inner.rows;
    if (results > width || depth < width)
      return failure();

    Location loc = contract.getLoc();
    Type element = getElementTypeOrSelf(resultType);
    auto chunkType = VectorType::get({width}, element);
    Value zeros = arith::ConstantOp::create(rewriter, loc,
                                            rewriter.getZeroAttr(chunkType));
    // The K / width chunks of each row, the last one padded with zeros.
    auto chunks = [&](const Input &in) {
      SmallVector<SmallVector<Value>> rowChunks;
      for (int64_t row = 0; row < in.rows; ++row) {
        Value vector =
            in.rowLoop ? vector::ExtractOp::create(rewriter, loc, in.value, row)
                             .getResult()
                       : in.value;
        SmallVector<Value> parts;
        for (int64_t offset = 0; offset < depth; offset += width) {
          int64_t size = std::min(width, depth - offset);
          Value part = vector::ExtractStridedSliceOp::create(
              rewriter, loc, vector, ArrayRef<int64_t>{offset},
              ArrayRef<int64_t>{size}, ArrayRef<int64_t>{1});
          if (size < width)
            part = vector::InsertStridedSliceOp::create(
                rewriter, loc, part, zeros, ArrayRef<int64_t>{0},
                ArrayRef<int64_t>{1});
          parts.push_back(part);
        }
        rowChunks.push_back(std::move(parts));
      }
      return rowChunks;
    };
    SmallVector<SmallVector<Value>> outerChunks = chunks(outer);
    SmallVector<SmallVector<Value>> innerChunks = chunks(inner);
    SmallVector<Value> partials;
    for (const SmallVector<Value> &a : outerChunks) {
      for (const SmallVector<Value> &b : innerChunks) {
        Value sum;
        for (auto [x, y] : llvm::zip(a, b))
          sum =
              sum ? vector::FMAOp::create(rewriter, loc, x, y, sum).getResult()
                  : arith::MulFOp::create(rewriter, loc, x, y).getResult();
        partials.push_back(sum);
      }
    }

    // Butterfly: vectors hold `groups` results of `lanes` partial sums each.
    int64_t lanes = width;
    while (lanes > 1) {
      int64_t half = lanes / 2;
      int64_t groups = width / lanes;
      // Halves of each group of `a` then of `b`.
      auto halves = [&](Value a, Value b, int64_t which) {
        SmallVector<int64_t> mask;
        for (int64_t source = 0; source < 2; ++source)
          for (int64_t group = 0; group < groups; ++group)
            for (int64_t lane = 0; lane < half; ++lane)
              mask.push_back(source * width + group * lanes + which * half +
                             lane);
        return vector::ShuffleOp::create(rewriter, loc, a, b, mask).getResult();
      };
      SmallVector<Value> next;
      for (size_t i = 0; i < partials.size(); i += 2) {
        Value a = partials[i];
        Value b = i + 1 < partials.size() ? partials[i + 1] : a;
        // One statement per shuffle: argument evaluation order is
        // unspecified.
        Value low = halves(a, b, 0);
        Value high = halves(a, b, 1);
        next.push_back(arith::AddFOp::create(rewriter, loc, low, high));
      }
      partials = std::move(next);
      lanes = half;
    }
    // Lane i holds result i, row-major.
    Value sums;
    if (!resultVectorType) {
      sums = vector::ExtractOp::create(rewriter, loc, partials.front(), 0);
    } else {
      sums = vector::ExtractStridedSliceOp::create(
          rewriter, loc, partials.front(), ArrayRef<int64_t>{0},
          ArrayRef<int64_t>{results}, ArrayRef<int64_t>{1});
      if (resultVectorType.getRank() == 2)
        sums =
            vector::ShapeCastOp::create(rewriter, loc, resultVectorType, sums);
    }
    rewriter.replaceOpWithNewOp<arith::AddFOp>(contract, contract.getAcc(),
                                               sums);
    return success();
  }

  int64_t width;
};

/// `vector.contract` of integers narrower than its accumulator (i8 x i8 ->
/// i32, as vectorization folds linalg's sign extensions into it) with the
/// extensions spelled out: the contraction lowerings multiply in the
/// accumulator's type and do not extend by themselves.
struct ExtendIntegerContractOperands : OpRewritePattern<vector::ContractionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(vector::ContractionOp contract,
                                PatternRewriter &rewriter) const override {
    auto accumulator =
        dyn_cast<IntegerType>(getElementTypeOrSelf(contract.getAccType()));
    if (!accumulator)
      return failure();
    auto extend = [&](Value operand) -> Value {
      auto type = cast<VectorType>(operand.getType());
      auto element = dyn_cast<IntegerType>(type.getElementType());
      if (!element || element.getWidth() >= accumulator.getWidth())
        return operand;
      // vector.contract's implicit promotion of integers is signed.
      return arith::ExtSIOp::create(rewriter, contract.getLoc(),
                                    type.clone(accumulator), operand);
    };
    Value lhs = extend(contract.getLhs());
    Value rhs = extend(contract.getRhs());
    if (lhs == contract.getLhs() && rhs == contract.getRhs())
      return failure();
    rewriter.modifyOpInPlace(contract, [&] {
      contract.getLhsMutable().assign(lhs);
      contract.getRhsMutable().assign(rhs);
    });
    return success();
  }
};

struct LowerVectorsPass
    : public qc::impl::QCLowerVectorsBase<LowerVectorsPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp function = getOperation();
    MLIRContext *context = &getContext();
    if (vectorWidth < 1) {
      function.emitError("qc-lower-vectors: vector-width must be positive");
      return signalPassFailure();
    }

    // Masked transfers (remainder tiles) take their mask as an operand, so
    // that the rewrites below see plain transfers.
    {
      RewritePatternSet patterns(context);
      vector::populateVectorMaskLoweringPatternsForSideEffectingOps(patterns);
      (void)applyPatternsGreedily(function, std::move(patterns));
    }

    // Canonical forms: permutations and broadcasts out of transfers and
    // into contractions, unit dimensions dropped.
    {
      RewritePatternSet patterns(context);
      vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
      vector::populateCastAwayVectorLeadingOneDimPatterns(patterns);
      vector::populateVectorReductionToContractPatterns(patterns);
      vector::populateSinkVectorOpsPatterns(patterns);
      vector::populateVectorToVectorCanonicalizationPatterns(patterns);
      addCanonicalizations(patterns);
      (void)applyPatternsGreedily(function, std::move(patterns));
    }

    // Mixed-width integer contractions, extended (alone: canonicalization
    // would fold the extensions straight back in).
    {
      RewritePatternSet patterns(context);
      patterns.add<ExtendIntegerContractOperands>(context);
      (void)applyPatternsGreedily(function, std::move(patterns));
    }

    // Contractions: dot products or outer products, per contraction.
    SmallVector<Operation *> dots, outers;
    function.walk([&](vector::ContractionOp contract) {
      (prefersDotProducts(contract, vectorWidth) ? dots : outers)
          .push_back(contract);
    });
    for (auto [ops, lowering] :
         {std::make_pair(&dots, vector::VectorContractLowering::Dot),
          std::make_pair(&outers,
                         vector::VectorContractLowering::OuterProduct)}) {
      if (ops->empty())
        continue;
      RewritePatternSet patterns(context);
      if (lowering == vector::VectorContractLowering::OuterProduct)
        patterns.add<SplitReductionChains>(context, /*chunk=*/4);
      else
        patterns.add<ButterflyDotProducts>(context, vectorWidth);
      vector::populateVectorContractLoweringPatterns(patterns, lowering);
      vector::populateVectorOuterProductLoweringPatterns(patterns);
      vector::populateVectorTransposeLoweringPatterns(
          patterns, vector::VectorTransposeLowering::Shuffle1D);
      GreedyRewriteConfig config;
      config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
      (void)applyOpPatternsGreedily(*ops, std::move(patterns), config);
    }

    // Reductions, alone: their 1-D forms go through shape casts that
    // canonicalization would fold straight back.
    {
      RewritePatternSet patterns(context);
      vector::populateVectorMultiReductionLoweringPatterns(
          patterns, vector::VectorMultiReductionLowering::InnerReduction);
      (void)applyPatternsGreedily(function, std::move(patterns));
    }

    // n-D transfers and elementwise ops, one row (the innermost dimension)
    // at a time: the rows then flow from loads to stores without being
    // reassembled into n-D values element by element.
    {
      RewritePatternSet patterns(context);
      vector::UnrollVectorOptions options;
      options.setFilterConstraint([](Operation *op) {
        auto readsOrWritesRows = [](Type type) {
          auto vector = dyn_cast<VectorType>(type);
          return vector && vector.getRank() > 1;
        };
        if (auto read = dyn_cast<vector::TransferReadOp>(op))
          return success(!read.getMask() && readsOrWritesRows(read.getType()));
        if (auto write = dyn_cast<vector::TransferWriteOp>(op))
          return success(!write.getMask() &&
                         readsOrWritesRows(write.getVectorType()));
        return success(OpTrait::hasElementwiseMappableTraits(op) &&
                       op->getNumResults() == 1 &&
                       readsOrWritesRows(op->getResult(0).getType()));
      });
      options.setNativeShapeFn(
          [](Operation *op) -> std::optional<SmallVector<int64_t>> {
            Type type = op->getNumResults() == 1 ? op->getResult(0).getType()
                                                 : op->getOperand(0).getType();
            auto vector = dyn_cast<VectorType>(type);
            if (!vector || vector.getRank() < 2)
              return std::nullopt;
            SmallVector<int64_t> row(vector.getRank(), 1);
            row.back() = vector.getShape().back();
            return row;
          });
      vector::populateVectorUnrollPatterns(patterns, options);
      vector::populateCastAwayVectorLeadingOneDimPatterns(patterns);
      vector::populateVectorToVectorCanonicalizationPatterns(patterns);
      (void)applyPatternsGreedily(function, std::move(patterns));
    }

    // Everything else, down to 1-D vectors, loads and stores. Broadcasts and
    // shape casts are left to convert-vector-to-llvm: their lowered forms
    // (inserts into poison) canonicalize straight back.
    {
      RewritePatternSet patterns(context);
      vector::populateVectorTransposeLoweringPatterns(
          patterns, vector::VectorTransposeLowering::Shuffle1D);
      vector::populateVectorOuterProductLoweringPatterns(patterns);
      vector::populateVectorMaskOpLoweringPatterns(patterns);
      vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
      populateVectorToSCFConversionPatterns(
          patterns, VectorTransferToSCFOptions().enableFullUnroll());
      vector::populateVectorTransferLoweringPatterns(patterns,
                                                     /*maxTransferRank=*/1);
      vector::populateVectorInsertExtractStridedSliceTransforms(patterns);
      vector::populateVectorStepLoweringPatterns(patterns);
      vector::populateVectorRankReducingFMAPattern(patterns);
      populateMathPolynomialApproximationPatterns(
          patterns, [](StringRef name) { return name == "math.exp"; });
      addCanonicalizations(patterns);
      (void)applyPatternsGreedily(function, std::move(patterns));
    }
  }

  /// Canonicalization patterns of the dialects the lowering produces.
  void addCanonicalizations(RewritePatternSet &patterns) {
    MLIRContext *context = &getContext();
    for (StringRef name :
         {"affine", "arith", "math", "memref", "scf", "vector"}) {
      Dialect *dialect = context->getLoadedDialect(name);
      if (!dialect)
        continue;
      dialect->getCanonicalizationPatterns(patterns);
      for (RegisteredOperationName op : context->getRegisteredOperations())
        if (op.getDialectNamespace() == name)
          op.getCanonicalizationPatterns(patterns, context);
    }
  }
};

} // namespace
