//===- ConvertTest.cpp - quantc convert's planning and output -------------===//

#include "IOTesting.h"

#include "quantc/IO/Convert.h"
#include "quantc/IO/Safetensors.h"
#include "quantc/Numerics/BlockCodecs.h"
#include "quantc/Numerics/Float.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace quantc;
using namespace quantc::io;
using namespace quantc::test;

namespace {

std::vector<float> ramp(size_t count, float scale) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i)
    values[i] = scale * std::sin(0.37f * static_cast<float>(i));
  return values;
}

/// Data a test keeps alive while files and tensors point at it.
struct Fixture {
  TempDir dir;
  std::vector<std::vector<uint8_t>> buffers;

  const uint8_t *keep(std::vector<uint8_t> bytes) {
    buffers.push_back(std::move(bytes));
    return buffers.back().data();
  }
  const uint8_t *keep(const std::vector<float> &values) {
    const auto *bytes = reinterpret_cast<const uint8_t *>(values.data());
    return keep(std::vector<uint8_t>(bytes, bytes + values.size() * 4));
  }
  GGUFTensor tensor(std::string name, std::vector<int64_t> shape,
                    Format format = Format::F32) {
    GGUFTensor t;
    t.name = std::move(name);
    t.shape = std::move(shape);
    t.format = format;
    uint64_t elements = 1;
    for (int64_t dim : t.shape)
      elements *= dim;
    std::vector<float> values = ramp(elements, 0.1f);
    if (format == Format::F32) {
      t.data = keep(values);
    } else {
      std::vector<uint8_t> bytes(*getTensorByteSize(format, t.shape));
      EXPECT_EQ(quantizeRows(format, values.data(), bytes.data(),
                             elements / t.shape[0], t.shape[0], nullptr),
                bytes.size());
      t.data = keep(std::move(bytes));
    }
    return t;
  }
  Result<SourceModel> load(const GGUFFile &file) {
    std::string path =
        dir.file("in" + std::to_string(buffers.size()) + ".gguf");
    Status status = writeGGUFFile(file, path);
    EXPECT_TRUE(status.ok()) << (status ? "" : status.error());
    return loadSourceModel(path, "");
  }
};

ConvertOptions optionsFor(Format type) {
  ConvertOptions options;
  options.type = type;
  return options;
}

const TensorPlan &planOf(const ConvertPlan &plan, const std::string &name) {
  for (const TensorPlan &p : plan.tensors)
    if (p.source->name == name)
      return p;
  ADD_FAILURE() << "no plan for " << name;
  return plan.tensors.front();
}

TEST(Convert, ParsesTypeNames) {
  EXPECT_EQ(*parseWeightType("q4_0"), Format::Q4_0);
  EXPECT_EQ(*parseWeightType("Q4_0"), Format::Q4_0);
  EXPECT_EQ(*parseWeightType("q4_k"), Format::Q4_K);
  EXPECT_EQ(*parseWeightType("BF16"), Format::BF16);
  Result<Format> activation = parseWeightType("q8_K");
  ASSERT_FALSE(activation.ok());
  EXPECT_EQ(activation.error(), "q8_K is the format llama.cpp quantizes "
                                "activations to, not a weight type");
  Result<Format> mixture = parseWeightType("Q4_K_M");
  ASSERT_FALSE(mixture.ok());
  EXPECT_NE(mixture.error().find("unknown type 'Q4_K_M'; expected one of: "
                                 "f32 f16 bf16 q4_0"),
            std::string::npos);
  EXPECT_EQ(getLlamaFileType(Format::Q4_0), 2u);
  EXPECT_EQ(getLlamaFileType(Format::Q8_0), 7u);
  EXPECT_EQ(getLlamaFileType(Format::Q4_K), 14u);
  EXPECT_EQ(getLlamaFileType(Format::Q8_K), std::nullopt);
}

TEST(Convert, QuantizesWhatLlamaQuantizeQuantizes) {
  Fixture f;
  GGUFFile in;
  in.set("general.architecture", GGUFValue::of("llama"));
  in.set("general.file_type", GGUFValue::of(uint32_t(0)));
  in.set("split.no", GGUFValue::of(uint16_t(0)));
  in.tensors = {f.tensor("token_embd.weight", {64, 8}),
                f.tensor("blk.0.attn_norm.weight", {64}),
                f.tensor("blk.0.ffn_up.weight", {64, 4}),
                f.tensor("blk.0.ffn_down.weight", {96, 2}),
                f.tensor("blk.0.odd.weight", {100, 2}),
                f.tensor("blk.0.attn_q.bias", {64, 2}),
                f.tensor("blk.0.ffn_gate_inp.weight", {64, 2}),
                f.tensor("blk.0.row.weight", {64, 1}),
                f.tensor("blk.0.f16.weight", {8, 2}, Format::F16),
                f.tensor("output.weight", {64, 8})};
  Result<SourceModel> model = f.load(in);
  ASSERT_TRUE(model.ok()) << model.error();

  Result<ConvertPlan> plan =
      planConversion(*model, optionsFor(Format::Q6_K), nullptr, "");
  // q6_K has no codec until the K-quants land; its fallback q8_0 does.
  if (!plan.ok()) {
    EXPECT_NE(plan.error().find("quantc has no q6_K codec yet"),
              std::string::npos)
        << plan.error();
  } else {
    EXPECT_EQ(planOf(*plan, "blk.0.ffn_down.weight").target, Format::Q8_0);
  }

  plan = planConversion(*model, optionsFor(Format::Q4_0), nullptr, "");
  ASSERT_TRUE(plan.ok()) << plan.error();
  auto expect = [&](const char *name, TensorAction action, Format target) {
    const TensorPlan &p = planOf(*plan, name);
    EXPECT_EQ(p.action, action) << name;
    EXPECT_EQ(p.target, target) << name;
  };
  expect("token_embd.weight", TensorAction::Quantize, Format::Q4_0);
  expect("blk.0.attn_norm.weight", TensorAction::Copy, Format::F32);
  expect("blk.0.ffn_up.weight", TensorAction::Quantize, Format::Q4_0);
  expect("blk.0.ffn_down.weight", TensorAction::Quantize, Format::Q4_0);
  // llama-quantize refuses 32-element formats on such rows; quantc uses f16.
  expect("blk.0.odd.weight", TensorAction::Quantize, Format::F16);
  EXPECT_EQ(planOf(*plan, "blk.0.odd.weight").requested, Format::Q4_0);
  EXPECT_EQ(planOf(*plan, "blk.0.odd.weight").fallbackReason,
            "rows of 100 are not a multiple of 32");
  expect("blk.0.attn_q.bias", TensorAction::Copy, Format::F32);
  expect("blk.0.ffn_gate_inp.weight", TensorAction::Copy, Format::F32);
  expect("blk.0.row.weight", TensorAction::Copy, Format::F32);
  // f16 is a float format: quantized like f32 would be (ne[0] = 8 -> f16).
  expect("blk.0.f16.weight", TensorAction::Copy, Format::F16);
  expect("output.weight", TensorAction::Quantize, Format::Q4_0);

  // The output's metadata: input keys, split keys dropped, llama-quantize's
  // two keys last.
  std::vector<std::string> keys;
  for (const GGUFKeyValue &kv : plan->metadata)
    keys.push_back(kv.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"general.architecture",
                                            "general.quantization_version",
                                            "general.file_type"}));
  EXPECT_EQ(plan->metadata.back().value.get<uint32_t>(), 2u);

  ConvertOptions options = optionsFor(Format::Q4_0);
  options.leaveOutputTensor = true;
  options.tokenEmbeddingType = Format::Q8_0;
  plan = planConversion(*model, options, nullptr, "");
  ASSERT_TRUE(plan.ok()) << plan.error();
  expect("output.weight", TensorAction::Copy, Format::F32);
  expect("token_embd.weight", TensorAction::Quantize, Format::Q8_0);
  options.leaveOutputTensor = false;
  options.outputTensorType = Format::Q5_0;
  plan = planConversion(*model, options, nullptr, "");
  ASSERT_TRUE(plan.ok()) << plan.error();
  expect("output.weight", TensorAction::Quantize, Format::Q5_0);
}

TEST(Convert, RequantizesOnlyWhenAllowed) {
  Fixture f;
  GGUFFile in;
  in.tensors = {f.tensor("a.weight", {64, 2}, Format::Q8_0)};
  Result<SourceModel> model = f.load(in);
  ASSERT_TRUE(model.ok()) << model.error();
  Result<ConvertPlan> plan =
      planConversion(*model, optionsFor(Format::Q8_0), nullptr, "");
  ASSERT_TRUE(plan.ok()) << plan.error();
  EXPECT_EQ(plan->tensors[0].action, TensorAction::Copy);
  plan = planConversion(*model, optionsFor(Format::Q4_0), nullptr, "");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().find("tensor 'a.weight' is already q8_0; quantizing "
                              "it again loses accuracy, pass "
                              "--allow-requantize"),
            std::string::npos);
  ConvertOptions options = optionsFor(Format::Q4_0);
  options.allowRequantize = true;
  plan = planConversion(*model, options, nullptr, "");
  ASSERT_TRUE(plan.ok()) << plan.error();
  EXPECT_EQ(plan->tensors[0].action, TensorAction::Quantize);
}

TEST(Convert, KeepsOrWidensNonQuantizedSafetensors) {
  Fixture f;
  std::vector<double> doubles = {1.5, -2.25, 3, 4};
  std::vector<uint16_t> halves(128, 0x3c00);
  SafetensorsFile file;
  auto add = [&](std::string name, SafetensorsDType dtype,
                 std::vector<uint64_t> shape, const void *data) {
    SafetensorsTensor t;
    t.name = std::move(name);
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.size = t.getElementCount() * getSafetensorsDTypeSize(dtype);
    t.data = static_cast<const uint8_t *>(data);
    file.tensors.push_back(t);
  };
  add("norm.weight", SafetensorsDType::BF16, {64}, halves.data());
  add("rope.freqs", SafetensorsDType::F16, {2, 64}, halves.data());
  add("scale", SafetensorsDType::F64, {4}, doubles.data());
  add("proj.weight", SafetensorsDType::F16, {2, 64}, halves.data());
  ASSERT_TRUE(writeSafetensorsFile(file, f.dir.file("m.safetensors")).ok());
  Result<SourceModel> model = loadSourceModel(f.dir.file("m.safetensors"), "");
  ASSERT_TRUE(model.ok()) << model.error();
  Result<ConvertPlan> plan =
      planConversion(*model, optionsFor(Format::Q8_0), nullptr, "");
  ASSERT_TRUE(plan.ok()) << plan.error();
  EXPECT_EQ(planOf(*plan, "norm.weight").target, Format::F32);
  EXPECT_EQ(planOf(*plan, "norm.weight").action, TensorAction::Convert);
  EXPECT_EQ(planOf(*plan, "rope.freqs").action, TensorAction::Copy);
  EXPECT_EQ(planOf(*plan, "rope.freqs").target, Format::F16);
  EXPECT_EQ(planOf(*plan, "scale").target, Format::F32);
  EXPECT_EQ(planOf(*plan, "proj.weight").target, Format::Q8_0);

  Result<uint64_t> size =
      runConversion(*plan, optionsFor(Format::Q8_0), f.dir.file("out.gguf"));
  ASSERT_TRUE(size.ok()) << size.error();
  Result<GGUFFile> out = readGGUF(f.dir.file("out.gguf"));
  ASSERT_TRUE(out.ok()) << out.error();
  const GGUFTensor *scale = out->findTensor("scale");
  ASSERT_NE(scale, nullptr);
  float first;
  std::memcpy(&first, scale->data + 4, sizeof(first));
  EXPECT_EQ(first, -2.25f);
  // 0x3c00 read as bf16.
  std::memcpy(&first, out->findTensor("norm.weight")->data, sizeof(first));
  EXPECT_EQ(first, 0.0078125f);
}

TEST(Convert, AppliesImportanceMatricesWhereTheFormatUsesThem) {
  Fixture f;
  GGUFFile in;
  in.tensors = {f.tensor("a.weight", {64, 4}), f.tensor("b.weight", {32, 3}),
                f.tensor("experts.weight", {32, 2, 3})};
  Result<SourceModel> model = f.load(in);
  ASSERT_TRUE(model.ok()) << model.error();

  ImportanceMatrix imatrix;
  imatrix.format = "legacy";
  imatrix.entries["a.weight"] = ramp(64, 1.0f);
  for (float &w : imatrix.entries["a.weight"])
    w = w * w + 0.01f;
  imatrix.entries["experts.weight"] = std::vector<float>(32 * 3, 1.0f);
  Result<ConvertPlan> plan =
      planConversion(*model, optionsFor(Format::Q4_0), &imatrix, "i.dat");
  ASSERT_TRUE(plan.ok()) << plan.error();
  EXPECT_NE(planOf(*plan, "a.weight").importance, nullptr);
  EXPECT_TRUE(planOf(*plan, "b.weight").missingImportance);
  EXPECT_NE(planOf(*plan, "experts.weight").importance, nullptr);
  GGUFFile meta;
  meta.metadata = plan->metadata;
  EXPECT_EQ(*meta.find("quantize.imatrix.file")->getString(), "i.dat");
  EXPECT_EQ(meta.find("quantize.imatrix.entries_count")->get<uint32_t>(), 2u);

  // The bytes are those of the weighted quantizer.
  ASSERT_TRUE(
      runConversion(*plan, optionsFor(Format::Q4_0), f.dir.file("out.gguf"))
          .ok());
  Result<GGUFFile> out = readGGUF(f.dir.file("out.gguf"));
  ASSERT_TRUE(out.ok()) << out.error();
  std::vector<float> a(64 * 4);
  std::memcpy(a.data(), model->tensors[0].data, a.size() * 4);
  std::vector<uint8_t> weighted(4 * 36), plain(4 * 36);
  quantizeRows(Format::Q4_0, a.data(), weighted.data(), 4, 64,
               imatrix.entries["a.weight"].data());
  quantizeRows(Format::Q4_0, a.data(), plain.data(), 4, 64, nullptr);
  const GGUFTensor *written = out->findTensor("a.weight");
  EXPECT_EQ(std::vector<uint8_t>(written->data, written->data + 144), weighted);
  EXPECT_NE(weighted, plain);

  // Float formats take no importance.
  plan = planConversion(*model, optionsFor(Format::F16), &imatrix, "i.dat");
  ASSERT_TRUE(plan.ok()) << plan.error();
  EXPECT_EQ(planOf(*plan, "a.weight").importance, nullptr);

  imatrix.entries["b.weight"] = std::vector<float>(31, 1.0f);
  plan = planConversion(*model, optionsFor(Format::Q4_0), &imatrix, "i.dat");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error(), "the imatrix has 31 weights for tensor 'b.weight', "
                          "whose rows have 32 elements");
}

TEST(Convert, WritesStories260KAsQuantizeRowsWould) {
  QUANTC_REQUIRE_MODEL(path, "stories260K.bin");
  TempDir dir;
  Result<SourceModel> model = loadSourceModel(path.string(), "");
  ASSERT_TRUE(model.ok()) << model.error();
  Result<ConvertPlan> plan =
      planConversion(*model, optionsFor(Format::Q8_0), nullptr, "");
  ASSERT_TRUE(plan.ok()) << plan.error();
  size_t progressCalls = 0;
  Result<uint64_t> size =
      runConversion(*plan, optionsFor(Format::Q8_0), dir.file("s.gguf"),
                    [&](const TensorPlan &, size_t index, size_t count) {
                      EXPECT_EQ(index, progressCalls);
                      EXPECT_EQ(count, 47u);
                      ++progressCalls;
                    });
  ASSERT_TRUE(size.ok()) << size.error();
  EXPECT_EQ(progressCalls, 47u);
  Result<GGUFFile> out = readGGUF(dir.file("s.gguf"));
  ASSERT_TRUE(out.ok()) << out.error();
  EXPECT_EQ(*size, out->mapping->size());
  ASSERT_EQ(out->tensors.size(), model->tensors.size());
  size_t quantized = 0, halves = 0;
  for (size_t i = 0; i < out->tensors.size(); ++i) {
    const GGUFTensor &t = out->tensors[i];
    const SourceTensor &s = model->tensors[i];
    ASSERT_EQ(t.name, s.name);
    ASSERT_EQ(t.shape, s.shape);
    std::vector<float> floats(s.getElementCount());
    std::memcpy(floats.data(), s.data, s.byteSize);
    std::vector<uint8_t> expected(t.getByteSize());
    ASSERT_EQ(quantizeRows(t.format, floats.data(), expected.data(),
                           t.getRowCount(), t.shape[0], nullptr),
              expected.size())
        << t.name;
    EXPECT_EQ(std::memcmp(expected.data(), t.data, expected.size()), 0)
        << t.name;
    quantized += t.format == Format::Q8_0;
    halves += t.format == Format::F16;
  }
  // 5 ffn_down tensors have rows of 172: f16. Norms stay f32.
  EXPECT_EQ(quantized, 31u);
  EXPECT_EQ(halves, 5u);
  EXPECT_EQ(out->find("general.file_type")->get<uint32_t>(), 7u);

  // Reading the output and writing it back gives the same bytes.
  MemoryOutputStream again;
  ASSERT_TRUE(writeGGUF(*out, again).ok());
  EXPECT_EQ(again.bytes(), *readFile(dir.file("s.gguf")));
}

TEST(Convert, OutputDoesNotDependOnTheThreadCount) {
  QUANTC_REQUIRE_MODEL(path, "mix3M.bin");
  TempDir dir;
  Result<SourceModel> model = loadSourceModel(path.string(), "");
  ASSERT_TRUE(model.ok()) << model.error();
  Result<ConvertPlan> plan =
      planConversion(*model, optionsFor(Format::Q4_0), nullptr, "");
  ASSERT_TRUE(plan.ok()) << plan.error();
  ConvertOptions one = optionsFor(Format::Q4_0), three = one;
  one.threads = 1;
  three.threads = 3;
  ASSERT_TRUE(runConversion(*plan, one, dir.file("one.gguf")).ok());
  ASSERT_TRUE(runConversion(*plan, three, dir.file("three.gguf")).ok());
  EXPECT_EQ(*readFile(dir.file("one.gguf")), *readFile(dir.file("three.gguf")));
}

} // namespace
