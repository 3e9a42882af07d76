//===- GPTQTest.cpp - GPTQ, its Hessian, and the weight targets -----------===//
//
// GPTQ against a reference written out here from the paper: unblocked
// (every column's error applied to all later columns at once, no lazy
// batches), with its own Cholesky factorizations, groups fitted from the
// fully updated weights. The library must reproduce it value for value;
// blocking, the BLAS/LAPACK paths and the packing are what differ. Then
// what GPTQ is for (a smaller layer output error than round-to-nearest),
// what it refuses, and the block formats' code grids against their own
// dequantizers.
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/GPTQ.h"

#include "quantc/Numerics/Affine.h"
#include "quantc/Numerics/BlockCodecs.h"
#include "quantc/Numerics/GroupedAffine.h"
#include "quantc/Numerics/WeightTarget.h"

#include "Numerics/BlockGrid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <ostream>
#include <random>
#include <string>
#include <vector>

using namespace quantc;

namespace {

//===----------------------------------------------------------------------===//
// Data
//===----------------------------------------------------------------------===//

/// Tokens like a layer's inputs: a rank-`rank` common part mixed into every
/// channel, independent noise, and a few channels 8x louder.
std::vector<float> correlatedTokens(int64_t tokens, int64_t cols, uint32_t seed,
                                    int64_t rank = 16) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> mixing(static_cast<size_t>(rank * cols));
  for (float &value : mixing)
    value = normal(rng) * 0.5f;
  std::vector<float> loud(static_cast<size_t>(cols), 1.0f);
  for (int64_t c = 0; c < cols; c += 17)
    loud[c] = 8.0f;
  std::vector<float> x(static_cast<size_t>(tokens * cols));
  std::vector<float> z(static_cast<size_t>(rank));
  for (int64_t t = 0; t < tokens; ++t) {
    for (float &value : z)
      value = normal(rng);
    for (int64_t c = 0; c < cols; ++c) {
      float sum = 0.3f * normal(rng);
      for (int64_t k = 0; k < rank; ++k)
        sum += z[k] * mixing[k * cols + c];
      x[t * cols + c] = loud[c] * sum;
    }
  }
  return x;
}

std::vector<float> randomWeights(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (float &value : w)
    value = normal(rng);
  // A few outlier weights, as real layers have.
  for (size_t i = 7; i < w.size(); i += 331)
    w[i] *= 6.0f;
  return w;
}

/// 2/n X^T X summed naively in double.
std::vector<double> naiveHessian(const std::vector<float> &x, int64_t tokens,
                                 int64_t cols) {
  std::vector<double> h(static_cast<size_t>(cols * cols), 0.0);
  for (int64_t t = 0; t < tokens; ++t) {
    const float *row = x.data() + t * cols;
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        h[i * cols + j] += static_cast<double>(row[i]) * row[j];
  }
  for (double &value : h)
    value *= 2.0 / static_cast<double>(tokens);
  return h;
}

std::vector<double> hessianOf(const std::vector<float> &x, int64_t tokens,
                              int64_t cols) {
  HessianAccumulator accumulator(cols);
  accumulator.add(x.data(), tokens, cols);
  return accumulator.hessian();
}

WeightTarget grouped(unsigned bits, bool isSigned, int64_t groupSize) {
  GroupedFormat format;
  format.bits = bits;
  format.isSigned = isSigned;
  format.groupSize = groupSize;
  return WeightTarget::ofGrouped(format);
}

//===----------------------------------------------------------------------===//
// Reference GPTQ
//===----------------------------------------------------------------------===//

/// Lower Cholesky factor of a symmetric positive definite matrix.
std::vector<double> cholesky(const std::vector<double> &a, int64_t n) {
  std::vector<double> l(a.size(), 0.0);
  for (int64_t j = 0; j < n; ++j) {
    double diagonal = a[j * n + j];
    for (int64_t k = 0; k < j; ++k)
      diagonal -= l[j * n + k] * l[j * n + k];
    EXPECT_GT(diagonal, 0.0);
    l[j * n + j] = std::sqrt(diagonal);
    for (int64_t i = j + 1; i < n; ++i) {
      double sum = a[i * n + j];
      for (int64_t k = 0; k < j; ++k)
        sum -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = sum / l[j * n + j];
    }
  }
  return l;
}

/// Upper U with U^T U = H^-1: H^-1 from the inverse of H's Cholesky factor,
/// then H^-1's own factor, transposed.
std::vector<double> upperCholeskyOfInverse(const std::vector<double> &h,
                                           int64_t n) {
  std::vector<double> l = cholesky(h, n);
  std::vector<double> inverseL(h.size(), 0.0); // lower
  for (int64_t j = 0; j < n; ++j) {
    inverseL[j * n + j] = 1.0 / l[j * n + j];
    for (int64_t i = j + 1; i < n; ++i) {
      double sum = 0.0;
      for (int64_t k = j; k < i; ++k)
        sum += l[i * n + k] * inverseL[k * n + j];
      inverseL[i * n + j] = -sum / l[i * n + i];
    }
  }
  std::vector<double> inverse(h.size(), 0.0); // L^-T L^-1
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int64_t k = std::max(i, j); k < n; ++k)
        sum += inverseL[k * n + i] * inverseL[k * n + j];
      inverse[i * n + j] = sum;
    }
  std::vector<double> m = cholesky(inverse, n);
  std::vector<double> u(h.size(), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j)
      u[i * n + j] = m[j * n + i];
  return u;
}

/// Block formats whose codes are all nibbles at one offset: a byte k * 0x11
/// there gives every element code k, so decoding such a block lists each
/// element's grid.
struct NibbleLayout {
  Format format;
  int codesOffset;
  int codesBytes;
};
constexpr NibbleLayout kNibbleLayouts[] = {{Format::Q4_0, 2, 16},
                                           {Format::Q4_1, 4, 16},
                                           {Format::IQ4_NL, 2, 16},
                                           {Format::Q4_K, 16, 128},
                                           {Format::IQ4_XS, 8, 128}};

const NibbleLayout *nibbleLayout(Format format) {
  for (const NibbleLayout &layout : kNibbleLayouts)
    if (layout.format == format)
      return &layout;
  return nullptr;
}

/// The reference's quantizer: per (row, group) parameters and grids.
class ReferenceGrid {
public:
  ReferenceGrid(const WeightTarget &target, int64_t rows, int64_t cols)
      : target(target), cols(cols), group(target.groupColumns(cols)) {
    int64_t groups = (cols + group - 1) / group;
    if (target.kind == WeightTarget::Kind::Grouped) {
      params.resize(static_cast<size_t>(rows * groups));
    } else {
      layout = nibbleLayout(target.block);
      EXPECT_NE(layout, nullptr) << "no reference grid for " << target.name();
      table.resize(static_cast<size_t>(rows * cols * 16));
    }
  }

  /// Fits the group of (row, col) from its `group` (or fewer) values.
  void fit(int64_t row, int64_t first, const float *values) {
    int64_t length = std::min(group, cols - first);
    if (target.kind == WeightTarget::Kind::Grouped) {
      float min = *std::min_element(values, values + length);
      float max = *std::max_element(values, values + length);
      params[row * ((cols + group - 1) / group) + first / group] =
          *computeAffineParams(min, max, target.grouped.scheme());
      return;
    }
    const FormatInfo &info = getFormatInfo(target.block);
    std::vector<uint8_t> block(info.bytesPerBlock);
    getRowCodec(target.block)->quantize(values, block.data(), length, nullptr);
    std::vector<float> decoded(static_cast<size_t>(length));
    for (int k = 0; k < 16; ++k) {
      std::memset(block.data() + layout->codesOffset, k * 0x11,
                  layout->codesBytes);
      ASSERT_TRUE(dequantizeRows(target.block, block.data(), decoded.data(), 1,
                                 length));
      for (int64_t e = 0; e < length; ++e)
        table[(row * cols + first + e) * 16 + k] = decoded[e];
    }
  }

  float quantize(int64_t row, int64_t col, double x) const {
    if (target.kind == WeightTarget::Kind::Grouped) {
      const AffineParams &p =
          params[row * ((cols + group - 1) / group) + col / group];
      return dequantizeAffine(
          quantizeAffine(static_cast<float>(x), p,
                         storageRange(target.grouped.scheme())),
          p);
    }
    // Nearest grid value, the lowest code on ties.
    const float *grid = table.data() + (row * cols + col) * 16;
    int best = 0;
    for (int k = 1; k < 16; ++k)
      if (std::fabs(x - grid[k]) < std::fabs(x - grid[best]))
        best = k;
    return grid[best];
  }

  const std::vector<AffineParams> &groupParams() const { return params; }

private:
  WeightTarget target;
  int64_t cols, group;
  std::vector<AffineParams> params;
  const NibbleLayout *layout = nullptr;
  std::vector<float> table;
};

struct Reference {
  std::vector<float> values;
  double loss = 0.0;
  int64_t dead = 0;
  std::vector<AffineParams> params;
  std::vector<int32_t> codes;
};

Reference referenceGPTQ(const std::vector<float> &weights, int64_t rows,
                        int64_t cols, std::vector<double> h,
                        const WeightTarget &target, bool actOrder,
                        bool staticGroups, double damp = 0.01) {
  Reference out;
  std::vector<float> original = weights;
  for (int64_t i = 0; i < cols; ++i)
    if (h[i * cols + i] == 0.0) {
      h[i * cols + i] = 1.0;
      ++out.dead;
      for (int64_t r = 0; r < rows; ++r)
        original[r * cols + i] = 0.0f;
    }
  std::vector<int64_t> perm(static_cast<size_t>(cols));
  std::iota(perm.begin(), perm.end(), int64_t{0});
  if (actOrder)
    std::sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      double da = h[a * cols + a], db = h[b * cols + b];
      return da > db || (da == db && a < b);
    });
  std::vector<double> hp(h.size());
  double mean = 0.0;
  for (int64_t i = 0; i < cols; ++i) {
    for (int64_t j = 0; j < cols; ++j)
      hp[i * cols + j] = h[perm[i] * cols + perm[j]];
    mean += hp[i * cols + i];
  }
  mean /= static_cast<double>(cols);
  for (int64_t i = 0; i < cols; ++i)
    hp[i * cols + i] += damp * mean;
  std::vector<double> u = upperCholeskyOfInverse(hp, cols);

  std::vector<double> w(weights.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < cols; ++i)
      w[r * cols + i] = original[r * cols + perm[i]];

  const int64_t group = target.groupColumns(cols);
  staticGroups = staticGroups || actOrder;
  ReferenceGrid grid(target, rows, cols);
  if (staticGroups)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t first = 0; first < cols; first += group)
        grid.fit(r, first, original.data() + r * cols + first);

  out.values.resize(weights.size());
  std::vector<float> current(static_cast<size_t>(group));
  for (int64_t i = 0; i < cols; ++i) {
    const int64_t c = perm[i];
    for (int64_t r = 0; r < rows; ++r) {
      double *row = w.data() + r * cols;
      if (!staticGroups && c % group == 0) {
        int64_t length = std::min(group, cols - c);
        for (int64_t k = 0; k < length; ++k)
          current[k] = static_cast<float>(row[i + k]);
        grid.fit(r, c, current.data());
      }
      const double x = row[i];
      const float q = grid.quantize(r, c, x);
      out.values[r * cols + c] = q;
      const double d = u[i * cols + i];
      out.loss += (x - q) * (x - q) / (d * d) / 2.0;
      const double err = (x - q) / d;
      for (int64_t j = i + 1; j < cols; ++j)
        row[j] -= err * u[i * cols + j];
    }
  }
  if (target.kind == WeightTarget::Kind::Grouped) {
    out.params = grid.groupParams();
    out.codes.resize(weights.size());
    const int64_t groups = (cols + group - 1) / group;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        out.codes[r * cols + c] = quantizeAffine(
            out.values[r * cols + c], out.params[r * groups + c / group],
            storageRange(target.grouped.scheme()));
  }
  return out;
}

int64_t countDifferences(const std::vector<float> &a,
                         const std::vector<float> &b) {
  EXPECT_EQ(a.size(), b.size());
  int64_t differ = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    differ += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
  return differ;
}

/// unpack(packed) is the dequantized result bit for bit; for block formats
/// through the format's own row decoder as well.
void expectPackedRoundTrip(const GPTQResult &result, const WeightTarget &target,
                           int64_t rows, int64_t cols) {
  ASSERT_EQ(result.packed.size(), target.packedBytes(rows, cols));
  std::vector<float> unpacked(static_cast<size_t>(rows * cols));
  ASSERT_TRUE(
      unpackWeights(target, result.packed.data(), rows, cols, unpacked.data()));
  EXPECT_EQ(countDifferences(unpacked, result.dequantized), 0) << target.name();
  if (target.kind == WeightTarget::Kind::Block) {
    std::vector<float> decoded(unpacked.size());
    ASSERT_TRUE(dequantizeRows(target.block, result.packed.data(),
                               decoded.data(), rows, cols));
    EXPECT_EQ(countDifferences(decoded, result.dequantized), 0)
        << target.name();
  }
}

//===----------------------------------------------------------------------===//
// Library against the reference
//===----------------------------------------------------------------------===//

struct ReferenceCase {
  const char *name;
  WeightTarget target;
  int64_t cols;
  int64_t blockSize;
  bool actOrder;
  bool staticGroups;
};

void PrintTo(const ReferenceCase &test, std::ostream *out) {
  *out << test.name;
}

class GPTQReference : public testing::TestWithParam<ReferenceCase> {};

TEST_P(GPTQReference, MatchesUnblockedReference) {
  const ReferenceCase &test = GetParam();
  const int64_t rows = 24, cols = test.cols, tokens = 400;
  std::vector<float> x = correlatedTokens(tokens, cols, 11);
  std::vector<double> h = naiveHessian(x, tokens, cols);
  std::vector<float> w = randomWeights(rows, cols, 5);

  GPTQOptions options;
  options.blockSize = test.blockSize;
  options.actOrder = test.actOrder;
  options.staticGroups = test.staticGroups;
  std::string error;
  std::optional<GPTQResult> result = quantizeGPTQ(
      w.data(), rows, cols, h.data(), test.target, options, &error);
  ASSERT_TRUE(result) << error;
  Reference reference = referenceGPTQ(w, rows, cols, h, test.target,
                                      test.actOrder, test.staticGroups);

  EXPECT_EQ(countDifferences(result->dequantized, reference.values), 0);
  EXPECT_NEAR(result->loss, reference.loss, 1e-9 * reference.loss);
  EXPECT_EQ(result->dampRetries, 0);
  EXPECT_EQ(result->dampFraction, 0.01);
  EXPECT_EQ(result->deadColumns, 0);
  if (test.target.kind == WeightTarget::Kind::Grouped) {
    // Codes and parameters too: the reference's own packing is the same
    // bytes.
    std::vector<uint8_t> packed(test.target.packedBytes(rows, cols));
    packGroupedCodes(reference.codes.data(), reference.params, rows, cols,
                     test.target.grouped, packed.data());
    EXPECT_EQ(packed, result->packed);
  }
  expectPackedRoundTrip(*result, test.target, rows, cols);
}

INSTANTIATE_TEST_SUITE_P(
    GPTQ, GPTQReference,
    testing::Values(
        ReferenceCase{"ui4_per_row", grouped(4, false, 0), 96, 128, false,
                      false},
        ReferenceCase{"ui4_g32", grouped(4, false, 32), 96, 128, false, false},
        ReferenceCase{"ui3_g32", grouped(3, false, 32), 96, 128, false, false},
        ReferenceCase{"si8_per_row", grouped(8, true, 0), 96, 128, false,
                      false},
        ReferenceCase{"si4_g32", grouped(4, true, 32), 96, 128, false, false},
        // Groups of 40 over 96 columns: a ragged last group of 16.
        ReferenceCase{"ui4_g40_ragged", grouped(4, false, 40), 96, 128, false,
                      false},
        ReferenceCase{"ui4_g32_act_order", grouped(4, false, 32), 96, 128, true,
                      false},
        ReferenceCase{"ui4_g32_static", grouped(4, false, 32), 96, 128, false,
                      true},
        // Blocks smaller than the matrix: the lazy batch update runs.
        ReferenceCase{"ui4_g32_block32", grouped(4, false, 32), 96, 32, false,
                      false},
        ReferenceCase{"ui4_per_row_block32", grouped(4, false, 0), 96, 32,
                      false, false},
        // Groups straddling blocks: blocks end at group starts.
        ReferenceCase{"ui3_g32_block20", grouped(3, false, 32), 96, 20, false,
                      false},
        ReferenceCase{"ui4_g16_block24_act_order", grouped(4, false, 16), 96,
                      24, true, false},
        ReferenceCase{"q4_0", WeightTarget::ofBlock(Format::Q4_0), 256, 64,
                      false, false},
        ReferenceCase{"q4_1_act_order", WeightTarget::ofBlock(Format::Q4_1),
                      256, 64, true, false},
        ReferenceCase{"iq4_nl", WeightTarget::ofBlock(Format::IQ4_NL), 256, 48,
                      false, false},
        ReferenceCase{"q4_K", WeightTarget::ofBlock(Format::Q4_K), 512, 128,
                      false, false},
        ReferenceCase{"q4_K_block96", WeightTarget::ofBlock(Format::Q4_K), 512,
                      96, false, false},
        ReferenceCase{"iq4_xs_act_order", WeightTarget::ofBlock(Format::IQ4_XS),
                      512, 128, true, false}),
    [](const testing::TestParamInfo<ReferenceCase> &info) {
      return std::string(info.param.name);
    });

//===----------------------------------------------------------------------===//
// Better than round-to-nearest
//===----------------------------------------------------------------------===//

std::vector<WeightTarget> everySupportedTarget() {
  std::vector<WeightTarget> targets = {
      grouped(4, false, 0),  grouped(4, false, 32), grouped(4, false, 128),
      grouped(3, false, 32), grouped(2, false, 16), grouped(8, false, 0),
      grouped(8, true, 0),   grouped(4, true, 32),  grouped(6, true, 64)};
  for (Format format :
       {Format::Q4_0, Format::Q4_1, Format::Q5_0, Format::Q5_1, Format::Q8_0,
        Format::Q2_K, Format::Q3_K, Format::Q4_K, Format::Q5_K, Format::Q6_K,
        Format::IQ4_NL, Format::IQ4_XS})
    targets.push_back(WeightTarget::ofBlock(format));
  return targets;
}

TEST(GPTQOutputError, NeverWorseThanRoundToNearest) {
  const int64_t rows = 16, cols = 512, tokens = 768;
  for (uint32_t seed : {1u, 2u, 3u}) {
    std::vector<float> x = correlatedTokens(tokens, cols, 100 + seed);
    std::vector<double> h = hessianOf(x, tokens, cols);
    std::vector<float> w = randomWeights(rows, cols, 200 + seed);
    for (const WeightTarget &target : everySupportedTarget()) {
      std::string why;
      ASSERT_TRUE(supportsGPTQ(target, &why)) << why;
      for (bool actOrder : {false, true}) {
        GPTQOptions options;
        options.actOrder = actOrder;
        std::string error;
        std::optional<GPTQResult> result = quantizeGPTQ(
            w.data(), rows, cols, h.data(), target, options, &error);
        ASSERT_TRUE(result) << target.name() << ": " << error;
        std::vector<float> rtn(w.size());
        ASSERT_TRUE(fakeQuantize(target, w.data(), rows, cols, rtn.data()));
        double gptq = layerOutputError(w.data(), result->dequantized.data(),
                                       rows, cols, h.data());
        double nearest =
            layerOutputError(w.data(), rtn.data(), rows, cols, h.data());
        EXPECT_LT(gptq, nearest)
            << target.name() << " seed " << seed << " act-order " << actOrder;
        expectPackedRoundTrip(*result, target, rows, cols);
      }
    }
  }
}

TEST(GPTQOutputError, MatchesTheDefinition) {
  const int64_t rows = 5, cols = 40, tokens = 60;
  std::vector<float> x = correlatedTokens(tokens, cols, 3);
  std::vector<double> h = naiveHessian(x, tokens, cols);
  std::vector<float> w = randomWeights(rows, cols, 4);
  std::vector<float> q(w.size());
  ASSERT_TRUE(
      fakeQuantize(grouped(3, false, 8), w.data(), rows, cols, q.data()));
  // 2/n ||(W - Q) X^T||^2, token by token.
  double expected = 0.0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < tokens; ++t) {
      double dot = 0.0;
      for (int64_t c = 0; c < cols; ++c)
        dot += (static_cast<double>(w[r * cols + c]) - q[r * cols + c]) *
               x[t * cols + c];
      expected += dot * dot;
    }
  expected *= 2.0 / tokens;
  EXPECT_NEAR(layerOutputError(w.data(), q.data(), rows, cols, h.data()),
              expected, 1e-10 * expected);
}

//===----------------------------------------------------------------------===//
// Degenerate calibration and refusals
//===----------------------------------------------------------------------===//

TEST(GPTQDegenerate, DeadColumnsAreZeroedAndReported) {
  const int64_t rows = 8, cols = 64, tokens = 200;
  std::vector<float> x = correlatedTokens(tokens, cols, 21);
  const std::vector<int64_t> deadColumns = {3, 17, 40, 63};
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t c : deadColumns)
      x[t * cols + c] = 0.0f;
  std::vector<double> h = naiveHessian(x, tokens, cols);
  std::vector<float> w = randomWeights(rows, cols, 22);
  for (bool actOrder : {false, true}) {
    GPTQOptions options;
    options.actOrder = actOrder;
    WeightTarget target = grouped(4, false, 16);
    std::string error;
    std::optional<GPTQResult> result =
        quantizeGPTQ(w.data(), rows, cols, h.data(), target, options, &error);
    ASSERT_TRUE(result) << error;
    EXPECT_EQ(result->deadColumns, 4);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c : deadColumns)
        EXPECT_EQ(result->dequantized[r * cols + c], 0.0f);
    Reference reference =
        referenceGPTQ(w, rows, cols, h, target, actOrder, false);
    EXPECT_EQ(reference.dead, 4);
    EXPECT_EQ(countDifferences(result->dequantized, reference.values), 0);
  }
  // Block formats report them too (zero need not be on a block's grid).
  std::optional<GPTQResult> block =
      quantizeGPTQ(w.data(), rows, cols, h.data(),
                   WeightTarget::ofBlock(Format::Q8_0), {}, nullptr);
  ASSERT_TRUE(block);
  EXPECT_EQ(block->deadColumns, 4);
}

TEST(GPTQDegenerate, RankDeficientHessianIsDamped) {
  // Fewer tokens than inputs: H is singular, the 1% dampening suffices.
  const int64_t rows = 8, cols = 96, tokens = 20;
  std::vector<float> x = correlatedTokens(tokens, cols, 31);
  std::vector<double> h = naiveHessian(x, tokens, cols);
  std::vector<float> w = randomWeights(rows, cols, 32);
  std::string error;
  std::optional<GPTQResult> result = quantizeGPTQ(
      w.data(), rows, cols, h.data(), grouped(4, false, 32), {}, &error);
  ASSERT_TRUE(result) << error;
  EXPECT_EQ(result->dampRetries, 0);
  Reference reference =
      referenceGPTQ(w, rows, cols, h, grouped(4, false, 32), false, false);
  EXPECT_EQ(countDifferences(result->dequantized, reference.values), 0);
}

TEST(GPTQDegenerate, IndefiniteHessianRetriesWithMoreDampening) {
  const int64_t rows = 8, cols = 64, tokens = 200;
  std::vector<float> x = correlatedTokens(tokens, cols, 41);
  std::vector<double> h = naiveHessian(x, tokens, cols);
  // Shift the spectrum down by 5% of the mean diagonal: 1% leaves it
  // indefinite, 10% does not.
  double mean = 0.0;
  for (int64_t i = 0; i < cols; ++i)
    mean += h[i * cols + i] / cols;
  for (int64_t i = 0; i < cols; ++i)
    h[i * cols + i] -= 0.05 * mean;
  std::vector<float> w = randomWeights(rows, cols, 42);
  WeightTarget target = WeightTarget::ofBlock(Format::Q4_0);
  std::string error;
  std::optional<GPTQResult> result =
      quantizeGPTQ(w.data(), rows, cols, h.data(), target, {}, &error);
  ASSERT_TRUE(result) << error;
  EXPECT_EQ(result->dampRetries, 1);
  EXPECT_NEAR(result->dampFraction, 0.1, 1e-12);
  expectPackedRoundTrip(*result, target, rows, cols);
  // The mean diagonal moved, so the reference damps the shifted H by 10%.
  Reference reference =
      referenceGPTQ(w, rows, cols, h, target, false, false, 0.1);
  EXPECT_EQ(countDifferences(result->dequantized, reference.values), 0);

  // Negative definite: no dampening up to 1 helps.
  std::vector<double> negative(static_cast<size_t>(cols * cols), 0.0);
  for (int64_t i = 0; i < cols; ++i)
    negative[i * cols + i] = -1.0;
  error.clear();
  EXPECT_FALSE(
      quantizeGPTQ(w.data(), rows, cols, negative.data(), target, {}, &error));
  EXPECT_NE(error.find("positive definite"), std::string::npos) << error;
}

TEST(GPTQRefuses, NonFiniteInputs) {
  const int64_t rows = 4, cols = 32;
  std::vector<float> x = correlatedTokens(50, cols, 51);
  std::vector<double> h = naiveHessian(x, 50, cols);
  std::vector<float> w = randomWeights(rows, cols, 52);
  WeightTarget target = grouped(4, false, 0);
  std::string error;
  w[37] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(
      quantizeGPTQ(w.data(), rows, cols, h.data(), target, {}, &error));
  EXPECT_NE(error.find("not finite"), std::string::npos) << error;
  w[37] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(
      quantizeGPTQ(w.data(), rows, cols, h.data(), target, {}, &error));
  w[37] = 0.0f;
  h[5 * cols + 9] = std::numeric_limits<double>::quiet_NaN();
  error.clear();
  EXPECT_FALSE(
      quantizeGPTQ(w.data(), rows, cols, h.data(), target, {}, &error));
  EXPECT_NE(error.find("Hessian"), std::string::npos) << error;
}

TEST(GPTQRefuses, ShapesAndOptions) {
  std::vector<float> w = randomWeights(4, 96, 9);
  std::vector<double> h(96 * 96, 0.0);
  for (int i = 0; i < 96; ++i)
    h[i * 96 + i] = 1.0;
  std::string error;
  // A K-quant needs whole 256-column blocks.
  EXPECT_FALSE(quantizeGPTQ(w.data(), 4, 96, h.data(),
                            WeightTarget::ofBlock(Format::Q4_K), {}, &error));
  EXPECT_NE(error.find("q4_K"), std::string::npos) << error;
  EXPECT_FALSE(quantizeGPTQ(w.data(), 0, 96, h.data(), grouped(4, false, 0), {},
                            &error));
  EXPECT_FALSE(
      quantizeGPTQ(w.data(), 4, 0, h.data(), grouped(4, false, 0), {}, &error));
  GPTQOptions bad;
  bad.blockSize = 0;
  EXPECT_FALSE(quantizeGPTQ(w.data(), 4, 96, h.data(), grouped(4, false, 0),
                            bad, &error));
  // Identity Hessian: GPTQ is round-to-nearest.
  std::optional<GPTQResult> result = quantizeGPTQ(
      w.data(), 4, 96, h.data(), grouped(4, false, 32), {}, &error);
  ASSERT_TRUE(result) << error;
  std::vector<float> rtn(w.size());
  ASSERT_TRUE(fakeQuantize(grouped(4, false, 32), w.data(), 4, 96, rtn.data()));
  EXPECT_EQ(countDifferences(result->dequantized, rtn), 0);
}

TEST(GPTQRefuses, FormatsWithoutScalarCodes) {
  std::vector<float> w(2 * 256, 0.01f);
  std::vector<double> h(256 * 256, 0.0);
  for (int i = 0; i < 256; ++i)
    h[i * 256 + i] = 1.0;
  for (Format format : {Format::TQ1_0, Format::TQ2_0, Format::F16, Format::BF16,
                        Format::F32, Format::Q8_1, Format::Q8_K}) {
    WeightTarget target = WeightTarget::ofBlock(format);
    std::string why;
    EXPECT_FALSE(supportsGPTQ(target, &why));
    EXPECT_NE(why.find(target.name()), std::string::npos) << why;
    std::string error;
    EXPECT_FALSE(quantizeGPTQ(w.data(), 2, 256, h.data(), target, {}, &error));
    EXPECT_EQ(error, why);
  }
  GroupedFormat tooWide;
  tooWide.bits = 9;
  std::string why;
  EXPECT_FALSE(supportsGPTQ(WeightTarget::ofGrouped(tooWide), &why));
  EXPECT_FALSE(why.empty());
}

//===----------------------------------------------------------------------===//
// Block grids
//===----------------------------------------------------------------------===//

TEST(GPTQBlockGrid, ValuesAndCodesMatchTheDecoders) {
  std::mt19937 rng(61);
  std::normal_distribution<float> normal(0.0f, 0.03f);
  for (const WeightTarget &target : everySupportedTarget()) {
    if (target.kind != WeightTarget::Kind::Block)
      continue;
    const detail::BlockGridInfo *info = detail::getBlockGridInfo(target.block);
    ASSERT_NE(info, nullptr) << target.name();
    const int n = info->blockSize;
    std::vector<float> x(static_cast<size_t>(n));
    std::vector<uint8_t> block(info->bytesPerBlock);
    std::vector<float> decoded(static_cast<size_t>(n));
    for (int trial = 0; trial < 3; ++trial) {
      for (float &value : x)
        value = normal(rng) + (trial == 2 ? 0.05f : 0.0f);
      getRowCodec(target.block)->quantize(x.data(), block.data(), n, nullptr);
      // The quantizer's own codes read back, and decode to the grid.
      ASSERT_TRUE(
          dequantizeRows(target.block, block.data(), decoded.data(), 1, n));
      for (int e = 0; e < n; ++e) {
        detail::SubBlockGrid grid =
            detail::readSubBlockGrid(*info, block.data(), e / info->span);
        int code = detail::readBlockCode(*info, block.data(), e);
        EXPECT_EQ(detail::gridValue(*info, grid, code), decoded[e])
            << target.name() << " element " << e;
      }
      // Every code of a few elements, written and decoded.
      std::vector<float> before(static_cast<size_t>(n));
      ASSERT_TRUE(
          dequantizeRows(target.block, block.data(), before.data(), 1, n));
      for (int e : {0, 1, 15, 16, 17, 31, n - 1, n / 2 + 3}) {
        detail::SubBlockGrid grid =
            detail::readSubBlockGrid(*info, block.data(), e / info->span);
        for (int code = 0; code < info->codes; ++code) {
          std::vector<uint8_t> edited = block;
          detail::writeBlockCode(*info, edited.data(), e, code);
          EXPECT_EQ(detail::readBlockCode(*info, edited.data(), e), code);
          ASSERT_TRUE(dequantizeRows(target.block, edited.data(),
                                     decoded.data(), 1, n));
          float expected = detail::gridValue(*info, grid, code);
          EXPECT_EQ(std::memcmp(&decoded[e], &expected, sizeof(float)), 0)
              << target.name() << " element " << e << " code " << code;
          // Only that element changed.
          for (int other = 0; other < n; ++other)
            if (other != e)
              ASSERT_EQ(decoded[other], before[other])
                  << target.name() << " element " << e << " code " << code;
        }
      }
      // Nearest code: a linear scan, the lowest code on ties.
      for (int k = 0; k < 64; ++k) {
        int e = static_cast<int>(rng() % static_cast<uint32_t>(n));
        detail::SubBlockGrid grid =
            detail::readSubBlockGrid(*info, block.data(), e / info->span);
        double v = static_cast<double>(normal(rng)) * 3.0;
        int best = 0;
        for (int code = 1; code < info->codes; ++code)
          if (std::fabs(v - detail::gridValue(*info, grid, code)) <
              std::fabs(v - detail::gridValue(*info, grid, best)))
            best = code;
        EXPECT_EQ(detail::nearestGridCode(*info, grid, v), best)
            << target.name() << " x " << v;
      }
    }
  }
}

TEST(GPTQBlockGrid, ZeroScaleGivesCodeZero) {
  for (const WeightTarget &target : everySupportedTarget()) {
    if (target.kind != WeightTarget::Kind::Block)
      continue;
    const detail::BlockGridInfo *info = detail::getBlockGridInfo(target.block);
    detail::SubBlockGrid zero{0.0f, 0.0f, false};
    EXPECT_EQ(detail::nearestGridCode(*info, zero, 0.5), 0);
    EXPECT_EQ(detail::nearestGridCode(*info, zero, -0.5), 0);
  }
  // An all-zero block through GPTQ: valid bytes, all values zero.
  std::vector<float> w(2 * 256, 0.0f);
  std::vector<double> h(256 * 256, 0.0);
  for (int i = 0; i < 256; ++i)
    h[i * 256 + i] = 1.0;
  for (Format format : {Format::Q4_0, Format::Q4_K, Format::IQ4_XS}) {
    std::optional<GPTQResult> result = quantizeGPTQ(
        w.data(), 2, 256, h.data(), WeightTarget::ofBlock(format), {}, nullptr);
    ASSERT_TRUE(result);
    for (float value : result->dequantized)
      EXPECT_EQ(value, 0.0f);
  }
}

//===----------------------------------------------------------------------===//
// Hessian accumulation
//===----------------------------------------------------------------------===//

void expectHessianNear(const std::vector<double> &actual,
                       const std::vector<double> &expected, int64_t cols) {
  ASSERT_EQ(actual.size(), expected.size());
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      // float32 products of one chunk: relative to the entry's scale.
      double scale = std::sqrt(expected[i * cols + i] * expected[j * cols + j]);
      ASSERT_NEAR(actual[i * cols + j], expected[i * cols + j], 1e-6 * scale)
          << i << ", " << j;
      ASSERT_EQ(actual[i * cols + j], actual[j * cols + i]);
    }
}

TEST(GPTQHessian, EqualsNaiveDoubleSum) {
  // More tokens than one chunk (4096), added in uneven strided pieces.
  const int64_t cols = 48, tokens = 9000, stride = 53;
  std::vector<float> x = correlatedTokens(tokens, cols, 71);
  std::vector<float> strided(static_cast<size_t>(tokens * stride), 1e30f);
  for (int64_t t = 0; t < tokens; ++t)
    std::memcpy(strided.data() + t * stride, x.data() + t * cols,
                sizeof(float) * cols);
  HessianAccumulator accumulator(cols);
  EXPECT_EQ(accumulator.columns(), cols);
  int64_t done = 0;
  for (int64_t piece : {1, 700, 3395, 4096, 5000}) {
    int64_t take = std::min(piece, tokens - done);
    accumulator.add(strided.data() + done * stride, take, stride);
    done += take;
  }
  ASSERT_EQ(done, tokens);
  EXPECT_EQ(accumulator.samples(), tokens);
  expectHessianNear(accumulator.hessian(), naiveHessian(x, tokens, cols), cols);
}

TEST(GPTQHessian, WideLayersFoldInTiles) {
  // Wider than one fold tile (2048 columns).
  const int64_t cols = 2100, tokens = 24;
  std::vector<float> x = correlatedTokens(tokens, cols, 72, 4);
  HessianAccumulator accumulator(cols);
  accumulator.add(x.data(), tokens, cols);
  expectHessianNear(accumulator.hessian(), naiveHessian(x, tokens, cols), cols);
}

TEST(GPTQHessian, MergeEqualsOneAccumulator) {
  const int64_t cols = 40, tokens = 5000;
  std::vector<float> x = correlatedTokens(tokens, cols, 73);
  HessianAccumulator empty(cols);
  EXPECT_EQ(empty.samples(), 0);
  for (double value : empty.hessian())
    EXPECT_EQ(value, 0.0);
  HessianAccumulator first(cols), second(cols);
  first.add(x.data(), 1234, cols);
  second.add(x.data() + 1234 * cols, tokens - 1234, cols);
  first.merge(second);
  first.merge(empty);
  EXPECT_EQ(first.samples(), tokens);
  expectHessianNear(first.hessian(), naiveHessian(x, tokens, cols), cols);
}

//===----------------------------------------------------------------------===//
// WeightTarget
//===----------------------------------------------------------------------===//

TEST(WeightTarget, GroupedPacksAsPackGrouped) {
  const int64_t rows = 6, cols = 70;
  std::vector<float> w = randomWeights(rows, cols, 81);
  for (WeightTarget target :
       {grouped(4, false, 32), grouped(8, true, 0), grouped(3, false, 16)}) {
    std::vector<uint8_t> viaTarget(target.packedBytes(rows, cols)),
        direct(groupedLayout(target.grouped, rows, cols).totalBytes);
    ASSERT_TRUE(packWeights(target, w.data(), rows, cols, viaTarget.data()));
    ASSERT_TRUE(
        packGrouped(w.data(), rows, cols, target.grouped, direct.data()));
    EXPECT_EQ(viaTarget, direct) << target.name();
    std::vector<float> fake(w.size()), unpacked(w.size());
    ASSERT_TRUE(fakeQuantize(target, w.data(), rows, cols, fake.data()));
    unpackGrouped(direct.data(), rows, cols, target.grouped, unpacked.data());
    EXPECT_EQ(countDifferences(fake, unpacked), 0) << target.name();
  }
  EXPECT_EQ(grouped(4, false, 32).name(), "ui4:g32");
  EXPECT_EQ(grouped(4, false, 32).groupColumns(70), 32);
  EXPECT_EQ(grouped(8, true, 0).groupColumns(70), 70);
}

TEST(WeightTarget, BlockPacksAsQuantizeRows) {
  const int64_t rows = 3, cols = 512;
  std::vector<float> w = randomWeights(rows, cols, 82);
  for (Format format : {Format::Q4_0, Format::Q6_K, Format::IQ4_XS}) {
    WeightTarget target = WeightTarget::ofBlock(format);
    std::vector<uint8_t> viaTarget(target.packedBytes(rows, cols)),
        direct(viaTarget.size());
    ASSERT_TRUE(packWeights(target, w.data(), rows, cols, viaTarget.data()));
    ASSERT_EQ(
        quantizeRows(format, w.data(), direct.data(), rows, cols, nullptr),
        direct.size());
    EXPECT_EQ(viaTarget, direct) << target.name();
    std::vector<float> fake(w.size()), decoded(w.size());
    ASSERT_TRUE(fakeQuantize(target, w.data(), rows, cols, fake.data()));
    ASSERT_TRUE(
        dequantizeRows(format, direct.data(), decoded.data(), rows, cols));
    EXPECT_EQ(countDifferences(fake, decoded), 0) << target.name();
    EXPECT_EQ(target.groupColumns(cols),
              static_cast<int64_t>(getFormatInfo(format).blockSize));
  }
  std::vector<float> bad = w;
  bad[5] = std::numeric_limits<float>::quiet_NaN();
  std::vector<uint8_t> out(
      WeightTarget::ofBlock(Format::Q4_0).packedBytes(rows, cols));
  EXPECT_FALSE(packWeights(WeightTarget::ofBlock(Format::Q4_0), bad.data(),
                           rows, cols, out.data()));
}

TEST(WeightTarget, Admits) {
  EXPECT_TRUE(WeightTarget::ofBlock(Format::Q4_0).admits(64));
  EXPECT_FALSE(WeightTarget::ofBlock(Format::Q4_0).admits(48));
  EXPECT_FALSE(WeightTarget::ofBlock(Format::Q4_K).admits(128));
  EXPECT_TRUE(WeightTarget::ofBlock(Format::Q4_K).admits(512));
  EXPECT_FALSE(WeightTarget::ofBlock(Format::F16).admits(512));
  EXPECT_FALSE(WeightTarget::ofBlock(Format::Q4_0).admits(0));
  EXPECT_TRUE(grouped(4, false, 32).admits(70));
  EXPECT_FALSE(grouped(4, false, 32).admits(0));
  GroupedFormat invalid;
  invalid.bits = 1;
  EXPECT_FALSE(WeightTarget::ofGrouped(invalid).admits(32));
  EXPECT_EQ(WeightTarget::ofBlock(Format::Q4_K).packedBytes(2, 512),
            2u * 2u * getFormatInfo(Format::Q4_K).bytesPerBlock);
  EXPECT_EQ(WeightTarget::ofBlock(Format::Q4_K).name(), "q4_K");
}

} // namespace
