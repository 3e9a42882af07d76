//===- FuseRows.cpp - qc-fuse-rows ----------------------------------------===//
//
// Keeps tensors with two or more dynamic dimensions (attention scores,
// tokens x context) from being materialized whole: the op that reduces such
// a tensor away is tiled by 1 along its dynamic parallel loops, and the chain
// of producers is fused into that loop, one row at a time.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/TilingInterfaceImpl.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/IR/Dominance.h"
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
