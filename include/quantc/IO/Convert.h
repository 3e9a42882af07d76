//===- Convert.h - model files to quantized GGUF ----------------*- C++ -*-===//
//
// `quantc convert`: every eligible tensor of a GGUF, safetensors or llama2.c
// file is quantized to one storage format and the result written as GGUF.
//
// Eligible, as in llama-quantize: the name ends in "weight", the tensor has
// at least two dimensions (ggml_n_dims), it is not a norm ("_norm.weight")
// and not on llama-quantize's list of small special tensors (MoE routers,
// positional embeddings, Mamba/RWKV mixing weights, ...). Token embeddings
// and output.weight are quantized too, unless options say otherwise.
// Other tensors are copied unchanged from a GGUF; from other inputs they
// keep their format (f32, f16, bf16) except 1-D tensors, which become f32
// as convert_hf_to_gguf makes them, and F64/FP8, which become f32.
//
// A row that is not a whole number of the format's blocks falls back as
// llama.cpp's llama_tensor_get_type does (q4_K -> q5_0, q5_K -> q5_1,
// q6_K -> q8_0, q2_K/q3_K/iq4_xs -> iq4_nl, tq1_0/tq2_0 -> q4_0), and to f16
// when that does not divide either; where llama-quantize gives up (the
// 32-element formats), quantc uses f16 too (quantc::resolveRowFormat in
// Numerics/Scheme.h, which qc-quantize shares). Every fallback is reported.
//
// Everything is checked before anything is written: unknown formats,
// formats without a codec yet, requantizing without permission, imatrix
// sizes.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_IO_CONVERT_H
#define QUANTC_IO_CONVERT_H

#include "quantc/IO/Imatrix.h"
#include "quantc/IO/Result.h"
#include "quantc/IO/SourceModel.h"
#include "quantc/Numerics/Formats.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace quantc::io {

/// A `--type` name: a registry spelling (`q4_K`), any case (`Q4_K`); only
/// formats meant for weights or floats.
Result<Format> parseWeightType(std::string_view name);

/// llama.cpp's general.file_type (enum llama_ftype) of a file quantized to
/// `format` throughout, e.g. 2 for q4_0, 14 (Q4_K_S) for q4_K.
std::optional<uint32_t> getLlamaFileType(Format format);

struct ConvertOptions {
  Format type = Format::Q8_0;
  /// Overrides for token_embd.weight and output.weight.
  std::optional<Format> tokenEmbeddingType;
  std::optional<Format> outputTensorType;
  /// Keep output.weight as it is.
  bool leaveOutputTensor = false;
  /// Allow quantizing tensors that are already block-quantized.
  bool allowRequantize = false;
  /// 0: one per hardware thread.
  unsigned threads = 0;
};

enum class TensorAction {
  /// Bytes unchanged.
  Copy,
  /// Re-encoded to a float format (not eligible for quantization).
  Convert,
  /// Eligible: quantized to the target.
  Quantize,
};

struct TensorPlan {
  const SourceTensor *source = nullptr;
  /// Chosen for quantization (the action may still be Copy when the tensor
  /// already has the target format).
  bool eligible = false;
  TensorAction action = TensorAction::Copy;
  Format target = Format::F32;
  /// The format asked for, when a fallback replaced it, and why.
  std::optional<Format> requested;
  std::string fallbackReason;
  /// Importance weights, when the imatrix has the tensor and the target
  /// uses them: ne[0] of them, or ne[0] per matrix of a 3-D tensor.
  const std::vector<float> *importance = nullptr;
  /// The imatrix was given but has no entry for this quantized tensor.
  bool missingImportance = false;
  uint64_t targetBytes = 0;
};

struct ConvertPlan {
  std::vector<TensorPlan> tensors;
  /// The output's metadata: the source's, then general.quantization_version,
  /// general.file_type and, with an imatrix, quantize.imatrix.*.
  std::vector<GGUFKeyValue> metadata;
};

/// Decides every tensor's fate; `imatrix` and `imatrixPath` may be null and
/// empty.
Result<ConvertPlan> planConversion(const SourceModel &model,
                                   const ConvertOptions &options,
                                   const ImportanceMatrix *imatrix,
                                   const std::string &imatrixPath);

/// Called after each tensor is written.
using ConvertProgress =
    std::function<void(const TensorPlan &plan, size_t index, size_t count)>;

/// Executes `plan` (rows split over threads; the bytes do not depend on the
/// thread count) and writes `outputPath` atomically. Returns the output's
/// size in bytes.
Result<uint64_t> runConversion(const ConvertPlan &plan,
                               const ConvertOptions &options,
                               const std::string &outputPath,
                               const ConvertProgress &progress = {});

} // namespace quantc::io

#endif // QUANTC_IO_CONVERT_H
