//===- Convert.cpp - model files to quantized GGUF ------------------------===//

#include "quantc/IO/Convert.h"

#include "quantc/Numerics/BlockCodecs.h"
#include "quantc/Numerics/FP8.h"
#include "quantc/Numerics/Scheme.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <thread>

namespace quantc::io {

Result<Format> parseWeightType(std::string_view name) {
  size_t count;
  const FormatInfo *formats = allFormats(count);
  const FormatInfo *match = nullptr;
  for (size_t i = 0; i < count && !match; ++i)
    if (formats[i].name == name)
      match = &formats[i];
  auto sameIgnoringCase = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  for (size_t i = 0; i < count && !match; ++i)
    if (sameIgnoringCase(formats[i].name, name))
      match = &formats[i];
  if (match && match->role == FormatRole::Activation)
    return makeError(match->name,
                     " is the format llama.cpp quantizes activations to, not "
                     "a weight type");
  if (match)
    return match->format;
  std::string known;
  for (size_t i = 0; i < count; ++i)
    if (formats[i].role != FormatRole::Activation)
      known += (known.empty() ? "" : " ") + std::string(formats[i].name);
  return makeError("unknown type '", name, "'; expected one of: ", known);
}

std::optional<uint32_t> getLlamaFileType(Format format) {
  switch (format) {
  case Format::F32:
    return 0;
  case Format::F16:
    return 1;
  case Format::Q4_0:
    return 2;
  case Format::Q4_1:
    return 3;
  case Format::Q8_0:
    return 7;
  case Format::Q5_0:
    return 8;
  case Format::Q5_1:
    return 9;
  case Format::Q2_K:
    return 10;
  case Format::Q3_K:
    return 11; // Q3_K_S: q3_K throughout
  case Format::Q4_K:
    return 14; // Q4_K_S
  case Format::Q5_K:
    return 16; // Q5_K_S
  case Format::Q6_K:
    return 18;
  case Format::IQ4_NL:
    return 25;
  case Format::IQ4_XS:
    return 30;
  case Format::BF16:
    return 32;
  case Format::TQ1_0:
    return 36;
  case Format::TQ2_0:
    return 37;
  case Format::Q8_1:
  case Format::Q8_K:
    return std::nullopt;
  }
  return std::nullopt;
}

namespace {

bool contains(const std::string &text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

bool hasSuffix(const std::string &text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// llama-quantize leaves these alone (src/llama-quant.cpp): small, or
/// read in ways block formats would break.
constexpr std::string_view kNeverQuantized[] = {
    "ffn_gate_inp.weight",
    "altup",
    "laurel",
    "per_layer_model_proj",
    "ssm_conv1d.weight",
    "shortconv.conv.weight",
    "time_mix_first.weight",
    "time_mix_w0.weight",
    "time_mix_w1.weight",
    "time_mix_w2.weight",
    "time_mix_v0.weight",
    "time_mix_v1.weight",
    "time_mix_v2.weight",
    "time_mix_a0.weight",
    "time_mix_a1.weight",
    "time_mix_a2.weight",
    "time_mix_g1.weight",
    "time_mix_g2.weight",
    "time_mix_decay_w1.weight",
    "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight",
    "attn_rel_b.weight",
};

bool isEligible(const SourceTensor &tensor, const ConvertOptions &options) {
  const std::string &name = tensor.name;
  if (!hasSuffix(name, "weight") || getEffectiveRank(tensor.shape) < 2 ||
      contains(name, "_norm.weight") || name == "position_embd.weight" ||
      name == "token_types.weight")
    return false;
  if (options.leaveOutputTensor && name == "output.weight")
    return false;
  for (std::string_view part : kNeverQuantized)
    if (contains(name, part))
      return false;
  return true;
}

bool canDecode(const SourceTensor &tensor) {
  return tensor.encoding != SourceEncoding::Registry ||
         getRowCodec(tensor.format) != nullptr;
}

Status planTensor(const SourceModel &model, const SourceTensor &tensor,
                  const ConvertOptions &options,
                  const ImportanceMatrix *imatrix, TensorPlan &plan) {
  plan.source = &tensor;
  const bool registry = tensor.encoding == SourceEncoding::Registry;
  const int64_t rowLength = tensor.shape[0];
  plan.eligible = isEligible(tensor, options);
  if (plan.eligible) {
    Format wanted = options.type;
    if (tensor.name == "token_embd.weight" && options.tokenEmbeddingType)
      wanted = *options.tokenEmbeddingType;
    if (tensor.name == "output.weight" && options.outputTensorType)
      wanted = *options.outputTensorType;
    plan.target = wanted;
    uint32_t block = getFormatInfo(wanted).blockSize;
    if (Format resolved =
            resolveRowFormat(wanted, static_cast<uint64_t>(rowLength));
        resolved != wanted) {
      plan.requested = wanted;
      plan.target = resolved;
      plan.fallbackReason = "rows of " + std::to_string(rowLength) +
                            " are not a multiple of " + std::to_string(block);
    }
    if (registry && tensor.format == plan.target) {
      plan.action = TensorAction::Copy;
    } else {
      if (registry && getFormatInfo(tensor.format).isBlockQuantized() &&
          !options.allowRequantize)
        return makeError(model.path, ": tensor '", tensor.name, "' is already ",
                         getFormatInfo(tensor.format).name,
                         "; quantizing it again loses accuracy, pass "
                         "--allow-requantize to do it anyway");
      plan.action = TensorAction::Quantize;
    }
  } else if (model.kind == ModelFileKind::GGUF) {
    plan.action = TensorAction::Copy;
    plan.target = tensor.format;
  } else {
    // As convert_hf_to_gguf: vectors in f32, other float tensors as stored.
    bool keep = registry && getEffectiveRank(tensor.shape) >= 2;
    plan.target = keep ? tensor.format : Format::F32;
    plan.action = registry && tensor.format == plan.target
                      ? TensorAction::Copy
                      : TensorAction::Convert;
  }

  if (plan.action != TensorAction::Copy) {
    if (!canDecode(tensor))
      return makeError(model.path, ": tensor '", tensor.name, "' is ",
                       tensor.getTypeName(),
                       ", which quantc cannot decode yet (not supported yet)");
    if (!getRowCodec(plan.target))
      return makeError(
          "quantc has no ", getFormatInfo(plan.target).name,
          " codec yet (not supported yet), needed for tensor '", tensor.name,
          "'", plan.requested ? " as the fallback of " : "",
          plan.requested ? getFormatInfo(*plan.requested).name : "");
  }
  plan.targetBytes = *getTensorByteSize(plan.target, tensor.shape);

  if (imatrix && plan.action == TensorAction::Quantize &&
      getFormatInfo(plan.target).acceptsImportance) {
    const std::vector<float> *weights = imatrix->lookup(tensor.name);
    if (!weights) {
      plan.missingImportance = true;
      return Status::success();
    }
    uint64_t columns = static_cast<uint64_t>(rowLength);
    bool perMatrix = tensor.shape.size() >= 3 &&
                     (tensor.shape.size() == 3 || tensor.shape[3] == 1) &&
                     weights->size() == columns * tensor.shape[2];
    if (weights->size() != columns && !perMatrix)
      return makeError("the imatrix has ", weights->size(),
                       " weights for tensor '", tensor.name,
                       "', whose rows have ", columns, " elements");
    plan.importance = weights;
  }
  return Status::success();
}

} // namespace

Result<ConvertPlan> planConversion(const SourceModel &model,
                                   const ConvertOptions &options,
                                   const ImportanceMatrix *imatrix,
                                   const std::string &imatrixPath) {
  ConvertPlan plan;
  for (const SourceTensor &tensor : model.tensors) {
    TensorPlan tensorPlan;
    if (Status status = planTensor(model, tensor, options, imatrix, tensorPlan);
        !status)
      return status.takeError();
    plan.tensors.push_back(std::move(tensorPlan));
  }

  GGUFFile out;
  out.metadata = model.metadata;
  // One output file, whatever the input was split into.
  out.remove("split.no");
  out.remove("split.count");
  out.remove("split.tensors.count");
  // As llama-quantize: ggml's quantization version, then the file type.
  out.set("general.quantization_version", GGUFValue::of(uint32_t(2)));
  if (std::optional<uint32_t> fileType = getLlamaFileType(options.type))
    out.set("general.file_type", GGUFValue::of(*fileType));
  if (imatrix) {
    out.set("quantize.imatrix.file", GGUFValue::of(imatrixPath));
    if (!imatrix->datasets.empty())
      out.set("quantize.imatrix.dataset",
              GGUFValue::of(imatrix->datasets.front()));
    out.set("quantize.imatrix.entries_count",
            GGUFValue::of(static_cast<uint32_t>(
                imatrix->forEveryTensor ? 1 : imatrix->entries.size())));
    if (imatrix->chunkCount)
      out.set("quantize.imatrix.chunks_count",
              GGUFValue::of(*imatrix->chunkCount));
  }
  plan.metadata = std::move(out.metadata);
  return plan;
}

namespace {

/// Decodes `count` rows starting at `row` to floats.
bool decodeRows(const SourceTensor &tensor, uint64_t row, uint64_t count,
                float *out) {
  const int64_t columns = tensor.shape[0];
  const uint64_t elements = count * static_cast<uint64_t>(columns);
  switch (tensor.encoding) {
  case SourceEncoding::Registry: {
    uint64_t rowBytes =
        *getFormatInfo(tensor.format).rowBytes(static_cast<uint64_t>(columns));
    return dequantizeRows(tensor.format, tensor.data + row * rowBytes, out,
                          static_cast<int64_t>(count), columns);
  }
  case SourceEncoding::F64:
    for (uint64_t i = 0; i < elements; ++i) {
      double value;
      std::memcpy(&value, tensor.data + (row * columns + i) * sizeof(double),
                  sizeof(double));
      out[i] = static_cast<float>(value);
    }
    return true;
  case SourceEncoding::F8E4M3:
  case SourceEncoding::F8E5M2:
    fp8ToFp32Row(tensor.data + row * columns, out,
                 static_cast<int64_t>(elements),
                 tensor.encoding == SourceEncoding::F8E4M3 ? FP8Kind::E4M3FN
                                                           : FP8Kind::E5M2);
    return true;
  }
  return false;
}

/// Encodes rows [begin, end) of the plan's tensor into `dst`.
Status encodeRows(const TensorPlan &plan, uint64_t begin, uint64_t end,
                  uint8_t *dst) {
  const SourceTensor &tensor = *plan.source;
  const uint64_t columns = static_cast<uint64_t>(tensor.shape[0]);
  const uint64_t rowsPerMatrix =
      tensor.shape.size() >= 2 ? static_cast<uint64_t>(tensor.shape[1]) : 1;
  const uint64_t rowBytes = *getFormatInfo(plan.target).rowBytes(columns);
  const bool perMatrix = plan.importance && plan.importance->size() != columns;
  // About 256 KiB of floats at a time, never across a matrix boundary.
  const uint64_t batch = std::max<uint64_t>(1, (uint64_t(1) << 16) / columns);
  std::vector<float> rows(std::min(batch, end - begin) * columns);
  for (uint64_t row = begin; row < end;) {
    uint64_t matrixEnd = (row / rowsPerMatrix + 1) * rowsPerMatrix;
    uint64_t count = std::min({batch, end - row, matrixEnd - row});
    if (!decodeRows(tensor, row, count, rows.data()))
      return makeError("cannot decode tensor '", tensor.name, "' (",
                       tensor.getTypeName(), ")");
    const float *importance =
        !plan.importance ? nullptr
        : perMatrix ? plan.importance->data() + (row / rowsPerMatrix) * columns
                    : plan.importance->data();
    size_t written = quantizeRows(
        plan.target, rows.data(), dst + row * rowBytes,
        static_cast<int64_t>(count), static_cast<int64_t>(columns), importance);
    if (written != count * rowBytes)
      return makeError("cannot encode tensor '", tensor.name, "' as ",
                       getFormatInfo(plan.target).name);
    row += count;
  }
  return Status::success();
}

Status encodeTensor(const TensorPlan &plan, uint8_t *dst, unsigned threads) {
  const SourceTensor &tensor = *plan.source;
  const uint64_t rows =
      tensor.getElementCount() / static_cast<uint64_t>(tensor.shape[0]);
  // A thread pays off from about 64K elements of work (a few ms).
  uint64_t workers = std::min<uint64_t>(
      {threads, rows, std::max<uint64_t>(1, tensor.getElementCount() >> 16)});
  if (workers <= 1)
    return encodeRows(plan, 0, rows, dst);
  std::vector<Status> results(workers);
  std::vector<std::thread> pool;
  for (uint64_t w = 0; w < workers; ++w)
    pool.emplace_back([&, w] {
      results[w] =
          encodeRows(plan, rows * w / workers, rows * (w + 1) / workers, dst);
    });
  for (std::thread &thread : pool)
    thread.join();
  for (Status &status : results)
    if (!status)
      return status;
  return Status::success();
}

} // namespace

Result<uint64_t> runConversion(const ConvertPlan &plan,
                               const ConvertOptions &options,
                               const std::string &outputPath,
                               const ConvertProgress &progress) {
  unsigned threads = options.threads;
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());

  GGUFFile out;
  out.metadata = plan.metadata;
  for (const TensorPlan &tensorPlan : plan.tensors) {
    GGUFTensor tensor;
    tensor.name = tensorPlan.source->name;
    tensor.shape = tensorPlan.source->shape;
    tensor.format = tensorPlan.target;
    out.tensors.push_back(std::move(tensor));
  }
  GGUFTensorFiller fill = [&](size_t index, uint8_t *dst,
                              uint64_t size) -> Status {
    const TensorPlan &tensorPlan = plan.tensors[index];
    if (tensorPlan.action == TensorAction::Copy) {
      std::memcpy(dst, tensorPlan.source->data, size);
    } else if (Status status = encodeTensor(tensorPlan, dst, threads);
               !status) {
      return status;
    }
    if (progress)
      progress(tensorPlan, index, plan.tensors.size());
    return Status::success();
  };
  if (Status status = writeGGUFFile(out, outputPath, fill); !status)
    return status.takeError();
  std::error_code error;
  uint64_t size = std::filesystem::file_size(outputPath, error);
  if (error)
    return makeError(outputPath, ": ", error.message());
  return size;
}

} // namespace quantc::io
