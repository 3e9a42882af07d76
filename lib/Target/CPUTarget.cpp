//===- CPUTarget.cpp - compile an imported model for the host CPU ---------===//

#include "quantc/Target/CPUTarget.h"

#include "quantc/Conversion/Passes.h"
#include "quantc/Pipelines/Pipelines.h"
#include "quantc/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <cstdio>
#include <unistd.h>

#ifndef QUANTC_CLANG
#define QUANTC_CLANG "clang"
#endif

using namespace mlir;

namespace quantc {

using io::makeError;
using runtime::ModelInterface;
using runtime::Result;
using runtime::Status;

namespace {

constexpr const char *kEntry = "forward";
constexpr const char *kCInterfaceEntry = "_mlir_ciface_forward";

/// Collects diagnostics so that a failed pass reports them as one error.
class DiagnosticCapture {
public:
  explicit DiagnosticCapture(MLIRContext *context)
      : handler(context, [this](Diagnostic &diagnostic) {
          if (diagnostic.getSeverity() == DiagnosticSeverity::Error) {
            llvm::raw_string_ostream os(messages);
            if (!messages.empty())
              os << "\n";
            os << diagnostic.getLocation() << ": " << diagnostic;
          }
          return success();
        }) {}
  std::string take() { return std::move(messages); }

private:
  std::string messages;
  ScopedDiagnosticHandler handler;
};

/// The importer's signature: (tensor<?xi32>, index, tensor<LxSxKVxf32> x2,
/// tensor<?xVxf32>).
Status checkEntrySignature(func::FuncOp entry) {
  FunctionType type = entry.getFunctionType();
  auto fail = [&] {
    std::string text;
    llvm::raw_string_ostream os(text);
    os << type;
    return makeError(
        "@forward has type ", text,
        "; expected (tensor<?xi32>, index, tensor<LxSxKVxf32>, "
        "tensor<LxSxKVxf32>, tensor<?xVxf32>) as `quantc import` writes it");
  };
  if (type.getNumInputs() != 5)
    return fail();
  auto tokens = dyn_cast<RankedTensorType>(type.getInput(0));
  auto keys = dyn_cast<RankedTensorType>(type.getInput(2));
  auto values = dyn_cast<RankedTensorType>(type.getInput(3));
  auto logits = dyn_cast<RankedTensorType>(type.getInput(4));
  if (!tokens || tokens.getRank() != 1 || !tokens.getElementType().isInteger(32) ||
      !type.getInput(1).isIndex() || !keys || keys != values ||
      keys.getRank() != 3 || !keys.hasStaticShape() ||
      !keys.getElementType().isF32() || !logits || logits.getRank() != 2 ||
      logits.isDynamicDim(1) || !logits.getElementType().isF32())
    return fail();
  return Status::success();
}

Result<ModelInterface> describeInterface(ModuleOp module, func::FuncOp entry) {
  ModelInterface interface;
  FunctionType type = entry.getFunctionType();
  unsigned files = 0;
  for (unsigned i = 0; i < entry.getNumArguments(); ++i) {
    auto path = entry.getArgAttrOfType<StringAttr>(i, "qc.weight_file");
    if (!path)
      break;
    auto bytes = entry.getArgAttrOfType<IntegerAttr>(i, "qc.weight_bytes");
    interface.weightFiles.push_back(
        {path.str(), bytes ? bytes.getValue().getZExtValue() : 0});
    ++files;
  }
  auto keys = cast<RankedTensorType>(type.getInput(files + 2));
  auto logits = cast<RankedTensorType>(type.getInput(files + 4));
  interface.layers = keys.getDimSize(0);
  interface.contextLength = keys.getDimSize(1);
  interface.kvDim = keys.getDimSize(2);
  interface.vocabSize = logits.getDimSize(1);
  if (auto tokenizer = module->getAttrOfType<StringAttr>("qc.tokenizer"))
    interface.tokenizerPath = tokenizer.str();
  if (auto source = module->getAttrOfType<StringAttr>("qc.source"))
    interface.source = source.str();
  return interface;
}

void initializeNativeTarget() {
  static bool initialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialized;
}

/// A TargetMachine for this CPU, position-independent (for shared objects).
Result<std::unique_ptr<llvm::TargetMachine>> createHostTargetMachine() {
  initializeNativeTarget();
  llvm::Expected<llvm::orc::JITTargetMachineBuilder> builder =
      llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!builder)
    return makeError("cannot detect the host CPU: ",
                     llvm::toString(builder.takeError()));
  builder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  builder->setRelocationModel(llvm::Reloc::PIC_);
  llvm::Expected<std::unique_ptr<llvm::TargetMachine>> machine =
      builder->createTargetMachine();
  if (!machine)
    return makeError("cannot create a target machine: ",
                     llvm::toString(machine.takeError()));
  return std::move(*machine);
}

/// The LLVM IR optimization both targets run. qc-cpu-pipeline already
/// tiled, vectorized and unrolled the loops that matter, so LLVM's -O3
/// pipeline (loop vectorizer, unroller, inliner) would only rediscover that
/// work on one very large function: for stories260K, -O3 plus codegen took
/// 3.2 s against 1.1 s with this cleanup (common subexpressions,
/// loop-invariant address arithmetic), for the same speed. Codegen still
/// runs at -O3.
llvm::Error optimizeModule(llvm::Module &module, llvm::TargetMachine *machine) {
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager sccs;
  llvm::ModuleAnalysisManager modules;
  llvm::PassBuilder builder(machine);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(sccs);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, sccs, modules);
  llvm::ModulePassManager passes;
  if (llvm::Error error = builder.parsePassPipeline(
          passes, "function(early-cse,instcombine,simplifycfg,"
                  "loop-mssa(licm))"))
    return error;
  passes.run(module, modules);
  return llvm::Error::success();
}

/// `void qc_forward(void **args)`: loads argument i from *args[i] and calls
/// the C interface, the same convention ExecutionEngine's packed wrappers
/// use.
Status addPackedEntry(llvm::Module &module) {
  llvm::Function *target = module.getFunction(kCInterfaceEntry);
  if (!target || !target->getReturnType()->isVoidTy())
    return makeError("the lowered model has no void ", kCInterfaceEntry);
  llvm::LLVMContext &context = module.getContext();
  auto *pointer = llvm::PointerType::getUnqual(context);
  auto *type = llvm::FunctionType::get(llvm::Type::getVoidTy(context),
                                       {pointer}, /*isVarArg=*/false);
  auto *wrapper = llvm::Function::Create(
      type, llvm::GlobalValue::ExternalLinkage, "qc_forward", module);
  llvm::IRBuilder<> builder(llvm::BasicBlock::Create(context, "entry", wrapper));
  llvm::SmallVector<llvm::Value *> args;
  for (auto [index, parameter] : llvm::enumerate(target->args())) {
    llvm::Value *slot = builder.CreateConstGEP1_64(pointer, wrapper->getArg(0),
                                                   index);
    llvm::Value *address = builder.CreateLoad(pointer, slot);
    args.push_back(builder.CreateLoad(parameter.getType(), address));
  }
  builder.CreateCall(target, args);
  builder.CreateRetVoid();
  return Status::success();
}

void addManifest(llvm::Module &module, const ModelInterface &interface) {
  llvm::Constant *text = llvm::ConstantDataArray::getString(
      module.getContext(), interface.toJSON(), /*AddNull=*/true);
  new llvm::GlobalVariable(module, text->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, text,
                           "qc_manifest");
}

Status writeObject(llvm::Module &module, llvm::TargetMachine &machine,
                   const std::string &path) {
  std::error_code error;
  llvm::raw_fd_ostream os(path, error, llvm::sys::fs::OF_None);
  if (error)
    return makeError(path, ": cannot write: ", error.message());
  llvm::legacy::PassManager passes;
  if (machine.addPassesToEmitFile(passes, os, nullptr,
                                  llvm::CodeGenFileType::ObjectFile))
    return makeError("the target cannot emit object files");
  passes.run(module);
  os.flush();
  if (os.has_error())
    return makeError(path, ": write failed");
  return Status::success();
}

} // namespace

Status checkModelEntry(ModuleOp module) {
  auto entry = module.lookupSymbol<func::FuncOp>(kEntry);
  if (!entry || entry.isExternal())
    return makeError("the module has no @forward function to compile");
  return checkEntrySignature(entry);
}

Result<ModelInterface> lowerModelForCPU(ModuleOp module) {
  if (Status status = checkModelEntry(module); !status)
    return status.takeError();
  auto entry = module.lookupSymbol<func::FuncOp>(kEntry);

  MLIRContext *context = module.getContext();
  DiagnosticCapture diagnostics(context);
  PassManager bind(context, ModuleOp::getOperationName());
  // Quantized weights are split into plain tensors first, so that binding
  // (which the interface below reads) sees every file a model reads.
  bind.addPass(qc::createConvertQCToLinalg());
  bind.addPass(qc::createQCBindExternalWeights());
  if (failed(bind.run(module)))
    return makeError("binding weights failed:\n", diagnostics.take());
  Result<ModelInterface> interface = describeInterface(module, entry);
  if (!interface)
    return interface;
  entry->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                 UnitAttr::get(context));

  PassManager lower(context, ModuleOp::getOperationName());
  buildCPUPipeline(lower);
  if (failed(lower.run(module)))
    return makeError("lowering to LLVM failed:\n", diagnostics.take());
  return interface;
}

Result<std::unique_ptr<runtime::Model>> jitModel(ModuleOp module) {
  return jitModel(module, {});
}

Result<std::unique_ptr<runtime::Model>>
jitModel(ModuleOp module, const std::vector<HostSymbol> &symbols,
         const std::vector<runtime::HostWeights> &hostWeights) {
  Result<ModelInterface> interface = lowerModelForCPU(module);
  if (!interface)
    return interface.takeError();
  Result<std::unique_ptr<llvm::TargetMachine>> machine =
      createHostTargetMachine();
  if (!machine)
    return machine.takeError();
  llvm::TargetMachine *target = machine->get();
  std::function<llvm::Error(llvm::Module *)> optimize =
      [target](llvm::Module *module) {
        return optimizeModule(*module, target);
      };
  ExecutionEngineOptions options;
  options.transformer = optimize;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  options.enableGDBNotificationListener = false;
  options.enablePerfNotificationListener = false;
  llvm::Expected<std::unique_ptr<ExecutionEngine>> engine =
      ExecutionEngine::create(module, options, std::move(*machine));
  if (!engine)
    return makeError("JIT compilation failed: ",
                     llvm::toString(engine.takeError()));
  // Before the first lookup, which links the compiled code.
  if (!symbols.empty())
    (*engine)->registerSymbols([&](llvm::orc::MangleAndInterner interner) {
      llvm::orc::SymbolMap map;
      for (const HostSymbol &symbol : symbols)
        map[interner(symbol.name)] = {
            llvm::orc::ExecutorAddr::fromPtr(symbol.address),
            llvm::JITSymbolFlags::Exported};
      return map;
    });
  llvm::Expected<void (*)(void **)> forward =
      (*engine)->lookupPacked(kCInterfaceEntry);
  if (!forward)
    return makeError("JIT: no entry point: ",
                     llvm::toString(forward.takeError()));
  std::shared_ptr<void> owner(engine->release(), [](void *pointer) {
    delete static_cast<ExecutionEngine *>(pointer);
  });
  return runtime::Model::create(std::move(*interface), *forward,
                                std::move(owner), hostWeights);
}

Status compileModelArtifact(ModuleOp module, const std::string &path) {
  Result<ModelInterface> interface = lowerModelForCPU(module);
  if (!interface)
    return interface.takeError();
  Result<std::unique_ptr<llvm::TargetMachine>> machine =
      createHostTargetMachine();
  if (!machine)
    return machine.takeError();

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "quantc-model");
  if (!llvmModule)
    return makeError("translation to LLVM IR failed");
  llvmModule->setTargetTriple((*machine)->getTargetTriple());
  llvmModule->setDataLayout((*machine)->createDataLayout());
  if (Status status = addPackedEntry(*llvmModule); !status)
    return status;
  addManifest(*llvmModule, *interface);
  if (llvm::Error error = optimizeModule(*llvmModule, machine->get()))
    return makeError("LLVM optimization failed: ",
                     llvm::toString(std::move(error)));

  // Object and library go to temporaries beside the destination; the
  // rename publishes the artifact atomically.
  std::string stem = path + ".tmp" + std::to_string(::getpid());
  std::string object = stem + ".o", library = stem + ".so";
  auto cleanup = [&] {
    std::remove(object.c_str());
    std::remove(library.c_str());
  };
  if (Status status = writeObject(*llvmModule, **machine, object); !status) {
    cleanup();
    return status;
  }
  std::string clang = QUANTC_CLANG;
  if (!llvm::sys::fs::can_execute(clang)) {
    llvm::ErrorOr<std::string> found = llvm::sys::findProgramByName("clang-22");
    if (!found) {
      cleanup();
      return makeError("no linker driver: ", clang,
                       " and clang-22 are missing (install clang-22)");
    }
    clang = *found;
  }
  llvm::SmallVector<llvm::StringRef> argv = {
      clang, "-shared", "-fuse-ld=lld", "-Wl,--build-id=none", "-o", library,
      object, "-lm"};
  std::string message;
  int exitCode = llvm::sys::ExecuteAndWait(clang, argv, std::nullopt, {}, 0, 0,
                                           &message);
  if (exitCode != 0) {
    cleanup();
    return makeError("linking ", path, " failed (", clang, " exited with ",
                     exitCode, message.empty() ? "" : ": ", message, ")");
  }
  std::remove(object.c_str());
  if (std::rename(library.c_str(), path.c_str()) != 0) {
    cleanup();
    return makeError(path, ": cannot write the artifact");
  }
  return Status::success();
}

} // namespace quantc
