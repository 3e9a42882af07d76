//===- CPUTarget.h - compile an imported model for the host CPU -*- C++ -*-===//
//
// The two ways a model runs on the CPU, sharing one lowering
// (`qc-cpu-pipeline`) and one calling convention (quantc/Runtime/Model.h):
//  - JIT: MLIR's ExecutionEngine compiles in process (what `quantc eval`
//    does with a .mlir or checkpoint, and what calibration reuses);
//  - ahead of time: an ELF shared object exporting `qc_forward` and a JSON
//    `qc_manifest`; weights stay in their files, mapped at load.
// Both are tuned for the host CPU (`-mcpu=native` semantics).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_TARGET_CPUTARGET_H
#define QUANTC_TARGET_CPUTARGET_H

#include "quantc/Runtime/Model.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace quantc {

/// Checks that `module` has an importer-shaped `@forward`, binds its weights
/// and lowers it to the LLVM dialect in place; returns what the runtime
/// needs to call it.
runtime::Result<runtime::ModelInterface> lowerModelForCPU(mlir::ModuleOp module);

/// Lowers and JIT-compiles `module` (modified in place).
runtime::Result<std::unique_ptr<runtime::Model>> jitModel(mlir::ModuleOp module);

/// Lowers `module` (modified in place) and writes a shared object to `path`
/// atomically. Needs a C compiler driver to link (clang from LLVM 22).
runtime::Status compileModelArtifact(mlir::ModuleOp module,
                                     const std::string &path);

/// Checks that `module` has the importer-shaped `@forward` that
/// lowerModelForCPU compiles, before anything is modified.
runtime::Status checkModelEntry(mlir::ModuleOp module);

/// A host function that JIT-compiled code may call by name (the module
/// declares it as an external function).
struct HostSymbol {
  std::string name;
  void *address;
};

/// jitModel, with `symbols` resolvable from the compiled code (how
/// calibration's recording hook is reached from the instrumented model) and
/// weight files the host provides as buffers it may change between calls.
runtime::Result<std::unique_ptr<runtime::Model>>
jitModel(mlir::ModuleOp module, const std::vector<HostSymbol> &symbols,
         const std::vector<runtime::HostWeights> &hostWeights = {});

} // namespace quantc

#endif // QUANTC_TARGET_CPUTARGET_H
