//===- BindExternalWeights.cpp - weights as views of mapped files ---------===//

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"

#include "quantc/Transforms/Passes.h"

namespace mlir::qc {
QUANTC_BEGIN_GENERATED_CODE
#define GEN_PASS_DEF_QCBINDEXTERNALWEIGHTS
#include "quantc/Transforms/Passes.h.inc"
QUANTC_END_GENERATED_CODE
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// Bytes of one element of a weight's stored type (f32/f16/bf16/iN).
std::optional<uint64_t> getElementBytes(Type type) {
  if (!type.isIntOrFloat() || type.getIntOrFloatBitWidth() % 8 != 0)
    return std::nullopt;
  return type.getIntOrFloatBitWidth() / 8;
}

struct BindExternalWeightsPass
    : public qc::impl::QCBindExternalWeightsBase<BindExternalWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    bool failed = false;
    for (auto function : module.getOps<func::FuncOp>())
      if (!function.isExternal() && failed_(bindFunction(function, symbols)))
        failed = true;
    if (failed)
      return signalPassFailure();
    // Drop the globals nothing loads any more.
    for (auto global :
         llvm::make_early_inc_range(module.getOps<ml_program::GlobalOp>()))
      if (SymbolTable::symbolKnownUseEmpty(global, module))
        global.erase();
  }

  static bool failed_(LogicalResult result) { return failed(result); }

  LogicalResult bindFunction(func::FuncOp function, SymbolTable &symbols) {
    SmallVector<ml_program::GlobalLoadConstOp> loads;
    WalkResult walk = function.walk([&](Operation *op) {
      if (auto load = dyn_cast<ml_program::GlobalLoadConstOp>(op)) {
        loads.push_back(load);
        return WalkResult::advance();
      }
      if (isa<ml_program::GlobalLoadOp, ml_program::GlobalStoreOp>(op)) {
        op->emitOpError("reads or writes a mutable global, which "
                        "qc-bind-external-weights cannot bind");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
    if (loads.empty())
      return success();

    // One argument per file, in first-use order; track how far each file
    // is read.
    SmallVector<StringRef> files;
    SmallVector<uint64_t> bytesRead;
    auto fileIndex = [&](StringRef path) -> unsigned {
      auto it = llvm::find(files, path);
      if (it != files.end())
        return it - files.begin();
      files.push_back(path);
      bytesRead.push_back(0);
      return files.size() - 1;
    };
    struct Binding {
      ml_program::GlobalLoadConstOp load;
      unsigned file;
      uint64_t offset;
    };
    SmallVector<Binding> bindings;
    for (auto load : loads) {
      auto global = symbols.lookup<ml_program::GlobalOp>(
          load.getGlobal().getRootReference());
      if (!global)
        return load.emitOpError("loads an unknown global ") << load.getGlobal();
      if (global.getIsMutable())
        return load.emitOpError("loads mutable global @")
               << global.getSymName() << ", which cannot be bound to a file";
      Attribute value = global.getValue().value_or(Attribute());
      if (auto elements = dyn_cast_if_present<ElementsAttr>(value)) {
        OpBuilder builder(load);
        auto constant = arith::ConstantOp::create(
            builder, load.getLoc(), load.getType(), cast<TypedAttr>(elements));
        load.replaceAllUsesWith(constant.getResult());
        load.erase();
        continue;
      }
      auto external = dyn_cast_if_present<ExternalAttr>(value);
      if (!external)
        return load.emitOpError("loads @")
               << global.getSymName()
               << ", whose value is neither a #qc.external reference nor "
                  "elements";
      auto tensorType = dyn_cast<RankedTensorType>(load.getType());
      std::optional<uint64_t> elementBytes =
          tensorType ? getElementBytes(tensorType.getElementType())
                     : std::nullopt;
      if (!tensorType || !tensorType.hasStaticShape() || !elementBytes)
        return load.emitOpError("loads @")
               << global.getSymName()
               << " as a type that is not a static tensor of whole-byte "
                  "elements: "
               << load.getType();
      unsigned file = fileIndex(external.getPath());
      uint64_t end = external.getOffset() +
                     static_cast<uint64_t>(tensorType.getNumElements()) *
                         *elementBytes;
      bytesRead[file] = std::max(bytesRead[file], end);
      bindings.push_back({load, file, external.getOffset()});
    }
    if (bindings.empty())
      return success();

    if (std::optional<SymbolTable::UseRange> uses =
            SymbolTable::getSymbolUses(function, function->getParentOp());
        uses && !uses->empty())
      return function.emitOpError(
          "has callers; qc-bind-external-weights adds weight arguments and "
          "can only bind entry points");

    MLIRContext *context = function.getContext();
    Builder builder(context);
    auto bytesType = MemRefType::get({ShapedType::kDynamic},
                                     IntegerType::get(context, 8));
    SmallVector<unsigned> positions(files.size(), 0);
    SmallVector<Type> types(files.size(), bytesType);
    SmallVector<DictionaryAttr> attrs;
    SmallVector<Location> locs(files.size(), function.getLoc());
    for (auto [path, bytes] : llvm::zip(files, bytesRead))
      attrs.push_back(builder.getDictionaryAttr(
          {builder.getNamedAttr("qc.weight_file", builder.getStringAttr(path)),
           builder.getNamedAttr("qc.weight_bytes",
                                builder.getI64IntegerAttr(bytes))}));
    if (failed(function.insertArguments(positions, types, attrs, locs)))
      return function.emitOpError("cannot take weight-file arguments");

    for (Binding &binding : bindings) {
      OpBuilder rewriter(binding.load);
      Location loc = binding.load.getLoc();
      auto tensorType = cast<RankedTensorType>(binding.load.getType());
      auto viewType =
          MemRefType::get(tensorType.getShape(), tensorType.getElementType());
      Value offset = arith::ConstantIndexOp::create(
          rewriter, loc, static_cast<int64_t>(binding.offset));
      Value view = memref::ViewOp::create(
          rewriter, loc, viewType, function.getArgument(binding.file), offset,
          ValueRange{});
      auto tensor = bufferization::ToTensorOp::create(
          rewriter, loc, tensorType, view, /*restrict=*/true,
          /*writable=*/false);
      binding.load.replaceAllUsesWith(tensor.getResult());
      binding.load.erase();
    }
    return success();
  }
};
} // namespace
