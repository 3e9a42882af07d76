//===- ModelRunner.h - run an imported model on samples, tapping tensors -*- C++ -*-===//
//
// Calibration, SmoothQuant, AWQ and GPTQ all need the same thing: run the
// model over sample tokens and see some of its tensors. A TappedModel is a
// JIT-compiled clone of the module in which
//   - every chosen f32 tensor is handed to the host as it is computed, by a
//     call to an external function bound to a host callback;
//   - qc.observe ops are gone (their inputs forwarded);
//   - chosen weight globals are read from host buffers (f32, in the
//     global's shape), which the host may rewrite between runs (GPTQ's
//     true-sequential order).
// Runs follow `quantc eval`'s protocol: windows of `window` tokens, each
// from an empty KV cache at position 0.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_LIB_TRANSFORMS_MODELRUNNER_H
#define QUANTC_LIB_TRANSFORMS_MODELRUNNER_H

#include "Projections.h"

#include "quantc/Numerics/GPTQ.h"
#include "quantc/Runtime/Model.h"

#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mlir::qc {

/// Where calibration samples come from.
struct SampleOptions {
  /// int32 tokens (`.i32`) or UTF-8 text.
  std::string path;
  /// For text; default: the module's `qc.tokenizer`.
  std::string tokenizer;
  /// Use at most this many tokens (0: all).
  int64_t maxTokens = 4096;
};

/// Errors about the run as a whole, located at the module.
using ModuleErrorFn = std::function<InFlightDiagnostic(const Twine &)>;

/// The sample tokens: a `.i32` file as it is, or text tokenized as
/// `quantc eval` does ([BOS] + tokens); refuses a missing, empty or
/// untokenizable file and out-of-vocabulary ids.
FailureOr<std::vector<int32_t>> loadSampleTokens(ModuleOp module,
                                                 const SampleOptions &options,
                                                 int64_t vocab,
                                                 const ModuleErrorFn &error);

/// The vocabulary size and context length of an imported model's @forward,
/// after checking it is one.
struct ModelShape {
  int64_t vocab = 0;
  int64_t contextLength = 0;
};
FailureOr<ModelShape> getModelShape(ModuleOp module,
                                    const ModuleErrorFn &error);

/// A tapped tensor as computed: row-major, `shape` its sizes.
using TensorCallback =
    std::function<void(int64_t id, const float *data, ArrayRef<int64_t> shape)>;

class TappedModel {
public:
  /// Compiles a clone of `module` in which taps[i] (f32 tensors inside
  /// @forward; a qc.observe result stands for its input) are handed to the
  /// host with id i, and `hostGlobals` read host buffers initialised with
  /// their current values.
  static FailureOr<std::unique_ptr<TappedModel>>
  compile(ModuleOp module, ArrayRef<Value> taps,
          ArrayRef<ml_program::GlobalOp> hostGlobals,
          const ModuleErrorFn &error);

  ~TappedModel();

  /// The f32 values host global `index` is read from, row-major in the
  /// global's shape.
  MutableArrayRef<float> getHostWeights(size_t index);

  /// Runs `tokens` in windows of `window`; `onTensor` sees every tap of
  /// every window. `progress(tokensDone)` is called after each window.
  LogicalResult run(ArrayRef<int32_t> tokens, int64_t window,
                    const TensorCallback &onTensor,
                    const std::function<void(int64_t)> &progress,
                    const ModuleErrorFn &error);

private:
  TappedModel() = default;
  std::unique_ptr<quantc::runtime::Model> model;
  int64_t taps = 0;
  /// Every host global, each 64-byte aligned; floats keep it 4-aligned.
  std::vector<float> hostFloats;
  /// (offset, count) in floats of each host global.
  std::vector<std::pair<size_t, size_t>> hostSlices;
};

/// The window a pass's `ctx` option asks for (0: min(256, the model's
/// context length)), refused when longer than the context.
FailureOr<int64_t> chooseWindow(int64_t ctx, const ModelShape &shape,
                                const ModuleErrorFn &error);

/// What one run of the float model measured about a projection input.
struct InputStatistics {
  int64_t tokens = 0;
  /// Per channel: sum |x| and max |x|.
  std::vector<double> absSum;
  std::vector<float> absMax;
  /// H = 2/n X^T X, when asked for.
  std::optional<quantc::HessianAccumulator> hessian;
  /// Rows of the input kept for searches (row-major, `cols` wide).
  std::vector<float> sampleRows;
  int64_t sampleCount = 0;
};

struct CollectOptions {
  bool hessian = false;
  /// Keep about this many rows, evenly spaced over the samples (0: none).
  int64_t sampleRows = 0;
  /// Prefix of progress lines; empty: quiet.
  std::string progressPrefix;
};

/// Runs the model once over `tokens` and measures every group's input;
/// refuses NaN or infinite activations, naming a weight that reads them.
FailureOr<std::vector<InputStatistics>>
collectInputStatistics(ModuleOp module, ArrayRef<InputGroup> groups,
                       ArrayRef<int32_t> tokens, int64_t window,
                       const CollectOptions &options,
                       const ModuleErrorFn &error);

} // namespace mlir::qc

#endif // QUANTC_LIB_TRANSFORMS_MODELRUNNER_H
