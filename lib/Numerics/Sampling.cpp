//===- Sampling.cpp - choosing the next token from logits -----------------===//

#include "quantc/Numerics/Sampling.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace quantc {

namespace {

/// Any non-zero state will do; this is xorshift*'s multiplier.
constexpr uint64_t kZeroSeedReplacement = 0x2545F4914F6CDD1Dull;

/// run.c's softmax, in float as run.c computes it.
void softmaxInPlace(std::vector<float> &values) {
  float max = values[0];
  for (float value : values)
    if (value > max)
      max = value;
  float sum = 0.0f;
  for (float &value : values) {
    value = std::exp(value - max);
    sum += value;
  }
  for (float &value : values)
    value /= sum;
}

} // namespace

int32_t argmax(const float *values, int64_t count) {
  if (count < 1)
    return -1;
  int64_t best = 0;
  for (int64_t i = 1; i < count; ++i)
    if (values[i] > values[best])
      best = i;
  return static_cast<int32_t>(best);
}

XorShiftRng::XorShiftRng(uint64_t seed)
    : state(seed != 0 ? seed : kZeroSeedReplacement) {}

uint32_t XorShiftRng::nextU32() {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return static_cast<uint32_t>((state * 0x2545F4914F6CDD1Dull) >> 32);
}

float XorShiftRng::nextF32() {
  return static_cast<float>(nextU32() >> 8) / 16777216.0f;
}

int32_t sampleMultinomial(const float *probabilities, int64_t count,
                          float coin) {
  if (count < 1)
    return -1;
  float cdf = 0.0f;
  for (int64_t i = 0; i < count; ++i) {
    cdf += probabilities[i];
    if (coin < cdf)
      return static_cast<int32_t>(i);
  }
  return static_cast<int32_t>(count - 1);
}

int32_t sampleTopP(const float *probabilities, int64_t count, float topP,
                   float coin) {
  if (count < 1)
    return -1;
  const float cutoff = (1.0f - topP) / static_cast<float>(count - 1);
  std::vector<std::pair<float, int32_t>> candidates;
  for (int64_t i = 0; i < count; ++i)
    if (probabilities[i] >= cutoff)
      candidates.emplace_back(probabilities[i], static_cast<int32_t>(i));
  if (candidates.empty())
    return argmax(probabilities, count);
  // Most probable first, equal ones in index order: a total order, so the
  // result does not depend on the sort algorithm.
  std::sort(
      candidates.begin(), candidates.end(), [](const auto &a, const auto &b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });

  float cumulative = 0.0f;
  size_t last = candidates.size() - 1;
  for (size_t i = 0; i < candidates.size(); ++i) {
    cumulative += candidates[i].first;
    if (cumulative > topP) {
      last = i;
      break;
    }
  }
  const float r = coin * cumulative;
  float cdf = 0.0f;
  for (size_t i = 0; i <= last; ++i) {
    cdf += candidates[i].first;
    if (r < cdf)
      return candidates[i].second;
  }
  return candidates[last].second;
}

Sampler::Sampler(float temperature, float topP, uint64_t seed)
    : temperature(temperature >= 0.0f ? temperature : 0.0f),
      topP(topP >= 0.0f && topP <= 1.0f ? topP : 0.9f), rng(seed) {}

int32_t Sampler::sample(const float *logits, int64_t vocab) {
  if (vocab < 1)
    return -1;
  if (temperature == 0.0f)
    return argmax(logits, vocab);
  probabilities.assign(logits, logits + vocab);
  for (float &value : probabilities)
    value /= temperature;
  softmaxInPlace(probabilities);
  const float coin = rng.nextF32();
  if (topP <= 0.0f || topP >= 1.0f)
    return sampleMultinomial(probabilities.data(), vocab, coin);
  return sampleTopP(probabilities.data(), vocab, topP, coin);
}

} // namespace quantc
