//===- ModelLoading.h - any MODEL argument to IR or to something runnable -===//
//
// MODEL on quantc's command line is a checkpoint (llama2.c .bin, GGUF,
// safetensors: imported on the fly), an MLIR module (.mlir, as `quantc
// import` writes it) or a compiled artifact (`quantc compile`'s shared
// object).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_TOOLS_QUANTC_MODELLOADING_H
#define QUANTC_TOOLS_QUANTC_MODELLOADING_H

#include "quantc/IO/Result.h"
#include "quantc/Runtime/Model.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <memory>
#include <string>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace quantc::tool {

/// A context with every dialect and interface quantc's pipelines use.
std::unique_ptr<mlir::MLIRContext> createContext();

/// Imports a checkpoint or parses a .mlir file. `tokenizer` (may be empty)
/// is recorded for checkpoints that carry no vocabulary.
io::Result<mlir::OwningOpRef<mlir::ModuleOp>>
loadModule(const std::string &path, const std::string &tokenizer,
           mlir::MLIRContext &context);

/// Writes `text` to `path` atomically (temporary file, then rename).
io::Status writeTextFile(const std::string &path, const std::string &text);

/// Prints `module` and writes it to `path` atomically.
io::Status writeModule(mlir::ModuleOp module, const std::string &path);

struct RunnableModel {
  std::unique_ptr<runtime::Model> model;
  /// "artifact", "JIT" for people.
  std::string how;
  double compileSeconds = 0;
};

/// Loads an artifact, or imports/parses and JIT-compiles; `quiet` silences
/// the progress line.
io::Result<RunnableModel> loadRunnableModel(const std::string &path,
                                            const std::string &tokenizer,
                                            bool quiet);

} // namespace quantc::tool

#endif // QUANTC_TOOLS_QUANTC_MODELLOADING_H
