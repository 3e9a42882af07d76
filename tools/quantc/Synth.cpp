//===- Synth.cpp - quantc synth -------------------------------------------===//
//
// The command line around quantc::io::writeSyntheticModelFile: a
// deterministic Llama-shaped llama2.c checkpoint (and optionally its
// tokenizer) for machines without real models.
//
//===----------------------------------------------------------------------===//

#include "CommandLine.h"
#include "Commands.h"

#include "quantc/IO/SyntheticModel.h"

#include <cstdio>
#include <filesystem>
#include <optional>

using namespace quantc;
using namespace quantc::io;

namespace quantc::tool {
namespace {

const char kHelp[] =
    R"(usage: quantc synth -o OUT.bin [options]

Writes a llama2.c (legacy version 0) checkpoint of a Llama-shaped model
with weights drawn from a seeded generator: the same options and seed give
the same bytes on every machine. Matrices have std 1/sqrt(fan_in) (the
ones writing the residual stream also 1/sqrt(2 * layers)), the embedding
1/sqrt(dim), norms are 1. With --tokenizer-out, also a llama2.c tokenizer
of the same vocabulary (<unk>, <s>, </s>, 256 byte tokens, then merges
learnt from a built-in English text).

options:
  -o OUT.bin                the checkpoint, written atomically
  --tokenizer-out FILE      also write a tokenizer .bin (needs --vocab >= 259)
  --dim N                   model width (default 64)
  --hidden N                feed-forward width (default 172)
  --layers N                transformer blocks (default 2)
  --heads N                 attention heads (default 8)
  --kv-heads N              key/value heads (default 4)
  --vocab N                 vocabulary size (default 512)
  --seq-len N               context length (default 256)
  --seed N                  generator seed (default 0)
  --separate-classifier     an output matrix of its own (default: shared
                            with the token embedding)
  --quiet                   no summary line
)";

struct Options {
  std::string output, tokenizer;
  SyntheticModelOptions model;
  bool quiet = false;
};

/// Parses `args`; returns an exit code when the command should stop.
std::optional<int> parseOptions(const std::vector<std::string> &args,
                                Options &options, CommandLine &line) {
  constexpr int64_t kMaxSize = 0x7fffffff;
  SyntheticModelOptions &model = options.model;
  bool separateClassifier = false;
  line.addString({"-o", "--output"}, options.output);
  line.addString({"--tokenizer-out"}, options.tokenizer);
  line.addInteger({"--dim"}, model.dim, 1, kMaxSize);
  line.addInteger({"--hidden"}, model.hiddenDim, 1, kMaxSize);
  line.addInteger({"--layers"}, model.layers, 1, kMaxSize);
  line.addInteger({"--heads"}, model.heads, 1, kMaxSize);
  line.addInteger({"--kv-heads"}, model.kvHeads, 1, kMaxSize);
  line.addInteger({"--vocab"}, model.vocabSize, 1, kMaxSize);
  line.addInteger({"--seq-len"}, model.seqLen, 1, kMaxSize);
  line.addUnsigned({"--seed"}, model.seed);
  line.addFlag({"--separate-classifier"}, separateClassifier);
  line.addFlag({"--quiet"}, options.quiet);
  line.setStrayArgumentHint("; the output is given with -o");
  if (std::optional<int> exit = line.parse(args))
    return exit;
  model.sharedClassifier = !separateClassifier;
  if (options.output.empty())
    return line.usageError("no output file (-o OUT.bin)");
  return std::nullopt;
}

} // namespace

int runSynth(const std::vector<std::string> &args) {
  Options options;
  CommandLine line("synth", kHelp);
  if (std::optional<int> exit = parseOptions(args, options, line))
    return *exit;
  if (!hasSuffix(options.output, ".bin"))
    return line.usageError(
        "the output is a llama2.c checkpoint and its name must "
        "end in .bin, not '" +
        options.output + "'");
  Result<Llama2CConfig> config = getSyntheticModelConfig(options.model);
  if (!config)
    return line.usageError(config.error());
  if (!options.tokenizer.empty()) {
    if (options.model.vocabSize < kMinSyntheticVocabSize)
      return line.usageError("--tokenizer-out needs --vocab of at least " +
                             std::to_string(kMinSyntheticVocabSize) +
                             " (3 special tokens and 256 byte tokens)");
    if (options.model.vocabSize > kMaxSyntheticVocabSize)
      return line.usageError("--tokenizer-out takes --vocab of at most " +
                             std::to_string(kMaxSyntheticVocabSize));
    std::filesystem::path model(options.output), tokenizer(options.tokenizer);
    if (model.lexically_normal() == tokenizer.lexically_normal())
      return line.usageError("the tokenizer would overwrite the checkpoint");
  }

  if (Status status = writeSyntheticModelFile(options.model, options.output);
      !status)
    return line.inputError(status.error());
  if (!options.tokenizer.empty())
    if (Status status = writeSyntheticTokenizerFile(options.model.vocabSize,
                                                    options.tokenizer);
        !status)
      return line.inputError(status.error());
  if (!options.quiet) {
    const Llama2CConfig &c = *config;
    std::fprintf(stderr,
                 "quantc synth: %s: dim %d, hidden_dim %d, n_layers %d, "
                 "n_heads %d, n_kv_heads %d, vocab_size %d (%s classifier), "
                 "seq_len %d, seed %llu; %s\n",
                 options.output.c_str(), c.dim, c.hiddenDim, c.layers, c.heads,
                 c.kvHeads, c.vocabSize,
                 c.sharedClassifier ? "shared" : "separate", c.seqLen,
                 static_cast<unsigned long long>(options.model.seed),
                 formatBytes(getSyntheticModelByteSize(options.model)).c_str());
    if (!options.tokenizer.empty())
      std::fprintf(stderr, "quantc synth: %s: tokenizer of %d tokens\n",
                   options.tokenizer.c_str(), c.vocabSize);
  }
  return 0;
}

} // namespace quantc::tool
