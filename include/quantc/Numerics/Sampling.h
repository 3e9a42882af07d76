//===- Sampling.h - choosing the next token from logits ---------*- C++ -*-===//
//
// karpathy/llama2.c run.c's samplers: greedy argmax, and temperature with
// optional top-p (nucleus) sampling driven by run.c's xorshift* generator,
// in run.c's float arithmetic, so that a seeded `quantc run` is
// reproducible and makes run.c's choices. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_SAMPLING_H
#define QUANTC_NUMERICS_SAMPLING_H

#include <cstdint>
#include <vector>

namespace quantc {

/// The index of the first largest of `values`, as run.c's sample_argmax:
/// later equal values do not win, and NaN never wins unless it comes first
/// (nothing compares greater). -1 when `count` < 1.
int32_t argmax(const float *values, int64_t count);

/// run.c's xorshift* generator (random_u32 and random_f32).
class XorShiftRng {
public:
  /// Seed 0 is a fixed point of xorshift (every draw would be 0); run.c
  /// replaces it with the clock, this with a fixed non-zero state so that
  /// it stays reproducible.
  explicit XorShiftRng(uint64_t seed);

  uint32_t nextU32();
  /// Uniform in [0, 1): the top 24 bits of nextU32().
  float nextF32();

private:
  uint64_t state;
};

/// run.c's sample_mult: the first index at which the running float sum of
/// `probabilities` exceeds `coin`, or the last index when none does (float
/// rounding can leave the total below 1). -1 when `count` < 1.
int32_t sampleMultinomial(const float *probabilities, int64_t count,
                          float coin);

/// run.c's sample_topp: among the tokens with probability at least
/// (1 - topP) / (count - 1) (which cannot be in the nucleus, so need not be
/// sorted), the most probable first, keep the shortest prefix whose sum
/// exceeds `topP` (all of them when none does) and sample it with `coin`
/// scaled to that sum. Ties keep index order (run.c's qsort leaves them to
/// the C library). Falls back to argmax when no token passes the cutoff
/// (one token, or NaN probabilities), where run.c would read out of bounds.
/// -1 when `count` < 1.
int32_t sampleTopP(const float *probabilities, int64_t count, float topP,
                   float coin);

/// run.c's sample(): greedy at temperature 0; otherwise softmax(logits /
/// temperature) sampled with one draw of the generator, through top-p when
/// 0 < topP < 1 and over the whole distribution otherwise.
class Sampler {
public:
  /// Normalizes its arguments as run.c's main does: a negative temperature
  /// becomes 0 and a top-p outside [0, 1] becomes 0.9; NaN counts as out
  /// of range for both.
  Sampler(float temperature, float topP, uint64_t seed);

  /// The next token for a row of `vocab` logits (left unchanged); -1 when
  /// `vocab` < 1.
  int32_t sample(const float *logits, int64_t vocab);

  float getTemperature() const { return temperature; }
  float getTopP() const { return topP; }

private:
  float temperature;
  float topP;
  XorShiftRng rng;
  /// Softmax probabilities, reused across calls.
  std::vector<float> probabilities;
};

} // namespace quantc

#endif // QUANTC_NUMERICS_SAMPLING_H
