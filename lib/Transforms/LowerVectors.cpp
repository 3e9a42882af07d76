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
