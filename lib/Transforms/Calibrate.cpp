//===- Calibrate.cpp - qc-calibrate ---------------------------------------===//
//
// Weight observers are measured from the weight's bytes. Activation
// observers are measured by running the model: a TappedModel (ModelRunner.h)
// hands each observed tensor to the host while the model runs over the
// samples, and every window's tensors stream into per-observer
// TensorStatistics.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "ModelRunner.h"

#include "quantc/IO/MappedFile.h"
#include "quantc/IO/Tokenizer.h"
#include "quantc/Numerics/Calibration.h"
#include "quantc/Numerics/Float.h"
#include "quantc/Target/CPUTarget.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstring>
#include <map>
#include <utility>

namespace mlir::qc {
QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DEF_QCCALIBRATE
#include "quantc/Transforms/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;
using quantc::StatisticsOptions;
using quantc::TensorStatistics;

namespace {

/// An activation observer's statistics while the model runs.
struct ActivationSlot {
  ObserveOp op;
  /// The channel dimension, or -1 for per-tensor statistics.
  int64_t axis;
  /// Histogram bins (0: none).
  int64_t bins;
  /// The first pass: ranges (per channel where asked).
  TensorStatistics ranges;
  /// The second pass, for observers with a histogram: |x| binned over
  /// [0, max|x| of the first pass].
  std::optional<TensorStatistics> histogram;
};

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// `op`'s input as float32 values, when it is a weight (a dense constant or
/// a constant global, dense or `#qc.external`); nullopt when it is an
/// activation. Failure when it is a weight that cannot be read.
class WeightReader {
public:
  explicit WeightReader(ModuleOp module) : symbols(module) {}

  FailureOr<std::optional<std::vector<float>>> read(ObserveOp op) {
    Value input = op.getInput();
    Operation *def = input.getDefiningOp();
    if (!def)
      return std::optional<std::vector<float>>();
    if (auto load = dyn_cast<ml_program::GlobalLoadConstOp>(def))
      return readGlobal(op, load);
    if (!def->hasTrait<OpTrait::ConstantLike>())
      return std::optional<std::vector<float>>();
    SmallVector<OpFoldResult> folded;
    Attribute value;
    if (succeeded(def->fold(folded)) && folded.size() == 1)
      value = dyn_cast_if_present<Attribute>(folded[0]);
    return readElements(op, value, "its constant");
  }

private:
  FailureOr<std::optional<std::vector<float>>>
  readGlobal(ObserveOp op, ml_program::GlobalLoadConstOp load) {
    auto global = symbols.lookup<ml_program::GlobalOp>(
        load.getGlobal().getRootReference());
    if (!global)
      return op.emitOpError("observes a load of unknown global ")
             << load.getGlobal();
    std::string what = ("global @" + global.getSymName()).str();
    Attribute value = global.getValue().value_or(Attribute());
    auto external = dyn_cast_if_present<ExternalAttr>(value);
    if (!external)
      return readElements(op, value, what);

    auto type = cast<RankedTensorType>(op.getInput().getType());
    Type element = type.getElementType();
    if (!type.hasStaticShape() ||
        !(element.isF32() || element.isF16() || element.isBF16()))
      return op.emitOpError("observes ")
             << what << " of type " << type
             << "; weights are read as static f32, f16 or bf16 tensors";
    auto mapped = files.find(external.getPath().str());
    if (mapped == files.end()) {
      quantc::io::Result<std::shared_ptr<const quantc::io::MappedFile>> file =
          quantc::io::MappedFile::open(external.getPath().str());
      if (!file)
        return op.emitOpError("cannot read ") << what << ": " << file.error();
      mapped = files.emplace(external.getPath().str(), *file).first;
    }
    const quantc::io::MappedFile &file = *mapped->second;
    const int64_t count = type.getNumElements();
    const uint64_t elementBytes = element.getIntOrFloatBitWidth() / 8;
    const uint64_t end = external.getOffset() + count * elementBytes;
    if (end > file.size() || end < external.getOffset())
      return op.emitOpError("observes ")
             << what << ", which needs bytes [" << external.getOffset() << ", "
             << end << ") of " << file.path() << ", a file of " << file.size()
             << " bytes";
    const uint8_t *bytes = file.data() + external.getOffset();
    std::vector<float> values(count);
    if (element.isF32()) {
      std::memcpy(values.data(), bytes, count * sizeof(float));
    } else {
      std::vector<uint16_t> halves(count);
      std::memcpy(halves.data(), bytes, count * sizeof(uint16_t));
      if (element.isF16())
        quantc::fp16ToFp32Row(halves.data(), values.data(), count);
      else
        quantc::bf16ToFp32Row(halves.data(), values.data(), count);
    }
    return std::optional<std::vector<float>>(std::move(values));
  }

  FailureOr<std::optional<std::vector<float>>>
  readElements(ObserveOp op, Attribute value, StringRef what) {
    auto elements = dyn_cast_if_present<ElementsAttr>(value);
    if (!elements || !isa<FloatType>(elements.getElementType()))
      return op.emitOpError("observes ")
             << what << ", whose value is neither float elements nor a "
             << "#qc.external reference";
    std::vector<float> values;
    values.reserve(elements.getNumElements());
    if (auto floats = elements.tryGetValues<float>()) {
      values.assign(floats->begin(), floats->end());
    } else if (auto apFloats = elements.tryGetValues<APFloat>()) {
      for (APFloat v : *apFloats) {
        bool lost;
        v.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
        values.push_back(v.convertToFloat());
      }
    } else {
      return op.emitOpError("cannot read the elements of ") << what;
    }
    return std::optional<std::vector<float>>(std::move(values));
  }

  SymbolTable symbols;
  std::map<std::string, std::shared_ptr<const quantc::io::MappedFile>> files;
};

/// outer x channels x inner of `shape` around `axis` (-1: one channel).
void splitAroundAxis(ArrayRef<int64_t> shape, int64_t axis, int64_t &outer,
                     int64_t &channels, int64_t &inner) {
  outer = 1;
  channels = 1;
  inner = 1;
  for (auto [d, size] : llvm::enumerate(shape)) {
    if (static_cast<int64_t>(d) < axis)
      outer *= size;
    else if (static_cast<int64_t>(d) == axis)
      channels = size;
    else
      inner *= size;
  }
}

struct CalibratePass : public qc::impl::QCCalibrateBase<CalibratePass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(calibrate()))
      signalPassFailure();
  }

private:
  LogicalResult calibrate();
  LogicalResult runActivations(std::vector<ActivationSlot> &slots,
                               const std::vector<int32_t> &tokens,
                               int64_t window);
  /// An error about the whole module (its samples, its shape), located at
  /// the module but without printing it.
  InFlightDiagnostic moduleError(const Twine &message) {
    return emitError(getOperation().getLoc(), "qc-calibrate: " + message);
  }

  /// One line of progress on stderr, unless `quiet`.
  void progress(const Twine &message) const {
    if (!quiet)
      llvm::errs() << "qc-calibrate: " << message << "\n";
  }

  std::chrono::steady_clock::time_point start;
};

LogicalResult CalibratePass::calibrate() {
  start = std::chrono::steady_clock::now();
  ModuleOp module = getOperation();
  if (quantc::io::Status status = quantc::checkModelEntry(module); !status)
    return moduleError("not an imported model: ") << status.error();
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  FunctionType signature = forward.getFunctionType();
  const int64_t contextLimit =
      cast<RankedTensorType>(signature.getInput(2)).getDimSize(1);
  const int64_t vocab =
      cast<RankedTensorType>(signature.getInput(4)).getDimSize(1);

  // Observers outside @forward never see a value.
  std::vector<ObserveOp> observers;
  WalkResult walk = module.walk([&](ObserveOp op) {
    if (op->getParentOfType<func::FuncOp>() != forward) {
      op.emitOpError("is outside @forward, which is what qc-calibrate runs");
      return WalkResult::interrupt();
    }
    observers.push_back(op);
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (observers.empty())
    return moduleError("nothing to calibrate: the module has no "
                       "qc.observe; run qc-insert-observers first");
  if (numBins < 0 || maxTokens < 0 || contextLength < 0)
    return moduleError("bins, ctx and max-tokens must be non-negative");

  // Weights first: they need no samples.
  WeightReader weights(module);
  std::vector<std::optional<TensorStatistics>> weightStats(observers.size());
  std::vector<int64_t> activationIds(observers.size(), -1);
  std::vector<ActivationSlot> slots;
  int64_t perChannelWithBins = 0;
  for (auto [index, op] : llvm::enumerate(observers)) {
    const int64_t axis =
        op.getAxis() ? static_cast<int64_t>(*op.getAxis()) : int64_t(-1);
    if (axis >= 0 && op.getBins())
      ++perChannelWithBins;
    FailureOr<std::optional<std::vector<float>>> weight = weights.read(op);
    if (failed(weight))
      return failure();
    if (*weight) {
      auto type = cast<RankedTensorType>(op.getInput().getType());
      StatisticsOptions options;
      options.perChannel = axis >= 0;
      // One batch holds the whole weight: the histogram spans exactly
      // [0, max|x|] with the bins asked for.
      options.histogramBins =
          axis < 0 ? static_cast<int64_t>(op.getBins().value_or(0)) : 0;
      TensorStatistics stats(options);
      int64_t outer, channels, inner;
      splitAroundAxis(type.getShape(), axis, outer, channels, inner);
      if (int64_t bad = stats.update((*weight)->data(), outer, channels, inner))
        return op.emitOpError("observes a weight with ")
               << bad << " NaN or infinite values of " << type.getNumElements();
      weightStats[index] = std::move(stats);
      continue;
    }
    if (!cast<RankedTensorType>(op.getInput().getType())
             .getElementType()
             .isF32())
      return op.emitOpError("observes a ")
             << op.getInput().getType()
             << " activation; calibration records f32 tensors";
    int64_t bins = 0;
    if (axis < 0)
      bins = op.getBins() ? static_cast<int64_t>(*op.getBins())
                          : static_cast<int64_t>(numBins);
    StatisticsOptions options;
    options.perChannel = axis >= 0;
    activationIds[index] = static_cast<int64_t>(slots.size());
    slots.push_back({op, axis, bins, TensorStatistics(options), std::nullopt});
  }
  if (perChannelWithBins > 0)
    emitWarning(module.getLoc(), "qc-calibrate: ")
        << perChannelWithBins
        << " per-channel observers ask for a histogram (bins), which "
           "per-channel statistics cannot carry; they get min/max only";

  if (!slots.empty()) {
    const int64_t window = contextLength > 0
                               ? static_cast<int64_t>(contextLength)
                               : std::min<int64_t>(256, contextLimit);
    if (window > contextLimit)
      return moduleError("ctx ")
             << window << " exceeds the model's context length of "
             << contextLimit;
    SampleOptions samples;
    samples.path = samplesPath;
    samples.tokenizer = tokenizerPath;
    samples.maxTokens = maxTokens;
    FailureOr<std::vector<int32_t>> tokens = loadSampleTokens(
        module, samples, vocab,
        [&](const Twine &message) { return moduleError(message); });
    if (failed(tokens))
      return failure();
    if (failed(runActivations(slots, *tokens, window)))
      return failure();
  }

  // Everything measured: write the statistics.
  MLIRContext *context = module.getContext();
  Builder builder(context);
  for (size_t index = 0; index < observers.size(); ++index) {
    ObserveOp op = observers[index];
    const TensorStatistics *stats = nullptr;
    const TensorStatistics *histogram = nullptr;
    int64_t bins = 0;
    if (weightStats[index]) {
      stats = histogram = &*weightStats[index];
    } else {
      ActivationSlot &slot = slots[activationIds[index]];
      stats = &slot.ranges;
      histogram = slot.histogram ? &*slot.histogram : nullptr;
      bins = slot.bins;
    }
    std::vector<double> mins, maxs;
    if (stats->getOptions().perChannel) {
      mins.assign(stats->getChannelMins().begin(),
                  stats->getChannelMins().end());
      maxs.assign(stats->getChannelMaxs().begin(),
                  stats->getChannelMaxs().end());
    } else {
      mins.push_back(stats->getMin());
      maxs.push_back(stats->getMax());
    }
    // A histogram needs a non-empty range: none when only zeros were seen.
    HistogramAttr histogramAttr;
    if (histogram && histogram->hasHistogram() &&
        histogram->getHistogramMax() > 0) {
      histogramAttr = HistogramAttr::getChecked(
          [&] { return op.emitOpError(); }, context, APFloat(0.0),
          APFloat(static_cast<double>(histogram->getHistogramMax())),
          ArrayRef<int64_t>(histogram->getHistogramCounts()));
      if (!histogramAttr)
        return failure();
    }
    std::optional<int64_t> axis;
    if (op.getAxis())
      axis = static_cast<int64_t>(*op.getAxis());
    StatsAttr statsAttr = StatsAttr::getChecked(
        [&] { return op.emitOpError(); }, context, stats->getCount(), axis,
        builder.getDenseF64ArrayAttr(mins), builder.getDenseF64ArrayAttr(maxs),
        histogramAttr);
    if (!statsAttr)
      return failure();
    if (histogramAttr && !op.getBins())
      op.setBinsAttr(builder.getI64IntegerAttr(bins));
    if (histogramAttr &&
        histogramAttr.getNumBins() != static_cast<int64_t>(*op.getBins()))
      return op.emitOpError("collected a histogram of ")
             << histogramAttr.getNumBins() << " bins where the observer asks "
             << "for " << *op.getBins()
             << ": the model's values changed between two runs over the "
                "same samples";
    op.setStatsAttr(statsAttr);
    // A range chosen from earlier statistics no longer follows from these.
    op.removeQtypeAttr();
  }
  progress(llvm::formatv("{0} observers ({1} activations, {2} weights) in "
                         "{3:F2} s",
                         observers.size(), slots.size(),
                         observers.size() - slots.size(), secondsSince(start)));
  return success();
}

LogicalResult CalibratePass::runActivations(std::vector<ActivationSlot> &slots,
                                            const std::vector<int32_t> &tokens,
                                            int64_t window) {
  ModuleOp module = getOperation();
  ModuleErrorFn error = [&](const Twine &message) {
    return moduleError(message);
  };
  SmallVector<Value> taps;
  for (ActivationSlot &slot : slots)
    taps.push_back(slot.op.getInput());
  progress(llvm::formatv("compiling the model with its {0} activation "
                         "observers recording",
                         slots.size()));
  auto compileStart = std::chrono::steady_clock::now();
  FailureOr<std::unique_ptr<TappedModel>> model =
      TappedModel::compile(module, taps, {}, error);
  if (failed(model))
    return failure();
  progress(llvm::formatv("compiled in {0:F2} s", secondsSince(compileStart)));

  const int64_t total = static_cast<int64_t>(tokens.size());
  const bool histograms = llvm::any_of(
      slots, [](const ActivationSlot &slot) { return slot.bins > 0; });
  const int passes = histograms ? 2 : 1;
  for (int pass = 0; pass < passes; ++pass) {
    const bool histogramPass = pass == 1;
    if (histogramPass) {
      // The first pass found each tensor's max|x|: bin over [0, it].
      for (ActivationSlot &slot : slots) {
        if (slot.bins <= 0)
          continue;
        StatisticsOptions options;
        options.histogramBins = slot.bins;
        options.histogramRange = slot.ranges.getAbsMax();
        slot.histogram.emplace(options);
      }
    }
    // The first non-finite tensor, reported after its window.
    std::optional<std::pair<size_t, int64_t>> nonFinite;
    TensorCallback record = [&](int64_t id, const float *data,
                                ArrayRef<int64_t> shape) {
      ActivationSlot &slot = slots[id];
      TensorStatistics *stats =
          histogramPass ? (slot.histogram ? &*slot.histogram : nullptr)
                        : &slot.ranges;
      if (!stats)
        return;
      int64_t outer = 1, channels = 1, inner = 1;
      splitAroundAxis(shape, histogramPass ? -1 : slot.axis, outer, channels,
                      inner);
      if (histogramPass || slot.axis < 0) {
        channels = outer * channels * inner;
        outer = inner = 1;
      }
      int64_t bad = stats->update(data, outer, channels, inner);
      if (bad > 0 && !nonFinite)
        nonFinite = std::make_pair(static_cast<size_t>(id), bad);
    };
    const char *what = histogramPass ? "histograms" : "ranges";
    auto passStart = std::chrono::steady_clock::now();
    auto lastReport = passStart;
    int64_t windowIndex = 0;
    std::optional<int64_t> badWindow;
    auto afterWindow = [&](int64_t done) {
      if (nonFinite && !badWindow)
        badWindow = windowIndex;
      ++windowIndex;
      const double elapsed = secondsSince(passStart);
      if (done == total || secondsSince(lastReport) >= 1.0) {
        lastReport = std::chrono::steady_clock::now();
        progress(llvm::formatv("pass {0}/{1} ({2}): window {3}/{4}, {5} "
                               "tokens, {6:F0} tokens/s",
                               pass + 1, passes, what, windowIndex,
                               (total + window - 1) / window, done,
                               elapsed > 0 ? done / elapsed : 0.0));
      }
    };
    if (failed((*model)->run(tokens, window, record, afterWindow, error)))
      return failure();
    if (nonFinite) {
      ObserveOp op = slots[nonFinite->first].op;
      const int64_t first = *badWindow * window;
      return op.emitOpError("\"")
             << op.getLabel() << "\" saw " << nonFinite->second
             << " NaN or infinite values in window " << *badWindow
             << " of the samples (tokens [" << first << ", "
             << std::min(first + window, total)
             << ")); a quantization range cannot come from them";
    }
  }

  // The second pass saw the same values: a different range means the
  // model is not deterministic, and its histograms do not fit the ranges.
  if (histograms)
    for (ActivationSlot &slot : slots)
      if (slot.histogram && (slot.histogram->getMin() != slot.ranges.getMin() ||
                             slot.histogram->getMax() != slot.ranges.getMax()))
        return slot.op.emitOpError("saw different values in two runs over "
                                   "the same samples ([")
               << slot.ranges.getMin() << ", " << slot.ranges.getMax()
               << "], then [" << slot.histogram->getMin() << ", "
               << slot.histogram->getMax() << "])";
  return success();
}

} // namespace
