//===- Scheme.h - quantization scheme names and what they mean --*- C++ -*-===//
//
// A scheme says how one linear layer is quantized: how its weight is stored
// and whether (and how) its input activations are quantized. The names are
// the `quantc quantize --scheme` surface, also used per layer by
// `qc-quantize`'s overrides:
//
//   w8a8          si8 weights per output row, int8 activations quantized at
//                 run time per token (symmetric, [-127, 127])
//   w8a8-static   si8 weights per row, int8 activations with calibrated
//                 per-tensor parameters (asymmetric, with a zero point)
//   fp8           E4M3 weights with one scale per tensor, E4M3 activations
//                 with a calibrated per-tensor scale
//   intB          weight-only, one group per row; intB-gG: groups of G
//                 columns (B = 2..8). int8 is symmetric (si8, as per-channel
//                 int8 weights are); narrower widths are asymmetric with a
//                 zero point per group (ui4, as GPTQ/AWQ checkpoints are)
//   q4_0, q4_K... any llama.cpp weight format of the registry, weight-only,
//                 stored as GGUF stores it; also f32, f16 and bf16 (the
//                 weight is only converted)
//
// Also here: llama.cpp's rule for a block format whose block does not divide
// a row (llama_tensor_get_type), shared by `quantc convert` and
// `qc-quantize`. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_SCHEME_H
#define QUANTC_NUMERICS_SCHEME_H

#include "quantc/Numerics/Formats.h"
#include "quantc/Numerics/GroupedAffine.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quantc {

/// How a weight matrix is stored.
enum class WeightStorage : uint8_t {
  /// quantc's integer groups (`!qc.grouped`), `Scheme::grouped`.
  Grouped,
  /// A llama.cpp block format (`!qc.packed`), `Scheme::format`.
  Block,
  /// FP8 E4M3FN codes with one float32 scale for the tensor.
  FP8E4M3,
  /// A float format of the registry (f32, f16, bf16), `Scheme::format`.
  Float,
};

/// How a layer's input activations are quantized.
enum class ActivationQuantization : uint8_t {
  /// Weight-only: activations stay float.
  None,
  /// Symmetric int8 with one scale per token, computed at run time.
  DynamicPerToken,
  /// Affine int8 with calibrated per-tensor scale and zero point.
  StaticInt8,
  /// E4M3 with a calibrated per-tensor scale.
  StaticFP8,
};

struct Scheme {
  WeightStorage weights = WeightStorage::Float;
  /// The integer format, for WeightStorage::Grouped.
  GroupedFormat grouped;
  /// The block or float format, for WeightStorage::Block and Float.
  Format format = Format::F32;
  ActivationQuantization activations = ActivationQuantization::None;

  bool isWeightOnly() const {
    return activations == ActivationQuantization::None;
  }
  /// True when the scheme reads calibration statistics of the activations.
  bool needsCalibration() const {
    return activations == ActivationQuantization::StaticInt8 ||
           activations == ActivationQuantization::StaticFP8;
  }
  /// The canonical spelling, which parseScheme accepts (`w8a8`, `int4-g32`,
  /// `q4_K`).
  std::string name() const;
  /// The weight's storage as reports and IR attributes spell it: `si8`,
  /// `ui4:g32`, `f8e4m3`, `q4_K`, `f16`.
  std::string weightFormatName() const;
};

bool operator==(const Scheme &a, const Scheme &b);

/// Parses a scheme name. Registry formats match case-insensitively
/// (`Q4_K`), as llama-quantize's type names do. On failure returns nullopt
/// and sets `error` to a message naming the text and the accepted forms.
std::optional<Scheme> parseScheme(std::string_view text, std::string &error);

/// Every scheme family, for help texts and diagnostics: "w8a8, w8a8-static,
/// fp8, int8, intB[-gG] (B = 2..8), f32, f16, bf16, q4_0, ...".
std::string describeSchemes();

/// llama.cpp's one-step replacement for a block format whose block does not
/// divide a row (q4_K -> q5_0, q5_K -> q5_1, q6_K -> q8_0, q2_K/q3_K/iq4_xs
/// -> iq4_nl, tq1_0/tq2_0 -> q4_0); nullopt for formats that have none.
std::optional<Format> getRowFallback(Format format);

/// The format a row of `rowLength` elements is stored in when `wanted` is
/// asked for: `wanted` when its block divides the row, else its fallback
/// when that divides, else f16 (where llama-quantize gives up on the
/// 32-element formats, quantc uses f16 too).
Format resolveRowFormat(Format wanted, uint64_t rowLength);

} // namespace quantc

#endif // QUANTC_NUMERICS_SCHEME_H
