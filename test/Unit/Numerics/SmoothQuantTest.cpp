//===- SmoothQuantTest.cpp - migrating activation outliers into weights ---===//
//
// SmoothQuant's scales on hand-computed values (smooth.py's clamps, the
// dead-channel rule), the exactness of the migration before quantization,
// the quantized output error recomputed here from the reference quantized
// linear (QuantizedLinear.h), and the alpha search on activations with
// outlier channels.
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/SmoothQuant.h"

#include "quantc/Numerics/Affine.h"
#include "quantc/Numerics/FP8.h"
#include "quantc/Numerics/GroupedAffine.h"
#include "quantc/Numerics/Isa.h"
#include "quantc/Numerics/QuantizedLinear.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>

using namespace quantc;

namespace {

std::vector<float> normalMatrix(int64_t rows, int64_t cols, float sigma,
                                unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> values(static_cast<size_t>(rows * cols));
  for (float &value : values)
    value = normal(rng);
  return values;
}

TEST(SmoothQuantScales, ColumnAbsMaxAccumulates) {
  std::vector<float> a{1.0f, -3.0f, 0.5f, -2.0f, 2.0f, 0.0f}; // 2 x 3
  std::vector<float> b{-4.0f, 1.0f, 0.25f};                   // 1 x 3
  std::vector<float> out(3, 0.0f);
  accumulateColumnAbsMax(a.data(), 2, 3, out.data());
  EXPECT_EQ(out, (std::vector<float>{2.0f, 3.0f, 0.5f}));
  accumulateColumnAbsMax(b.data(), 1, 3, out.data());
  EXPECT_EQ(out, (std::vector<float>{4.0f, 3.0f, 0.5f}));
}

TEST(SmoothQuantScales, FormulaClampsAndDeadChannel) {
  std::vector<float> activation{4.0f, 9.0f, 0.0f, 1.0f, 2.0f, 1.0f};
  std::vector<float> weight{1.0f, 4.0f, 3.0f, 0.0f, 1e-6f, 1e6f};
  std::vector<float> s =
      smoothQuantScales(activation.data(), weight.data(), 6, 0.5);
  ASSERT_EQ(s.size(), 6u);
  EXPECT_FLOAT_EQ(s[0], 2.0f); // sqrt(4) / 1
  EXPECT_FLOAT_EQ(s[1], 1.5f); // 3 / 2
  EXPECT_EQ(s[2], 1.0f);       // never excited
  EXPECT_FLOAT_EQ(s[3], static_cast<float>(1 / std::sqrt(1e-5))); // w >= 1e-5
  EXPECT_FLOAT_EQ(s[4], static_cast<float>(std::sqrt(2.0 / 1e-5)));
  EXPECT_FLOAT_EQ(s[5], 1e-3f); // 1 / sqrt(1e6)

  // alpha = 1: s = max|X|; alpha = 0: s = 1 / max|W|, clamped to >= 1e-5.
  std::vector<float> one =
      smoothQuantScales(activation.data(), weight.data(), 6, 1.0);
  EXPECT_EQ(one, (std::vector<float>{4.0f, 9.0f, 1.0f, 1.0f, 2.0f, 1.0f}));
  std::vector<float> zero =
      smoothQuantScales(activation.data(), weight.data(), 6, 0.0);
  EXPECT_FLOAT_EQ(zero[0], 1.0f);
  EXPECT_FLOAT_EQ(zero[1], 0.25f);
  EXPECT_EQ(zero[2], 1.0f);
  EXPECT_FLOAT_EQ(zero[3], 1e5f);
  EXPECT_FLOAT_EQ(zero[4], 1e5f);
  EXPECT_FLOAT_EQ(zero[5], 1e-5f); // 1e-6 clamped
}

/// Activations whose `outliers` channels are `gain` times larger.
struct OutlierCase {
  int64_t tokens, cols;
  std::vector<float> x, w1, w2, absMax;
  std::vector<SmoothedLayer> layers;
  explicit OutlierCase(int64_t tokens = 128, int64_t cols = 96,
                       int64_t rows = 80)
      : tokens(tokens), cols(cols) {
    x = normalMatrix(tokens, cols, 1.0f, 11);
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t j : {7, 30, 61})
        if (j < cols)
          x[t * cols + j] *= 50.0f;
    w1 = normalMatrix(rows, cols, 0.05f, 12);
    w2 = normalMatrix(rows / 2, cols, 0.05f, 13);
    absMax.assign(static_cast<size_t>(cols), 0.0f);
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t j = 0; j < cols; ++j)
        absMax[j] = std::max(absMax[j], std::fabs(x[t * cols + j]));
    layers = {{w1.data(), rows}, {w2.data(), rows / 2}};
    for (const SmoothedLayer &layer : layers) {
      std::vector<double> y(static_cast<size_t>(tokens * layer.rows));
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t r = 0; r < layer.rows; ++r)
          for (int64_t j = 0; j < cols; ++j)
            y[t * layer.rows + r] +=
                double(x[t * cols + j]) * layer.weights[r * cols + j];
      exact.push_back(std::move(y));
    }
  }
  /// X W^T in double, per layer.
  std::vector<std::vector<double>> exact;
  std::vector<float> scales(double alpha) const {
    std::vector<float> weightMax(static_cast<size_t>(cols), 0.0f);
    for (const SmoothedLayer &layer : layers)
      accumulateColumnAbsMax(layer.weights, layer.rows, cols, weightMax.data());
    return smoothQuantScales(absMax.data(), weightMax.data(), cols, alpha);
  }
};

TEST(SmoothQuantError, MigrationIsExactBeforeQuantization) {
  // (X / s) (W s)^T = X W^T up to float rounding of the scaled operands.
  OutlierCase c;
  std::vector<float> s = c.scales(0.5);
  const std::vector<float> &w = c.w1;
  for (int64_t t = 0; t < c.tokens; ++t)
    for (int64_t r = 0; r < 80; ++r) {
      double smoothed = 0.0, plain = 0.0, magnitude = 0.0;
      for (int64_t j = 0; j < c.cols; ++j) {
        float x = c.x[t * c.cols + j], wj = w[r * c.cols + j];
        smoothed += static_cast<double>(x / s[j]) * (wj * s[j]);
        plain += static_cast<double>(x) * wj;
        magnitude += std::fabs(static_cast<double>(x) * wj);
      }
      ASSERT_NEAR(smoothed, plain, 1e-5 * magnitude);
    }
}

/// The error written out from the reference quantized linear: smoothed
/// operands, QuantizedLinear's quantizers and referenceInt8Linear, against
/// X W^T in double.
double referenceError(const OutlierCase &c, const std::vector<float> &s,
                      SmoothedActivations mode) {
  int64_t tokens = c.tokens, cols = c.cols;
  std::vector<float> xs(c.x.size());
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < cols; ++j)
      xs[t * cols + j] = c.x[t * cols + j] / s[j];
  double total = 0.0;
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const SmoothedLayer &layer = c.layers[l];
    int64_t rows = layer.rows;
    std::vector<float> ws(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j)
        ws[r * cols + j] = layer.weights[r * cols + j] * s[j];
    std::vector<float> y(static_cast<size_t>(tokens * rows));
    if (mode == SmoothedActivations::FP8PerTensor) {
      float xAbs = 0.0f, wAbs = 0.0f;
      for (float v : xs)
        xAbs = std::max(xAbs, std::fabs(v));
      for (float v : ws)
        wAbs = std::max(wAbs, std::fabs(v));
      float xScale = fp8E4M3Scale(xAbs), wScale = fp8E4M3Scale(wAbs);
      std::vector<uint8_t> xq(xs.size()), wq(ws.size());
      quantizeFP8E4M3(xs.data(), tokens * cols, xScale, xq.data());
      quantizeFP8E4M3(ws.data(), rows * cols, wScale, wq.data());
      std::vector<float> xd(xq.size()), wd(wq.size());
      for (size_t i = 0; i < xq.size(); ++i)
        xd[i] = fp8ToFp32(xq[i], FP8Kind::E4M3FN);
      for (size_t i = 0; i < wq.size(); ++i)
        wd[i] = fp8ToFp32(wq[i], FP8Kind::E4M3FN);
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t r = 0; r < rows; ++r) {
          double acc = 0.0;
          for (int64_t j = 0; j < cols; ++j)
            acc += double(xd[t * cols + j]) * wd[r * cols + j];
          y[t * rows + r] = static_cast<float>(acc) * (xScale * wScale);
        }
    } else {
      GroupedFormat si8{8, true, 0};
      std::vector<uint8_t> blob(groupedLayout(si8, rows, cols).totalBytes);
      EXPECT_TRUE(packGrouped(ws.data(), rows, cols, si8, blob.data()));
      std::vector<int8_t> wq;
      std::vector<float> wScales;
      unpackInt8RowWeights(blob.data(), rows, cols, wq, wScales);
      std::vector<int8_t> xq(xs.size());
      if (mode == SmoothedActivations::DynamicPerToken) {
        std::vector<float> xScales(static_cast<size_t>(tokens));
        quantizeActivationsDynamic(xs.data(), tokens, cols, true, xq.data(),
                                   xScales.data());
        referenceInt8Linear(xq.data(), xScales.data(), true, 0, tokens, cols,
                            wq.data(), wScales.data(), rows, y.data());
      } else {
        auto range = finiteMinMax(xs.data(), tokens * cols);
        AffineScheme scheme; // int8, signed, affine
        auto params = computeAffineParams(range->first, range->second, scheme);
        for (size_t i = 0; i < xs.size(); ++i)
          xq[i] = static_cast<int8_t>(
              quantizeAffine(xs[i], *params, storageRange(scheme)));
        referenceInt8Linear(xq.data(), &params->scale, false, params->zeroPoint,
                            tokens, cols, wq.data(), wScales.data(), rows,
                            y.data());
      }
    }
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        double diff = y[t * rows + r] - c.exact[l][t * rows + r];
        total += diff * diff;
      }
  }
  return total;
}

TEST(SmoothQuantError, MatchesTheReferenceQuantizedLinear) {
  // The second shape is off the kernels' 4 x 16 blocking; the third is
  // split over threads where there are several cores.
  for (auto [tokens, cols, rows] :
       {std::tuple<int64_t, int64_t, int64_t>{128, 96, 80},
        {13, 37, 19},
        {512, 128, 256}}) {
    OutlierCase c(tokens, cols, rows);
    std::vector<float> ones(static_cast<size_t>(c.cols), 1.0f);
    for (SmoothedActivations mode : {SmoothedActivations::DynamicPerToken,
                                     SmoothedActivations::StaticPerTensor,
                                     SmoothedActivations::FP8PerTensor}) {
      SCOPED_TRACE(static_cast<int>(mode));
      for (const std::vector<float> &s :
           {ones, c.scales(0.5), c.scales(0.85)}) {
        double expected = referenceError(c, s, mode);
        double error = smoothedOutputError(c.x.data(), c.tokens, c.cols,
                                           c.layers, s.data(), mode);
        // Int8 products are exact both ways; FP8's float accumulation
        // order differs by rounding only.
        EXPECT_NEAR(error, expected, 1e-6 * expected);
      }
    }
  }
}

TEST(SmoothQuantError, OutliersSmoothedAway) {
  OutlierCase c;
  std::vector<float> ones(static_cast<size_t>(c.cols), 1.0f);
  std::vector<float> half = c.scales(0.5);
  for (SmoothedActivations mode : {SmoothedActivations::StaticPerTensor,
                                   SmoothedActivations::DynamicPerToken}) {
    SCOPED_TRACE(static_cast<int>(mode));
    double plain = smoothedOutputError(c.x.data(), c.tokens, c.cols, c.layers,
                                       ones.data(), mode);
    double smoothed = smoothedOutputError(c.x.data(), c.tokens, c.cols,
                                          c.layers, half.data(), mode);
    EXPECT_LT(smoothed, 0.3 * plain);
  }
}

TEST(SmoothQuantAlpha, SearchKeepsTheBestOfTheGrid) {
  OutlierCase c;
  for (SmoothedActivations mode : {SmoothedActivations::StaticPerTensor,
                                   SmoothedActivations::DynamicPerToken,
                                   SmoothedActivations::FP8PerTensor}) {
    SCOPED_TRACE(static_cast<int>(mode));
    SmoothQuantAlphaSearch search = searchSmoothQuantAlpha(
        c.x.data(), c.tokens, c.cols, c.layers, c.absMax.data(), mode, 0.05);
    ASSERT_EQ(search.tried.size(), 21u);
    for (size_t i = 0; i < search.tried.size(); ++i) {
      EXPECT_EQ(search.tried[i].first, static_cast<double>(i) / 20.0);
      EXPECT_GE(search.tried[i].second, search.error);
    }
    EXPECT_EQ(search.tried.back().first, 1.0);
    EXPECT_LE(search.error, search.tried[0].second);
    EXPECT_LE(search.error, search.tried[10].second); // alpha 0.5
    // The first grid point reaching the minimum.
    for (const auto &[alpha, error] : search.tried) {
      if (alpha == search.alpha)
        break;
      EXPECT_GT(error, search.error);
    }
    EXPECT_EQ(search.scales, c.scales(search.alpha));
    EXPECT_EQ(search.error,
              smoothedOutputError(c.x.data(), c.tokens, c.cols, c.layers,
                                  search.scales.data(), mode));
    std::vector<float> ones(static_cast<size_t>(c.cols), 1.0f);
    EXPECT_EQ(search.unsmoothedError,
              smoothedOutputError(c.x.data(), c.tokens, c.cols, c.layers,
                                  ones.data(), mode));
    if (mode == SmoothedActivations::StaticPerTensor) {
      EXPECT_LT(search.error, 0.3 * search.unsmoothedError);
      EXPECT_GT(search.alpha, 0.0);
    }
  }
}

TEST(SmoothQuantAlpha, StepsThatDoNotDivideOneEndAtOne) {
  OutlierCase c;
  SmoothQuantAlphaSearch search = searchSmoothQuantAlpha(
      c.x.data(), c.tokens, c.cols, c.layers, c.absMax.data(),
      SmoothedActivations::DynamicPerToken, 0.3);
  ASSERT_EQ(search.tried.size(), 5u);
  EXPECT_EQ(search.tried[1].first, 0.3);
  EXPECT_EQ(search.tried[4].first, 1.0);
}

TEST(SmoothQuantError, SameBitsOnEveryInstructionSet) {
  OutlierCase c;
  std::vector<float> s = c.scales(0.5);
  Isa saved = getNumericsIsa();
  std::vector<double> errors;
  for (Isa isa : {Isa::Scalar, Isa::AVX2, Isa::AVX512}) {
    setNumericsIsa(isa);
    errors.push_back(smoothedOutputError(c.x.data(), c.tokens, c.cols, c.layers,
                                         s.data(),
                                         SmoothedActivations::StaticPerTensor));
  }
  setNumericsIsa(saved);
  EXPECT_EQ(errors[0], errors[1]);
  EXPECT_EQ(errors[0], errors[2]);
}

} // namespace
