//===- Model.h - running a compiled forward pass ----------------*- C++ -*-===//
//
// MLIR-free: what both the JIT (lib/Target) and a compiled artifact (a
// shared library, loaded here with dlopen) hand over is the same packed
// entry point, `qc_forward(void **args)`, over the C interface of the
// lowered `@forward`:
//
//   forward(weights_0 .. weights_{F-1}: memref<?xi8>, tokens: memref<?xi32>,
//           pos: index, k_cache: memref<LxSxKVxf32>,
//           v_cache: memref<LxSxKVxf32>, logits: memref<?xVxf32>)
//
// args[i] points at argument i (for a memref, at a pointer to its
// descriptor). A Model maps the weight files once; a Session owns one KV
// cache and checks every call (token ids, positions) before the compiled
// code, which trusts its inputs, runs.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_RUNTIME_MODEL_H
#define QUANTC_RUNTIME_MODEL_H

#include "quantc/IO/MappedFile.h"
#include "quantc/IO/Result.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace quantc::runtime {

using io::Error;
using io::Result;
using io::Status;

/// The shapes and files a compiled forward pass was built for. Artifacts
/// carry it as JSON (`qc_manifest`).
struct ModelInterface {
  int64_t layers = 0;
  int64_t contextLength = 0;
  int64_t kvDim = 0;
  int64_t vocabSize = 0;
  struct WeightFile {
    std::string path;
    /// The compiled code reads bytes [0, requiredBytes) of the file.
    uint64_t requiredBytes = 0;
  };
  std::vector<WeightFile> weightFiles;
  /// Where the vocabulary can be read (llama2.c tokenizer or GGUF); may be
  /// empty.
  std::string tokenizerPath;
  /// The checkpoint the model was imported from, for people.
  std::string source;

  std::string toJSON() const;
  static Result<ModelInterface> fromJSON(const std::string &text);
};

using PackedForward = void (*)(void **);

/// Bytes the host holds in place of a weight file the model reads (matched
/// by path): the compiled code reads them on every call, so the host may
/// change them between calls (GPTQ's true-sequential calibration runs each
/// layer on the already-quantized weights before it). The host keeps them
/// alive as long as the model.
struct HostWeights {
  std::string path;
  const uint8_t *data = nullptr;
  size_t size = 0;
};

class Session;

/// A compiled forward pass with its weights mapped.
class Model {
public:
  /// Maps every weight file (except those `hostWeights` provides) and
  /// checks it is long enough. `owner` keeps the code alive (the JIT engine
  /// or the dlopen handle).
  static Result<std::unique_ptr<Model>>
  create(ModelInterface interface, PackedForward forward,
         std::shared_ptr<void> owner,
         const std::vector<HostWeights> &hostWeights = {});

  const ModelInterface &getInterface() const { return interface; }
  std::unique_ptr<Session> createSession() const;

private:
  friend class Session;
  Model() = default;

  ModelInterface interface;
  PackedForward forward = nullptr;
  std::shared_ptr<void> owner;
  /// Keeps the mapped files alive.
  std::vector<std::shared_ptr<const io::MappedFile>> mappings;
  /// What each weight argument points at, in the interface's order.
  std::vector<std::pair<const uint8_t *, size_t>> weights;
};

/// One sequence: a KV cache of the model's context length.
class Session {
public:
  explicit Session(const Model &model);

  /// Runs `count` tokens at positions [position, position + count) and
  /// writes count x vocab logits. Positions before `position` must have been
  /// run in this session (or be overwritten by this call); position + count
  /// must not exceed the context length; token ids must be < vocab.
  Status forward(const int32_t *tokens, int64_t count, int64_t position,
                 float *logits);

  const Model &getModel() const { return model; }

private:
  const Model &model;
  std::vector<float> keyCache, valueCache;
};

/// Loads an artifact written by `quantc compile`.
Result<std::unique_ptr<Model>> loadArtifact(const std::string &path);

/// True when `path` looks like an artifact (an ELF shared object).
bool isArtifact(const std::string &path);

} // namespace quantc::runtime

#endif // QUANTC_RUNTIME_MODEL_H
