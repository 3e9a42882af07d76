//===- SourceModel.h - any model file as GGUF-named tensors -----*- C++ -*-===//
//
// `quantc convert` reads GGUF, safetensors and llama2.c files; this gives
// all three one shape: the metadata a GGUF of the model should carry and
// its tensors in GGUF terms (ggml ne order, GGUF names), viewing the
// mapped input.
//
//  - GGUF: metadata and tensors as they are.
//  - llama2.c: llama.cpp's `llama` architecture, named and ordered as
//    llama.cpp's own convert-llama2c-to-ggml writes them (token_embd.weight,
//    output_norm.weight, output.weight when the classifier is not shared,
//    blk.N.attn_q/attn_k/attn_v/attn_output/attn_norm/ffn_gate/ffn_down/
//    ffn_up/ffn_norm.weight), per-layer slices of llama2.c's stacked
//    tensors. Weights are not permuted: llama2.c rotates adjacent pairs,
//    which is ggml's default (non-NeoX) RoPE, so Q and K are already in the
//    layout llama.cpp expects (only Hugging Face checkpoints need
//    convert_hf_to_gguf's permutation). With a tokenizer, the
//    tokenizer.ggml.* keys are written as that tool writes them; without
//    one llama.cpp will not load the file (it needs a vocabulary).
//  - safetensors: tensor names and shapes kept, no architecture claimed;
//    integer and boolean tensors are refused.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_IO_SOURCEMODEL_H
#define QUANTC_IO_SOURCEMODEL_H

#include "quantc/IO/GGUF.h"
#include "quantc/IO/MappedFile.h"
#include "quantc/IO/Result.h"
#include "quantc/Numerics/Formats.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace quantc::io {

enum class ModelFileKind { GGUF, Safetensors, Llama2C };

std::string_view getModelFileKindName(ModelFileKind kind);

/// GGUF by its magic, otherwise by extension: `.safetensors`, or `.bin` for
/// a llama2.c checkpoint; anything else is an error.
Result<ModelFileKind> detectModelFileKind(const std::string &path);

/// How a source tensor's elements are stored.
enum class SourceEncoding {
  /// A registry format (`SourceTensor::format`), decodable where it has a
  /// codec.
  Registry,
  /// safetensors dtypes GGUF cannot hold, decoded to float.
  F64,
  F8E4M3,
  F8E5M2,
};

struct SourceTensor {
  /// The GGUF name.
  std::string name;
  /// ggml ne order: ne[0] is the row length.
  std::vector<int64_t> shape;
  SourceEncoding encoding = SourceEncoding::Registry;
  /// The storage format when `encoding` is Registry.
  Format format = Format::F32;
  const uint8_t *data = nullptr;
  uint64_t byteSize = 0;

  uint64_t getElementCount() const;
  /// "f32", "q4_0", "F64", ... for people.
  std::string getTypeName() const;
};

struct SourceModel {
  ModelFileKind kind = ModelFileKind::GGUF;
  std::string path;
  uint64_t fileSize = 0;
  /// What a GGUF of this model carries, in order.
  std::vector<GGUFKeyValue> metadata;
  std::vector<SourceTensor> tensors;
  /// Things a person should know about the result (e.g. that llama.cpp
  /// needs a tokenizer to load it).
  std::vector<std::string> notes;
  std::vector<std::shared_ptr<const MappedFile>> mappings;
};

/// Loads `path`; `tokenizerPath` (llama2.c only, may be empty) adds the
/// vocabulary.
Result<SourceModel> loadSourceModel(const std::string &path,
                                    const std::string &tokenizerPath);

} // namespace quantc::io

#endif // QUANTC_IO_SOURCEMODEL_H
