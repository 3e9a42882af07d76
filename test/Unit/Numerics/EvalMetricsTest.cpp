//===- EvalMetricsTest.cpp - NLL, KL divergence, windows ------------------===//

#include "Golden.h"

#include "quantc/Numerics/EvalMetrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace quantc;
using namespace quantc::test;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> randomRow(std::mt19937 &rng, size_t vocab, float spread) {
  std::normal_distribution<float> normal(0.0f, spread);
  std::vector<float> row(vocab);
  for (float &value : row)
    value = normal(rng);
  return row;
}

TEST(EvalMetrics, TokenNLLIsMinusLogSoftmax) {
  std::vector<float> even = {0, 0};
  EXPECT_DOUBLE_EQ(tokenNLL(even.data(), 2, 0), std::log(2.0));
  std::vector<float> ramp = {1, 2, 3};
  // log(e + e^2 + e^3) - 3 = log(1 + e^-1 + e^-2).
  EXPECT_NEAR(tokenNLL(ramp.data(), 3, 2), 0.40760596444438, 1e-13);
  EXPECT_NEAR(tokenNLL(ramp.data(), 3, 0), 2.40760596444438, 1e-13);
  std::vector<float> quarter = {0, static_cast<float>(std::log(3.0))};
  EXPECT_NEAR(tokenNLL(quarter.data(), 2, 1), -std::log(0.75), 1e-7);
  // Without the max subtracted, exp(1e4) would overflow.
  std::vector<float> huge = {1e4f, 0};
  EXPECT_DOUBLE_EQ(tokenNLL(huge.data(), 2, 1), 1e4);
  EXPECT_DOUBLE_EQ(tokenNLL(huge.data(), 2, 0), 0.0);
  std::vector<float> masked = {0, -kInf};
  EXPECT_EQ(tokenNLL(masked.data(), 2, 0), 0.0);
  EXPECT_EQ(tokenNLL(masked.data(), 2, 1),
            std::numeric_limits<double>::infinity());

  EXPECT_TRUE(std::isnan(tokenNLL(ramp.data(), 3, 3)));
  EXPECT_TRUE(std::isnan(tokenNLL(ramp.data(), 3, -1)));
  EXPECT_TRUE(std::isnan(tokenNLL(ramp.data(), 0, 0)));
  std::vector<float> nan = {0, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_TRUE(std::isnan(tokenNLL(nan.data(), 2, 0)));
}

TEST(EvalMetrics, ScoresDoNotDependOnALogitOffset) {
  std::mt19937 rng(1);
  for (int i = 0; i < 50; ++i) {
    std::vector<float> row = randomRow(rng, 512, 4.0f);
    std::vector<float> reference = randomRow(rng, 512, 4.0f);
    std::vector<float> shifted = row, shiftedReference = reference;
    // A power of two well above the logits keeps the shifted values exact
    // to a few ulps of the originals; the scores must agree to that.
    for (float &value : shifted)
      value += 64.0f;
    for (float &value : shiftedReference)
      value -= 32.0f;
    int32_t target = static_cast<int32_t>(rng() % 512);
    EXPECT_NEAR(tokenNLL(row.data(), 512, target),
                tokenNLL(shifted.data(), 512, target), 1e-4);
    EXPECT_NEAR(klDivergence(reference.data(), row.data(), 512),
                klDivergence(shiftedReference.data(), shifted.data(), 512),
                1e-4);
  }
  std::vector<float> ramp = {1, 2, 3}, shifted = {1025, 1026, 1027};
  EXPECT_NEAR(tokenNLL(ramp.data(), 3, 1), tokenNLL(shifted.data(), 3, 1),
              1e-14);
}

TEST(EvalMetrics, KLDivergenceFromTheReference) {
  // P = (1/2, 1/2), Q = (1/4, 3/4): KL = 1/2 log 2 + 1/2 log 2/3.
  std::vector<float> reference = {0, 0};
  std::vector<float> model = {0, static_cast<float>(std::log(3.0))};
  EXPECT_NEAR(klDivergence(reference.data(), model.data(), 2),
              0.5 * std::log(4.0 / 3.0), 1e-7);
  // Q = (1/2, 1/2) against P = (1/4, 3/4): the other direction differs.
  EXPECT_NEAR(klDivergence(model.data(), reference.data(), 2),
              0.25 * std::log(0.5) + 0.75 * std::log(1.5), 1e-7);
  // A token the reference rules out adds nothing; one the model rules out
  // while the reference does not is infinitely surprising.
  std::vector<float> ruledOut = {0, -kInf};
  EXPECT_NEAR(klDivergence(ruledOut.data(), reference.data(), 2), std::log(2.0),
              1e-15);
  EXPECT_EQ(klDivergence(reference.data(), ruledOut.data(), 2),
            std::numeric_limits<double>::infinity());
  EXPECT_EQ(klDivergence(ruledOut.data(), ruledOut.data(), 2), 0.0);
  EXPECT_TRUE(std::isnan(klDivergence(reference.data(), model.data(), 0)));
}

TEST(EvalMetrics, KLDivergenceIsZeroForIdenticalRowsAndNeverNegative) {
  std::mt19937 rng(2);
  for (int i = 0; i < 200; ++i) {
    std::vector<float> row = randomRow(rng, 300, 5.0f);
    EXPECT_EQ(klDivergence(row.data(), row.data(), 300), 0.0);
    // Nearly identical rows have a KL near rounding level, which must not
    // come out negative.
    std::vector<float> nudged = row;
    nudged[rng() % 300] += 1e-6f;
    EXPECT_GE(klDivergence(row.data(), nudged.data(), 300), 0.0);
    std::vector<float> other = randomRow(rng, 300, 5.0f);
    EXPECT_GT(klDivergence(row.data(), other.data(), 300), 0.0);
  }
}

TEST(EvalMetrics, CompensatedSumsDoNotDrift) {
  CompensatedSum cancelling;
  for (double value : {1e16, 1.0, -1e16})
    cancelling.add(value);
  EXPECT_EQ(cancelling.get(), 1.0);

  CompensatedSum tenths;
  double naive = 0.0;
  for (int i = 0; i < 1000000; ++i) {
    tenths.add(0.1);
    naive += 0.1;
  }
  EXPECT_EQ(tenths.get(), 100000.0);
  EXPECT_NE(naive, 100000.0);
}

TEST(EvalMetrics, AccumulatesTotalsWindowsAndReferenceScores) {
  EvalAccumulator eval(2);
  EXPECT_EQ(eval.getTokenCount(), 0);
  EXPECT_TRUE(std::isnan(eval.getMeanNLL()));
  EXPECT_TRUE(std::isnan(eval.getMeanKL()));
  EXPECT_TRUE(std::isnan(eval.getTop1Agreement()));

  std::vector<float> even = {0, 0};
  std::vector<float> favoursOne = {0, static_cast<float>(std::log(3.0))};
  // Before any window: totals only.
  EXPECT_TRUE(eval.add(even.data(), 0));
  eval.beginWindow();
  EXPECT_TRUE(eval.add(favoursOne.data(), 1, even.data()));
  EXPECT_TRUE(eval.add(favoursOne.data(), 0, favoursOne.data()));
  eval.beginWindow();
  EXPECT_TRUE(eval.add(even.data(), 1, favoursOne.data()));
  EXPECT_FALSE(eval.add(even.data(), 2));
  EXPECT_FALSE(eval.add(even.data(), -1, even.data()));

  const double log2 = std::log(2.0), log4 = std::log(4.0);
  const double nll[] = {log2, -std::log(0.75), log4, log2};
  EXPECT_EQ(eval.getTokenCount(), 4);
  EXPECT_NEAR(eval.getMeanNLL(), (nll[0] + nll[1] + nll[2] + nll[3]) / 4, 1e-7);
  EXPECT_NEAR(eval.getPerplexity(), std::exp(eval.getMeanNLL()), 1e-12);

  ASSERT_EQ(eval.getWindows().size(), 2u);
  EXPECT_EQ(eval.getWindows()[0].tokenCount, 2);
  EXPECT_NEAR(eval.getWindows()[0].getMeanNLL(), (nll[1] + nll[2]) / 2, 1e-7);
  EXPECT_EQ(eval.getWindows()[1].tokenCount, 1);
  EXPECT_NEAR(eval.getWindows()[1].getMeanNLL(), nll[3], 1e-7);

  // KL(even || favoursOne), 0, KL(favoursOne || even); the argmax of even
  // is 0 and of favoursOne 1, so only the middle position agrees.
  EXPECT_EQ(eval.getReferenceCount(), 3);
  EXPECT_NEAR(eval.getMeanKL(),
              (0.5 * std::log(4.0 / 3.0) + 0.25 * std::log(0.5) +
               0.75 * std::log(1.5)) /
                  3,
              1e-7);
  EXPECT_DOUBLE_EQ(eval.getTop1Agreement(), 1.0 / 3.0);

  EvalAccumulator noVocabulary(0);
  EXPECT_FALSE(noVocabulary.add(even.data(), 0));
  EXPECT_TRUE(std::isnan(WindowScore().getMeanNLL()));
}

/// The mean NLL that `nll_first16windows.txt` states for window 0.
std::optional<double> goldenWindow0NLL(const std::filesystem::path &path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("window 0:", 0) != 0)
      continue;
    size_t at = line.find("mean_nll ");
    if (at != std::string::npos)
      return std::stod(line.substr(at + 9));
  }
  return std::nullopt;
}

TEST(EvalMetrics, ReproducesTheGoldenWindowNLL) {
  struct Golden {
    const char *model;
    int64_t context;
  };
  for (Golden golden : {Golden{"stories260K", 512}, Golden{"mix3M", 256}}) {
    std::filesystem::path dir = goldenDir(golden.model);
    QUANTC_REQUIRE_GOLDEN(logits, readFloats(dir / "logits_window0.f32"),
                          dir / "logits_window0.f32");
    QUANTC_REQUIRE_GOLDEN(tokenBytes, readBytes(dir / "tokens_first8193.i32"),
                          dir / "tokens_first8193.i32");
    std::optional<double> expected =
        goldenWindow0NLL(dir / "nll_first16windows.txt");
    ASSERT_TRUE(expected) << dir;
    const int64_t vocab = 512, context = golden.context;
    ASSERT_EQ(logits->size(), static_cast<size_t>(context * vocab));
    std::vector<int32_t> tokens(tokenBytes->size() / 4);
    std::memcpy(tokens.data(), tokenBytes->data(), tokens.size() * 4);

    std::vector<EvalWindow> plan =
        planEvalWindows(static_cast<int64_t>(tokens.size()), context, 1);
    ASSERT_EQ(plan.size(), 1u);
    ASSERT_EQ(plan[0].inputCount, context);
    EvalAccumulator eval(vocab);
    eval.beginWindow();
    for (int64_t p = 0; p < plan[0].inputCount; ++p) {
      const float *row = logits->data() + p * vocab;
      ASSERT_TRUE(eval.add(row, tokens[plan[0].start + p + 1], row));
    }
    // The file rounds to 6 decimals.
    EXPECT_NEAR(eval.getWindows()[0].getMeanNLL(), *expected, 1e-6)
        << golden.model;
    EXPECT_NEAR(eval.getMeanNLL(), *expected, 1e-6);
    EXPECT_EQ(eval.getMeanKL(), 0.0);
    EXPECT_EQ(eval.getTop1Agreement(), 1.0);
  }
}

int64_t scoredCount(const std::vector<EvalWindow> &windows) {
  int64_t total = 0;
  for (const EvalWindow &window : windows)
    total += window.inputCount;
  return total;
}

TEST(EvalMetrics, PlansTheProtocolWindows) {
  using Plan = std::vector<EvalWindow>;
  EXPECT_EQ(planEvalWindows(0, 512), Plan{});
  EXPECT_EQ(planEvalWindows(1, 512), Plan{});
  EXPECT_EQ(planEvalWindows(-3, 512), Plan{});
  EXPECT_EQ(planEvalWindows(2, 512), (Plan{{0, 1}}));
  EXPECT_EQ(planEvalWindows(513, 512), (Plan{{0, 512}}));
  EXPECT_EQ(planEvalWindows(514, 512), (Plan{{0, 512}, {512, 1}}));
  EXPECT_EQ(planEvalWindows(1026, 512),
            (Plan{{0, 512}, {512, 512}, {1024, 1}}));
  EXPECT_EQ(planEvalWindows(5, 1), (Plan{{0, 1}, {1, 1}, {2, 1}, {3, 1}}));
  EXPECT_EQ(planEvalWindows(100, 0), Plan{});
  EXPECT_EQ(planEvalWindows(100, -1), Plan{});

  // The whole evaluation text.
  Plan whole = planEvalWindows(297768, 512);
  ASSERT_EQ(whole.size(), 582u);
  EXPECT_EQ(scoredCount(whole), 297767);
  EXPECT_EQ(whole.back(), (EvalWindow{581 * 512, 295}));
  for (size_t w = 0; w + 1 < whole.size(); ++w)
    EXPECT_EQ(whole[w], (EvalWindow{512 * static_cast<int64_t>(w), 512}));

  // The golden files' first 16 windows: 8,192 tokens at 512, 4,096 at 256.
  EXPECT_EQ(scoredCount(planEvalWindows(297768, 512, 16)), 8192);
  EXPECT_EQ(scoredCount(planEvalWindows(8193, 256, 16)), 4096);
  EXPECT_EQ(planEvalWindows(297768, 512, 1000).size(), 582u);
  EXPECT_EQ(planEvalWindows(297768, 512, 0), Plan{});
  EXPECT_EQ(planEvalWindows(297768, 512, -2), Plan{});
  EXPECT_EQ(planEvalWindows(1026, 512, 2), (Plan{{0, 512}, {512, 512}}));
}

} // namespace
