//===- InitAll.cpp - Registration of what quant-opt knows -----------------===//

#include "quantc/InitAll.h"

#include "QC/QCOps.h"
#include "quantc/Conversion/Passes.h"
#include "quantc/Pipelines/Pipelines.h"
#include "quantc/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void quantc::registerAllDialects(mlir::DialectRegistry &registry) {
  // Upstream's full set: besides the dialects, it attaches the external
  // interface models (bufferization, tiling, value bounds, subsets) that
  // the pipelines rely on; dialects load lazily, so this costs little.
  mlir::registerAllDialects(registry);
  registry.insert<mlir::qc::QCDialect>();
  // Transform-op extensions, ConvertToLLVM interfaces, GPU target
  // attributes.
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
}

void quantc::registerAllPasses() {
  mlir::registerAllPasses();
  mlir::qc::registerQuantcTransformsPasses();
  mlir::qc::registerQuantcConversionPasses();
  registerPipelines();
}
