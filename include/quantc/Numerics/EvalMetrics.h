//===- EvalMetrics.h - perplexity, KL divergence, top-1 ---------*- C++ -*-===//
//
// What `quantc eval` reports about a model on a token stream: the mean
// negative log-likelihood of each next token and its perplexity, and, given
// a reference model's logits for the same positions, the mean KL divergence
// from the reference and how often both pick the same top token, as
// llama.cpp's `perplexity --kl-divergence` does. Everything is computed in
// double from float logits, and sums are compensated, so that a whole
// evaluation (~300k positions) does not drift with summation order.
//
// The window plan splits a stream into the protocol's evaluation windows
// (see ../shared/data/golden/stories260K/README.md). MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_EVALMETRICS_H
#define QUANTC_NUMERICS_EVALMETRICS_H

#include <cstdint>
#include <optional>
#include <vector>

namespace quantc {

/// -log softmax(logits)[target] in nats, computed stably (max-subtracted
/// log-sum-exp). NaN when `vocab` < 1 or `target` is not in [0, vocab);
/// non-finite logits give a non-finite result (a target at -inf: +inf).
double tokenNLL(const float *logits, int64_t vocab, int32_t target);

/// KL(P_ref || P_model) = sum_i p_ref_i (log p_ref_i - log p_model_i) in
/// nats, the softmaxes of two rows of logits. Terms with p_ref_i = 0 are 0;
/// rounding residue below 0 is reported as 0 (KL is never negative). NaN
/// when `vocab` < 1.
double klDivergence(const float *referenceLogits, const float *modelLogits,
                    int64_t vocab);

/// A sum of doubles with Neumaier's compensation: the rounding error of
/// each addition is carried separately, so that the total's error stays
/// near one rounding instead of growing with the count of terms.
class CompensatedSum {
public:
  void add(double value);
  double get() const { return sum + compensation; }

private:
  double sum = 0.0;
  double compensation = 0.0;
};

/// The scored positions of one window.
struct WindowScore {
  int64_t tokenCount = 0;
  /// At most a context's worth of terms: a plain double sum is exact enough.
  double nllSum = 0.0;

  /// NaN for an empty window.
  double getMeanNLL() const;
};

/// Totals over the scored positions of an evaluation, one position at a
/// time. Means of nothing are NaN.
class EvalAccumulator {
public:
  /// Every logits row holds `vocab` values.
  explicit EvalAccumulator(int64_t vocab) : vocab(vocab) {}

  /// Starts a window; the positions added after it count towards it as
  /// well as towards the totals. Positions added before the first window
  /// count towards the totals only.
  void beginWindow();

  /// Scores the prediction `logits` of next token `target`; with
  /// `referenceLogits` (the reference model's row for the same position),
  /// also the KL divergence and top-1 agreement. Returns false, recording
  /// nothing, when `target` is not a token of the vocabulary.
  bool add(const float *logits, int32_t target,
           const float *referenceLogits = nullptr);

  int64_t getTokenCount() const { return tokenCount; }
  double getMeanNLL() const;
  /// exp(mean NLL).
  double getPerplexity() const;

  /// Positions added with reference logits.
  int64_t getReferenceCount() const { return referenceCount; }
  double getMeanKL() const;
  /// The fraction of reference positions whose argmax (first maximum)
  /// equals the reference's.
  double getTop1Agreement() const;

  const std::vector<WindowScore> &getWindows() const { return windows; }

private:
  int64_t vocab;
  int64_t tokenCount = 0;
  CompensatedSum nllSum;
  int64_t referenceCount = 0;
  CompensatedSum klSum;
  int64_t top1Matches = 0;
  std::vector<WindowScore> windows;
};

/// Window w of an evaluation: the model reads tokens [start, start +
/// inputCount) from an empty cache and each of its predictions is scored
/// against the next token, i.e. targets [start + 1, start + inputCount].
struct EvalWindow {
  int64_t start = 0;
  int64_t inputCount = 0;

  bool operator==(const EvalWindow &other) const {
    return start == other.start && inputCount == other.inputCount;
  }
};

/// The protocol's windows over `tokenCount` tokens with context length
/// `contextLength`: window w starts at contextLength * w and reads up to
/// contextLength tokens, the last window fewer, so that every token but the
/// first is a target exactly once (tokenCount - 1 scored in all). At most
/// `maxWindows` windows (the first ones) when given. Empty for fewer than
/// 2 tokens, a context length below 1, or a limit below 1.
std::vector<EvalWindow>
planEvalWindows(int64_t tokenCount, int64_t contextLength,
                std::optional<int64_t> maxWindows = std::nullopt);

} // namespace quantc

#endif // QUANTC_NUMERICS_EVALMETRICS_H
