//===- AWQ.cpp - qc-awq ----------------------------------------------------===//
//
// One run of the float model measures every quantized projection input
// (mean |x| per channel and H = 2/n X^T X); the scales are exact float
// rewrites, so later inputs need no new run. Then, in program order, each
// input group's scale is searched (lib/Numerics/AWQ) and folded; after all
// scaling, each weight's clipping is searched on its final values.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "ModelRunner.h"
#include "Projections.h"

#include "quantc/Numerics/AWQ.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace mlir::qc {
QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DEF_QCAWQ
#include "quantc/Transforms/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

struct AWQPass : public qc::impl::QCAWQBase<AWQPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

private:
  LogicalResult run();
  InFlightDiagnostic moduleError(const Twine &message) {
    return emitError(getOperation().getLoc(), "qc-awq: " + message);
  }
  void progress(const Twine &message) const {
    if (!quiet)
      llvm::errs() << "qc-awq: " << message << "\n";
  }
};

LogicalResult AWQPass::run() {
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
  if (gridPoints < 1)
    return moduleError("grid must be positive, got ") << static_cast<int64_t>(gridPoints);
  if (maxTokens < 0)
    return moduleError("max-tokens must be non-negative");

  std::vector<ProjectionSite> sites = findProjections(module);
  SmallVector<ProjectionSite *> selected;
  DenseMap<ProjectionSite *, quantc::WeightTarget> targets;
  int64_t tied = 0;
  for (ProjectionSite &site : sites) {
    const quantc::Scheme *scheme = selector->select(site);
    if (!scheme || scheme->weights == quantc::WeightStorage::Float)
      continue;
    if (!scheme->isWeightOnly() ||
        scheme->weights == quantc::WeightStorage::FP8E4M3)
      return site.matmul.emitOpError("qc-awq: ")
             << scheme->name()
             << " is not a weight-only integer or llama.cpp scheme; AWQ "
                "protects salient weights of weight-only quantization (for "
                "quantized activations, use qc-smoothquant)";
    std::optional<quantc::WeightTarget> target =
        getWeightTarget(*scheme, site.cols());
    if (!target)
      continue; // a llama.cpp fallback to f16
    if (isTiedWeight(site)) {
      ++tied; // its values are also the token embedding
      continue;
    }
    targets[&site] = *target;
    selected.push_back(&site);
  }
  if (selected.empty()) {
    module.emitWarning("qc-awq: no projection to quantize (scheme ")
        << schemeName << ", keep-float '" << keepFloat << "')";
    return success();
  }
  std::vector<InputGroup> groups = groupByInput(selected);

  SampleOptions samples;
  samples.path = samplesPath;
  samples.tokenizer = tokenizerPath;
  samples.maxTokens = maxTokens;
  FailureOr<std::vector<int32_t>> tokens =
      loadSampleTokens(module, samples, shape->vocab, error);
  if (failed(tokens))
    return failure();
  FailureOr<int64_t> window = chooseWindow(contextLength, *shape, error);
  if (failed(window))
    return failure();
  CollectOptions collect;
  collect.hessian = true;
  if (!quiet)
    collect.progressPrefix = "qc-awq";
  FailureOr<std::vector<InputStatistics>> stats = collectInputStatistics(
      module, groups, *tokens, *window, collect, error);
  if (failed(stats))
    return failure();

  quantc::AWQOptions options;
  options.gridPoints = gridPoints;
  SymbolTable symbols(module);
  WeightEdits edits;
  std::vector<std::vector<double>> hessians;
  int64_t scaled = 0, clippedOnly = 0;
  Builder builder(&getContext());
  for (auto [group, stat] : llvm::zip(groups, *stats)) {
    hessians.push_back(stat.hessian->hessian());
    SmallVector<linalg::MatmulOp> readers;
    for (ProjectionSite *site : group.sites)
      readers.push_back(site->matmul);
    ScaleFold fold = findScaleFold(group.input, readers, symbols);
    const std::string &first = group.sites.front()->weight.name;
    if (fold.kind == ScaleFold::Kind::None) {
      ++clippedOnly;
      progress(llvm::formatv("{0}: input not scaled ({1}); clipping only",
                             first, fold.reason));
      continue;
    }
    std::vector<float> meanAbs(group.cols);
    for (int64_t j = 0; j < group.cols; ++j)
      meanAbs[j] = static_cast<float>(
          stat.absSum[j] / static_cast<double>(std::max<int64_t>(1, stat.tokens)));
    std::vector<quantc::AWQLayer> layers;
    for (ProjectionSite *site : group.sites) {
      FailureOr<std::vector<float> *> rows = edits.rows(*site);
      if (failed(rows))
        return failure();
      layers.push_back({(*rows)->data(), site->rows(), targets[site]});
    }
    quantc::AWQScaleSearch search = quantc::searchAWQScales(
        layers, group.cols, meanAbs.data(), hessians.back().data(), options);
    progress(llvm::formatv("{0}{1}: ratio {2:F2}, output error {3:E2} vs "
                           "{4:E2} unscaled",
                           first, group.sites.size() > 1 ? " (+ group)" : "",
                           search.bestRatio, search.error,
                           search.unscaledError));
    if (search.bestRatio > 0.0) {
      if (failed(applyInputScale(group, search.scales, fold, sites, edits)))
        return failure();
      ++scaled;
      // The weights now read X diag(s)^-1, whose H the clipping scores.
      std::vector<double> &hessian = hessians.back();
      for (int64_t i = 0; i < group.cols; ++i)
        for (int64_t j = 0; j < group.cols; ++j)
          hessian[i * group.cols + j] /=
              static_cast<double>(search.scales[i]) * search.scales[j];
    }
    if (ml_program::GlobalOp global = group.sites.front()->weight.global)
      global->setAttr("qc.awq_ratio",
                      builder.getF64FloatAttr(search.bestRatio));
  }

  int64_t clippedGroups = 0;
  if (clip) {
    for (auto [group, hessian] : llvm::zip(groups, hessians)) {
      for (ProjectionSite *site : group.sites) {
        FailureOr<std::vector<float> *> rows = edits.rows(*site);
        if (failed(rows))
          return failure();
        quantc::AWQClipResult result =
            quantc::searchAWQClip((*rows)->data(), site->rows(), site->cols(),
                                  targets[site], hessian.data(), options);
        clippedGroups += result.clippedGroups;
        progress(llvm::formatv("{0}: clipped {1} groups, output error {2:E2} "
                               "-> {3:E2}",
                               site->weight.name, result.clippedGroups,
                               result.errorBefore, result.errorAfter));
      }
    }
  }
  edits.commit();

  module->setAttr(
      "qc.awq",
      builder.getDictionaryAttr(
          {builder.getNamedAttr("scaled", builder.getI64IntegerAttr(scaled)),
           builder.getNamedAttr("clipped_only",
                                builder.getI64IntegerAttr(clippedOnly)),
           builder.getNamedAttr("clipped_groups",
                                builder.getI64IntegerAttr(clippedGroups)),
           builder.getNamedAttr("tied_skipped", builder.getI64IntegerAttr(tied)),
           builder.getNamedAttr("tokens",
                                builder.getI64IntegerAttr(
                                    static_cast<int64_t>(tokens->size())))}));
  progress(llvm::formatv(
      "{0} inputs scaled, {1} clipped only, in {2:F2} s", scaled, clippedOnly,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count()));
  return success();
}

} // namespace
