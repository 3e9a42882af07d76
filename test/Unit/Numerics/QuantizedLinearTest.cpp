//===- QuantizedLinearTest.cpp - the reference quantized linears ----------===//
//
// The reference arithmetic of qc.linear against statements written out here:
// PyTorch's dynamic int8 quantization math (symmetric, narrow range,
// x * (1 / scale) rounded half to even), the zero-point correction equal to
// dequantizing first, and the FP8 scale.
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/QuantizedLinear.h"

#include "quantc/Numerics/FP8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace quantc;

namespace {

TEST(QuantizedLinear, DynamicInt8Scale) {
  EXPECT_EQ(dynamicInt8Scale(127.0f), 1.0f);
  EXPECT_EQ(dynamicInt8Scale(254.0f), 2.0f);
  EXPECT_EQ(dynamicInt8Scale(1.0f), 1.0f / 127.0f);
  // The eps floor: zero and tiny ranges.
  EXPECT_EQ(dynamicInt8Scale(0.0f), 0x1p-23f);
  EXPECT_EQ(dynamicInt8Scale(1e-30f), 0x1p-23f);
  EXPECT_TRUE(std::isinf(dynamicInt8Scale(INFINITY)));
}

/// PyTorch's per-token dynamic quantization, written out: scale =
/// max(amax / 127, eps), q = clamp(round_half_even(x * (1 / scale)), -127,
/// 127).
void pytorchStyle(const std::vector<float> &x, int64_t rows, int64_t cols,
                  std::vector<int8_t> &codes, std::vector<float> &scales) {
  codes.assign(x.size(), 0);
  scales.assign(rows, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    float amax = 0.0f;
    for (int64_t c = 0; c < cols; ++c)
      if (!std::isnan(x[r * cols + c]))
        amax = std::fmax(amax, std::fabs(x[r * cols + c]));
    float scale = std::fmax(amax / 127.0f, 0x1p-23f);
    scales[r] = scale;
    float inverse = 1.0f / scale;
    for (int64_t c = 0; c < cols; ++c) {
      float scaled = std::nearbyint(x[r * cols + c] * inverse);
      if (std::isnan(scaled))
        scaled = 0.0f;
      codes[r * cols + c] =
          static_cast<int8_t>(std::fmin(std::fmax(scaled, -127.0f), 127.0f));
    }
  }
}

TEST(QuantizedLinear, PerTokenMatchesPyTorchMath) {
  const int64_t rows = 5, cols = 48;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(rows * cols);
  for (float &v : x)
    v = normal(rng);
  x[3] = std::numeric_limits<float>::quiet_NaN(); // row 0: ignored, code 0
  for (int64_t c = 0; c < cols; ++c)
    x[2 * cols + c] = 0.0f; // row 2: all zeros, eps scale
  x[4 * cols + 9] = -1e6f;  // row 4: one huge outlier

  std::vector<int8_t> codes(x.size()), want;
  std::vector<float> scales(rows), wantScales;
  quantizeActivationsDynamic(x.data(), rows, cols, /*perToken=*/true,
                             codes.data(), scales.data());
  pytorchStyle(x, rows, cols, want, wantScales);
  for (int64_t r = 0; r < rows; ++r)
    EXPECT_EQ(scales[r], wantScales[r]) << "row " << r;
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_EQ(codes[i], want[i]) << i;
  EXPECT_EQ(codes[3], 0);
  EXPECT_EQ(scales[2], 0x1p-23f);
  EXPECT_EQ(codes[4 * cols + 9], -127);
}

TEST(QuantizedLinear, RoundsHalfToEvenAndSaturates) {
  // amax 127: scale 1, so codes are x rounded half to even.
  std::vector<float> x = {127.0f, 2.5f, 3.5f, -2.5f,
                          -0.5f,  0.5f, 1.5f, -127.0f};
  std::vector<int8_t> codes(x.size());
  float scale;
  quantizeActivationsDynamic(x.data(), 1, x.size(), false, codes.data(),
                             &scale);
  EXPECT_EQ(scale, 1.0f);
  std::vector<int8_t> want = {127, 2, 4, -2, 0, 0, 2, -127};
  EXPECT_EQ(codes, want);
}

TEST(QuantizedLinear, PerTensorSharesOneScale) {
  std::vector<float> x = {1.0f, -2.0f, 0.5f, 4.0f, -8.0f, 0.25f};
  std::vector<int8_t> codes(x.size());
  float scale = 0.0f;
  quantizeActivationsDynamic(x.data(), 2, 3, false, codes.data(), &scale);
  EXPECT_EQ(scale, 8.0f / 127.0f);
  EXPECT_EQ(codes[4], -127);
  EXPECT_EQ(codes[0],
            static_cast<int8_t>(std::nearbyint(1.0f * (1.0f / scale))));
}

TEST(QuantizedLinear, ZeroPointCorrectionEqualsDequantizeThenMultiply) {
  const int64_t rows = 3, depth = 20, outputs = 4;
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> xCode(-128, 127), wCode(-127, 127);
  std::vector<int8_t> xq(rows * depth), wq(outputs * depth);
  for (int8_t &v : xq)
    v = static_cast<int8_t>(xCode(rng));
  for (int8_t &v : wq)
    v = static_cast<int8_t>(wCode(rng));
  std::vector<float> wScales = {0.5f, 0.25f, 2.0f, 0.125f};
  for (int32_t zeroPoint : {-128, -3, 0, 5, 127}) {
    for (bool perToken : {false, true}) {
      std::vector<float> xScales = {0.0625f, 1.0f, 0.5f};
      std::vector<float> y(rows * outputs);
      referenceInt8Linear(xq.data(), xScales.data(), perToken, zeroPoint, rows,
                          depth, wq.data(), wScales.data(), outputs, y.data());
      for (int64_t m = 0; m < rows; ++m) {
        float xScale = xScales[perToken ? m : 0];
        for (int64_t n = 0; n < outputs; ++n) {
          // Dequantize both operands (exact: powers of two times small
          // integers), multiply and sum in double.
          double sum = 0.0;
          for (int64_t k = 0; k < depth; ++k)
            sum +=
                static_cast<double>((xq[m * depth + k] - zeroPoint) * xScale) *
                (wq[n * depth + k] * wScales[n]);
          EXPECT_EQ(y[m * outputs + n], static_cast<float>(sum))
              << "zp " << zeroPoint << " m " << m << " n " << n;
        }
      }
    }
  }
}

TEST(QuantizedLinear, UnpackInt8RowWeightsReadsThePackedPlanes) {
  const int64_t rows = 3, cols = 70;
  std::vector<float> w(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i)
    w[i] = std::sin(0.37f * i) * (1 + i % 3);
  GroupedFormat format{8, true, 0};
  std::vector<uint8_t> blob(groupedLayout(format, rows, cols).totalBytes);
  ASSERT_TRUE(packGrouped(w.data(), rows, cols, format, blob.data()));
  std::vector<int8_t> codes;
  std::vector<float> scales;
  unpackInt8RowWeights(blob.data(), rows, cols, codes, scales);
  std::vector<float> unpacked(rows * cols);
  unpackGrouped(blob.data(), rows, cols, format, unpacked.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      ASSERT_EQ(codes[r * cols + c] * scales[r], unpacked[r * cols + c]);
}

TEST(QuantizedLinear, FP8ScaleAndCodes) {
  EXPECT_EQ(fp8E4M3Scale(448.0f), 1.0f);
  EXPECT_EQ(fp8E4M3Scale(896.0f), 2.0f);
  EXPECT_EQ(fp8E4M3Scale(0.0f), 1.0f);
  EXPECT_EQ(fp8E4M3Scale(INFINITY), 1.0f);
  EXPECT_EQ(fp8E4M3Scale(NAN), 1.0f);
  std::vector<float> x = {1.0f, -900.0f, 0.3f, NAN, INFINITY};
  std::vector<uint8_t> codes(x.size());
  quantizeFP8E4M3(x.data(), x.size(), 2.0f, codes.data());
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_EQ(codes[i],
              fp32ToFP8(x[i] * 0.5f, FP8Kind::E4M3FN, FP8Overflow::Saturate));
  EXPECT_EQ(codes[1], 0xFE); // saturated to -448
  EXPECT_EQ(codes[4], 0x7E); // inf saturates too
  EXPECT_EQ(codes[3] & 0x7F, 0x7F);
}

} // namespace
