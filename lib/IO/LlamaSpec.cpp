//===- LlamaSpec.cpp - a Llama checkpoint as config + weight references ---===//
//
// Every source becomes one table of tensors keyed by the name the source
// gives them, each with its row-major shape, storage and place in a mapped
// file. The config comes from the source's own vocabulary (GGUF llama.*
// keys, which loadSourceModel also writes for llama2.c checkpoints, or
// Hugging Face's config.json); then every weight the config implies is
// looked up by its GGUF name (translated to the source's name), checked
// against the config and turned into a WeightRef. Tensors left over are
// refused: they are something a plain Llama does not have (biases, rope
// frequency tables, experts), and dropping them would change the model.
//
//===----------------------------------------------------------------------===//

#include "quantc/IO/LlamaSpec.h"

#include "quantc/IO/GGUF.h"
#include "quantc/IO/Safetensors.h"
#include "quantc/IO/SourceModel.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace quantc::io {

std::string_view getRopeStyleName(RopeStyle style) {
  switch (style) {
  case RopeStyle::AdjacentPairs:
    return "adjacent_pairs";
  case RopeStyle::SplitHalves:
    return "split_halves";
  }
  return "?";
}

std::optional<RopeStyle> lookupRopeStyle(std::string_view name) {
  for (RopeStyle style : {RopeStyle::AdjacentPairs, RopeStyle::SplitHalves})
    if (getRopeStyleName(style) == name)
      return style;
  return std::nullopt;
}

uint64_t WeightRef::getElementCount() const {
  uint64_t count = 1;
  for (int64_t dim : shape)
    count *= static_cast<uint64_t>(dim);
  return count;
}

uint64_t WeightRef::getByteSize() const {
  const FormatInfo &info = getFormatInfo(format);
  return getElementCount() / info.blockSize * info.bytesPerBlock;
}

std::vector<const WeightRef *> LlamaSpec::getWeights() const {
  std::vector<const WeightRef *> weights = {&tokenEmbedding};
  for (const LlamaLayerWeights &layer : layers)
    for (const WeightRef *weight :
         {&layer.attnNorm, &layer.wq, &layer.wk, &layer.wv, &layer.wo,
          &layer.ffnNorm, &layer.wGate, &layer.wDown, &layer.wUp})
      weights.push_back(weight);
  weights.push_back(&outputNorm);
  if (!sharedClassifier)
    weights.push_back(&output);
  return weights;
}

namespace {

/// The largest hyper-parameter accepted: GGUF stores them as u32 and
/// llama2.c as int32; anything larger is a hostile or broken file.
constexpr int64_t kMaxConfigValue = std::numeric_limits<int32_t>::max();
/// config.json and index.json are a few KiB; refuse to parse a huge one.
constexpr size_t kMaxJsonBytes = 64u << 20;

/// `path` made absolute with symbolic links resolved (realpath), or just
/// absolute when that fails.
std::string getAbsolutePath(const std::string &path) {
  std::error_code error;
  std::filesystem::path canonical = std::filesystem::canonical(path, error);
  if (!error)
    return canonical.string();
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  return error ? path : absolute.lexically_normal().string();
}

bool hasSuffix(const std::string &text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

/// One tensor of the source, named as the source names it.
struct Entry {
  /// Row-major, outermost first.
  std::vector<int64_t> shape;
  /// The storage format, when the source's type has a registry row.
  std::optional<Format> format;
  /// The source's type for people ("f32", "q4_0", "F64", "I32").
  std::string typeName;
  const uint8_t *data = nullptr;
  uint64_t byteSize = 0;
  const MappedFile *mapping = nullptr;
  /// The absolute path of the file holding it.
  std::string file;
  bool used = false;
};

/// Everything found in the source, and how to speak about it.
struct Source {
  /// The path as given, for messages.
  std::string name;
  /// Absolute.
  std::string path;
  std::string kind;
  /// GGUF name -> the name the source uses.
  std::string (*sourceNameOf)(const std::string &ggufName) = nullptr;
  std::map<std::string, Entry> entries;
  /// Source names that may be present but carry nothing the model needs:
  /// these, and any ending in `ignorableSuffix` (when not empty).
  std::set<std::string> ignorable;
  std::string ignorableSuffix;
  /// Appended to a missing-tensor error.
  std::string missingHint;
  std::vector<std::shared_ptr<const MappedFile>> mappings;
};

std::string identityName(const std::string &name) { return name; }

/// GGUF names -> Hugging Face Llama names.
std::string hfNameOf(const std::string &gguf) {
  static const std::pair<const char *, const char *> kGlobal[] = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"},
  };
  for (const auto &[from, to] : kGlobal)
    if (gguf == from)
      return to;
  static const std::pair<const char *, const char *> kLayer[] = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
  };
  if (gguf.rfind("blk.", 0) == 0) {
    size_t dot = gguf.find('.', 4);
    if (dot != std::string::npos) {
      std::string suffix = gguf.substr(dot + 1);
      for (const auto &[from, to] : kLayer)
        if (suffix == from)
          return "model.layers." + gguf.substr(4, dot - 4) + "." + to;
    }
  }
  return gguf;
}

Status validateConfig(const LlamaConfig &c, const std::string &path) {
  const std::pair<const char *, int64_t> sizes[] = {
      {"dim", c.dim},
      {"hidden dim", c.hiddenDim},
      {"layer count", c.layers},
      {"head count", c.heads},
      {"KV head count", c.kvHeads},
      {"vocabulary size", c.vocabSize},
      {"context length", c.contextLength},
  };
  for (const auto &[what, value] : sizes)
    if (value < 1 || value > kMaxConfigValue)
      return makeError(path, ": the model's ", what, " is ", value,
                       "; it must be from 1 to ", kMaxConfigValue);
  if (c.dim % c.heads != 0)
    return makeError(path, ": ", c.heads, " heads do not divide dim ", c.dim);
  if (c.heads % c.kvHeads != 0)
    return makeError(path, ": ", c.kvHeads, " KV heads do not divide ", c.heads,
                     " heads");
  if (c.getHeadSize() % 2 != 0)
    return makeError(path, ": head size ", c.getHeadSize(), " (dim ", c.dim,
                     " / ", c.heads, " heads) is odd; RoPE rotates pairs");
  if (!std::isfinite(c.normEps) || c.normEps <= 0.0f)
    return makeError(path, ": RMSNorm epsilon ", c.normEps,
                     " must be positive and finite");
  if (!std::isfinite(c.ropeTheta) || c.ropeTheta <= 0.0f)
    return makeError(path, ": RoPE base ", c.ropeTheta,
                     " must be positive and finite");
  return Status::success();
}

/// Turns the source's tensor `gguf` into a WeightRef of row-major `expected`
/// shape (`dims` names its dimensions for the error message).
Result<WeightRef> takeWeight(Source &source, const std::string &gguf,
                             const std::vector<int64_t> &expected,
                             const char *dims) {
  std::string name = source.sourceNameOf(gguf);
  auto it = source.entries.find(name);
  if (it == source.entries.end())
    return makeError(source.name, ": missing tensor '", name, "'",
                     source.missingHint);
  Entry &entry = it->second;
  if (!entry.format || getFormatInfo(*entry.format).isBlockQuantized()) {
    if (source.kind == "GGUF" && entry.format)
      return makeError(source.name, ": tensor '", name, "' is ", entry.typeName,
                       ": quantized GGUF tensors cannot be imported yet "
                       "(f32, f16 and bf16 only)");
    return makeError(source.name, ": tensor '", name, "' has type ",
                     entry.typeName,
                     "; only f32, f16 and bf16 weights can be imported");
  }
  std::vector<int64_t> shape = entry.shape;
  // A GGUF may state outer dimensions of 1 (ne = {64, 1}) for a vector.
  while (shape.size() > expected.size() && shape.front() == 1)
    shape.erase(shape.begin());
  if (shape != expected)
    return makeError(source.name, ": tensor '", name, "' has shape ",
                     formatShape(entry.shape), "; the model's config implies ",
                     formatShape(expected), " (", dims, ")");
  entry.used = true;
  WeightRef ref;
  ref.name = gguf;
  ref.shape = std::move(shape);
  ref.format = *entry.format;
  ref.file = entry.file;
  ref.offset = static_cast<uint64_t>(entry.data - entry.mapping->data());
  ref.data = entry.data;
  if (ref.getByteSize() != entry.byteSize)
    return makeError(source.name, ": tensor '", name, "' holds ",
                     entry.byteSize, " bytes, not the ", ref.getByteSize(),
                     " its shape and type imply");
  return ref;
}

/// Builds the spec's weights from `source` for `config`; with
/// `sharedClassifier` the output is the embedding.
Result<LlamaSpec> buildSpec(Source &source, const LlamaConfig &config,
                            bool sharedClassifier) {
  if (Status status = validateConfig(config, source.name); !status)
    return status.takeError();
  LlamaSpec spec;
  spec.config = config;
  spec.sourcePath = source.path;
  spec.sourceKind = source.kind;
  spec.sharedClassifier = sharedClassifier;
  const int64_t D = config.dim, H = config.hiddenDim, V = config.vocabSize,
                KV = config.getKVDim();
  bool failed = false;
  std::optional<Error> error;
  auto take = [&](WeightRef &into, const std::string &gguf,
                  std::vector<int64_t> shape, const char *dims) {
    if (failed)
      return;
    Result<WeightRef> ref = takeWeight(source, gguf, shape, dims);
    if (!ref) {
      failed = true;
      error = ref.takeError();
      return;
    }
    into = std::move(*ref);
  };
  take(spec.tokenEmbedding, "token_embd.weight", {V, D}, "vocab x dim");
  // Layer by layer, so that a hostile layer count fails at the first
  // missing layer instead of allocating for all of them.
  for (int64_t l = 0; l < config.layers && !failed; ++l) {
    LlamaLayerWeights &w = spec.layers.emplace_back();
    std::string blk = "blk." + std::to_string(l) + ".";
    take(w.attnNorm, blk + "attn_norm.weight", {D}, "dim");
    take(w.wq, blk + "attn_q.weight", {D, D}, "dim x dim");
    take(w.wk, blk + "attn_k.weight", {KV, D}, "kv_dim x dim");
    take(w.wv, blk + "attn_v.weight", {KV, D}, "kv_dim x dim");
    take(w.wo, blk + "attn_output.weight", {D, D}, "dim x dim");
    take(w.ffnNorm, blk + "ffn_norm.weight", {D}, "dim");
    take(w.wGate, blk + "ffn_gate.weight", {H, D}, "hidden_dim x dim");
    take(w.wDown, blk + "ffn_down.weight", {D, H}, "dim x hidden_dim");
    take(w.wUp, blk + "ffn_up.weight", {H, D}, "hidden_dim x dim");
  }
  take(spec.outputNorm, "output_norm.weight", {D}, "dim");
  if (sharedClassifier)
    spec.output = spec.tokenEmbedding;
  else
    take(spec.output, "output.weight", {V, D}, "vocab x dim");
  if (failed)
    return std::move(*error);
  for (const auto &[name, entry] : source.entries)
    if (!entry.used && !source.ignorable.count(name) &&
        !(!source.ignorableSuffix.empty() &&
          hasSuffix(name, source.ignorableSuffix)))
      return makeError(source.name, ": unexpected tensor '", name, "' (shape ",
                       formatShape(entry.shape),
                       "): a plain Llama model has no such weight, and "
                       "ignoring it would change the model");
  spec.mappings = std::move(source.mappings);
  return spec;
}

//===----------------------------------------------------------------------===//
// GGUF and llama2.c (through loadSourceModel's GGUF view)
//===----------------------------------------------------------------------===//

const GGUFValue *findKey(const SourceModel &model, std::string_view key) {
  for (const GGUFKeyValue &kv : model.metadata)
    if (kv.key == key)
      return &kv.value;
  return nullptr;
}

/// An integer key, or `fallback` when absent (an error when there is none).
Result<int64_t> getIntegerKey(const SourceModel &model, const std::string &key,
                              std::optional<int64_t> fallback = std::nullopt) {
  const GGUFValue *value = findKey(model, key);
  if (!value) {
    if (fallback)
      return *fallback;
    return makeError(model.path, ": GGUF key '", key, "' is missing");
  }
  std::optional<int64_t> integer = value->getInteger();
  if (!integer)
    return makeError(model.path, ": GGUF key '", key, "' is ",
                     getGGUFTypeName(value->getType()),
                     "; expected an integer");
  return *integer;
}

Result<float> getFloatKey(const SourceModel &model, const std::string &key,
                          std::optional<float> fallback = std::nullopt) {
  const GGUFValue *value = findKey(model, key);
  if (!value) {
    if (fallback)
      return *fallback;
    return makeError(model.path, ": GGUF key '", key, "' is missing");
  }
  if (std::optional<float> f = value->get<float>())
    return *f;
  if (std::optional<double> d = value->get<double>())
    return static_cast<float>(*d);
  return makeError(model.path, ": GGUF key '", key, "' is ",
                   getGGUFTypeName(value->getType()), "; expected a float");
}

Result<LlamaSpec> loadGGUFView(const std::string &path,
                               const std::string &tokenizerPath,
                               ModelFileKind kind) {
  // llama2.c: loadSourceModel checks the tokenizer against the vocabulary.
  Result<SourceModel> model = loadSourceModel(
      path, kind == ModelFileKind::Llama2C ? tokenizerPath : "");
  if (!model)
    return model.takeError();
  SourceModel &m = *model;

  const GGUFValue *architecture = findKey(m, "general.architecture");
  if (!architecture || !architecture->getString())
    return makeError(path, ": the GGUF has no general.architecture string; "
                           "the importer reads Llama models");
  if (*architecture->getString() != "llama")
    return makeError(path, ": architecture '", *architecture->getString(),
                     "' cannot be imported; the importer reads Llama models "
                     "(general.architecture = llama)");
  if (Result<int64_t> experts = getIntegerKey(m, "llama.expert_count", 0);
      !experts || *experts > 0)
    return makeError(path, ": a mixture of experts (llama.expert_count = ",
                     experts ? std::to_string(*experts) : "?",
                     "); the importer reads dense Llama models");
  if (const GGUFValue *scaling = findKey(m, "llama.rope.scaling.type"))
    if (!scaling->getString() || *scaling->getString() != "none")
      return makeError(path, ": RoPE scaling (llama.rope.scaling.type = ",
                       formatGGUFValue(*scaling), ") cannot be imported yet");

  Source source;
  source.name = path;
  source.path = getAbsolutePath(path);
  source.kind = std::string(getModelFileKindName(kind));
  source.sourceNameOf = identityName;
  for (const std::shared_ptr<const MappedFile> &mapping : m.mappings)
    source.mappings.push_back(mapping);
  const MappedFile *mapping = m.mappings.front().get();
  for (const SourceTensor &tensor : m.tensors) {
    Entry entry;
    entry.shape.assign(tensor.shape.rbegin(), tensor.shape.rend());
    if (tensor.encoding == SourceEncoding::Registry)
      entry.format = tensor.format;
    entry.typeName = tensor.getTypeName();
    entry.data = tensor.data;
    entry.byteSize = tensor.byteSize;
    entry.mapping = mapping;
    entry.file = source.path;
    if (!source.entries.emplace(tensor.name, std::move(entry)).second)
      return makeError(path, ": tensor '", tensor.name, "' appears twice");
  }

  LlamaConfig config;
  auto integer = [&](int64_t &into, const std::string &key,
                     std::optional<int64_t> fallback) -> Status {
    Result<int64_t> value = getIntegerKey(m, key, fallback);
    if (!value)
      return value.takeError();
    into = *value;
    return Status::success();
  };
  for (auto [into, key] :
       {std::pair{&config.contextLength, "llama.context_length"},
        std::pair{&config.dim, "llama.embedding_length"},
        std::pair{&config.hiddenDim, "llama.feed_forward_length"},
        std::pair{&config.layers, "llama.block_count"},
        std::pair{&config.heads, "llama.attention.head_count"}})
    if (Status status = integer(*into, key, std::nullopt); !status)
      return status.takeError();
  if (Status status = integer(config.kvHeads, "llama.attention.head_count_kv",
                              config.heads);
      !status)
    return status.takeError();
  // The vocabulary: llama.vocab_size, else the embedding's rows.
  if (findKey(m, "llama.vocab_size")) {
    if (Status status =
            integer(config.vocabSize, "llama.vocab_size", std::nullopt);
        !status)
      return status.takeError();
  } else {
    auto it = source.entries.find("token_embd.weight");
    if (it == source.entries.end())
      return makeError(source.name, ": missing tensor 'token_embd.weight'");
    if (it->second.shape.size() != 2)
      return makeError(source.name, ": tensor 'token_embd.weight' has shape ",
                       formatShape(it->second.shape),
                       "; expected [vocab, dim]");
    config.vocabSize = it->second.shape[0];
  }
  Result<float> eps = getFloatKey(m, "llama.attention.layer_norm_rms_epsilon");
  if (!eps)
    return eps.takeError();
  config.normEps = *eps;
  Result<float> theta = getFloatKey(m, "llama.rope.freq_base", 10000.0f);
  if (!theta)
    return theta.takeError();
  config.ropeTheta = *theta;
  config.ropeStyle = RopeStyle::AdjacentPairs;
  if (Status status = validateConfig(config, path); !status)
    return status.takeError();
  // Partial RoPE and odd attention widths are not Llama.
  for (const char *key :
       {"llama.rope.dimension_count", "llama.attention.key_length",
        "llama.attention.value_length"}) {
    Result<int64_t> value = getIntegerKey(m, key, config.getHeadSize());
    if (!value)
      return value.takeError();
    if (*value != config.getHeadSize())
      return makeError(path, ": ", key, " = ", *value,
                       " differs from the head size ", config.getHeadSize(),
                       " (dim ", config.dim, " / ", config.heads,
                       " heads); the importer reads plain Llama attention");
  }

  bool shared = !source.entries.count("output.weight");
  Result<LlamaSpec> spec = buildSpec(source, config, shared);
  if (!spec)
    return spec;
  if (kind == ModelFileKind::GGUF && findKey(m, "tokenizer.ggml.tokens"))
    spec->tokenizerPath = source.path;
  else if (!tokenizerPath.empty())
    spec->tokenizerPath = getAbsolutePath(tokenizerPath);
  return spec;
}

//===----------------------------------------------------------------------===//
// Hugging Face safetensors
//===----------------------------------------------------------------------===//

using Json = nlohmann::json;

Result<Json> readJson(const std::string &path) {
  Result<std::shared_ptr<const MappedFile>> mapped = MappedFile::open(path);
  if (!mapped)
    return mapped.takeError();
  if ((*mapped)->size() > kMaxJsonBytes)
    return makeError(path, ": ", (*mapped)->size(),
                     " bytes is too large for a JSON configuration");
  const char *begin = reinterpret_cast<const char *>((*mapped)->data());
  Json json = Json::parse(begin, begin + (*mapped)->size(), nullptr,
                          /*allow_exceptions=*/false);
  if (json.is_discarded())
    return makeError(path, ": not valid JSON");
  if (!json.is_object())
    return makeError(path, ": expected a JSON object");
  return json;
}

/// config.json's integer `key`, or `fallback` when absent or null.
Result<int64_t> getJsonInteger(const Json &config, const std::string &path,
                               const char *key,
                               std::optional<int64_t> fallback) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) {
    if (fallback)
      return *fallback;
    return makeError(path, ": '", key, "' is missing");
  }
  if (it->is_number_unsigned()) {
    uint64_t value = it->get<uint64_t>();
    if (value > static_cast<uint64_t>(kMaxConfigValue))
      return makeError(path, ": '", key, "' = ", value, " is too large");
    return static_cast<int64_t>(value);
  }
  if (it->is_number_integer())
    return it->get<int64_t>();
  return makeError(path, ": '", key, "' is ", it->type_name(),
                   "; expected an integer");
}

Result<double> getJsonNumber(const Json &config, const std::string &path,
                             const char *key, double fallback) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null())
    return fallback;
  if (!it->is_number())
    return makeError(path, ": '", key, "' is ", it->type_name(),
                     "; expected a number");
  return it->get<double>();
}

Result<LlamaConfig> parseHFConfig(const std::string &path,
                                  bool &tieEmbeddings) {
  Result<Json> read = readJson(path);
  if (!read)
    return read.takeError();
  const Json &json = *read;
  auto type = json.find("model_type");
  if (type == json.end() || !type->is_string())
    return makeError(path, ": no \"model_type\"; expected \"llama\"");
  if (*type != "llama")
    return makeError(path, ": model_type '", type->get<std::string>(),
                     "' cannot be imported; the importer reads Llama models "
                     "(model_type \"llama\")");
  if (auto scaling = json.find("rope_scaling");
      scaling != json.end() && !scaling->is_null())
    return makeError(path, ": rope_scaling is set (", scaling->dump(),
                     "); scaled RoPE cannot be imported yet");
  if (auto act = json.find("hidden_act");
      act != json.end() && !(act->is_string() && *act == "silu"))
    return makeError(path, ": hidden_act ", act->dump(),
                     " is not \"silu\"; the importer reads SwiGLU Llamas");
  for (const char *key : {"attention_bias", "mlp_bias"})
    if (auto bias = json.find(key);
        bias != json.end() && !(bias->is_boolean() && !bias->get<bool>()))
      return makeError(path, ": ", key, " is ", bias->dump(),
                       "; the importer reads Llamas without biases");
  tieEmbeddings = false;
  if (auto tie = json.find("tie_word_embeddings");
      tie != json.end() && !tie->is_null()) {
    if (!tie->is_boolean())
      return makeError(path, ": 'tie_word_embeddings' is ", tie->type_name(),
                       "; expected a boolean");
    tieEmbeddings = tie->get<bool>();
  }

  LlamaConfig config;
  // Hugging Face's LlamaConfig defaults where a key may be left out.
  struct Key {
    int64_t *into;
    const char *name;
    std::optional<int64_t> fallback;
  };
  for (const Key &key :
       {Key{&config.dim, "hidden_size", std::nullopt},
        Key{&config.hiddenDim, "intermediate_size", std::nullopt},
        Key{&config.layers, "num_hidden_layers", std::nullopt},
        Key{&config.heads, "num_attention_heads", std::nullopt},
        Key{&config.vocabSize, "vocab_size", std::nullopt},
        Key{&config.contextLength, "max_position_embeddings", 2048}}) {
    Result<int64_t> value = getJsonInteger(json, path, key.name, key.fallback);
    if (!value)
      return value.takeError();
    *key.into = *value;
  }
  Result<int64_t> kvHeads =
      getJsonInteger(json, path, "num_key_value_heads", config.heads);
  if (!kvHeads)
    return kvHeads.takeError();
  config.kvHeads = *kvHeads;
  Result<double> eps = getJsonNumber(json, path, "rms_norm_eps", 1e-6);
  if (!eps)
    return eps.takeError();
  Result<double> theta = getJsonNumber(json, path, "rope_theta", 10000.0);
  if (!theta)
    return theta.takeError();
  config.normEps = static_cast<float>(*eps);
  config.ropeTheta = static_cast<float>(*theta);
  config.ropeStyle = RopeStyle::SplitHalves;
  if (Status status = validateConfig(config, path); !status)
    return status.takeError();
  if (auto headDim = json.find("head_dim");
      headDim != json.end() && !headDim->is_null()) {
    Result<int64_t> value =
        getJsonInteger(json, path, "head_dim", std::nullopt);
    if (!value)
      return value.takeError();
    if (*value != config.getHeadSize())
      return makeError(path, ": head_dim ", *value,
                       " differs from hidden_size / num_attention_heads = ",
                       config.getHeadSize());
  }
  return config;
}

/// Adds the tensors of the safetensors file `file` (in `dir`) to `source`;
/// with `wanted`, only those names.
Status addSafetensors(Source &source, const std::filesystem::path &file,
                      const std::set<std::string> *wanted) {
  Result<SafetensorsFile> read = readSafetensors(file.string());
  if (!read)
    return read.takeError();
  source.mappings.push_back(read->mapping);
  std::string absolute = getAbsolutePath(file.string());
  for (const SafetensorsTensor &tensor : read->tensors) {
    if (wanted && !wanted->count(tensor.name))
      continue;
    Entry entry;
    for (uint64_t dim : tensor.shape) {
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return makeError(file.string(), ": tensor '", tensor.name,
                         "' has a dimension of ", dim);
      entry.shape.push_back(static_cast<int64_t>(dim));
    }
    switch (tensor.dtype) {
    case SafetensorsDType::F32:
      entry.format = Format::F32;
      break;
    case SafetensorsDType::F16:
      entry.format = Format::F16;
      break;
    case SafetensorsDType::BF16:
      entry.format = Format::BF16;
      break;
    default:
      break;
    }
    entry.typeName = std::string(getSafetensorsDTypeName(tensor.dtype));
    entry.data = tensor.data;
    entry.byteSize = tensor.size;
    entry.mapping = read->mapping.get();
    entry.file = absolute;
    if (!source.entries.emplace(tensor.name, std::move(entry)).second)
      return makeError(file.string(), ": tensor '", tensor.name,
                       "' is also in another shard");
  }
  return Status::success();
}

/// model.safetensors.index.json: every tensor of weight_map from its shard.
Status addShards(Source &source, const std::string &indexPath) {
  Result<Json> read = readJson(indexPath);
  if (!read)
    return read.takeError();
  auto map = read->find("weight_map");
  if (map == read->end() || !map->is_object())
    return makeError(indexPath, ": no \"weight_map\" object");
  std::map<std::string, std::set<std::string>> shards;
  for (auto it = map->begin(); it != map->end(); ++it) {
    if (!it.value().is_string())
      return makeError(indexPath, ": weight_map entry '", it.key(),
                       "' is not a file name");
    std::string shard = it.value().get<std::string>();
    if (shard.empty() || shard == "." || shard == ".." ||
        shard.find('/') != std::string::npos ||
        shard.find('\0') != std::string::npos)
      return makeError(indexPath, ": weight_map entry '", it.key(), "' names '",
                       shard, "', not a file in the index's directory");
    shards[shard].insert(it.key());
  }
  if (shards.empty())
    return makeError(indexPath, ": weight_map is empty");
  std::filesystem::path dir = std::filesystem::path(indexPath).parent_path();
  for (const auto &[shard, names] : shards) {
    if (Status status = addSafetensors(source, dir / shard, &names); !status)
      return status;
    for (const std::string &name : names)
      if (!source.entries.count(name))
        return makeError(indexPath, ": weight_map puts tensor '", name, "' in ",
                         shard, ", which does not hold it");
  }
  return Status::success();
}

Result<LlamaSpec> loadHF(const std::string &path,
                         const std::string &tokenizerPath, bool sharded) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::string configPath = (dir / "config.json").string();
  if (!std::filesystem::exists(configPath))
    return makeError(path,
                     ": a Hugging Face checkpoint needs its config.json "
                     "beside it, and ",
                     configPath, " does not exist");
  bool tie = false;
  Result<LlamaConfig> config = parseHFConfig(configPath, tie);
  if (!config)
    return config.takeError();

  Source source;
  source.name = path;
  source.path = getAbsolutePath(path);
  source.kind = "safetensors";
  source.sourceNameOf = hfNameOf;
  if (sharded) {
    if (Status status = addShards(source, path); !status)
      return status.takeError();
  } else {
    if (Status status = addSafetensors(source, path, nullptr); !status)
      return status.takeError();
    if (std::filesystem::exists(dir / "model.safetensors.index.json"))
      source.missingHint = " (the model looks sharded: load "
                           "model.safetensors.index.json instead)";
  }
  // Older checkpoints carry RoPE's inverse frequencies as buffers.
  source.ignorableSuffix = ".self_attn.rotary_emb.inv_freq";
  if (tie)
    source.ignorable.insert("lm_head.weight");
  bool shared = tie || !source.entries.count("lm_head.weight");
  Result<LlamaSpec> spec = buildSpec(source, *config, shared);
  if (spec && !tokenizerPath.empty())
    spec->tokenizerPath = getAbsolutePath(tokenizerPath);
  return spec;
}

} // namespace

Result<LlamaSpec> loadLlamaSpec(const std::string &path,
                                const std::string &tokenizerPath) {
  if (!tokenizerPath.empty()) {
    Result<std::shared_ptr<const MappedFile>> tokenizer =
        MappedFile::open(tokenizerPath);
    if (!tokenizer)
      return tokenizer.takeError();
  }
  std::string file = path;
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    std::filesystem::path dir(path);
    if (std::filesystem::exists(dir / "model.safetensors.index.json", error))
      file = (dir / "model.safetensors.index.json").string();
    else if (std::filesystem::exists(dir / "model.safetensors", error))
      file = (dir / "model.safetensors").string();
    else
      return makeError(path, ": a directory without model.safetensors or "
                             "model.safetensors.index.json");
  }
  if (hasSuffix(file, ".safetensors.index.json")) {
    if (!std::filesystem::exists(file, error))
      return makeError(file, ": cannot open: No such file or directory");
    return loadHF(file, tokenizerPath, /*sharded=*/true);
  }
  Result<ModelFileKind> kind = detectModelFileKind(file);
  if (!kind)
    return kind.takeError();
  if (*kind == ModelFileKind::Safetensors)
    return loadHF(file, tokenizerPath, /*sharded=*/false);
  return loadGGUFView(file, tokenizerPath, *kind);
}

} // namespace quantc::io
