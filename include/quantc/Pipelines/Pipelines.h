//===- Pipelines.h - named pass pipelines -----------------------*- C++ -*-===//

#ifndef QUANTC_PIPELINES_PIPELINES_H
#define QUANTC_PIPELINES_PIPELINES_H

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace quantc {

/// `qc-cpu-pipeline`: an imported (float) model to the LLVM dialect for the
/// host CPU. Binds file-backed weights to `memref<?xi8>` arguments, tiles
/// and vectorizes, bufferizes with destination results written in place
/// (and dropped from the signature), and lowers everything to LLVM. Mark
/// an entry `llvm.emit_c_interface` before running it to get the
/// `_mlir_ciface_` wrapper the runtime calls.
void buildCPUPipeline(mlir::OpPassManager &pm);

/// Registers the named pipelines with the global registry (for quant-opt).
void registerPipelines();

} // namespace quantc

#endif // QUANTC_PIPELINES_PIPELINES_H
