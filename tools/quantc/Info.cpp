//===- Info.cpp - quantc info ---------------------------------------------===//
//
// Prints what a model file holds: GGUF metadata and tensors (shapes in
// ggml's ne order, innermost first), safetensors metadata and tensors,
// a llama2.c checkpoint's header and tensors (shapes row-major).
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "quantc/IO/GGUF.h"
#include "quantc/IO/Llama2C.h"
#include "quantc/IO/Safetensors.h"
#include "quantc/IO/SourceModel.h"

#include <cstdio>
#include <cstdlib>

using namespace quantc;
using namespace quantc::io;

namespace quantc::tool {
namespace {

const char kHelp[] = R"(usage: quantc info FILE [--max-elements N]

Prints the metadata and tensors of a GGUF, .safetensors or llama2.c .bin
file. Arrays show their first N elements (default 8).
)";

std::string rowMajorShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

void printTotals(size_t tensors, uint64_t weights, uint64_t bytes) {
  std::printf("total: %zu tensors, %llu weights, %s, %.2f bits per weight\n",
              tensors, static_cast<unsigned long long>(weights),
              formatBytes(bytes).c_str(),
              weights ? 8.0 * bytes / weights : 0.0);
}

int printGGUF(const std::string &path, size_t maxElements) {
  Result<GGUFFile> file = readGGUF(path);
  if (!file) {
    std::fprintf(stderr, "quantc info: error: %s\n", file.error().c_str());
    return 1;
  }
  std::printf("GGUF version %u: %zu metadata keys, %zu tensors, alignment %u, "
              "data at byte %llu\n",
              file->version, file->metadata.size(), file->tensors.size(),
              file->getAlignment(),
              static_cast<unsigned long long>(file->dataOffset));
  for (const GGUFKeyValue &kv : file->metadata)
    std::printf("key %-40s %-4s %s\n", kv.key.c_str(),
                std::string(getGGUFTypeName(kv.value.getType())).c_str(),
                formatGGUFValue(kv.value, maxElements).c_str());
  uint64_t weights = 0, bytes = 0;
  for (const GGUFTensor &tensor : file->tensors) {
    std::printf("tensor %-32s %-6s ne=%-14s offset=%llu bytes=%llu\n",
                tensor.name.c_str(),
                std::string(getFormatInfo(tensor.format).name).c_str(),
                formatShape(tensor.shape).c_str(),
                static_cast<unsigned long long>(tensor.offset),
                static_cast<unsigned long long>(tensor.getByteSize()));
    weights += tensor.getElementCount();
    bytes += tensor.getByteSize();
  }
  printTotals(file->tensors.size(), weights, bytes);
  return 0;
}

int printSafetensors(const std::string &path) {
  Result<SafetensorsFile> file = readSafetensors(path);
  if (!file) {
    std::fprintf(stderr, "quantc info: error: %s\n", file.error().c_str());
    return 1;
  }
  std::printf("safetensors: %zu metadata keys, %zu tensors\n",
              file->metadata ? file->metadata->size() : 0,
              file->tensors.size());
  if (file->metadata)
    for (const auto &[key, value] : *file->metadata)
      std::printf("key %-40s %s\n", key.c_str(),
                  formatGGUFValue(GGUFValue::of(value)).c_str());
  uint64_t weights = 0, bytes = 0;
  for (const SafetensorsTensor &tensor : file->tensors) {
    std::vector<int64_t> shape(tensor.shape.begin(), tensor.shape.end());
    std::printf("tensor %-32s %-7s shape=%-14s bytes=%llu\n",
                tensor.name.c_str(),
                std::string(getSafetensorsDTypeName(tensor.dtype)).c_str(),
                rowMajorShape(shape).c_str(),
                static_cast<unsigned long long>(tensor.size));
    weights += tensor.getElementCount();
    bytes += tensor.size;
  }
  printTotals(file->tensors.size(), weights, bytes);
  return 0;
}

int printLlama2C(const std::string &path) {
  Result<Llama2CCheckpoint> checkpoint = readLlama2C(path);
  if (!checkpoint) {
    std::fprintf(stderr, "quantc info: error: %s\n",
                 checkpoint.error().c_str());
    return 1;
  }
  const Llama2CConfig &c = checkpoint->config;
  std::printf("llama2.c checkpoint: dim %d, hidden_dim %d, n_layers %d, "
              "n_heads %d, n_kv_heads %d, vocab_size %d (%s classifier), "
              "seq_len %d\n",
              c.dim, c.hiddenDim, c.layers, c.heads, c.kvHeads, c.vocabSize,
              c.sharedClassifier ? "shared" : "separate", c.seqLen);
  uint64_t weights = 0;
  for (const Llama2CTensor &tensor : checkpoint->tensors) {
    std::printf("tensor %-32s f32    shape=%s\n", tensor.name.c_str(),
                rowMajorShape(tensor.shape).c_str());
    weights += tensor.getElementCount();
  }
  printTotals(checkpoint->tensors.size(), weights, weights * sizeof(float));
  return 0;
}

} // namespace

int runInfo(const std::vector<std::string> &args) {
  std::string path;
  size_t maxElements = 8;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    }
    if (args[i] == "--max-elements" && i + 1 < args.size()) {
      maxElements = std::strtoull(args[++i].c_str(), nullptr, 10);
    } else if (args[i].size() > 1 && args[i][0] == '-') {
      std::fprintf(stderr, "quantc info: unknown option '%s'\n",
                   args[i].c_str());
      return 2;
    } else if (path.empty()) {
      path = args[i];
    } else {
      std::fprintf(stderr, "quantc info: one file only\n");
      return 2;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "quantc info: no file\n%s", kHelp);
    return 2;
  }
  Result<ModelFileKind> kind = detectModelFileKind(path);
  if (!kind) {
    std::fprintf(stderr, "quantc info: error: %s\n", kind.error().c_str());
    return 1;
  }
  switch (*kind) {
  case ModelFileKind::GGUF:
    return printGGUF(path, maxElements);
  case ModelFileKind::Safetensors:
    return printSafetensors(path);
  case ModelFileKind::Llama2C:
    return printLlama2C(path);
  }
  return 1;
}

} // namespace quantc::tool
