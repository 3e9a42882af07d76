//===- Evaluation.h - scoring a model on text, shared by eval and quantize
//-===//
//
// The protocol of shared/data/golden/stories260K/README.md: the text
// (surrounding whitespace stripped) as [BOS] + encode(text), in windows of
// `ctx` tokens, each run from an empty KV cache, every next-token prediction
// scored; with a reference model, KL(reference || model) and top-1
// agreement at every position, as llama.cpp's `--kl-divergence` reports.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_TOOLS_QUANTC_EVALUATION_H
#define QUANTC_TOOLS_QUANTC_EVALUATION_H

#include "quantc/IO/Result.h"
#include "quantc/Numerics/EvalMetrics.h"
#include "quantc/Runtime/Model.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace quantc::tool {

/// Reads a UTF-8 text file and tokenizes it as [BOS] + encode(trimmed text).
/// Errors name the file: unreadable, empty, or a tokenizer that does not
/// match the vocabulary.
io::Result<std::vector<int32_t>> tokenizeTextFile(const std::string &path,
                                                  const std::string &tokenizer,
                                                  int64_t vocabSize);

struct TextScore {
  EvalAccumulator accumulator;
  int64_t contextLength = 0;
  size_t windowCount = 0;
  /// Time inside the model's forward calls (not the reference's).
  double modelSeconds = 0;
  double totalSeconds = 0;
};

/// Scores `tokens` with `model` (and `reference`, when given) window by
/// window. A non-null `progressPrefix` starts one line per window on stderr.
io::Result<TextScore>
scoreTokens(const runtime::Model &model, const runtime::Model *reference,
            const std::vector<int32_t> &tokens, int64_t contextLength,
            std::optional<int64_t> maxWindows, const char *progressPrefix);

} // namespace quantc::tool

#endif // QUANTC_TOOLS_QUANTC_EVALUATION_H
