//===- EvalMetrics.cpp - perplexity, KL divergence, top-1 -----------------===//

#include "quantc/Numerics/EvalMetrics.h"

#include "quantc/Numerics/Sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace quantc {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// The largest logit and log(sum exp(logit - largest)), so that log
/// softmax(x)_i = x_i - max - logSum. NaN logits are skipped by the max and
/// poison the sum.
struct LogSoftmaxShift {
  double max;
  double logSum;

  LogSoftmaxShift(const float *logits, int64_t vocab) {
    max = logits[0];
    for (int64_t i = 1; i < vocab; ++i)
      max = std::max<double>(max, logits[i]);
    double sum = 0.0;
    for (int64_t i = 0; i < vocab; ++i)
      sum += std::exp(static_cast<double>(logits[i]) - max);
    logSum = std::log(sum);
  }

  double logProbability(float logit) const {
    return static_cast<double>(logit) - max - logSum;
  }
};

} // namespace

double tokenNLL(const float *logits, int64_t vocab, int32_t target) {
  if (vocab < 1 || target < 0 || target >= vocab)
    return kNaN;
  return -LogSoftmaxShift(logits, vocab).logProbability(logits[target]);
}

double klDivergence(const float *referenceLogits, const float *modelLogits,
                    int64_t vocab) {
  if (vocab < 1)
    return kNaN;
  LogSoftmaxShift reference(referenceLogits, vocab);
  LogSoftmaxShift model(modelLogits, vocab);
  double kl = 0.0;
  for (int64_t i = 0; i < vocab; ++i) {
    double logP = reference.logProbability(referenceLogits[i]);
    double p = std::exp(logP);
    // 0 log 0 = 0; skipping also avoids -inf - -inf where both rows mask.
    if (p == 0.0)
      continue;
    kl += p * (logP - model.logProbability(modelLogits[i]));
  }
  // Not std::max, which would turn NaN into 0.
  return kl < 0.0 ? 0.0 : kl;
}

void CompensatedSum::add(double value) {
  double total = sum + value;
  if (std::abs(sum) >= std::abs(value))
    compensation += (sum - total) + value;
  else
    compensation += (value - total) + sum;
  sum = total;
}

double WindowScore::getMeanNLL() const {
  return tokenCount == 0 ? kNaN : nllSum / static_cast<double>(tokenCount);
}

void EvalAccumulator::beginWindow() { windows.emplace_back(); }

bool EvalAccumulator::add(const float *logits, int32_t target,
                          const float *referenceLogits) {
  if (vocab < 1 || target < 0 || target >= vocab)
    return false;
  double nll = tokenNLL(logits, vocab, target);
  ++tokenCount;
  nllSum.add(nll);
  if (!windows.empty()) {
    ++windows.back().tokenCount;
    windows.back().nllSum += nll;
  }
  if (referenceLogits) {
    ++referenceCount;
    klSum.add(klDivergence(referenceLogits, logits, vocab));
    top1Matches += argmax(logits, vocab) == argmax(referenceLogits, vocab);
  }
  return true;
}

double EvalAccumulator::getMeanNLL() const {
  return tokenCount == 0 ? kNaN
                         : nllSum.get() / static_cast<double>(tokenCount);
}

double EvalAccumulator::getPerplexity() const { return std::exp(getMeanNLL()); }

double EvalAccumulator::getMeanKL() const {
  return referenceCount == 0
             ? kNaN
             : klSum.get() / static_cast<double>(referenceCount);
}

double EvalAccumulator::getTop1Agreement() const {
  return referenceCount == 0 ? kNaN
                             : static_cast<double>(top1Matches) /
                                   static_cast<double>(referenceCount);
}

std::vector<EvalWindow> planEvalWindows(int64_t tokenCount,
                                        int64_t contextLength,
                                        std::optional<int64_t> maxWindows) {
  std::vector<EvalWindow> windows;
  if (tokenCount < 2 || contextLength < 1)
    return windows;
  const int64_t targets = tokenCount - 1;
  int64_t count = (targets - 1) / contextLength + 1;
  if (maxWindows)
    count = std::min(count, std::max<int64_t>(*maxWindows, 0));
  windows.reserve(static_cast<size_t>(count));
  for (int64_t w = 0; w < count; ++w) {
    int64_t start = w * contextLength;
    windows.push_back({start, std::min(contextLength, targets - start)});
  }
  return windows;
}

} // namespace quantc
