//===- QuantizeTest.cpp - qc-quantize's weights file, byte for byte -------===//
//
// The bytes qc-quantize writes for a weight are the numerics library's own
// encoding of that weight (packGrouped, the block quantizers, FP8), at the
// offset the IR names; float weights are copied unchanged.
//
//===----------------------------------------------------------------------===//

#include "quantc/InitAll.h"
#include "quantc/Numerics/BlockCodecs.h"
#include "quantc/Numerics/Float.h"
#include "quantc/Numerics/GroupedAffine.h"
#include "quantc/Numerics/QuantizedLinear.h"
#include "quantc/Numerics/Scheme.h"
#include "quantc/Transforms/Passes.h"

#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

using namespace mlir;

namespace {

/// Deterministic weights in [-scale, scale] (a 32-bit LCG).
std::vector<float> makeWeights(int64_t count, float scale, uint32_t seed) {
  std::vector<float> values(static_cast<size_t>(count));
  uint32_t state = seed;
  for (float &value : values) {
    state = state * 1664525u + 1013904223u;
    value = scale * (static_cast<float>(state >> 8) / float(1 << 24) * 2 - 1);
  }
  return values;
}

std::vector<float> transpose(const std::vector<float> &values, int64_t rows,
                             int64_t cols) {
  std::vector<float> out(values.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[c * rows + r] = values[r * cols + c];
  return out;
}

class QuantizeTest : public ::testing::Test {
protected:
  QuantizeTest() {
    DialectRegistry registry;
    quantc::registerAllDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("quantc-quantize", dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  std::string pathOf(StringRef name) const {
    SmallString<256> path(dir);
    llvm::sys::path::append(path, name);
    return std::string(path);
  }

  /// A module computing one projection per weight: `x * W^T` (or `x * W`
  /// with `plain`), each weight a dense global filled with `values`.
  OwningOpRef<ModuleOp> parse(StringRef ir) {
    return parseSourceString<ModuleOp>(ir, &context);
  }

  /// Runs qc-quantize, returning false (with the diagnostics in `errors`)
  /// when it fails.
  bool quantize(ModuleOp module, qc::QCQuantizeOptions options) {
    errors.clear();
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      errors += diag.str() + "\n";
      return success();
    });
    PassManager pm(&context);
    pm.addPass(qc::createQCQuantize(std::move(options)));
    return succeeded(pm.run(module));
  }

  static void setWeight(ModuleOp module, StringRef name,
                        const std::vector<float> &values) {
    auto global = cast<ml_program::GlobalOp>(SymbolTable::lookupSymbolIn(
        module, StringAttr::get(module.getContext(), name)));
    auto type = cast<RankedTensorType>(global.getType());
    global.setValueAttr(DenseElementsAttr::get(type, ArrayRef<float>(values)));
  }

  static ml_program::GlobalOp global(ModuleOp module, StringRef name) {
    return cast_if_present<ml_program::GlobalOp>(SymbolTable::lookupSymbolIn(
        module, StringAttr::get(module.getContext(), name)));
  }

  /// The bytes of `name` in the weights file its value points at.
  static std::vector<uint8_t> bytesOf(ModuleOp module, StringRef name,
                                      uint64_t size) {
    auto external = cast<qc::ExternalAttr>(*global(module, name).getValue());
    EXPECT_EQ(external.getOffset() % 64, 0u) << name.str();
    std::ifstream file(external.getPath().str(), std::ios::binary);
    std::vector<uint8_t> all((std::istreambuf_iterator<char>(file)),
                             std::istreambuf_iterator<char>());
    EXPECT_LE(external.getOffset() + size, all.size()) << name.str();
    if (external.getOffset() + size > all.size())
      return {};
    return std::vector<uint8_t>(all.begin() + external.getOffset(),
                                all.begin() + external.getOffset() + size);
  }

  MLIRContext context;
  SmallString<128> dir;
  std::string errors;
};

constexpr const char *kTwoProjections = R"mlir(
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
ml_program.global private @a.weight(dense<0.0> : tensor<8x80xf32>) : tensor<8x80xf32>
ml_program.global private @b.weight(dense<0.0> : tensor<4x256xf32>) : tensor<4x256xf32>
func.func @forward(%x: tensor<?x80xf32>, %h: tensor<?x256xf32>, %za: tensor<?x8xf32>, %zb: tensor<?x4xf32>) -> (tensor<?x8xf32>, tensor<?x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %fa = linalg.fill ins(%zero : f32) outs(%za : tensor<?x8xf32>) -> tensor<?x8xf32>
  %fb = linalg.fill ins(%zero : f32) outs(%zb : tensor<?x4xf32>) -> tensor<?x4xf32>
  %a = ml_program.global_load_const @a.weight : tensor<8x80xf32>
  %ya = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%x, %a : tensor<?x80xf32>, tensor<8x80xf32>) outs(%fa : tensor<?x8xf32>) -> tensor<?x8xf32>
  %b = ml_program.global_load_const @b.weight : tensor<4x256xf32>
  %yb = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%h, %b : tensor<?x256xf32>, tensor<4x256xf32>) outs(%fb : tensor<?x4xf32>) -> tensor<?x4xf32>
  return %ya, %yb : tensor<?x8xf32>, tensor<?x4xf32>
}
)mlir";

TEST_F(QuantizeTest, GroupedBytesArePackGrouped) {
  for (const char *scheme : {"int4-g32", "int3-g16", "int8", "w8a8"}) {
    OwningOpRef<ModuleOp> module = parse(kTwoProjections);
    ASSERT_TRUE(module);
    std::vector<float> a = makeWeights(8 * 80, 0.1f, 1);
    std::vector<float> b = makeWeights(4 * 256, 2.0f, 2);
    setWeight(*module, "a.weight", a);
    setWeight(*module, "b.weight", b);
    qc::QCQuantizeOptions options;
    options.schemeName = scheme;
    options.weightsFile = pathOf("w.bin");
    ASSERT_TRUE(quantize(*module, options)) << scheme << ": " << errors;

    std::string error;
    quantc::Scheme parsed = *quantc::parseScheme(scheme, error);
    for (auto [name, values, rows, cols] :
         {std::make_tuple("a.weight", &a, 8, 80),
          std::make_tuple("b.weight", &b, 4, 256)}) {
      auto type = cast<qc::GroupedType>(global(*module, name).getType());
      EXPECT_EQ(type.getFormat(), parsed.grouped) << scheme;
      uint64_t size =
          quantc::groupedLayout(parsed.grouped, rows, cols).totalBytes;
      std::vector<uint8_t> expected(size);
      ASSERT_TRUE(quantc::packGrouped(values->data(), rows, cols,
                                      parsed.grouped, expected.data()));
      EXPECT_EQ(bytesOf(*module, name, size), expected)
          << scheme << " " << name;
    }
  }
}

TEST_F(QuantizeTest, BlockBytesAreTheBlockQuantizers) {
  // a's rows of 80 take no 32-element block: f16 after q4_0, q5_0 after
  // q4_K (via f16, since q5_0 does not divide 80 either).
  struct Case {
    const char *scheme;
    quantc::Format a, b;
  };
  for (Case c : {Case{"q4_0", quantc::Format::F16, quantc::Format::Q4_0},
                 Case{"q4_K", quantc::Format::F16, quantc::Format::Q4_K},
                 Case{"q6_K", quantc::Format::F16, quantc::Format::Q6_K},
                 Case{"iq4_xs", quantc::Format::F16, quantc::Format::IQ4_XS},
                 Case{"bf16", quantc::Format::BF16, quantc::Format::BF16}}) {
    OwningOpRef<ModuleOp> module = parse(kTwoProjections);
    ASSERT_TRUE(module);
    std::vector<float> a = makeWeights(8 * 80, 0.5f, 3);
    std::vector<float> b = makeWeights(4 * 256, 0.05f, 4);
    setWeight(*module, "a.weight", a);
    setWeight(*module, "b.weight", b);
    qc::QCQuantizeOptions options;
    options.schemeName = c.scheme;
    options.weightsFile = pathOf("w.bin");
    ASSERT_TRUE(quantize(*module, options)) << c.scheme << ": " << errors;
    for (auto [name, values, rows, cols, format] :
         {std::make_tuple("a.weight", &a, 8, 80, c.a),
          std::make_tuple("b.weight", &b, 4, 256, c.b)}) {
      uint64_t size =
          rows * *quantc::getFormatInfo(format).rowBytes(uint64_t(cols));
      std::vector<uint8_t> expected(size);
      ASSERT_EQ(quantc::quantizeRows(format, values->data(), expected.data(),
                                     rows, cols, nullptr),
                size);
      EXPECT_EQ(bytesOf(*module, name, size), expected)
          << c.scheme << " " << name;
      EXPECT_EQ(global(*module, name)
                    ->getAttrOfType<StringAttr>("qc.format")
                    .getValue()
                    .str(),
                std::string(quantc::getFormatInfo(format).name));
    }
  }
}

TEST_F(QuantizeTest, SqnrComesFromTheDecoders) {
  OwningOpRef<ModuleOp> module = parse(kTwoProjections);
  ASSERT_TRUE(module);
  std::vector<float> b = makeWeights(4 * 256, 1.0f, 5);
  setWeight(*module, "a.weight", makeWeights(8 * 80, 1.0f, 6));
  setWeight(*module, "b.weight", b);
  qc::QCQuantizeOptions options;
  options.schemeName = "q4_K";
  options.weightsFile = pathOf("w.bin");
  ASSERT_TRUE(quantize(*module, options)) << errors;
  std::vector<uint8_t> packed = bytesOf(*module, "b.weight", 4 * 144);
  std::vector<float> decoded(b.size());
  ASSERT_TRUE(quantc::dequantizeRows(quantc::Format::Q4_K, packed.data(),
                                     decoded.data(), 4, 256));
  double signal = 0, noise = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    signal += double(b[i]) * b[i];
    noise += (double(b[i]) - decoded[i]) * (double(b[i]) - decoded[i]);
  }
  auto sqnr =
      global(*module, "b.weight")->getAttrOfType<FloatAttr>("qc.sqnr_db");
  ASSERT_TRUE(sqnr);
  EXPECT_DOUBLE_EQ(sqnr.getValueAsDouble(), 10 * std::log10(signal / noise));
  // A 4.5-bit format on uniform weights: about 6 dB per bit.
  EXPECT_GT(sqnr.getValueAsDouble(), 18.0);
  EXPECT_LT(sqnr.getValueAsDouble(), 30.0);
}

TEST_F(QuantizeTest, FP8BytesAndScales) {
  OwningOpRef<ModuleOp> module = parse(R"mlir(
ml_program.global private @w(dense<0.0> : tensor<4x32xf32>) : tensor<4x32xf32>
func.func @f(%x: tensor<?x32xf32>, %z: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %ox = qc.observe %x "f/in0" stats(#qc.stats<count = 4, min = [-3.0], max = [8.96]>) : tensor<?x32xf32>
  %w = ml_program.global_load_const @w : tensor<4x32xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ins(%ox, %w : tensor<?x32xf32>, tensor<4x32xf32>) outs(%z : tensor<?x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
)mlir");
  ASSERT_TRUE(module);
  std::vector<float> w = makeWeights(4 * 32, 3.0f, 7);
  setWeight(*module, "w", w);
  qc::QCQuantizeOptions options;
  options.schemeName = "fp8";
  options.weightsFile = pathOf("w.bin");
  ASSERT_TRUE(quantize(*module, options)) << errors;
  float absMax = 0;
  for (float value : w)
    absMax = std::max(absMax, std::fabs(value));
  float scale = quantc::fp8E4M3Scale(absMax);
  std::vector<uint8_t> expected(w.size());
  quantc::quantizeFP8E4M3(w.data(), static_cast<int64_t>(w.size()), scale,
                          expected.data());
  EXPECT_EQ(bytesOf(*module, "w", w.size()), expected);
  qc::LinearOp linear;
  module->walk([&](qc::LinearOp op) { linear = op; });
  ASSERT_TRUE(linear);
  EXPECT_EQ(linear.getWeightScale()->convertToFloat(), scale);
  EXPECT_EQ(linear.getInputScale()->convertToFloat(),
            quantc::fp8E4M3Scale(8.96f));
}

TEST_F(QuantizeTest, PlainMatmulWeightsArePackedTransposed) {
  OwningOpRef<ModuleOp> module = parse(R"mlir(
ml_program.global private @w(dense<0.0> : tensor<48x5xf32>) : tensor<48x5xf32>
func.func @f(%x: tensor<3x48xf32>, %z: tensor<3x5xf32>) -> tensor<3x5xf32> {
  %w = ml_program.global_load_const @w : tensor<48x5xf32>
  %y = linalg.matmul ins(%x, %w : tensor<3x48xf32>, tensor<48x5xf32>) outs(%z : tensor<3x5xf32>) -> tensor<3x5xf32>
  return %y : tensor<3x5xf32>
}
)mlir");
  ASSERT_TRUE(module);
  std::vector<float> w = makeWeights(48 * 5, 1.0f, 8);
  setWeight(*module, "w", w);
  qc::QCQuantizeOptions options;
  options.schemeName = "int4-g16";
  options.weightsFile = pathOf("w.bin");
  ASSERT_TRUE(quantize(*module, options)) << errors;
  quantc::GroupedFormat format{4, false, 16};
  std::vector<float> rows = transpose(w, 48, 5);
  uint64_t size = quantc::groupedLayout(format, 5, 48).totalBytes;
  std::vector<uint8_t> expected(size);
  ASSERT_TRUE(quantc::packGrouped(rows.data(), 5, 48, format, expected.data()));
  EXPECT_EQ(bytesOf(*module, "w", size), expected);
  EXPECT_EQ(cast<qc::GroupedType>(global(*module, "w").getType()).getShape(),
            ArrayRef<int64_t>({5, 48}));
}

// Weights in a checkpoint (f16 here): the quantized one is the encoding of
// its f16 values; the float one (a norm) is copied byte for byte; the file
// is the blobs, 64-byte aligned, and nothing else.
TEST_F(QuantizeTest, ExternalWeightsAreDecodedAndCopied) {
  std::vector<float> weight = makeWeights(4 * 64, 0.3f, 9);
  std::vector<uint16_t> halves(weight.size());
  quantc::fp32ToFp16Row(weight.data(), halves.data(),
                        static_cast<int64_t>(weight.size()));
  std::vector<float> norm = makeWeights(64, 1.0f, 10);
  std::string checkpoint = pathOf("model.bin");
  {
    std::ofstream out(checkpoint, std::ios::binary);
    out.write("header!", 7); // odd offsets: f16 data read unaligned
    out.write(reinterpret_cast<const char *>(halves.data()), halves.size() * 2);
    out.write(reinterpret_cast<const char *>(norm.data()), norm.size() * 4);
  }
  std::string ir = R"mlir(
ml_program.global private @w(#qc.external<path = "@FILE@", offset = 7>) : tensor<4x64xf16>
ml_program.global private @norm(#qc.external<path = "@FILE@", offset = 519>) : tensor<64xf32>
ml_program.global private @unused(#qc.external<path = "@FILE@", offset = 0>) : tensor<2xf32>
func.func @f(%x: tensor<?x64xf32>, %z: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<64xf32>) {
  %w = ml_program.global_load_const @w : tensor<4x64xf16>
  %e = tensor.empty() : tensor<4x64xf32>
  %wide = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<4x64xf16>) outs(%e : tensor<4x64xf32>) {
  ^bb0(%in: f16, %out: f32):
    %v = arith.extf %in : f16 to f32
    linalg.yield %v : f32
  } -> tensor<4x64xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ins(%x, %wide : tensor<?x64xf32>, tensor<4x64xf32>) outs(%z : tensor<?x4xf32>) -> tensor<?x4xf32>
  %n = ml_program.global_load_const @norm : tensor<64xf32>
  return %y, %n : tensor<?x4xf32>, tensor<64xf32>
}
)mlir";
  for (size_t at; (at = ir.find("@FILE@")) != std::string::npos;)
    ir.replace(at, 6, checkpoint);
  OwningOpRef<ModuleOp> module = parse(ir);
  ASSERT_TRUE(module);
  qc::QCQuantizeOptions options;
  options.schemeName = "q8_0";
  options.weightsFile = pathOf("out/../w.bin");
  ASSERT_TRUE(quantize(*module, options)) << errors;

  std::vector<float> decoded(weight.size());
  quantc::fp16ToFp32Row(halves.data(), decoded.data(),
                        static_cast<int64_t>(decoded.size()));
  std::vector<uint8_t> expected(4 * 2 * 34);
  quantc::quantizeRows(quantc::Format::Q8_0, decoded.data(), expected.data(), 4,
                       64, nullptr);
  EXPECT_EQ(bytesOf(*module, "w", expected.size()), expected);
  std::vector<uint8_t> normBytes(norm.size() * 4);
  std::memcpy(normBytes.data(), norm.data(), normBytes.size());
  EXPECT_EQ(bytesOf(*module, "norm", normBytes.size()), normBytes);
  EXPECT_FALSE(global(*module, "unused")) << "unused external globals go";
  // w (272 bytes) at 0, the norm at 320.
  EXPECT_EQ(
      cast<qc::ExternalAttr>(*global(*module, "norm").getValue()).getOffset(),
      320u);
  uint64_t fileSize = 0;
  ASSERT_FALSE(llvm::sys::fs::file_size(pathOf("w.bin"), fileSize));
  EXPECT_EQ(fileSize, 320u + 256u);
  EXPECT_EQ(cast<qc::ExternalAttr>(*global(*module, "w").getValue()).getPath(),
            pathOf("w.bin"))
      << "weights-file is made absolute and normalized";
}

TEST_F(QuantizeTest, FailureWritesNothing) {
  OwningOpRef<ModuleOp> module = parse(kTwoProjections);
  ASSERT_TRUE(module);
  std::vector<float> a = makeWeights(8 * 80, 1.0f, 11);
  a[77] = std::nanf("");
  setWeight(*module, "a.weight", a);
  qc::QCQuantizeOptions options;
  options.schemeName = "int8";
  options.weightsFile = pathOf("w.bin");
  EXPECT_FALSE(quantize(*module, options));
  EXPECT_NE(errors.find("weight 'a.weight' has a non-finite value (nan) at "
                        "[0, 77]"),
            std::string::npos)
      << errors;
  EXPECT_FALSE(llvm::sys::fs::exists(pathOf("w.bin")));
  std::error_code ec;
  llvm::sys::fs::directory_iterator it(dir, ec), end;
  EXPECT_TRUE(it == end) << "a temporary file was left behind";
}

} // namespace
