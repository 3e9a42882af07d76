//===- LlamaSpecTest.cpp - Llama configs and weight references ------------===//

#include "IOTesting.h"

#include "quantc/IO/Convert.h"
#include "quantc/IO/Llama2C.h"
#include "quantc/IO/LlamaSpec.h"
#include "quantc/IO/Safetensors.h"
#include "quantc/IO/SyntheticModel.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>
#include <set>

using namespace quantc;
using namespace quantc::io;
using namespace quantc::test;

namespace {

std::string realPath(const std::filesystem::path &path) {
  return std::filesystem::canonical(path).string();
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

/// Every reference points into its file where its data pointer says, and
/// the file holds all of its bytes.
void expectConsistent(const LlamaSpec &spec) {
  std::set<std::string> names;
  for (const WeightRef *weight : spec.getWeights()) {
    EXPECT_TRUE(names.insert(weight->name).second) << weight->name;
    EXPECT_TRUE(std::filesystem::path(weight->file).is_absolute());
    const MappedFile *mapping = nullptr;
    for (const auto &m : spec.mappings)
      if (std::filesystem::equivalent(m->path(), weight->file))
        mapping = m.get();
    ASSERT_NE(mapping, nullptr) << weight->name << " in " << weight->file;
    EXPECT_EQ(mapping->data() + weight->offset, weight->data) << weight->name;
    EXPECT_LE(weight->offset + weight->getByteSize(), mapping->size())
        << weight->name;
  }
}

/// The bytes of llama2.c tensor `name`, layer `layer` (or all of it).
const uint8_t *sliceOf(const Llama2CCheckpoint &checkpoint,
                       const std::string &name, int64_t layer) {
  const Llama2CTensor &t = *checkpoint.find(name);
  uint64_t perLayer = t.getElementCount() / t.shape[0] * sizeof(float);
  return t.data + (layer < 0 ? 0 : layer * perLayer);
}

bool sameBytes(const WeightRef &ref, const uint8_t *expected) {
  return std::memcmp(ref.data, expected, ref.getByteSize()) == 0;
}

TEST(LlamaSpec, NamesRopeStyles) {
  EXPECT_EQ(getRopeStyleName(RopeStyle::AdjacentPairs), "adjacent_pairs");
  EXPECT_EQ(getRopeStyleName(RopeStyle::SplitHalves), "split_halves");
  EXPECT_EQ(lookupRopeStyle("split_halves"), RopeStyle::SplitHalves);
  EXPECT_EQ(lookupRopeStyle("adjacent_pairs"), RopeStyle::AdjacentPairs);
  EXPECT_EQ(lookupRopeStyle("neox"), std::nullopt);
}

TEST(LlamaSpec, SizesWeights) {
  WeightRef ref;
  ref.shape = {3, 5};
  EXPECT_EQ(ref.getElementCount(), 15u);
  EXPECT_EQ(ref.getByteSize(), 60u);
  ref.format = Format::BF16;
  EXPECT_EQ(ref.getByteSize(), 30u);
  ref.format = Format::F16;
  ref.shape = {7};
  EXPECT_EQ(ref.getByteSize(), 14u);
}

TEST(LlamaSpec, ReadsStories260K) {
  QUANTC_REQUIRE_MODEL(path, "stories260K.bin");
  QUANTC_REQUIRE_MODEL(tok, "tok512.bin");
  Result<LlamaSpec> spec = loadLlamaSpec(path.string(), tok.string());
  ASSERT_TRUE(spec.ok()) << spec.error();
  const LlamaConfig &c = spec->config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hiddenDim, 172);
  EXPECT_EQ(c.layers, 5);
  EXPECT_EQ(c.heads, 8);
  EXPECT_EQ(c.kvHeads, 4);
  EXPECT_EQ(c.vocabSize, 512);
  EXPECT_EQ(c.contextLength, 512);
  EXPECT_EQ(c.getHeadSize(), 8);
  EXPECT_EQ(c.getKVDim(), 32);
  EXPECT_EQ(c.normEps, 1e-5f);
  EXPECT_EQ(c.ropeTheta, 10000.0f);
  EXPECT_EQ(c.ropeStyle, RopeStyle::AdjacentPairs);
  EXPECT_EQ(spec->sourceKind, "llama2.c");
  EXPECT_EQ(spec->sourcePath, realPath(path));
  EXPECT_EQ(spec->tokenizerPath, realPath(tok));
  EXPECT_TRUE(spec->sharedClassifier);
  ASSERT_EQ(spec->layers.size(), 5u);
  EXPECT_EQ(spec->getWeights().size(), 47u);
  expectConsistent(*spec);

  // The embedding right after the 28-byte header; layer 0's wq after the
  // embedding and all 5 layers' attention norms.
  EXPECT_EQ(spec->tokenEmbedding.name, "token_embd.weight");
  EXPECT_EQ(spec->tokenEmbedding.offset, 28u);
  EXPECT_EQ(spec->tokenEmbedding.shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(spec->tokenEmbedding.file, realPath(path));
  const WeightRef &wq = spec->layers[0].wq;
  EXPECT_EQ(wq.name, "blk.0.attn_q.weight");
  EXPECT_EQ(wq.format, Format::F32);
  EXPECT_EQ(wq.shape, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(wq.offset, 28u + (512 * 64 + 5 * 64) * 4);
  EXPECT_EQ(spec->layers[2].wk.shape, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(spec->layers[2].wDown.shape, (std::vector<int64_t>{64, 172}));
  EXPECT_EQ(spec->layers[2].wUp.shape, (std::vector<int64_t>{172, 64}));
  EXPECT_EQ(spec->layers[4].ffnNorm.shape, (std::vector<int64_t>{64}));
  // A shared classifier is the embedding's reference itself.
  EXPECT_EQ(spec->output.name, "token_embd.weight");
  EXPECT_EQ(spec->output.offset, spec->tokenEmbedding.offset);

  Result<Llama2CCheckpoint> checkpoint = readLlama2C(path.string());
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.error();
  EXPECT_TRUE(sameBytes(wq, sliceOf(*checkpoint, "wq", 0)));
  const LlamaLayerWeights &l3 = spec->layers[3];
  EXPECT_TRUE(
      sameBytes(l3.attnNorm, sliceOf(*checkpoint, "rms_att_weight", 3)));
  EXPECT_TRUE(sameBytes(l3.wk, sliceOf(*checkpoint, "wk", 3)));
  EXPECT_TRUE(sameBytes(l3.wv, sliceOf(*checkpoint, "wv", 3)));
  EXPECT_TRUE(sameBytes(l3.wo, sliceOf(*checkpoint, "wo", 3)));
  EXPECT_TRUE(sameBytes(l3.ffnNorm, sliceOf(*checkpoint, "rms_ffn_weight", 3)));
  EXPECT_TRUE(sameBytes(l3.wGate, sliceOf(*checkpoint, "w1", 3)));
  EXPECT_TRUE(sameBytes(l3.wDown, sliceOf(*checkpoint, "w2", 3)));
  EXPECT_TRUE(sameBytes(l3.wUp, sliceOf(*checkpoint, "w3", 3)));
  EXPECT_TRUE(sameBytes(spec->outputNorm,
                        sliceOf(*checkpoint, "rms_final_weight", -1)));
}

TEST(LlamaSpec, ReadsMix3M) {
  QUANTC_REQUIRE_MODEL(path, "mix3M.bin");
  Result<LlamaSpec> spec = loadLlamaSpec(path.string());
  ASSERT_TRUE(spec.ok()) << spec.error();
  const LlamaConfig &c = spec->config;
  EXPECT_EQ(c.dim, 256);
  EXPECT_EQ(c.hiddenDim, 768);
  EXPECT_EQ(c.layers, 4);
  EXPECT_EQ(c.heads, 8);
  EXPECT_EQ(c.kvHeads, 4);
  EXPECT_EQ(c.vocabSize, 512);
  EXPECT_EQ(c.contextLength, 256);
  EXPECT_TRUE(spec->sharedClassifier);
  EXPECT_EQ(spec->tokenizerPath, "");
  expectConsistent(*spec);
  Result<Llama2CCheckpoint> checkpoint = readLlama2C(path.string());
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.error();
  EXPECT_EQ(spec->layers[3].wDown.shape, (std::vector<int64_t>{256, 768}));
  EXPECT_TRUE(sameBytes(spec->layers[3].wDown, sliceOf(*checkpoint, "w2", 3)));
  EXPECT_TRUE(sameBytes(spec->layers[1].wq, sliceOf(*checkpoint, "wq", 1)));
  EXPECT_EQ(spec->layers[1].wq.offset,
            static_cast<uint64_t>(sliceOf(*checkpoint, "wq", 1) -
                                  checkpoint->mapping->data()));
}

/// `in` (with its llama2.c tokenizer, if any) converted to a GGUF of `type`.
std::string convertToGGUF(const std::string &in, const std::string &tokenizer,
                          Format type, const std::string &out) {
  Result<SourceModel> model = loadSourceModel(in, tokenizer);
  EXPECT_TRUE(model.ok()) << model.error();
  ConvertOptions options;
  options.type = type;
  options.threads = 1;
  Result<ConvertPlan> plan = planConversion(*model, options, nullptr, "");
  EXPECT_TRUE(plan.ok()) << plan.error();
  Result<uint64_t> written = runConversion(*plan, options, out);
  EXPECT_TRUE(written.ok()) << written.error();
  return out;
}

void expectSameConfig(const LlamaConfig &a, const LlamaConfig &b) {
  EXPECT_EQ(a.dim, b.dim);
  EXPECT_EQ(a.hiddenDim, b.hiddenDim);
  EXPECT_EQ(a.layers, b.layers);
  EXPECT_EQ(a.heads, b.heads);
  EXPECT_EQ(a.kvHeads, b.kvHeads);
  EXPECT_EQ(a.vocabSize, b.vocabSize);
  EXPECT_EQ(a.contextLength, b.contextLength);
  EXPECT_EQ(a.normEps, b.normEps);
  EXPECT_EQ(a.ropeTheta, b.ropeTheta);
  EXPECT_EQ(a.ropeStyle, b.ropeStyle);
}

TEST(LlamaSpec, ReadsStories260KAsGGUF) {
  QUANTC_REQUIRE_MODEL(path, "stories260K.bin");
  QUANTC_REQUIRE_MODEL(tok, "tok512.bin");
  TempDir dir;
  Result<LlamaSpec> original = loadLlamaSpec(path.string());
  ASSERT_TRUE(original.ok()) << original.error();

  std::string f32 = convertToGGUF(path.string(), tok.string(), Format::F32,
                                  dir.file("s32.gguf"));
  Result<LlamaSpec> spec = loadLlamaSpec(f32);
  ASSERT_TRUE(spec.ok()) << spec.error();
  EXPECT_EQ(spec->sourceKind, "GGUF");
  expectSameConfig(spec->config, original->config);
  EXPECT_TRUE(spec->sharedClassifier);
  // The GGUF carries the vocabulary.
  EXPECT_EQ(spec->tokenizerPath, realPath(f32));
  expectConsistent(*spec);
  std::vector<const WeightRef *> weights = spec->getWeights(),
                                 expected = original->getWeights();
  ASSERT_EQ(weights.size(), expected.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    EXPECT_EQ(weights[i]->name, expected[i]->name);
    EXPECT_EQ(weights[i]->shape, expected[i]->shape) << weights[i]->name;
    EXPECT_EQ(weights[i]->format, Format::F32);
    EXPECT_EQ(weights[i]->file, realPath(f32));
    EXPECT_EQ(weights[i]->offset % 32, 0u) << weights[i]->name;
    EXPECT_TRUE(sameBytes(*weights[i], expected[i]->data)) << weights[i]->name;
  }

  std::string f16 =
      convertToGGUF(path.string(), "", Format::F16, dir.file("s16.gguf"));
  spec = loadLlamaSpec(f16, tok.string());
  ASSERT_TRUE(spec.ok()) << spec.error();
  expectSameConfig(spec->config, original->config);
  // No vocabulary in the file: the tokenizer given is recorded.
  EXPECT_EQ(spec->tokenizerPath, realPath(tok));
  expectConsistent(*spec);
  EXPECT_EQ(spec->layers[0].wq.format, Format::F16);
  EXPECT_EQ(spec->layers[0].wq.getByteSize(), 64u * 64 * 2);
  EXPECT_EQ(spec->tokenEmbedding.format, Format::F16);
  EXPECT_EQ(spec->layers[0].attnNorm.format, Format::F32);
}

//===----------------------------------------------------------------------===//
// GGUF built from a synthetic model (no shared data needed)
//===----------------------------------------------------------------------===//

struct GGUFFixture {
  TempDir dir;
  std::string model = dir.file("m.bin");

  GGUFFixture() {
    SyntheticModelOptions options;
    options.dim = 32;
    options.hiddenDim = 64;
    options.heads = 4;
    options.kvHeads = 2;
    options.vocabSize = 300;
    options.seqLen = 16;
    options.sharedClassifier = false;
    Status status = writeSyntheticModelFile(options, model);
    EXPECT_TRUE(status.ok()) << status.error();
  }
  /// The model as a GGUF of `type`, then edited.
  std::string gguf(Format type, const std::function<void(GGUFFile &)> &edit,
                   const std::string &name = "e.gguf") {
    std::string plain = convertToGGUF(model, "", type, dir.file("p.gguf"));
    Result<GGUFFile> file = readGGUF(plain);
    EXPECT_TRUE(file.ok()) << file.error();
    edit(*file);
    Status status = writeGGUFFile(*file, dir.file(name));
    EXPECT_TRUE(status.ok()) << status.error();
    return dir.file(name);
  }
  std::string error(Format type, const std::function<void(GGUFFile &)> &edit) {
    Result<LlamaSpec> spec = loadLlamaSpec(gguf(type, edit));
    EXPECT_FALSE(spec.ok());
    return spec ? "" : spec.error();
  }
};

TEST(LlamaSpec, ReadsAGGUFWithASeparateClassifier) {
  GGUFFixture f;
  Result<LlamaSpec> fromBin = loadLlamaSpec(f.model);
  ASSERT_TRUE(fromBin.ok()) << fromBin.error();
  EXPECT_FALSE(fromBin->sharedClassifier);
  EXPECT_EQ(fromBin->output.name, "output.weight");
  EXPECT_EQ(fromBin->getWeights().size(), 2u + 2 * 9 + 1);

  Result<LlamaSpec> spec =
      loadLlamaSpec(f.gguf(Format::BF16, [](GGUFFile &) {}));
  ASSERT_TRUE(spec.ok()) << spec.error();
  expectSameConfig(spec->config, fromBin->config);
  EXPECT_FALSE(spec->sharedClassifier);
  EXPECT_EQ(spec->output.format, Format::BF16);
  EXPECT_EQ(spec->output.shape, (std::vector<int64_t>{300, 32}));
  EXPECT_EQ(spec->tokenizerPath, "");
  expectConsistent(*spec);

  // Without llama.vocab_size the embedding's rows are the vocabulary.
  spec = loadLlamaSpec(f.gguf(Format::F32, [](GGUFFile &file) {
    file.remove("llama.vocab_size");
    file.set("llama.rope.freq_base", GGUFValue::of(500000.0f));
  }));
  ASSERT_TRUE(spec.ok()) << spec.error();
  EXPECT_EQ(spec->config.vocabSize, 300);
  EXPECT_EQ(spec->config.ropeTheta, 500000.0f);
  // Without head_count_kv, K and V would be as wide as Q.
  spec = loadLlamaSpec(f.gguf(Format::F32, [](GGUFFile &file) {
    file.remove("llama.attention.head_count_kv");
  }));
  ASSERT_FALSE(spec.ok());
  EXPECT_TRUE(contains(spec.error(), "tensor 'blk.0.attn_k.weight' has shape "
                                     "[16, 32]; the model's config implies "
                                     "[32, 32] (kv_dim x dim)"))
      << spec.error();
}

TEST(LlamaSpec, RefusesQuantizedGGUFTensors) {
  GGUFFixture f;
  std::string error = f.error(Format::Q8_0, [](GGUFFile &) {});
  EXPECT_TRUE(contains(error, "tensor 'token_embd.weight' is q8_0: quantized "
                              "GGUF tensors cannot be imported yet"))
      << error;
}

TEST(LlamaSpec, RefusesOtherArchitecturesAndVariants) {
  GGUFFixture f;
  std::string error = f.error(Format::F32, [](GGUFFile &file) {
    file.set("general.architecture", GGUFValue::of("qwen2"));
  });
  EXPECT_TRUE(contains(error, "architecture 'qwen2' cannot be imported"))
      << error;
  error = f.error(Format::F32,
                  [](GGUFFile &file) { file.remove("general.architecture"); });
  EXPECT_TRUE(contains(error, "no general.architecture")) << error;
  error = f.error(Format::F32, [](GGUFFile &file) {
    file.set("llama.expert_count", GGUFValue::of(uint32_t(8)));
  });
  EXPECT_TRUE(contains(error, "a mixture of experts")) << error;
  error = f.error(Format::F32, [](GGUFFile &file) {
    file.set("llama.rope.scaling.type", GGUFValue::of("yarn"));
  });
  EXPECT_TRUE(contains(error, "RoPE scaling")) << error;
  error = f.error(Format::F32, [](GGUFFile &file) {
    file.set("llama.rope.dimension_count", GGUFValue::of(uint32_t(4)));
  });
  EXPECT_TRUE(contains(error, "llama.rope.dimension_count = 4 differs from "
                              "the head size 8"))
      << error;
}

TEST(LlamaSpec, RefusesBadGGUFConfigsAndTensors) {
  GGUFFixture f;
  auto setU32 = [](const char *key, uint32_t value) {
    return [=](GGUFFile &file) { file.set(key, GGUFValue::of(value)); };
  };
  std::string error =
      f.error(Format::F32, setU32("llama.attention.head_count", 3));
  EXPECT_TRUE(contains(error, "3 heads do not divide dim 32")) << error;
  error = f.error(Format::F32, setU32("llama.attention.head_count_kv", 3));
  EXPECT_TRUE(contains(error, "3 KV heads do not divide 4 heads")) << error;
  error = f.error(Format::F32, setU32("llama.attention.head_count", 32));
  EXPECT_TRUE(contains(error, "head size 1 (dim 32 / 32 heads) is odd"))
      << error;
  error = f.error(Format::F32, setU32("llama.block_count", 0));
  EXPECT_TRUE(contains(error, "layer count is 0")) << error;
  error = f.error(Format::F32, setU32("llama.block_count", 0xffffffffu));
  EXPECT_TRUE(contains(error, "layer count is 4294967295")) << error;
  // A huge layer count fails at the first missing layer.
  error = f.error(Format::F32, setU32("llama.block_count", 0x7fffffff));
  EXPECT_TRUE(contains(error, "missing tensor 'blk.2.attn_norm.weight'"))
      << error;
  error = f.error(Format::F32, setU32("llama.block_count", 3));
  EXPECT_TRUE(contains(error, "missing tensor 'blk.2.attn_norm.weight'"))
      << error;
  error = f.error(Format::F32, setU32("llama.block_count", 1));
  EXPECT_TRUE(contains(error, "unexpected tensor 'blk.1.")) << error;
  error = f.error(Format::F32, setU32("llama.feed_forward_length", 48));
  EXPECT_TRUE(contains(error, "tensor 'blk.0.ffn_gate.weight' has shape "
                              "[64, 32]; the model's config implies [48, 32] "
                              "(hidden_dim x dim)"))
      << error;
  error = f.error(Format::F32, [](GGUFFile &file) {
    file.set("llama.embedding_length", GGUFValue::of("wide"));
  });
  EXPECT_TRUE(contains(error, "'llama.embedding_length' is str; expected an "
                              "integer"))
      << error;
  error = f.error(Format::F32, [](GGUFFile &file) {
    file.set("llama.attention.layer_norm_rms_epsilon", GGUFValue::of(-1.0f));
  });
  EXPECT_TRUE(contains(error, "RMSNorm epsilon -1 must be positive")) << error;
  error = f.error(Format::F32,
                  [](GGUFFile &file) { file.remove("llama.context_length"); });
  EXPECT_TRUE(contains(error, "GGUF key 'llama.context_length' is missing"))
      << error;
  error = f.error(Format::F32, [](GGUFFile &file) {
    for (GGUFTensor &t : file.tensors)
      if (t.name == "blk.1.attn_v.weight")
        t.name = "blk.1.attn_v.bias";
  });
  EXPECT_TRUE(contains(error, "missing tensor 'blk.1.attn_v.weight'")) << error;
  error = f.error(Format::F32, [](GGUFFile &file) {
    GGUFTensor extra = file.tensors.front();
    extra.name = "rope_freqs.weight";
    file.tensors.push_back(extra);
  });
  EXPECT_TRUE(contains(error, "unexpected tensor 'rope_freqs.weight'"))
      << error;
}

//===----------------------------------------------------------------------===//
// Hugging Face safetensors
//===----------------------------------------------------------------------===//

/// A small Llama in Hugging Face's names, written as safetensors with its
/// config.json.
struct HFFixture {
  TempDir dir;
  int64_t dim = 16, hidden = 24, layers = 2, heads = 4, kvHeads = 2, vocab = 40;
  bool lmHead = true;
  std::deque<std::vector<uint8_t>> buffers;
  /// name -> (dtype, row-major shape), in no particular order.
  std::map<std::string, std::pair<SafetensorsDType, std::vector<uint64_t>>>
      tensors;

  HFFixture() {
    uint64_t D = dim, H = hidden, V = vocab, KV = dim / heads * kvHeads;
    auto add = [&](const std::string &name, std::vector<uint64_t> shape,
                   SafetensorsDType dtype = SafetensorsDType::F32) {
      tensors[name] = {dtype, std::move(shape)};
    };
    add("model.embed_tokens.weight", {V, D}, SafetensorsDType::BF16);
    for (int64_t l = 0; l < layers; ++l) {
      std::string p = "model.layers." + std::to_string(l) + ".";
      add(p + "input_layernorm.weight", {D});
      add(p + "self_attn.q_proj.weight", {D, D}, SafetensorsDType::F16);
      add(p + "self_attn.k_proj.weight", {KV, D}, SafetensorsDType::F16);
      add(p + "self_attn.v_proj.weight", {KV, D});
      add(p + "self_attn.o_proj.weight", {D, D});
      add(p + "post_attention_layernorm.weight", {D});
      add(p + "mlp.gate_proj.weight", {H, D});
      add(p + "mlp.up_proj.weight", {H, D});
      add(p + "mlp.down_proj.weight", {D, H});
    }
    add("model.norm.weight", {D});
    add("lm_head.weight", {V, D});
  }

  /// Bytes for a tensor: distinct per tensor, so offsets can be checked.
  const uint8_t *fill(size_t index, uint64_t bytes) {
    std::vector<uint8_t> data(bytes);
    for (uint64_t i = 0; i < bytes; ++i)
      data[i] = static_cast<uint8_t>(index * 31 + i * 7);
    buffers.push_back(std::move(data));
    return buffers.back().data();
  }

  SafetensorsTensor tensor(const std::string &name, size_t index) {
    const auto &[dtype, shape] = tensors.at(name);
    SafetensorsTensor t;
    t.name = name;
    t.dtype = dtype;
    t.shape = shape;
    t.size = t.getElementCount() * getSafetensorsDTypeSize(dtype);
    t.data = fill(index, t.size);
    return t;
  }

  std::string config(const std::string &extra = "") const {
    return "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": "
           "\"llama\", \"hidden_size\": " +
           std::to_string(dim) +
           ", \"intermediate_size\": " + std::to_string(hidden) +
           ", \"num_hidden_layers\": " + std::to_string(layers) +
           ", \"num_attention_heads\": " + std::to_string(heads) +
           ", \"num_key_value_heads\": " + std::to_string(kvHeads) +
           ", \"vocab_size\": " + std::to_string(vocab) +
           ", \"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-06, "
           "\"rope_theta\": 500000.0, \"hidden_act\": \"silu\", "
           "\"rope_scaling\": null, \"torch_dtype\": \"bfloat16\"" +
           extra + "}";
  }

  void writeConfig(const std::string &json) {
    std::vector<uint8_t> bytes(json.begin(), json.end());
    writeFile(dir.file("config.json"), bytes);
  }

  /// model.safetensors (and config.json unless `json` is null).
  std::string write(const char *json = "") {
    SafetensorsFile file;
    size_t index = 0;
    for (const auto &entry : tensors)
      file.tensors.push_back(tensor(entry.first, index++));
    Status status = writeSafetensorsFile(file, dir.file("model.safetensors"));
    EXPECT_TRUE(status.ok()) << status.error();
    if (json)
      writeConfig(config(json));
    return dir.file("model.safetensors");
  }

  std::string error(const char *json = "") {
    Result<LlamaSpec> spec = loadLlamaSpec(write(json));
    EXPECT_FALSE(spec.ok());
    return spec ? "" : spec.error();
  }
};

TEST(LlamaSpec, ReadsHuggingFaceSafetensors) {
  HFFixture f;
  std::string path = f.write();
  Result<LlamaSpec> spec = loadLlamaSpec(path);
  ASSERT_TRUE(spec.ok()) << spec.error();
  const LlamaConfig &c = spec->config;
  EXPECT_EQ(c.dim, 16);
  EXPECT_EQ(c.hiddenDim, 24);
  EXPECT_EQ(c.layers, 2);
  EXPECT_EQ(c.heads, 4);
  EXPECT_EQ(c.kvHeads, 2);
  EXPECT_EQ(c.vocabSize, 40);
  EXPECT_EQ(c.contextLength, 128);
  EXPECT_EQ(c.normEps, 1e-6f);
  EXPECT_EQ(c.ropeTheta, 500000.0f);
  EXPECT_EQ(c.ropeStyle, RopeStyle::SplitHalves);
  EXPECT_EQ(spec->sourceKind, "safetensors");
  EXPECT_FALSE(spec->sharedClassifier);
  expectConsistent(*spec);

  // GGUF names, Hugging Face bytes.
  Result<SafetensorsFile> file = readSafetensors(path);
  ASSERT_TRUE(file.ok()) << file.error();
  auto expectSame = [&](const WeightRef &ref, const char *hfName,
                        Format format) {
    const SafetensorsTensor *t = file->find(hfName);
    ASSERT_NE(t, nullptr) << hfName;
    EXPECT_EQ(ref.format, format) << hfName;
    EXPECT_EQ(ref.getByteSize(), t->size) << hfName;
    EXPECT_EQ(ref.offset,
              static_cast<uint64_t>(t->data - file->mapping->data()))
        << hfName;
    EXPECT_TRUE(sameBytes(ref, t->data)) << hfName;
    EXPECT_EQ(ref.file, realPath(path));
  };
  expectSame(spec->tokenEmbedding, "model.embed_tokens.weight", Format::BF16);
  EXPECT_EQ(spec->tokenEmbedding.name, "token_embd.weight");
  const LlamaLayerWeights &l1 = spec->layers[1];
  EXPECT_EQ(l1.wq.name, "blk.1.attn_q.weight");
  expectSame(l1.attnNorm, "model.layers.1.input_layernorm.weight", Format::F32);
  expectSame(l1.wq, "model.layers.1.self_attn.q_proj.weight", Format::F16);
  expectSame(l1.wk, "model.layers.1.self_attn.k_proj.weight", Format::F16);
  expectSame(l1.wv, "model.layers.1.self_attn.v_proj.weight", Format::F32);
  expectSame(l1.wo, "model.layers.1.self_attn.o_proj.weight", Format::F32);
  expectSame(l1.ffnNorm, "model.layers.1.post_attention_layernorm.weight",
             Format::F32);
  expectSame(l1.wGate, "model.layers.1.mlp.gate_proj.weight", Format::F32);
  expectSame(l1.wUp, "model.layers.1.mlp.up_proj.weight", Format::F32);
  expectSame(l1.wDown, "model.layers.1.mlp.down_proj.weight", Format::F32);
  EXPECT_EQ(l1.wDown.shape, (std::vector<int64_t>{16, 24}));
  expectSame(spec->outputNorm, "model.norm.weight", Format::F32);
  expectSame(spec->output, "lm_head.weight", Format::F32);
  EXPECT_EQ(spec->output.name, "output.weight");
}

TEST(LlamaSpec, SharesTheClassifierWhenTiedOrAbsent) {
  HFFixture f;
  Result<LlamaSpec> spec =
      loadLlamaSpec(f.write(", \"tie_word_embeddings\": true"));
  ASSERT_TRUE(spec.ok()) << spec.error();
  EXPECT_TRUE(spec->sharedClassifier);
  EXPECT_EQ(spec->output.name, "token_embd.weight");
  EXPECT_EQ(spec->getWeights().size(), 1u + 2 * 9 + 1);

  f.tensors.erase("lm_head.weight");
  spec = loadLlamaSpec(f.write());
  ASSERT_TRUE(spec.ok()) << spec.error();
  EXPECT_TRUE(spec->sharedClassifier);
  EXPECT_EQ(spec->output.offset, spec->tokenEmbedding.offset);

  // Hugging Face's defaults: KV heads = heads, eps 1e-6, theta 10000,
  // context 2048; old checkpoints' rotary buffers are ignored.
  f.kvHeads = 4;
  for (const char *name : {"model.layers.0.self_attn.k_proj.weight",
                           "model.layers.0.self_attn.v_proj.weight",
                           "model.layers.1.self_attn.k_proj.weight",
                           "model.layers.1.self_attn.v_proj.weight"})
    f.tensors[name].second = {16, 16};
  f.tensors["model.layers.1.self_attn.rotary_emb.inv_freq"] = {
      SafetensorsDType::F32, {2}};
  f.write(nullptr);
  f.writeConfig("{\"model_type\": \"llama\", \"hidden_size\": 16, "
                "\"intermediate_size\": 24, \"num_hidden_layers\": 2, "
                "\"num_attention_heads\": 4, \"vocab_size\": 40}");
  spec = loadLlamaSpec(f.dir.file("model.safetensors"));
  ASSERT_TRUE(spec.ok()) << spec.error();
  EXPECT_EQ(spec->config.kvHeads, 4);
  EXPECT_EQ(spec->config.normEps, 1e-6f);
  EXPECT_EQ(spec->config.ropeTheta, 10000.0f);
  EXPECT_EQ(spec->config.contextLength, 2048);
}

TEST(LlamaSpec, ReadsShardedSafetensors) {
  HFFixture f;
  f.writeConfig(f.config());
  SafetensorsFile first, second;
  std::string weightMap;
  size_t index = 0;
  for (const auto &entry : f.tensors) {
    bool inFirst = entry.first.find("layers.1.") == std::string::npos;
    (inFirst ? first : second)
        .tensors.push_back(f.tensor(entry.first, index++));
    weightMap += std::string(weightMap.empty() ? "" : ", ") + "\"" +
                 entry.first + "\": \"model-0000" + (inFirst ? "1" : "2") +
                 "-of-00002.safetensors\"";
  }
  ASSERT_TRUE(writeSafetensorsFile(
                  first, f.dir.file("model-00001-of-00002.safetensors"))
                  .ok());
  ASSERT_TRUE(writeSafetensorsFile(
                  second, f.dir.file("model-00002-of-00002.safetensors"))
                  .ok());
  std::string index_json = "{\"metadata\": {\"total_size\": 1}, "
                           "\"weight_map\": {" +
                           weightMap + "}}";
  writeFile(f.dir.file("model.safetensors.index.json"),
            std::vector<uint8_t>(index_json.begin(), index_json.end()));

  for (std::string path :
       {f.dir.file("model.safetensors.index.json"), f.dir.path.string()}) {
    Result<LlamaSpec> spec = loadLlamaSpec(path);
    ASSERT_TRUE(spec.ok()) << spec.error();
    EXPECT_EQ(spec->mappings.size(), 2u);
    EXPECT_EQ(spec->sourcePath,
              realPath(f.dir.file("model.safetensors.index.json")));
    expectConsistent(*spec);
    EXPECT_EQ(spec->layers[0].wq.file,
              realPath(f.dir.file("model-00001-of-00002.safetensors")));
    EXPECT_EQ(spec->layers[1].wq.file,
              realPath(f.dir.file("model-00002-of-00002.safetensors")));
  }

  // One shard alone lacks tensors, and says where the rest is.
  Result<LlamaSpec> alone =
      loadLlamaSpec(f.dir.file("model-00001-of-00002.safetensors"));
  ASSERT_FALSE(alone.ok());
  EXPECT_TRUE(contains(alone.error(),
                       "missing tensor 'model.layers.1.input_layernorm.weight'"
                       " (the model looks sharded: load "
                       "model.safetensors.index.json instead)"))
      << alone.error();

  auto indexError = [&](const std::string &json) {
    writeFile(f.dir.file("bad.safetensors.index.json"),
              std::vector<uint8_t>(json.begin(), json.end()));
    Result<LlamaSpec> spec =
        loadLlamaSpec(f.dir.file("bad.safetensors.index.json"));
    EXPECT_FALSE(spec.ok());
    return spec ? "" : spec.error();
  };
  std::string error = indexError("{\"weight_map\": {\"model.norm.weight\": "
                                 "\"../model-00001-of-00002.safetensors\"}}");
  EXPECT_TRUE(contains(error, "not a file in the index's directory")) << error;
  error = indexError("{\"weight_map\": {\"x.weight\": "
                     "\"model-00001-of-00002.safetensors\"}}");
  EXPECT_TRUE(contains(error, "weight_map puts tensor 'x.weight' in "
                              "model-00001-of-00002.safetensors, which does "
                              "not hold it"))
      << error;
  error = indexError("{\"weight_map\": [1, 2]}");
  EXPECT_TRUE(contains(error, "no \"weight_map\" object")) << error;
  error = indexError("{\"weight_map\": {\"model.norm.weight\": ");
  EXPECT_TRUE(contains(error, "not valid JSON")) << error;
}

TEST(LlamaSpec, RefusesBrokenHuggingFaceCheckpoints) {
  {
    HFFixture f;
    Result<LlamaSpec> spec = loadLlamaSpec(f.write(nullptr));
    ASSERT_FALSE(spec.ok());
    EXPECT_TRUE(contains(spec.error(), "needs its config.json beside it"))
        << spec.error();
  }
  {
    HFFixture f;
    f.tensors.erase("model.layers.1.mlp.up_proj.weight");
    std::string error = f.error();
    EXPECT_TRUE(contains(error, "missing tensor "
                                "'model.layers.1.mlp.up_proj.weight'"))
        << error;
  }
  {
    HFFixture f;
    f.tensors["model.layers.0.self_attn.q_proj.weight"].second = {16, 12};
    std::string error = f.error();
    EXPECT_TRUE(contains(error, "tensor 'model.layers.0.self_attn.q_proj."
                                "weight' has shape [16, 12]; the model's "
                                "config implies [16, 16] (dim x dim)"))
        << error;
  }
  {
    HFFixture f;
    f.tensors["model.layers.0.self_attn.q_proj.bias"] = {SafetensorsDType::F32,
                                                         {16}};
    std::string error = f.error();
    EXPECT_TRUE(contains(error, "unexpected tensor "
                                "'model.layers.0.self_attn.q_proj.bias'"))
        << error;
  }
  {
    HFFixture f;
    f.tensors["model.norm.weight"].first = SafetensorsDType::F64;
    std::string error = f.error();
    EXPECT_TRUE(contains(error, "tensor 'model.norm.weight' has type F64; "
                                "only f32, f16 and bf16"))
        << error;
  }
  HFFixture f;
  std::string error = f.error(", \"model_type\": \"mistral\"");
  EXPECT_TRUE(contains(error, "model_type 'mistral' cannot be imported"))
      << error;
  error = f.error(", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2}");
  EXPECT_TRUE(contains(error, "rope_scaling is set")) << error;
  EXPECT_TRUE(contains(error, "scaled RoPE cannot be imported yet")) << error;
  error = f.error(", \"num_attention_heads\": 5");
  EXPECT_TRUE(contains(error, "5 heads do not divide dim 16")) << error;
  error = f.error(", \"num_key_value_heads\": 3");
  EXPECT_TRUE(contains(error, "3 KV heads do not divide 4 heads")) << error;
  error = f.error(", \"hidden_size\": \"16\"");
  EXPECT_TRUE(contains(error, "'hidden_size' is string; expected an integer"))
      << error;
  error = f.error(", \"hidden_size\": -16");
  EXPECT_TRUE(contains(error, "dim is -16")) << error;
  error = f.error(", \"vocab_size\": 18446744073709551615");
  EXPECT_TRUE(contains(error, "'vocab_size' = 18446744073709551615 is too "
                              "large"))
      << error;
  error = f.error(", \"num_hidden_layers\": 2147483647");
  EXPECT_TRUE(contains(error, "missing tensor "
                              "'model.layers.2.input_layernorm.weight'"))
      << error;
  error = f.error(", \"head_dim\": 8");
  EXPECT_TRUE(contains(error, "head_dim 8 differs")) << error;
  error = f.error(", \"hidden_act\": \"gelu\"");
  EXPECT_TRUE(contains(error, "is not \"silu\"")) << error;
  error = f.error(", \"attention_bias\": true");
  EXPECT_TRUE(contains(error, "attention_bias is true")) << error;
  error = f.error(", \"vocab_size\": 41");
  EXPECT_TRUE(contains(error, "tensor 'model.embed_tokens.weight' has shape "
                              "[40, 16]; the model's config implies [41, 16] "
                              "(vocab x dim)"))
      << error;
  f.write();
  f.writeConfig("[1, 2]");
  Result<LlamaSpec> spec = loadLlamaSpec(f.dir.file("model.safetensors"));
  ASSERT_FALSE(spec.ok());
  EXPECT_TRUE(contains(spec.error(), "expected a JSON object")) << spec.error();
  f.writeConfig("{\"hidden_size\": 16}");
  spec = loadLlamaSpec(f.dir.file("model.safetensors"));
  ASSERT_FALSE(spec.ok());
  EXPECT_TRUE(contains(spec.error(), "no \"model_type\"")) << spec.error();
}

TEST(LlamaSpec, RefusesMissingFiles) {
  TempDir dir;
  Result<LlamaSpec> spec = loadLlamaSpec(dir.file("absent.bin"));
  ASSERT_FALSE(spec.ok());
  EXPECT_TRUE(contains(spec.error(), "cannot open")) << spec.error();
  spec = loadLlamaSpec(dir.path.string());
  ASSERT_FALSE(spec.ok());
  EXPECT_TRUE(contains(spec.error(), "a directory without model.safetensors"))
      << spec.error();

  SyntheticModelOptions options;
  ASSERT_TRUE(writeSyntheticModelFile(options, dir.file("m.bin")).ok());
  spec = loadLlamaSpec(dir.file("m.bin"), dir.file("absent-tok.bin"));
  ASSERT_FALSE(spec.ok());
  EXPECT_TRUE(contains(spec.error(), "absent-tok.bin: cannot open"))
      << spec.error();
  // A tokenizer of another vocabulary.
  ASSERT_TRUE(writeSyntheticTokenizerFile(400, dir.file("t400.bin")).ok());
  spec = loadLlamaSpec(dir.file("m.bin"), dir.file("t400.bin"));
  ASSERT_FALSE(spec.ok());
  EXPECT_TRUE(contains(spec.error(), "(the model's vocab_size is 512)"))
      << spec.error();
}

} // namespace
