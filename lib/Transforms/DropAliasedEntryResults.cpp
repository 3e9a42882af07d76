//===- DropAliasedEntryResults.cpp - void entry points after bufferization ===//

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"

#include "quantc/Transforms/Passes.h"

#include "llvm/ADT/BitVector.h"

namespace mlir::qc {
QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DEF_QCDROPALIASEDENTRYRESULTS
#include "quantc/Transforms/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

using namespace mlir;

namespace {

/// The entry-block argument `value` is, looking through casts, or null.
BlockArgument getAliasedArgument(Value value, Block &entry) {
  while (auto cast = value.getDefiningOp<memref::CastOp>())
    value = cast.getSource();
  auto argument = dyn_cast<BlockArgument>(value);
  return argument && argument.getOwner() == &entry ? argument : BlockArgument();
}

struct DropAliasedEntryResultsPass
    : public qc::impl::QCDropAliasedEntryResultsBase<
          DropAliasedEntryResultsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto function : module.getOps<func::FuncOp>()) {
      if (function.isExternal() || !function.isPublic() ||
          function.getNumResults() == 0)
        continue;
      if (!function.getBody().hasOneBlock())
        continue;
      auto ret = cast<func::ReturnOp>(function.getBody().front().getTerminator());
      llvm::BitVector drop(function.getNumResults());
      for (auto [index, operand] : llvm::enumerate(ret.getOperands()))
        if (isa<BaseMemRefType>(operand.getType()) &&
            getAliasedArgument(operand, function.getBody().front()))
          drop.set(index);
      if (drop.none())
        continue;
      if (std::optional<SymbolTable::UseRange> uses =
              SymbolTable::getSymbolUses(function, module);
          uses && !uses->empty()) {
        function.emitOpError("has callers; only entry points called through "
                             "the runtime's C interface can drop results");
        return signalPassFailure();
      }
      SmallVector<Value> kept;
      for (auto [index, operand] : llvm::enumerate(ret.getOperands()))
        if (!drop.test(index))
          kept.push_back(operand);
      ret->setOperands(kept);
      if (failed(function.eraseResults(drop))) {
        function.emitOpError("cannot drop its aliased results");
        return signalPassFailure();
      }
    }
  }
};
} // namespace
