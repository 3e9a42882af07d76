//===- CalibrateTest.cpp - qc-calibrate on imported models ----------------===//
//
// What qc-calibrate records against what it should have recorded,
// recomputed here from the weights:
//  - the input of the first projection is RMSNorm(embedding[token]) times
//    the norm weight, token by token, so its range over all samples is
//    known without running the model;
//  - the shared classifier's per-row ranges are the embedding's rows;
//  - the attention probabilities of causal windows span exactly [0, 1];
//  - counts follow from the windows; histograms hold every value; a second
//    run gives the same attributes.
// On a synthetic model always, and on stories260K where ../shared/data is.
//
//===----------------------------------------------------------------------===//

#include "../IO/IOTesting.h"

#include "quantc/IO/LlamaSpec.h"
#include "quantc/IO/SyntheticModel.h"
#include "quantc/Import/LlamaImporter.h"
#include "quantc/InitAll.h"
#include "quantc/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

using namespace quantc;
using namespace quantc::io;
using quantc::test::TempDir;

namespace {

std::unique_ptr<mlir::MLIRContext> createContext() {
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  auto context = std::make_unique<mlir::MLIRContext>(registry);
  context->disableMultithreading();
  return context;
}

/// `spec` imported, observed (qc-insert-observers) and calibrated on
/// `samples`; null (and a test failure) when a pass fails.
mlir::OwningOpRef<mlir::ModuleOp> calibrate(mlir::MLIRContext &context,
                                            const LlamaSpec &spec,
                                            const std::string &samples,
                                            int64_t window,
                                            int64_t maxTokens = 4096) {
  mlir::OwningOpRef<mlir::ModuleOp> module = importLlama(context, spec);
  mlir::PassManager pm(&context);
  pm.addNestedPass<mlir::func::FuncOp>(mlir::qc::createQCInsertObservers());
  mlir::qc::QCCalibrateOptions options;
  options.samplesPath = samples;
  options.contextLength = window;
  options.maxTokens = maxTokens;
  options.quiet = true;
  pm.addPass(mlir::qc::createQCCalibrate(options));
  if (mlir::failed(pm.run(*module))) {
    ADD_FAILURE() << "qc-insert-observers + qc-calibrate failed";
    return nullptr;
  }
  return module;
}

mlir::qc::StatsAttr statsOf(mlir::ModuleOp module, llvm::StringRef label) {
  mlir::qc::StatsAttr stats;
  module.walk([&](mlir::qc::ObserveOp op) {
    if (op.getLabel() == label)
      stats = op.getStatsAttr();
  });
  EXPECT_TRUE(stats) << "no statistics on observer " << label.str();
  return stats;
}

std::vector<float> readF32(const WeightRef &weight) {
  EXPECT_EQ(weight.format, Format::F32) << weight.name;
  std::vector<float> values(weight.getElementCount());
  std::memcpy(values.data(), weight.data, values.size() * sizeof(float));
  return values;
}

std::string writeTokens(const TempDir &dir,
                        const std::vector<int32_t> &tokens) {
  std::string path = dir.file("samples.i32");
  quantc::test::writeTokenFile(path, tokens);
  return path;
}

std::vector<int32_t> someTokens(int32_t vocab, size_t count) {
  return quantc::test::someTokens(vocab, count, /*seed=*/977);
}

/// The range of the first projection's input over `tokens`: each token's
/// embedding row, RMS-normalized and scaled by layer 0's norm weight, as
/// the importer computes it in float32.
std::pair<float, float>
firstProjectionRange(const LlamaSpec &spec,
                     const std::vector<int32_t> &tokens) {
  const int64_t dim = spec.config.dim;
  std::vector<float> embedding = readF32(spec.tokenEmbedding);
  std::vector<float> norm = readF32(spec.layers[0].attnNorm);
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (int32_t token : tokens) {
    const float *x = embedding.data() + token * dim;
    float squares = 0;
    for (int64_t i = 0; i < dim; ++i)
      squares += x[i] * x[i];
    const float scale = 1.0f / std::sqrt(squares / static_cast<float>(dim) +
                                         spec.config.normEps);
    for (int64_t i = 0; i < dim; ++i) {
      const float y = norm[i] * (scale * x[i]);
      lo = std::min(lo, y);
      hi = std::max(hi, y);
    }
  }
  return {lo, hi};
}

/// The checks every calibrated model must pass; `tokens` are the samples
/// the pass used, in windows of `window`.
void expectCalibration(mlir::ModuleOp module, const LlamaSpec &spec,
                       const std::vector<int32_t> &tokens, int64_t window) {
  const LlamaConfig &c = spec.config;
  const auto count = static_cast<int64_t>(tokens.size());

  // Every observer was measured.
  int observers = 0;
  module.walk([&](mlir::qc::ObserveOp op) {
    ++observers;
    EXPECT_TRUE(op.getStatsAttr()) << op.getLabel().str();
  });
  // Per layer: 7 weights; the inputs of the q/k/v, output, gate/up and down
  // projections (q, k and v share one, as gate and up do); and attention's
  // queries, keys, probabilities and values. Then the classifier's input
  // and weight.
  EXPECT_EQ(observers, 15 * c.layers + 2);

  // The first projection's input: tokens x dim values, in the range the
  // weights imply (to float32 rounding of a differently ordered sum).
  mlir::qc::StatsAttr first = statsOf(module, "forward/matmul_0/in0");
  ASSERT_TRUE(first);
  EXPECT_EQ(first.getCount(), count * c.dim);
  auto [lo, hi] = firstProjectionRange(spec, tokens);
  EXPECT_NEAR(first.getMin()[0], lo, 1e-5 * std::fabs(lo));
  EXPECT_NEAR(first.getMax()[0], hi, 1e-5 * std::fabs(hi));
  mlir::qc::HistogramAttr histogram = first.getHistogram();
  ASSERT_TRUE(histogram);
  EXPECT_EQ(histogram.getNumBins(), 2048);
  EXPECT_EQ(histogram.getLoValue(), 0.0);
  EXPECT_EQ(histogram.getHiValue(), first.getAbsMax(0));
  int64_t binned = 0;
  for (int64_t bin : histogram.getCounts())
    binned += bin;
  EXPECT_EQ(binned, first.getCount());

  // The FFN down projection reads tokens x hidden values.
  mlir::qc::StatsAttr down = statsOf(module, "forward/matmul_6/in0");
  ASSERT_TRUE(down);
  EXPECT_EQ(down.getCount(), count * c.hiddenDim);

  // Softmax probabilities of causal windows: masked zeros, and 1 for the
  // first row of each window, which sees only itself; heads x T x T each.
  mlir::qc::StatsAttr probabilities = statsOf(module, "forward/generic_1/in0");
  ASSERT_TRUE(probabilities);
  int64_t scores = 0;
  for (int64_t start = 0; start < count; start += window) {
    const int64_t t = std::min(window, count - start);
    scores += c.heads * t * t;
  }
  EXPECT_EQ(probabilities.getCount(), scores);
  EXPECT_EQ(probabilities.getMin()[0], 0.0);
  EXPECT_EQ(probabilities.getMax()[0], 1.0);

  // The classifier (the shared embedding) per output row, from the file.
  std::string classifier =
      "forward/matmul_" + std::to_string(7 * c.layers) + "/in1";
  mlir::qc::StatsAttr rows = statsOf(module, classifier);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows.getAxis(), std::optional<int64_t>(0));
  ASSERT_EQ(static_cast<int64_t>(rows.getMin().size()), c.vocabSize);
  std::vector<float> embedding = readF32(spec.output);
  for (int64_t v = 0; v < c.vocabSize; ++v) {
    auto row = embedding.begin() + v * c.dim;
    EXPECT_EQ(rows.getMin()[v], *std::min_element(row, row + c.dim));
    EXPECT_EQ(rows.getMax()[v], *std::max_element(row, row + c.dim));
  }
  EXPECT_FALSE(rows.getHistogram());
}

TEST(Calibrate, RecordsWhatTheSyntheticModelComputes) {
  TempDir dir;
  SyntheticModelOptions options;
  options.dim = 32;
  options.hiddenDim = 72;
  options.layers = 2;
  options.heads = 4;
  options.kvHeads = 2;
  options.vocabSize = 300;
  options.seqLen = 48;
  options.seed = 3;
  std::string path = dir.file("synthetic.bin");
  ASSERT_TRUE(writeSyntheticModelFile(options, path).ok());
  Result<LlamaSpec> spec = loadLlamaSpec(path);
  ASSERT_TRUE(spec.ok()) << spec.error();

  // 100 tokens in windows of 32: three full ones and one of 4.
  std::vector<int32_t> tokens = someTokens(300, 100);
  std::string samples = writeTokens(dir, tokens);
  std::unique_ptr<mlir::MLIRContext> context = createContext();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      calibrate(*context, *spec, samples, 32);
  ASSERT_TRUE(module);
  expectCalibration(*module, *spec, tokens, 32);

  // Calibration is deterministic: a second run gives the same attributes.
  mlir::OwningOpRef<mlir::ModuleOp> again =
      calibrate(*context, *spec, samples, 32);
  ASSERT_TRUE(again);
  std::vector<mlir::Attribute> first, second;
  module->walk(
      [&](mlir::qc::ObserveOp op) { first.push_back(op.getStatsAttr()); });
  again->walk(
      [&](mlir::qc::ObserveOp op) { second.push_back(op.getStatsAttr()); });
  EXPECT_EQ(first, second);
}

TEST(Calibrate, Stories260KOnItsGoldenTokens) {
  std::filesystem::path model = quantc::test::modelPath("stories260K.bin");
  std::filesystem::path samples =
      std::filesystem::path(QUANTC_SHARED_DATA_DIR) / "golden" / "stories260K" /
      "tokens_first8193.i32";
  std::optional<std::vector<uint8_t>> bytes = quantc::test::readFile(samples);
  if (!std::filesystem::exists(model) || !bytes)
    GTEST_SKIP() << "stories260K or its golden tokens are absent "
                    "(../shared/data not beside the checkout)";
  Result<LlamaSpec> spec = loadLlamaSpec(model.string());
  ASSERT_TRUE(spec.ok()) << spec.error();

  // The first 1000 tokens (max-tokens), windows of 256 and a last of 232.
  std::vector<int32_t> tokens(bytes->size() / sizeof(int32_t));
  std::memcpy(tokens.data(), bytes->data(), tokens.size() * sizeof(int32_t));
  tokens.resize(1000);
  std::unique_ptr<mlir::MLIRContext> context = createContext();
  mlir::OwningOpRef<mlir::ModuleOp> calibrated =
      calibrate(*context, *spec, samples.string(), 256, 1000);
  ASSERT_TRUE(calibrated);
  expectCalibration(*calibrated, *spec, tokens, 256);
}

} // namespace
