//===- Llama2C.h - karpathy/llama2.c checkpoints and tokenizers -*- C++ -*-===//
//
// The legacy (version 0) `.bin` format of llama2.c's run.c: seven int32
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a
// negative vocab_size means the classifier is not shared with the token
// embedding), then float32 tensors in a fixed order, row-major: the token
// embedding, per-layer norms and matrices stacked over layers, the final
// norm, two unused RoPE tables, and the classifier when it is not shared.
// The file has no magic, so the header is checked hard: positive sizes,
// heads that divide the width, and a file size that matches exactly.
//
// The tokenizer `.bin`: int32 max_token_length, then per token a float32
// score, an int32 length and the bytes.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_IO_LLAMA2C_H
#define QUANTC_IO_LLAMA2C_H

#include "quantc/IO/MappedFile.h"
#include "quantc/IO/Result.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quantc::io {

struct Llama2CConfig {
  int32_t dim = 0;
  int32_t hiddenDim = 0;
  int32_t layers = 0;
  int32_t heads = 0;
  int32_t kvHeads = 0;
  /// Always positive; the file's sign lives in `sharedClassifier`.
  int32_t vocabSize = 0;
  int32_t seqLen = 0;
  bool sharedClassifier = true;

  int32_t getHeadSize() const { return dim / heads; }
  int32_t getKVDim() const { return dim / heads * kvHeads; }
};

/// A float32 tensor of the checkpoint, named as llama2.c's
/// TransformerWeights fields; per-layer tensors are stacked over layers.
struct Llama2CTensor {
  std::string name;
  /// Row-major, outermost first, e.g. wq is {n_layers, dim, dim}.
  std::vector<int64_t> shape;
  /// Little-endian float32 data (a view into the mapping).
  const uint8_t *data = nullptr;

  uint64_t getElementCount() const;
};

struct Llama2CCheckpoint {
  Llama2CConfig config;
  /// token_embedding_table, rms_att_weight, wq, wk, wv, wo, rms_ffn_weight,
  /// w1, w2, w3, rms_final_weight, and wcls when not shared.
  std::vector<Llama2CTensor> tensors;
  std::shared_ptr<const MappedFile> mapping;

  const Llama2CTensor *find(std::string_view name) const;
};

Result<Llama2CCheckpoint> readLlama2C(const std::string &path);
/// Parses a checkpoint in memory; tensors view `data`.
Result<Llama2CCheckpoint> parseLlama2C(const uint8_t *data, size_t size,
                                       const std::string &name);

struct Llama2CTokenizer {
  int32_t maxTokenLength = 0;
  std::vector<std::string> tokens;
  std::vector<float> scores;
};

/// Reads a tokenizer; with `vocabSize`, the file must hold exactly that
/// many tokens (the count is not in the file), otherwise tokens are read to
/// the end of the file.
Result<Llama2CTokenizer>
readLlama2CTokenizer(const std::string &path,
                     std::optional<uint32_t> vocabSize = std::nullopt);
Result<Llama2CTokenizer>
parseLlama2CTokenizer(const uint8_t *data, size_t size, const std::string &name,
                      std::optional<uint32_t> vocabSize = std::nullopt);

} // namespace quantc::io

#endif // QUANTC_IO_LLAMA2C_H
