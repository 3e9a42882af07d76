//===- ModelRunner.cpp - run an imported model on samples, tapping tensors ===//
//
// Each tap becomes, in the clone,
//
//   %m = bufferization.to_buffer %x read_only : tensor<...> to memref<...>
//   %u = memref.cast %m : memref<...> to memref<*xf32>
//   func.call @qc_tap_record(%id, %u) : (i64, memref<*xf32>) -> ()
//
// and the JIT binds that external function (through its C interface) to the
// host, which copies the (possibly strided) tensor out row-major.
//
//===----------------------------------------------------------------------===//

#include "ModelRunner.h"

#include "Projections.h"

#include "QC/QCOps.h"
#include "quantc/IO/Tokenizer.h"
#include "quantc/Target/CPUTarget.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <cstring>

using namespace mlir;
using namespace mlir::qc;

namespace {

constexpr llvm::StringLiteral kRecordFunction = "qc_tap_record";
constexpr llvm::StringLiteral kRecordSymbol = "_mlir_ciface_qc_tap_record";
/// The weight "file" host buffers stand for; never opened.
constexpr llvm::StringLiteral kHostWeightsPath = "<qc host weights>";

/// MLIR's C interface for `memref<*xf32>`.
struct UnrankedMemRef {
  int64_t rank;
  void *descriptor;
};

/// Receives the compiled model's calls on the thread that runs it.
struct Recorder {
  const TensorCallback *callback = nullptr;
  int64_t taps = 0;
  std::vector<float> scratch;
  std::vector<int64_t> shape;
  bool malformed = false;

  void record(int64_t id, const UnrankedMemRef &value) {
    if (id < 0 || id >= taps || value.rank < 0) {
      malformed = true;
      return;
    }
    // Ranked descriptor: two pointers, then offset, sizes, strides.
    const auto *base = static_cast<const char *>(value.descriptor);
    const float *aligned;
    std::memcpy(&aligned, base + sizeof(float *), sizeof(float *));
    const auto *fields =
        reinterpret_cast<const int64_t *>(base + 2 * sizeof(float *));
    const int64_t rank = value.rank, offset = fields[0];
    const int64_t *sizes = fields + 1, *strides = fields + 1 + rank;
    shape.assign(sizes, sizes + rank);
    int64_t total = 1;
    for (int64_t d = 0; d < rank; ++d)
      total *= sizes[d];
    if (total <= 0)
      return;
    gather(aligned + offset, rank, sizes, strides, total);
    (*callback)(id, scratch.data(), shape);
  }

  /// Copies the strided view into `scratch`, row-major.
  void gather(const float *data, int64_t rank, const int64_t *sizes,
              const int64_t *strides, int64_t total) {
    scratch.resize(total);
    if (rank == 0) {
      scratch[0] = data[0];
      return;
    }
    const int64_t rowLength = sizes[rank - 1], rowStride = strides[rank - 1];
    std::vector<int64_t> index(rank - 1, 0);
    for (int64_t row = 0, rows = total / rowLength; row < rows; ++row) {
      int64_t start = 0;
      for (int64_t d = 0; d + 1 < rank; ++d)
        start += index[d] * strides[d];
      float *out = scratch.data() + row * rowLength;
      if (rowStride == 1)
        std::memcpy(out, data + start, rowLength * sizeof(float));
      else
        for (int64_t j = 0; j < rowLength; ++j)
          out[j] = data[start + j * rowStride];
      for (int64_t d = rank - 2; d >= 0; --d) {
        if (++index[d] < sizes[d])
          break;
        index[d] = 0;
      }
    }
  }
};

thread_local Recorder *activeRecorder = nullptr;

void recordTensor(int64_t id, UnrankedMemRef *value) {
  if (activeRecorder && value)
    activeRecorder->record(id, *value);
}

} // namespace

FailureOr<ModelShape> mlir::qc::getModelShape(ModuleOp module,
                                              const ModuleErrorFn &error) {
  if (quantc::io::Status status = quantc::checkModelEntry(module); !status)
    return error("not an imported model: " + status.error());
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  FunctionType signature = forward.getFunctionType();
  ModelShape shape;
  shape.contextLength =
      cast<RankedTensorType>(signature.getInput(2)).getDimSize(1);
  shape.vocab = cast<RankedTensorType>(signature.getInput(4)).getDimSize(1);
  return shape;
}

FailureOr<std::vector<int32_t>>
mlir::qc::loadSampleTokens(ModuleOp module, const SampleOptions &options,
                           int64_t vocab, const ModuleErrorFn &error) {
  const std::string &path = options.path;
  if (path.empty())
    return error(
        "no samples; pass samples=FILE (int32 tokens .i32, or UTF-8 text)");
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> file =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!file)
    return error("cannot read the samples file '" + path +
                 "': " + file.getError().message());
  StringRef bytes = (*file)->getBuffer();
  if (bytes.empty())
    return error("the samples file '" + path + "' is empty");

  std::vector<int32_t> tokens;
  if (StringRef(path).ends_with(".i32")) {
    if (bytes.size() % sizeof(int32_t) != 0)
      return error("'" + path + "' holds " + Twine(bytes.size()) +
                   " bytes, not a whole number of int32 tokens");
    tokens.resize(bytes.size() / sizeof(int32_t));
    std::memcpy(tokens.data(), bytes.data(), bytes.size());
  } else {
    StringRef text = bytes.trim(" \t\n\r\f\v");
    if (text.empty())
      return error("the samples file '" + path + "' has no text");
    std::string tokenizer = options.tokenizer;
    if (tokenizer.empty())
      if (auto recorded = module->getAttrOfType<StringAttr>("qc.tokenizer"))
        tokenizer = recorded.str();
    if (tokenizer.empty())
      return error("text samples need a tokenizer; the module records none "
                   "(qc.tokenizer), so pass tokenizer=FILE");
    quantc::io::Result<quantc::io::Tokenizer> loaded =
        quantc::io::Tokenizer::load(tokenizer, static_cast<uint32_t>(vocab));
    if (!loaded)
      return error(loaded.error());
    tokens = loaded->encode(text, /*addBos=*/true);
    if (tokens.size() <= 1)
      return error("the text of '" + path + "' tokenizes to nothing");
  }
  if (options.maxTokens > 0 &&
      static_cast<int64_t>(tokens.size()) > options.maxTokens)
    tokens.resize(options.maxTokens);
  for (auto [index, token] : llvm::enumerate(tokens))
    if (token < 0 || token >= vocab)
      return error("token " + Twine(token) + " at index " + Twine(index) +
                   " of '" + path + "' is outside the model's vocabulary of " +
                   Twine(vocab));
  return tokens;
}

/// Points `global` (in the clone) at the host buffer at `offset`, as f32:
/// a narrower global's loads and their widenings become f32 loads.
static LogicalResult redirectToHost(ModuleOp clone, ml_program::GlobalOp global,
                                    uint64_t offset,
                                    const ModuleErrorFn &error) {
  MLIRContext *context = clone.getContext();
  auto type = cast<RankedTensorType>(global.getType());
  auto wide = RankedTensorType::get(type.getShape(), Float32Type::get(context));
  global.setValueAttr(ExternalAttr::get(context, kHostWeightsPath, offset));
  if (type == wide)
    return success();
  global.setType(wide);
  std::optional<SymbolTable::UseRange> uses =
      SymbolTable::getSymbolUses(global, clone);
  SmallVector<ml_program::GlobalLoadConstOp> loads;
  for (SymbolTable::SymbolUse use : *uses) {
    auto load = dyn_cast<ml_program::GlobalLoadConstOp>(use.getUser());
    if (!load)
      return error("@" + global.getSymName() + " is used by '" +
                   use.getUser()->getName().getStringRef() +
                   "', not only loaded");
    loads.push_back(load);
  }
  for (ml_program::GlobalLoadConstOp load : loads) {
    OpBuilder builder(load);
    auto wideLoad = ml_program::GlobalLoadConstOp::create(
        builder, load.getLoc(), wide, load.getGlobal());
    for (Operation *user : llvm::make_early_inc_range(load->getUsers())) {
      if (user->getNumResults() != 1 ||
          getWidenedSource(user->getResult(0)) != load.getResult())
        return error("@" + global.getSymName() + " (" +
                     Twine(type.getElementType().isF16() ? "f16" : "bf16") +
                     ") is read other than through an f32 widening");
      user->getResult(0).replaceAllUsesWith(wideLoad.getResult());
      user->erase();
    }
    load.erase();
  }
  return success();
}

FailureOr<std::unique_ptr<TappedModel>>
TappedModel::compile(ModuleOp module, ArrayRef<Value> taps,
                     ArrayRef<ml_program::GlobalOp> hostGlobals,
                     const ModuleErrorFn &error) {
  std::unique_ptr<TappedModel> tapped(new TappedModel());
  IRMapping mapping;
  OwningOpRef<ModuleOp> clone = cast<ModuleOp>(module->clone(mapping));
  MLIRContext *context = module.getContext();
  if (clone->lookupSymbol(kRecordFunction))
    return error("the module already defines @" + kRecordFunction +
                 ", the name the tapped model records through");

  SmallVector<Value> clonedTaps;
  for (Value tap : taps) {
    if (auto observer = tap.getDefiningOp<ObserveOp>())
      tap = observer.getInput();
    clonedTaps.push_back(mapping.lookup(tap));
  }
  SmallVector<ObserveOp> observers;
  clone->walk([&](ObserveOp op) { observers.push_back(op); });
  for (ObserveOp op : observers) {
    op.getOutput().replaceAllUsesWith(op.getInput());
    op.erase();
  }

  // Host weights: one buffer, each global 64-byte aligned in it.
  WeightStore store;
  uint64_t cursor = 0;
  std::vector<std::vector<float>> initial;
  for (ml_program::GlobalOp global : hostGlobals) {
    WeightRef ref;
    ref.global = global;
    ref.name = global.getSymName().str();
    ref.type = dyn_cast<RankedTensorType>(global.getType());
    if (!ref.type || !ref.type.hasStaticShape())
      return error("@" + global.getSymName() + " is not a static tensor");
    FailureOr<std::vector<float>> values = store.read(ref, global);
    if (failed(values))
      return failure();
    auto cloned = clone->lookupSymbol<ml_program::GlobalOp>(global.getSymName());
    if (failed(redirectToHost(*clone, cloned, cursor, error)))
      return failure();
    tapped->hostSlices.emplace_back(cursor / sizeof(float), values->size());
    cursor += (values->size() * sizeof(float) + 63) / 64 * 64;
    initial.push_back(std::move(*values));
  }
  tapped->hostFloats.assign(cursor / sizeof(float) + 16, 0.0f);
  for (auto [slice, values] : llvm::zip(tapped->hostSlices, initial))
    std::copy(values.begin(), values.end(),
              tapped->hostFloats.begin() + slice.first);

  OpBuilder builder(context);
  builder.setInsertionPointToEnd(clone->getBody());
  Type f32 = builder.getF32Type();
  auto unranked = UnrankedMemRefType::get(f32, Attribute());
  auto record = func::FuncOp::create(
      builder, clone->getLoc(), kRecordFunction,
      builder.getFunctionType({builder.getI64Type(), unranked}, {}));
  record.setPrivate();
  record->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                  builder.getUnitAttr());
  for (auto [id, value] : llvm::enumerate(clonedTaps)) {
    auto type = dyn_cast<RankedTensorType>(value.getType());
    if (!type || !type.getElementType().isF32())
      return error("a tapped value has type " + Twine(id) +
                   "; only f32 tensors can be recorded");
    builder.setInsertionPointAfterValue(value);
    Location loc = value.getLoc();
    // Any strides: the tensor's buffer may be a view (a cache slice).
    auto layout = StridedLayoutAttr::get(
        context, ShapedType::kDynamic,
        SmallVector<int64_t>(type.getRank(), ShapedType::kDynamic));
    auto bufferType = MemRefType::get(type.getShape(), f32, layout);
    Value buffer = bufferization::ToBufferOp::create(builder, loc, bufferType,
                                                     value, /*read_only=*/true);
    Value view = memref::CastOp::create(builder, loc, unranked, buffer);
    Value slot =
        arith::ConstantIntOp::create(builder, loc, static_cast<int64_t>(id), 64);
    func::CallOp::create(builder, loc, record, ValueRange{slot, view});
  }

  std::string errors;
  quantc::io::Result<std::unique_ptr<quantc::runtime::Model>> model =
      quantc::io::makeError("not compiled");
  {
    // Compiling the clone is an implementation detail: its warnings are not
    // the user's, and its errors are reported as one, below.
    ScopedDiagnosticHandler handler(context, [&](Diagnostic &d) {
      if (d.getSeverity() == DiagnosticSeverity::Error)
        errors += "\n" + d.str();
      return success();
    });
    std::vector<quantc::runtime::HostWeights> host;
    if (!hostGlobals.empty())
      host.push_back({kHostWeightsPath.str(),
                      reinterpret_cast<const uint8_t *>(
                          tapped->hostFloats.data()),
                      tapped->hostFloats.size() * sizeof(float)});
    model = quantc::jitModel(
        *clone,
        {{kRecordSymbol.str(), reinterpret_cast<void *>(&recordTensor)}},
        host);
  }
  if (!model)
    return error("compiling the tapped model failed: " + model.error() +
                 errors);
  tapped->model = std::move(*model);
  tapped->taps = static_cast<int64_t>(taps.size());
  return tapped;
}

TappedModel::~TappedModel() = default;

MutableArrayRef<float> TappedModel::getHostWeights(size_t index) {
  auto [offset, count] = hostSlices[index];
  return MutableArrayRef<float>(hostFloats.data() + offset, count);
}

LogicalResult TappedModel::run(ArrayRef<int32_t> tokens, int64_t window,
                               const TensorCallback &onTensor,
                               const std::function<void(int64_t)> &progress,
                               const ModuleErrorFn &error) {
  const int64_t total = static_cast<int64_t>(tokens.size());
  const int64_t vocab = model->getInterface().vocabSize;
  std::vector<float> logits(window * vocab);
  std::unique_ptr<quantc::runtime::Session> session = model->createSession();
  Recorder recorder;
  recorder.callback = &onTensor;
  recorder.taps = taps;
  activeRecorder = &recorder;
  llvm::scope_exit reset([] { activeRecorder = nullptr; });
  for (int64_t first = 0; first < total; first += window) {
    const int64_t count = std::min(window, total - first);
    // Every window starts from an empty cache at position 0.
    if (quantc::io::Status status =
            session->forward(tokens.data() + first, count, 0, logits.data());
        !status)
      return error("running tokens [" + Twine(first) + ", " +
                   Twine(first + count) + "): " + status.error());
    if (recorder.malformed)
      return error("the tapped model recorded an unknown tensor");
    if (progress)
      progress(first + count);
  }
  return success();
}

FailureOr<int64_t> mlir::qc::chooseWindow(int64_t ctx, const ModelShape &shape,
                                          const ModuleErrorFn &error) {
  if (ctx < 0)
    return error("ctx must be non-negative, got " + Twine(ctx));
  const int64_t window =
      ctx > 0 ? ctx : std::min<int64_t>(256, shape.contextLength);
  if (window > shape.contextLength)
    return error("ctx " + Twine(window) +
                 " exceeds the model's context length of " +
                 Twine(shape.contextLength));
  return window;
}

FailureOr<std::vector<InputStatistics>> mlir::qc::collectInputStatistics(
    ModuleOp module, ArrayRef<InputGroup> groups, ArrayRef<int32_t> tokens,
    int64_t window, const CollectOptions &options,
    const ModuleErrorFn &error) {
  auto progress = [&](const Twine &message) {
    if (!options.progressPrefix.empty())
      llvm::errs() << options.progressPrefix << ": " << message << "\n";
  };
  SmallVector<Value> taps;
  for (const InputGroup &group : groups)
    taps.push_back(group.input);
  progress("compiling the model with " + Twine(taps.size()) +
           " inputs recording");
  FailureOr<std::unique_ptr<TappedModel>> model =
      TappedModel::compile(module, taps, {}, error);
  if (failed(model))
    return failure();

  std::vector<InputStatistics> stats(groups.size());
  for (auto [group, stat] : llvm::zip(groups, stats)) {
    stat.absSum.assign(group.cols, 0.0);
    stat.absMax.assign(group.cols, 0.0f);
    if (options.hessian)
      stat.hessian.emplace(group.cols);
  }
  // Evenly spaced rows: every `stride`-th row of the run.
  const int64_t total = static_cast<int64_t>(tokens.size());
  const int64_t stride =
      options.sampleRows > 0
          ? std::max<int64_t>(1, total / options.sampleRows)
          : 0;
  std::optional<int64_t> nonFinite;
  TensorCallback record = [&](int64_t id, const float *data,
                              ArrayRef<int64_t> shape) {
    InputStatistics &stat = stats[id];
    const int64_t cols = shape.back();
    int64_t rows = 1;
    for (int64_t size : shape.drop_back())
      rows *= size;
    if (cols != static_cast<int64_t>(stat.absSum.size())) {
      nonFinite = id;
      return;
    }
    for (int64_t r = 0; r < rows; ++r) {
      const float *row = data + r * cols;
      for (int64_t j = 0; j < cols; ++j) {
        if (!std::isfinite(row[j])) {
          nonFinite = id;
          return;
        }
        const float magnitude = std::fabs(row[j]);
        stat.absSum[j] += magnitude;
        stat.absMax[j] = std::max(stat.absMax[j], magnitude);
      }
      if (stride > 0 && (stat.tokens + r) % stride == 0 &&
          stat.sampleCount < options.sampleRows) {
        stat.sampleRows.insert(stat.sampleRows.end(), row, row + cols);
        ++stat.sampleCount;
      }
    }
    stat.tokens += rows;
    if (stat.hessian)
      stat.hessian->add(data, rows, cols);
  };
  auto start = std::chrono::steady_clock::now();
  auto lastReport = start;
  auto afterWindow = [&](int64_t done) {
    auto now = std::chrono::steady_clock::now();
    if (done == total ||
        std::chrono::duration<double>(now - lastReport).count() >= 1.0) {
      lastReport = now;
      double elapsed = std::chrono::duration<double>(now - start).count();
      progress(Twine(done) + "/" + Twine(total) + " tokens, " +
               Twine(static_cast<int64_t>(elapsed > 0 ? done / elapsed : 0)) +
               " tokens/s");
    }
  };
  if (failed((*model)->run(tokens, window, record, afterWindow, error)))
    return failure();
  if (nonFinite) {
    const ProjectionSite &site = *groups[*nonFinite].sites.front();
    linalg::MatmulOp matmul = site.matmul;
    return matmul.emitOpError("the input of '")
           << site.weight.name
           << "' has NaN or infinite values on the samples";
  }
  return stats;
}
