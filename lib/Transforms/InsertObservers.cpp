//===- InsertObservers.cpp - place qc.observe on quantizable tensors ------===//

#include "quantc/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::qc {
QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DEF_QCINSERTOBSERVERS
#include "quantc/Transforms/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// Weights are values whose contents are known before the model runs.
bool isWeight(Value value) {
  Operation *def = value.getDefiningOp();
  return def && (def->hasTrait<OpTrait::ConstantLike>() ||
                 isa<ml_program::GlobalLoadConstOp>(def));
}

bool isFloatTensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && isa<FloatType>(tensor.getElementType());
}

/// Loops indexed by pure dimension expressions of `operand`'s map.
llvm::SmallBitVector loopsIndexedBy(linalg::LinalgOp op, OpOperand *operand) {
  llvm::SmallBitVector loops(op.getNumLoops());
  for (AffineExpr expr : op.getMatchingIndexingMap(operand).getResults())
    if (auto dim = dyn_cast<AffineDimExpr>(expr))
      loops.set(dim.getPosition());
  return loops;
}

/// The output-channel dimension of a weight: the last of its dimensions that
/// walks a parallel loop no other input indexes (N of a K x N matmul weight,
/// F of an HWCF filter).
std::optional<int64_t> outputChannelAxis(linalg::LinalgOp op,
                                         OpOperand *operand) {
  llvm::SmallBitVector otherLoops(op.getNumLoops());
  for (OpOperand *other : op.getDpsInputOperands())
    if (other != operand)
      otherLoops |= loopsIndexedBy(op, other);
  auto iterators = op.getIteratorTypesArray();
  std::optional<int64_t> axis;
  for (auto [index, expr] :
       llvm::enumerate(op.getMatchingIndexingMap(operand).getResults()))
    if (auto dim = dyn_cast<AffineDimExpr>(expr))
      if (iterators[dim.getPosition()] == utils::IteratorType::parallel &&
          !otherLoops.test(dim.getPosition()))
        axis = index;
  return axis;
}

/// The reduction-channel dimension of an activation: its last dimension that
/// walks a reduction loop (K of an M x K matmul input, C of an NHWC input).
std::optional<int64_t> reductionChannelAxis(linalg::LinalgOp op,
                                            OpOperand *operand) {
  auto iterators = op.getIteratorTypesArray();
  std::optional<int64_t> axis;
  for (auto [index, expr] :
       llvm::enumerate(op.getMatchingIndexingMap(operand).getResults()))
    if (auto dim = dyn_cast<AffineDimExpr>(expr))
      if (iterators[dim.getPosition()] == utils::IteratorType::reduction)
        axis = index;
  return axis;
}

struct InsertObserversPass
    : public qc::impl::QCInsertObserversBase<InsertObserversPass> {
  using Base::Base;

  void runOnOperation() override {
    // One pass instance runs over many functions: no observer carries over.
    observers.clear();
    if (numBins < 0) {
      getOperation().emitError("qc-insert-observers: bins must be >= 0, got ")
          << static_cast<int64_t>(numBins);
      return signalPassFailure();
    }
    SmallVector<linalg::LinalgOp> targets;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (linalg::isaContractionOpInterface(op) ||
          linalg::isaConvolutionOpInterface(op))
        targets.push_back(op);
    });

    llvm::StringMap<unsigned> opCounts;
    for (linalg::LinalgOp op : targets) {
      if (!op.hasPureTensorSemantics()) {
        op.emitOpError("has buffer semantics; qc-insert-observers runs on "
                       "tensors, before bufferization");
        return signalPassFailure();
      }
      std::string site =
          (getOperation().getSymName() + "/" + op->getName().stripDialect() +
           "_" + Twine(opCounts[op->getName().getStringRef()]++))
              .str();
      observeInputs(op, site);
      if (observeResults)
        observeOutputs(op, site);
    }
  }

private:
  void observeInputs(linalg::LinalgOp op, StringRef site) {
    for (auto [index, operand] : llvm::enumerate(op.getDpsInputOperands())) {
      Value value = operand->get();
      if (!isFloatTensor(value.getType()) || value.getDefiningOp<ObserveOp>())
        continue;
      bool weight = isWeight(value);
      ObserveGranularity granularity = weight
                                           ? weightGranularity.getValue()
                                           : activationGranularity.getValue();
      if (granularity == ObserveGranularity::None)
        continue;
      std::optional<int64_t> axis;
      if (granularity == ObserveGranularity::PerChannel)
        axis = weight ? outputChannelAxis(op, operand)
                      : reductionChannelAxis(op, operand);
      // Histograms serve activation range search; weights use exact ranges.
      int64_t bins = weight ? 0 : numBins.getValue();
      std::string label = (site + "/in" + Twine(index)).str();
      operand->set(getOrCreateObserver(value, label, axis, bins));
    }
  }

  void observeOutputs(linalg::LinalgOp op, StringRef site) {
    for (auto [index, result] : llvm::enumerate(op->getResults())) {
      if (!isFloatTensor(result.getType()) ||
          llvm::any_of(result.getUsers(),
                       [](Operation *user) { return isa<ObserveOp>(user); }))
        continue;
      std::string label = (site + "/out" + Twine(index)).str();
      Value observed =
          getOrCreateObserver(result, label, std::nullopt, numBins.getValue());
      result.replaceAllUsesExcept(observed, observed.getDefiningOp());
    }
  }

  /// One observer per (value, axis, bins), shared by all consumers.
  Value getOrCreateObserver(Value value, StringRef label,
                            std::optional<int64_t> axis, int64_t bins) {
    auto key = std::make_tuple(value, axis.value_or(-1), bins);
    if (auto it = observers.find(key); it != observers.end())
      return it->second;
    OpBuilder builder(value.getContext());
    if (Operation *def = value.getDefiningOp())
      builder.setInsertionPointAfter(def);
    else
      builder.setInsertionPoint(afterArgumentObservers(value.getParentBlock()));
    auto observe = ObserveOp::create(
        builder, value.getLoc(), value.getType(), value,
        builder.getStringAttr(label),
        axis ? builder.getI64IntegerAttr(*axis) : IntegerAttr(),
        bins > 0 ? builder.getI64IntegerAttr(bins) : IntegerAttr(), StatsAttr(),
        TypeAttr());
    observers[key] = observe.getResult();
    return observe.getResult();
  }

  /// Argument observers sit at the top of the block in creation order.
  static Operation *afterArgumentObservers(Block *block) {
    for (Operation &op : *block) {
      auto observe = dyn_cast<ObserveOp>(op);
      if (!observe || !isa<BlockArgument>(observe.getInput()))
        return &op;
    }
    return block->getTerminator();
  }

  DenseMap<std::tuple<Value, int64_t, int64_t>, Value> observers;
};

} // namespace
