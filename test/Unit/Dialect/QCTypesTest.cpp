//===- QCTypesTest.cpp - qc types and attributes through the C++ API ------===//

#include "QC/QCOps.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::qc;

namespace {

class QCDialectTest : public ::testing::Test {
protected:
  QCDialectTest() { context.loadDialect<QCDialect>(); }

  /// Runs `build`, returning the first diagnostic it reported.
  template <typename Fn>
  std::string firstDiagnostic(Fn build) {
    std::string message;
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      if (message.empty())
        message = diag.str();
      return success();
    });
    build();
    return message;
  }

  MLIRContext context;
};

TEST_F(QCDialectTest, PackedTypeSizeComesFromTheRegistry) {
  auto type = PackedType::get(&context, {4096, 4096}, ::quantc::Format::Q4_K);
  EXPECT_EQ(type.getNumRows(), 4096);
  EXPECT_EQ(type.getRowLength(), 4096);
  EXPECT_EQ(type.getSizeInBytes(), 4096u * 16 * 144);
  auto q8 = PackedType::get(&context, {2, 3, 64}, ::quantc::Format::Q8_0);
  EXPECT_EQ(q8.getNumRows(), 6);
  EXPECT_EQ(q8.getSizeInBytes(), 6u * 2 * 34);
}

TEST_F(QCDialectTest, PackedTypeRefusesRaggedRows) {
  std::string message = firstDiagnostic([&] {
    auto type = PackedType::getChecked(
        [&] { return emitError(UnknownLoc::get(&context)); }, &context,
        ArrayRef<int64_t>{64, 172}, ::quantc::Format::Q4_K);
    EXPECT_FALSE(type);
  });
  EXPECT_NE(message.find("not a multiple of the q4_K block size 256"),
            std::string::npos)
      << message;
}

TEST_F(QCDialectTest, ParsedTypeMatchesBuiltType) {
  Type parsed = parseType("!qc.packed<32x4096, iq4_xs>", &context);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed,
            PackedType::get(&context, {32, 4096}, ::quantc::Format::IQ4_XS));
}

TEST_F(QCDialectTest, StatsAbsMaxIsPerSlice) {
  auto stats = StatsAttr::get(&context, 10, int64_t(0),
                              DenseF64ArrayAttr::get(&context, {-3.0, 0.5}),
                              DenseF64ArrayAttr::get(&context, {1.0, 2.0}),
                              HistogramAttr());
  EXPECT_TRUE(stats.isPerChannel());
  EXPECT_DOUBLE_EQ(stats.getAbsMax(0), 3.0);
  EXPECT_DOUBLE_EQ(stats.getAbsMax(1), 2.0);
}

TEST_F(QCDialectTest, UniformVerificationCatchesNaNScale) {
  context.loadDialect<quant::QuantDialect>();
  Builder b(&context);
  auto type = quant::UniformQuantizedType::get(
      quant::QuantizationFlags::Signed, b.getI8Type(), b.getF32Type(),
      std::numeric_limits<double>::quiet_NaN(), 0, -128, 127);
  std::string message = firstDiagnostic([&] {
    EXPECT_TRUE(failed(verifyUniformQuantization(
        [&] { return emitError(UnknownLoc::get(&context)); }, {4},
        b.getF32Type(), type)));
  });
  EXPECT_NE(message.find("must be finite and > 0"), std::string::npos)
      << message;
}

} // namespace
