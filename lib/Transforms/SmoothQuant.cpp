//===- SmoothQuant.cpp - qc-smoothquant -----------------------------------===//
//
// One run of the float model measures max |x_j| of every projection input
// (and keeps evenly spaced rows for alpha=auto); each input group's
// smoothing scales then come from lib/Numerics/SmoothQuant and are folded
// into the weights and the op producing the input. Smoothing is an exact
// float rewrite, so the inputs measured before it stay valid.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "ModelRunner.h"
#include "Projections.h"

#include "quantc/Numerics/SmoothQuant.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

namespace mlir::qc {
QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DEF_QCSMOOTHQUANT
#include "quantc/Transforms/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

struct SmoothQuantPass : public qc::impl::QCSmoothQuantBase<SmoothQuantPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

private:
  LogicalResult run();
  InFlightDiagnostic moduleError(const Twine &message) {
    return emitError(getOperation().getLoc(), "qc-smoothquant: " + message);
  }
  void progress(const Twine &message) const {
    if (!quiet)
      llvm::errs() << "qc-smoothquant: " << message << "\n";
  }
};

LogicalResult SmoothQuantPass::run() {
  ModuleOp module = getOperation();
  ModuleErrorFn error = [&](const Twine &message) {
    return moduleError(message);
  };
  FailureOr<ModelShape> shape = getModelShape(module, error);
  if (failed(shape))
    return failure();

  // alpha: a number in [0, 1], or auto.
  std::optional<double> fixedAlpha;
  if (alpha != "auto") {
    double value;
    if (StringRef(alpha).trim().getAsDouble(value) || !std::isfinite(value) ||
        value < 0.0 || value > 1.0)
      return moduleError("alpha must be a number in [0, 1] or 'auto', got '")
             << alpha << "'";
    fixedAlpha = value;
  }
  std::string schemeError;
  std::optional<quantc::Scheme> scheme =
      quantc::parseScheme(schemeName, schemeError);
  if (!scheme)
    return moduleError(schemeError);
  quantc::SmoothedActivations mode;
  switch (scheme->activations) {
  case quantc::ActivationQuantization::DynamicPerToken:
    mode = quantc::SmoothedActivations::DynamicPerToken;
    break;
  case quantc::ActivationQuantization::StaticInt8:
    mode = quantc::SmoothedActivations::StaticPerTensor;
    break;
  case quantc::ActivationQuantization::StaticFP8:
    mode = quantc::SmoothedActivations::FP8PerTensor;
    break;
  case quantc::ActivationQuantization::None:
    return moduleError("scheme ")
           << schemeName
           << " leaves activations in float; SmoothQuant eases activation "
              "quantization (w8a8, w8a8-static, fp8); for weight-only "
              "schemes use qc-awq";
  }
  if (sampleTokens < 1)
    return moduleError("sample-tokens must be positive, got ") << static_cast<int64_t>(sampleTokens);
  if (maxTokens < 0)
    return moduleError("max-tokens must be non-negative");
  std::vector<llvm::GlobPattern> globs;
  for (StringRef text : splitList(layers)) {
    llvm::Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(text);
    if (!glob)
      return moduleError("layers glob '")
             << text << "': " << llvm::toString(glob.takeError());
    globs.push_back(std::move(*glob));
  }

  std::vector<ProjectionSite> sites = findProjections(module);
  SmallVector<ProjectionSite *> all;
  for (ProjectionSite &site : sites) {
    // Smoothing after calibration would leave stale ranges behind.
    Value operand = site.matmul.getDpsInputOperand(0)->get();
    if (auto observer = operand.getDefiningOp<ObserveOp>();
        observer && observer.getStatsAttr())
      return observer.emitOpError("qc-smoothquant: '")
             << observer.getLabel()
             << "' already has calibration statistics, which smoothing would "
                "invalidate; run qc-smoothquant before qc-calibrate";
    all.push_back(&site);
  }
  std::vector<InputGroup> candidates = groupByInput(all);
  std::vector<InputGroup> groups;
  std::vector<bool> named;
  int64_t skipped = 0;
  SymbolTable symbols(module);
  std::vector<ScaleFold> folds;
  for (InputGroup &group : candidates) {
    bool explicitlyNamed =
        !globs.empty() &&
        llvm::any_of(group.sites, [&](ProjectionSite *site) {
          return llvm::any_of(globs, [&](const llvm::GlobPattern &glob) {
            return llvm::any_of(site->names, [&](const std::string &name) {
              return glob.match(name);
            });
          });
        });
    if (!globs.empty() && !explicitlyNamed)
      continue;
    SmallVector<linalg::MatmulOp> readers;
    for (ProjectionSite *site : group.sites)
      readers.push_back(site->matmul);
    ScaleFold fold = findScaleFold(group.input, readers, symbols);
    ProjectionSite *tied = nullptr;
    for (ProjectionSite *site : group.sites)
      if (isTiedWeight(*site))
        tied = site;
    if (tied) {
      fold.kind = ScaleFold::Kind::None;
      fold.reason = "'" + tied->weight.name +
                    "' is also the token embedding, which smoothing would "
                    "change";
    }
    if (fold.kind == ScaleFold::Kind::None) {
      if (explicitlyNamed)
        return group.sites.front()->matmul.emitOpError(
                   "qc-smoothquant: cannot smooth the input of '")
               << group.sites.front()->weight.name << "': " << fold.reason;
      ++skipped;
      progress(llvm::formatv("{0}: skipped ({1})",
                             group.sites.front()->weight.name, fold.reason));
      continue;
    }
    groups.push_back(group);
    folds.push_back(fold);
  }
  if (groups.empty()) {
    module.emitWarning("qc-smoothquant: no input to smooth");
    return success();
  }

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
  collect.sampleRows = fixedAlpha ? 0 : sampleTokens;
  if (!quiet)
    collect.progressPrefix = "qc-smoothquant";
  FailureOr<std::vector<InputStatistics>> stats = collectInputStatistics(
      module, groups, *tokens, *window, collect, error);
  if (failed(stats))
    return failure();

  WeightEdits edits;
  SmallVector<double> alphas;
  for (auto [group, stat, fold] : llvm::zip(groups, *stats, folds)) {
    std::vector<float> weightMax(group.cols, 0.0f);
    std::vector<quantc::SmoothedLayer> smoothed;
    for (ProjectionSite *site : group.sites) {
      FailureOr<std::vector<float> *> rows = edits.rows(*site);
      if (failed(rows))
        return failure();
      quantc::accumulateColumnAbsMax((*rows)->data(), site->rows(),
                                     group.cols, weightMax.data());
      smoothed.push_back({(*rows)->data(), site->rows()});
    }
    std::vector<float> scales;
    double chosen;
    if (fixedAlpha) {
      chosen = *fixedAlpha;
      scales = quantc::smoothQuantScales(stat.absMax.data(), weightMax.data(),
                                         group.cols, chosen);
      progress(llvm::formatv("{0}: alpha {1:F2}",
                             group.sites.front()->weight.name, chosen));
    } else {
      quantc::SmoothQuantAlphaSearch search = quantc::searchSmoothQuantAlpha(
          stat.sampleRows.data(), stat.sampleCount, group.cols, smoothed,
          stat.absMax.data(), mode);
      chosen = search.alpha;
      scales = std::move(search.scales);
      progress(llvm::formatv("{0}: alpha {1:F2}, quantized output error "
                             "{2:E2} vs {3:E2} unsmoothed",
                             group.sites.front()->weight.name, chosen,
                             search.error, search.unsmoothedError));
    }
    if (failed(applyInputScale(group, scales, fold, sites, edits)))
      return failure();
    alphas.push_back(chosen);
  }
  edits.commit();

  Builder builder(&getContext());
  module->setAttr(
      "qc.smoothquant",
      builder.getDictionaryAttr(
          {builder.getNamedAttr("smoothed",
                                builder.getI64IntegerAttr(
                                    static_cast<int64_t>(groups.size()))),
           builder.getNamedAttr("skipped", builder.getI64IntegerAttr(skipped)),
           builder.getNamedAttr("alphas", builder.getDenseF64ArrayAttr(alphas)),
           builder.getNamedAttr("tokens",
                                builder.getI64IntegerAttr(
                                    static_cast<int64_t>(tokens->size())))}));
  return success();
}

} // namespace
