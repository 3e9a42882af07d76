//===- SourceModelTest.cpp - model files as GGUF-named tensors ------------===//

#include "IOTesting.h"

#include "quantc/IO/Safetensors.h"
#include "quantc/IO/SourceModel.h"

#include <gtest/gtest.h>

using namespace quantc;
using namespace quantc::io;
using namespace quantc::test;

namespace {

/// dim 4, hidden 6, 2 layers, 2 heads, 1 KV head, vocab -5 (separate
/// classifier), seq 3; float i holds i.
std::vector<uint8_t> tinyCheckpoint() {
  ByteBuilder b;
  b.i32(4).i32(6).i32(2).i32(2).i32(1).i32(-5).i32(3);
  for (int i = 0; i < 286 + 20; ++i)
    b.f32(static_cast<float>(i));
  return b.bytes;
}

float firstFloat(const SourceTensor &tensor) {
  float value;
  std::memcpy(&value, tensor.data, sizeof(value));
  return value;
}

TEST(SourceModel, DetectsFormatsByMagicThenExtension) {
  TempDir dir;
  writeFile(dir.file("a.txt"), {1, 2, 3, 4});
  Result<ModelFileKind> kind = detectModelFileKind(dir.file("a.txt"));
  ASSERT_FALSE(kind.ok());
  EXPECT_NE(kind.error().find("cannot tell the model format"),
            std::string::npos);
  writeFile(dir.file("fake.gguf"), {1, 2, 3, 4});
  kind = detectModelFileKind(dir.file("fake.gguf"));
  ASSERT_FALSE(kind.ok());
  EXPECT_NE(kind.error().find("named .gguf but does not start with 'GGUF'"),
            std::string::npos);
  writeFile(dir.file("model.bin"), {'G', 'G', 'U', 'F'});
  EXPECT_EQ(*detectModelFileKind(dir.file("model.bin")), ModelFileKind::GGUF);
  writeFile(dir.file("m.safetensors"), {});
  EXPECT_EQ(*detectModelFileKind(dir.file("m.safetensors")),
            ModelFileKind::Safetensors);
  kind = detectModelFileKind(dir.file("missing.bin"));
  ASSERT_FALSE(kind.ok());
  EXPECT_NE(kind.error().find("No such file"), std::string::npos);
}

TEST(SourceModel, NamesLlama2CTensorsAsLlamaCppDoes) {
  TempDir dir;
  writeFile(dir.file("tiny.bin"), tinyCheckpoint());
  Result<SourceModel> model = loadSourceModel(dir.file("tiny.bin"), "");
  ASSERT_TRUE(model.ok()) << model.error();
  EXPECT_EQ(model->kind, ModelFileKind::Llama2C);
  std::vector<std::string> names;
  for (const SourceTensor &t : model->tensors)
    names.push_back(t.name);
  std::vector<std::string> expected = {"token_embd.weight",
                                       "output_norm.weight", "output.weight"};
  for (int l = 0; l < 2; ++l)
    for (const char *part :
         {"attn_q", "attn_k", "attn_v", "attn_output", "attn_norm", "ffn_gate",
          "ffn_down", "ffn_up", "ffn_norm"})
      expected.push_back("blk." + std::to_string(l) + "." + part + ".weight");
  EXPECT_EQ(names, expected);

  auto find = [&](const std::string &name) -> const SourceTensor & {
    for (const SourceTensor &t : model->tensors)
      if (t.name == name)
        return t;
    ADD_FAILURE() << name;
    return model->tensors.front();
  };
  // Offsets in floats: tok 0, rms_att 20, wq 28, wk 60, wv 76, wo 92,
  // rms_ffn 124, w1 132, w2 180, w3 228, rms_final 276, RoPE 280, wcls 286.
  EXPECT_EQ(find("token_embd.weight").shape, (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(find("output_norm.weight").shape, std::vector<int64_t>{4});
  EXPECT_EQ(firstFloat(find("output_norm.weight")), 276.0f);
  EXPECT_EQ(firstFloat(find("output.weight")), 286.0f);
  EXPECT_EQ(find("blk.1.attn_k.weight").shape, (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(firstFloat(find("blk.1.attn_k.weight")), 68.0f);
  EXPECT_EQ(find("blk.1.attn_norm.weight").shape, std::vector<int64_t>{4});
  EXPECT_EQ(firstFloat(find("blk.1.attn_norm.weight")), 24.0f);
  EXPECT_EQ(find("blk.0.ffn_down.weight").shape, (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(firstFloat(find("blk.1.ffn_down.weight")), 204.0f);
  EXPECT_EQ(find("blk.1.ffn_down.weight").byteSize, 24u * 4);

  const GGUFValue *arch = nullptr;
  for (const GGUFKeyValue &kv : model->metadata)
    if (kv.key == "general.architecture")
      arch = &kv.value;
  ASSERT_NE(arch, nullptr);
  EXPECT_EQ(*arch->getString(), "llama");
  ASSERT_EQ(model->notes.size(), 1u);
  EXPECT_NE(model->notes[0].find("no --tokenizer"), std::string::npos);
}

TEST(SourceModel, WritesTheTokenizerAsConvertLlama2CToGgmlDoes) {
  QUANTC_REQUIRE_MODEL(modelFile, "stories260K.bin");
  QUANTC_REQUIRE_MODEL(tokenizerFile, "tok512.bin");
  Result<SourceModel> model =
      loadSourceModel(modelFile.string(), tokenizerFile.string());
  ASSERT_TRUE(model.ok()) << model.error();
  GGUFFile file;
  file.metadata = model->metadata;
  EXPECT_EQ(*file.find("tokenizer.ggml.model")->getString(), "llama");
  const std::vector<std::string> &tokens =
      *file.find("tokenizer.ggml.tokens")->getStringArray();
  ASSERT_EQ(tokens.size(), 512u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[2], "</s>");
  EXPECT_EQ(tokens[13], "<0x0A>");
  std::vector<int32_t> types =
      *file.find("tokenizer.ggml.token_type")->getArray<int32_t>();
  EXPECT_EQ(types[0], 2);
  EXPECT_EQ(types[1], 3);
  EXPECT_EQ(types[3], 6);
  EXPECT_EQ(types[300], 1);
  // SentencePiece spells spaces U+2581.
  size_t escaped = 0;
  for (const std::string &token : tokens) {
    EXPECT_EQ(token.find(' '), std::string::npos) << token;
    escaped += token.find("\xe2\x96\x81") != std::string::npos;
  }
  EXPECT_GT(escaped, 50u);
  EXPECT_EQ(file.find("llama.rope.dimension_count")->get<uint32_t>(), 8u);
  EXPECT_EQ(file.find("llama.attention.head_count_kv")->get<uint32_t>(), 4u);
  EXPECT_TRUE(model->notes.empty());

  Result<SourceModel> mismatch =
      loadSourceModel(modelFile.string(), modelFile.string());
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.error().find("the model's vocab_size is 512"),
            std::string::npos)
      << mismatch.error();
}

TEST(SourceModel, KeepsSafetensorsNamesAndReversesShapes) {
  const float values[6] = {1, 2, 3, 4, 5, 6};
  const int32_t ints[2] = {1, 2};
  SafetensorsFile file;
  SafetensorsTensor weight;
  weight.name = "model.layers.0.mlp.up_proj.weight";
  weight.shape = {3, 2};
  weight.size = 24;
  weight.data = reinterpret_cast<const uint8_t *>(values);
  file.tensors = {weight};
  TempDir dir;
  ASSERT_TRUE(writeSafetensorsFile(file, dir.file("m.safetensors")).ok());
  Result<SourceModel> model = loadSourceModel(dir.file("m.safetensors"), "");
  ASSERT_TRUE(model.ok()) << model.error();
  ASSERT_EQ(model->tensors.size(), 1u);
  EXPECT_EQ(model->tensors[0].name, weight.name);
  EXPECT_EQ(model->tensors[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(model->metadata.empty());

  Result<SourceModel> withTokenizer =
      loadSourceModel(dir.file("m.safetensors"), dir.file("m.safetensors"));
  ASSERT_FALSE(withTokenizer.ok());
  EXPECT_NE(withTokenizer.error().find("--tokenizer applies to llama2.c"),
            std::string::npos);

  SafetensorsTensor integer;
  integer.name = "ids";
  integer.dtype = SafetensorsDType::I32;
  integer.shape = {2};
  integer.size = 8;
  integer.data = reinterpret_cast<const uint8_t *>(ints);
  file.tensors = {integer};
  ASSERT_TRUE(writeSafetensorsFile(file, dir.file("i.safetensors")).ok());
  model = loadSourceModel(dir.file("i.safetensors"), "");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().find("tensor 'ids' has dtype I32; quantc convert "
                               "takes float tensors only"),
            std::string::npos);

  weight.shape = {};
  weight.size = 4;
  file.tensors = {weight};
  ASSERT_TRUE(writeSafetensorsFile(file, dir.file("s.safetensors")).ok());
  model = loadSourceModel(dir.file("s.safetensors"), "");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().find("has 0 dimensions; GGUF holds 1 to 4"),
            std::string::npos);
}

TEST(SourceModel, RefusesSplitGGUF) {
  GGUFFile file;
  file.set("split.count", GGUFValue::of(uint16_t(3)));
  TempDir dir;
  ASSERT_TRUE(writeGGUFFile(file, dir.file("part.gguf")).ok());
  Result<SourceModel> model = loadSourceModel(dir.file("part.gguf"), "");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().find("part of a GGUF split into 3 files"),
            std::string::npos);
}

} // namespace
