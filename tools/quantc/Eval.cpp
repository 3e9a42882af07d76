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

std::string trimWhitespace(const std::string &text) {
  const char *space = " \t\n\r\f\v";
  size_t first = text.find_first_not_of(space);
  if (first == std::string::npos)
    return "";
  size_t last = text.find_last_not_of(space);
  return text.substr(first, last - first + 1);
}

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

  std::ifstream textFile(textPath, std::ios::binary);
  if (!textFile)
    return line.inputError(textPath + ": cannot read");
  std::stringstream buffer;
  buffer << textFile.rdbuf();
  std::string text = trimWhitespace(buffer.str());
  if (text.empty())
    return line.inputError(textPath + ": no text to score");

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
  io::Result<io::Tokenizer> tokenizer = io::Tokenizer::load(
      tokenizerPath, static_cast<uint32_t>(shape.vocabSize));
  if (!tokenizer)
    return line.inputError(tokenizer.error());

  int64_t limit = shape.contextLength;
  if (reference)
    limit = std::min(limit, reference->model->getInterface().contextLength);
  if (contextLength == 0)
    contextLength = std::min<int64_t>(512, limit);
  if (contextLength > limit)
    return line.usageError("--ctx " + std::to_string(contextLength) +
                           " exceeds the model's context length of " +
                           std::to_string(limit));

  std::vector<int32_t> tokens = tokenizer->encode(text, /*addBos=*/true);
  std::vector<EvalWindow> windows = planEvalWindows(
      static_cast<int64_t>(tokens.size()), contextLength,
      maxWindows > 0 ? std::optional<int64_t>(maxWindows) : std::nullopt);
  if (windows.empty())
    return line.inputError(textPath + ": too short to score a prediction");

  int64_t vocab = shape.vocabSize;
  std::unique_ptr<runtime::Session> session = runnable->model->createSession();
  std::unique_ptr<runtime::Session> referenceSession =
      reference ? reference->model->createSession() : nullptr;
  std::vector<float> logits(contextLength * vocab);
  std::vector<float> referenceLogits(reference ? contextLength * vocab : 0);
  EvalAccumulator accumulator(vocab);
  double modelSeconds = 0;
  auto start = std::chrono::steady_clock::now();
  for (size_t w = 0; w < windows.size(); ++w) {
    const EvalWindow &window = windows[w];
    const int32_t *input = tokens.data() + window.start;
    // Every window starts from an empty cache: position 0 overwrites what
    // the previous window left, and attention never reads past pos + T.
    auto windowStart = std::chrono::steady_clock::now();
    if (io::Status status =
            session->forward(input, window.inputCount, 0, logits.data());
        !status)
      return line.inputError(status.error());
    modelSeconds += std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - windowStart)
                        .count();
    if (referenceSession) {
      if (io::Status status = referenceSession->forward(
              input, window.inputCount, 0, referenceLogits.data());
          !status)
        return line.inputError("reference: " + status.error());
    }
    accumulator.beginWindow();
    for (int64_t t = 0; t < window.inputCount; ++t)
      accumulator.add(logits.data() + t * vocab, input[t + 1],
                      reference ? referenceLogits.data() + t * vocab : nullptr);
    if (!quiet) {
      double mean = accumulator.getWindows().back().getMeanNLL();
      std::fprintf(stderr, "[%zu/%zu] window nll=%.6f  running ppl=%.4f\n",
                   w + 1, windows.size(), mean, accumulator.getPerplexity());
    }
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  int64_t scored = accumulator.getTokenCount();
  double tokensPerSecond = modelSeconds > 0 ? scored / modelSeconds : 0.0;
  if (!quiet)
    std::fprintf(stderr,
                 "%lld tokens in %zu windows of %lld: %.1f tokens/s (%s, "
                 "compile %.2f s; total %.2f s)\n",
                 static_cast<long long>(scored), windows.size(),
                 static_cast<long long>(contextLength), tokensPerSecond,
                 runnable->how.c_str(), runnable->compileSeconds, seconds);

  if (!jsonPath.empty()) {
    nlohmann::ordered_json json;
    json["model"] = model;
    json["text"] = textPath;
    json["tokenizer"] = tokenizerPath;
    json["ctx"] = contextLength;
    json["windows"] = windows.size();
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
    std::string dumped = json.dump(2) + "\n";
    io::Result<std::unique_ptr<io::AtomicFileOutputStream>> file =
        io::AtomicFileOutputStream::create(jsonPath);
    if (!file)
      return line.inputError(file.error());
    if (io::Status status = (*file)->write(dumped.data(), dumped.size());
        !status)
      return line.inputError(status.error());
    if (io::Status status = (*file)->commit(); !status)
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
