//===- InitAll.cpp - Registration of what quant-opt knows -----------------===//

#include "quantc/InitAll.h"

#include "QC/QCOps.h"
#include "quantc/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ArmNeon/ArmNeonDialect.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Transform/IR/TransformDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void quantc::registerAllDialects(mlir::DialectRegistry &registry) {
  using namespace mlir;
  registry.insert<qc::QCDialect, func::FuncDialect, arith::ArithDialect,
                  math::MathDialect, tensor::TensorDialect,
                  linalg::LinalgDialect, memref::MemRefDialect,
                  bufferization::BufferizationDialect, scf::SCFDialect,
                  vector::VectorDialect, x86vector::X86VectorDialect,
                  arm_neon::ArmNeonDialect, gpu::GPUDialect,
                  nvgpu::NVGPUDialect, NVVM::NVVMDialect, LLVM::LLVMDialect,
                  quant::QuantDialect, ml_program::MLProgramDialect,
                  transform::TransformDialect,
                  // Lowering by-products the pipelines above produce.
                  affine::AffineDialect, cf::ControlFlowDialect,
                  index::IndexDialect, ub::UBDialect>();
  // Bufferization models, transform-op extensions, ConvertToLLVM interfaces
  // and GPU target attributes for the dialects above.
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
}

void quantc::registerAllPasses() {
  mlir::registerAllPasses();
  mlir::qc::registerQuantcTransformsPasses();
}
