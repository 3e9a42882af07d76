//===- QCToLinalgTest.cpp - qc.linear compiled and run
//---------------------===//
//
// Small modules with one qc.linear per quantization mode go through
// qc-cpu-pipeline (convert-qc-to-linalg first), are JIT-compiled for this
// CPU and run on weights packed by lib/Numerics, and compared with
// lib/Numerics:
//  - bit for bit: dynamic per-token and per-tensor int8, static int8 (the
//    integer sums are exact and the float epilogue is fixed), the
//    dequantized grouped and FP8 weights (read out through an identity
//    input), and the FP8 encoder/decoder over every exponent and rounding
//    boundary;
//  - to a small relative tolerance: the float accumulations of weight-only
//    and FP8 linears.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/Passes.h"
#include "quantc/Conversion/QCToLinalg/ElementCodecs.h"
#include "quantc/InitAll.h"
#include "quantc/Numerics/BlockCodecs.h"
#include "quantc/Numerics/FP8.h"
#include "quantc/Numerics/Formats.h"
#include "quantc/Numerics/GroupedAffine.h"
#include "quantc/Numerics/QuantizedLinear.h"
#include "quantc/Pipelines/Pipelines.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/ExecutionEngine/CRunnerUtils.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/TargetSelect.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>

using namespace quantc;

namespace {

//===----------------------------------------------------------------------===//
// Compiling and calling
//===----------------------------------------------------------------------===//

/// A module lowered by qc-cpu-pipeline and JIT-compiled; calls `@f`
/// through its C interface.
class Compiled {
public:
  /// Null (after a test failure) when any step fails.
  static std::unique_ptr<Compiled> fromText(const std::string &text,
                                            bool fuseDequantize = false) {
    auto compiled = std::unique_ptr<Compiled>(new Compiled());
    mlir::OwningOpRef<mlir::ModuleOp> module =
        mlir::parseSourceString<mlir::ModuleOp>(text, &compiled->context);
    if (!module) {
      ADD_FAILURE() << "cannot parse:\n" << text;
      return nullptr;
    }
    return compiled->compile(*module, fuseDequantize) ? std::move(compiled)
                                                      : nullptr;
  }

  /// For modules built in C++ against this object's context.
  static std::unique_ptr<Compiled> create() {
    return std::unique_ptr<Compiled>(new Compiled());
  }
  mlir::MLIRContext &getContext() { return context; }

  bool compile(mlir::ModuleOp module, bool fuseDequantize = false) {
    for (auto function : module.getOps<mlir::func::FuncOp>())
      function->setAttr(mlir::LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                        mlir::UnitAttr::get(&context));
    mlir::PassManager pm(&context);
    if (fuseDequantize) {
      mlir::qc::ConvertQCToLinalgOptions options;
      options.fuseDequantize = true;
      pm.addPass(mlir::qc::createConvertQCToLinalg(options));
    }
    buildCPUPipeline(pm);
    if (mlir::failed(pm.run(module))) {
      ADD_FAILURE() << "qc-cpu-pipeline failed";
      return false;
    }
    mlir::ExecutionEngineOptions options;
    optimize = mlir::makeOptimizingTransformer(3, 0, nullptr);
    options.transformer = optimize;
    options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
    auto created = mlir::ExecutionEngine::create(module, options);
    if (!created) {
      ADD_FAILURE() << "JIT: " << llvm::toString(created.takeError());
      return false;
    }
    engine = std::move(*created);
    return true;
  }

  /// Calls `name` with pointers to memref descriptors.
  void call(const std::string &name, std::vector<void *> descriptors) {
    std::vector<void *> args;
    for (void *&descriptor : descriptors)
      args.push_back(&descriptor);
    llvm::Error error = engine->invokePacked("_mlir_ciface_" + name, args);
    ASSERT_FALSE(error) << llvm::toString(std::move(error));
  }

private:
  Compiled() : context(registry()) {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    context.loadAllAvailableDialects();
  }
  static mlir::DialectRegistry registry() {
    mlir::DialectRegistry registry;
    registerAllDialects(registry);
    return registry;
  }

  mlir::MLIRContext context;
  std::function<llvm::Error(llvm::Module *)> optimize;
  std::unique_ptr<mlir::ExecutionEngine> engine;
};

template <typename T> StridedMemRefType<T, 1> vectorRef(std::vector<T> &data) {
  return {
      data.data(), data.data(), 0, {static_cast<int64_t>(data.size())}, {1}};
}

template <typename T>
StridedMemRefType<T, 2> matrixRef(std::vector<T> &data, int64_t rows,
                                  int64_t cols) {
  return {data.data(), data.data(), 0, {rows, cols}, {cols, 1}};
}

/// `@f(x: tensor<MxK>, out: tensor<MxN>)` computing `qc.linear x, w attrs`
/// into `out`; `w` is the global `@w` of `weightType` whose value is
/// `weightValue` (by default bytes of a file, which the pipeline binds to a
/// leading memref<?xi8> argument). M is dynamic unless `tokens` is given.
std::string linearModule(const std::string &weightType, int64_t depth,
                         int64_t outputs, const std::string &attrs,
                         const std::string &weightValue =
                             "#qc.external<path = \"w.bin\", offset = 0>",
                         std::optional<int64_t> tokens = std::nullopt) {
  std::string m = tokens ? std::to_string(*tokens) : "?";
  std::string in = "tensor<" + m + "x" + std::to_string(depth) + "xf32>";
  std::string out = "tensor<" + m + "x" + std::to_string(outputs) + "xf32>";
  std::ostringstream os;
  os << "ml_program.global private @w(" << weightValue << ") : " << weightType
     << "\n"
     << "func.func @f(%x: " << in << ", %out: " << out << ") -> " << out
     << " {\n"
     << "  %w = ml_program.global_load_const @w : " << weightType << "\n"
     << "  %y = qc.linear %x, %w " << attrs << " : " << in << ", " << weightType
     << " -> " << out << "\n"
     << "  %r = bufferization.materialize_in_destination %y in %out : (" << out
     << ", " << out << ") -> " << out << "\n"
     << "  return %r : " << out << "\n"
     << "}\n";
  return os.str();
}

std::string groupedType(int64_t rows, int64_t cols,
                        const GroupedFormat &format) {
  std::string text =
      "!qc.grouped<" + std::to_string(rows) + "x" + std::to_string(cols) +
      ", " + (format.isSigned ? "si" : "ui") + std::to_string(format.bits);
  if (format.groupSize != 0)
    text += ", group = " + std::to_string(format.groupSize);
  return text + ">";
}

/// Runs a compiled `@f` on `x` (tokens x depth) with the weight bytes
/// `blob` (empty when the weight is inline).
std::vector<float> runLinear(Compiled &compiled, std::vector<uint8_t> &blob,
                             std::vector<float> &x, int64_t tokens,
                             int64_t depth, int64_t outputs) {
  std::vector<float> y(tokens * outputs, -12345.0f);
  auto bytes = vectorRef(blob);
  auto input = matrixRef(x, tokens, depth);
  auto result = matrixRef(y, tokens, outputs);
  std::vector<void *> args;
  if (!blob.empty())
    args.push_back(&bytes);
  args.push_back(&input);
  args.push_back(&result);
  compiled.call("f", args);
  return y;
}

//===----------------------------------------------------------------------===//
// Data and comparisons
//===----------------------------------------------------------------------===//

std::vector<float> randomValues(size_t count, unsigned seed,
                                float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> values(count);
  for (float &value : values)
    value = normal(rng);
  return values;
}

/// Activations with what a quantizer must get right: an outlier per row,
/// an all-zero row, values on rounding ties.
std::vector<float> activations(int64_t tokens, int64_t depth, unsigned seed) {
  std::vector<float> x = randomValues(tokens * depth, seed, 1.5f);
  for (int64_t m = 0; m < tokens; ++m)
    x[m * depth + (m * 13) % depth] = (m % 2 ? 1 : -1) * (8.0f + m);
  if (tokens > 2)
    std::fill(x.begin() + 2 * depth, x.begin() + 3 * depth, 0.0f);
  if (tokens > 3) {
    // Row 3: max 127, so codes are x rounded half to even.
    for (int64_t k = 0; k < depth; ++k)
      x[3 * depth + k] = static_cast<float>(k % 9) - 4.5f;
    x[3 * depth] = 127.0f;
  }
  return x;
}

std::vector<uint8_t> packWeights(const std::vector<float> &weights,
                                 int64_t rows, int64_t cols,
                                 const GroupedFormat &format) {
  std::vector<uint8_t> blob(groupedLayout(format, rows, cols).totalBytes);
  EXPECT_TRUE(packGrouped(weights.data(), rows, cols, format, blob.data()));
  return blob;
}

bool sameBits(float a, float b) {
  if (std::isnan(a) && std::isnan(b))
    return true;
  return std::memcmp(&a, &b, sizeof(float)) == 0;
}

void expectBitIdentical(const std::vector<float> &actual,
                        const std::vector<float> &expected, int64_t cols) {
  ASSERT_EQ(actual.size(), expected.size());
  int64_t mismatches = 0;
  for (size_t i = 0; i < actual.size(); ++i)
    if (!sameBits(actual[i], expected[i]) && mismatches++ < 5)
      ADD_FAILURE() << "[" << i / cols << ", " << i % cols << "]: got "
                    << actual[i] << ", want " << expected[i];
  EXPECT_EQ(mismatches, 0);
}

/// |y - reference| within `relative` of sum_k |x w| (the scale of the
/// rounding a float accumulation can make), reference in double.
void expectClose(const std::vector<float> &actual, const std::vector<float> &x,
                 const std::vector<float> &w, int64_t tokens, int64_t depth,
                 int64_t outputs, float outputScale = 1.0f,
                 double relative = 2e-6) {
  for (int64_t m = 0; m < tokens; ++m)
    for (int64_t n = 0; n < outputs; ++n) {
      double sum = 0.0, magnitude = 0.0;
      for (int64_t k = 0; k < depth; ++k) {
        double product =
            static_cast<double>(x[m * depth + k]) * w[n * depth + k];
        sum += product;
        magnitude += std::fabs(product);
      }
      sum *= outputScale;
      magnitude *= outputScale;
      ASSERT_NEAR(actual[m * outputs + n], sum, relative * magnitude + 1e-30)
          << "[" << m << ", " << n << "]";
    }
}

/// The identity as activations: y[m, n] = w[n, m] exactly (but for -0,
/// which the zeros around it turn into +0), so the compiled dequantized
/// weights can be read out bit for bit.
std::vector<float> identity(int64_t size) {
  std::vector<float> x(size * size, 0.0f);
  for (int64_t i = 0; i < size; ++i)
    x[i * size + i] = 1.0f;
  return x;
}

/// w^T as the identity reads it out.
std::vector<float> transpose(const std::vector<float> &w, int64_t rows,
                             int64_t cols) {
  std::vector<float> t(w.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t[c * rows + r] = w[r * cols + c] + 0.0f; // -0 + 0 = +0
  return t;
}

//===----------------------------------------------------------------------===//
// Dynamic and static int8
//===----------------------------------------------------------------------===//

/// referenceInt8Linear on activations quantized dynamically.
std::vector<float> referenceDynamic(const std::vector<float> &x,
                                    const std::vector<uint8_t> &blob,
                                    int64_t tokens, int64_t depth,
                                    int64_t outputs, bool perToken) {
  std::vector<int8_t> xq(x.size()), wq;
  std::vector<float> xScales(perToken ? tokens : 1), wScales;
  quantizeActivationsDynamic(x.data(), tokens, depth, perToken, xq.data(),
                             xScales.data());
  unpackInt8RowWeights(blob.data(), outputs, depth, wq, wScales);
  std::vector<float> y(tokens * outputs);
  referenceInt8Linear(xq.data(), xScales.data(), perToken, 0, tokens, depth,
                      wq.data(), wScales.data(), outputs, y.data());
  return y;
}

struct Shape {
  int64_t tokens, depth, outputs;
};

class DynamicInt8 : public testing::TestWithParam<std::tuple<bool, Shape>> {};

TEST_P(DynamicInt8, BitIdenticalToReference) {
  auto [perToken, shape] = GetParam();
  auto [tokens, depth, outputs] = shape;
  GroupedFormat format{8, true, 0};
  std::vector<float> w = randomValues(outputs * depth, 1, 0.05f);
  std::vector<uint8_t> blob = packWeights(w, outputs, depth, format);
  std::unique_ptr<Compiled> compiled = Compiled::fromText(
      linearModule(groupedType(outputs, depth, format), depth, outputs,
                   perToken ? "dynamic(per_token)" : "dynamic(per_tensor)"));
  ASSERT_TRUE(compiled);
  std::vector<float> x = activations(tokens, depth, 2);
  std::vector<float> y = runLinear(*compiled, blob, x, tokens, depth, outputs);
  expectBitIdentical(
      y, referenceDynamic(x, blob, tokens, depth, outputs, perToken), outputs);
  // The same compiled code on one token (decode) and on a NaN and an inf.
  std::vector<float> one(x.begin(), x.begin() + depth);
  one[5] = NAN;
  expectBitIdentical(runLinear(*compiled, blob, one, 1, depth, outputs),
                     referenceDynamic(one, blob, 1, depth, outputs, perToken),
                     outputs);
  one[7] = INFINITY;
  expectBitIdentical(runLinear(*compiled, blob, one, 1, depth, outputs),
                     referenceDynamic(one, blob, 1, depth, outputs, perToken),
                     outputs);
}

INSTANTIATE_TEST_SUITE_P(
    Modes, DynamicInt8,
    testing::Combine(testing::Bool(),
                     testing::Values(Shape{1, 64, 32}, Shape{5, 64, 32},
                                     Shape{37, 64, 48}, Shape{19, 172, 24},
                                     Shape{4, 200, 5})),
    [](const testing::TestParamInfo<DynamicInt8::ParamType> &info) {
      bool perToken = std::get<0>(info.param);
      Shape shape = std::get<1>(info.param);
      return std::string(perToken ? "PerToken" : "PerTensor") + "_M" +
             std::to_string(shape.tokens) + "_K" + std::to_string(shape.depth) +
             "_N" + std::to_string(shape.outputs);
    });

TEST(DynamicInt8Static, StaticTokenCount) {
  const int64_t tokens = 3, depth = 64, outputs = 16;
  GroupedFormat format{8, true, 0};
  std::vector<float> w = randomValues(outputs * depth, 4, 0.05f);
  std::vector<uint8_t> blob = packWeights(w, outputs, depth, format);
  std::unique_ptr<Compiled> compiled = Compiled::fromText(linearModule(
      groupedType(outputs, depth, format), depth, outputs, "dynamic(per_token)",
      "#qc.external<path = \"w.bin\", offset = 0>", tokens));
  ASSERT_TRUE(compiled);
  std::vector<float> x = activations(tokens, depth, 5);
  expectBitIdentical(runLinear(*compiled, blob, x, tokens, depth, outputs),
                     referenceDynamic(x, blob, tokens, depth, outputs, true),
                     outputs);
}

class StaticInt8 : public testing::TestWithParam<int32_t> {};

TEST_P(StaticInt8, BitIdenticalToReference) {
  const int32_t zeroPoint = GetParam();
  const int64_t tokens = 21, depth = 96, outputs = 40;
  const float scale = 0.0213f;
  GroupedFormat format{8, true, 0};
  std::vector<float> w = randomValues(outputs * depth, 6, 0.05f);
  std::vector<uint8_t> blob = packWeights(w, outputs, depth, format);
  std::ostringstream attrs;
  attrs << "static(!quant.uniform<i8:f32, " << scale << ":" << zeroPoint
        << ">)";
  std::unique_ptr<Compiled> compiled = Compiled::fromText(linearModule(
      groupedType(outputs, depth, format), depth, outputs, attrs.str()));
  ASSERT_TRUE(compiled);
  // Values from well inside to far outside the grid (both ends saturate).
  std::vector<float> x = activations(tokens, depth, 7);
  x[10] = NAN;

  std::vector<int8_t> xq(x.size()), wq;
  std::vector<float> wScales;
  for (size_t i = 0; i < x.size(); ++i)
    xq[i] = static_cast<int8_t>(
        quantizeAffine(x[i], AffineParams{scale, zeroPoint}, {-128, 127}));
  unpackInt8RowWeights(blob.data(), outputs, depth, wq, wScales);
  std::vector<float> want(tokens * outputs);
  referenceInt8Linear(xq.data(), &scale, false, zeroPoint, tokens, depth,
                      wq.data(), wScales.data(), outputs, want.data());
  expectBitIdentical(runLinear(*compiled, blob, x, tokens, depth, outputs),
                     want, outputs);
}

INSTANTIATE_TEST_SUITE_P(ZeroPoints, StaticInt8,
                         testing::Values(0, -3, 17, -128, 127),
                         [](const testing::TestParamInfo<int32_t> &info) {
                           int32_t z = info.param;
                           return (z < 0 ? "Minus" : "Plus") +
                                  std::to_string(std::abs(z));
                         });

//===----------------------------------------------------------------------===//
// Weight-only grouped integers
//===----------------------------------------------------------------------===//

struct GroupedCase {
  unsigned bits;
  bool isSigned;
  int64_t group;
  int64_t depth;
};

class GroupedWeightOnly
    : public testing::TestWithParam<std::tuple<GroupedCase, bool>> {};

TEST_P(GroupedWeightOnly, DequantizesBitForBitAndMultiplies) {
  auto [c, fuse] = GetParam();
  const int64_t outputs = 24;
  GroupedFormat format{c.bits, c.isSigned, c.group};
  // Weights with a negative mean, so asymmetric grids get varied (and
  // non-zero) zero points.
  std::vector<float> w = randomValues(outputs * c.depth, 8, 0.05f);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] -= 0.02f * static_cast<float>(i % 5);
  std::vector<uint8_t> blob = packWeights(w, outputs, c.depth, format);
  std::vector<float> dequantized(w.size());
  unpackGrouped(blob.data(), outputs, c.depth, format, dequantized.data());

  std::unique_ptr<Compiled> compiled = Compiled::fromText(
      linearModule(groupedType(outputs, c.depth, format), c.depth, outputs, ""),
      fuse);
  ASSERT_TRUE(compiled);
  // The weights themselves, through the identity.
  std::vector<float> eye = identity(c.depth);
  expectBitIdentical(runLinear(*compiled, blob, eye, c.depth, c.depth, outputs),
                     transpose(dequantized, outputs, c.depth), outputs);
  // A product, to float accuracy.
  for (int64_t tokens : {1, 17}) {
    std::vector<float> x = randomValues(tokens * c.depth, 9);
    std::vector<float> y =
        runLinear(*compiled, blob, x, tokens, c.depth, outputs);
    expectClose(y, x, dequantized, tokens, c.depth, outputs);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Formats, GroupedWeightOnly,
    testing::Combine(
        testing::Values(
            GroupedCase{8, true, 0, 64}, GroupedCase{8, false, 32, 172},
            GroupedCase{4, false, 32, 172}, GroupedCase{4, true, 32, 64},
            GroupedCase{4, false, 32, 128}, GroupedCase{8, false, 32, 64},
            GroupedCase{2, true, 0, 36}, GroupedCase{3, false, 32, 172},
            GroupedCase{3, true, 0, 70}, GroupedCase{2, false, 16, 64},
            GroupedCase{5, true, 32, 100}, GroupedCase{6, false, 0, 64},
            GroupedCase{7, true, 64, 172}),
        testing::Bool()),
    [](const testing::TestParamInfo<GroupedWeightOnly::ParamType> &info) {
      GroupedCase c = std::get<0>(info.param);
      bool fuse = std::get<1>(info.param);
      return std::string(c.isSigned ? "si" : "ui") + std::to_string(c.bits) +
             "_g" + std::to_string(c.group) + "_K" + std::to_string(c.depth) +
             (fuse ? "_Fused" : "");
    });

TEST(GroupedWeightOnlyInline, DenseBytesValue) {
  // A global holding the blob inline (small tests) instead of a file.
  const int64_t outputs = 4, depth = 40;
  GroupedFormat format{4, false, 16};
  std::vector<float> w = randomValues(outputs * depth, 10, 0.1f);
  std::vector<uint8_t> blob = packWeights(w, outputs, depth, format);
  std::ostringstream value;
  value << "dense<\"0x";
  for (uint8_t byte : blob)
    value << "0123456789ABCDEF"[byte >> 4] << "0123456789ABCDEF"[byte & 15];
  value << "\"> : tensor<" << blob.size() << "xi8>";
  std::unique_ptr<Compiled> compiled = Compiled::fromText(linearModule(
      groupedType(outputs, depth, format), depth, outputs, "", value.str()));
  ASSERT_TRUE(compiled);
  std::vector<float> dequantized(w.size());
  unpackGrouped(blob.data(), outputs, depth, format, dequantized.data());
  std::vector<uint8_t> none;
  std::vector<float> eye = identity(depth);
  expectBitIdentical(runLinear(*compiled, none, eye, depth, depth, outputs),
                     transpose(dequantized, outputs, depth), outputs);
}

//===----------------------------------------------------------------------===//
// Weight-only llama.cpp block formats (the decoders are BlockDecode.h's)
//===----------------------------------------------------------------------===//

class PackedWeightOnly : public testing::TestWithParam<std::string> {};

TEST_P(PackedWeightOnly, DequantizesBitForBitAndMultiplies) {
  std::optional<Format> format = lookupFormat(GetParam());
  ASSERT_TRUE(format);
  const int64_t outputs = 6, depth = 256;
  std::vector<float> w = randomValues(outputs * depth, 19, 0.05f);
  std::vector<uint8_t> blob(outputs * *getFormatInfo(*format).rowBytes(depth));
  ASSERT_EQ(
      quantizeRows(*format, w.data(), blob.data(), outputs, depth, nullptr),
      blob.size());
  std::vector<float> dequantized(w.size());
  ASSERT_TRUE(
      dequantizeRows(*format, blob.data(), dequantized.data(), outputs, depth));
  std::string type = "!qc.packed<" + std::to_string(outputs) + "x" +
                     std::to_string(depth) + ", " + GetParam() + ">";
  std::unique_ptr<Compiled> compiled =
      Compiled::fromText(linearModule(type, depth, outputs, ""));
  ASSERT_TRUE(compiled);
  std::vector<float> eye = identity(depth);
  expectBitIdentical(runLinear(*compiled, blob, eye, depth, depth, outputs),
                     transpose(dequantized, outputs, depth), outputs);
  std::vector<float> x = randomValues(3 * depth, 20);
  expectClose(runLinear(*compiled, blob, x, 3, depth, outputs), x, dequantized,
              3, depth, outputs);
}

INSTANTIATE_TEST_SUITE_P(Formats, PackedWeightOnly,
                         testing::Values("q8_0", "q4_0", "q4_K", "q6_K",
                                         "iq4_xs"),
                         [](const testing::TestParamInfo<std::string> &info) {
                           return info.param;
                         });

//===----------------------------------------------------------------------===//
// FP8
//===----------------------------------------------------------------------===//

/// Every E4M3FN code but NaN, in an 8 x 32 weight.
std::vector<uint8_t> allFP8Codes() {
  std::vector<uint8_t> codes(256);
  for (int i = 0; i < 256; ++i)
    codes[i] = (i & 0x7F) == 0x7F ? 0 : static_cast<uint8_t>(i);
  return codes;
}

std::string fp8Type(int64_t rows, int64_t cols) {
  return "tensor<" + std::to_string(rows) + "x" + std::to_string(cols) +
         "xf8E4M3FN>";
}

class FP8Linear : public testing::TestWithParam<bool> {};

TEST_P(FP8Linear, WeightsDecodeBitForBit) {
  bool fuse = GetParam();
  const int64_t outputs = 8, depth = 32;
  std::vector<uint8_t> blob = allFP8Codes();
  std::unique_ptr<Compiled> compiled =
      Compiled::fromText(linearModule(fp8Type(outputs, depth), depth, outputs,
                                      "weight_scale(0.5)"),
                         fuse);
  ASSERT_TRUE(compiled);
  std::vector<float> want(outputs * depth);
  for (size_t i = 0; i < want.size(); ++i)
    want[i] = fp8ToFp32(blob[i], FP8Kind::E4M3FN) * 0.5f;
  std::vector<float> eye = identity(depth);
  expectBitIdentical(runLinear(*compiled, blob, eye, depth, depth, outputs),
                     transpose(want, outputs, depth), outputs);
}

TEST_P(FP8Linear, ActivationsThroughE4M3) {
  bool fuse = GetParam();
  const int64_t tokens = 19, depth = 64, outputs = 24;
  const float weightScale = 0.0037f, inputScale = 0.021f;
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> code(0, 255);
  std::vector<uint8_t> blob(outputs * depth);
  for (uint8_t &byte : blob) {
    byte = static_cast<uint8_t>(code(rng));
    if ((byte & 0x7F) == 0x7F) // no NaN weights
      byte = 0x38;
  }
  std::ostringstream attrs;
  attrs << "weight_scale(" << weightScale << ") input_scale(" << inputScale
        << ")";
  std::unique_ptr<Compiled> compiled = Compiled::fromText(
      linearModule(fp8Type(outputs, depth), depth, outputs, attrs.str()), fuse);
  ASSERT_TRUE(compiled);
  // Activations up to 12 / 0.021 = 571 > 448 in E4M3 units: some saturate.
  std::vector<float> x = randomValues(tokens * depth, 13, 3.0f);
  x[1] = 12.0f;
  x[2] = -12.0f;
  std::vector<uint8_t> xCodes(x.size());
  quantizeFP8E4M3(x.data(), x.size(), inputScale, xCodes.data());
  std::vector<float> xd(x.size()), wd(blob.size());
  for (size_t i = 0; i < x.size(); ++i)
    xd[i] = fp8ToFp32(xCodes[i], FP8Kind::E4M3FN);
  for (size_t i = 0; i < blob.size(); ++i)
    wd[i] = fp8ToFp32(blob[i], FP8Kind::E4M3FN);
  std::vector<float> y = runLinear(*compiled, blob, x, tokens, depth, outputs);
  expectClose(y, xd, wd, tokens, depth, outputs, inputScale * weightScale);
}

TEST_P(FP8Linear, WeightOnlyProduct) {
  bool fuse = GetParam();
  const int64_t tokens = 5, depth = 48, outputs = 16;
  std::mt19937 rng(14);
  std::uniform_int_distribution<int> code(0, 255);
  std::vector<uint8_t> blob(outputs * depth);
  for (uint8_t &byte : blob) {
    byte = static_cast<uint8_t>(code(rng));
    if ((byte & 0x7F) == 0x7F) // no NaN weights
      byte = 0;
  }
  std::unique_ptr<Compiled> compiled =
      Compiled::fromText(linearModule(fp8Type(outputs, depth), depth, outputs,
                                      "weight_scale(0.125)"),
                         fuse);
  ASSERT_TRUE(compiled);
  std::vector<float> x = randomValues(tokens * depth, 15);
  std::vector<float> wd(blob.size());
  for (size_t i = 0; i < blob.size(); ++i)
    wd[i] = fp8ToFp32(blob[i], FP8Kind::E4M3FN);
  expectClose(runLinear(*compiled, blob, x, tokens, depth, outputs), x, wd,
              tokens, depth, outputs, 0.125f);
}

INSTANTIATE_TEST_SUITE_P(Dequantize, FP8Linear, testing::Bool(),
                         [](const testing::TestParamInfo<bool> &info) {
                           return info.param ? "Fused" : "Materialized";
                         });

//===----------------------------------------------------------------------===//
// The FP8 codec alone, over every exponent
//===----------------------------------------------------------------------===//

/// `@encode(x: tensor<?xf32>, out: tensor<?xi8>)` and `@decode(codes:
/// tensor<?xi8>, out: tensor<?xf32>)`, one element per linalg.generic
/// iteration, built with the builders convert-qc-to-linalg uses.
std::unique_ptr<Compiled> compileCodec() {
  std::unique_ptr<Compiled> compiled = Compiled::create();
  mlir::MLIRContext &context = compiled->getContext();
  mlir::OpBuilder b(&context);
  mlir::Location loc = b.getUnknownLoc();
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  auto addFunction = [&](llvm::StringRef name, mlir::Type from, mlir::Type to,
                         auto element) {
    auto fromType =
        mlir::RankedTensorType::get({mlir::ShapedType::kDynamic}, from);
    auto toType = mlir::RankedTensorType::get({mlir::ShapedType::kDynamic}, to);
    auto function = mlir::func::FuncOp::create(
        b, loc, name, b.getFunctionType({fromType, toType}, {toType}));
    mlir::OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(function.addEntryBlock());
    mlir::AffineMap id = b.getMultiDimIdentityMap(1);
    auto generic = mlir::linalg::GenericOp::create(
        b, loc, mlir::TypeRange{toType}, function.getArgument(0),
        function.getArgument(1), mlir::ArrayRef<mlir::AffineMap>{id, id},
        mlir::ArrayRef<mlir::utils::IteratorType>{
            mlir::utils::IteratorType::parallel},
        [&](mlir::OpBuilder &nb, mlir::Location l, mlir::ValueRange args) {
          mlir::linalg::YieldOp::create(nb, l, element(nb, l, args[0]));
        });
    mlir::func::ReturnOp::create(b, loc, generic.getResult(0));
  };
  addFunction("encode", b.getF32Type(), b.getI8Type(),
              [](mlir::OpBuilder &nb, mlir::Location l, mlir::Value v) {
                return mlir::qc::buildFP32ToFP8E4M3FN(nb, l, v);
              });
  addFunction("decode", b.getI8Type(), b.getF32Type(),
              [](mlir::OpBuilder &nb, mlir::Location l, mlir::Value v) {
                return mlir::qc::buildFP8E4M3FNToFP32(nb, l, v);
              });
  if (!compiled->compile(*module))
    return nullptr;
  return compiled;
}

std::vector<uint8_t> encode(Compiled &codec, std::vector<float> &values) {
  std::vector<uint8_t> codes(values.size(), 0xAA);
  auto in = vectorRef(values);
  auto out = vectorRef(codes);
  codec.call("encode", {&in, &out});
  return codes;
}

/// Bit patterns around every rounding decision of every exponent: for each
/// sign and f32 exponent, mantissas whose top bits take all small patterns
/// and whose dropped bits sit at 0, 1, just below, at and just above half,
/// and all ones, for every shift the encoder can use (20 for normals, 21
/// to 24 for subnormals), plus random mantissas.
std::vector<float> boundarySample() {
  std::mt19937 rng(16);
  std::uniform_int_distribution<uint32_t> mantissa(0, (1u << 23) - 1);
  std::vector<float> values;
  for (uint32_t sign = 0; sign < 2; ++sign)
    for (uint32_t exponent = 0; exponent < 256; ++exponent) {
      auto add = [&](uint32_t m) {
        uint32_t bits = sign << 31 | exponent << 23 | (m & 0x7FFFFF);
        float value;
        std::memcpy(&value, &bits, 4);
        values.push_back(value);
      };
      for (int shift = 20; shift <= 24; ++shift) {
        uint32_t half = 1u << (shift - 1);
        for (uint32_t kept = 0; kept < 16; ++kept)
          for (uint32_t tail : {0u, 1u, half - 1, half, half + 1, 2 * half - 1})
            add((kept << shift) | tail);
      }
      for (int i = 0; i < 64; ++i)
        add(mantissa(rng));
    }
  return values;
}

void expectEncodesLikeNumerics(Compiled &codec, std::vector<float> &values) {
  std::vector<uint8_t> codes = encode(codec, values);
  int64_t mismatches = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    uint8_t want = fp32ToFP8(values[i], FP8Kind::E4M3FN, FP8Overflow::Saturate);
    if (codes[i] != want && mismatches++ < 5) {
      uint32_t bits;
      std::memcpy(&bits, &values[i], 4);
      ADD_FAILURE() << "f32 0x" << std::hex << bits << ": got 0x"
                    << int(codes[i]) << ", want 0x" << int(want);
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << values.size();
}

TEST(FP8Codec, EncodesEveryExponentAndRoundingBoundary) {
  std::unique_ptr<Compiled> codec = compileCodec();
  ASSERT_TRUE(codec);
  std::vector<float> values = boundarySample();
  expectEncodesLikeNumerics(*codec, values);
}

TEST(FP8Codec, EncodesAStridedSweepOfAllFloats) {
  std::unique_ptr<Compiled> codec = compileCodec();
  ASSERT_TRUE(codec);
  // Every f32 bit pattern whose index is a multiple of a prime near 4096
  // (about a million values); QUANTC_EXHAUSTIVE_FP8=1 runs all 2^32.
  bool exhaustive = std::getenv("QUANTC_EXHAUSTIVE_FP8") != nullptr;
  uint64_t stride = exhaustive ? 1 : 4093;
  const uint64_t chunk = uint64_t(1) << 24;
  std::vector<float> values;
  for (uint64_t start = 0; start < (uint64_t(1) << 32);) {
    values.clear();
    for (uint64_t bits = start;
         bits < (uint64_t(1) << 32) && values.size() < chunk; bits += stride) {
      auto word = static_cast<uint32_t>(bits);
      float value;
      std::memcpy(&value, &word, 4);
      values.push_back(value);
      start = bits + stride;
    }
    expectEncodesLikeNumerics(*codec, values);
    if (HasFailure())
      return;
  }
}

TEST(FP8Codec, DecodesAllCodesAndRoundTrips) {
  std::unique_ptr<Compiled> codec = compileCodec();
  ASSERT_TRUE(codec);
  std::vector<int8_t> codes(256);
  for (int i = 0; i < 256; ++i)
    codes[i] = static_cast<int8_t>(i);
  std::vector<float> values(256);
  auto in = vectorRef(codes);
  auto out = vectorRef(values);
  codec->call("decode", {&in, &out});
  for (int i = 0; i < 256; ++i) {
    float want = fp8ToFp32(static_cast<uint8_t>(i), FP8Kind::E4M3FN);
    EXPECT_TRUE(sameBits(values[i], want))
        << "code " << i << ": " << values[i] << " vs " << want;
    if ((i & 0x7F) == 0x7F) {
      uint32_t bits;
      std::memcpy(&bits, &values[i], 4);
      EXPECT_EQ(bits, (i & 0x80 ? 0x80000000u : 0u) | 0x7FC00000u);
    }
  }
  // Encoding the decoded values gives the codes back (NaN included).
  std::vector<uint8_t> again = encode(*codec, values);
  for (int i = 0; i < 256; ++i)
    EXPECT_EQ(again[i], static_cast<uint8_t>(i)) << "code " << i;
}

//===----------------------------------------------------------------------===//
// Speed (not a test: run with --gtest_also_run_disabled_tests)
//===----------------------------------------------------------------------===//

template <typename F> double medianMs(F &&run, int reps = 21) {
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    auto start = std::chrono::steady_clock::now();
    run();
    times.push_back(std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - start)
                        .count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

TEST(QCToLinalgSpeed, DISABLED_W8A8AgainstFloat) {
  const int64_t tokens = 256, depth = 768, outputs = 256;
  std::vector<float> w = randomValues(outputs * depth, 17, 0.05f);
  std::vector<float> x = randomValues(tokens * depth, 18);
  GroupedFormat int8{8, true, 0}, int4{4, false, 32};
  std::vector<uint8_t> blob8 = packWeights(w, outputs, depth, int8);
  std::vector<uint8_t> blob4 = packWeights(w, outputs, depth, int4);
  std::vector<uint8_t> floatBytes(w.size() * 4);
  std::memcpy(floatBytes.data(), w.data(), floatBytes.size());
  std::string floatType = "tensor<256x768xf32>";
  std::string floatModule =
      "ml_program.global private @w(#qc.external<path = \"w.bin\", offset = "
      "0>) : tensor<256x768xf32>\n"
      "func.func @f(%x: tensor<?x768xf32>, %out: tensor<?x256xf32>) -> "
      "tensor<?x256xf32> {\n"
      "  %w = ml_program.global_load_const @w : tensor<256x768xf32>\n"
      "  %zero = arith.constant 0.0 : f32\n"
      "  %z = linalg.fill ins(%zero : f32) outs(%out : tensor<?x256xf32>) -> "
      "tensor<?x256xf32>\n"
      "  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, "
      "affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]\n"
      "      ins(%x, %w : tensor<?x768xf32>, tensor<256x768xf32>) outs(%z : "
      "tensor<?x256xf32>) -> tensor<?x256xf32>\n"
      "  return %y : tensor<?x256xf32>\n"
      "}\n";
  struct Variant {
    const char *name;
    std::string text;
    std::vector<uint8_t> *blob;
  } variants[] = {
      {"f32 linalg.matmul", floatModule, &floatBytes},
      {"W8A8 dynamic per-token",
       linearModule(groupedType(outputs, depth, int8), depth, outputs,
                    "dynamic(per_token)"),
       &blob8},
      {"W8A8 static",
       linearModule(groupedType(outputs, depth, int8), depth, outputs,
                    "static(!quant.uniform<i8:f32, 0.02:-3>)"),
       &blob8},
      {"int8 weight-only",
       linearModule(groupedType(outputs, depth, int8), depth, outputs, ""),
       &blob8},
      {"int4 g32 weight-only",
       linearModule(groupedType(outputs, depth, int4), depth, outputs, ""),
       &blob4},
  };
  for (Variant &variant : variants) {
    std::unique_ptr<Compiled> compiled = Compiled::fromText(variant.text);
    ASSERT_TRUE(compiled);
    for (int64_t m : {tokens, int64_t(1)}) {
      double ms = medianMs(
          [&] { runLinear(*compiled, *variant.blob, x, m, depth, outputs); });
      std::printf("%-24s M=%-4lld %8.3f ms  %7.2f GMAC/s\n", variant.name,
                  static_cast<long long>(m), ms,
                  m * depth * outputs / (ms * 1e6));
    }
  }
}

} // namespace
