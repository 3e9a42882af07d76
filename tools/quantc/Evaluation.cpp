//===- Evaluation.cpp - scoring a model on text ---------------------------===//

#include "Evaluation.h"

#include "quantc/IO/Tokenizer.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace quantc::tool {

namespace {
std::string trimWhitespace(const std::string &text) {
  const char *space = " \t\n\r\f\v";
  size_t first = text.find_first_not_of(space);
  if (first == std::string::npos)
    return "";
  size_t last = text.find_last_not_of(space);
  return text.substr(first, last - first + 1);
}

double secondsBetween(std::chrono::steady_clock::time_point start,
                      std::chrono::steady_clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}
} // namespace

io::Result<std::vector<int32_t>> tokenizeTextFile(const std::string &path,
                                                  const std::string &tokenizer,
                                                  int64_t vocabSize) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    return io::makeError(path, ": cannot read");
  std::stringstream buffer;
  buffer << file.rdbuf();
  std::string text = trimWhitespace(buffer.str());
  if (text.empty())
    return io::makeError(path, ": no text");
  if (tokenizer.empty())
    return io::makeError("no tokenizer to read ", path,
                         " with: pass --tokenizer TOK");
  io::Result<io::Tokenizer> loaded =
      io::Tokenizer::load(tokenizer, static_cast<uint32_t>(vocabSize));
  if (!loaded)
    return loaded.takeError();
  return loaded->encode(text, /*addBos=*/true);
}

io::Result<TextScore>
scoreTokens(const runtime::Model &model, const runtime::Model *reference,
            const std::vector<int32_t> &tokens, int64_t contextLength,
            std::optional<int64_t> maxWindows, const char *progressPrefix) {
  int64_t vocab = model.getInterface().vocabSize;
  TextScore score{EvalAccumulator(vocab)};
  score.contextLength = contextLength;
  std::vector<EvalWindow> windows = planEvalWindows(
      static_cast<int64_t>(tokens.size()), contextLength, maxWindows);
  if (windows.empty())
    return io::makeError("the text is too short to score a prediction");
  score.windowCount = windows.size();

  std::unique_ptr<runtime::Session> session = model.createSession();
  std::unique_ptr<runtime::Session> referenceSession =
      reference ? reference->createSession() : nullptr;
  std::vector<float> logits(contextLength * vocab);
  std::vector<float> referenceLogits(reference ? contextLength * vocab : 0);
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
      return status.takeError();
    score.modelSeconds +=
        secondsBetween(windowStart, std::chrono::steady_clock::now());
    if (referenceSession) {
      if (io::Status status = referenceSession->forward(
              input, window.inputCount, 0, referenceLogits.data());
          !status)
        return io::makeError("reference: ", status.error());
    }
    score.accumulator.beginWindow();
    for (int64_t t = 0; t < window.inputCount; ++t)
      score.accumulator.add(logits.data() + t * vocab, input[t + 1],
                            reference ? referenceLogits.data() + t * vocab
                                      : nullptr);
    if (progressPrefix) {
      double mean = score.accumulator.getWindows().back().getMeanNLL();
      std::fprintf(stderr, "%s[%zu/%zu] window nll=%.6f  running ppl=%.4f\n",
                   progressPrefix, w + 1, windows.size(), mean,
                   score.accumulator.getPerplexity());
    }
  }
  score.totalSeconds = secondsBetween(start, std::chrono::steady_clock::now());
  return score;
}

} // namespace quantc::tool
