//===- SourceModel.cpp - any model file as GGUF-named tensors -------------===//

#include "quantc/IO/SourceModel.h"

#include "quantc/IO/Llama2C.h"
#include "quantc/IO/Safetensors.h"

#include <cctype>

namespace quantc::io {

std::string_view getModelFileKindName(ModelFileKind kind) {
  switch (kind) {
  case ModelFileKind::GGUF:
    return "GGUF";
  case ModelFileKind::Safetensors:
    return "safetensors";
  case ModelFileKind::Llama2C:
    return "llama2.c";
  }
  return "?";
}

uint64_t SourceTensor::getElementCount() const {
  uint64_t count = 1;
  for (int64_t dim : shape)
    count *= static_cast<uint64_t>(dim);
  return count;
}

std::string SourceTensor::getTypeName() const {
  switch (encoding) {
  case SourceEncoding::Registry:
    return std::string(getFormatInfo(format).name);
  case SourceEncoding::F64:
    return "F64";
  case SourceEncoding::F8E4M3:
    return "F8_E4M3";
  case SourceEncoding::F8E5M2:
    return "F8_E5M2";
  }
  return "?";
}

namespace {

bool hasSuffix(const std::string &text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string stemOf(const std::string &path) {
  size_t slash = path.rfind('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = base.rfind('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

Result<SourceModel> loadGGUF(const std::string &path) {
  Result<GGUFFile> file = readGGUF(path);
  if (!file)
    return file.takeError();
  if (const GGUFValue *splits = file->find("split.count"))
    if (std::optional<int64_t> count = splits->getInteger();
        count && *count > 1)
      return makeError(path, ": part of a GGUF split into ", *count,
                       " files; merge it first (llama-gguf-split --merge)");
  SourceModel model;
  model.metadata = file->metadata;
  for (const GGUFTensor &tensor : file->tensors) {
    SourceTensor source;
    source.name = tensor.name;
    source.shape = tensor.shape;
    source.format = tensor.format;
    source.data = tensor.data;
    source.byteSize = tensor.getByteSize();
    model.tensors.push_back(std::move(source));
  }
  model.mappings.push_back(file->mapping);
  return model;
}

Result<SourceModel> loadSafetensors(const std::string &path) {
  Result<SafetensorsFile> file = readSafetensors(path);
  if (!file)
    return file.takeError();
  SourceModel model;
  for (const SafetensorsTensor &tensor : file->tensors) {
    SourceTensor source;
    source.name = tensor.name;
    switch (tensor.dtype) {
    case SafetensorsDType::F32:
      source.format = Format::F32;
      break;
    case SafetensorsDType::F16:
      source.format = Format::F16;
      break;
    case SafetensorsDType::BF16:
      source.format = Format::BF16;
      break;
    case SafetensorsDType::F64:
      source.encoding = SourceEncoding::F64;
      break;
    case SafetensorsDType::F8_E4M3:
      source.encoding = SourceEncoding::F8E4M3;
      break;
    case SafetensorsDType::F8_E5M2:
      source.encoding = SourceEncoding::F8E5M2;
      break;
    default:
      return makeError(path, ": tensor '", tensor.name, "' has dtype ",
                       getSafetensorsDTypeName(tensor.dtype),
                       "; quantc convert takes float tensors only");
    }
    if (tensor.shape.empty() || tensor.shape.size() > kGGUFMaxDims)
      return makeError(path, ": tensor '", tensor.name, "' has ",
                       tensor.shape.size(), " dimensions; GGUF holds 1 to ",
                       kGGUFMaxDims);
    for (auto it = tensor.shape.rbegin(); it != tensor.shape.rend(); ++it) {
      if (*it == 0 || *it > static_cast<uint64_t>(INT64_MAX))
        return makeError(path, ": tensor '", tensor.name,
                         "' has a dimension of ", *it,
                         "; GGUF dimensions are positive int64");
      source.shape.push_back(static_cast<int64_t>(*it));
    }
    if (tensor.name.empty() || tensor.name.size() > kGGUFMaxNameLength)
      return makeError(path, ": tensor name '", tensor.name,
                       "' does not fit GGUF's 1 to ", kGGUFMaxNameLength,
                       " bytes");
    source.data = tensor.data;
    source.byteSize = tensor.size;
    model.tensors.push_back(std::move(source));
  }
  model.mappings.push_back(file->mapping);
  model.notes.push_back(
      "safetensors input: tensor names are kept and no architecture is "
      "written, so llama.cpp cannot load the result as a model");
  return model;
}

/// llama_token_type values.
enum TokenType : int32_t { Normal = 1, Unknown = 2, Control = 3, Byte = 6 };

bool isByteToken(const std::string &text) {
  return text.size() == 6 && text.compare(0, 3, "<0x") == 0 &&
         std::isxdigit(static_cast<unsigned char>(text[3])) &&
         std::isxdigit(static_cast<unsigned char>(text[4])) && text[5] == '>';
}

/// The tokenizer.ggml.* keys convert-llama2c-to-ggml writes: ids 0/1/2 are
/// <unk>/<s>/</s>, "<0xXX>" tokens are bytes, and spaces become U+2581 as
/// in SentencePiece vocabularies.
void addTokenizer(const Llama2CTokenizer &tokenizer, SourceModel &model) {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  for (size_t id = 0; id < tokenizer.tokens.size(); ++id) {
    std::string text = tokenizer.tokens[id];
    int32_t type = Normal;
    if (id == 0) {
      text = "<unk>";
      type = Unknown;
    } else if (id == 1) {
      text = "<s>";
      type = Control;
    } else if (id == 2) {
      text = "</s>";
      type = Control;
    } else if (text.empty()) {
      type = Control;
    } else if (isByteToken(text)) {
      type = Byte;
    }
    std::string escaped;
    for (char c : text)
      escaped += c == ' ' ? std::string("\xe2\x96\x81") : std::string(1, c);
    tokens.push_back(std::move(escaped));
    types.push_back(type);
  }
  auto &m = model.metadata;
  m.push_back({"tokenizer.ggml.model", GGUFValue::of("llama")});
  m.push_back({"tokenizer.ggml.tokens", GGUFValue::arrayOf(std::move(tokens))});
  m.push_back({"tokenizer.ggml.scores", GGUFValue::arrayOf(tokenizer.scores)});
  m.push_back({"tokenizer.ggml.token_type", GGUFValue::arrayOf(types)});
  m.push_back({"tokenizer.ggml.unknown_token_id", GGUFValue::of(uint32_t(0))});
  m.push_back({"tokenizer.ggml.bos_token_id", GGUFValue::of(uint32_t(1))});
  m.push_back({"tokenizer.ggml.eos_token_id", GGUFValue::of(uint32_t(2))});
}

Result<SourceModel> loadLlama2C(const std::string &path,
                                const std::string &tokenizerPath) {
  Result<Llama2CCheckpoint> checkpoint = readLlama2C(path);
  if (!checkpoint)
    return checkpoint.takeError();
  const Llama2CConfig &c = checkpoint->config;
  SourceModel model;
  auto &m = model.metadata;
  auto u32 = [](int32_t value) {
    return GGUFValue::of(static_cast<uint32_t>(value));
  };
  m.push_back({"general.architecture", GGUFValue::of("llama")});
  m.push_back({"general.name", GGUFValue::of(stemOf(path))});
  m.push_back({"llama.context_length", u32(c.seqLen)});
  m.push_back({"llama.embedding_length", u32(c.dim)});
  m.push_back({"llama.feed_forward_length", u32(c.hiddenDim)});
  m.push_back({"llama.block_count", u32(c.layers)});
  m.push_back({"llama.attention.head_count", u32(c.heads)});
  m.push_back({"llama.attention.head_count_kv", u32(c.kvHeads)});
  m.push_back({"llama.rope.dimension_count", u32(c.getHeadSize())});
  // run.c's rmsnorm epsilon.
  m.push_back({"llama.attention.layer_norm_rms_epsilon", GGUFValue::of(1e-5f)});
  m.push_back({"llama.vocab_size", u32(c.vocabSize)});
  if (!tokenizerPath.empty()) {
    Result<Llama2CTokenizer> tokenizer =
        readLlama2CTokenizer(tokenizerPath, static_cast<uint32_t>(c.vocabSize));
    if (!tokenizer)
      return makeError(tokenizer.error(), " (the model's vocab_size is ",
                       c.vocabSize, ")");
    addTokenizer(*tokenizer, model);
  } else {
    model.notes.push_back("no --tokenizer: the GGUF has no vocabulary, which "
                          "llama.cpp needs to load it");
  }

  // One GGUF tensor per llama2.c tensor, or per layer of a stacked one
  // (whose leading dimension is the layer); ggml lists dimensions innermost
  // first.
  auto add = [&](std::string name, const char *from, int64_t layer) {
    const Llama2CTensor &t = *checkpoint->find(from);
    std::vector<int64_t> dims(t.shape.begin() + (layer >= 0 ? 1 : 0),
                              t.shape.end());
    SourceTensor source;
    source.name = std::move(name);
    source.shape.assign(dims.rbegin(), dims.rend());
    source.byteSize = source.getElementCount() * sizeof(float);
    source.data = t.data + (layer >= 0 ? layer * source.byteSize : 0);
    model.tensors.push_back(std::move(source));
  };
  add("token_embd.weight", "token_embedding_table", -1);
  add("output_norm.weight", "rms_final_weight", -1);
  // A shared classifier is token_embd.weight itself; llama.cpp falls back to
  // it when output.weight is absent.
  if (!c.sharedClassifier)
    add("output.weight", "wcls", -1);
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string blk = "blk." + std::to_string(l) + ".";
    add(blk + "attn_q.weight", "wq", l);
    add(blk + "attn_k.weight", "wk", l);
    add(blk + "attn_v.weight", "wv", l);
    add(blk + "attn_output.weight", "wo", l);
    add(blk + "attn_norm.weight", "rms_att_weight", l);
    add(blk + "ffn_gate.weight", "w1", l);
    add(blk + "ffn_down.weight", "w2", l);
    add(blk + "ffn_up.weight", "w3", l);
    add(blk + "ffn_norm.weight", "rms_ffn_weight", l);
  }
  model.mappings.push_back(checkpoint->mapping);
  return model;
}

} // namespace

Result<ModelFileKind> detectModelFileKind(const std::string &path) {
  Result<std::shared_ptr<const MappedFile>> mapped = MappedFile::open(path);
  if (!mapped)
    return mapped.takeError();
  if ((*mapped)->size() >= 4 && std::memcmp((*mapped)->data(), "GGUF", 4) == 0)
    return ModelFileKind::GGUF;
  if (hasSuffix(path, ".gguf"))
    return makeError(path, ": named .gguf but does not start with 'GGUF'");
  if (hasSuffix(path, ".safetensors"))
    return ModelFileKind::Safetensors;
  if (hasSuffix(path, ".bin"))
    return ModelFileKind::Llama2C;
  return makeError(path, ": cannot tell the model format: expected a GGUF "
                         "file, a .safetensors file or a llama2.c .bin");
}

Result<SourceModel> loadSourceModel(const std::string &path,
                                    const std::string &tokenizerPath) {
  Result<ModelFileKind> kind = detectModelFileKind(path);
  if (!kind)
    return kind.takeError();
  if (!tokenizerPath.empty() && *kind != ModelFileKind::Llama2C)
    return makeError("--tokenizer applies to llama2.c checkpoints; ", path,
                     " is ", getModelFileKindName(*kind),
                     ", which carries its own");
  Result<SourceModel> model = *kind == ModelFileKind::GGUF ? loadGGUF(path)
                              : *kind == ModelFileKind::Safetensors
                                  ? loadSafetensors(path)
                                  : loadLlama2C(path, tokenizerPath);
  if (!model)
    return model;
  model->kind = *kind;
  model->path = path;
  model->fileSize = model->mappings.front()->size();
  return model;
}

} // namespace quantc::io
