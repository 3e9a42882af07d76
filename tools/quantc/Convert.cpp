//===- Convert.cpp - quantc convert ---------------------------------------===//
//
// The command line around quantc::io::planConversion/runConversion:
// options, a progress line per tensor and a summary on stderr, and a clear
// message with a non-zero exit on any bad input.
//
//===----------------------------------------------------------------------===//

#include "CommandLine.h"
#include "Commands.h"

#include "quantc/IO/Convert.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

using namespace quantc;
using namespace quantc::io;

namespace quantc::tool {
namespace {

const char kHelp[] =
    R"(usage: quantc convert IN --type TYPE [options] -o OUT.gguf

Quantizes every eligible tensor of IN (a GGUF, a .safetensors file or a
llama2.c .bin checkpoint) to TYPE and writes a GGUF, like llama-quantize
with one type throughout: 2-D+ tensors named *weight (not norms) are
quantized, token embeddings and output.weight included; 1-D tensors stay
f32. Rows that TYPE's blocks do not divide fall back as llama.cpp does
(e.g. q4_K -> q5_0; f16 when nothing else divides) and are reported.

options:
  --type TYPE               f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_K q3_K
                            q4_K q5_K q6_K iq4_nl iq4_xs tq1_0 tq2_0 (any case;
                            formats without a codec yet are refused)
  -o OUT.gguf               the output, written atomically
  --imatrix FILE            importance matrix: llama-imatrix's GGUF or legacy
                            .dat, or raw float32 (*.f32, one weight per
                            column, for every tensor)
  --tokenizer FILE          llama2.c tokenizer .bin, written as the GGUF's
                            vocabulary (llama.cpp needs one to load the file)
  --threads N               threads quantizing rows (default: all)
  --token-embedding-type T  type for token_embd.weight
  --output-tensor-type T    type for output.weight
  --leave-output-tensor     keep output.weight as it is
  --allow-requantize        quantize tensors that are already quantized
  --quiet                   no progress lines
)";

struct Options {
  std::string input, output, imatrix, tokenizer;
  std::string type, tokenEmbeddingType, outputTensorType;
  ConvertOptions convert;
  bool quiet = false;
};

/// Parses `args`; returns an exit code when the command should stop.
std::optional<int> parseOptions(const std::vector<std::string> &args,
                                Options &options, CommandLine &line) {
  line.setPositional(options.input, "input file");
  line.addString({"--type"}, options.type);
  line.addString({"-o", "--output"}, options.output);
  line.addString({"--imatrix"}, options.imatrix);
  line.addString({"--tokenizer"}, options.tokenizer);
  line.addString({"--token-embedding-type"}, options.tokenEmbeddingType);
  line.addString({"--output-tensor-type"}, options.outputTensorType);
  line.addInteger({"--threads"}, options.convert.threads, 1, 1024);
  line.addFlag({"--allow-requantize"}, options.convert.allowRequantize);
  line.addFlag({"--leave-output-tensor"}, options.convert.leaveOutputTensor);
  line.addFlag({"--quiet"}, options.quiet);
  if (std::optional<int> exit = line.parse(args))
    return exit;
  if (options.type.empty())
    return line.usageError("no --type");
  if (options.output.empty())
    return line.usageError("no output file (-o OUT.gguf)");
  return std::nullopt;
}

void printProgress(const TensorPlan &plan, size_t index, size_t count) {
  const SourceTensor &tensor = *plan.source;
  int width = static_cast<int>(std::to_string(count).size());
  std::string line;
  char prefix[64];
  std::snprintf(prefix, sizeof(prefix), "[%*zu/%*zu] ", width, index + 1, width,
                count);
  std::string types = tensor.getTypeName();
  if (plan.action != TensorAction::Copy ||
      tensor.getTypeName() != getFormatInfo(plan.target).name)
    types += " -> " + std::string(getFormatInfo(plan.target).name);
  char body[512];
  std::snprintf(body, sizeof(body), "%-32s %-14s %-12s %10s -> %s",
                tensor.name.c_str(), types.c_str(),
                formatShape(tensor.shape).c_str(),
                formatBytes(tensor.byteSize).c_str(),
                formatBytes(plan.targetBytes).c_str());
  line = std::string(prefix) + body;
  if (plan.requested)
    line += "  (fallback from " +
            std::string(getFormatInfo(*plan.requested).name) + ": " +
            plan.fallbackReason + ")";
  if (plan.importance)
    line += "  imatrix";
  if (plan.missingImportance)
    line += "  (no imatrix entry)";
  std::fprintf(stderr, "%s\n", line.c_str());
}

} // namespace

int runConvert(const std::vector<std::string> &args) {
  Options options;
  CommandLine line("convert", kHelp);
  if (std::optional<int> exit = parseOptions(args, options, line))
    return *exit;

  Result<Format> type = parseWeightType(options.type);
  if (!type)
    return line.usageError(type.error());
  options.convert.type = *type;
  for (auto [text, into] : {std::pair{&options.tokenEmbeddingType,
                                      &options.convert.tokenEmbeddingType},
                            std::pair{&options.outputTensorType,
                                      &options.convert.outputTensorType}}) {
    if (text->empty())
      continue;
    Result<Format> parsed = parseWeightType(*text);
    if (!parsed)
      return line.usageError(parsed.error());
    *into = *parsed;
  }
  if (options.output.size() < 5 ||
      options.output.compare(options.output.size() - 5, 5, ".gguf") != 0)
    return line.usageError(
        "the output is a GGUF and its name must end in .gguf, "
        "not '" +
        options.output + "'");
  std::error_code ignored;
  if (std::filesystem::equivalent(options.input, options.output, ignored))
    return line.usageError("the output would overwrite the input");

  auto start = std::chrono::steady_clock::now();
  Result<SourceModel> model = loadSourceModel(options.input, options.tokenizer);
  if (!model)
    return line.inputError(model.error());
  std::optional<ImportanceMatrix> imatrix;
  if (!options.imatrix.empty()) {
    Result<ImportanceMatrix> read = readImatrix(options.imatrix);
    if (!read)
      return line.inputError(read.error());
    imatrix = std::move(*read);
  }
  Result<ConvertPlan> plan = planConversion(
      *model, options.convert, imatrix ? &*imatrix : nullptr, options.imatrix);
  if (!plan)
    return line.inputError(plan.error());
  for (const std::string &note : model->notes)
    std::fprintf(stderr, "quantc convert: note: %s\n", note.c_str());

  ConvertProgress progress;
  if (!options.quiet)
    progress = printProgress;
  Result<uint64_t> written =
      runConversion(*plan, options.convert, options.output, progress);
  if (!written)
    return line.inputError(written.error());
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  uint64_t weights = 0, sourceBytes = 0, targetBytes = 0;
  size_t quantized = 0, fellBack = 0, kept = 0;
  for (const TensorPlan &tensorPlan : plan->tensors) {
    weights += tensorPlan.source->getElementCount();
    sourceBytes += tensorPlan.source->byteSize;
    targetBytes += tensorPlan.targetBytes;
    if (!tensorPlan.eligible)
      ++kept;
    else if (tensorPlan.requested)
      ++fellBack;
    else
      ++quantized;
  }
  std::fprintf(
      stderr,
      "quantc convert: %s (%s) -> %s: %zu tensors: %zu quantized (%s), "
      "%zu fell back, %zu kept\n",
      options.input.c_str(),
      std::string(getModelFileKindName(model->kind)).c_str(),
      options.output.c_str(), plan->tensors.size(), quantized,
      std::string(getFormatInfo(*type).name).c_str(), fellBack, kept);
  std::fprintf(stderr,
               "quantc convert: tensors %s -> %s, %.2f bits per weight over "
               "%llu weights; file %s -> %s; %.2f s\n",
               formatBytes(sourceBytes).c_str(),
               formatBytes(targetBytes).c_str(),
               weights ? 8.0 * targetBytes / weights : 0.0,
               static_cast<unsigned long long>(weights),
               formatBytes(model->fileSize).c_str(),
               formatBytes(*written).c_str(), seconds);
  return 0;
}

} // namespace quantc::tool
