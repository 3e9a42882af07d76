//===- SamplingTest.cpp - run.c's greedy, temperature and top-p sampling --===//

#include "quantc/Numerics/Sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace quantc;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> randomRow(std::mt19937 &rng, size_t vocab) {
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> row(vocab);
  for (float &value : row)
    value = normal(rng);
  return row;
}

TEST(Sampling, ArgmaxTakesTheFirstMaximum) {
  std::vector<float> ties = {1, 3, 3, 2};
  EXPECT_EQ(argmax(ties.data(), 4), 1);
  EXPECT_EQ(argmax(ties.data(), 1), 0);
  EXPECT_EQ(argmax(ties.data(), 0), -1);
  EXPECT_EQ(argmax(ties.data(), -5), -1);
  std::vector<float> masked = {-kInf, -kInf};
  EXPECT_EQ(argmax(masked.data(), 2), 0);
  // As in run.c: NaN compares greater than nothing, and nothing than it.
  std::vector<float> nanLater = {1, kNaN, 2};
  EXPECT_EQ(argmax(nanLater.data(), 3), 2);
  std::vector<float> nanFirst = {kNaN, 5};
  EXPECT_EQ(argmax(nanFirst.data(), 2), 0);
}

TEST(Sampling, XorShiftDrawsRunCsSequence) {
  // random_u32 from run.c with the state seeded 42, worked out separately.
  XorShiftRng rng(42);
  const uint32_t expected[] = {1456360119u, 3359763283u, 3393612768u,
                               4054632243u, 3283045847u};
  for (uint32_t value : expected)
    EXPECT_EQ(rng.nextU32(), value);
  XorShiftRng floats(42);
  for (uint32_t value : expected)
    EXPECT_EQ(floats.nextF32(), static_cast<float>(value >> 8) / 16777216.0f);
  EXPECT_EQ(XorShiftRng(1).nextU32(), 1206177355u);

  // Seed 0 would draw 0 forever.
  XorShiftRng zero(0);
  bool allZero = true;
  for (int i = 0; i < 4; ++i)
    allZero &= zero.nextU32() == 0;
  EXPECT_FALSE(allZero);
  for (int i = 0; i < 10000; ++i) {
    float value = floats.nextF32();
    ASSERT_TRUE(value >= 0.0f && value < 1.0f) << value;
  }
}

TEST(Sampling, MultinomialWalksTheCdf) {
  std::vector<float> probabilities = {0.25f, 0.25f, 0.5f};
  EXPECT_EQ(sampleMultinomial(probabilities.data(), 3, 0.0f), 0);
  EXPECT_EQ(sampleMultinomial(probabilities.data(), 3, 0.3f), 1);
  EXPECT_EQ(sampleMultinomial(probabilities.data(), 3, 0.74f), 2);
  // A total short of 1 leaves the last index for a coin beyond it.
  std::vector<float> shortfall = {0.2f, 0.2f};
  EXPECT_EQ(sampleMultinomial(shortfall.data(), 2, 0.5f), 1);
  EXPECT_EQ(sampleMultinomial(shortfall.data(), 0, 0.5f), -1);
}

TEST(Sampling, TopPKeepsTheSmallestNucleusAboveP) {
  // Cutoff (1 - 0.7) / 3 = 0.1 drops index 0; sorted 0.5 (1), 0.3 (3),
  // 0.15 (2), whose running sum first exceeds 0.7 at 0.8: index 2 is out
  // and the coin scales to 0.8.
  std::vector<float> probabilities = {0.05f, 0.5f, 0.15f, 0.3f};
  EXPECT_EQ(sampleTopP(probabilities.data(), 4, 0.7f, 0.0f), 1);
  EXPECT_EQ(sampleTopP(probabilities.data(), 4, 0.7f, 0.6f), 1);
  EXPECT_EQ(sampleTopP(probabilities.data(), 4, 0.7f, 0.63f), 3);
  EXPECT_EQ(sampleTopP(probabilities.data(), 4, 0.7f, 0.99f), 3);
  // Equal probabilities stay in index order.
  std::vector<float> ties = {0.4f, 0.4f, 0.2f};
  EXPECT_EQ(sampleTopP(ties.data(), 3, 0.5f, 0.4f), 0);
  EXPECT_EQ(sampleTopP(ties.data(), 3, 0.5f, 0.6f), 1);
  // One token, or nothing past the cutoff: argmax rather than run.c's
  // out-of-bounds read.
  std::vector<float> one = {1.0f};
  EXPECT_EQ(sampleTopP(one.data(), 1, 0.9f, 0.5f), 0);
  std::vector<float> nans = {kNaN, kNaN};
  EXPECT_EQ(sampleTopP(nans.data(), 2, 0.9f, 0.5f), 0);
  EXPECT_EQ(sampleTopP(nans.data(), 0, 0.9f, 0.5f), -1);
}

TEST(Sampling, TemperatureZeroIsGreedy) {
  std::mt19937 rng(5);
  Sampler greedy(0.0f, 0.9f, 77);
  Sampler negative(-1.0f, 0.9f, 77);
  Sampler notANumber(kNaN, 0.9f, 77);
  EXPECT_EQ(negative.getTemperature(), 0.0f);
  EXPECT_EQ(notANumber.getTemperature(), 0.0f);
  for (int i = 0; i < 100; ++i) {
    std::vector<float> row = randomRow(rng, 300);
    std::vector<float> copy = row;
    int32_t expected = argmax(row.data(), 300);
    EXPECT_EQ(greedy.sample(row.data(), 300), expected);
    EXPECT_EQ(negative.sample(row.data(), 300), expected);
    EXPECT_EQ(notANumber.sample(row.data(), 300), expected);
    EXPECT_EQ(row, copy);
  }
  EXPECT_EQ(greedy.sample(nullptr, 0), -1);
}

TEST(Sampling, NormalizesTopPAsRunCDoes) {
  EXPECT_EQ(Sampler(1.0f, 1.5f, 1).getTopP(), 0.9f);
  EXPECT_EQ(Sampler(1.0f, -0.1f, 1).getTopP(), 0.9f);
  EXPECT_EQ(Sampler(1.0f, kNaN, 1).getTopP(), 0.9f);
  EXPECT_EQ(Sampler(1.0f, 0.0f, 1).getTopP(), 0.0f);
  EXPECT_EQ(Sampler(1.0f, 1.0f, 1).getTopP(), 1.0f);
}

TEST(Sampling, ComposesRunCsSteps) {
  // run.c's sample(): divide by the temperature, float softmax, one coin,
  // then top-p or the whole distribution.
  std::mt19937 rng(9);
  const float temperature = 0.8f;
  for (float topP : {0.9f, 1.0f, 0.0f}) {
    Sampler sampler(temperature, topP, 2024);
    XorShiftRng coins(2024);
    for (int i = 0; i < 200; ++i) {
      std::vector<float> row = randomRow(rng, 64);
      std::vector<float> probabilities = row;
      float max = probabilities[0];
      for (float &value : probabilities) {
        value /= temperature;
        max = std::max(max, value);
      }
      float sum = 0.0f;
      for (float &value : probabilities) {
        value = std::exp(value - max);
        sum += value;
      }
      for (float &value : probabilities)
        value /= sum;
      float coin = coins.nextF32();
      int32_t expected =
          topP > 0.0f && topP < 1.0f
              ? sampleTopP(probabilities.data(), 64, topP, coin)
              : sampleMultinomial(probabilities.data(), 64, coin);
      ASSERT_EQ(sampler.sample(row.data(), 64), expected)
          << "top-p " << topP << " draw " << i;
    }
  }
}

std::vector<int> drawCounts(float topP, int draws) {
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f),
                               std::log(0.05f)};
  Sampler sampler(1.0f, topP, 31337);
  std::vector<int> counts(4, 0);
  for (int i = 0; i < draws; ++i)
    ++counts[sampler.sample(logits.data(), 4)];
  return counts;
}

TEST(Sampling, TopPTruncatesTheTail) {
  const int draws = 20000;
  // 0.5 + 0.3 is the smallest head above 0.7.
  std::vector<int> nucleus = drawCounts(0.7f, draws);
  EXPECT_EQ(nucleus[2], 0);
  EXPECT_EQ(nucleus[3], 0);
  EXPECT_NEAR(nucleus[0] / double(draws), 0.5 / 0.8, 0.02);
  std::vector<int> whole = drawCounts(1.0f, draws);
  EXPECT_NEAR(whole[0] / double(draws), 0.5, 0.02);
  EXPECT_NEAR(whole[3] / double(draws), 0.05, 0.01);
}

TEST(Sampling, SeededRunsAreReproducible) {
  std::mt19937 rng(13);
  std::vector<std::vector<float>> rows;
  for (int i = 0; i < 500; ++i)
    rows.push_back(randomRow(rng, 100));
  auto run = [&](uint64_t seed) {
    Sampler sampler(1.0f, 0.95f, seed);
    std::vector<int32_t> tokens;
    for (const std::vector<float> &row : rows)
      tokens.push_back(sampler.sample(row.data(), 100));
    return tokens;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
  EXPECT_EQ(run(0), run(0));
}

} // namespace
