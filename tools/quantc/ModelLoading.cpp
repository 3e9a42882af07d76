//===- ModelLoading.cpp - any MODEL argument to IR or to something runnable
//===//

#include "ModelLoading.h"

#include "Commands.h"

#include "quantc/IO/LlamaSpec.h"
#include "quantc/IO/OutputStream.h"
#include "quantc/Import/LlamaImporter.h"
#include "quantc/InitAll.h"
#include "quantc/Target/CPUTarget.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdio>

using namespace quantc;

namespace quantc::tool {

std::unique_ptr<mlir::MLIRContext> createContext() {
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  auto context = std::make_unique<mlir::MLIRContext>(registry);
  // Models are large; the pipelines run single-threaded on 2-core hosts
  // anyway and threading only adds start-up cost here.
  context->disableMultithreading();
  return context;
}

io::Result<mlir::OwningOpRef<mlir::ModuleOp>>
loadModule(const std::string &path, const std::string &tokenizer,
           mlir::MLIRContext &context) {
  if (hasSuffix(path, ".mlir") || hasSuffix(path, ".mlirbc")) {
    std::string diagnostics;
    mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
      llvm::raw_string_ostream os(diagnostics);
      os << d.getLocation() << ": " << d << "\n";
      return mlir::success();
    });
    mlir::OwningOpRef<mlir::ModuleOp> module =
        mlir::parseSourceFile<mlir::ModuleOp>(path, &context);
    if (!module)
      return io::makeError(path, ": cannot parse:\n", diagnostics);
    if (!tokenizer.empty())
      (*module)->setAttr("qc.tokenizer",
                         mlir::StringAttr::get(&context, tokenizer));
    return module;
  }
  io::Result<io::LlamaSpec> spec = io::loadLlamaSpec(path, tokenizer);
  if (!spec)
    return spec.takeError();
  return importLlama(context, *spec);
}

io::Status writeTextFile(const std::string &path, const std::string &text) {
  io::Result<std::unique_ptr<io::AtomicFileOutputStream>> file =
      io::AtomicFileOutputStream::create(path);
  if (!file)
    return file.takeError();
  if (io::Status status = (*file)->write(text.data(), text.size()); !status)
    return status;
  return (*file)->commit();
}

io::Status writeModule(mlir::ModuleOp module, const std::string &path) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  return writeTextFile(path, text);
}

io::Result<RunnableModel> loadRunnableModel(const std::string &path,
                                            const std::string &tokenizer,
                                            bool quiet) {
  auto start = std::chrono::steady_clock::now();
  RunnableModel runnable;
  if (runtime::isArtifact(path)) {
    io::Result<std::unique_ptr<runtime::Model>> model =
        runtime::loadArtifact(path);
    if (!model)
      return model.takeError();
    runnable.model = std::move(*model);
    runnable.how = "artifact";
  } else {
    std::unique_ptr<mlir::MLIRContext> context = createContext();
    io::Result<mlir::OwningOpRef<mlir::ModuleOp>> module =
        loadModule(path, tokenizer, *context);
    if (!module)
      return module.takeError();
    if (!quiet)
      std::fprintf(stderr, "compiling %s for this CPU (JIT)...\n",
                   path.c_str());
    io::Result<std::unique_ptr<runtime::Model>> model = jitModel(**module);
    if (!model)
      return io::makeError(path, ": ", model.error());
    runnable.model = std::move(*model);
    runnable.how = "JIT";
  }
  runnable.compileSeconds = secondsSince(start);
  return runnable;
}

} // namespace quantc::tool
