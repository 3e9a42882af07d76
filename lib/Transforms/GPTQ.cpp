//===- GPTQ.cpp - qc-gptq --------------------------------------------------===//
//
// Runs the model over the samples (a TappedModel tapping every quantized
// projection's input), accumulates each input's Hessian, and quantizes the
// projections reading it with lib/Numerics/GPTQ. True-sequential: inputs in
// program order, the model's weights already quantized up to that input
// (the tapped model reads them from host buffers this pass rewrites with
// each result's dequantized values).
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "ModelRunner.h"
#include "Projections.h"

#include "quantc/Numerics/GPTQ.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>

namespace mlir::qc {
QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DEF_QCGPTQ
#include "quantc/Transforms/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// One weight to quantize.
struct Job {
  ProjectionSite *site = nullptr;
  quantc::WeightTarget target;
  /// Index of its global among the tapped model's host weights.
  size_t host = 0;
};

struct GPTQPass : public qc::impl::QCGPTQBase<GPTQPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

private:
  LogicalResult run();
  LogicalResult quantize(Job &job, const std::vector<double> &hessian,
                         TappedModel *model);

  InFlightDiagnostic moduleError(const Twine &message) {
    return emitError(getOperation().getLoc(), "qc-gptq: " + message);
  }
  void progress(const Twine &message) const {
    if (!quiet)
      llvm::errs() << "qc-gptq: " << message << "\n";
  }

  WeightStore store;
  int64_t dampRetries = 0, deadColumns = 0;
};

LogicalResult GPTQPass::quantize(Job &job, const std::vector<double> &hessian,
                                 TappedModel *model) {
  ProjectionSite &site = *job.site;
  FailureOr<std::vector<float>> weights = store.readRows(site);
  if (failed(weights))
    return failure();
  const int64_t rows = site.rows(), cols = site.cols();
  quantc::GPTQOptions options;
  options.dampFraction = damp;
  options.blockSize = blockSize;
  options.actOrder = actOrder;
  options.staticGroups = staticGroups;
  std::string why;
  std::optional<quantc::GPTQResult> result = quantc::quantizeGPTQ(
      weights->data(), rows, cols, hessian.data(), job.target, options, &why);
  if (!result)
    return site.matmul.emitOpError("qc-gptq cannot quantize '")
           << site.weight.name << "' to " << job.target.name() << ": " << why;
  dampRetries += result->dampRetries;
  deadColumns += result->deadColumns;

  // Round-to-nearest on the same data, for the report.
  std::vector<float> nearest(weights->size());
  double nearestError = 0.0;
  if (quantc::fakeQuantize(job.target, weights->data(), rows, cols,
                           nearest.data()))
    nearestError = quantc::layerOutputError(weights->data(), nearest.data(),
                                            rows, cols, hessian.data());
  double gptqError = quantc::layerOutputError(
      weights->data(), result->dequantized.data(), rows, cols, hessian.data());
  progress(llvm::formatv(
      "{0} ({1}x{2} -> {3}): output error {4:E2} vs {5:E2} round-to-nearest "
      "({6:+F1}%){7}",
      site.weight.name, rows, cols, job.target.name(), gptqError, nearestError,
      nearestError > 0 ? 100.0 * (gptqError / nearestError - 1.0) : 0.0,
      result->dampRetries > 0
          ? llvm::formatv(", damp raised to {0}", result->dampFraction).str()
          : std::string()));

  Builder builder(&getContext());
  auto byteType = RankedTensorType::get(
      {static_cast<int64_t>(result->packed.size())}, builder.getI8Type());
  auto bytes = DenseElementsAttr::getFromRawBuffer(
      byteType, ArrayRef<char>(reinterpret_cast<const char *>(
                                   result->packed.data()),
                               result->packed.size()));
  site.weight.global->setAttr(
      "qc.prequantized",
      builder.getDictionaryAttr(
          {builder.getNamedAttr("format",
                                builder.getStringAttr(job.target.name())),
           builder.getNamedAttr("method", builder.getStringAttr("gptq")),
           builder.getNamedAttr("bytes", bytes)}));

  // Later inputs are recorded with this weight quantized.
  if (model) {
    MutableArrayRef<float> host = model->getHostWeights(job.host);
    const std::vector<float> &q = result->dequantized;
    if (!site.transposed)
      std::copy(q.begin(), q.end(), host.begin());
    else
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          host[c * rows + r] = q[r * cols + c];
  }
  return success();
}

LogicalResult GPTQPass::run() {
  auto start = std::chrono::steady_clock::now();
  ModuleOp module = getOperation();
  ModuleErrorFn error = [&](const Twine &message) {
    return moduleError(message);
  };
  FailureOr<ModelShape> shape = getModelShape(module, error);
  if (failed(shape))
    return failure();
  std::string parseError;
  FailureOr<SchemeSelector> selector =
      SchemeSelector::parse(schemeName, keepFloat, overrides, parseError);
  if (failed(selector))
    return moduleError(parseError);
  if (!(damp > 0.0 && damp <= 1.0))
    return moduleError("damp must be in (0, 1], got ") << static_cast<double>(damp);
  if (blockSize < 1)
    return moduleError("block-size must be positive, got ") << static_cast<int64_t>(blockSize);
  if (contextLength < 0 || maxTokens < 0)
    return moduleError("ctx and max-tokens must be non-negative");

  std::vector<ProjectionSite> sites = findProjections(module);
  std::vector<Job> jobs;
  SmallVector<ml_program::GlobalOp> hostGlobals;
  DenseMap<Operation *, Value> inputOfGlobal;
  int64_t floatTargets = 0;
  for (ProjectionSite &site : sites) {
    const quantc::Scheme *scheme = selector->select(site);
    if (!scheme || scheme->weights == quantc::WeightStorage::Float)
      continue;
    if (scheme->weights == quantc::WeightStorage::FP8E4M3)
      return site.matmul.emitOpError("qc-gptq: ")
             << scheme->name()
             << " stores weights as E4M3 codes with one scale per tensor; "
                "GPTQ targets integer groups and llama.cpp block formats";
    std::optional<quantc::WeightTarget> target =
        getWeightTarget(*scheme, site.cols());
    if (!target) {
      ++floatTargets; // a llama.cpp fallback to f16
      continue;
    }
    std::string why;
    if (!quantc::supportsGPTQ(*target, &why))
      return site.matmul.emitOpError("qc-gptq: weight '")
             << site.weight.name << "': " << why;
    if (!site.weight.global)
      return site.matmul.emitOpError("qc-gptq: weight '")
             << site.weight.name
             << "' is an arith.constant; qc-gptq quantizes weights held in "
                "ml_program globals (the tapped model reads them from host "
                "buffers)";
    auto [it, inserted] =
        inputOfGlobal.try_emplace(site.weight.global, site.input);
    if (!inserted)
      return site.matmul.emitOpError("qc-gptq: weight '")
             << site.weight.name
             << "' is read by several projections; GPTQ fits one input";
    Job job;
    job.site = &site;
    job.target = *target;
    job.host = hostGlobals.size();
    hostGlobals.push_back(site.weight.global);
    jobs.push_back(job);
  }
  if (jobs.empty()) {
    module.emitWarning("qc-gptq: no projection to quantize (scheme ")
        << schemeName << ", keep-float '" << keepFloat << "')";
    return success();
  }

  SmallVector<ProjectionSite *> selected;
  for (Job &job : jobs)
    selected.push_back(job.site);
  std::vector<InputGroup> groups = groupByInput(selected);
  DenseMap<ProjectionSite *, Job *> jobOf;
  for (Job &job : jobs)
    jobOf[job.site] = &job;

  SampleOptions samples;
  samples.path = samplesPath;
  samples.tokenizer = tokenizerPath;
  samples.maxTokens = maxTokens;
  FailureOr<std::vector<int32_t>> tokens =
      loadSampleTokens(module, samples, shape->vocab, error);
  if (failed(tokens))
    return failure();
  const int64_t window = contextLength > 0
                             ? static_cast<int64_t>(contextLength)
                             : std::min<int64_t>(256, shape->contextLength);
  if (window > shape->contextLength)
    return moduleError("ctx ") << window << " exceeds the model's context "
                               << "length of " << shape->contextLength;

  SmallVector<Value> taps;
  for (InputGroup &group : groups)
    taps.push_back(group.input);
  progress(llvm::formatv("{0} weights over {1} inputs, {2} tokens; compiling "
                         "the model",
                         jobs.size(), groups.size(), tokens->size()));
  FailureOr<std::unique_ptr<TappedModel>> model = TappedModel::compile(
      module, taps, trueSequential ? ArrayRef(hostGlobals)
                                   : ArrayRef<ml_program::GlobalOp>(),
      error);
  if (failed(model))
    return failure();

  std::vector<std::optional<quantc::HessianAccumulator>> hessians(
      groups.size());
  std::optional<int64_t> nonFinite;
  int64_t active = -1; // the group recorded, or -1: all
  TensorCallback record = [&](int64_t id, const float *data,
                              ArrayRef<int64_t> tensorShape) {
    if (active >= 0 && id != active)
      return;
    const int64_t cols = tensorShape.back();
    int64_t rows = 1;
    for (int64_t size : tensorShape.drop_back())
      rows *= size;
    for (int64_t i = 0; i < rows * cols; ++i)
      if (!std::isfinite(data[i])) {
        nonFinite = id;
        return;
      }
    hessians[id]->add(data, rows, cols);
  };
  auto runOnce = [&](StringRef what) -> LogicalResult {
    if (failed((*model)->run(*tokens, window, record, {}, error)))
      return failure();
    if (nonFinite)
      return groups[*nonFinite].sites.front()->matmul.emitOpError(
                 "qc-gptq: the input of '")
             << groups[*nonFinite].sites.front()->weight.name
             << "' has NaN or infinite values on the samples (" << what << ")";
    return success();
  };
  auto quantizeGroup = [&](size_t g) -> LogicalResult {
    std::vector<double> hessian = hessians[g]->hessian();
    hessians[g].reset();
    for (ProjectionSite *site : groups[g].sites)
      if (failed(quantize(*jobOf[site], hessian,
                          trueSequential ? model->get() : nullptr)))
        return failure();
    return success();
  };

  if (trueSequential) {
    for (size_t g = 0; g < groups.size(); ++g) {
      active = static_cast<int64_t>(g);
      hessians[g].emplace(groups[g].cols);
      if (failed(runOnce(groups[g].sites.front()->weight.name)) ||
          failed(quantizeGroup(g)))
        return failure();
    }
  } else {
    for (size_t g = 0; g < groups.size(); ++g)
      hessians[g].emplace(groups[g].cols);
    if (failed(runOnce("the float model")))
      return failure();
    for (size_t g = 0; g < groups.size(); ++g)
      if (failed(quantizeGroup(g)))
        return failure();
  }

  Builder builder(&getContext());
  const double seconds = secondsSince(start);
  module->setAttr(
      "qc.gptq",
      builder.getDictionaryAttr(
          {builder.getNamedAttr("weights", builder.getI64IntegerAttr(
                                               static_cast<int64_t>(jobs.size()))),
           builder.getNamedAttr("inputs",
                                builder.getI64IntegerAttr(
                                    static_cast<int64_t>(groups.size()))),
           builder.getNamedAttr("tokens",
                                builder.getI64IntegerAttr(
                                    static_cast<int64_t>(tokens->size()))),
           builder.getNamedAttr("damp_retries",
                                builder.getI64IntegerAttr(dampRetries)),
           builder.getNamedAttr("dead_columns",
                                builder.getI64IntegerAttr(deadColumns)),
           builder.getNamedAttr("float_fallbacks",
                                builder.getI64IntegerAttr(floatTargets))}));
  progress(llvm::formatv("{0} weights in {1:F2} s", jobs.size(), seconds));
  return success();
}

} // namespace
