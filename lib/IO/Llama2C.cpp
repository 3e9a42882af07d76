//===- Llama2C.cpp - karpathy/llama2.c checkpoints and tokenizers ---------===//

#include "quantc/IO/Llama2C.h"

#include "Bytes.h"

#include <limits>

namespace quantc::io {

uint64_t Llama2CTensor::getElementCount() const {
  uint64_t count = 1;
  for (int64_t dim : shape)
    count *= static_cast<uint64_t>(dim);
  return count;
}

const Llama2CTensor *Llama2CCheckpoint::find(std::string_view name) const {
  for (const Llama2CTensor &tensor : tensors)
    if (tensor.name == name)
      return &tensor;
  return nullptr;
}

namespace {

constexpr size_t kHeaderBytes = 7 * sizeof(int32_t);
/// export.py's version 1 and 2 files start with this uint32 ("ak42").
constexpr uint32_t kExportMagic = 0x616b3432;

Status checkConfig(const int32_t (&h)[7], const std::string &name) {
  const char *fields[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                           "n_kv_heads", "vocab_size", "seq_len"};
  for (int i = 0; i < 7; ++i) {
    bool ok = i == 5 ? h[i] != 0 && h[i] != std::numeric_limits<int32_t>::min()
                     : h[i] > 0;
    if (!ok)
      return makeError(name, ": not a llama2.c checkpoint: header field ",
                       fields[i], " = ", h[i], " must be ",
                       i == 5 ? "non-zero" : "positive");
  }
  int32_t dim = h[0], heads = h[3], kvHeads = h[4];
  if (dim % heads != 0)
    return makeError(name, ": not a llama2.c checkpoint: n_heads ", heads,
                     " does not divide dim ", dim);
  if (heads % kvHeads != 0)
    return makeError(name, ": not a llama2.c checkpoint: n_kv_heads ", kvHeads,
                     " does not divide n_heads ", heads);
  if ((dim / heads) % 2 != 0)
    return makeError(name, ": not a llama2.c checkpoint: head size ",
                     dim / heads, " is odd; RoPE rotates pairs");
  return Status::success();
}

} // namespace

Result<Llama2CCheckpoint> parseLlama2C(const uint8_t *data, size_t size,
                                       const std::string &name) {
  ByteReader in(data, size);
  int32_t h[7];
  for (int32_t &field : h)
    if (!in.read(field))
      return makeError(name, ": not a llama2.c checkpoint: ", size,
                       " bytes, shorter than the 28-byte header");
  if (static_cast<uint32_t>(h[0]) == kExportMagic)
    return makeError(name, ": a llama2.c export.py version ", h[1],
                     " file (magic 'ak42'); quantc reads the legacy "
                     "version-0 format (export.py --version 0)");
  if (Status status = checkConfig(h, name); !status)
    return status.takeError();

  Llama2CCheckpoint checkpoint;
  Llama2CConfig &c = checkpoint.config;
  c.dim = h[0];
  c.hiddenDim = h[1];
  c.layers = h[2];
  c.heads = h[3];
  c.kvHeads = h[4];
  c.sharedClassifier = h[5] > 0;
  c.vocabSize = h[5] > 0 ? h[5] : -h[5];
  c.seqLen = h[6];

  const int64_t L = c.layers, D = c.dim, H = c.hiddenDim, V = c.vocabSize,
                KV = c.getKVDim();
  struct Planned {
    const char *name;
    std::vector<int64_t> shape;
  };
  std::vector<Planned> planned = {
      {"token_embedding_table", {V, D}},
      {"rms_att_weight", {L, D}},
      {"wq", {L, D, D}},
      {"wk", {L, KV, D}},
      {"wv", {L, KV, D}},
      {"wo", {L, D, D}},
      {"rms_ffn_weight", {L, D}},
      {"w1", {L, H, D}},
      {"w2", {L, D, H}},
      {"w3", {L, H, D}},
      {"rms_final_weight", {D}},
  };
  // run.c skips the two old RoPE tables, seq_len * head_size / 2 floats each.
  uint64_t ropeFloats = static_cast<uint64_t>(c.seqLen) *
                        static_cast<uint64_t>(c.getHeadSize()) / 2 * 2;

  uint64_t offset = kHeaderBytes;
  bool overflow = false;
  auto advance = [&](uint64_t floats) {
    uint64_t bytes;
    overflow |= mulOverflows(floats, sizeof(float), bytes) ||
                addOverflows(offset, bytes, offset);
  };
  for (Planned &p : planned) {
    Llama2CTensor tensor;
    tensor.name = p.name;
    tensor.shape = std::move(p.shape);
    uint64_t floats = 1;
    for (int64_t dim : tensor.shape)
      overflow |= mulOverflows(floats, static_cast<uint64_t>(dim), floats);
    if (!overflow && offset <= size)
      tensor.data = data + offset;
    advance(floats);
    checkpoint.tensors.push_back(std::move(tensor));
  }
  advance(ropeFloats);
  if (!c.sharedClassifier) {
    Llama2CTensor wcls;
    wcls.name = "wcls";
    wcls.shape = {V, D};
    if (!overflow && offset <= size)
      wcls.data = data + offset;
    advance(static_cast<uint64_t>(V) * static_cast<uint64_t>(D));
    checkpoint.tensors.push_back(std::move(wcls));
  }
  if (overflow || offset != size) {
    std::string expected =
        overflow ? std::string("more than 2^64") : std::to_string(offset);
    return makeError(name,
                     ": llama2.c checkpoint size mismatch: the header "
                     "(dim ",
                     c.dim, ", hidden_dim ", c.hiddenDim, ", n_layers ",
                     c.layers, ", n_heads ", c.heads, ", n_kv_heads ",
                     c.kvHeads, ", vocab_size ", h[5], ", seq_len ", c.seqLen,
                     ") implies ", expected, " bytes but the file has ", size);
  }
  return checkpoint;
}

Result<Llama2CCheckpoint> readLlama2C(const std::string &path) {
  Result<std::shared_ptr<const MappedFile>> mapped = MappedFile::open(path);
  if (!mapped)
    return mapped.takeError();
  Result<Llama2CCheckpoint> checkpoint =
      parseLlama2C((*mapped)->data(), (*mapped)->size(), path);
  if (checkpoint)
    checkpoint->mapping = *mapped;
  return checkpoint;
}

Result<Llama2CTokenizer> parseLlama2CTokenizer(const uint8_t *data, size_t size,
                                               const std::string &name,
                                               std::optional<uint32_t> vocab) {
  ByteReader in(data, size);
  Llama2CTokenizer tokenizer;
  if (!in.read(tokenizer.maxTokenLength))
    return makeError(name, ": not a llama2.c tokenizer: ", size,
                     " bytes, shorter than the 4-byte max_token_length");
  if (tokenizer.maxTokenLength <= 0)
    return makeError(name, ": not a llama2.c tokenizer: max_token_length ",
                     tokenizer.maxTokenLength, " must be positive");
  // A token takes at least 8 bytes (score and length).
  if (vocab && *vocab > in.remaining() / 8)
    return makeError(name, ": ", *vocab, " tokens cannot fit in ", size,
                     " bytes");
  while (vocab ? tokenizer.tokens.size() < *vocab : in.remaining() != 0) {
    size_t index = tokenizer.tokens.size();
    float score;
    int32_t length;
    if (!in.read(score) || !in.read(length))
      return makeError(name, ": truncated llama2.c tokenizer: token ", index,
                       " at byte ", in.offset(), " runs past the end");
    if (length < 0 || length > tokenizer.maxTokenLength)
      return makeError(name, ": token ", index, " has length ", length,
                       "; max_token_length is ", tokenizer.maxTokenLength);
    std::string text;
    if (!in.readString(static_cast<uint64_t>(length), text))
      return makeError(name, ": truncated llama2.c tokenizer: the ", length,
                       " bytes of token ", index, " run past the end");
    tokenizer.tokens.push_back(std::move(text));
    tokenizer.scores.push_back(score);
  }
  if (in.remaining() != 0)
    return makeError(name, ": ", in.remaining(), " bytes follow the ",
                     tokenizer.tokens.size(), " tokens");
  if (tokenizer.tokens.empty())
    return makeError(name, ": the tokenizer has no tokens");
  return tokenizer;
}

Result<Llama2CTokenizer> readLlama2CTokenizer(const std::string &path,
                                              std::optional<uint32_t> vocab) {
  Result<std::shared_ptr<const MappedFile>> mapped = MappedFile::open(path);
  if (!mapped)
    return mapped.takeError();
  return parseLlama2CTokenizer((*mapped)->data(), (*mapped)->size(), path,
                               vocab);
}

} // namespace quantc::io
