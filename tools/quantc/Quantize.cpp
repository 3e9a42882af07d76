//===- Quantize.cpp - quantc quantize: calibrate, rewrite, report ---------===//
//
// The driver over the quantization passes: import (or parse) MODEL, insert
// observers and calibrate on samples when the scheme needs activation
// ranges, run qc-quantize (which packs every weight into OUT's weight file),
// write OUT, then report what was done: every tensor's format and SQNR, the
// model's size before and after, and its perplexity and KL divergence
// against the float model on a text.
//
//===----------------------------------------------------------------------===//

#include "CommandLine.h"
#include "Commands.h"
#include "Evaluation.h"
#include "ModelLoading.h"

#include "quantc/IO/OutputStream.h"
#include "quantc/InitAll.h"
#include "quantc/Numerics/Scheme.h"

#include "QC/QCOps.h"

#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>

namespace quantc::tool {

namespace {

const char kHelp[] =
    R"(usage: quantc quantize MODEL --scheme SCHEME -o OUT [options]

Quantizes MODEL (a checkpoint or a .mlir from `quantc import`) and writes
OUT, an MLIR module whose weights live packed in OUT's weight file (OUT with
.mlir replaced by .weights): its size on disk is the quantized model's real
size. `quantc eval`, `run` and `compile` accept OUT.

Schemes:
  w8a8          int8 per-channel weights, int8 activations quantized per
                token at run time
  w8a8-static   int8 per-channel weights, int8 per-tensor activations from
                calibration (needs --calib)
  fp8           FP8 E4M3 weights and activations, per-tensor scales from
                calibration (needs --calib)
  int8          weight-only int8, per channel
  int4-gG, int3-gG, int2-gG
                weight-only, asymmetric groups of G columns (int4: per row)
  q8_0, q4_0, q4_K, ...
                weight-only, any llama.cpp block format (rows the format
                does not divide fall back as llama-quantize does)

options:
  -o, --output OUT      the quantized module (required)
  --scheme SCHEME       see above (required)
  --calib FILE          calibration samples: UTF-8 text or little-endian
                        int32 tokens (.i32)
  --tokenizer TOK       tokenizer for text (default: the model's)
  --method M            activation range selection for static schemes:
                        minmax (default), percentile, entropy, mse
  --percentile P        for --method percentile (default 99.99)
  --calib-tokens N      calibrate on at most N tokens (default 4096)
  --calib-ctx N         calibration window length (default 256)
  --keep-float GLOBS    weights left in float, comma-separated globs
                        (default: output.weight, the output head)
  --override LIST       per-tensor schemes, GLOB=SCHEME[,GLOB=SCHEME...],
                        e.g. 'blk.0.*=int8,*.ffn_down.weight=q8_0'
  --eval-text FILE      text for the report's perplexity and KL against the
                        float model (default: --calib when it is text;
                        'none' skips the evaluation)
  --eval-windows N      windows of that text to score (default 8)
  --eval-ctx N          window length (default 256)
  --report FILE.json    also write the report as JSON
  --quiet               no progress on stderr

error-aware quantization (each needs --calib; see qc-smoothquant, qc-awq
and qc-gptq in quant-opt --help):
  --smoothquant[=ALPHA|auto]
                        migrate activation outliers into the weights before
                        W8A8 or FP8 (alpha 0.5 by default; auto searches
                        it per layer)
  --awq                 activation-aware scaling and clipping before
                        weight-only schemes (intB-gG, llama.cpp formats)
  --gptq                GPTQ: choose weight codes compensating each
                        column's error (weight-only schemes and w8a8 weights)
  --act-order           with --gptq, columns by decreasing Hessian diagonal
  --gptq-damp F         with --gptq, dampening fraction (default 0.01)
)";

std::string weightsPathFor(const std::string &output) {
  std::string stem = output;
  if (hasSuffix(stem, ".mlir"))
    stem.resize(stem.size() - 5);
  return stem + ".weights";
}

/// Bytes a float (or FP8) tensor global occupies in its file.
uint64_t tensorBytes(mlir::RankedTensorType type) {
  uint64_t bits = type.getElementType().getIntOrFloatBitWidth();
  return static_cast<uint64_t>(type.getNumElements()) * bits / 8;
}

uint64_t globalBytes(mlir::Type type) {
  if (auto grouped = llvm::dyn_cast<mlir::qc::GroupedType>(type))
    return grouped.getSizeInBytes();
  if (auto packed = llvm::dyn_cast<mlir::qc::PackedType>(type))
    return packed.getSizeInBytes();
  if (auto tensor = llvm::dyn_cast<mlir::RankedTensorType>(type))
    return tensorBytes(tensor);
  return 0;
}

std::vector<int64_t> logicalShape(mlir::Type type) {
  if (auto grouped = llvm::dyn_cast<mlir::qc::GroupedType>(type))
    return std::vector<int64_t>(grouped.getShape().begin(),
                                grouped.getShape().end());
  if (auto packed = llvm::dyn_cast<mlir::qc::PackedType>(type))
    return std::vector<int64_t>(packed.getShape().begin(),
                                packed.getShape().end());
  if (auto tensor = llvm::dyn_cast<mlir::RankedTensorType>(type))
    return std::vector<int64_t>(tensor.getShape().begin(),
                                tensor.getShape().end());
  return {};
}

int64_t elementCount(const std::vector<int64_t> &shape) {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

/// One row of the report's table.
struct TensorReport {
  std::string name;
  std::vector<int64_t> shape;
  std::string format;
  std::string fallbackFrom;
  std::optional<double> sqnrDb;
  uint64_t bytes = 0;
  bool quantized = false;
};

std::vector<TensorReport> collectTensors(mlir::ModuleOp module) {
  std::vector<TensorReport> rows;
  module.walk([&](mlir::ml_program::GlobalOp global) {
    TensorReport row;
    auto source = global->getAttrOfType<mlir::StringAttr>("qc.source_weight");
    row.name = source ? source.str() : global.getSymName().str();
    row.shape = logicalShape(global.getType());
    row.bytes = globalBytes(global.getType());
    if (auto format = global->getAttrOfType<mlir::StringAttr>("qc.format"))
      row.format = format.str();
    if (auto fallback = global->getAttrOfType<mlir::StringAttr>("qc.fallback"))
      row.fallbackFrom = fallback.str();
    if (auto sqnr = global->getAttrOfType<mlir::FloatAttr>("qc.sqnr_db"))
      row.sqnrDb = sqnr.getValueAsDouble();
    row.quantized = !llvm::isa<mlir::RankedTensorType>(global.getType()) ||
                    llvm::cast<mlir::RankedTensorType>(global.getType())
                        .getElementType()
                        .isFloat(8);
    rows.push_back(std::move(row));
  });
  return rows;
}

/// A count from the summary qc-quantize leaves on the module.
uint64_t summaryCount(mlir::ModuleOp module, llvm::StringRef key) {
  auto summary = module->getAttrOfType<mlir::DictionaryAttr>("qc.quantized");
  auto value = summary ? summary.getAs<mlir::IntegerAttr>(key) : nullptr;
  return value ? value.getValue().getZExtValue() : 0;
}

std::string quote(const std::string &value) {
  // Pass options are parsed with braces and spaces as separators.
  return "'" + value + "'";
}

/// Runs `pipeline`, the passes to nest in a module pass manager.
io::Status runPasses(mlir::ModuleOp module, const std::string &pipeline) {
  // Pipelines are named by string; only this command needs the registry.
  static std::once_flag registered;
  std::call_once(registered, [] { registerAllPasses(); });
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(
      module.getContext(), [&](mlir::Diagnostic &d) {
        llvm::raw_string_ostream os(diagnostics);
        if (d.getSeverity() == mlir::DiagnosticSeverity::Error)
          os << "error: ";
        else if (d.getSeverity() == mlir::DiagnosticSeverity::Warning)
          os << "warning: ";
        os << d << "\n";
        return mlir::success();
      });
  mlir::PassManager manager(module.getContext(),
                            mlir::ModuleOp::getOperationName());
  std::string parseErrors;
  llvm::raw_string_ostream errorStream(parseErrors);
  if (mlir::failed(mlir::parsePassPipeline(pipeline, manager, errorStream)))
    return io::makeError("bad pass pipeline '", pipeline, "': ", parseErrors);
  if (mlir::failed(manager.run(module))) {
    // The diagnostics start with "error: "; the caller adds its own.
    llvm::StringRef text = llvm::StringRef(diagnostics).trim();
    text.consume_front("error: ");
    return io::makeError(text.empty() ? "a pass failed" : text.str());
  }
  if (!diagnostics.empty())
    std::fputs(diagnostics.c_str(), stderr);
  return io::Status::success();
}

std::string formatTable(const std::vector<TensorReport> &rows) {
  std::string text;
  char line[512];
  std::snprintf(line, sizeof(line), "%-28s %-10s %-12s %9s %10s\n", "tensor",
                "shape", "format", "SQNR dB", "bytes");
  text += line;
  for (const TensorReport &row : rows) {
    std::string format = row.format.empty() ? "f32" : row.format;
    if (!row.fallbackFrom.empty())
      format += " (for " + row.fallbackFrom + ")";
    std::string sqnr = "-";
    if (row.sqnrDb) {
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), "%.2f", *row.sqnrDb);
      sqnr = buffer;
    }
    std::snprintf(line, sizeof(line), "%-28s %-10s %-12s %9s %10llu\n",
                  row.name.c_str(), formatShape(row.shape).c_str(),
                  format.c_str(), sqnr.c_str(),
                  static_cast<unsigned long long>(row.bytes));
    text += line;
  }
  return text;
}

} // namespace

int runQuantize(const std::vector<std::string> &args) {
  std::string input, output, scheme, calib, tokenizer,
      method = "minmax", keepFloat, overrides, evalText, reportPath;
  double percentile = 99.99;
  int64_t calibTokens = 4096, calibContext = 256, evalWindows = 8,
          evalContext = 256;
  bool quiet = false, awq = false, gptq = false, actOrder = false;
  double gptqDamp = 0.01;
  std::optional<std::string> smoothQuant;
  CommandLine line("quantize", kHelp);
  line.setPositional(input, "input model");
  line.addString({"-o", "--output"}, output);
  line.addString({"--scheme"}, scheme);
  line.addString({"--calib"}, calib);
  line.addString({"--tokenizer"}, tokenizer);
  line.addString({"--method"}, method);
  line.addReal({"--percentile"}, percentile, 0.0, 100.0);
  line.addInteger({"--calib-tokens"}, calibTokens, 1, int64_t(1) << 40);
  line.addInteger({"--calib-ctx"}, calibContext, 2, int64_t(1) << 24);
  line.addString({"--keep-float"}, keepFloat);
  line.addString({"--override"}, overrides);
  line.addString({"--eval-text"}, evalText);
  line.addInteger({"--eval-windows"}, evalWindows, 1, int64_t(1) << 40);
  line.addInteger({"--eval-ctx"}, evalContext, 2, int64_t(1) << 24);
  line.addString({"--report"}, reportPath);
  line.addFlag({"--quiet"}, quiet);
  line.addOptionalValue({"--smoothquant"}, smoothQuant, "0.5");
  line.addFlag({"--awq"}, awq);
  line.addFlag({"--gptq"}, gptq);
  line.addFlag({"--act-order"}, actOrder);
  line.addReal({"--gptq-damp"}, gptqDamp, 1e-9, 1.0);
  if (std::optional<int> exit = line.parse(args))
    return *exit;
  if (output.empty())
    return line.usageError("no output file (-o OUT.mlir)");
  if (scheme.empty())
    return line.usageError("no --scheme (e.g. w8a8, int4-g32, q4_K)");
  if (method != "minmax" && method != "percentile" && method != "entropy" &&
      method != "mse")
    return line.usageError("unknown --method '" + method +
                           "' (minmax, percentile, entropy, mse)");
  bool calibrates = !calib.empty();
  bool needsCalibration = scheme == "w8a8-static" || scheme == "fp8" ||
                          overrides.find("w8a8-static") != std::string::npos ||
                          overrides.find("=fp8") != std::string::npos;
  if (needsCalibration && !calibrates)
    return line.usageError("--scheme " + scheme +
                           " quantizes activations with calibrated ranges: "
                           "pass --calib FILE");
  if (actOrder && !gptq)
    return line.usageError("--act-order is an option of --gptq");
  std::string errorAware = smoothQuant ? "--smoothquant"
                           : awq       ? "--awq"
                           : gptq      ? "--gptq"
                                       : "";
  if (!errorAware.empty() && !calibrates)
    return line.usageError(errorAware +
                           " measures activations: pass --calib FILE");
  if (smoothQuant || awq || gptq) {
    std::string schemeError;
    std::optional<Scheme> parsed = parseScheme(scheme, schemeError);
    if (!parsed)
      return line.usageError(schemeError);
    if (smoothQuant && parsed->isWeightOnly())
      return line.usageError(
          "--smoothquant eases activation quantization, but " + scheme +
          " leaves activations in float; use --awq or --gptq for "
          "weight-only schemes");
    if (awq && !parsed->isWeightOnly())
      return line.usageError("--awq protects weights of weight-only schemes, "
                             "but " + scheme +
                             " quantizes activations; use --smoothquant");
    if ((awq || gptq) && (parsed->weights == WeightStorage::FP8E4M3 ||
                          parsed->weights == WeightStorage::Float))
      return line.usageError(std::string(awq ? "--awq" : "--gptq") +
                             " targets integer or llama.cpp block weights, "
                             "not " + scheme);
  }
  // Absolute, because the module names its weights by path and may be run
  // from anywhere.
  std::string weightsPath =
      std::filesystem::absolute(weightsPathFor(output)).lexically_normal();
  std::error_code ignored;
  if (std::filesystem::equivalent(input, output, ignored) ||
      std::filesystem::equivalent(input, weightsPath, ignored))
    return line.usageError("the output would overwrite the input");

  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<mlir::MLIRContext> context = createContext();
  io::Result<mlir::OwningOpRef<mlir::ModuleOp>> loaded =
      loadModule(input, tokenizer, *context);
  if (!loaded)
    return line.inputError(loaded.error());
  mlir::ModuleOp module = **loaded;
  if (tokenizer.empty())
    if (auto recorded = module->getAttrOfType<mlir::StringAttr>("qc.tokenizer"))
      tokenizer = recorded.str();

  // The passes' shared options: samples, and the scheme selection that
  // qc-quantize will apply.
  std::string sampleOptions =
      "samples=" + quote(calib) +
      (tokenizer.empty() ? std::string() : " tokenizer=" + quote(tokenizer)) +
      " max-tokens=" + std::to_string(calibTokens) +
      " ctx=" + std::to_string(calibContext) + (quiet ? " quiet=1" : "");
  std::string selectionOptions = "scheme=" + quote(scheme);
  if (!keepFloat.empty())
    selectionOptions += " keep-float=" + quote(keepFloat);
  if (!overrides.empty())
    selectionOptions += " overrides=" + quote(overrides);
  // Smoothing changes the activations, so it runs before their ranges are
  // calibrated; AWQ rescales weights that GPTQ then rounds.
  if (smoothQuant) {
    std::string activationScheme =
        scheme == "w8a8" || scheme == "fp8" ? scheme : "w8a8-static";
    if (io::Status status = runPasses(
            module, "qc-smoothquant{alpha=" + quote(*smoothQuant) +
                        " scheme=" + activationScheme + " " + sampleOptions +
                        "}");
        !status)
      return line.inputError(status.error());
  }
  if (awq)
    if (io::Status status = runPasses(module, "qc-awq{" + selectionOptions +
                                                  " " + sampleOptions + "}");
        !status)
      return line.inputError(status.error());
  if (gptq)
    if (io::Status status = runPasses(
            module, "qc-gptq{" + selectionOptions + " " + sampleOptions +
                        " damp=" + std::to_string(gptqDamp) +
                        (actOrder ? " act-order=1" : "") + "}");
        !status)
      return line.inputError(status.error());

  if (needsCalibration) {
    if (!quiet)
      std::fprintf(stderr, "calibrating on %s (up to %lld tokens)...\n",
                   calib.c_str(), static_cast<long long>(calibTokens));
    std::string pipeline =
        "func.func(qc-insert-observers{weights=none bins=2048}),"
        "qc-calibrate{samples=" +
        quote(calib) +
        (tokenizer.empty() ? std::string() : " tokenizer=" + quote(tokenizer)) +
        " max-tokens=" + std::to_string(calibTokens) +
        " ctx=" + std::to_string(calibContext) + "}";
    if (io::Status status = runPasses(module, pipeline); !status)
      return line.inputError(status.error());
  }

  std::string quantizeOptions =
      "scheme=" + quote(scheme) + " weights-file=" + quote(weightsPath) +
      " method=" + method + " percentile=" + std::to_string(percentile);
  if (!keepFloat.empty())
    quantizeOptions += " keep-float=" + quote(keepFloat);
  if (!overrides.empty())
    quantizeOptions += " overrides=" + quote(overrides);
  if (io::Status status =
          runPasses(module, "qc-quantize{" + quantizeOptions +
                                "},func.func(qc-strip-observers)");
      !status)
    return line.inputError(status.error());
  if (io::Status status = writeModule(module, output); !status)
    return line.inputError(status.error());
  double quantizeSeconds = secondsSince(start);

  std::vector<TensorReport> tensors = collectTensors(module);
  uint64_t floatBytes = summaryCount(module, "float_bytes");
  uint64_t weightFileBytes = summaryCount(module, "file_bytes");
  auto quantizedParams =
      static_cast<int64_t>(summaryCount(module, "quantized_params"));
  int64_t totalParams = 0;
  uint64_t quantizedBytes = 0;
  for (const TensorReport &row : tensors) {
    totalParams += elementCount(row.shape);
    if (row.quantized)
      quantizedBytes += row.bytes;
  }
  double bitsPerQuantizedWeight =
      quantizedParams ? 8.0 * quantizedBytes / quantizedParams : 0.0;
  double bitsPerWeight =
      totalParams ? 8.0 * weightFileBytes / totalParams : 0.0;

  std::printf("%s", formatTable(tensors).c_str());
  std::printf("size: %s -> %s (%.2fx smaller), %.3f bits per weight (%.3f "
              "over the %lld quantized weights)\n",
              formatBytes(floatBytes).c_str(),
              formatBytes(weightFileBytes).c_str(),
              weightFileBytes ? double(floatBytes) / weightFileBytes : 0.0,
              bitsPerWeight, bitsPerQuantizedWeight,
              static_cast<long long>(quantizedParams));

  // Quality against the float model, on text it was (preferably) not
  // calibrated on.
  if (evalText.empty() && calibrates && !hasSuffix(calib, ".i32"))
    evalText = calib;
  std::optional<TextScore> quality;
  std::optional<TextScore> floatQuality;
  if (!evalText.empty() && evalText != "none") {
    io::Result<RunnableModel> floatModel =
        loadRunnableModel(input, tokenizer, quiet);
    if (!floatModel)
      return line.inputError(floatModel.error());
    io::Result<RunnableModel> quantizedModel =
        loadRunnableModel(output, tokenizer, quiet);
    if (!quantizedModel)
      return line.inputError(quantizedModel.error());
    const runtime::ModelInterface &shape =
        quantizedModel->model->getInterface();
    io::Result<std::vector<int32_t>> tokens =
        tokenizeTextFile(evalText, tokenizer, shape.vocabSize);
    if (!tokens)
      return line.inputError(tokens.error());
    int64_t context = std::min(evalContext, shape.contextLength);
    io::Result<TextScore> floatScore = scoreTokens(
        *floatModel->model, nullptr, *tokens, context, evalWindows, nullptr);
    if (!floatScore)
      return line.inputError(evalText + ": " + floatScore.error());
    io::Result<TextScore> score =
        scoreTokens(*quantizedModel->model, floatModel->model.get(), *tokens,
                    context, evalWindows, quiet ? nullptr : "quantized ");
    if (!score)
      return line.inputError(evalText + ": " + score.error());
    floatQuality = std::move(*floatScore);
    quality = std::move(*score);
    double floatPpl = floatQuality->accumulator.getPerplexity();
    double ppl = quality->accumulator.getPerplexity();
    std::printf("quality on %s (%lld tokens, %zu windows of %lld): float "
                "ppl=%.4f, quantized ppl=%.4f (%+.2f%%), mean KL=%.6f, "
                "top-1 agreement=%.4f\n",
                evalText.c_str(),
                static_cast<long long>(quality->accumulator.getTokenCount()),
                quality->windowCount, static_cast<long long>(context), floatPpl,
                ppl, 100.0 * (ppl / floatPpl - 1.0),
                quality->accumulator.getMeanKL(),
                quality->accumulator.getTop1Agreement());
  }

  if (!reportPath.empty()) {
    nlohmann::ordered_json json;
    json["model"] = input;
    json["output"] = output;
    json["weights_file"] = weightsPath;
    json["scheme"] = scheme;
    json["smoothquant"] = smoothQuant ? nlohmann::ordered_json(*smoothQuant)
                                      : nlohmann::ordered_json(nullptr);
    json["awq"] = awq;
    json["gptq"] = gptq;
    json["act_order"] = actOrder;
    if (calibrates) {
      json["calibration"] = {{"samples", calib},
                             {"method", method},
                             {"percentile", percentile},
                             {"max_tokens", calibTokens},
                             {"ctx", calibContext}};
    }
    json["float_bytes"] = floatBytes;
    json["quantized_bytes"] = weightFileBytes;
    json["bits_per_weight"] = bitsPerWeight;
    json["bits_per_quantized_weight"] = bitsPerQuantizedWeight;
    json["quantize_seconds"] = quantizeSeconds;
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const TensorReport &row : tensors) {
      nlohmann::ordered_json entry;
      entry["name"] = row.name;
      entry["shape"] = row.shape;
      entry["format"] = row.format.empty() ? "f32" : row.format;
      if (!row.fallbackFrom.empty())
        entry["fallback_from"] = row.fallbackFrom;
      if (row.sqnrDb)
        entry["sqnr_db"] = *row.sqnrDb;
      entry["bytes"] = row.bytes;
      rows.push_back(std::move(entry));
    }
    json["tensors"] = std::move(rows);
    if (quality) {
      json["eval"] = {
          {"text", evalText},
          {"tokens", quality->accumulator.getTokenCount()},
          {"windows", quality->windowCount},
          {"ctx", quality->contextLength},
          {"float_ppl", floatQuality->accumulator.getPerplexity()},
          {"float_mean_nll", floatQuality->accumulator.getMeanNLL()},
          {"ppl", quality->accumulator.getPerplexity()},
          {"mean_nll", quality->accumulator.getMeanNLL()},
          {"kl", quality->accumulator.getMeanKL()},
          {"top1", quality->accumulator.getTop1Agreement()}};
    }
    if (io::Status status = writeTextFile(reportPath, json.dump(2) + "\n");
        !status)
      return line.inputError(status.error());
  }
  if (!quiet)
    std::fprintf(stderr, "wrote %s and %s in %.2f s\n", output.c_str(),
                 weightsPath.c_str(), secondsSince(start));
  return 0;
}

} // namespace quantc::tool
