//===- Projections.cpp - the projections of a model and their weights -----===//

#include "Projections.h"

#include "quantc/Numerics/Float.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"

#include <cstring>

using namespace mlir;
using namespace mlir::qc;

SmallVector<StringRef> mlir::qc::splitList(StringRef text) {
  SmallVector<StringRef> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || (text[i] == ',' && depth == 0)) {
      StringRef part = text.slice(start, i).trim();
      if (!part.empty())
        parts.push_back(part);
      start = i + 1;
      continue;
    }
    if (text[i] == '{')
      ++depth;
    else if (text[i] == '}' && depth > 0)
      --depth;
  }
  return parts;
}

Value mlir::qc::getWidenedSource(Value value) {
  auto generic = value.getDefiningOp<linalg::GenericOp>();
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumDpsInits() != 1 || !generic.hasPureTensorSemantics() ||
      generic.getNumParallelLoops() != generic.getNumLoops() ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return {};
  Block &body = generic.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto extend = yield.getOperand(0).getDefiningOp<arith::ExtFOp>();
  if (body.getOperations().size() != 2 || !extend ||
      extend.getIn() != body.getArgument(0))
    return {};
  return generic.getDpsInputOperand(0)->get();
}

int64_t ProjectionSite::rows() const {
  return weight.type.getDimSize(transposed ? 1 : 0);
}
int64_t ProjectionSite::cols() const {
  return weight.type.getDimSize(transposed ? 0 : 1);
}

static bool isFloatElement(Type type) {
  return type.isF32() || type.isF16() || type.isBF16();
}

WeightRef mlir::qc::getWeightRef(Value value, SymbolTable &symbols) {
  if (auto observer = value.getDefiningOp<ObserveOp>())
    value = observer.getInput();
  if (Value narrow = getWidenedSource(value))
    value = narrow;
  WeightRef ref;
  Operation *def = value.getDefiningOp();
  if (auto load = dyn_cast_if_present<ml_program::GlobalLoadConstOp>(def)) {
    auto global = symbols.lookup<ml_program::GlobalOp>(
        load.getGlobal().getRootReference());
    if (!global || global.getIsMutable())
      return {};
    Attribute init = global.getValue().value_or(Attribute());
    if (!isa_and_present<ExternalAttr, DenseElementsAttr>(init))
      return {};
    ref.global = global;
    ref.name = global.getSymName().str();
    ref.type = dyn_cast<RankedTensorType>(global.getType());
  } else if (auto constant = dyn_cast_if_present<arith::ConstantOp>(def)) {
    if (!isa<DenseElementsAttr>(constant.getValue()))
      return {};
    ref.constant = constant;
    ref.type = dyn_cast<RankedTensorType>(constant.getType());
  } else {
    return {};
  }
  if (!ref.type || !ref.type.hasStaticShape() ||
      !isFloatElement(ref.type.getElementType()))
    return {};
  return ref;
}

/// True when a load's value reaches something other than matmul weights.
static bool hasNonProjectionUse(Value value) {
  for (OpOperand &use : value.getUses()) {
    Operation *owner = use.getOwner();
    if (auto observer = dyn_cast<ObserveOp>(owner)) {
      if (hasNonProjectionUse(observer.getOutput()))
        return true;
      continue;
    }
    if (owner->getNumResults() == 1 &&
        getWidenedSource(owner->getResult(0)) == use.get()) {
      if (hasNonProjectionUse(owner->getResult(0)))
        return true;
      continue;
    }
    if (!(isa<linalg::MatmulOp>(owner) && use.getOperandNumber() == 1))
      return true;
  }
  return false;
}

std::vector<ProjectionSite> mlir::qc::findProjections(ModuleOp module) {
  std::vector<ProjectionSite> sites;
  SymbolTable symbols(module);
  MLIRContext *context = module.getContext();
  AffineExpr m, n, k;
  bindDims(context, m, n, k);
  auto map = [&](ArrayRef<AffineExpr> results) {
    return AffineMap::get(3, 0, results, context);
  };
  const SmallVector<AffineMap> transposedB = {map({m, k}), map({n, k}),
                                              map({m, n})};
  const SmallVector<AffineMap> plain = {map({m, k}), map({k, n}), map({m, n})};
  module.walk([&](linalg::MatmulOp matmul) {
    if (!matmul.hasPureTensorSemantics())
      return;
    SmallVector<AffineMap> maps = matmul.getIndexingMapsArray();
    ProjectionSite site;
    site.matmul = matmul;
    if (maps == transposedB)
      site.transposed = false;
    else if (maps == plain)
      site.transposed = true;
    else
      return;
    Value input = matmul.getDpsInputOperand(0)->get();
    if (!cast<RankedTensorType>(input.getType()).getElementType().isF32())
      return;
    if (auto observer = input.getDefiningOp<ObserveOp>())
      input = observer.getInput();
    site.input = input;
    site.weight = getWeightRef(matmul.getDpsInputOperand(1)->get(), symbols);
    if (!site.weight.type || site.weight.type.getRank() != 2)
      return;
    if (!site.weight.global) {
      auto function = matmul->getParentOfType<func::FuncOp>();
      unsigned index = 0;
      function.walk([&](linalg::MatmulOp other) {
        if (other == matmul)
          site.weight.name = (function.getSymName() + ".matmul_" +
                              Twine(index) + ".weight")
                                 .str();
        ++index;
      });
    }
    site.names.push_back(site.weight.name);
    sites.push_back(std::move(site));
  });

  // A classifier reading the token embedding answers to output.weight, as
  // in qc-quantize.
  if (symbols.lookup("output.weight"))
    return sites;
  for (ProjectionSite &site : sites) {
    if (!site.weight.global)
      continue;
    std::optional<SymbolTable::UseRange> uses =
        SymbolTable::getSymbolUses(site.weight.global, module);
    if (uses && llvm::any_of(*uses, [](SymbolTable::SymbolUse use) {
          auto load = dyn_cast<ml_program::GlobalLoadConstOp>(use.getUser());
          return !load || hasNonProjectionUse(load.getResult());
        }))
      site.names.push_back("output.weight");
  }
  return sites;
}

std::vector<InputGroup> mlir::qc::groupByInput(ArrayRef<ProjectionSite *> sites) {
  std::vector<InputGroup> groups;
  DenseMap<Value, size_t> byInput;
  for (ProjectionSite *site : sites) {
    auto [it, inserted] = byInput.try_emplace(site->input, groups.size());
    if (inserted) {
      groups.emplace_back();
      groups.back().input = site->input;
      groups.back().cols = site->cols();
    }
    groups[it->second].sites.push_back(site);
  }
  return groups;
}

//===----------------------------------------------------------------------===//
// Weight values
//===----------------------------------------------------------------------===//

FailureOr<std::vector<float>> WeightStore::read(const WeightRef &weight,
                                                Operation *where) {
  const int64_t count = weight.type.getNumElements();
  Type element = weight.type.getElementType();
  std::vector<float> values(static_cast<size_t>(count));
  WeightRef ref = weight;
  Attribute init = ref.global ? ref.global.getValue().value_or(Attribute())
                              : ref.constant.getValue();
  if (auto external = dyn_cast<ExternalAttr>(init)) {
    std::string path = external.getPath().str();
    auto it = files.find(path);
    if (it == files.end()) {
      auto mapped = quantc::io::MappedFile::open(path);
      if (!mapped)
        return where->emitOpError("cannot read weight '")
               << weight.name << "': " << mapped.error();
      it = files.emplace(path, *mapped).first;
    }
    const uint64_t elementBytes = element.getIntOrFloatBitWidth() / 8;
    const uint64_t end = external.getOffset() + count * elementBytes;
    if (end < external.getOffset() || end > it->second->size())
      return where->emitOpError("weight '")
             << weight.name << "' needs bytes [" << external.getOffset()
             << ", " << end << ") of '" << path << "', which has "
             << it->second->size();
    const uint8_t *bytes = it->second->data() + external.getOffset();
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
    return values;
  }
  auto dense = cast<DenseElementsAttr>(init);
  size_t i = 0;
  for (APFloat value : dense.getValues<APFloat>()) {
    bool lost;
    value.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
    values[i++] = value.convertToFloat();
  }
  return values;
}

FailureOr<std::vector<float>>
WeightStore::readRows(const ProjectionSite &site) {
  FailureOr<std::vector<float>> stored = read(site.weight, site.matmul);
  if (failed(stored) || !site.transposed)
    return stored;
  const int64_t rows = site.rows(), cols = site.cols();
  std::vector<float> out(stored->size());
  for (int64_t k = 0; k < cols; ++k)
    for (int64_t n = 0; n < rows; ++n)
      out[n * cols + k] = (*stored)[k * rows + n];
  return out;
}

void WeightStore::write(WeightRef &weight, ArrayRef<float> values) {
  Type element = weight.type.getElementType();
  DenseElementsAttr attr;
  if (element.isF32()) {
    attr = DenseElementsAttr::get(weight.type, values);
  } else {
    const llvm::fltSemantics &semantics =
        cast<FloatType>(element).getFloatSemantics();
    SmallVector<APFloat> converted;
    converted.reserve(values.size());
    for (float value : values) {
      APFloat narrow(value);
      bool lost;
      narrow.convert(semantics, APFloat::rmNearestTiesToEven, &lost);
      converted.push_back(narrow);
    }
    attr = DenseElementsAttr::get(weight.type, converted);
  }
  if (weight.global)
    weight.global.setValueAttr(attr);
  else
    weight.constant.setValueAttr(attr);
}

void WeightStore::writeRows(ProjectionSite &site, ArrayRef<float> rows) {
  if (!site.transposed) {
    write(site.weight, rows);
    return;
  }
  const int64_t n = site.rows(), k = site.cols();
  std::vector<float> stored(rows.size());
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c)
      stored[c * n + r] = rows[r * k + c];
  write(site.weight, stored);
}

//===----------------------------------------------------------------------===//
// Schemes
//===----------------------------------------------------------------------===//

FailureOr<SchemeSelector> SchemeSelector::parse(StringRef scheme,
                                                StringRef keepFloat,
                                                StringRef overrides,
                                                std::string &error) {
  SchemeSelector selector;
  if (scheme.empty()) {
    error = "needs a scheme (scheme=...): " + quantc::describeSchemes();
    return failure();
  }
  std::optional<quantc::Scheme> parsed = quantc::parseScheme(scheme, error);
  if (!parsed)
    return failure();
  selector.scheme = *parsed;
  for (StringRef text : splitList(keepFloat)) {
    llvm::Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(text);
    if (!glob) {
      error = ("keep-float glob '" + text + "': " +
               llvm::toString(glob.takeError()))
                  .str();
      return failure();
    }
    selector.keepFloat.push_back(std::move(*glob));
  }
  for (StringRef text : splitList(overrides)) {
    auto [pattern, name] = text.rsplit('=');
    pattern = pattern.trim();
    name = name.trim();
    if (pattern.empty() || name.empty() || !text.contains('=')) {
      error = ("override '" + text + "' is not GLOB=SCHEME").str();
      return failure();
    }
    llvm::Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(pattern);
    if (!glob) {
      error = ("override '" + text + "': " + llvm::toString(glob.takeError()))
                  .str();
      return failure();
    }
    std::string schemeError;
    std::optional<quantc::Scheme> overrideScheme =
        quantc::parseScheme(name, schemeError);
    if (!overrideScheme) {
      error = ("override '" + text + "': " + schemeError).str();
      return failure();
    }
    selector.overrides.emplace_back(std::move(*glob), *overrideScheme);
  }
  return selector;
}

const quantc::Scheme *
SchemeSelector::select(const ProjectionSite &site) const {
  auto matches = [&](const llvm::GlobPattern &glob) {
    return llvm::any_of(site.names,
                        [&](const std::string &name) { return glob.match(name); });
  };
  for (const auto &[glob, chosen] : overrides)
    if (matches(glob))
      return &chosen;
  if (llvm::any_of(keepFloat, matches))
    return nullptr;
  return &scheme;
}

std::optional<quantc::WeightTarget>
mlir::qc::getWeightTarget(const quantc::Scheme &scheme, int64_t cols) {
  if (scheme.weights == quantc::WeightStorage::Grouped)
    return quantc::WeightTarget::ofGrouped(scheme.grouped);
  if (scheme.weights != quantc::WeightStorage::Block)
    return std::nullopt;
  quantc::Format resolved =
      quantc::resolveRowFormat(scheme.format, static_cast<uint64_t>(cols));
  if (!quantc::getFormatInfo(resolved).isBlockQuantized())
    return std::nullopt;
  quantc::WeightTarget target = quantc::WeightTarget::ofBlock(resolved);
  if (!target.admits(cols))
    return std::nullopt;
  return target;
}

//===----------------------------------------------------------------------===//
// Scale folding
//===----------------------------------------------------------------------===//

/// True when `arg`'s only use starts a chain of single-use arith.mulf ending
/// at the body's yield: the op's result is linear in `arg`, a plain factor.
static bool isPlainFactor(BlockArgument arg) {
  if (!arg.hasOneUse())
    return false;
  Operation *user = *arg.getUsers().begin();
  while (isa<arith::MulFOp>(user)) {
    Value result = user->getResult(0);
    if (!result.hasOneUse())
      return false;
    user = *result.getUsers().begin();
  }
  return isa<linalg::YieldOp>(user);
}

/// The value's users, looking through qc.observe.
static void collectUsers(Value value, SmallVectorImpl<Operation *> &users) {
  for (Operation *user : value.getUsers()) {
    if (auto observer = dyn_cast<ObserveOp>(user))
      collectUsers(observer.getOutput(), users);
    else
      users.push_back(user);
  }
}

ScaleFold mlir::qc::findScaleFold(Value input,
                                  ArrayRef<linalg::MatmulOp> readers,
                                  SymbolTable &symbols) {
  ScaleFold fold;
  SmallVector<Operation *> users;
  collectUsers(input, users);
  for (Operation *user : users)
    if (!llvm::is_contained(readers, user)) {
      fold.reason = ("the input is also read by '" +
                     user->getName().getStringRef() + "'")
                        .str();
      return fold;
    }
  auto generic = input.getDefiningOp<linalg::GenericOp>();
  if (!generic) {
    Operation *def = input.getDefiningOp();
    fold.reason = def ? ("the input is produced by '" +
                         def->getName().getStringRef() +
                         "', not an elementwise linalg.generic")
                            .str()
                      : std::string("the input is a function argument");
    return fold;
  }
  const int64_t rank = generic.getNumLoops();
  if (!generic.hasPureTensorSemantics() || generic.getNumDpsInits() != 1 ||
      generic.getNumResults() != 1 ||
      generic.getNumParallelLoops() != generic.getNumLoops() ||
      !generic.getIndexingMapMatchingResult(cast<OpResult>(input))
           .isIdentity()) {
    fold.reason = "the input's producer is not an elementwise linalg.generic";
    return fold;
  }
  MLIRContext *context = generic.getContext();
  AffineMap channel = AffineMap::get(rank, 0, getAffineDimExpr(rank - 1, context));
  for (OpOperand *operand : generic.getDpsInputOperands()) {
    AffineMap map = generic.getMatchingIndexingMap(operand);
    BlockArgument arg = generic.getMatchingBlockArgument(operand);
    if (!isPlainFactor(arg))
      continue;
    Value value = operand->get();
    if (map == channel) {
      WeightRef norm = getWeightRef(value, symbols);
      if (!norm.type || norm.type.getRank() != 1)
        continue;
      // The constant must feed this op alone, or the scale would leak.
      Value loaded = value;
      if (Value narrow = getWidenedSource(loaded))
        loaded = narrow;
      if (!loaded.hasOneUse() || !value.hasOneUse())
        continue;
      if (norm.global) {
        std::optional<SymbolTable::UseRange> uses = SymbolTable::getSymbolUses(
            norm.global, generic->getParentOfType<ModuleOp>());
        if (!uses || std::distance(uses->begin(), uses->end()) != 1)
          continue;
      }
      fold.kind = ScaleFold::Kind::NormWeight;
      fold.norm = norm;
      return fold;
    }
    if (map.isIdentity()) {
      auto producer = value.getDefiningOp<linalg::MatmulOp>();
      if (!producer || !value.hasOneUse())
        continue;
      fold.kind = ScaleFold::Kind::ProducerRows;
      fold.producer = producer;
      return fold;
    }
  }
  fold.reason = "its producer multiplies by neither a per-channel constant "
                "nor a projection's output";
  return fold;
}

//===----------------------------------------------------------------------===//
// Weight edits
//===----------------------------------------------------------------------===//

static Operation *getOwner(WeightRef weight) {
  return weight.global ? weight.global.getOperation()
                       : weight.constant.getOperation();
}

FailureOr<std::vector<float> *> WeightEdits::rows(ProjectionSite &site) {
  Operation *owner = getOwner(site.weight);
  auto it = edits.find(owner);
  if (it == edits.end()) {
    FailureOr<std::vector<float>> values = store.readRows(site);
    if (failed(values))
      return failure();
    it = edits.emplace(owner, Edit{site.weight, &site, std::move(*values)})
             .first;
  }
  return &it->second.values;
}

FailureOr<std::vector<float> *> WeightEdits::vector(const WeightRef &weight,
                                                    Operation *where) {
  Operation *owner = getOwner(weight);
  auto it = edits.find(owner);
  if (it == edits.end()) {
    FailureOr<std::vector<float>> values = store.read(weight, where);
    if (failed(values))
      return failure();
    it = edits.emplace(owner, Edit{weight, nullptr, std::move(*values)}).first;
  }
  return &it->second.values;
}

void WeightEdits::commit() {
  for (auto &[owner, edit] : edits) {
    if (edit.site)
      WeightStore::writeRows(*edit.site, edit.values);
    else
      WeightStore::write(edit.weight, edit.values);
  }
  edits.clear();
}

bool mlir::qc::isTiedWeight(const ProjectionSite &site) {
  return llvm::is_contained(site.names, "output.weight") &&
         site.weight.name != "output.weight";
}

LogicalResult mlir::qc::applyInputScale(const InputGroup &group,
                                        ArrayRef<float> scales,
                                        const ScaleFold &fold,
                                        std::vector<ProjectionSite> &sites,
                                        WeightEdits &edits) {
  const int64_t cols = group.cols;
  for (ProjectionSite *site : group.sites) {
    FailureOr<std::vector<float> *> rows = edits.rows(*site);
    if (failed(rows))
      return failure();
    for (int64_t r = 0, n = site->rows(); r < n; ++r)
      for (int64_t j = 0; j < cols; ++j)
        (**rows)[r * cols + j] *= scales[j];
  }
  switch (fold.kind) {
  case ScaleFold::Kind::NormWeight: {
    FailureOr<std::vector<float> *> norm =
        edits.vector(fold.norm, group.sites.front()->matmul);
    if (failed(norm))
      return failure();
    for (int64_t j = 0; j < cols; ++j)
      (**norm)[j] /= scales[j];
    return success();
  }
  case ScaleFold::Kind::ProducerRows: {
    auto producer = llvm::find_if(sites, [&](const ProjectionSite &site) {
      return site.matmul == fold.producer;
    });
    if (producer == sites.end() || producer->rows() != cols)
      return group.sites.front()->matmul.emitOpError(
          "cannot fold its input scale into a producer that is not a "
          "projection of a constant weight");
    FailureOr<std::vector<float> *> rows = edits.rows(*producer);
    if (failed(rows))
      return failure();
    const int64_t k = producer->cols();
    for (int64_t j = 0; j < cols; ++j)
      for (int64_t c = 0; c < k; ++c)
        (**rows)[j * k + c] /= scales[j];
    return success();
  }
  case ScaleFold::Kind::None:
    break;
  }
  return group.sites.front()->matmul.emitOpError(
      "has no op to fold an input scale into: ")
         << fold.reason;
}
