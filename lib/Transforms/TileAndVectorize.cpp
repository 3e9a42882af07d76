//===- TileAndVectorize.cpp - qc-tile-and-vectorize -----------------------===//
//
// Tiles every linalg op of a bufferized function so that each tile has a
// small static shape, and vectorizes the tiles (linalg::vectorize).
//
// Tile sizes, per loop of an op's iteration space:
//  - dynamic loops are tiled by 1, except the "vector loop": a dynamic loop
//    that is the innermost (contiguous) dimension of one of the op's
//    highest-rank operands, tiled by the vector width;
//  - a contraction's batch loops are tiled by 1;
//  - static loops are kept whole, while the tile's volume fits the budget;
//    otherwise the largest parallel loops (then reduction loops) are split
//    into power-of-two tiles until it does.
// Loops whose size the tile does not divide are peeled: the main loop runs
// full, static tiles; the remainder tile is static too when the loop bound
// is (a ragged static split), and otherwise is vectorized masked, to the
// planned tile size, with neutral elements in the masked lanes of its
// reductions so that it computes exactly like a full tile.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Hoisting.h"
#include "mlir/Dialect/Linalg/Transforms/TilingInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/ADT/bit.h"

namespace mlir::qc {
QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DEF_QCTILEANDVECTORIZE
#include "quantc/Transforms/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

using namespace mlir;

namespace {

/// Marks the tiles this pass still has to vectorize, with the planned tile
/// size of each loop (0: kept whole).
constexpr llvm::StringLiteral kTileMarker = "__qc_vectorize__";

struct TilePlan {
  /// Per loop; 0 keeps the loop whole.
  SmallVector<int64_t> sizes;
  /// Per loop: whether the tile size may not divide the loop.
  SmallVector<bool> peel;
};

std::optional<unsigned> innermostLoop(AffineMap map) {
  if (map.getNumResults() == 0)
    return std::nullopt;
  if (auto dim = dyn_cast<AffineDimExpr>(map.getResults().back()))
    return dim.getPosition();
  return std::nullopt;
}

TilePlan planTiles(linalg::LinalgOp op, int64_t width, int64_t budget) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  unsigned loops = ranges.size();
  TilePlan plan{SmallVector<int64_t>(loops, 0),
                SmallVector<bool>(loops, false)};
  SmallVector<int64_t> extent(loops);
  for (unsigned i = 0; i < loops; ++i) {
    bool dynamic = ShapedType::isDynamic(ranges[i]);
    plan.sizes[i] = dynamic ? 1 : 0;
    extent[i] = dynamic ? 1 : ranges[i];
  }

  // Contractions: batch loops (indexing both inputs and the result) by 1,
  // so that each tile is one matmul.
  if (linalg::isaContractionOpInterface(op)) {
    FailureOr<linalg::ContractionDimensions> dims =
        linalg::inferContractionDims(op);
    if (succeeded(dims)) {
      for (unsigned batch : dims->batch) {
        plan.sizes[batch] = 1;
        extent[batch] = 1;
      }
    }
  }

  // The vector loop: a dynamic loop innermost in a highest-rank operand.
  int64_t maxRank = 0;
  for (OpOperand &operand : op->getOpOperands())
    maxRank = std::max<int64_t>(maxRank, op.getRank(&operand));
  std::optional<unsigned> vectorLoop;
  SmallVector<OpOperand *> operands;
  for (OpOperand &init : op.getDpsInitsMutable())
    operands.push_back(&init);
  llvm::append_range(operands, op.getDpsInputOperands());
  for (OpOperand *operand : operands) {
    if (op.getRank(operand) != maxRank)
      continue;
    std::optional<unsigned> loop =
        innermostLoop(op.getMatchingIndexingMap(operand));
    if (loop && ShapedType::isDynamic(ranges[*loop])) {
      vectorLoop = loop;
      break;
    }
  }
  if (vectorLoop) {
    plan.sizes[*vectorLoop] = width;
    plan.peel[*vectorLoop] = true;
    extent[*vectorLoop] = width;
  }

  // An all-parallel op on static shapes (a weight dequantized or converted
  // whole) splits the innermost loop of its result last, so that its tiles
  // are pieces of rows, not columns strided by a row length. (Reductions
  // keep their order of splitting, which fixes their rounding.)
  std::optional<unsigned> splitLast;
  if (!vectorLoop && op.getNumReductionLoops() == 0 && op.getNumDpsInits() > 0)
    splitLast =
        innermostLoop(op.getMatchingIndexingMap(op.getDpsInitOperand(0)));

  // Split static loops until the tile fits the budget: parallel loops first,
  // largest first.
  auto volume = [&] {
    int64_t product = 1;
    for (int64_t size : extent)
      product *= size;
    return product;
  };
  for (auto [kind, spared] :
       {std::make_pair(utils::IteratorType::parallel, splitLast),
        std::make_pair(utils::IteratorType::parallel,
                       std::optional<unsigned>()),
        std::make_pair(utils::IteratorType::reduction,
                       std::optional<unsigned>())}) {
    while (volume() > budget) {
      std::optional<unsigned> largest;
      for (unsigned i = 0; i < loops; ++i) {
        if (iterators[i] != kind || ShapedType::isDynamic(ranges[i]) ||
            extent[i] <= 1 || (vectorLoop && *vectorLoop == i) ||
            (spared && *spared == i))
          continue;
        if (!largest || extent[i] > extent[*largest])
          largest = i;
      }
      if (!largest)
        break;
      int64_t rest = volume() / extent[*largest];
      int64_t size = std::max<int64_t>(1, budget / rest);
      size = static_cast<int64_t>(llvm::bit_floor(
          static_cast<uint64_t>(std::min(size, extent[*largest] - 1))));
      plan.sizes[*largest] = size;
      plan.peel[*largest] = ranges[*largest] % size != 0;
      extent[*largest] = size;
    }
  }
  return plan;
}

/// Tiles `op` by `plan`, peels the loops that need it and marks the tiles.
LogicalResult tileOp(RewriterBase &rewriter, linalg::LinalgOp op,
                     const TilePlan &plan) {
  rewriter.setInsertionPoint(op);
  auto marker = rewriter.getDenseI64ArrayAttr(plan.sizes);
  if (llvm::all_of(plan.sizes, [](int64_t size) { return size == 0; })) {
    op->setAttr(kTileMarker, marker);
    return success();
  }
  scf::SCFTilingOptions options;
  options.setTileSizes(
      getAsIndexOpFoldResult(rewriter.getContext(), plan.sizes));
  auto tilingInterface = cast<TilingInterface>(op.getOperation());
  FailureOr<scf::SCFTilingResult> tiled =
      scf::tileUsingSCF(rewriter, tilingInterface, options);
  if (failed(tiled))
    return failure();
  for (Operation *tile : tiled->tiledOps)
    tile->setAttr(kTileMarker, marker);
  rewriter.eraseOp(op);

  // Loops come in loop order, one per tiled loop; peel innermost first.
  SmallVector<scf::ForOp> toPeel;
  unsigned next = 0;
  for (auto [size, peel] : llvm::zip(plan.sizes, plan.peel)) {
    if (size == 0)
      continue;
    auto loop = dyn_cast<scf::ForOp>(tiled->loops[next++].getOperation());
    if (peel && size > 1 && loop)
      toPeel.push_back(loop);
  }
  for (scf::ForOp loop : llvm::reverse(toPeel)) {
    scf::ForOp remainder;
    (void)scf::peelForLoopAndSimplifyBounds(rewriter, loop, remainder);
  }
  return success();
}

bool hasDynamicLoops(linalg::LinalgOp op) {
  return llvm::any_of(op.getStaticLoopRanges(), ShapedType::isDynamic);
}

/// Vector sizes for a tile: its static loop sizes, and for a dynamic loop
/// (the remainder of a peeled one) the planned tile size, which bounds it.
/// None when a dynamic loop has no bound.
std::optional<SmallVector<int64_t>> boundedSizes(linalg::LinalgOp tile,
                                                 ArrayRef<int64_t> planned) {
  SmallVector<int64_t> sizes;
  for (auto [index, range] : llvm::enumerate(tile.getStaticLoopRanges())) {
    if (!ShapedType::isDynamic(range)) {
      sizes.push_back(range);
      continue;
    }
    if (index >= planned.size() || planned[index] <= 0)
      return std::nullopt;
    sizes.push_back(planned[index]);
  }
  return sizes;
}

/// Tiles the dynamic loops of a remainder tile by 1.
FailureOr<linalg::LinalgOp> tileDynamicLoopsByOne(RewriterBase &rewriter,
                                                  linalg::LinalgOp op) {
  SmallVector<int64_t> sizes;
  for (int64_t range : op.getStaticLoopRanges())
    sizes.push_back(ShapedType::isDynamic(range) ? 1 : 0);
  rewriter.setInsertionPoint(op);
  scf::SCFTilingOptions options;
  options.setTileSizes(getAsIndexOpFoldResult(rewriter.getContext(), sizes));
  FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
      rewriter, cast<TilingInterface>(op.getOperation()), options);
  if (failed(tiled) || tiled->tiledOps.size() != 1)
    return failure();
  rewriter.eraseOp(op);
  return cast<linalg::LinalgOp>(tiled->tiledOps.front());
}

/// Drops the unit loops of a tile and vectorizes it; contractions become
/// `vector.contract` on their operands as laid out in memory (no broadcast
/// to the whole iteration space). `vectorSizes` (per loop, or empty for a
/// static tile) masks the loops smaller than their vector size.
LogicalResult vectorizeTile(RewriterBase &rewriter, linalg::LinalgOp tile,
                            SmallVector<int64_t> vectorSizes) {
  rewriter.setInsertionPoint(tile);
  // The sizes of the loops dropUnitDims keeps (static unit loops go).
  auto keptSizes = [&](linalg::LinalgOp op) {
    SmallVector<int64_t> kept;
    if (vectorSizes.empty())
      return kept;
    for (auto [range, size] : llvm::zip(op.getStaticLoopRanges(), vectorSizes))
      if (range != 1)
        kept.push_back(size);
    return kept;
  };
  bool contraction = linalg::isaContractionOpInterface(tile);
  if (contraction && !isa<linalg::GenericOp>(tile)) {
    FailureOr<linalg::GenericOp> generic =
        linalg::generalizeNamedOp(rewriter, tile);
    if (failed(generic))
      return failure();
    tile = *generic;
  }
  if (auto generic = dyn_cast<linalg::GenericOp>(tile.getOperation())) {
    linalg::ControlDropUnitDims options;
    options.rankReductionStrategy =
        linalg::ControlDropUnitDims::RankReductionStrategy::ExtractInsertSlice;
    // Tiles are strided subviews, which the default refuses to collapse; a
    // rank-reducing subview drops their unit dimensions just as well.
    options.collapseFn =
        [](RewriterBase &rewriter, Location loc, Value operand,
           ArrayRef<int64_t> targetShape, ArrayRef<ReassociationIndices>,
           const linalg::ControlDropUnitDims &) -> FailureOr<Value> {
      if (!isa<MemRefType>(operand.getType()))
        return failure();
      return memref::SubViewOp::rankReduceIfNeeded(rewriter, loc, operand,
                                                   targetShape);
    };
    SmallVector<int64_t> kept = keptSizes(generic);
    FailureOr<linalg::DropUnitDimsResult> dropped =
        linalg::dropUnitDims(rewriter, generic, options);
    if (succeeded(dropped)) {
      rewriter.eraseOp(generic);
      tile = cast<linalg::LinalgOp>(dropped->resultOp.getOperation());
      vectorSizes = kept;
    }
  }
  // (A contraction to a 0-d result, a lone dot product, vectorizes as a
  // plain reduction: vector.contract wants a vector accumulator.)
  if (contraction && linalg::isaContractionOpInterface(tile) &&
      tile.getRank(tile.getDpsInitOperand(0)) > 0) {
    rewriter.setInsertionPoint(tile);
    auto contract =
        linalg::ContractOp::create(rewriter, tile.getLoc(), tile.getDpsInputs(),
                                   tile.getDpsInits(), tile.getIndexingMaps());
    rewriter.eraseOp(tile);
    tile = contract;
  }
  rewriter.setInsertionPoint(tile);
  if (!vectorSizes.empty() && vectorSizes.size() != tile.getNumLoops())
    return failure();
  // (Scalable flags spelled out: an empty list gives masks a vector type
  // distinct from, though printed like, the one the masked ops expect.)
  SmallVector<bool> scalable(vectorSizes.size(), false);
  FailureOr<linalg::VectorizationResult> vectorized = linalg::vectorize(
      rewriter, tile, vectorSizes, scalable,
      /*vectorizeNDExtract=*/true, /*flatten1DDepthwiseConv=*/false,
      /*assumeDynamicDimsMatchVecSizes=*/false,
      /*createNamedContraction=*/isa<linalg::ContractOp>(tile));
  if (failed(vectorized))
    return failure();
  rewriter.eraseOp(tile);
  return success();
}

/// The value a reduction of `kind` leaves its accumulator unchanged with.
std::optional<TypedAttr> neutralElement(vector::CombiningKind kind,
                                        Type element) {
  auto floatType = dyn_cast<FloatType>(element);
  if (!floatType)
    return std::nullopt;
  const llvm::fltSemantics &semantics = floatType.getFloatSemantics();
  switch (kind) {
  case vector::CombiningKind::ADD:
    return FloatAttr::get(floatType, llvm::APFloat::getZero(semantics));
  case vector::CombiningKind::MUL:
    return FloatAttr::get(floatType, llvm::APFloat::getOne(semantics));
  case vector::CombiningKind::MAXIMUMF:
  case vector::CombiningKind::MAXNUMF:
    return FloatAttr::get(floatType,
                          llvm::APFloat::getInf(semantics, /*Negative=*/true));
  case vector::CombiningKind::MINIMUMF:
  case vector::CombiningKind::MINNUMF:
    return FloatAttr::get(floatType, llvm::APFloat::getInf(semantics));
  default:
    return std::nullopt;
  }
}

/// `vector.mask %m { multi_reduction %src, %acc }` as an unmasked reduction
/// of `select(%m, %src, neutral)`: the masked tile reduces exactly like a
/// full one whose extra lanes are neutral, so a row computes the same bits
/// whichever tile (full or remainder) its last lanes fall in.
struct UnmaskMultiReduction : OpRewritePattern<vector::MaskOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(vector::MaskOp mask,
                                PatternRewriter &rewriter) const override {
    auto reduction =
        dyn_cast_or_null<vector::MultiDimReductionOp>(mask.getMaskableOp());
    if (!reduction || mask.hasPassthru())
      return failure();
    VectorType sourceType = reduction.getSourceVectorType();
    std::optional<TypedAttr> neutral =
        neutralElement(reduction.getKind(), sourceType.getElementType());
    if (!neutral)
      return failure();
    Location loc = reduction.getLoc();
    Value fill = arith::ConstantOp::create(
        rewriter, loc, SplatElementsAttr::get(sourceType, *neutral));
    Value source = arith::SelectOp::create(rewriter, loc, mask.getMask(),
                                           reduction.getSource(), fill);
    rewriter.replaceOpWithNewOp<vector::MultiDimReductionOp>(
        mask, source, reduction.getAcc(), reduction.getReductionMask(),
        reduction.getKind());
    return success();
  }
};

/// Whether `value` is an unmasked read, or a masked one padded with zeros.
bool isZeroPaddedRead(Value value) {
  Operation *op = value.getDefiningOp();
  if (auto mask = dyn_cast_or_null<vector::MaskOp>(op))
    op = mask.getMaskableOp();
  auto read = dyn_cast_or_null<vector::TransferReadOp>(op);
  return read && matchPattern(read.getPadding(), m_AnyZeroFloat());
}

/// `vector.mask { contract %lhs, %rhs, %acc }` with both inputs read padded
/// with zeros: every masked iteration multiplies zeros, so the mask can go.
struct UnmaskContraction : OpRewritePattern<vector::MaskOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(vector::MaskOp mask,
                                PatternRewriter &rewriter) const override {
    auto contract =
        dyn_cast_or_null<vector::ContractionOp>(mask.getMaskableOp());
    if (!contract || mask.hasPassthru() ||
        contract.getKind() != vector::CombiningKind::ADD ||
        !isZeroPaddedRead(contract.getLhs()) ||
        !isZeroPaddedRead(contract.getRhs()))
      return failure();
    rewriter.replaceOpWithNewOp<vector::ContractionOp>(
        mask, contract.getLhs(), contract.getRhs(), contract.getAcc(),
        contract.getIndexingMaps(), contract.getIteratorTypes(),
        contract.getKind());
    return success();
  }
};

/// Canonicalization patterns of the dialects this pass produces.
void addCanonicalizations(RewritePatternSet &patterns) {
  MLIRContext *context = patterns.getContext();
  for (StringRef name :
       {"affine", "arith", "linalg", "memref", "scf", "vector"}) {
    Dialect *dialect = context->getLoadedDialect(name);
    if (!dialect)
      continue;
    dialect->getCanonicalizationPatterns(patterns);
    for (RegisteredOperationName op : context->getRegisteredOperations())
      if (op.getDialectNamespace() == name)
        op.getCanonicalizationPatterns(patterns, context);
  }
}

struct TileAndVectorizePass
    : public qc::impl::QCTileAndVectorizeBase<TileAndVectorizePass> {
  using Base::Base;

  void getDependentDialects(DialectRegistry &registry) const override {
    Base::getDependentDialects(registry);
    linalg::registerTilingInterfaceExternalModels(registry);
  }

  void runOnOperation() override {
    func::FuncOp function = getOperation();
    MLIRContext *context = &getContext();
    if (vectorWidth < 1 || tileBudget < 1 || contractionTileBudget < 1) {
      function.emitError("qc-tile-and-vectorize: vector-width, tile-budget "
                         "and contraction-tile-budget must be positive");
      return signalPassFailure();
    }
    IRRewriter rewriter(context);

    SmallVector<linalg::LinalgOp> ops;
    function.walk([&](linalg::LinalgOp op) {
      if (op.hasPureBufferSemantics())
        ops.push_back(op);
    });
    for (linalg::LinalgOp op : ops) {
      int64_t budget = linalg::isaContractionOpInterface(op)
                           ? contractionTileBudget
                           : tileBudget;
      if (failed(tileOp(rewriter, op, planTiles(op, vectorWidth, budget))))
        op->removeAttr(kTileMarker);
    }

    // Fold the peeled loops' bounds into static tile shapes.
    simplify(function);

    SmallVector<linalg::LinalgOp> tiles;
    function.walk([&](linalg::LinalgOp op) {
      if (op->hasAttr(kTileMarker))
        tiles.push_back(op);
    });
    for (linalg::LinalgOp tile : tiles) {
      auto planned = tile->getAttrOfType<DenseI64ArrayAttr>(kTileMarker);
      tile->removeAttr(kTileMarker);
      if (!hasDynamicLoops(tile)) {
        (void)vectorizeTile(rewriter, tile, {});
        continue;
      }
      // A remainder: one masked vector tile, computed exactly as a full
      // tile whose extra lanes hold the reductions' neutral elements.
      std::optional<SmallVector<int64_t>> sizes =
          boundedSizes(tile, planned.asArrayRef());
      if (sizes &&
          linalg::vectorizeOpPrecondition(
              tile, *sizes, SmallVector<bool>(sizes->size(), false))
              .succeeded() &&
          succeeded(vectorizeTile(rewriter, tile, *sizes)))
        continue;
      FailureOr<linalg::LinalgOp> unit = tileDynamicLoopsByOne(rewriter, tile);
      if (failed(unit))
        continue;
      (*unit)->removeAttr(kTileMarker);
      (void)vectorizeTile(rewriter, *unit, {});
    }

    simplify(function);
    // Keep accumulators in registers across reduction loops.
    linalg::hoistRedundantVectorTransfers(function);
  }

  void simplify(func::FuncOp function) {
    RewritePatternSet patterns(&getContext());
    addCanonicalizations(patterns);
    vector::populateVectorReductionToContractPatterns(patterns);
    vector::populateSinkVectorOpsPatterns(patterns);
    patterns.add<UnmaskMultiReduction, UnmaskContraction>(&getContext());
    // Not converging (in the iteration limit) leaves valid IR: no failure.
    (void)applyPatternsGreedily(function, std::move(patterns));
  }
};

} // namespace
