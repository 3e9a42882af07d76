//===- BlockDecodeTest.cpp - IR block decoders against lib/Numerics -------===//
//
// For every block format: rows quantized by the numerics quantizer (and raw
// random bytes), decoded by a function built around buildPackedDequantize,
// lowered to LLVM, JIT-compiled and run; the floats must equal the numerics
// dequantizer's bit for bit. Two lowerings: a plain one (bufferize, loops,
// LLVM -O3 on the JIT) and the project's qc-cpu-pipeline.
//
//===----------------------------------------------------------------------===//

#include "Conversion/QCToLinalg/BlockDecode.h"

#include "QC/QCOps.h"
#include "quantc/InitAll.h"
#include "quantc/Numerics/BlockCodecs.h"
#include "quantc/Numerics/Formats.h"
#include "quantc/Pipelines/Pipelines.h"
#include "quantc/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/ExecutionEngine/CRunnerUtils.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/Support/TargetSelect.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace mlir;
using quantc::Format;

namespace {

/// Every format a `!qc.packed` type accepts.
constexpr Format kPackedFormats[] = {
    Format::Q8_0,   Format::Q4_0,   Format::Q4_1,  Format::Q5_0,
    Format::Q5_1,   Format::Q8_1,   Format::Q6_K,  Format::Q4_K,
    Format::Q5_K,   Format::Q3_K,   Format::Q2_K,  Format::Q8_K,
    Format::IQ4_NL, Format::IQ4_XS, Format::TQ1_0, Format::TQ2_0};

enum class Lowering { Loops, CPUPipeline };

std::string formatName(Format format) {
  return std::string(quantc::getFormatInfo(format).name);
}

/// Rows that exercise what real weights and degenerate ones look like:
/// typical and unit scales, all zeros, scales that are fp16 subnormals,
/// large values with outliers, one-sided rows (the affine formats' mins,
/// negative and positive), sparse spikes, blocks of very different scales
/// in one row, and constants.
std::vector<float> testRows(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> values(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      float &v = values[r * cols + c];
      switch (r % 11) {
      case 0:
        v = normal(rng);
        break;
      case 1: // transformer-weight scale
        v = 0.02f * normal(rng);
        break;
      case 2:
        v = 0.0f;
        break;
      case 3: // block scales below fp16's normal range
        v = 1e-5f * normal(rng);
        break;
      case 4:
        v = 1000.0f * normal(rng) * (c % 61 == 0 ? 30.0f : 1.0f);
        break;
      case 5:
        v = 0.5f + 1.5f * uniform(rng);
        break;
      case 6:
        v = -3.0f + 2.9f * uniform(rng);
        break;
      case 7:
        v = c % 29 == 0 ? 4.0f * normal(rng) : 0.0f;
        break;
      case 8: // scale changes by 10x from one 32-element group to the next
        v = normal(rng) * std::pow(10.0f, static_cast<float>(c / 32 % 6) - 3);
        break;
      case 9:
        v = 0.37f;
        break;
      default:
        v = -0.5f + normal(rng);
        break;
      }
    }
  }
  return values;
}

/// A rank-`Rank` memref descriptor over `data` with a row-major `shape`.
template <typename T, int Rank>
StridedMemRefType<T, Rank> describe(T *data,
                                    const std::array<int64_t, Rank> &shape) {
  StridedMemRefType<T, Rank> memref;
  memref.basePtr = data;
  memref.data = data;
  memref.offset = 0;
  int64_t stride = 1;
  for (int d = Rank - 1; d >= 0; --d) {
    memref.sizes[d] = shape[d];
    memref.strides[d] = stride;
    stride *= shape[d];
  }
  return memref;
}

class BlockDecodeJit {
public:
  BlockDecodeJit() : context(makeRegistry()) {
    static bool initialized = [] {
      llvm::InitializeNativeTarget();
      llvm::InitializeNativeTargetAsmPrinter();
      return true;
    }();
    (void)initialized;
    context.loadDialect<qc::QCDialect, func::FuncDialect,
                        bufferization::BufferizationDialect>();
  }

  /// `func.func @decode(%bytes, %out) -> tensor` writing
  /// buildPackedDequantize's result into %out, or null (with the
  /// diagnostic in `diagnostics`) when building failed.
  OwningOpRef<ModuleOp> buildModule(qc::PackedType type, Type bytesType) {
    OpBuilder b(&context);
    Location loc = b.getUnknownLoc();
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    b.setInsertionPointToEnd(module->getBody());
    auto outType = RankedTensorType::get(type.getShape(), b.getF32Type());
    auto function = func::FuncOp::create(
        b, loc, "decode", b.getFunctionType({bytesType, outType}, {outType}));
    function->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                      b.getUnitAttr());
    Block *entry = function.addEntryBlock();
    b.setInsertionPointToStart(entry);
    ScopedDiagnosticHandler capture(&context, [&](Diagnostic &diagnostic) {
      diagnostics += diagnostic.str();
      return success();
    });
    FailureOr<Value> decoded =
        qc::buildPackedDequantize(b, loc, entry->getArgument(0), type);
    if (failed(decoded))
      return nullptr;
    Value written = bufferization::MaterializeInDestinationOp::create(
                        b, loc, *decoded, entry->getArgument(1))
                        .getResult();
    func::ReturnOp::create(b, loc, written);
    EXPECT_TRUE(succeeded(verify(*module)));
    return module;
  }

  /// Decodes the rows of `bytes` (logical shape `shape`) through JIT-run
  /// IR lowered by `lowering`.
  template <int Rank>
  std::vector<float> run(Format format, const std::array<int64_t, Rank> &shape,
                         std::vector<uint8_t> &bytes, Lowering lowering) {
    auto type = qc::PackedType::get(&context, shape, format);
    std::array<int64_t, Rank> bytesShape = shape;
    bytesShape[Rank - 1] = *type.getFormatInfo().rowBytes(shape[Rank - 1]);
    auto bytesType =
        RankedTensorType::get(bytesShape, IntegerType::get(&context, 8));
    OwningOpRef<ModuleOp> module = buildModule(type, bytesType);
    if (!module) {
      ADD_FAILURE() << diagnostics;
      return {};
    }
    if (!lower(*module, lowering))
      return {};

    ExecutionEngineOptions options;
    std::function<llvm::Error(llvm::Module *)> transformer =
        makeOptimizingTransformer(/*optLevel=*/3, /*sizeLevel=*/0,
                                  /*targetMachine=*/nullptr);
    options.transformer = transformer;
    auto engine = ExecutionEngine::create(*module, options);
    if (!engine) {
      ADD_FAILURE() << llvm::toString(engine.takeError());
      return {};
    }
    llvm::Expected<void *> entry = (*engine)->lookup("_mlir_ciface_decode");
    if (!entry) {
      ADD_FAILURE() << llvm::toString(entry.takeError());
      return {};
    }
    int64_t elements = 1;
    for (int64_t dim : shape)
      elements *= dim;
    std::vector<float> decoded(elements);
    auto in = describe<int8_t, Rank>(reinterpret_cast<int8_t *>(bytes.data()),
                                     bytesShape);
    auto out = describe<float, Rank>(decoded.data(), shape);
    // Both lowerings drop the result, which aliases %out.
    using Entry = void (*)(StridedMemRefType<int8_t, Rank> *,
                           StridedMemRefType<float, Rank> *);
    reinterpret_cast<Entry> (*entry)(&in, &out);
    return decoded;
  }

  MLIRContext context;
  std::string diagnostics;

private:
  static DialectRegistry makeRegistry() {
    DialectRegistry registry;
    quantc::registerAllDialects(registry);
    return registry;
  }

  bool lower(ModuleOp module, Lowering lowering) {
    PassManager pm(&context, ModuleOp::getOperationName());
    if (lowering == Lowering::CPUPipeline) {
      quantc::buildCPUPipeline(pm);
    } else {
      bufferization::OneShotBufferizePassOptions bufferize;
      bufferize.bufferizeFunctionBoundaries = true;
      bufferize.functionBoundaryTypeConversion =
          bufferization::LayoutMapOption::IdentityLayoutMap;
      pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
      // The result aliases %out: drop it (upstream's
      // drop-equivalent-buffer-results leaves public functions alone).
      pm.addPass(qc::createQCDropAliasedEntryResults());
      bufferization::buildBufferDeallocationPipeline(pm);
      pm.addPass(createConvertBufferizationToMemRefPass());
      pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
      pm.addPass(memref::createExpandStridedMetadataPass());
      pm.addPass(createLowerAffinePass());
      pm.addPass(createSCFToControlFlowPass());
      pm.addPass(createConvertToLLVMPass());
      pm.addPass(createReconcileUnrealizedCastsPass());
    }
    std::string errors;
    ScopedDiagnosticHandler capture(&context, [&](Diagnostic &diagnostic) {
      errors += diagnostic.str() + "\n";
      return success();
    });
    if (failed(pm.run(module))) {
      ADD_FAILURE() << "lowering failed:\n" << errors;
      return false;
    }
    return true;
  }
};

/// Whether a NaN may stand for a NaN of another payload.
enum class NaNs { Exact, AnyPayload };

/// memcmp (with `NaNs::AnyPayload`: except between two NaNs), with the first
/// differing element in the failure message.
void expectBitIdentical(const std::vector<float> &actual,
                        const std::vector<float> &expected, int64_t cols,
                        const std::string &what, NaNs nans = NaNs::Exact) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  size_t bad = 0, first = actual.size();
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::memcmp(&actual[i], &expected[i], sizeof(float)) == 0)
      continue;
    if (nans == NaNs::AnyPayload && std::isnan(actual[i]) &&
        std::isnan(expected[i]))
      continue;
    ++bad;
    if (first == actual.size())
      first = i;
  }
  if (bad == 0)
    return;
  uint32_t a, e;
  std::memcpy(&a, &actual[first], 4);
  std::memcpy(&e, &expected[first], 4);
  ADD_FAILURE() << what << ": " << bad << " of " << actual.size()
                << " elements differ; first at row " << first / cols
                << " column " << first % cols << ": IR " << actual[first]
                << " (0x" << std::hex << a << ") vs numerics "
                << expected[first] << " (0x" << e << ")" << std::dec;
}

class BlockDecodeTest
    : public ::testing::TestWithParam<std::tuple<Format, Lowering>> {
protected:
  Format format() const { return std::get<0>(GetParam()); }
  Lowering lowering() const { return std::get<1>(GetParam()); }

  BlockDecodeJit jit;
};

TEST_P(BlockDecodeTest, QuantizedRowsDecodeBitIdentical) {
  // Two super-blocks of the K-quants, sixteen 32-element blocks.
  constexpr int64_t kRows = 22, kCols = 512;
  const quantc::RowCodec *codec = quantc::getRowCodec(format());
  ASSERT_NE(codec, nullptr);
  const quantc::FormatInfo &info = quantc::getFormatInfo(format());
  std::vector<float> values = testRows(kRows, kCols, 7);
  // The second half of the rows goes through the importance-weighted
  // search where the format has one, for a different mix of codes.
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> weight(0.01f, 4.0f);
  std::vector<float> importance(kCols);
  for (float &w : importance)
    w = weight(rng);
  size_t rowBytes = *info.rowBytes(kCols);
  std::vector<uint8_t> bytes(kRows * rowBytes);
  for (int64_t r = 0; r < kRows; ++r)
    ASSERT_EQ(codec->quantize(
                  values.data() + r * kCols, bytes.data() + r * rowBytes, kCols,
                  r >= kRows / 2 && info.acceptsImportance ? importance.data()
                                                           : nullptr),
              rowBytes);
  std::vector<float> expected(kRows * kCols);
  ASSERT_TRUE(quantc::dequantizeRows(format(), bytes.data(), expected.data(),
                                     kRows, kCols));

  std::vector<float> decoded =
      jit.run<2>(format(), {kRows, kCols}, bytes, lowering());
  expectBitIdentical(decoded, expected, kCols, formatName(format()));
}

TEST_P(BlockDecodeTest, RandomBytesDecodeBitIdentical) {
  // Every bit pattern a block can hold, including fp16 infinities, NaNs
  // (with payloads) and subnormals in the scale fields. One exception to
  // bit identity: where both operands of a float operation are NaN (d and
  // m of Q4_1/Q5_1, say), IEEE 754 does not say whose payload the result
  // carries, and neither LLVM nor the numerics' vector kernels keep operand
  // order for it; so a NaN only has to meet a NaN.
  constexpr int64_t kRows = 8, kCols = 1024;
  const quantc::FormatInfo &info = quantc::getFormatInfo(format());
  std::vector<uint8_t> bytes(kRows * *info.rowBytes(kCols));
  std::mt19937 rng(static_cast<uint32_t>(format()) + 1);
  for (uint8_t &byte : bytes)
    byte = static_cast<uint8_t>(rng());
  std::vector<float> expected(kRows * kCols);
  ASSERT_TRUE(quantc::dequantizeRows(format(), bytes.data(), expected.data(),
                                     kRows, kCols));

  std::vector<float> decoded =
      jit.run<2>(format(), {kRows, kCols}, bytes, lowering());
  expectBitIdentical(decoded, expected, kCols, formatName(format()),
                     NaNs::AnyPayload);
}

INSTANTIATE_TEST_SUITE_P(
    AllPackedFormats, BlockDecodeTest,
    ::testing::Combine(::testing::ValuesIn(kPackedFormats),
                       ::testing::Values(Lowering::Loops,
                                         Lowering::CPUPipeline)),
    [](const ::testing::TestParamInfo<BlockDecodeTest::ParamType> &info) {
      return formatName(std::get<0>(info.param)) +
             (std::get<1>(info.param) == Lowering::Loops ? "_Loops"
                                                         : "_CPUPipeline");
    });

TEST(BlockDecodeShapeTest, LeadingDimensionsIndexRows) {
  // A rank-3 packed tensor: rows are the product of the leading dimensions.
  BlockDecodeJit jit;
  constexpr int64_t kRows = 2 * 3, kCols = 256;
  std::vector<float> values = testRows(kRows, kCols, 3);
  size_t rowBytes = *quantc::getFormatInfo(Format::Q4_K).rowBytes(kCols);
  std::vector<uint8_t> bytes(kRows * rowBytes);
  ASSERT_EQ(quantc::quantizeRows(Format::Q4_K, values.data(), bytes.data(),
                                 kRows, kCols, nullptr),
            bytes.size());
  std::vector<float> expected(kRows * kCols);
  ASSERT_TRUE(quantc::dequantizeRows(Format::Q4_K, bytes.data(),
                                     expected.data(), kRows, kCols));
  std::vector<float> decoded =
      jit.run<3>(Format::Q4_K, {2, 3, kCols}, bytes, Lowering::Loops);
  expectBitIdentical(decoded, expected, kCols, "q4_K rank 3");
}

TEST(BlockDecodeShapeTest, DynamicRowCountIsAccepted) {
  BlockDecodeJit jit;
  auto type = qc::PackedType::get(&jit.context, {4, 64}, Format::Q8_0);
  auto bytesType = RankedTensorType::get({ShapedType::kDynamic, 68},
                                         IntegerType::get(&jit.context, 8));
  EXPECT_TRUE(jit.buildModule(type, bytesType)) << jit.diagnostics;
}

TEST(BlockDecodeShapeTest, RefusesBytesOfTheWrongShape) {
  BlockDecodeJit jit;
  auto type = qc::PackedType::get(&jit.context, {4, 64}, Format::Q8_0);
  // 64 q8_0 elements are two 34-byte blocks: 68 bytes, not 64.
  auto bytesType =
      RankedTensorType::get({4, 64}, IntegerType::get(&jit.context, 8));
  EXPECT_FALSE(jit.buildModule(type, bytesType));
  EXPECT_NE(jit.diagnostics.find("expected the bytes of '!qc.packed<4x64, "
                                 "q8_0>' as 'tensor<4x68xi8>', got "
                                 "'tensor<4x64xi8>'"),
            std::string::npos)
      << jit.diagnostics;
}

TEST(BlockDecodeShapeTest, RefusesNonByteElements) {
  BlockDecodeJit jit;
  auto type = qc::PackedType::get(&jit.context, {4, 64}, Format::Q8_0);
  auto bytesType =
      RankedTensorType::get({4, 68}, IntegerType::get(&jit.context, 32));
  EXPECT_FALSE(jit.buildModule(type, bytesType));
  EXPECT_NE(jit.diagnostics.find("expected the bytes of"), std::string::npos)
      << jit.diagnostics;
}

} // namespace
