//===- Eval.cpp - quantc eval: perplexity and KL divergence ---------------===//
//
// The evaluation protocol of shared/data/golden/stories260K/README.md: the
// text (stripped of surrounding whitespace) as [BOS] + encode(text), cut
// into windows of --ctx tokens; window w runs tokens [ctx*w, ctx*w + ctx)
// from an empty cache and scores each next-token prediction; the last
// window may be shorter. With --reference, both models run every window and
// each position also adds KL(reference || model) and top-1 agreement, as
// llama.cpp's `perplexity --kl-divergence` reports them.
//
//===----------------------------------------------------------------------===//

#include "CommandLine.h"
#include "Commands.h"
#include "Evaluation.h"
#include "ModelLoading.h"

#include "quantc/IO/OutputStream.h"
#include "quantc/IO/Tokenizer.h"
#include "quantc/Numerics/EvalMetrics.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace quantc::tool {

namespace {

const char kHelp[] =
    R"(usage: quantc eval MODEL --text FILE [options]

Measures MODEL's perplexity on a text under the protocol of
shared/data/golden/stories260K/README.md: [BOS] + the text's tokens in
windows of --ctx tokens, each run from an empty KV cache, every next-token
prediction scored (natural log). MODEL is a checkpoint, an MLIR module
(`quantc import`, `quantc quantize`) or an artifact (`quantc compile`).
The last line on stdout is
  mean_nll=<float> ppl=<float> tokens=<int>[ kl=<float> top1=<float>]

options:
  --text FILE         UTF-8 text to score (required)
  --tokenizer TOK     llama2.c tokenizer .bin or GGUF (default: the one
                      recorded with the model)
  --ctx N             window length (default: 512, at most the model's
                      context length)
  --windows N         score only the first N windows
  --reference MODEL2  also report the mean KL divergence KL(MODEL2 || MODEL)
                      and how often both models' top-1 tokens agree
  --json FILE         write the results (per-window NLL, speed) as JSON
  --quiet             no per-window progress on stderr
)";

} // namespace

int runEval(const std::vector<std::string> &args) {
  std::string model, textPath, tokenizerPath, referencePath, jsonPath;
  int64_t contextLength = 0, maxWindows = 0;
  bool quiet = false;
  CommandLine line("eval", kHelp);
  line.setPositional(model, "model");
  line.addString({"--text"}, textPath);
  line.addString({"--tokenizer"}, tokenizerPath);
  line.addInteger({"--ctx"}, contextLength, 1, int64_t(1) << 24);
  line.addInteger({"--windows"}, maxWindows, 1, int64_t(1) << 40);
  line.addString({"--reference"}, referencePath);
  line.addString({"--json"}, jsonPath);
  line.addFlag({"--quiet"}, quiet);
  if (std::optional<int> exit = line.parse(args))
    return *exit;
  if (textPath.empty())
    return line.usageError("no --text FILE to score");

  io::Result<RunnableModel> runnable =
      loadRunnableModel(model, tokenizerPath, quiet);
  if (!runnable)
    return line.inputError(runnable.error());
  const runtime::ModelInterface &shape = runnable->model->getInterface();
  std::optional<RunnableModel> reference;
  if (!referencePath.empty()) {
    io::Result<RunnableModel> loaded =
        loadRunnableModel(referencePath, tokenizerPath, quiet);
    if (!loaded)
      return line.inputError(loaded.error());
    if (loaded->model->getInterface().vocabSize != shape.vocabSize)
      return line.inputError(
          "the reference's vocabulary has " +
          std::to_string(loaded->model->getInterface().vocabSize) +
          " tokens and the model's " + std::to_string(shape.vocabSize) +
          ": KL divergence needs the same vocabulary");
    reference = std::move(*loaded);
  }

  if (tokenizerPath.empty())
    tokenizerPath = shape.tokenizerPath;
  if (tokenizerPath.empty())
    return line.inputError(model +
                           " records no tokenizer: pass --tokenizer TOK");

  int64_t limit = shape.contextLength;
  if (reference)
    limit = std::min(limit, reference->model->getInterface().contextLength);
  if (contextLength == 0)
    contextLength = std::min<int64_t>(512, limit);
  if (contextLength > limit)
    return line.usageError("--ctx " + std::to_string(contextLength) +
                           " exceeds the model's context length of " +
                           std::to_string(limit));

  io::Result<std::vector<int32_t>> tokens =
      tokenizeTextFile(textPath, tokenizerPath, shape.vocabSize);
  if (!tokens)
    return line.inputError(tokens.error());
  io::Result<TextScore> score = scoreTokens(
      *runnable->model, reference ? reference->model.get() : nullptr, *tokens,
      contextLength,
      maxWindows > 0 ? std::optional<int64_t>(maxWindows) : std::nullopt,
      quiet ? nullptr : "");
  if (!score)
    return line.inputError(textPath + ": " + score.error());
  const EvalAccumulator &accumulator = score->accumulator;
  int64_t scored = accumulator.getTokenCount();
  double tokensPerSecond =
      score->modelSeconds > 0 ? scored / score->modelSeconds : 0.0;
  if (!quiet)
    std::fprintf(stderr,
                 "%lld tokens in %zu windows of %lld: %.1f tokens/s (%s, "
                 "compile %.2f s; total %.2f s)\n",
                 static_cast<long long>(scored), score->windowCount,
                 static_cast<long long>(contextLength), tokensPerSecond,
                 runnable->how.c_str(), runnable->compileSeconds,
                 score->totalSeconds);

  if (!jsonPath.empty()) {
    nlohmann::ordered_json json;
    json["model"] = model;
    json["text"] = textPath;
    json["tokenizer"] = tokenizerPath;
    json["ctx"] = contextLength;
    json["windows"] = score->windowCount;
    json["tokens"] = scored;
    json["mean_nll"] = accumulator.getMeanNLL();
    json["ppl"] = accumulator.getPerplexity();
    if (reference) {
      json["reference"] = referencePath;
      json["kl"] = accumulator.getMeanKL();
      json["top1"] = accumulator.getTop1Agreement();
    }
    nlohmann::ordered_json perWindow = nlohmann::ordered_json::array();
    for (const WindowScore &score : accumulator.getWindows())
      perWindow.push_back(score.getMeanNLL());
    json["window_nll"] = std::move(perWindow);
    json["execution"] = runnable->how;
    json["compile_seconds"] = runnable->compileSeconds;
    json["tokens_per_second"] = tokensPerSecond;
    if (io::Status status = writeTextFile(jsonPath, json.dump(2) + "\n");
        !status)
      return line.inputError(status.error());
  }

  std::printf("mean_nll=%.6f ppl=%.4f tokens=%lld", accumulator.getMeanNLL(),
              accumulator.getPerplexity(), static_cast<long long>(scored));
  if (reference)
    std::printf(" kl=%.6f top1=%.4f", accumulator.getMeanKL(),
                accumulator.getTop1Agreement());
  std::printf("\n");
  return 0;
}

} // namespace quantc::tool
