//===- CPUPipeline.cpp - qc-cpu-pipeline ----------------------------------===//

#include "quantc/Pipelines/Pipelines.h"

#include "quantc/Conversion/Passes.h"
#include "quantc/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void quantc::buildCPUPipeline(OpPassManager &pm) {
  // Quantized weights become plain tensors that binding can view, and
  // qc.linear integer/float linalg.
  pm.addPass(qc::createConvertQCToLinalg());
  pm.addPass(qc::createQCBindExternalWeights());
  // No CSE before bufferization: it would merge identical tensor.empty +
  // linalg.fill destinations, and every op but one would then need a copy.
  pm.addPass(createCanonicalizerPass());
  // Attention scores one token's row at a time, never tokens x context.
  pm.addNestedPass<func::FuncOp>(qc::createQCFuseRows());
  // Let producers of new cache rows write straight into the cache.
  pm.addPass(bufferization::createEmptyTensorEliminationPass());

  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // The cache and logits results alias their arguments: drop them, so the
  // entry point is a pure destination-passing call.
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
  pm.addPass(qc::createQCDropAliasedEntryResults());
  // Per-row buffers of fused attention: allocated once, not per row.
  pm.addNestedPass<func::FuncOp>(bufferization::createBufferLoopHoistingPass());
  bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addNestedPass<func::FuncOp>(qc::createQCCopiesToLinalg());

  // Small static tiles, vectorized, then lowered to 1-D vectors.
  pm.addNestedPass<func::FuncOp>(qc::createQCTileAndVectorize());
  pm.addNestedPass<func::FuncOp>(qc::createQCLowerVectors());
  // What did not vectorize becomes scalar loops.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(createConvertVectorToSCFPass());
  // Strided-metadata expansion emits affine.apply: lower affine after it.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  vectorToLLVM.reassociateFPReductions = true;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void quantc::registerPipelines() {
  PassPipelineRegistration<>(
      "qc-cpu-pipeline",
      "Lower an imported float model to the LLVM dialect for the host CPU",
      [](OpPassManager &pm) { buildCPUPipeline(pm); });
}
