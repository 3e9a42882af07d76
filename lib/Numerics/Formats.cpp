//===- Formats.cpp - The format registry ----------------------------------===//

#include "quantc/Numerics/Formats.h"

#include <cassert>
#include <iterator>

namespace quantc {
namespace {
using R = FormatRole;
// Block layouts as ggml defines them (ggml-common.h): e.g. Q4_K is
// fp16 d + fp16 dmin + 12 bytes of 6-bit scales/mins + 128 bytes of nibbles.
constexpr FormatInfo kFormats[] = {
    {Format::F32, "f32", 0, 1, 4, R::Float, false},
    {Format::F16, "f16", 1, 1, 2, R::Float, false},
    {Format::BF16, "bf16", 30, 1, 2, R::Float, false},
    {Format::Q4_0, "q4_0", 2, 32, 2 + 16, R::Weight, true},
    {Format::Q4_1, "q4_1", 3, 32, 2 + 2 + 16, R::Weight, true},
    {Format::Q5_0, "q5_0", 6, 32, 2 + 4 + 16, R::Weight, true},
    {Format::Q5_1, "q5_1", 7, 32, 2 + 2 + 4 + 16, R::Weight, true},
    // llama.cpp quantizes Q8_0 by plain rounding, importance or not.
    {Format::Q8_0, "q8_0", 8, 32, 2 + 32, R::Weight, false},
    {Format::Q8_1, "q8_1", 9, 32, 2 + 2 + 32, R::Activation, false},
    {Format::Q2_K, "q2_K", 10, 256, 16 + 64 + 2 + 2, R::Weight, true},
    {Format::Q3_K, "q3_K", 11, 256, 32 + 64 + 12 + 2, R::Weight, true},
    {Format::Q4_K, "q4_K", 12, 256, 2 + 2 + 12 + 128, R::Weight, true},
    {Format::Q5_K, "q5_K", 13, 256, 2 + 2 + 12 + 32 + 128, R::Weight, true},
    {Format::Q6_K, "q6_K", 14, 256, 128 + 64 + 16 + 2, R::Weight, true},
    {Format::Q8_K, "q8_K", 15, 256, 4 + 256 + 32, R::Activation, false},
    {Format::IQ4_NL, "iq4_nl", 20, 32, 2 + 16, R::Weight, true},
    {Format::IQ4_XS, "iq4_xs", 23, 256, 2 + 2 + 4 + 128, R::Weight, true},
    {Format::TQ1_0, "tq1_0", 34, 256, 48 + 4 + 2, R::Weight, false},
    {Format::TQ2_0, "tq2_0", 35, 256, 64 + 2, R::Weight, false},
};

constexpr bool tableIsInEnumOrder() {
  for (size_t i = 0; i < std::size(kFormats); ++i)
    if (static_cast<size_t>(kFormats[i].format) != i)
      return false;
  return true;
}
static_assert(tableIsInEnumOrder(), "kFormats must follow enum Format order");
} // namespace

const FormatInfo *allFormats(size_t &count) {
  count = std::size(kFormats);
  return kFormats;
}

const FormatInfo &getFormatInfo(Format format) {
  auto index = static_cast<size_t>(format);
  assert(index < std::size(kFormats) && "format outside the registry");
  return kFormats[index];
}

std::optional<Format> lookupFormat(std::string_view name) {
  for (const FormatInfo &info : kFormats)
    if (info.name == name)
      return info.format;
  return std::nullopt;
}

std::optional<Format> lookupFormatByGgmlType(uint32_t ggmlType) {
  for (const FormatInfo &info : kFormats)
    if (info.ggmlType == ggmlType)
      return info.format;
  return std::nullopt;
}

} // namespace quantc
