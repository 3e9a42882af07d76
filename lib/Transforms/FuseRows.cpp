//===- FuseRows.cpp - qc-fuse-rows ----------------------------------------===//
//
// Keeps tensors with two or more dynamic dimensions (attention scores,
// tokens x context) from being materialized whole: the op that reduces such
// a tensor away is tiled by 1 along its dynamic parallel loops, and the chain
// of producers is fused into that loop, one row at a time.
//
// A row of causal softmax attention then only computes its visible prefix:
// when the chain is exactly mask (select(column <= bound, x, -inf)), row
// max, exp(x - max), row sum, divide, and a contraction over the columns,
// the masked columns are -inf, then exactly 0, then contribute nothing, so
// every op of the chain can stop at column bound + 1.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/TilingInterfaceImpl.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

namespace mlir::qc {
QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DEF_QCFUSEROWS
#include "quantc/Transforms/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

using namespace mlir;

namespace {

/// A tensor that grows with the product of two dynamic sizes.
bool isQuadratic(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && tensor.getNumDynamicDims() >= 2;
}

bool producesOrReadsQuadratic(Operation *op) {
  return llvm::any_of(op->getOperandTypes(), isQuadratic) ||
         llvm::any_of(op->getResultTypes(), isQuadratic);
}

/// A root reduces a quadratic input to results that are not.
bool isRoot(linalg::LinalgOp op) {
  return op.hasPureTensorSemantics() &&
         llvm::none_of(op->getResultTypes(), isQuadratic) &&
         llvm::any_of(op.getDpsInputs(),
                      [](Value input) { return isQuadratic(input.getType()); });
}

/// Merges identical `tensor.dim`s and `tensor.extract_slice`s of a block
/// (what tiling creates for each fused op). A full CSE would also merge the
/// block's identical `tensor.empty` + `linalg.fill` destinations, and
/// bufferization would then copy.
void dedupeSlices(RewriterBase &rewriter, Block &block) {
  DenseMap<llvm::hash_code, SmallVector<Operation *, 1>> seen;
  for (Operation &op : llvm::make_early_inc_range(block)) {
    if (!isa<tensor::DimOp, tensor::ExtractSliceOp, arith::ConstantOp>(op))
      continue;
    llvm::hash_code hash = OperationEquivalence::computeHash(
        &op, OperationEquivalence::directHashValue,
        OperationEquivalence::ignoreHashValue,
        OperationEquivalence::IgnoreLocations);
    SmallVector<Operation *, 1> &candidates = seen[hash];
    Operation *match = nullptr;
    for (Operation *candidate : candidates) {
      if (OperationEquivalence::isEquivalentTo(
              &op, candidate, OperationEquivalence::IgnoreLocations)) {
        match = candidate;
        break;
      }
    }
    if (match)
      rewriter.replaceOp(&op, match->getResults());
    else
      candidates.push_back(&op);
  }
}

//===----------------------------------------------------------------------===//
// Causal prefix
//===----------------------------------------------------------------------===//

/// Marks the loops the pass created, for the causal-prefix step.
constexpr llvm::StringLiteral kRowLoopMarker = "__qc_row_loop__";

/// The loop of `op` that indexes `operand` at tensor position `position`.
std::optional<unsigned> loopAt(linalg::LinalgOp op, OpOperand *operand,
                               unsigned position) {
  AffineMap map = op.getMatchingIndexingMap(operand);
  if (position >= map.getNumResults())
    return std::nullopt;
  if (auto dim = dyn_cast<AffineDimExpr>(map.getResult(position)))
    return dim.getPosition();
  return std::nullopt;
}

/// The tensor position at which `op` indexes `operand` with `loop`.
std::optional<unsigned> positionOf(linalg::LinalgOp op, OpOperand *operand,
                                   unsigned loop) {
  AffineMap map = op.getMatchingIndexingMap(operand);
  for (auto [position, expr] : llvm::enumerate(map.getResults()))
    if (auto dim = dyn_cast<AffineDimExpr>(expr);
        dim && dim.getPosition() == loop)
      return position;
  return std::nullopt;
}

/// The value `op`'s body yields, when it has one result.
Value yielded(linalg::GenericOp op) {
  auto yield = cast<linalg::YieldOp>(op.getBody()->getTerminator());
  return yield.getNumOperands() == 1 ? yield.getOperand(0) : Value();
}

/// The body argument of `op` that carries `value` (an operand of `op`).
Value argumentFor(linalg::GenericOp op, Value value) {
  for (OpOperand &operand : op->getOpOperands())
    if (operand.get() == value)
      return op.getMatchingBlockArgument(&operand);
  return Value();
}

/// Whether `value` is `Op(a, b)` on `a` and `b`, in either order.
template <typename Op> bool isBinary(Value value, Value a, Value b) {
  auto op = value.getDefiningOp<Op>();
  return op && ((op.getLhs() == a && op.getRhs() == b) ||
                (op.getLhs() == b && op.getRhs() == a));
}

/// A single-input, single-init reduction of `input`'s `position` dimension
/// whose body combines with `Combine`; the reduced loop, or none.
template <typename... Combine>
std::optional<unsigned> matchRowReduction(Operation *user, Value input,
                                          unsigned position) {
  auto op = dyn_cast<linalg::GenericOp>(user);
  if (!op || op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1 ||
      op.getDpsInputs()[0] != input)
    return std::nullopt;
  std::optional<unsigned> loop = loopAt(op, op.getDpsInputOperand(0), position);
  if (!loop ||
      op.getIteratorTypesArray()[*loop] != utils::IteratorType::reduction)
    return std::nullopt;
  Value in = op.getMatchingBlockArgument(op.getDpsInputOperand(0));
  Value acc = op.getMatchingBlockArgument(op.getDpsInitOperand(0));
  Value combined = yielded(op);
  if (!combined || !(isBinary<Combine>(combined, in, acc) || ...))
    return std::nullopt;
  return loop;
}

/// An elementwise op of `lhs` and `rhs` (both operands) computing
/// `match(lhsArg, rhsArg, result)`; the loop reading `lhs`'s `position`.
std::optional<unsigned>
matchElementwise(Operation *user, Value lhs, Value rhs, unsigned position,
                 function_ref<bool(Value, Value, Value)> match) {
  auto op = dyn_cast<linalg::GenericOp>(user);
  if (!op || op.getNumReductionLoops() != 0 || op.getNumDpsInits() != 1 ||
      op.getNumDpsInputs() != 2)
    return std::nullopt;
  Value lhsArg = argumentFor(op, lhs), rhsArg = argumentFor(op, rhs);
  if (!lhsArg || !rhsArg || lhs == rhs || !match(lhsArg, rhsArg, yielded(op)))
    return std::nullopt;
  for (OpOperand *operand : op.getDpsInputOperands())
    if (operand->get() == lhs)
      return loopAt(op, operand, position);
  return std::nullopt;
}

/// The ops of a causal softmax-attention row and the loop of each that runs
/// over its columns.
struct CausalRow {
  SmallVector<std::pair<linalg::LinalgOp, unsigned>> ops;
  linalg::GenericOp mask;
  unsigned maskColumn;
  /// Columns up to `bound` (included) are visible.
  Value bound;
};

/// Matches `mask` = select(column <= bound, x, -inf) (or bound >= column),
/// then the softmax and contraction that consume it.
std::optional<CausalRow> matchCausalRow(linalg::GenericOp mask) {
  if (mask.getNumDpsInits() != 1 || mask.getNumReductionLoops() != 0 ||
      mask->getParentOfType<scf::ForOp>() == nullptr ||
      !mask->getParentOfType<scf::ForOp>()->hasAttr(kRowLoopMarker))
    return std::nullopt;
  Value result = yielded(mask);
  auto select = result ? result.getDefiningOp<arith::SelectOp>() : nullptr;
  FloatAttr masked;
  if (!select || !matchPattern(select.getFalseValue(), m_Constant(&masked)) ||
      !masked.getValue().isInfinity() || !masked.getValue().isNegative())
    return std::nullopt;
  auto compare = select.getCondition().getDefiningOp<arith::CmpIOp>();
  if (!compare)
    return std::nullopt;
  auto columnOf = [&](Value value) -> std::optional<unsigned> {
    if (auto index = value.getDefiningOp<linalg::IndexOp>())
      return index.getDim();
    return std::nullopt;
  };
  // Inclusive unsigned bounds only: at least one column stays visible, so
  // the row maximum is finite and the masked columns' exp exactly 0.
  CausalRow row;
  row.mask = mask;
  std::optional<unsigned> column;
  if (compare.getPredicate() == arith::CmpIPredicate::ule) {
    column = columnOf(compare.getLhs());
    row.bound = compare.getRhs();
  } else if (compare.getPredicate() == arith::CmpIPredicate::uge) {
    column = columnOf(compare.getRhs());
    row.bound = compare.getLhs();
  }
  if (!column)
    return std::nullopt;
  row.maskColumn = *column;

  // scores -> max, exp(scores - max) -> sum, exp / sum -> contraction.
  Value scores = mask->getResult(0);
  std::optional<unsigned> position =
      positionOf(mask, mask.getDpsInitOperand(0), *column);
  if (!position || llvm::range_size(scores.getUses()) != 2)
    return std::nullopt;
  Operation *maxOp = nullptr, *expOp = nullptr;
  std::optional<unsigned> maxLoop, expLoop;
  for (Operation *user : scores.getUsers()) {
    if (auto loop = matchRowReduction<arith::MaximumFOp, arith::MaxNumFOp>(
            user, scores, *position)) {
      maxOp = user;
      maxLoop = loop;
    }
  }
  if (!maxOp || !maxOp->getResult(0).hasOneUse())
    return std::nullopt;
  Value maxima = maxOp->getResult(0);
  for (Operation *user : scores.getUsers()) {
    if (user == maxOp)
      continue;
    expLoop = matchElementwise(
        user, scores, maxima, *position, [](Value x, Value m, Value out) {
          auto exp = out ? out.getDefiningOp<math::ExpOp>() : nullptr;
          auto sub =
              exp ? exp.getOperand().getDefiningOp<arith::SubFOp>() : nullptr;
          return sub && sub.getLhs() == x && sub.getRhs() == m;
        });
    expOp = user;
  }
  if (!expLoop || *maxOp->getUsers().begin() != expOp)
    return std::nullopt;
  Value exps = expOp->getResult(0);
  if (llvm::range_size(exps.getUses()) != 2)
    return std::nullopt;
  Operation *sumOp = nullptr, *divOp = nullptr;
  std::optional<unsigned> sumLoop, divLoop;
  for (Operation *user : exps.getUsers()) {
    if (auto loop = matchRowReduction<arith::AddFOp>(user, exps, *position)) {
      sumOp = user;
      sumLoop = loop;
    }
  }
  if (!sumOp || !sumOp->getResult(0).hasOneUse())
    return std::nullopt;
  Value sums = sumOp->getResult(0);
  for (Operation *user : exps.getUsers()) {
    if (user == sumOp)
      continue;
    divLoop = matchElementwise(
        user, exps, sums, *position, [](Value e, Value s, Value out) {
          auto div = out ? out.getDefiningOp<arith::DivFOp>() : nullptr;
          return div && div.getLhs() == e && div.getRhs() == s;
        });
    divOp = user;
  }
  if (!divLoop || *sumOp->getUsers().begin() != divOp)
    return std::nullopt;
  Value probabilities = divOp->getResult(0);
  if (!probabilities.hasOneUse())
    return std::nullopt;
  auto mix = dyn_cast<linalg::LinalgOp>(*probabilities.getUsers().begin());
  if (!mix || !linalg::isaContractionOpInterface(mix))
    return std::nullopt;
  std::optional<unsigned> mixLoop;
  for (OpOperand *operand : mix.getDpsInputOperands())
    if (operand->get() == probabilities)
      mixLoop = loopAt(mix, operand, *position);
  if (!mixLoop ||
      mix.getIteratorTypesArray()[*mixLoop] != utils::IteratorType::reduction)
    return std::nullopt;

  // The producer of the scores, when it runs over the same columns.
  if (auto producer =
          mask.getDpsInputs().size() == 1
              ? mask.getDpsInputs()[0].getDefiningOp<linalg::LinalgOp>()
              : linalg::LinalgOp()) {
    std::optional<unsigned> inputPosition =
        positionOf(mask, mask.getDpsInputOperand(0), *column);
    if (producer->getBlock() == mask->getBlock() && inputPosition &&
        producer->getResult(0).hasOneUse() && producer.getNumDpsInits() == 1)
      if (std::optional<unsigned> loop =
              loopAt(producer, producer.getDpsInitOperand(0), *inputPosition))
        row.ops.push_back({producer, *loop});
  }
  row.ops.push_back({mask, *column});
  row.ops.push_back({cast<linalg::LinalgOp>(maxOp), *maxLoop});
  row.ops.push_back({cast<linalg::LinalgOp>(expOp), *expLoop});
  row.ops.push_back({cast<linalg::LinalgOp>(sumOp), *sumLoop});
  row.ops.push_back({cast<linalg::LinalgOp>(divOp), *divLoop});
  row.ops.push_back({mix, *mixLoop});
  return row;
}

/// `value` computed before `point`: the ops of `generic`'s body it depends
/// on are cloned there, `linalg.index` of a unit loop becoming 0. Fails on
/// a dependence on the body's arguments, on `column`'s index, or on a value
/// not available at `point`.
FailureOr<Value> hoistOutOfBody(OpBuilder &builder, Value value,
                                linalg::GenericOp generic, unsigned column,
                                Operation *point, DominanceInfo &dominance,
                                IRMapping &mapping) {
  if (Value mapped = mapping.lookupOrNull(value))
    return mapped;
  Operation *def = value.getDefiningOp();
  bool inBody = def ? generic->isProperAncestor(def)
                    : cast<BlockArgument>(value).getOwner()->getParentOp() ==
                          generic.getOperation();
  if (!inBody) {
    if (!dominance.properlyDominates(value, point))
      return failure();
    return value;
  }
  if (!def)
    return failure();
  if (auto index = dyn_cast<linalg::IndexOp>(def)) {
    if (index.getDim() == column ||
        generic.getStaticLoopRanges()[index.getDim()] != 1)
      return failure();
    Value zero = arith::ConstantIndexOp::create(builder, def->getLoc(), 0);
    mapping.map(value, zero);
    return zero;
  }
  if (def->getNumRegions() != 0 || !isPure(def))
    return failure();
  for (Value operand : def->getOperands())
    if (failed(hoistOutOfBody(builder, operand, generic, column, point,
                              dominance, mapping)))
      return failure();
  Operation *clone = builder.clone(*def, mapping);
  return clone->getResult(cast<OpResult>(value).getResultNumber());
}

/// Restricts every op of `row` to its first `count` columns.
LogicalResult narrowRow(RewriterBase &rewriter, const CausalRow &row) {
  Operation *first = row.ops.front().first;
  DominanceInfo dominance;
  // Every operand that carries columns must have a dynamic column size.
  SmallPtrSet<Operation *, 8> chain;
  for (auto [op, loop] : row.ops)
    chain.insert(op);
  Value columns;
  for (auto [op, loop] : row.ops) {
    // Every operand read along the columns is then found (and sliced).
    if (!op.hasOnlyProjectedPermutations())
      return failure();
    for (OpOperand &operand : op->getOpOperands()) {
      std::optional<unsigned> position = positionOf(op, &operand, loop);
      if (!position)
        continue;
      auto type = dyn_cast<RankedTensorType>(operand.get().getType());
      if (!type || !type.isDynamicDim(*position))
        return failure();
      if (!columns && dominance.properlyDominates(operand.get(), first)) {
        rewriter.setInsertionPoint(first);
        columns = tensor::DimOp::create(rewriter, first->getLoc(),
                                        operand.get(), *position);
      }
    }
  }
  if (!columns)
    return failure();

  // count = bound + 1, or all the columns when the bound is past them.
  rewriter.setInsertionPoint(first);
  Location loc = first->getLoc();
  IRMapping mapping;
  FailureOr<Value> bound = hoistOutOfBody(
      rewriter, row.bound, row.mask, row.maskColumn, first, dominance, mapping);
  if (failed(bound) || !bound->getType().isIndex())
    return failure();
  Value next = arith::AddIOp::create(
      rewriter, loc, *bound, arith::ConstantIndexOp::create(rewriter, loc, 1));
  Value past = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::uge,
                                     *bound, columns);
  Value count = arith::SelectOp::create(rewriter, loc, past, columns, next);

  // Each operand that carries columns (and is not a result of the chain)
  // becomes its first `count` columns, a slice. A destination stays full
  // width underneath (a fill moves onto the slice): its size is the same for
  // every row, so its buffer can be allocated once, outside the loop
  // (buffer-loop-hoisting).
  for (auto &[chainOp, chainLoop] : row.ops) {
    linalg::LinalgOp op = chainOp;
    unsigned loop = chainLoop;
    for (OpOperand &operand : op->getOpOperands()) {
      std::optional<unsigned> position = positionOf(op, &operand, loop);
      if (!position)
        continue;
      Value value = operand.get();
      if (Operation *producer = value.getDefiningOp();
          producer && chain.contains(producer))
        continue;
      rewriter.setInsertionPoint(op);
      auto prefix = [&](Value full) -> Value {
        auto type = cast<RankedTensorType>(full.getType());
        SmallVector<OpFoldResult> offsets(type.getRank(),
                                          rewriter.getIndexAttr(0));
        SmallVector<OpFoldResult> strides(type.getRank(),
                                          rewriter.getIndexAttr(1));
        SmallVector<OpFoldResult> sizes =
            tensor::getMixedSizes(rewriter, op->getLoc(), full);
        sizes[*position] = count;
        return tensor::ExtractSliceOp::create(rewriter, op->getLoc(), type,
                                              full, offsets, sizes, strides);
      };
      Value narrowed;
      auto fill = value.getDefiningOp<linalg::FillOp>();
      if (fill && fill.getDpsInits()[0].getDefiningOp<tensor::EmptyOp>())
        narrowed =
            linalg::FillOp::create(rewriter, fill.getLoc(), fill.getDpsInputs(),
                                   ValueRange{prefix(fill.getDpsInits()[0])})
                .getResult(0);
      else
        narrowed = prefix(value);
      rewriter.modifyOpInPlace(op, [&] { operand.set(narrowed); });
    }
  }
  return success();
}

struct FuseRowsPass : public qc::impl::QCFuseRowsBase<FuseRowsPass> {
  using Base::Base;

  void getDependentDialects(DialectRegistry &registry) const override {
    Base::getDependentDialects(registry);
    linalg::registerTilingInterfaceExternalModels(registry);
  }

  void runOnOperation() override {
    func::FuncOp function = getOperation();
    IRRewriter rewriter(&getContext());

    SmallVector<linalg::LinalgOp> roots;
    function.walk([&](linalg::LinalgOp op) {
      if (isRoot(op))
        roots.push_back(op);
    });
    // Last root first: the roots its chain contains (a softmax's row
    // reductions inside attention) die with it and are skipped.
    llvm::SmallPtrSet<Operation *, 16> erased;
    for (linalg::LinalgOp root : llvm::reverse(roots)) {
      if (erased.contains(root))
        continue;
      if (failed(fuseRoot(rewriter, root)))
        continue;
      // Dead producers go now, so that earlier roots see their real uses.
      for (Block &block : function.getBody()) {
        for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block))) {
          if (!isOpTriviallyDead(&op))
            continue;
          erased.insert(&op);
          rewriter.eraseOp(&op);
        }
      }
    }

    // Slices of whole-tensor destinations become per-row tensors.
    RewritePatternSet patterns(&getContext());
    tensor::populateFoldTensorEmptyPatterns(patterns);
    (void)applyPatternsGreedily(function, std::move(patterns));

    // Causal softmax-attention rows: only their visible prefix.
    SmallVector<CausalRow> rows;
    function.walk([&](linalg::GenericOp op) {
      if (std::optional<CausalRow> row = matchCausalRow(op))
        rows.push_back(*row);
    });
    for (const CausalRow &row : rows)
      (void)narrowRow(rewriter, row);
    function.walk([&](scf::ForOp loop) { loop->removeAttr(kRowLoopMarker); });
    if (!rows.empty()) {
      // The full-width destinations the narrowing replaced die here.
      RewritePatternSet cleanup(&getContext());
      tensor::DimOp::getCanonicalizationPatterns(cleanup, &getContext());
      memref::populateResolveRankedShapedTypeResultDimsPatterns(cleanup);
      (void)applyPatternsGreedily(function, std::move(cleanup));
    }
  }

  LogicalResult fuseRoot(RewriterBase &rewriter, linalg::LinalgOp root) {
    SmallVector<int64_t> sizes;
    bool tiled = false;
    for (auto [range, iterator] :
         llvm::zip(root.getStaticLoopRanges(), root.getIteratorTypesArray())) {
      bool row = ShapedType::isDynamic(range) &&
                 iterator == utils::IteratorType::parallel;
      sizes.push_back(row ? 1 : 0);
      tiled |= row;
    }
    if (!tiled)
      return failure();

    scf::SCFTileAndFuseOptions options;
    options.tilingOptions.setTileSizes(
        getAsIndexOpFoldResult(rewriter.getContext(), sizes));
    options.setFusionControlFn(
        [](tensor::ExtractSliceOp, OpResult producer,
           bool) -> std::optional<scf::SCFTileAndFuseOptions::ControlFnResult> {
          Operation *op = producer.getOwner();
          if (isa<linalg::FillOp>(op) || producesOrReadsQuadratic(op))
            return scf::SCFTileAndFuseOptions::ControlFnResult{};
          return std::nullopt;
        });
    rewriter.setInsertionPoint(root);
    FailureOr<scf::SCFTileAndFuseResult> fused =
        scf::tileConsumerAndFuseProducersUsingSCF(
            rewriter, cast<TilingInterface>(root.getOperation()), options);
    if (failed(fused))
      return failure();
    for (OpResult result : root->getResults())
      rewriter.replaceAllUsesWith(result, fused->replacements.lookup(result));
    rewriter.eraseOp(root);
    Operation *loop = fused->loops.front().getOperation();
    loop->setAttr(kRowLoopMarker, rewriter.getUnitAttr());

    // Tiling sized the loop and slices with `tensor.dim`s of the unfused
    // ops' results: express those through the ops' operands, so that the
    // unfused ops die.
    {
      RewritePatternSet patterns(rewriter.getContext());
      memref::populateResolveRankedShapedTypeResultDimsPatterns(patterns);
      tensor::DimOp::getCanonicalizationPatterns(patterns,
                                                 rewriter.getContext());
      SmallVector<Operation *> dims;
      loop->getBlock()->walk([&](tensor::DimOp dim) { dims.push_back(dim); });
      GreedyRewriteConfig config;
      config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
      (void)applyOpPatternsGreedily(dims, std::move(patterns), config);
    }

    // A producer read by two fused ops was fused twice: keep one copy. The
    // copies' sizes come from `tensor.dim`s each fusion step created: those
    // are hoisted and merged first so the copies become identical.
    moveLoopInvariantCode(cast<LoopLikeOpInterface>(loop));
    dedupeSlices(rewriter, *loop->getBlock());
    DominanceInfo dominance;
    eliminateCommonSubExpressions(rewriter, dominance, loop);
    return success();
  }
};

} // namespace
