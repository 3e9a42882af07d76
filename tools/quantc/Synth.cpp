//===- Synth.cpp - quantc synth -------------------------------------------===//
//
// The command line around quantc::io::writeSyntheticModelFile: a
// deterministic Llama-shaped llama2.c checkpoint (and optionally its
// tokenizer) for machines without real models.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "quantc/IO/SyntheticModel.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
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

int usageError(const std::string &message) {
  std::fprintf(stderr, "quantc synth: %s\n(see quantc synth --help)\n",
               message.c_str());
  return 2;
}

int inputError(const std::string &message) {
  std::fprintf(stderr, "quantc synth: error: %s\n", message.c_str());
  return 1;
}

bool hasSuffix(const std::string &text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct Options {
  std::string output, tokenizer;
  SyntheticModelOptions model;
  bool quiet = false;
};

/// Parses `args`; returns an exit code when the command should stop.
std::optional<int> parseOptions(const std::vector<std::string> &args,
                                Options &options) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inlineValue;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      inlineValue = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
    }
    auto value = [&](std::string &into) -> bool {
      if (inlineValue) {
        into = *inlineValue;
        return true;
      }
      if (i + 1 >= args.size())
        return false;
      into = args[++i];
      return true;
    };
    // A positive int32 for the model's sizes.
    auto size = [&](int32_t &into) -> std::optional<int> {
      std::string text;
      if (!value(text))
        return usageError(arg + " needs a value");
      char *end = nullptr;
      errno = 0;
      long long parsed = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || errno != 0 || parsed < 1 ||
          parsed > 0x7fffffff)
        return usageError(arg + " takes a number from 1 to 2147483647, not '" +
                          text + "'");
      into = static_cast<int32_t>(parsed);
      return std::nullopt;
    };
    std::optional<int> exit;
    bool ok = true;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (arg == "-o" || arg == "--output") {
      ok = value(options.output);
    } else if (arg == "--tokenizer-out") {
      ok = value(options.tokenizer);
    } else if (arg == "--dim") {
      exit = size(options.model.dim);
    } else if (arg == "--hidden") {
      exit = size(options.model.hiddenDim);
    } else if (arg == "--layers") {
      exit = size(options.model.layers);
    } else if (arg == "--heads") {
      exit = size(options.model.heads);
    } else if (arg == "--kv-heads") {
      exit = size(options.model.kvHeads);
    } else if (arg == "--vocab") {
      exit = size(options.model.vocabSize);
    } else if (arg == "--seq-len") {
      exit = size(options.model.seqLen);
    } else if (arg == "--seed") {
      std::string text;
      ok = value(text);
      char *end = nullptr;
      errno = 0;
      unsigned long long seed = ok ? std::strtoull(text.c_str(), &end, 10) : 0;
      if (ok && (text.empty() || *end != '\0' || errno != 0 || text[0] == '-' ||
                 text[0] == '+'))
        return usageError("--seed takes a number from 0 to 2^64-1, not '" +
                          text + "'");
      options.model.seed = seed;
    } else if (arg == "--separate-classifier") {
      options.model.sharedClassifier = false;
    } else if (arg == "--quiet") {
      options.quiet = true;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError("unknown option '" + arg + "'");
    } else {
      return usageError("unexpected argument '" + arg +
                        "'; the output is given with -o");
    }
    if (exit)
      return exit;
    if (!ok)
      return usageError(arg + " needs a value");
  }
  if (options.output.empty())
    return usageError("no output file (-o OUT.bin)");
  return std::nullopt;
}

} // namespace

int runSynth(const std::vector<std::string> &args) {
  Options options;
  if (std::optional<int> exit = parseOptions(args, options))
    return *exit;
  if (!hasSuffix(options.output, ".bin"))
    return usageError("the output is a llama2.c checkpoint and its name must "
                      "end in .bin, not '" +
                      options.output + "'");
  Result<Llama2CConfig> config = getSyntheticModelConfig(options.model);
  if (!config)
    return usageError(config.error());
  if (!options.tokenizer.empty()) {
    if (options.model.vocabSize < kMinSyntheticVocabSize)
      return usageError("--tokenizer-out needs --vocab of at least " +
                        std::to_string(kMinSyntheticVocabSize) +
                        " (3 special tokens and 256 byte tokens)");
    if (options.model.vocabSize > kMaxSyntheticVocabSize)
      return usageError("--tokenizer-out takes --vocab of at most " +
                        std::to_string(kMaxSyntheticVocabSize));
    std::filesystem::path model(options.output), tokenizer(options.tokenizer);
    if (model.lexically_normal() == tokenizer.lexically_normal())
      return usageError("the tokenizer would overwrite the checkpoint");
  }

  if (Status status = writeSyntheticModelFile(options.model, options.output);
      !status)
    return inputError(status.error());
  if (!options.tokenizer.empty())
    if (Status status = writeSyntheticTokenizerFile(options.model.vocabSize,
                                                    options.tokenizer);
        !status)
      return inputError(status.error());
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
