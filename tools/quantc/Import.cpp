//===- Import.cpp - quantc import and quantc compile ----------------------===//

#include "CommandLine.h"
#include "Commands.h"
#include "ModelLoading.h"

#include "quantc/IO/OutputStream.h"
#include "quantc/Target/CPUTarget.h"

#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

namespace quantc::tool {

namespace {

const char kImportHelp[] =
    R"(usage: quantc import MODEL [--tokenizer TOK] -o MODEL.mlir

Writes the whole forward pass of a Llama-family checkpoint as one MLIR
module: func.func @forward in linalg/tensor/arith/math over a KV cache,
with every weight an ml_program.global whose value is a #qc.external
reference into MODEL (never printed: the weights stay in the file, which
must stay where it is). quant-opt passes, `quantc compile`, `quantc run` and
`quantc eval` take the result.

MODEL is a llama2.c .bin checkpoint, a GGUF (architecture llama; f32, f16,
bf16 tensors) or a Hugging Face Llama .safetensors with its config.json.

options:
  -o MODEL.mlir       the output, written atomically
  --tokenizer TOK     llama2.c tokenizer .bin to record with the model (a GGUF
                      with a vocabulary records itself)
  --quiet             no summary line
)";

const char kCompileHelp[] =
    R"(usage: quantc compile MODEL [--target cpu] -o MODEL.so

Compiles MODEL (a checkpoint, or an MLIR module from `quantc import`) ahead
of time into a shared object for this machine's CPU (tuned as -mcpu=native)
that exports qc_forward and a JSON manifest (qc_manifest). Weights are not
copied: the artifact maps the files the model refers to when it loads.
`quantc run` and `quantc eval` take the artifact as MODEL.

options:
  -o MODEL.so         the output, written atomically
  --target T          cpu (the only target so far)
  --tokenizer TOK     llama2.c tokenizer .bin to record in the manifest
  --quiet             no summary line
)";

bool sameFile(const std::string &a, const std::string &b) {
  std::error_code ignored;
  return std::filesystem::equivalent(a, b, ignored);
}

} // namespace

int runImport(const std::vector<std::string> &args) {
  std::string input, output, tokenizer;
  bool quiet = false;
  CommandLine line("import", kImportHelp);
  line.setPositional(input, "input model");
  line.addString({"-o", "--output"}, output);
  line.addString({"--tokenizer"}, tokenizer);
  line.addFlag({"--quiet"}, quiet);
  if (std::optional<int> exit = line.parse(args))
    return *exit;
  if (output.empty())
    return line.usageError("no output file (-o MODEL.mlir)");
  if (sameFile(input, output))
    return line.usageError("the output would overwrite the input");

  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<mlir::MLIRContext> context = createContext();
  io::Result<mlir::OwningOpRef<mlir::ModuleOp>> module =
      loadModule(input, tokenizer, *context);
  if (!module)
    return line.inputError(module.error());
  if (io::Status status = writeModule(**module, output); !status)
    return line.inputError(status.error());
  if (!quiet) {
    size_t weights = 0;
    for (mlir::Operation &op : (*module)->getBody()->getOperations())
      if (op.getName().getStringRef() == "ml_program.global")
        ++weights;
    std::fprintf(stderr,
                 "imported %s: %zu weights (external), %zu bytes of "
                 "IR -> %s in %.2f s\n",
                 input.c_str(), weights,
                 static_cast<size_t>(std::filesystem::file_size(output)),
                 output.c_str(), secondsSince(start));
  }
  return 0;
}

int runCompile(const std::vector<std::string> &args) {
  std::string input, output, tokenizer, target = "cpu";
  bool quiet = false;
  CommandLine line("compile", kCompileHelp);
  line.setPositional(input, "input model");
  line.addString({"-o", "--output"}, output);
  line.addString({"--target"}, target);
  line.addString({"--tokenizer"}, tokenizer);
  line.addFlag({"--quiet"}, quiet);
  if (std::optional<int> exit = line.parse(args))
    return *exit;
  if (target != "cpu")
    return line.usageError("unknown --target '" + target +
                           "' (this build compiles for: cpu)");
  if (output.empty())
    return line.usageError("no output file (-o MODEL.so)");
  if (sameFile(input, output))
    return line.usageError("the output would overwrite the input");

  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<mlir::MLIRContext> context = createContext();
  io::Result<mlir::OwningOpRef<mlir::ModuleOp>> module =
      loadModule(input, tokenizer, *context);
  if (!module)
    return line.inputError(module.error());
  if (!quiet)
    std::fprintf(stderr, "compiling %s for this CPU...\n", input.c_str());
  if (io::Status status = compileModelArtifact(**module, output); !status)
    return line.inputError(input + ": " + status.error());
  if (!quiet)
    std::fprintf(stderr, "wrote %s (%s) in %.2f s\n", output.c_str(),
                 formatBytes(std::filesystem::file_size(output)).c_str(),
                 secondsSince(start));
  return 0;
}

} // namespace quantc::tool
