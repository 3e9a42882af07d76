//===- quantc.cpp - the quantc driver -------------------------------------===//
//
// `quantc COMMAND ...` wraps the common jobs for people who do not write
// pipelines (see DESIGN.md for the surface). Only commands that work are
// listed; the rest of DESIGN.md's surface joins the table as it lands.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace quantc::tool;

namespace {

struct Command {
  const char *name;
  const char *usage;
  const char *summary;
  int (*run)(const std::vector<std::string> &args);
};

const Command kCommands[] = {
    {"import", "MODEL [--tokenizer TOK] -o MODEL.mlir",
     "write a llama2.c, GGUF or safetensors Llama as one MLIR module "
     "(linalg, weights left in the file)",
     runImport},
    {"quantize",
     "MODEL --scheme SCHEME [--calib FILE] [--method M] -o OUT.mlir",
     "calibrate and quantize a model (W8A8, FP8, int4/int3 groups, llama.cpp "
     "formats); report size, SQNR, perplexity and KL against float",
     runQuantize},
    {"compile", "MODEL [--target cpu] -o MODEL.so",
     "compile a model ahead of time into a shared object for this CPU",
     runCompile},
    {"run", "MODEL [--tokenizer TOK] [--prompt TEXT] [-n N] [--temp T]",
     "generate text (greedy at --temp 0, else top-p sampling)", runRun},
    {"eval", "MODEL --text FILE [--ctx N] [--windows N] [--reference M2]",
     "perplexity under the shared protocol; KL divergence and top-1 "
     "agreement against a reference model",
     runEval},
    {"convert", "IN --type TYPE [--imatrix FILE] -o OUT.gguf",
     "quantize every eligible tensor of a GGUF, safetensors or llama2.c "
     "file into a GGUF, like llama-quantize",
     runConvert},
    {"info", "FILE", "print a model file's metadata and tensors", runInfo},
    {"synth", "-o OUT.bin [--tokenizer-out TOK.bin] [--dim N ...] [--seed N]",
     "write a deterministic Llama-shaped llama2.c checkpoint with seeded "
     "random weights (and its tokenizer)",
     runSynth},
};

void printHelp(FILE *out) {
  std::fprintf(out, "usage: quantc COMMAND [options]\n\ncommands:\n");
  for (const Command &command : kCommands)
    std::fprintf(out, "  %-9s %s\n            %s\n", command.name,
                 command.usage, command.summary);
  std::fprintf(out,
               "\n'quantc COMMAND --help' describes a command's options.\n");
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    printHelp(stderr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    printHelp(stdout);
    return 0;
  }
  for (const Command &command : kCommands) {
    if (name != command.name)
      continue;
    return command.run(std::vector<std::string>(argv + 2, argv + argc));
  }
  std::fprintf(stderr, "quantc: unknown command '%s'\n", name.c_str());
  printHelp(stderr);
  return 2;
}
