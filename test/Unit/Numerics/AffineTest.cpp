//===- AffineTest.cpp - integer affine quantization -----------------------===//

#include "quantc/Numerics/Affine.h"

#include "Golden.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <random>

using namespace quantc;

namespace {

TEST(Affine, StorageRanges) {
  auto range = [](unsigned bits, bool isSigned, bool reduce, bool narrow) {
    IntRange r = storageRange({bits, isSigned, false, reduce, narrow});
    return std::make_pair(r.min, r.max);
  };
  EXPECT_EQ(range(8, true, false, false), std::make_pair(-128, 127));
  EXPECT_EQ(range(8, false, false, false), std::make_pair(0, 255));
  EXPECT_EQ(range(8, true, true, false), std::make_pair(-64, 63));
  EXPECT_EQ(range(8, false, true, false), std::make_pair(0, 127));
  EXPECT_EQ(range(8, true, false, true), std::make_pair(-127, 127));
  EXPECT_EQ(range(4, true, false, false), std::make_pair(-8, 7));
  EXPECT_EQ(range(4, false, false, false), std::make_pair(0, 15));
  EXPECT_EQ(range(2, true, false, false), std::make_pair(-2, 1));
  EXPECT_EQ(range(3, true, false, true), std::make_pair(-3, 3));
}

TEST(Affine, SymmetricInt8DividesBy127Point5) {
  auto p = computeAffineParams(-1.0f, 2.55f, {8, true, true});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->scale, 2.55f / 127.5f);
  EXPECT_EQ(p->zeroPoint, 0);
  auto u = computeAffineParams(-1.0f, 2.55f, {8, false, true});
  ASSERT_TRUE(u);
  EXPECT_EQ(u->zeroPoint, 128);
}

TEST(Affine, RangeAlwaysContainsZero) {
  // All-positive data: min is pulled down to 0, so 0 is exactly
  // representable (zero padding stays exact).
  auto p = computeAffineParams(3.0f, 5.1f, {8, false, false});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->zeroPoint, 0);
  EXPECT_EQ(p->scale, 5.1f / 255.0f);
  EXPECT_EQ(dequantizeAffine(quantizeAffine(0.0f, *p, {0, 255}), *p), 0.0f);
}

TEST(Affine, DegenerateRangesUseTheEpsilonScale) {
  auto p = computeAffineParams(0.0f, 0.0f, {8, true, false});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->scale, kMinScale);
  EXPECT_EQ(p->zeroPoint, -128);
}

TEST(Affine, RefusesNonFiniteAndInvertedRanges) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  float inf = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(computeAffineParams(nan, 1.0f, {}));
  EXPECT_FALSE(computeAffineParams(-inf, 1.0f, {}));
  EXPECT_FALSE(computeAffineParams(2.0f, 1.0f, {}));
  float data[] = {1.0f, nan, 2.0f};
  EXPECT_FALSE(finiteMinMax(data, 3));
  EXPECT_FALSE(finiteMinMax(data, 0));
  EXPECT_FALSE(computeGroupParams(data, 1, 3, 0, {}));
}

TEST(Affine, QuantizeRoundsHalfToEvenAndClamps) {
  AffineParams p{0.5f, 3};
  IntRange r{-128, 127};
  EXPECT_EQ(quantizeAffine(0.25f, p, r), 3);  // 0.5 -> 0
  EXPECT_EQ(quantizeAffine(0.75f, p, r), 5);  // 1.5 -> 2
  EXPECT_EQ(quantizeAffine(-0.25f, p, r), 3); // -0.5 -> -0
  EXPECT_EQ(quantizeAffine(-0.75f, p, r), 1); // -1.5 -> -2
  EXPECT_EQ(quantizeAffine(1e30f, p, r), 127);
  EXPECT_EQ(quantizeAffine(-1e30f, p, r), -128);
  EXPECT_EQ(quantizeAffine(std::numeric_limits<float>::infinity(), p, r), 127);
  EXPECT_EQ(quantizeAffine(std::numeric_limits<float>::quiet_NaN(), p, r), 3);
}

// Property: inside the grid, dequantize(quantize(x)) is within half a step.
TEST(Affine, RoundTripErrorIsAtMostHalfAStep) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.1f, 1.0f);
  for (unsigned bits = 2; bits <= 8; ++bits) {
    for (bool symmetric : {false, true}) {
      AffineScheme scheme{bits, true, symmetric};
      std::vector<float> data(1000);
      for (float &x : data)
        x = normal(rng);
      auto range = finiteMinMax(data.data(), data.size());
      auto p = computeAffineParams(range->first, range->second, scheme);
      ASSERT_TRUE(p);
      IntRange r = storageRange(scheme);
      for (float x : data) {
        float lo = dequantizeAffine(r.min, *p),
              hi = dequantizeAffine(r.max, *p);
        if (x < lo || x > hi)
          continue; // clipped by the grid (symmetric int grids lose +max)
        float y = dequantizeAffine(quantizeAffine(x, *p, r), *p);
        ASSERT_LE(std::fabs(y - x), p->scale * 0.5f * (1 + 1e-5f))
            << "bits " << bits << " x " << x;
      }
    }
  }
}

TEST(Affine, GroupsAlongRowsWithARaggedTail) {
  // 2 rows x 5 columns, groups of 2: 3 groups per row, the last of width 1.
  float data[] = {0.0f, 1.0f, -2.0f, 2.0f,  4.0f, //
                  1.0f, 1.0f, 0.5f,  -0.5f, -8.0f};
  AffineScheme scheme{4, true, true};
  auto params = computeGroupParams(data, 2, 5, 2, scheme);
  ASSERT_TRUE(params);
  ASSERT_EQ(params->size(), 6u);
  EXPECT_EQ((*params)[2].scale, 4.0f / 7.5f);
  EXPECT_EQ((*params)[5].scale, 8.0f / 7.5f);
  std::vector<uint8_t> codes(10);
  quantizeGroups(data, 2, 5, 2, *params, scheme, codes.data());
  // PyTorch's symmetric grid puts +-max|x| at +-7.5 steps: +max clamps to 7
  // and -max lands on -8 or -7 depending on the float32 rounding of 1/scale.
  EXPECT_EQ(static_cast<int8_t>(codes[4]), 7);
  auto lastCode = static_cast<int8_t>(codes[9]);
  EXPECT_TRUE(lastCode == -8 || lastCode == -7) << int(lastCode);
  EXPECT_EQ(static_cast<int8_t>(codes[3]), 7); // +max of group [-2, 2]
  std::vector<float> out(10);
  dequantizeGroups(codes.data(), 2, 5, 2, *params, scheme, out.data());
  EXPECT_EQ(out[9], lastCode * (8.0f / 7.5f));
  EXPECT_EQ(out[0], 0.0f);
  // One group per row is per-channel along axis 0.
  auto channel = computeGroupParams(data, 2, 5, 0, scheme);
  ASSERT_TRUE(channel);
  ASSERT_EQ(channel->size(), 2u);
  EXPECT_EQ((*channel)[1].scale, 8.0f / 7.5f);
}

// PyTorch 1.13's own MinMaxObserver / PerChannelMinMaxObserver on the golden
// input: same scale as float32, same zero point.
TEST(Affine, MatchesPyTorchObservers) {
  auto jsonPath = test::goldenDir("observers") / "observers.json";
  auto inputPath = test::goldenDir("ggml") / "input.f32";
  std::ifstream jsonFile(jsonPath);
  if (!jsonFile)
    GTEST_SKIP() << "golden file " << jsonPath.string() << " is absent";
  QUANTC_REQUIRE_GOLDEN(input, test::readFloats(inputPath), inputPath);
  nlohmann::json golden = nlohmann::json::parse(jsonFile);
  int checked = 0;
  for (const auto &c : golden["cases"]) {
    std::string observer = c["observer"], qscheme = c["qscheme"];
    if (observer == "HistogramObserver")
      continue; // its range search: HistogramTest.cpp
    AffineScheme scheme;
    scheme.isSigned = c["dtype"] == "qint8";
    scheme.symmetric = qscheme.find("symmetric") != std::string::npos;
    scheme.reduceRange = c["reduce_range"];
    std::vector<float> rows;
    for (int64_t row : c["rows"])
      rows.insert(rows.end(), input->begin() + row * test::kGgmlCols,
                  input->begin() + (row + 1) * test::kGgmlCols);
    auto numRows = static_cast<int64_t>(c["rows"].size());
    bool perChannel = observer == "PerChannelMinMaxObserver";
    auto params = computeGroupParams(
        rows.data(), perChannel ? numRows : 1,
        perChannel ? test::kGgmlCols : numRows * test::kGgmlCols, 0, scheme);
    ASSERT_TRUE(params);
    ASSERT_EQ(params->size(), c["scale"].size());
    for (size_t i = 0; i < params->size(); ++i) {
      std::string where = std::string(c["case"]) + " " + observer + " " +
                          std::string(c["dtype"]) + " " + qscheme +
                          (scheme.reduceRange ? " reduce_range" : "");
      EXPECT_EQ((*params)[i].scale, static_cast<float>(c["scale"][i])) << where;
      EXPECT_EQ((*params)[i].zeroPoint,
                static_cast<int32_t>(c["zero_point"][i]))
          << where;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 72);
}

// torch.quantize_per_tensor(rows 0, 12, 20; scale 0.0007, zero point 3,
// qint8): PyTorch's rounding and clamping, code for code.
TEST(Affine, MatchesPyTorchQuantizePerTensor) {
  auto path = test::goldenDir("observers") /
              "quantize_per_tensor_qint8_s0.0007_z3_rows0_12_20.i8";
  auto inputPath = test::goldenDir("ggml") / "input.f32";
  QUANTC_REQUIRE_GOLDEN(codes, test::readBytes(path), path);
  QUANTC_REQUIRE_GOLDEN(input, test::readFloats(inputPath), inputPath);
  ASSERT_EQ(codes->size(), size_t(3 * test::kGgmlCols));
  AffineParams p{0.0007f, 3};
  IntRange r{-128, 127};
  int row = 0;
  for (int64_t source : {0, 12, 20}) {
    for (int64_t c = 0; c < test::kGgmlCols; ++c) {
      float x = (*input)[source * test::kGgmlCols + c];
      auto expected = static_cast<int8_t>((*codes)[row * test::kGgmlCols + c]);
      ASSERT_EQ(quantizeAffine(x, p, r), expected)
          << "row " << source << " col " << c << " x " << x;
    }
    ++row;
  }
}

} // namespace
