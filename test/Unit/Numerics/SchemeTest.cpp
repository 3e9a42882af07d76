//===- SchemeTest.cpp - scheme names and llama.cpp's row fallbacks --------===//

#include "quantc/Numerics/Scheme.h"

#include "quantc/Numerics/BlockCodecs.h"

#include <gtest/gtest.h>

#include <string>

using namespace quantc;

namespace {

Scheme parseOrDie(std::string_view text) {
  std::string error;
  std::optional<Scheme> scheme = parseScheme(text, error);
  EXPECT_TRUE(scheme.has_value()) << text << ": " << error;
  return scheme.value_or(Scheme());
}

std::string parseError(std::string_view text) {
  std::string error;
  EXPECT_FALSE(parseScheme(text, error).has_value()) << text;
  return error;
}

TEST(Scheme, ActivationSchemes) {
  Scheme w8a8 = parseOrDie("w8a8");
  EXPECT_EQ(w8a8.weights, WeightStorage::Grouped);
  EXPECT_EQ(w8a8.grouped, (GroupedFormat{8, true, 0}));
  EXPECT_EQ(w8a8.activations, ActivationQuantization::DynamicPerToken);
  EXPECT_FALSE(w8a8.needsCalibration());
  EXPECT_EQ(w8a8.weightFormatName(), "si8");

  Scheme staticInt8 = parseOrDie("w8a8-static");
  EXPECT_EQ(staticInt8.grouped, (GroupedFormat{8, true, 0}));
  EXPECT_EQ(staticInt8.activations, ActivationQuantization::StaticInt8);
  EXPECT_TRUE(staticInt8.needsCalibration());

  Scheme fp8 = parseOrDie("fp8");
  EXPECT_EQ(fp8.weights, WeightStorage::FP8E4M3);
  EXPECT_EQ(fp8.activations, ActivationQuantization::StaticFP8);
  EXPECT_TRUE(fp8.needsCalibration());
  EXPECT_EQ(fp8.weightFormatName(), "f8e4m3");
}

TEST(Scheme, IntegerWeightOnly) {
  Scheme int8 = parseOrDie("int8");
  EXPECT_EQ(int8.weights, WeightStorage::Grouped);
  EXPECT_EQ(int8.grouped, (GroupedFormat{8, true, 0}));
  EXPECT_TRUE(int8.isWeightOnly());
  EXPECT_EQ(int8.weightFormatName(), "si8");

  Scheme int4 = parseOrDie("int4");
  EXPECT_EQ(int4.grouped, (GroupedFormat{4, false, 0}));
  EXPECT_EQ(int4.weightFormatName(), "ui4");

  Scheme int4g32 = parseOrDie("int4-g32");
  EXPECT_EQ(int4g32.grouped, (GroupedFormat{4, false, 32}));
  EXPECT_EQ(int4g32.weightFormatName(), "ui4:g32");
  EXPECT_EQ(parseOrDie("int3-g128").grouped, (GroupedFormat{3, false, 128}));
  EXPECT_EQ(parseOrDie("int2-g16").grouped, (GroupedFormat{2, false, 16}));
  EXPECT_EQ(parseOrDie("int8-g64").grouped, (GroupedFormat{8, true, 64}));
  EXPECT_EQ(parseOrDie("INT4-G32"), int4g32);
}

TEST(Scheme, RegistryFormatsAreWeightOnly) {
  size_t count;
  const FormatInfo *formats = allFormats(count);
  for (size_t i = 0; i < count; ++i) {
    const FormatInfo &info = formats[i];
    if (info.role == FormatRole::Activation) {
      EXPECT_NE(parseError(info.name).find("quantizes activations"),
                std::string::npos)
          << info.name;
      continue;
    }
    if (!getRowCodec(info.format))
      continue;
    Scheme scheme = parseOrDie(info.name);
    EXPECT_EQ(scheme.weights, info.role == FormatRole::Float
                                  ? WeightStorage::Float
                                  : WeightStorage::Block)
        << info.name;
    EXPECT_EQ(scheme.format, info.format);
    EXPECT_TRUE(scheme.isWeightOnly());
    EXPECT_EQ(scheme.name(), info.name);
    EXPECT_EQ(scheme.weightFormatName(), info.name);
  }
  // llama-quantize's spellings are accepted whatever their case.
  EXPECT_EQ(parseOrDie("Q4_K").format, Format::Q4_K);
  EXPECT_EQ(parseOrDie("q4_k").format, Format::Q4_K);
  EXPECT_EQ(parseOrDie("F16").format, Format::F16);
}

TEST(Scheme, NamesRoundTrip) {
  for (std::string_view name :
       {"w8a8", "w8a8-static", "fp8", "int8", "int4", "int4-g32", "int3-g64",
        "int2-g128", "int8-g256", "q4_0", "q8_0", "q4_K", "q6_K", "iq4_nl",
        "tq2_0", "f16", "bf16", "f32"}) {
    Scheme scheme = parseOrDie(name);
    EXPECT_EQ(scheme.name(), name);
    EXPECT_EQ(parseOrDie(scheme.name()), scheme) << name;
  }
}

TEST(Scheme, Refusals) {
  EXPECT_NE(parseError("w4a4").find("unknown scheme 'w4a4'; expected one of: "
                                    "w8a8, w8a8-static, fp8, int8"),
            std::string::npos);
  EXPECT_NE(parseError("").find("unknown scheme ''"), std::string::npos);
  EXPECT_NE(parseError("w4a4").find("q4_K"), std::string::npos);
  EXPECT_EQ(parseError("w4a4").find("q8_K"), std::string::npos)
      << "activation formats are not offered";
  for (std::string_view text : {"int1", "int9", "int16", "int", "intx"})
    EXPECT_NE(parseError(text).find("take 2 to 8 bits"), std::string::npos)
        << text;
  for (std::string_view text :
       {"int4-g0", "int4-g", "int4-g-3", "int4-g032", "int4-g99999999999"})
    EXPECT_NE(parseError(text).find("group size must be a positive number"),
              std::string::npos)
        << text;
  EXPECT_NE(parseError("int4-32").find("expected intB-gG"), std::string::npos);
  EXPECT_NE(parseError("q8_K").find("q8_K is the format llama.cpp quantizes "
                                    "activations to"),
            std::string::npos);
}

// llama.cpp's llama_tensor_get_type: the K-quants fall back to a 32-element
// format, then f16 when that does not divide either.
TEST(Scheme, RowFallbacks) {
  EXPECT_EQ(resolveRowFormat(Format::Q4_K, 4096), Format::Q4_K);
  EXPECT_EQ(resolveRowFormat(Format::Q4_K, 64), Format::Q5_0);
  EXPECT_EQ(resolveRowFormat(Format::Q5_K, 64), Format::Q5_1);
  EXPECT_EQ(resolveRowFormat(Format::Q6_K, 96), Format::Q8_0);
  EXPECT_EQ(resolveRowFormat(Format::Q2_K, 32), Format::IQ4_NL);
  EXPECT_EQ(resolveRowFormat(Format::Q3_K, 32), Format::IQ4_NL);
  EXPECT_EQ(resolveRowFormat(Format::IQ4_XS, 160), Format::IQ4_NL);
  EXPECT_EQ(resolveRowFormat(Format::TQ1_0, 64), Format::Q4_0);
  EXPECT_EQ(resolveRowFormat(Format::TQ2_0, 64), Format::Q4_0);
  // stories260K's FFN width: nothing with blocks divides 172.
  EXPECT_EQ(resolveRowFormat(Format::Q4_K, 172), Format::F16);
  EXPECT_EQ(resolveRowFormat(Format::Q8_0, 172), Format::F16);
  EXPECT_EQ(resolveRowFormat(Format::Q8_0, 16), Format::F16);
  EXPECT_EQ(resolveRowFormat(Format::Q8_0, 64), Format::Q8_0);
  EXPECT_EQ(resolveRowFormat(Format::F16, 172), Format::F16);
  EXPECT_EQ(resolveRowFormat(Format::BF16, 3), Format::BF16);
  EXPECT_FALSE(getRowFallback(Format::Q8_0).has_value());
  EXPECT_FALSE(getRowFallback(Format::F32).has_value());
}

} // namespace
