//===- StripObservers.cpp - remove qc.observe -----------------------------===//

#include "quantc/Transforms/Passes.h"

namespace mlir::qc {
QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DEF_QCSTRIPOBSERVERS
#include "quantc/Transforms/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {
struct StripObserversPass
    : public qc::impl::QCStripObserversBase<StripObserversPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<ObserveOp> observers;
    getOperation().walk([&](ObserveOp op) { observers.push_back(op); });
    if (requireCalibrated) {
      bool missing = false;
      for (ObserveOp op : observers)
        if (!op.getStatsAttr()) {
          op.emitOpError("has no statistics: calibration never reached '")
              << op.getLabel() << "'";
          missing = true;
        }
      if (missing)
        return signalPassFailure();
    }
    for (ObserveOp op : observers) {
      op.getOutput().replaceAllUsesWith(op.getInput());
      op.erase();
    }
  }
};
} // namespace
