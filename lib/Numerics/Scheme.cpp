//===- Scheme.cpp - quantization scheme names and what they mean ----------===//

#include "quantc/Numerics/Scheme.h"

#include "quantc/Numerics/BlockCodecs.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace quantc {

namespace {

constexpr unsigned kMinIntBits = 2;
constexpr unsigned kMaxIntBits = 8;

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool startsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         equalsIgnoringCase(text.substr(0, prefix.size()), prefix);
}

/// A decimal number without sign or leading zeros, at most `max`.
std::optional<int64_t> parseDecimal(std::string_view text, int64_t max) {
  if (text.empty() || (text.size() > 1 && text[0] == '0'))
    return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    value = value * 10 + (c - '0');
    if (value > max)
      return std::nullopt;
  }
  return value;
}

/// A registry format by name: the exact spelling first, then ignoring case.
const FormatInfo *lookupFormatInfo(std::string_view name) {
  size_t count;
  const FormatInfo *formats = allFormats(count);
  for (size_t i = 0; i < count; ++i)
    if (formats[i].name == name)
      return &formats[i];
  for (size_t i = 0; i < count; ++i)
    if (equalsIgnoringCase(formats[i].name, name))
      return &formats[i];
  return nullptr;
}

std::optional<Scheme> fail(std::string &error, std::string message) {
  error = std::move(message);
  return std::nullopt;
}

/// intB or intB-gG.
std::optional<Scheme> parseIntScheme(std::string_view text,
                                     std::string &error) {
  std::string_view rest = text.substr(3);
  std::string_view bitsText = rest.substr(0, rest.find('-'));
  std::optional<int64_t> bits = parseDecimal(bitsText, kMaxIntBits);
  if (!bits || *bits < kMinIntBits)
    return fail(error, "scheme '" + std::string(text) +
                           "': integer weights take 2 to 8 bits (int2 .. "
                           "int8)");
  Scheme scheme;
  scheme.weights = WeightStorage::Grouped;
  scheme.grouped.bits = static_cast<unsigned>(*bits);
  // Per-channel int8 weights are symmetric by convention (W8A8 and most
  // int8 weight-only kernels); narrower ones carry a zero point per group,
  // as GPTQ and AWQ checkpoints do.
  scheme.grouped.isSigned = *bits == 8;
  scheme.grouped.groupSize = 0;
  if (bitsText.size() == rest.size())
    return scheme;
  std::string_view groupText = rest.substr(bitsText.size() + 1);
  if (!startsWithIgnoringCase(groupText, "g"))
    return fail(error, "scheme '" + std::string(text) +
                           "': expected intB-gG, e.g. int4-g32");
  std::optional<int64_t> group =
      parseDecimal(groupText.substr(1), std::numeric_limits<int32_t>::max());
  if (!group || *group < 1)
    return fail(error, "scheme '" + std::string(text) +
                           "': the group size must be a positive number, "
                           "e.g. int4-g32");
  scheme.grouped.groupSize = *group;
  return scheme;
}

} // namespace

std::string Scheme::name() const {
  switch (weights) {
  case WeightStorage::Grouped:
    if (activations == ActivationQuantization::DynamicPerToken)
      return "w8a8";
    if (activations == ActivationQuantization::StaticInt8)
      return "w8a8-static";
    return "int" + std::to_string(grouped.bits) +
           (grouped.groupSize ? "-g" + std::to_string(grouped.groupSize) : "");
  case WeightStorage::FP8E4M3:
    return "fp8";
  case WeightStorage::Block:
  case WeightStorage::Float:
    return std::string(getFormatInfo(format).name);
  }
  return "";
}

std::string Scheme::weightFormatName() const {
  switch (weights) {
  case WeightStorage::Grouped:
    return grouped.name();
  case WeightStorage::FP8E4M3:
    return "f8e4m3";
  case WeightStorage::Block:
  case WeightStorage::Float:
    return std::string(getFormatInfo(format).name);
  }
  return "";
}

bool operator==(const Scheme &a, const Scheme &b) {
  if (a.weights != b.weights || a.activations != b.activations)
    return false;
  switch (a.weights) {
  case WeightStorage::Grouped:
    return a.grouped == b.grouped;
  case WeightStorage::Block:
  case WeightStorage::Float:
    return a.format == b.format;
  case WeightStorage::FP8E4M3:
    return true;
  }
  return false;
}

std::optional<Scheme> parseScheme(std::string_view text, std::string &error) {
  Scheme scheme;
  if (equalsIgnoringCase(text, "w8a8") ||
      equalsIgnoringCase(text, "w8a8-static")) {
    scheme.weights = WeightStorage::Grouped;
    scheme.grouped = GroupedFormat{8, /*isSigned=*/true, /*groupSize=*/0};
    scheme.activations = text.size() == 4
                             ? ActivationQuantization::DynamicPerToken
                             : ActivationQuantization::StaticInt8;
    return scheme;
  }
  if (equalsIgnoringCase(text, "fp8")) {
    scheme.weights = WeightStorage::FP8E4M3;
    scheme.activations = ActivationQuantization::StaticFP8;
    return scheme;
  }
  if (startsWithIgnoringCase(text, "int"))
    return parseIntScheme(text, error);
  if (const FormatInfo *info = lookupFormatInfo(text)) {
    if (info->role == FormatRole::Activation)
      return fail(error, std::string(info->name) +
                             " is the format llama.cpp quantizes activations "
                             "to, not a weight scheme");
    if (!getRowCodec(info->format))
      return fail(error, "quantc has no " + std::string(info->name) +
                             " codec yet (not supported yet)");
    scheme.weights = info->role == FormatRole::Float ? WeightStorage::Float
                                                     : WeightStorage::Block;
    scheme.format = info->format;
    return scheme;
  }
  return fail(error, "unknown scheme '" + std::string(text) +
                         "'; expected one of: " + describeSchemes());
}

std::string describeSchemes() {
  std::string text = "w8a8, w8a8-static, fp8, int8, intB or intB-gG (B = 2.."
                     "8, groups of G)";
  size_t count;
  const FormatInfo *formats = allFormats(count);
  for (size_t i = 0; i < count; ++i)
    if (formats[i].role != FormatRole::Activation &&
        getRowCodec(formats[i].format))
      text += ", " + std::string(formats[i].name);
  return text;
}

std::optional<Format> getRowFallback(Format format) {
  switch (format) {
  case Format::TQ1_0:
  case Format::TQ2_0:
    return Format::Q4_0;
  case Format::Q2_K:
  case Format::Q3_K:
  case Format::IQ4_XS:
    return Format::IQ4_NL;
  case Format::Q4_K:
    return Format::Q5_0;
  case Format::Q5_K:
    return Format::Q5_1;
  case Format::Q6_K:
    return Format::Q8_0;
  default:
    return std::nullopt;
  }
}

Format resolveRowFormat(Format wanted, uint64_t rowLength) {
  if (rowLength % getFormatInfo(wanted).blockSize == 0)
    return wanted;
  std::optional<Format> fallback = getRowFallback(wanted);
  if (fallback && rowLength % getFormatInfo(*fallback).blockSize == 0)
    return *fallback;
  return Format::F16;
}

} // namespace quantc
