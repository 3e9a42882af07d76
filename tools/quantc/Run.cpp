//===- Run.cpp - quantc run: generate text --------------------------------===//
//
// llama2.c run.c's `generate`, over any MODEL quantc can run: the prompt
// (BOS first) is fed in one call, then one token per call; tokens are
// chosen by argmax at temperature 0, otherwise by temperature + top-p
// sampling with run.c's generator; generation stops at BOS or after -n
// positions in all (prompt included), and pieces are printed as run.c's
// safe_printf does. Timing goes to stderr.
//
//===----------------------------------------------------------------------===//

#include "CommandLine.h"
#include "Commands.h"
#include "ModelLoading.h"

#include "quantc/IO/Tokenizer.h"
#include "quantc/Numerics/Sampling.h"

#include <cctype>
#include <chrono>
#include <cstdio>

namespace quantc::tool {

namespace {

const char kHelp[] =
    R"(usage: quantc run MODEL [--tokenizer TOK] [--prompt TEXT] [-n N] [--temp T]

Generates text from MODEL (a checkpoint, an MLIR module from `quantc
import`, or an artifact from `quantc compile`) as llama2.c's run does:
BOS + prompt, then one token at a time until BOS comes out or N positions
(prompt included) are filled. Text goes to stdout, speed to stderr.

options:
  --tokenizer TOK   vocabulary: llama2.c tokenizer .bin or a GGUF (default:
                    the one recorded with the model)
  --prompt TEXT     text to continue (default: none, just BOS)
  -n N              positions in all, prompt included (default 256, at most
                    the model's context length)
  --temp T          temperature; 0 is greedy argmax (default 1.0)
  --topp P          top-p (nucleus) sampling threshold (default 0.9)
  --seed S          sampler seed (default 1: runs are reproducible)
  --quiet           no compile or speed lines on stderr
)";

/// run.c's safe_printf: a lone byte piece is printed only if it is
/// printable or whitespace (raw control bytes would garble the terminal).
void printPiece(const std::string &piece) {
  if (piece.empty())
    return;
  if (piece.size() == 1) {
    unsigned char byte = static_cast<unsigned char>(piece[0]);
    if (!(std::isprint(byte) || std::isspace(byte)))
      return;
  }
  std::fwrite(piece.data(), 1, piece.size(), stdout);
  std::fflush(stdout);
}

} // namespace

int runRun(const std::vector<std::string> &args) {
  std::string model, tokenizerPath, prompt;
  int64_t steps = 256, seed = 1;
  double temperature = 1.0, topP = 0.9;
  bool quiet = false;
  CommandLine line("run", kHelp);
  line.setPositional(model, "model");
  line.addString({"--tokenizer"}, tokenizerPath);
  line.addString({"--prompt"}, prompt);
  line.addInteger({"-n", "--steps"}, steps, 1, int64_t(1) << 30);
  line.addReal({"--temp", "--temperature"}, temperature, 0.0, 100.0);
  line.addReal({"--topp"}, topP, 0.0, 1.0);
  line.addInteger({"--seed"}, seed, 0, INT64_MAX);
  line.addFlag({"--quiet"}, quiet);
  if (std::optional<int> exit = line.parse(args))
    return *exit;

  io::Result<RunnableModel> runnable =
      loadRunnableModel(model, tokenizerPath, quiet);
  if (!runnable)
    return line.inputError(runnable.error());
  const runtime::ModelInterface &shape = runnable->model->getInterface();
  if (tokenizerPath.empty())
    tokenizerPath = shape.tokenizerPath;
  if (tokenizerPath.empty())
    return line.inputError(model +
                           " records no tokenizer: pass --tokenizer TOK");
  io::Result<io::Tokenizer> tokenizer = io::Tokenizer::load(
      tokenizerPath, static_cast<uint32_t>(shape.vocabSize));
  if (!tokenizer)
    return line.inputError(tokenizer.error());

  std::vector<int32_t> promptTokens =
      tokenizer->encode(prompt, /*addBos=*/true);
  steps = std::min(steps, shape.contextLength);
  if (static_cast<int64_t>(promptTokens.size()) > steps)
    return line.inputError("the prompt is " +
                           std::to_string(promptTokens.size()) +
                           " tokens, more than the " + std::to_string(steps) +
                           " positions to run (-n, or the context length)");

  std::unique_ptr<runtime::Session> session = runnable->model->createSession();
  Sampler sampler(static_cast<float>(temperature), static_cast<float>(topP),
                  static_cast<uint64_t>(seed));
  int64_t vocab = shape.vocabSize;
  std::vector<float> logits(promptTokens.size() * vocab);
  auto start = std::chrono::steady_clock::now();
  // The whole prompt in one call; its last row predicts the first new token.
  int64_t promptCount = static_cast<int64_t>(promptTokens.size());
  if (io::Status status =
          session->forward(promptTokens.data(), promptCount, 0, logits.data());
      !status)
    return line.inputError(status.error());
  int32_t token = promptTokens.back();
  int64_t generated = 0;
  for (int64_t position = promptCount - 1; position < steps; ++position) {
    if (position > promptCount - 1) {
      if (io::Status status =
              session->forward(&token, 1, position, logits.data());
          !status)
        return line.inputError(status.error());
    }
    const float *row = position == promptCount - 1
                           ? logits.data() + (promptCount - 1) * vocab
                           : logits.data();
    int32_t next = sampler.sample(row, vocab);
    if (next == tokenizer->getBosId())
      break;
    printPiece(tokenizer->decode(token, next));
    token = next;
    ++generated;
  }
  std::printf("\n");
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (!quiet)
    std::fprintf(stderr,
                 "%lld prompt + %lld generated tokens in %.3f s (%.1f tok/s, "
                 "%s; compile %.2f s)\n",
                 static_cast<long long>(promptCount),
                 static_cast<long long>(generated), seconds,
                 seconds > 0 ? (promptCount + generated) / seconds : 0.0,
                 runnable->how.c_str(), runnable->compileSeconds);
  return 0;
}

} // namespace quantc::tool
