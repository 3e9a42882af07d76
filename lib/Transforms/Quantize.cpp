//===- Quantize.cpp - float projections to qc.linear with packed weights --===//
//
// The pass works in three phases so that it either succeeds completely or
// leaves no file behind:
//   1. plan: match every projection, resolve its scheme (overrides,
//      keep-float), check its weight (readable, finite) and its statistics,
//      and choose every packed weight's type; nothing changes yet;
//   2. rewrite the IR: new globals, qc.linear ops, dead observers and
//      globals removed, every global the file will hold laid out;
//   3. stream the weights file (pack one tensor at a time, or copy float
//      bytes) to a temporary file renamed into place at the end.
// Weights are read twice (once to validate, once to pack) rather than held
// in memory: a model is at most one float tensor plus one packed tensor in
// memory at a time, beyond its memory-mapped files.
//
//===----------------------------------------------------------------------===//

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Threading.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/GlobPattern.h"
#include "llvm/Support/Path.h"

#include "quantc/IO/MappedFile.h"
#include "quantc/IO/OutputStream.h"
#include "quantc/Numerics/Affine.h"
#include "quantc/Numerics/BlockCodecs.h"
#include "quantc/Numerics/Calibration.h"
#include "quantc/Numerics/FP8.h"
#include "quantc/Numerics/Float.h"
#include "quantc/Numerics/GroupedAffine.h"
#include "quantc/Numerics/QuantizedLinear.h"
#include "quantc/Numerics/Scheme.h"
#include "quantc/Transforms/Passes.h"

#include "Projections.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>

namespace mlir::qc {
QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DEF_QCQUANTIZE
#include "quantc/Transforms/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// Largest reduction length whose int8 x int8 sums fit qc.linear's int32
/// accumulator (K * 127 * 128 < 2^31, QuantizedLinear.h).
constexpr int64_t kMaxInt8Depth = (int64_t(1) << 17) - 1;
/// Largest finite f16 value.
constexpr float kMaxF16 = 65504.0f;

//===----------------------------------------------------------------------===//
// Activation ranges
//===----------------------------------------------------------------------===//

/// The clipping range [lo, hi] of a per-tensor activation, chosen by
/// `method` from the statistics qc-calibrate wrote (per-channel statistics
/// are merged into one range).
FailureOr<std::pair<double, double>>
selectActivationRange(ObserveOp observer, StatsAttr stats,
                      quantc::CalibrationMethod method, double percentile) {
  double lo = *llvm::min_element(stats.getMin().asArrayRef());
  double hi = *llvm::max_element(stats.getMax().asArrayRef());
  quantc::Histogram absolute;
  HistogramAttr histogram = stats.getHistogram();
  if (histogram) {
    // qc-calibrate bins |x| over [0, max|x|]; anything else is not what
    // the searches read.
    if (histogram.getLoValue() != 0.0)
      return observer.emitOpError("'")
             << observer.getLabel() << "' has a histogram over ["
             << histogram.getLoValue() << ", " << histogram.getHiValue()
             << "], not a histogram of |x| over [0, max|x|]";
    absolute.min = 0.0f;
    absolute.max = static_cast<float>(histogram.getHiValue());
    for (int64_t count : histogram.getCounts())
      absolute.counts.push_back(static_cast<float>(count));
  } else if (method != quantc::CalibrationMethod::MinMax) {
    return observer.emitOpError("'")
           << observer.getLabel()
           << "' has statistics without a histogram, which method="
           << quantc::getCalibrationMethodName(method)
           << " needs; observe it with bins (qc-insert-observers bins=2048) "
              "and calibrate again";
  }
  std::string error;
  std::optional<quantc::ClipRange> range = quantc::selectRange(
      static_cast<float>(lo), static_cast<float>(hi),
      histogram ? &absolute : nullptr, method, percentile, &error);
  if (!range)
    return observer.emitOpError("'") << observer.getLabel() << "': " << error;
  return std::make_pair(static_cast<double>(range->lo),
                        static_cast<double>(range->hi));
}

//===----------------------------------------------------------------------===//
// Names, globs and schemes
//===----------------------------------------------------------------------===//

struct Override {
  std::string text;
  llvm::GlobPattern glob;
  quantc::Scheme scheme;
  bool used = false;
};

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

/// A float weight the module reads: a global (external or dense) or an
/// arith.constant. The attributes stay valid after the ops are erased.
struct WeightSource {
  /// Where diagnostics about its values point.
  Operation *op = nullptr;
  ml_program::GlobalOp global;
  std::string name;
  RankedTensorType type;
  ExternalAttr external;
  DenseElementsAttr dense;
  /// Filled by the validating scan.
  bool scanned = false;
  float absMax = 0.0f;
};

/// A weight in its quantized storage: one blob of the weights file.
struct PackedWeight {
  WeightSource *source = nullptr;
  /// The source is stored [K, N] (a plain matmul); packed as [N, K].
  bool transpose = false;
  /// The scheme that chose it and its spelling (`qc.scheme`).
  quantc::Scheme scheme;
  std::string schemeName;
  /// What is stored: Grouped, FP8E4M3 or a registry format (block or float).
  quantc::WeightStorage storage = quantc::WeightStorage::Float;
  quantc::Format format = quantc::Format::F32;
  /// The format asked for, when a fallback replaced it.
  std::optional<std::string> requested;
  Type type;
  uint64_t bytes = 0;
  float fp8Scale = 1.0f;
  ml_program::GlobalOp global;
  std::optional<double> sqnrDb;
  /// Bytes an error-aware pass (qc-gptq) already chose, and its name.
  DenseElementsAttr prequantized;
  std::string method;

  std::string formatName() const {
    switch (storage) {
    case quantc::WeightStorage::Grouped:
      return scheme.grouped.name();
    case quantc::WeightStorage::FP8E4M3:
      return "f8e4m3";
    case quantc::WeightStorage::Block:
    case quantc::WeightStorage::Float:
      return std::string(quantc::getFormatInfo(format).name);
    }
    return "";
  }
  bool isFloat() const { return storage == quantc::WeightStorage::Float; }
  /// Logical [rows, cols] of the packed matrix.
  std::pair<int64_t, int64_t> packedShape() const {
    ArrayRef<int64_t> shape = source->type.getShape();
    return transpose ? std::make_pair(shape[1], shape[0])
                     : std::make_pair(shape[0], shape[1]);
  }
};

/// One linalg.matmul to rewrite (or keep).
struct Projection {
  linalg::MatmulOp matmul;
  /// The name overrides and keep-float match: the weight's, and
  /// `output.weight` for a classifier tied to the token embedding.
  SmallVector<std::string, 2> names;
  ObserveOp inputObserver;
  WeightSource *source = nullptr;
  bool transpose = false;
  bool zeroInit = false;
  bool keepFloat = false;
  PackedWeight *packed = nullptr;
  quant::UniformQuantizedType staticType;
  std::optional<float> inputScale;
};

std::optional<quantc::Format> floatFormatOf(Type type) {
  if (type.isF32())
    return quantc::Format::F32;
  if (type.isF16())
    return quantc::Format::F16;
  if (type.isBF16())
    return quantc::Format::BF16;
  return std::nullopt;
}

Type floatTypeOf(MLIRContext *context, quantc::Format format) {
  switch (format) {
  case quantc::Format::F16:
    return Float16Type::get(context);
  case quantc::Format::BF16:
    return BFloat16Type::get(context);
  default:
    return Float32Type::get(context);
  }
}

/// Bytes a global's value occupies in a weights file, by its type.
std::optional<uint64_t> getStoredBytes(Type type) {
  if (auto packed = dyn_cast<PackedType>(type))
    return packed.getSizeInBytes();
  if (auto grouped = dyn_cast<GroupedType>(type))
    return grouped.getSizeInBytes();
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape())
    return std::nullopt;
  Type element = tensor.getElementType();
  if (!element.isIntOrFloat() || element.getIntOrFloatBitWidth() % 8 != 0)
    return std::nullopt;
  return static_cast<uint64_t>(tensor.getNumElements()) *
         (element.getIntOrFloatBitWidth() / 8);
}

/// How reports spell a global's storage.
std::string getFormatName(Type type) {
  if (auto packed = dyn_cast<PackedType>(type))
    return std::string(packed.getFormatInfo().name);
  if (auto grouped = dyn_cast<GroupedType>(type))
    return grouped.getFormat().name();
  Type element = cast<ShapedType>(type).getElementType();
  if (std::optional<quantc::Format> format = floatFormatOf(element))
    return std::string(quantc::getFormatInfo(*format).name);
  if (isa<Float8E4M3FNType>(element))
    return "f8e4m3";
  std::string text;
  llvm::raw_string_ostream os(text);
  os << element;
  return text;
}

uint64_t alignTo64(uint64_t value) {
  return (value + quantc::kPlaneAlignment - 1) / quantc::kPlaneAlignment *
         quantc::kPlaneAlignment;
}

bool isProjectionWeightUse(OpOperand &use) {
  auto matmul = dyn_cast<linalg::MatmulOp>(use.getOwner());
  return matmul && use.getOperandNumber() == 1;
}

/// `weight` (f16 or bf16) widened to f32 the way quantc import does it, so
/// that the matmul keeps computing in f32.
Value widenToF32(OpBuilder &builder, Location loc, Value weight) {
  auto type = cast<RankedTensorType>(weight.getType());
  if (type.getElementType().isF32())
    return weight;
  auto wideType = RankedTensorType::get(type.getShape(), builder.getF32Type());
  Value empty = tensor::EmptyOp::create(builder, loc, type.getShape(),
                                        builder.getF32Type());
  AffineMap identity = builder.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> parallel(type.getRank(),
                                            utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             builder, loc, TypeRange{wideType}, ValueRange{weight},
             ValueRange{empty}, ArrayRef<AffineMap>{identity, identity},
             parallel,
             [](OpBuilder &nested, Location nestedLoc, ValueRange args) {
               Value wide = arith::ExtFOp::create(nested, nestedLoc,
                                                  nested.getF32Type(), args[0]);
               linalg::YieldOp::create(nested, nestedLoc, wide);
             })
      .getResult(0);
}

/// The result that carries a weight on through `use` unchanged in value: an
/// observer's output, or an f32 widening's; null for any other use.
Value getForwardingResult(OpOperand &use) {
  Operation *owner = use.getOwner();
  if (auto observer = dyn_cast<ObserveOp>(owner))
    return observer.getOutput();
  if (owner->getNumResults() == 1 &&
      getWidenedSource(owner->getResult(0)) == use.get())
    return owner->getResult(0);
  return {};
}

/// True when `value` (a weight load) is read by something other than the
/// weight operand of a matmul, looking through observers and widenings: the
/// embedding's gather, for a classifier tied to the token embedding.
bool hasNonProjectionUse(Value value) {
  for (OpOperand &use : value.getUses()) {
    if (Value forwarded = getForwardingResult(use)) {
      if (hasNonProjectionUse(forwarded))
        return true;
      continue;
    }
    if (!isProjectionWeightUse(use))
      return true;
  }
  return false;
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct QuantizePass : public qc::impl::QCQuantizeBase<QuantizePass> {
  using Base::Base;

  void runOnOperation() override;

private:
  // Options, parsed.
  quantc::Scheme scheme;
  quantc::CalibrationMethod rangeMethod = quantc::CalibrationMethod::MinMax;
  std::vector<Override> overrideList;
  std::vector<llvm::GlobPattern> keepFloatGlobs;
  std::string weightsPath;

  // Plan.
  std::deque<WeightSource> sources;
  DenseMap<Operation *, WeightSource *> sourceByOp;
  std::deque<PackedWeight> packedWeights;
  std::map<std::tuple<WeightSource *, bool, std::string>, PackedWeight *>
      packedByKey;
  std::vector<Projection> projections;
  llvm::StringMap<std::shared_ptr<const quantc::io::MappedFile>> files;
  /// External globals still read after the rewrite, with where their bytes
  /// were before they were re-pointed at the weights file.
  llvm::MapVector<Operation *, ExternalAttr> copies;
  uint64_t floatBytes = 0;

  LogicalResult parseOptions();
  LogicalResult collectProjections();
  LogicalResult matchProjection(linalg::MatmulOp matmul, StringRef function,
                                unsigned index, SymbolTable &symbols);
  FailureOr<WeightSource *> getSource(Operation *def, StringRef function,
                                      unsigned index, SymbolTable &symbols);
  LogicalResult planProjection(Projection &projection);
  FailureOr<PackedWeight *> planWeight(Projection &projection,
                                       const quantc::Scheme &chosen,
                                       StringRef chosenName);
  LogicalResult planActivations(Projection &projection,
                                const quantc::Scheme &chosen,
                                StringRef chosenName);

  FailureOr<const quantc::io::MappedFile *> openFile(StringRef path,
                                                     Operation *op);
  LogicalResult checkExternalBytes(ExternalAttr external, Type type,
                                   Operation *op, StringRef name);
  LogicalResult readFloats(WeightSource &source, bool transpose,
                           Operation *where, std::vector<float> &out);
  LogicalResult scanSource(WeightSource &source);
  LogicalResult planCopies();

  void rewrite(SymbolTable &symbols);
  LogicalResult writeWeights(ArrayRef<ml_program::GlobalOp> layout);
  LogicalResult takePrequantized(Projection &projection, PackedWeight &packed);
  LogicalResult packInto(PackedWeight &packed, std::vector<uint8_t> &blob);
};

//===----------------------------------------------------------------------===//
// Options
//===----------------------------------------------------------------------===//

LogicalResult QuantizePass::parseOptions() {
  ModuleOp module = getOperation();
  if (schemeName.empty())
    return module.emitError("qc-quantize needs a scheme (scheme=...): ")
           << quantc::describeSchemes();
  std::string error;
  std::optional<quantc::Scheme> parsed = quantc::parseScheme(schemeName, error);
  if (!parsed)
    return module.emitError("qc-quantize: ") << error;
  scheme = *parsed;

  std::optional<quantc::CalibrationMethod> parsedMethod =
      quantc::parseCalibrationMethod(method);
  if (!parsedMethod)
    return module.emitError("qc-quantize: unknown method '")
           << method << "'; expected minmax, percentile, entropy or mse";
  rangeMethod = *parsedMethod;
  if (!(percentile >= 0.0 && percentile <= 100.0))
    return module.emitError("qc-quantize: percentile must be in [0, 100], got ")
           << percentile;

  for (StringRef text : splitList(keepFloat)) {
    llvm::Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(text);
    if (!glob)
      return module.emitError("qc-quantize: keep-float glob '")
             << text << "': " << llvm::toString(glob.takeError());
    keepFloatGlobs.push_back(std::move(*glob));
  }

  for (StringRef text : splitList(overrides)) {
    auto [pattern, name] = text.rsplit('=');
    pattern = pattern.trim();
    name = name.trim();
    if (pattern.empty() || name.empty() || !text.contains('='))
      return module.emitError("qc-quantize: override '")
             << text << "' is not GLOB=SCHEME";
    llvm::Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(pattern);
    if (!glob)
      return module.emitError("qc-quantize: override '")
             << text << "': " << llvm::toString(glob.takeError());
    std::optional<quantc::Scheme> overrideScheme =
        quantc::parseScheme(name, error);
    if (!overrideScheme)
      return module.emitError("qc-quantize: override '")
             << text << "': " << error;
    overrideList.push_back(
        {text.str(), std::move(*glob), *overrideScheme, false});
  }

  if (!weightsFile.empty()) {
    SmallString<256> path(weightsFile);
    if (std::error_code ec = llvm::sys::fs::make_absolute(path))
      return module.emitError("qc-quantize: weights-file '")
             << weightsFile << "': " << ec.message();
    llvm::sys::path::remove_dots(path, /*remove_dot_dot=*/true);
    weightsPath = std::string(path);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Matching
//===----------------------------------------------------------------------===//

FailureOr<WeightSource *> QuantizePass::getSource(Operation *def,
                                                  StringRef function,
                                                  unsigned index,
                                                  SymbolTable &symbols) {
  Operation *key = def;
  ml_program::GlobalOp global;
  if (auto load = dyn_cast<ml_program::GlobalLoadConstOp>(def)) {
    global = symbols.lookup<ml_program::GlobalOp>(
        load.getGlobal().getRootReference());
    if (!global)
      return load.emitOpError("loads an unknown global ") << load.getGlobal();
    key = global;
  }
  if (auto it = sourceByOp.find(key); it != sourceByOp.end())
    return it->second;

  WeightSource source;
  source.op = key;
  if (global) {
    source.global = global;
    source.name = global.getSymName().str();
    Attribute value = global.getValue().value_or(Attribute());
    source.external = dyn_cast_if_present<ExternalAttr>(value);
    source.dense = dyn_cast_if_present<DenseElementsAttr>(value);
    if (global.getIsMutable() || (!source.external && !source.dense))
      return def->emitOpError("loads @")
             << global.getSymName()
             << ", which is not a constant weight (a mutable global, or a "
                "value that is neither #qc.external nor dense elements)";
    source.type = dyn_cast<RankedTensorType>(global.getType());
  } else {
    auto constant = cast<arith::ConstantOp>(def);
    source.dense = cast<DenseElementsAttr>(constant.getValue());
    source.type = dyn_cast<RankedTensorType>(constant.getType());
    source.name = (function + ".matmul_" + Twine(index) + ".weight").str();
  }
  if (!source.type || source.type.getRank() != 2 ||
      !source.type.hasStaticShape() ||
      !floatFormatOf(source.type.getElementType()))
    return def->emitOpError("weight '")
           << source.name
           << "' must be a static 2-D tensor of f32, f16 or bf16, got "
           << (source.type ? Type(source.type) : def->getResult(0).getType());
  if (source.external && failed(checkExternalBytes(source.external, source.type,
                                                   source.op, source.name)))
    return failure();
  sources.push_back(std::move(source));
  sourceByOp[key] = &sources.back();
  return &sources.back();
}

LogicalResult QuantizePass::matchProjection(linalg::MatmulOp matmul,
                                            StringRef function, unsigned index,
                                            SymbolTable &symbols) {
  if (!matmul.hasPureTensorSemantics())
    return matmul.emitOpError(
        "has buffer semantics; qc-quantize runs on tensors, before "
        "bufferization");
  MLIRContext *context = matmul.getContext();
  AffineExpr m, n, k;
  bindDims(context, m, n, k);
  auto map = [&](ArrayRef<AffineExpr> results) {
    return AffineMap::get(3, 0, results, context);
  };
  SmallVector<AffineMap> maps = matmul.getIndexingMapsArray();
  Projection projection;
  projection.matmul = matmul;
  if (maps == SmallVector<AffineMap>{map({m, k}), map({n, k}), map({m, n})})
    projection.transpose = false;
  else if (maps ==
           SmallVector<AffineMap>{map({m, k}), map({k, n}), map({m, n})})
    projection.transpose = true;
  else
    return matmul.emitOpError(
        "has indexing maps that are neither x * W^T (weight [N, K]) nor x * "
        "W (weight [K, N]); qc-quantize rewrites projections");

  auto resultType = cast<RankedTensorType>(matmul.getResult(0).getType());
  Value input = matmul.getDpsInputOperand(0)->get();
  if (!resultType.getElementType().isF32() ||
      !cast<RankedTensorType>(input.getType()).getElementType().isF32())
    return matmul.emitOpError("computes ")
           << input.getType() << " -> " << resultType
           << "; qc-quantize rewrites projections of f32 activations";

  if (auto observer = input.getDefiningOp<ObserveOp>()) {
    projection.inputObserver = observer;
    input = observer.getInput();
  }

  Value weight = matmul.getDpsInputOperand(1)->get();
  if (auto observer = weight.getDefiningOp<ObserveOp>())
    weight = observer.getInput();
  if (Value narrow = getWidenedSource(weight))
    weight = narrow;
  Operation *def = weight.getDefiningOp();
  if (!def ||
      !(isa<ml_program::GlobalLoadConstOp>(def) ||
        (isa<arith::ConstantOp>(def) &&
         isa<DenseElementsAttr>(cast<arith::ConstantOp>(def).getValue())))) {
    InFlightDiagnostic diag =
        matmul.emitOpError("has a weight that is not a constant or a global");
    if (def)
      diag << " (it is computed by '" << def->getName() << "')";
    else
      diag << " (it is a block argument)";
    return diag << "; qc-quantize packs weights known before the model runs";
  }
  FailureOr<WeightSource *> source = getSource(def, function, index, symbols);
  if (failed(source))
    return failure();
  projection.source = *source;

  Value init = matmul.getDpsInitOperand(0)->get();
  if (auto fill = init.getDefiningOp<linalg::FillOp>())
    projection.zeroInit =
        matchPattern(fill.getDpsInputOperand(0)->get(), m_AnyZeroFloat());

  projection.names.push_back((*source)->name);
  projections.push_back(std::move(projection));
  return success();
}

LogicalResult QuantizePass::collectProjections() {
  ModuleOp module = getOperation();
  SymbolTable symbols(module);
  for (auto function : module.getOps<func::FuncOp>()) {
    unsigned index = 0;
    WalkResult walk = function.walk([&](linalg::MatmulOp matmul) {
      if (failed(
              matchProjection(matmul, function.getSymName(), index++, symbols)))
        return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
  }

  // A classifier that reads the token embedding (a weight also read
  // outside projections) answers to output.weight too, as llama.cpp treats
  // tied embeddings as the output tensor.
  bool hasOutputWeight = symbols.lookup("output.weight") != nullptr;
  for (Projection &projection : projections) {
    WeightSource *source = projection.source;
    if (hasOutputWeight || !source->global)
      continue;
    std::optional<SymbolTable::UseRange> uses =
        SymbolTable::getSymbolUses(source->global, module);
    bool tied = uses && llvm::any_of(*uses, [](SymbolTable::SymbolUse use) {
                  auto load =
                      dyn_cast<ml_program::GlobalLoadConstOp>(use.getUser());
                  return !load || hasNonProjectionUse(load.getResult());
                });
    if (tied)
      projection.names.push_back("output.weight");
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Planning
//===----------------------------------------------------------------------===//

FailureOr<const quantc::io::MappedFile *>
QuantizePass::openFile(StringRef path, Operation *op) {
  auto it = files.find(path);
  if (it == files.end()) {
    auto mapped = quantc::io::MappedFile::open(path.str());
    if (!mapped)
      return op->emitOpError("cannot read its weight file: ") << mapped.error();
    it = files.try_emplace(path, std::move(*mapped)).first;
  }
  return it->second.get();
}

LogicalResult QuantizePass::checkExternalBytes(ExternalAttr external, Type type,
                                               Operation *op, StringRef name) {
  std::optional<uint64_t> bytes = getStoredBytes(type);
  if (!bytes)
    return op->emitOpError("weight '")
           << name << "' has type " << type
           << ", whose bytes in a file qc-quantize cannot size";
  if (!weightsPath.empty()) {
    SmallString<256> source(external.getPath());
    (void)llvm::sys::fs::make_absolute(source);
    llvm::sys::path::remove_dots(source, /*remove_dot_dot=*/true);
    if (source == weightsPath || llvm::sys::fs::equivalent(source, weightsPath))
      return op->emitOpError("reads '")
             << external.getPath()
             << "', which weights-file would overwrite; write the quantized "
                "weights elsewhere";
  }
  FailureOr<const quantc::io::MappedFile *> file =
      openFile(external.getPath(), op);
  if (failed(file))
    return failure();
  uint64_t end = external.getOffset() + *bytes;
  if (end < external.getOffset() || end > (*file)->size())
    return op->emitOpError("weight '")
           << name << "' needs bytes [" << external.getOffset() << ", "
           << external.getOffset() + *bytes << ") of '" << external.getPath()
           << "', which has " << (*file)->size() << " bytes";
  return success();
}

/// Reads `source` as row-major floats; `where` takes the diagnostics (the
/// source op may be gone by the time the file is written).
LogicalResult QuantizePass::readFloats(WeightSource &source, bool transpose,
                                       Operation *where,
                                       std::vector<float> &out) {
  ArrayRef<int64_t> shape = source.type.getShape();
  const int64_t rows = shape[0], cols = shape[1];
  const int64_t count = rows * cols;
  std::vector<float> values(static_cast<size_t>(count));
  quantc::Format stored = *floatFormatOf(source.type.getElementType());
  if (source.external) {
    FailureOr<const quantc::io::MappedFile *> file =
        openFile(source.external.getPath(), where);
    if (failed(file))
      return failure();
    const uint8_t *data = (*file)->data() + source.external.getOffset();
    if (stored == quantc::Format::F32) {
      std::memcpy(values.data(), data, static_cast<size_t>(count) * 4);
    } else {
      // Copied out first: a 16-bit element at an odd offset of the mapping
      // must not be read through a misaligned pointer.
      std::vector<uint16_t> halves(static_cast<size_t>(count));
      std::memcpy(halves.data(), data, static_cast<size_t>(count) * 2);
      if (stored == quantc::Format::F16)
        quantc::fp16ToFp32Row(halves.data(), values.data(), count);
      else
        quantc::bf16ToFp32Row(halves.data(), values.data(), count);
    }
  } else {
    size_t i = 0;
    for (const APFloat &value : source.dense.getValues<APFloat>())
      values[i++] = value.convertToFloat();
  }
  if (!transpose) {
    out = std::move(values);
    return success();
  }
  out.resize(values.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[c * rows + r] = values[r * cols + c];
  return success();
}

LogicalResult QuantizePass::scanSource(WeightSource &source) {
  if (source.scanned)
    return success();
  std::vector<float> values;
  if (failed(readFloats(source, /*transpose=*/false, source.op, values)))
    return failure();
  int64_t cols = source.type.getDimSize(1);
  float absMax = 0.0f;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i]))
      return source.op->emitOpError("weight '")
             << source.name << "' has a non-finite value ("
             << (std::isnan(values[i]) ? "nan"
                 : values[i] > 0       ? "inf"
                                       : "-inf")
             << ") at [" << static_cast<int64_t>(i) / cols << ", "
             << static_cast<int64_t>(i) % cols
             << "]; quantizing it would poison its scales";
    absMax = std::max(absMax, std::fabs(values[i]));
  }
  source.absMax = absMax;
  source.scanned = true;
  return success();
}

FailureOr<PackedWeight *> QuantizePass::planWeight(Projection &projection,
                                                   const quantc::Scheme &chosen,
                                                   StringRef chosenName) {
  WeightSource &source = *projection.source;
  if (failed(scanSource(source)))
    return failure();
  MLIRContext *context = &getContext();
  PackedWeight packed;
  packed.source = &source;
  packed.scheme = chosen;
  packed.schemeName = chosenName.str();
  packed.storage = chosen.weights;
  packed.format = chosen.format;
  packed.transpose = projection.transpose;
  int64_t depth = source.type.getDimSize(projection.transpose ? 0 : 1); // K

  if (packed.storage == quantc::WeightStorage::Block) {
    quantc::Format resolved =
        quantc::resolveRowFormat(chosen.format, static_cast<uint64_t>(depth));
    if (resolved != chosen.format) {
      const quantc::FormatInfo &info = quantc::getFormatInfo(chosen.format);
      if (!allowFallback)
        return projection.matmul.emitOpError("weight '")
               << source.name << "' has rows of " << depth
               << ", not a multiple of the " << info.name << " block size "
               << info.blockSize << ", and fallback=false";
      packed.requested = std::string(info.name);
      packed.format = resolved;
      if (!quantc::getFormatInfo(resolved).isBlockQuantized())
        packed.storage = quantc::WeightStorage::Float;
    }
  }
  if (packed.storage == quantc::WeightStorage::Float) {
    // A float weight keeps the matmul and its layout.
    packed.transpose = false;
    if (packed.format == quantc::Format::F16 && source.absMax > kMaxF16) {
      if (!packed.requested)
        packed.requested = "f16";
      packed.format = quantc::Format::F32;
    }
  }

  std::string key = packed.formatName();
  auto [rows, cols] = packed.packedShape();
  if (auto it = packedByKey.find({&source, packed.transpose, key});
      it != packedByKey.end())
    return it->second;

  switch (packed.storage) {
  case quantc::WeightStorage::Grouped: {
    const quantc::GroupedFormat &format = chosen.grouped;
    auto storageType = IntegerType::get(
        context, format.bits,
        format.isSigned ? IntegerType::Signed : IntegerType::Unsigned);
    packed.type =
        GroupedType::get(context, {rows, cols}, storageType, format.groupSize);
    packed.bytes = quantc::groupedLayout(format, rows, cols).totalBytes;
    break;
  }
  case quantc::WeightStorage::Block: {
    auto type = PackedType::get(context, {rows, cols}, packed.format);
    packed.type = type;
    packed.bytes = type.getSizeInBytes();
    break;
  }
  case quantc::WeightStorage::FP8E4M3:
    packed.type =
        RankedTensorType::get({rows, cols}, Float8E4M3FNType::get(context));
    packed.bytes = static_cast<uint64_t>(rows * cols);
    packed.fp8Scale = quantc::fp8E4M3Scale(source.absMax);
    break;
  case quantc::WeightStorage::Float:
    packed.type = RankedTensorType::get({rows, cols},
                                        floatTypeOf(context, packed.format));
    packed.bytes = *getStoredBytes(packed.type);
    break;
  }
  if (failed(takePrequantized(projection, packed)))
    return failure();
  packedWeights.push_back(std::move(packed));
  packedByKey[{&source, packedWeights.back().transpose, key}] =
      &packedWeights.back();
  return &packedWeights.back();
}

/// Adopts the bytes qc-gptq recorded on the weight (`qc.prequantized`)
/// when they are in the format this scheme stores; anything else is a
/// mismatch between the two passes' schemes, refused.
LogicalResult QuantizePass::takePrequantized(Projection &projection,
                                             PackedWeight &packed) {
  WeightSource &source = *packed.source;
  Operation *owner = source.global ? source.global.getOperation() : source.op;
  auto recorded = owner->getAttrOfType<DictionaryAttr>("qc.prequantized");
  if (!recorded)
    return success();
  auto format = recorded.getAs<StringAttr>("format");
  auto method = recorded.getAs<StringAttr>("method");
  auto bytes = recorded.getAs<DenseElementsAttr>("bytes");
  if (!format || !method || !bytes ||
      !bytes.getElementType().isInteger(8))
    return projection.matmul.emitOpError("weight '")
           << source.name
           << "' has a malformed qc.prequantized (expected {format, method, "
              "bytes: i8 elements})";
  if (packed.storage != quantc::WeightStorage::Grouped &&
      packed.storage != quantc::WeightStorage::Block)
    return projection.matmul.emitOpError("weight '")
           << source.name << "' was quantized by " << method.getValue()
           << " to " << format.getValue() << ", but " << packed.schemeName
           << " stores it as " << packed.formatName()
           << "; run both passes with the same scheme";
  if (format.getValue() != packed.formatName())
    return projection.matmul.emitOpError("weight '")
           << source.name << "' was quantized by " << method.getValue()
           << " to " << format.getValue() << ", but " << packed.schemeName
           << " stores it as " << packed.formatName()
           << "; run both passes with the same scheme";
  if (static_cast<uint64_t>(bytes.getNumElements()) != packed.bytes)
    return projection.matmul.emitOpError("weight '")
           << source.name << "' has " << bytes.getNumElements()
           << " prequantized bytes, but " << packed.formatName() << " of "
           << packed.packedShape().first << "x" << packed.packedShape().second
           << " takes " << packed.bytes;
  packed.prequantized = bytes;
  packed.method = method.getValue().str();
  return success();
}

LogicalResult QuantizePass::planActivations(Projection &projection,
                                            const quantc::Scheme &chosen,
                                            StringRef chosenName) {
  linalg::MatmulOp matmul = projection.matmul;
  int64_t depth = projection.packed->packedShape().second;
  if (chosen.activations == quantc::ActivationQuantization::DynamicPerToken ||
      chosen.activations == quantc::ActivationQuantization::StaticInt8) {
    if (depth > kMaxInt8Depth)
      return matmul.emitOpError("reduces over ")
             << depth << " inputs; " << chosenName
             << " accumulates int8 products in int32, which holds at most "
             << kMaxInt8Depth;
  }
  if (!chosen.needsCalibration())
    return success();

  ObserveOp observer = projection.inputObserver;
  if (!observer)
    return matmul.emitOpError("has no qc.observe on its input; ")
           << chosenName
           << " calibrates activations: run qc-insert-observers and "
              "qc-calibrate first";
  StatsAttr stats = observer.getStatsAttr();
  if (!stats)
    return observer.emitOpError("'")
           << observer.getLabel()
           << "' has no calibration statistics; run qc-calibrate";
  if (chosen.activations == quantc::ActivationQuantization::StaticFP8 &&
      (rangeMethod == quantc::CalibrationMethod::Entropy ||
       rangeMethod == quantc::CalibrationMethod::MSE))
    return matmul.emitOpError("method=")
           << method << " searches an int8 grid; " << chosenName
           << " activations take minmax or percentile";
  FailureOr<std::pair<double, double>> range =
      selectActivationRange(observer, stats, rangeMethod, percentile);
  if (failed(range))
    return failure();

  if (chosen.activations == quantc::ActivationQuantization::StaticFP8) {
    float amax = static_cast<float>(
        std::max(std::fabs(range->first), std::fabs(range->second)));
    projection.inputScale = quantc::fp8E4M3Scale(amax);
    return success();
  }
  quantc::AffineScheme affine;
  affine.bits = 8;
  affine.isSigned = true;
  affine.symmetric = false;
  std::optional<quantc::AffineParams> params =
      quantc::computeAffineParams(static_cast<float>(range->first),
                                  static_cast<float>(range->second), affine);
  if (!params)
    return observer.emitOpError("'")
           << observer.getLabel() << "' has an unusable range [" << range->first
           << ", " << range->second << "]";
  MLIRContext *context = &getContext();
  quantc::IntRange storage = quantc::storageRange(affine);
  projection.staticType = quant::UniformQuantizedType::get(
      quant::QuantizationFlags::Signed, IntegerType::get(context, 8),
      Float32Type::get(context), params->scale, params->zeroPoint, storage.min,
      storage.max);
  return success();
}

LogicalResult QuantizePass::planProjection(Projection &projection) {
  const quantc::Scheme *chosen = nullptr;
  std::string chosenName;
  // The first matching override wins; every override that matches counts
  // as used, shadowed or not.
  for (Override &entry : overrideList) {
    if (!llvm::any_of(projection.names, [&](const std::string &name) {
          return entry.glob.match(name);
        }))
      continue;
    entry.used = true;
    if (!chosen) {
      chosen = &entry.scheme;
      chosenName = entry.scheme.name();
    }
  }
  if (!chosen) {
    projection.keepFloat =
        llvm::any_of(projection.names, [&](const std::string &name) {
          return llvm::any_of(
              keepFloatGlobs,
              [&](const llvm::GlobPattern &glob) { return glob.match(name); });
        });
    if (projection.keepFloat)
      return success();
    chosen = &scheme;
    chosenName = scheme.name();
  }
  FailureOr<PackedWeight *> packed =
      planWeight(projection, *chosen, chosenName);
  if (failed(packed))
    return failure();
  projection.packed = *packed;
  if ((*packed)->isFloat())
    return success();
  return planActivations(projection, *chosen, chosenName);
}

LogicalResult QuantizePass::planCopies() {
  ModuleOp module = getOperation();
  DenseSet<Operation *> replaced;
  for (Projection &projection : projections)
    if (!projection.keepFloat)
      replaced.insert(projection.matmul);
  // Whether the op defining `value` survives the rewrite, which erases it
  // exactly when all its uses were weights of replaced projections (through
  // observers and widenings). An op without uses is never reached, so it
  // stays.
  std::function<bool(Value)> survives = [&](Value value) {
    if (value.use_empty())
      return true;
    return llvm::any_of(value.getUses(), [&](OpOperand &use) {
      if (Value forwarded = getForwardingResult(use))
        return survives(forwarded);
      return !(isProjectionWeightUse(use) && replaced.count(use.getOwner()));
    });
  };
  for (auto global : module.getOps<ml_program::GlobalOp>()) {
    auto external = dyn_cast_if_present<ExternalAttr>(
        global.getValue().value_or(Attribute()));
    if (!external)
      continue;
    std::optional<SymbolTable::UseRange> uses =
        SymbolTable::getSymbolUses(global, module);
    bool stillRead =
        !uses || llvm::any_of(*uses, [&](SymbolTable::SymbolUse use) {
          auto load = dyn_cast<ml_program::GlobalLoadConstOp>(use.getUser());
          return !load || survives(load.getResult());
        });
    if (stillRead)
      copies.insert({global, external});
  }
  if (weightsPath.empty() && (!packedWeights.empty() || !copies.empty()))
    return module.emitError("qc-quantize needs weights-file=PATH: ")
           << packedWeights.size() << " packed weights and " << copies.size()
           << " weights read from files go there";
  for (auto [op, external] : copies) {
    auto global = cast<ml_program::GlobalOp>(op);
    if (failed(checkExternalBytes(external, global.getType(), global,
                                  global.getSymName())))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Rewriting
//===----------------------------------------------------------------------===//

void QuantizePass::rewrite(SymbolTable &symbols) {
  ModuleOp module = getOperation();
  MLIRContext *context = &getContext();
  Builder attrs(context);

  // The new globals, each after its source global (constants' after the
  // last global), named `<source>.<format>` for now.
  Operation *lastGlobal = nullptr;
  for (auto global : module.getOps<ml_program::GlobalOp>())
    lastGlobal = global;
  for (PackedWeight &packed : packedWeights) {
    OpBuilder builder(context);
    if (packed.source->global)
      builder.setInsertionPointAfter(packed.source->global);
    else if (lastGlobal)
      builder.setInsertionPointAfter(lastGlobal);
    else
      builder.setInsertionPointToStart(module.getBody());
    std::string name = packed.source->global
                           ? packed.source->name + "." + packed.formatName()
                           : packed.source->name;
    auto global = ml_program::GlobalOp::create(
        builder, packed.source->op->getLoc(), name, packed.type,
        /*is_mutable=*/false, ExternalAttr::get(context, weightsPath, 0),
        builder.getStringAttr("private"));
    symbols.insert(global, builder.getInsertionPoint());
    if (!packed.source->global)
      lastGlobal = global;
    global->setAttr("qc.source_weight",
                    attrs.getStringAttr(packed.source->name));
    global->setAttr("qc.format", attrs.getStringAttr(packed.formatName()));
    global->setAttr("qc.scheme", attrs.getStringAttr(packed.schemeName));
    if (packed.requested)
      global->setAttr("qc.fallback", attrs.getStringAttr(*packed.requested));
    if (!packed.method.empty())
      global->setAttr("qc.method", attrs.getStringAttr(packed.method));
    packed.global = global;
  }

  llvm::SetVector<Operation *> maybeDead;
  auto noteDead = [&](Value value) {
    if (Operation *def = value ? value.getDefiningOp() : nullptr)
      maybeDead.insert(def);
  };
  for (Projection &projection : projections) {
    linalg::MatmulOp matmul = projection.matmul;
    if (projection.keepFloat) {
      if (WeightSource *source = projection.source; source->global)
        source->global->setAttr("qc.keep_float", attrs.getUnitAttr());
      continue;
    }
    PackedWeight &packed = *projection.packed;
    OpBuilder builder(matmul);
    Location loc = matmul.getLoc();
    auto load = ml_program::GlobalLoadConstOp::create(
        builder, loc, packed.type,
        FlatSymbolRefAttr::get(packed.global.getSymNameAttr()));
    Value oldWeight = matmul.getDpsInputOperand(1)->get();
    if (packed.isFloat()) {
      matmul.getDpsInputOperand(1)->set(widenToF32(builder, loc, load));
      noteDead(oldWeight);
      continue;
    }
    Value init = matmul.getDpsInitOperand(0)->get();
    Value oldInput = matmul.getDpsInputOperand(0)->get();
    auto resultType = cast<RankedTensorType>(matmul.getResult(0).getType());
    const quantc::Scheme &chosen = packed.scheme;
    FloatAttr weightScale, inputScale;
    DynamicGranularityAttr dynamic;
    TypeAttr staticType;
    if (packed.storage == quantc::WeightStorage::FP8E4M3)
      weightScale = builder.getF32FloatAttr(packed.fp8Scale);
    if (chosen.activations == quantc::ActivationQuantization::DynamicPerToken)
      dynamic =
          DynamicGranularityAttr::get(context, DynamicGranularity::PerToken);
    if (projection.staticType)
      staticType = TypeAttr::get(projection.staticType);
    if (projection.inputScale)
      inputScale = builder.getF32FloatAttr(*projection.inputScale);
    // Read the input now: it may be the result of a projection replaced
    // above.
    Value input = oldInput;
    if (auto observer = input.getDefiningOp<ObserveOp>())
      input = observer.getInput();
    Value result =
        LinearOp::create(builder, loc, resultType, input, load, weightScale,
                         dynamic, staticType, inputScale);
    // The matmul accumulated into its init; add a non-zero one back.
    if (!projection.zeroInit)
      result = linalg::AddOp::create(builder, loc, TypeRange{resultType},
                                     ValueRange{result, init}, ValueRange{init})
                   .getResult(0);
    matmul.getResult(0).replaceAllUsesWith(result);
    matmul.erase();
    noteDead(oldInput);
    noteDead(oldWeight);
    if (projection.zeroInit)
      noteDead(init);
  }

  // Erase what the rewrite left unused: observers, loads, constants, the
  // zero fills of the matmuls' inits.
  while (!maybeDead.empty()) {
    Operation *op = maybeDead.pop_back_val();
    if (!isOpTriviallyDead(op))
      continue;
    for (Value operand : op->getOperands())
      noteDead(operand);
    op->erase();
  }

  // Globals nothing reads any more go: the sources of packed weights, and
  // external ones, which would otherwise tie the module to its checkpoint.
  llvm::StringSet<> freed;
  for (auto global :
       llvm::make_early_inc_range(module.getOps<ml_program::GlobalOp>())) {
    bool ours = llvm::any_of(packedWeights, [&](const PackedWeight &packed) {
      return packed.global == global;
    });
    bool external =
        isa_and_present<ExternalAttr>(global.getValue().value_or(Attribute()));
    bool source = sourceByOp.count(global);
    if (ours || !(external || source) ||
        !SymbolTable::symbolKnownUseEmpty(global, module))
      continue;
    freed.insert(global.getSymName());
    symbols.erase(global);
  }
  // A packed weight takes its source's name when it alone replaced it.
  for (PackedWeight &packed : packedWeights) {
    WeightSource *source = packed.source;
    if (!source->global || !freed.contains(source->name))
      continue;
    if (llvm::count_if(packedWeights, [&](const PackedWeight &other) {
          return other.source == source;
        }) != 1)
      continue;
    (void)symbols.rename(packed.global, source->name);
  }
}

//===----------------------------------------------------------------------===//
// The weights file
//===----------------------------------------------------------------------===//

double computeSqnrDb(const std::vector<float> &weights,
                     const std::vector<float> &decoded, bool &exact) {
  double signal = 0.0, noise = 0.0;
  for (size_t i = 0; i < weights.size(); ++i) {
    double w = weights[i];
    double error = w - static_cast<double>(decoded[i]);
    signal += w * w;
    noise += error * error;
  }
  exact = noise == 0.0 || signal == 0.0;
  return exact ? 0.0 : 10.0 * std::log10(signal / noise);
}

LogicalResult QuantizePass::packInto(PackedWeight &packed,
                                     std::vector<uint8_t> &blob) {
  std::vector<float> weights;
  if (failed(
          readFloats(*packed.source, packed.transpose, packed.global, weights)))
    return failure();
  // Plain variables: lambdas below capture them (structured bindings can
  // not be captured before C++20).
  int64_t rows = packed.packedShape().first;
  int64_t cols = packed.packedShape().second;
  blob.assign(packed.bytes, 0);
  std::vector<float> decoded(weights.size());
  bool packedOk = true;
  if (packed.prequantized) {
    ArrayRef<char> raw = packed.prequantized.getRawData();
    if (packed.prequantized.isSplat())
      std::fill(blob.begin(), blob.end(), static_cast<uint8_t>(raw[0]));
    else
      std::memcpy(blob.data(), raw.data(), blob.size());
    quantc::WeightTarget target =
        packed.storage == quantc::WeightStorage::Grouped
            ? quantc::WeightTarget::ofGrouped(packed.scheme.grouped)
            : quantc::WeightTarget::ofBlock(packed.format);
    if (!quantc::unpackWeights(target, blob.data(), rows, cols,
                               decoded.data()))
      return packed.global.emitOpError("cannot decode the ")
             << packed.method << " bytes of weight '" << packed.source->name
             << "' as " << packed.formatName();
    bool exact = false;
    double sqnr = computeSqnrDb(weights, decoded, exact);
    if (!exact)
      packed.sqnrDb = sqnr;
    return success();
  }
  switch (packed.storage) {
  case quantc::WeightStorage::Grouped:
    packedOk = quantc::packGrouped(weights.data(), rows, cols,
                                   packed.scheme.grouped, blob.data());
    if (packedOk)
      quantc::unpackGrouped(blob.data(), rows, cols, packed.scheme.grouped,
                            decoded.data());
    break;
  case quantc::WeightStorage::FP8E4M3:
    quantc::quantizeFP8E4M3(weights.data(), rows * cols, packed.fp8Scale,
                            blob.data());
    quantc::fp8ToFp32Row(blob.data(), decoded.data(), rows * cols,
                         quantc::FP8Kind::E4M3FN);
    for (float &value : decoded)
      value *= packed.fp8Scale;
    break;
  case quantc::WeightStorage::Block:
  case quantc::WeightStorage::Float: {
    // Rows are independent: chunks of about 64K weights run on the
    // context's threads, with the same bytes as one call.
    uint64_t rowBytes = packed.bytes / static_cast<uint64_t>(rows);
    int64_t chunk = std::max<int64_t>(1, (int64_t(1) << 16) / cols);
    int64_t chunks = (rows + chunk - 1) / chunk;
    std::atomic<bool> ok(true);
    parallelFor(&getContext(), 0, static_cast<size_t>(chunks), [&](size_t i) {
      int64_t first = static_cast<int64_t>(i) * chunk;
      int64_t count = std::min(chunk, rows - first);
      const float *in = weights.data() + first * cols;
      uint8_t *out = blob.data() + static_cast<uint64_t>(first) * rowBytes;
      if (quantc::quantizeRows(packed.format, in, out, count, cols, nullptr) !=
              static_cast<uint64_t>(count) * rowBytes ||
          !quantc::dequantizeRows(packed.format, out,
                                  decoded.data() + first * cols, count, cols))
        ok = false;
    });
    packedOk = ok;
    break;
  }
  }
  if (!packedOk)
    return packed.global.emitOpError("cannot encode weight '")
           << packed.source->name << "' as " << packed.formatName();
  bool exact = false;
  double sqnr = computeSqnrDb(weights, decoded, exact);
  if (!exact)
    packed.sqnrDb = sqnr;
  return success();
}

LogicalResult
QuantizePass::writeWeights(ArrayRef<ml_program::GlobalOp> layout) {
  ModuleOp module = getOperation();
  auto stream = quantc::io::AtomicFileOutputStream::create(weightsPath);
  if (!stream)
    return module.emitError("qc-quantize: cannot write weights-file: ")
           << stream.error();
  DenseMap<Operation *, PackedWeight *> packedByGlobal;
  for (PackedWeight &packed : packedWeights)
    packedByGlobal[packed.global] = &packed;
  std::vector<uint8_t> blob;
  for (ml_program::GlobalOp global : layout) {
    auto placed = cast<ExternalAttr>(*global.getValue());
    if (quantc::io::Status status =
            (*stream)->writeZeros(placed.getOffset() - (*stream)->tell());
        !status)
      return module.emitError("qc-quantize: ") << status.error();
    const uint8_t *data;
    size_t size;
    if (PackedWeight *packed = packedByGlobal.lookup(global)) {
      if (failed(packInto(*packed, blob)))
        return failure();
      data = blob.data();
      size = blob.size();
    } else {
      ExternalAttr original = copies.lookup(global);
      FailureOr<const quantc::io::MappedFile *> file =
          openFile(original.getPath(), global);
      if (failed(file))
        return failure();
      data = (*file)->data() + original.getOffset();
      size = *getStoredBytes(global.getType());
    }
    if (quantc::io::Status status = (*stream)->write(data, size); !status)
      return module.emitError("qc-quantize: ") << status.error();
  }
  if (quantc::io::Status status = (*stream)->commit(); !status)
    return module.emitError("qc-quantize: ") << status.error();
  return success();
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

void QuantizePass::runOnOperation() {
  ModuleOp module = getOperation();
  MLIRContext *context = &getContext();
  // A pass instance may run on several modules: nothing carries over.
  overrideList.clear();
  keepFloatGlobs.clear();
  weightsPath.clear();
  sources.clear();
  sourceByOp.clear();
  packedWeights.clear();
  packedByKey.clear();
  projections.clear();
  files.clear();
  copies.clear();
  floatBytes = 0;
  if (failed(parseOptions()) || failed(collectProjections()))
    return signalPassFailure();

  // What the module read before: every loaded global, and the constant
  // weights of projections.
  for (auto global : module.getOps<ml_program::GlobalOp>())
    if (global.getValue() && !SymbolTable::symbolKnownUseEmpty(global, module))
      if (std::optional<uint64_t> bytes = getStoredBytes(global.getType()))
        floatBytes += *bytes;
  for (WeightSource &source : sources)
    if (!source.global)
      floatBytes += *getStoredBytes(source.type);

  // Every projection is planned before giving up, so that one run reports
  // every tensor calibration missed.
  bool planFailed = false;
  for (Projection &projection : projections)
    if (failed(planProjection(projection)))
      planFailed = true;
  for (const Override &entry : overrideList)
    if (!entry.used) {
      module.emitError("qc-quantize: override '")
          << entry.text << "' matches no projection weight";
      planFailed = true;
    }
  if (planFailed)
    return signalPassFailure();

  if (failed(planCopies()))
    return signalPassFailure();

  size_t quantized = 0, keptFloat = 0;
  for (Projection &projection : projections) {
    if (projection.keepFloat)
      ++keptFloat;
    else if (!projection.packed->isFloat())
      ++quantized;
  }
  if (projections.empty())
    module.emitWarning("qc-quantize: the module has no projection "
                       "(linalg.matmul over a constant weight) to quantize");

  Builder builder(context);
  for (auto [global, original] : copies)
    global->setAttr("qc.format",
                    builder.getStringAttr(getFormatName(
                        cast<ml_program::GlobalOp>(global).getType())));
  SymbolTable symbols(module);
  rewrite(symbols);
  // Prequantized bytes are consumed; a float source that survives (a tied
  // embedding) is float again.
  for (auto global : module.getOps<ml_program::GlobalOp>())
    global->removeAttr("qc.prequantized");

  // Layout: every global the file holds, 64-byte aligned, in module order.
  SmallVector<ml_program::GlobalOp> layout;
  uint64_t cursor = 0, packedBytes = 0, quantizedParams = 0;
  for (auto global : module.getOps<ml_program::GlobalOp>()) {
    bool packed = llvm::any_of(packedWeights, [&](const PackedWeight &p) {
      return p.global == global;
    });
    if (!packed && !copies.count(global)) {
      if (global.getValue() &&
          !SymbolTable::symbolKnownUseEmpty(global, module))
        if (std::optional<uint64_t> bytes = getStoredBytes(global.getType()))
          packedBytes += *bytes; // inline dense weights
      continue;
    }
    uint64_t bytes = *getStoredBytes(global.getType());
    cursor = alignTo64(cursor);
    global.setValueAttr(ExternalAttr::get(context, weightsPath, cursor));
    layout.push_back(global);
    cursor += bytes;
    packedBytes += bytes;
  }
  size_t fallbacks = 0;
  for (PackedWeight &packed : packedWeights) {
    if (packed.requested)
      ++fallbacks;
    if (!packed.isFloat())
      quantizedParams += static_cast<uint64_t>(packed.packedShape().first *
                                               packed.packedShape().second);
  }

  // The pass manager verifies only after the pass, when the file would
  // already be in place: verify first, so that a file appears only beside
  // valid IR.
  if (failed(verify(module)))
    return signalPassFailure();
  if (!layout.empty() && failed(writeWeights(layout)))
    return signalPassFailure();

  for (PackedWeight &packed : packedWeights)
    if (packed.sqnrDb)
      packed.global->setAttr("qc.sqnr_db",
                             builder.getF64FloatAttr(*packed.sqnrDb));
  SmallVector<NamedAttribute> summary = {
      builder.getNamedAttr("scheme", builder.getStringAttr(scheme.name())),
      builder.getNamedAttr(
          "float_bytes",
          builder.getI64IntegerAttr(static_cast<int64_t>(floatBytes))),
      builder.getNamedAttr(
          "packed_bytes",
          builder.getI64IntegerAttr(static_cast<int64_t>(packedBytes))),
      builder.getNamedAttr("file_bytes", builder.getI64IntegerAttr(
                                             static_cast<int64_t>(cursor))),
      builder.getNamedAttr(
          "quantized_params",
          builder.getI64IntegerAttr(static_cast<int64_t>(quantizedParams))),
      builder.getNamedAttr("quantized", builder.getI64IntegerAttr(
                                            static_cast<int64_t>(quantized))),
      builder.getNamedAttr("fallbacks", builder.getI64IntegerAttr(
                                            static_cast<int64_t>(fallbacks))),
      builder.getNamedAttr("kept_float", builder.getI64IntegerAttr(
                                             static_cast<int64_t>(keptFloat))),
      builder.getNamedAttr(
          "prequantized",
          builder.getI64IntegerAttr(static_cast<int64_t>(llvm::count_if(
              packedWeights,
              [](const PackedWeight &p) { return !p.method.empty(); })))),
  };
  if (!weightsPath.empty())
    summary.push_back(builder.getNamedAttr("weights_file",
                                           builder.getStringAttr(weightsPath)));
  module->setAttr("qc.quantized", builder.getDictionaryAttr(summary));
}

} // namespace
