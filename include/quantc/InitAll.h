//===- InitAll.h - Register quantc and what it uses -----------*- C++ -*-===//

#ifndef QUANTC_INITALL_H
#define QUANTC_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace quantc {
/// The `qc` dialect plus the upstream dialects, interface models and LLVM IR
/// translations quantc's pipelines go through (func, arith, math, tensor,
/// linalg, memref, bufferization, scf, vector, x86vector, arm_neon, gpu,
/// nvgpu, nvvm, llvm, quant, ml_program, transform).
void registerAllDialects(mlir::DialectRegistry &registry);
/// quantc's passes and pipelines, and the upstream passes.
void registerAllPasses();
} // namespace quantc

#endif // QUANTC_INITALL_H
