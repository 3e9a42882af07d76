//===- ModelExecutionTest.cpp - imported models compiled and run ----------===//
//
// The integration of importer, qc-cpu-pipeline, JIT/AOT and runtime:
//  - on synthetic models (always): against an independent float64 forward
//    pass written here from the llama2.c definition, for both rope styles,
//    grouped-query attention and f16 weights; JIT and AOT agree bit for bit;
//    feeding tokens one at a time agrees with one call over all of them;
//  - on stories260K (where ../shared/data exists): the golden window-0
//    logits to 1e-4, the golden per-window NLL of 16 windows to 1e-4, via
//    JIT, AOT, and the model round-tripped through a quantc-written GGUF.
//
//===----------------------------------------------------------------------===//

#include "../IO/IOTesting.h"

#include "quantc/IO/Convert.h"
#include "quantc/IO/LlamaSpec.h"
#include "quantc/IO/SourceModel.h"
#include "quantc/IO/SyntheticModel.h"
#include "quantc/Import/LlamaImporter.h"
#include "quantc/InitAll.h"
#include "quantc/Numerics/EvalMetrics.h"
#include "quantc/Numerics/Float.h"
#include "quantc/Target/CPUTarget.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

using namespace quantc;
using namespace quantc::io;
using quantc::test::TempDir;

namespace {

std::unique_ptr<runtime::Model> compile(const LlamaSpec &spec, bool aot,
                                        const std::string &artifact = "") {
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  mlir::OwningOpRef<mlir::ModuleOp> module = importLlama(context, spec);
  if (!aot) {
    Result<std::unique_ptr<runtime::Model>> model = jitModel(*module);
    EXPECT_TRUE(model.ok()) << model.error();
    return model.ok() ? std::move(*model) : nullptr;
  }
  Status written = compileModelArtifact(*module, artifact);
  EXPECT_TRUE(written.ok()) << written.error();
  Result<std::unique_ptr<runtime::Model>> model =
      runtime::loadArtifact(artifact);
  EXPECT_TRUE(model.ok()) << model.error();
  return model.ok() ? std::move(*model) : nullptr;
}

std::vector<float> runTokens(const runtime::Model &model,
                             const std::vector<int32_t> &tokens) {
  std::vector<float> logits(tokens.size() * model.getInterface().vocabSize);
  std::unique_ptr<runtime::Session> session = model.createSession();
  Status status =
      session->forward(tokens.data(), tokens.size(), 0, logits.data());
  EXPECT_TRUE(status.ok()) << status.error();
  return logits;
}

/// A weight as float64, whatever its stored format.
std::vector<double> readWeight(const WeightRef &weight) {
  std::vector<double> values(weight.getElementCount());
  for (size_t i = 0; i < values.size(); ++i) {
    if (weight.format == Format::F32) {
      float value;
      std::memcpy(&value, weight.data + 4 * i, 4);
      values[i] = value;
    } else {
      uint16_t bits;
      std::memcpy(&bits, weight.data + 2 * i, 2);
      values[i] =
          weight.format == Format::F16 ? fp16ToFp32(bits) : bf16ToFp32(bits);
    }
  }
  return values;
}

/// The llama2.c forward pass in float64, token by token, written from the
/// definition (not from the importer): logits for every position.
std::vector<double> referenceForward(const LlamaSpec &spec,
                                     const std::vector<int32_t> &tokens) {
  const LlamaConfig &c = spec.config;
  int64_t dim = c.dim, hidden = c.hiddenDim, headSize = c.getHeadSize();
  int64_t kvDim = c.getKVDim(), group = c.heads / c.kvHeads;
  auto matvec = [](const std::vector<double> &w, const std::vector<double> &x,
                   int64_t rows) {
    int64_t cols = static_cast<int64_t>(x.size());
    std::vector<double> y(rows, 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < cols; ++k)
        y[r] += w[r * cols + k] * x[k];
    return y;
  };
  auto rmsNorm = [&](const std::vector<double> &x, const WeightRef &ref) {
    std::vector<double> w = readWeight(ref), y(x.size());
    double ss = 0;
    for (double v : x)
      ss += v * v;
    double scale = 1.0 / std::sqrt(ss / x.size() + c.normEps);
    for (size_t i = 0; i < x.size(); ++i)
      y[i] = w[i] * x[i] * scale;
    return y;
  };
  auto rope = [&](std::vector<double> &v, int64_t position) {
    for (int64_t h = 0; h < static_cast<int64_t>(v.size()) / headSize; ++h)
      for (int64_t j = 0; j < headSize / 2; ++j) {
        double angle = position / std::pow(static_cast<double>(c.ropeTheta),
                                           2.0 * j / headSize);
        int64_t a = h * headSize +
                    (c.ropeStyle == RopeStyle::AdjacentPairs ? 2 * j : j);
        int64_t b =
            c.ropeStyle == RopeStyle::AdjacentPairs ? a + 1 : a + headSize / 2;
        double x0 = v[a], x1 = v[b];
        v[a] = x0 * std::cos(angle) - x1 * std::sin(angle);
        v[b] = x0 * std::sin(angle) + x1 * std::cos(angle);
      }
  };

  std::vector<double> embedding = readWeight(spec.tokenEmbedding);
  std::vector<double> classifier = readWeight(spec.output);
  std::vector<std::vector<double>> keys(c.layers), values(c.layers);
  std::vector<double> logits;
  for (size_t position = 0; position < tokens.size(); ++position) {
    std::vector<double> x(embedding.begin() + tokens[position] * dim,
                          embedding.begin() + (tokens[position] + 1) * dim);
    for (int64_t l = 0; l < c.layers; ++l) {
      const LlamaLayerWeights &w = spec.layers[l];
      std::vector<double> xn = rmsNorm(x, w.attnNorm);
      std::vector<double> q = matvec(readWeight(w.wq), xn, dim);
      std::vector<double> k = matvec(readWeight(w.wk), xn, kvDim);
      std::vector<double> v = matvec(readWeight(w.wv), xn, kvDim);
      rope(q, position);
      rope(k, position);
      keys[l].insert(keys[l].end(), k.begin(), k.end());
      values[l].insert(values[l].end(), v.begin(), v.end());
      std::vector<double> mixed(dim, 0.0);
      for (int64_t h = 0; h < c.heads; ++h) {
        int64_t kvHead = h / group;
        std::vector<double> scores(position + 1);
        double maximum = -INFINITY;
        for (size_t s = 0; s <= position; ++s) {
          double dot = 0;
          for (int64_t e = 0; e < headSize; ++e)
            dot += q[h * headSize + e] *
                   keys[l][s * kvDim + kvHead * headSize + e];
          scores[s] = dot / std::sqrt(static_cast<double>(headSize));
          maximum = std::max(maximum, scores[s]);
        }
        double sum = 0;
        for (double &score : scores)
          sum += (score = std::exp(score - maximum));
        for (size_t s = 0; s <= position; ++s)
          for (int64_t e = 0; e < headSize; ++e)
            mixed[h * headSize + e] +=
                scores[s] / sum * values[l][s * kvDim + kvHead * headSize + e];
      }
      std::vector<double> attended = matvec(readWeight(w.wo), mixed, dim);
      for (int64_t i = 0; i < dim; ++i)
        x[i] += attended[i];
      xn = rmsNorm(x, w.ffnNorm);
      std::vector<double> gate = matvec(readWeight(w.wGate), xn, hidden);
      std::vector<double> up = matvec(readWeight(w.wUp), xn, hidden);
      for (int64_t i = 0; i < hidden; ++i)
        gate[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
      std::vector<double> down = matvec(readWeight(w.wDown), gate, dim);
      for (int64_t i = 0; i < dim; ++i)
        x[i] += down[i];
    }
    std::vector<double> row =
        matvec(classifier, rmsNorm(x, spec.outputNorm), c.vocabSize);
    logits.insert(logits.end(), row.begin(), row.end());
  }
  return logits;
}

double maxAbsDifference(const std::vector<float> &a,
                        const std::vector<double> &b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
  return worst;
}

std::vector<int32_t> someTokens(int32_t vocab, size_t count) {
  return quantc::test::someTokens(vocab, count, /*seed=*/12345);
}

/// A small synthetic llama2.c model in `dir`.
std::string writeSynthetic(const TempDir &dir, SyntheticModelOptions options) {
  std::string path = dir.file("synthetic.bin");
  Status status = writeSyntheticModelFile(options, path);
  EXPECT_TRUE(status.ok()) << status.error();
  return path;
}

std::string convertToGGUF(const std::string &in, Format type,
                          const std::string &out) {
  Result<SourceModel> model = loadSourceModel(in, "");
  EXPECT_TRUE(model.ok()) << model.error();
  ConvertOptions options;
  options.type = type;
  options.threads = 1;
  Result<ConvertPlan> plan = planConversion(*model, options, nullptr, "");
  EXPECT_TRUE(plan.ok()) << plan.error();
  Result<uint64_t> written = runConversion(*plan, options, out);
  EXPECT_TRUE(written.ok()) << written.error();
  return out;
}

TEST(ModelExecution, MatchesAFloat64ForwardPassOnASyntheticModel) {
  TempDir dir;
  SyntheticModelOptions options;
  options.dim = 32;
  options.hiddenDim = 72;
  options.layers = 2;
  options.heads = 4;
  options.kvHeads = 2;
  options.vocabSize = 300;
  options.seqLen = 48;
  options.seed = 7;
  Result<LlamaSpec> spec = loadLlamaSpec(writeSynthetic(dir, options));
  ASSERT_TRUE(spec.ok()) << spec.error();
  std::unique_ptr<runtime::Model> model = compile(*spec, /*aot=*/false);
  ASSERT_TRUE(model);
  std::vector<int32_t> tokens = someTokens(300, 37);
  std::vector<float> logits = runTokens(*model, tokens);
  EXPECT_LT(maxAbsDifference(logits, referenceForward(*spec, tokens)), 1e-4);

  // One token per call, over the cache the earlier calls filled.
  std::unique_ptr<runtime::Session> session = model->createSession();
  std::vector<float> row(300);
  for (size_t t = 0; t < tokens.size(); ++t) {
    ASSERT_TRUE(session->forward(&tokens[t], 1, t, row.data()).ok());
    for (int v = 0; v < 300; ++v)
      ASSERT_NEAR(row[v], logits[t * 300 + v], 1e-5) << "position " << t;
  }
}

TEST(ModelExecution, SplitHalvesRopeAndHalfPrecisionWeights) {
  // The same synthetic model as f16 GGUF (adjacent pairs, f16 weights), and
  // as a Hugging Face-style spec (split halves) by relabelling the rope:
  // each is checked against the float64 pass of the same spec.
  TempDir dir;
  SyntheticModelOptions options;
  options.dim = 32;
  options.hiddenDim = 64;
  options.layers = 1;
  options.heads = 2;
  options.kvHeads = 1;
  options.vocabSize = 280;
  options.seqLen = 32;
  std::string path = writeSynthetic(dir, options);
  std::string f16 = convertToGGUF(path, Format::F16, dir.file("m16.gguf"));
  Result<LlamaSpec> half = loadLlamaSpec(f16);
  ASSERT_TRUE(half.ok()) << half.error();
  EXPECT_EQ(half->layers[0].wq.format, Format::F16);
  std::vector<int32_t> tokens = someTokens(280, 20);
  std::unique_ptr<runtime::Model> model = compile(*half, /*aot=*/false);
  ASSERT_TRUE(model);
  EXPECT_LT(maxAbsDifference(runTokens(*model, tokens),
                             referenceForward(*half, tokens)),
            1e-4);

  Result<LlamaSpec> split = loadLlamaSpec(path);
  ASSERT_TRUE(split.ok()) << split.error();
  split->config.ropeStyle = RopeStyle::SplitHalves;
  model = compile(*split, /*aot=*/false);
  ASSERT_TRUE(model);
  EXPECT_LT(maxAbsDifference(runTokens(*model, tokens),
                             referenceForward(*split, tokens)),
            1e-4);
}

TEST(ModelExecution, AheadOfTimeMatchesTheJITBitForBit) {
  TempDir dir;
  SyntheticModelOptions options;
  options.dim = 32;
  options.hiddenDim = 48;
  options.layers = 1;
  options.heads = 4;
  options.kvHeads = 4;
  options.vocabSize = 270;
  options.seqLen = 16;
  Result<LlamaSpec> spec = loadLlamaSpec(writeSynthetic(dir, options));
  ASSERT_TRUE(spec.ok()) << spec.error();
  std::unique_ptr<runtime::Model> jit = compile(*spec, /*aot=*/false);
  std::unique_ptr<runtime::Model> aot =
      compile(*spec, /*aot=*/true, dir.file("model.so"));
  ASSERT_TRUE(jit && aot);
  EXPECT_EQ(aot->getInterface().toJSON(), jit->getInterface().toJSON());
  std::vector<int32_t> tokens = someTokens(270, 16);
  std::vector<float> a = runTokens(*jit, tokens), b = runTokens(*aot, tokens);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);

  // The runtime refuses what the compiled code would trust.
  std::unique_ptr<runtime::Session> session = aot->createSession();
  std::vector<float> row(270);
  int32_t bad = 270;
  EXPECT_FALSE(session->forward(&bad, 1, 0, row.data()).ok());
  int32_t good = 3;
  EXPECT_FALSE(session->forward(&good, 1, 16, row.data()).ok());
  EXPECT_FALSE(session->forward(&good, 0, 0, row.data()).ok());
}

/// Golden data of stories260K, or a skip.
struct Stories260K {
  std::string model, tokenizer;
  std::vector<int32_t> tokens;
  std::vector<float> logits;
  std::vector<double> windowNLL;
};

std::optional<Stories260K> loadStories260K() {
  Stories260K data;
  data.model = quantc::test::modelPath("stories260K.bin").string();
  data.tokenizer = quantc::test::modelPath("tok512.bin").string();
  std::filesystem::path golden =
      std::filesystem::path(QUANTC_SHARED_DATA_DIR) / "golden" / "stories260K";
  auto tokens = quantc::test::readFile(golden / "tokens_first8193.i32");
  auto logits = quantc::test::readFile(golden / "logits_window0.f32");
  std::ifstream nll(golden / "nll_first16windows.txt");
  if (!std::filesystem::exists(data.model) || !tokens || !logits || !nll)
    return std::nullopt;
  data.tokens.resize(tokens->size() / 4);
  std::memcpy(data.tokens.data(), tokens->data(), tokens->size());
  data.logits.resize(logits->size() / 4);
  std::memcpy(data.logits.data(), logits->data(), logits->size());
  // Lines "window W: tokens A..B, mean_nll X".
  std::string line;
  while (std::getline(nll, line)) {
    size_t at = line.find("mean_nll ");
    if (line.rfind("window", 0) == 0 && at != std::string::npos)
      data.windowNLL.push_back(std::stod(line.substr(at + 9)));
  }
  if (data.windowNLL.size() != 16 || data.tokens.size() != 8193 ||
      data.logits.size() != 512 * 512)
    return std::nullopt;
  return data;
}

void expectGolden(const runtime::Model &model, const Stories260K &golden) {
  std::unique_ptr<runtime::Session> session = model.createSession();
  std::vector<float> logits(512 * 512);
  for (int w = 0; w < 16; ++w) {
    ASSERT_TRUE(
        session->forward(golden.tokens.data() + 512 * w, 512, 0, logits.data())
            .ok());
    if (w == 0) {
      double worst = 0;
      for (size_t i = 0; i < logits.size(); ++i)
        worst = std::max(worst, std::fabs(static_cast<double>(logits[i]) -
                                          golden.logits[i]));
      EXPECT_LT(worst, 1e-4) << "window 0 logits";
    }
    double sum = 0;
    for (int t = 0; t < 512; ++t)
      sum += tokenNLL(logits.data() + t * 512, 512,
                      golden.tokens[512 * w + t + 1]);
    EXPECT_NEAR(sum / 512, golden.windowNLL[w], 1e-4) << "window " << w;
  }
}

TEST(ModelExecution, Stories260KReproducesTheGoldenLogitsAndNLL) {
  std::optional<Stories260K> golden = loadStories260K();
  if (!golden)
    GTEST_SKIP() << "stories260K or its golden data is absent "
                    "(../shared/data not beside the checkout)";
  TempDir dir;
  Result<LlamaSpec> spec = loadLlamaSpec(golden->model, golden->tokenizer);
  ASSERT_TRUE(spec.ok()) << spec.error();
  {
    SCOPED_TRACE("JIT");
    std::unique_ptr<runtime::Model> model = compile(*spec, /*aot=*/false);
    ASSERT_TRUE(model);
    expectGolden(*model, *golden);
  }
  {
    SCOPED_TRACE("AOT");
    std::unique_ptr<runtime::Model> model =
        compile(*spec, /*aot=*/true, dir.file("stories260K.so"));
    ASSERT_TRUE(model);
    expectGolden(*model, *golden);
  }
  {
    SCOPED_TRACE("GGUF written by quantc");
    std::string gguf =
        convertToGGUF(golden->model, Format::F32, dir.file("s.gguf"));
    Result<LlamaSpec> fromGGUF = loadLlamaSpec(gguf);
    ASSERT_TRUE(fromGGUF.ok()) << fromGGUF.error();
    std::unique_ptr<runtime::Model> model = compile(*fromGGUF, /*aot=*/false);
    ASSERT_TRUE(model);
    expectGolden(*model, *golden);
  }
}

} // namespace
