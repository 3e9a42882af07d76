//===- LlamaSpec.h - a Llama checkpoint as config + weight references -*- C++ -*-===//
//
// What the importer needs from any checkpoint that holds a Llama-family
// model: the hyper-parameters and, for every weight, where its bytes are
// (file, byte offset, element type, row-major shape). Weights are never
// copied: the importer writes references to them into the IR and the
// runtime maps the same files.
//
// Sources:
//  - llama2.c `.bin` (legacy version 0): rope over adjacent pairs,
//    rmsnorm eps 1e-5, theta 10000.
//  - GGUF, architecture `llama`: llama.* keys; tensors named as llama.cpp
//    names them (token_embd, blk.N.attn_q, ...); f32, f16 and bf16 only.
//    GGUF llama Q/K rows are already in adjacent-pair rope order.
//  - safetensors with Hugging Face Llama names (model.embed_tokens.weight,
//    model.layers.N.self_attn.q_proj.weight, ...) and the `config.json`
//    next to the file: rope over split halves (HF's rotate_half), which
//    is how HF's q_proj/k_proj rows are ordered, so nothing is permuted.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_IO_LLAMASPEC_H
#define QUANTC_IO_LLAMASPEC_H

#include "quantc/IO/MappedFile.h"
#include "quantc/IO/Result.h"
#include "quantc/Numerics/Formats.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quantc::io {

/// How rotary embeddings pair the dimensions of a head.
enum class RopeStyle {
  /// (x[2i], x[2i+1]): llama2.c, Meta's checkpoints, GGUF `llama`.
  AdjacentPairs,
  /// (x[i], x[i + headSize/2]): Hugging Face's rotate_half.
  SplitHalves,
};

/// "adjacent_pairs", "split_halves".
std::string_view getRopeStyleName(RopeStyle style);
/// The style getRopeStyleName spells `name`, if any.
std::optional<RopeStyle> lookupRopeStyle(std::string_view name);

struct LlamaConfig {
  int64_t dim = 0;
  int64_t hiddenDim = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t kvHeads = 0;
  int64_t vocabSize = 0;
  /// The longest context the model was trained for (llama2.c seq_len); the
  /// KV cache holds this many positions.
  int64_t contextLength = 0;
  float normEps = 1e-5f;
  float ropeTheta = 10000.0f;
  RopeStyle ropeStyle = RopeStyle::AdjacentPairs;

  int64_t getHeadSize() const { return dim / heads; }
  int64_t getKVDim() const { return getHeadSize() * kvHeads; }
};

/// One weight, in place in its file.
struct WeightRef {
  /// The GGUF name (token_embd.weight, blk.0.attn_q.weight, ...), whatever
  /// the source calls it; unique within a spec.
  std::string name;
  /// Row-major, outermost first: a projection is {out, in}; a norm {dim}.
  std::vector<int64_t> shape;
  /// F32, F16 or BF16.
  Format format = Format::F32;
  /// Absolute path of the file holding the bytes.
  std::string file;
  uint64_t offset = 0;
  /// The same bytes in the mapping (valid while the spec's mappings live).
  const uint8_t *data = nullptr;

  uint64_t getElementCount() const;
  uint64_t getByteSize() const;
};

struct LlamaLayerWeights {
  WeightRef attnNorm, wq, wk, wv, wo;
  WeightRef ffnNorm, wGate, wDown, wUp;
};

struct LlamaSpec {
  LlamaConfig config;
  /// Where the weights came from and what kind of file it is ("llama2.c",
  /// "GGUF", "safetensors").
  std::string sourcePath;
  std::string sourceKind;
  /// {vocab, dim}.
  WeightRef tokenEmbedding;
  std::vector<LlamaLayerWeights> layers;
  /// {dim}.
  WeightRef outputNorm;
  /// {vocab, dim}; the token embedding itself when the classifier is shared.
  WeightRef output;
  bool sharedClassifier = false;
  /// A file the tokenizer can be read from: the llama2.c tokenizer `.bin`
  /// given at load, or the GGUF itself when it carries tokenizer.ggml.*;
  /// empty when none is known.
  std::string tokenizerPath;
  std::vector<std::shared_ptr<const MappedFile>> mappings;

  /// Every weight, in checkpoint order (embedding, layers, norm, output
  /// unless shared).
  std::vector<const WeightRef *> getWeights() const;
};

/// Loads any supported checkpoint (detected as `quantc convert` does).
/// `tokenizerPath` may be empty; when set it must exist and is recorded
/// (absolute; a llama2.c model's must be a tokenizer of its vocabulary).
/// Refuses, with the tensor named, what the importer cannot express yet:
/// quantized GGUF tensors, missing or misshapen weights, architectures
/// other than llama.
///
/// A Hugging Face model may also be given as its sharded index
/// (`model.safetensors.index.json`, whose weight_map names shards in its
/// directory) or as the directory holding it or `model.safetensors`; the
/// `config.json` beside it supplies the config (rope_scaling is refused).
/// Tensors a plain Llama lacks (biases, rope_freqs, experts) are refused
/// rather than ignored, except HF's rotary_emb.inv_freq buffers. Paths in
/// the spec (sourcePath, WeightRef::file, tokenizerPath) are absolute with
/// symbolic links resolved.
Result<LlamaSpec> loadLlamaSpec(const std::string &path,
                                const std::string &tokenizerPath = "");

} // namespace quantc::io

#endif // QUANTC_IO_LLAMASPEC_H
