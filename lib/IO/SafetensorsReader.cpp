//===- SafetensorsReader.cpp - parsing hostile safetensors files ----------===//
//
// The JSON header is parsed by nlohmann-json (iterative, so deep nesting
// cannot exhaust the stack) with a callback that refuses duplicate keys,
// which the reference's serde decoding refuses too and nlohmann would
// silently collapse. Every field is type-checked before it is read.
//
//===----------------------------------------------------------------------===//

#include "quantc/IO/Safetensors.h"

#include "Bytes.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

namespace quantc::io {
namespace {

using nlohmann::json;

/// The reference implementation's MAX_HEADER_SIZE.
constexpr uint64_t kMaxHeaderSize = 100'000'000;

struct Range {
  uint64_t begin, end;
};

class Parser {
public:
  Parser(const uint8_t *data, size_t size, const std::string &name)
      : data(data), size(size), name(name) {}

  Result<SafetensorsFile> parse();

private:
  template <typename... Parts> Error fail(const Parts &...parts) {
    return makeError(name, ": ", parts...);
  }
  Status parseMetadata(const json &value, SafetensorsFile &file);
  Status parseTensor(const std::string &key, const json &value,
                     SafetensorsTensor &tensor, Range &range);

  const uint8_t *data;
  size_t size;
  const std::string &name;
};

Status Parser::parseMetadata(const json &value, SafetensorsFile &file) {
  if (!value.is_object())
    return fail("__metadata__ must be an object of strings, not ",
                value.type_name());
  std::map<std::string, std::string> metadata;
  for (const auto &[key, text] : value.items()) {
    if (!text.is_string())
      return fail("__metadata__ entry '", key, "' must be a string, not ",
                  text.type_name());
    metadata.emplace(key, text.get_ref<const std::string &>());
  }
  file.metadata = std::move(metadata);
  return Status::success();
}

Status Parser::parseTensor(const std::string &key, const json &value,
                           SafetensorsTensor &tensor, Range &range) {
  tensor.name = key;
  if (!value.is_object())
    return fail("tensor '", key, "' must be an object, not ",
                value.type_name());
  auto dtype = value.find("dtype");
  auto shape = value.find("shape");
  auto offsets = value.find("data_offsets");
  if (dtype == value.end() || shape == value.end() || offsets == value.end())
    return fail("tensor '", key, "' needs dtype, shape and data_offsets");

  if (!dtype->is_string())
    return fail("tensor '", key, "' has a dtype that is not a string");
  const std::string &dtypeName = dtype->get_ref<const std::string &>();
  std::optional<SafetensorsDType> parsed = lookupSafetensorsDType(dtypeName);
  if (!parsed)
    return fail("tensor '", key, "' has unsupported dtype '", dtypeName, "'");
  tensor.dtype = *parsed;

  if (!shape->is_array())
    return fail("tensor '", key, "' has a shape that is not an array");
  for (const json &dim : *shape) {
    if (!dim.is_number_unsigned())
      return fail("tensor '", key, "' has shape entry ", dim.dump(),
                  "; entries must be non-negative integers");
    tensor.shape.push_back(dim.get<uint64_t>());
  }

  if (!offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned())
    return fail("tensor '", key, "' has data_offsets ", offsets->dump(),
                "; expected [begin, end] of non-negative integers");
  range = {(*offsets)[0].get<uint64_t>(), (*offsets)[1].get<uint64_t>()};
  if (range.end < range.begin)
    return fail("tensor '", key, "' has data_offsets [", range.begin, ", ",
                range.end, "] that end before they begin");

  uint64_t bytes = getSafetensorsDTypeSize(tensor.dtype);
  for (uint64_t dim : tensor.shape)
    if (mulOverflows(bytes, dim, bytes))
      return fail("the size of tensor '", key, "' overflows");
  if (bytes != range.end - range.begin)
    return fail("tensor '", key, "' of dtype ", dtypeName, " and ",
                tensor.shape.size(), "-d shape holds ", bytes,
                " bytes but data_offsets span ", range.end - range.begin);
  tensor.size = bytes;
  return Status::success();
}

Result<SafetensorsFile> Parser::parse() {
  ByteReader in(data, size);
  uint64_t headerSize;
  if (!in.read(headerSize))
    return fail("not a safetensors file: ", size,
                " bytes, shorter than the 8-byte header length");
  if (headerSize > kMaxHeaderSize)
    return fail("header length ", headerSize,
                " exceeds the reference implementation's limit of ",
                kMaxHeaderSize, " bytes");
  const uint8_t *header;
  if (!in.view(headerSize, header))
    return fail("header length ", headerSize, " runs past the end of the ",
                size, "-byte file");

  // Duplicate keys at any depth, found while parsing: one key set per open
  // object.
  std::vector<std::set<std::string>> openObjects;
  std::string duplicate;
  json::parser_callback_t noteKeys = [&](int, json::parse_event_t event,
                                         json &parsed) {
    if (event == json::parse_event_t::object_start)
      openObjects.emplace_back();
    else if (event == json::parse_event_t::object_end && !openObjects.empty())
      openObjects.pop_back();
    else if (event == json::parse_event_t::key && !openObjects.empty() &&
             !openObjects.back().insert(parsed.get<std::string>()).second &&
             duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  json root;
  try {
    root = json::parse(header, header + headerSize, noteKeys);
  } catch (const json::exception &error) {
    return fail("the header is not valid JSON: ", error.what());
  }
  if (!duplicate.empty())
    return fail("the header has duplicate key '", duplicate, "'");
  if (!root.is_object())
    return fail("the header must be a JSON object, not ", root.type_name());

  SafetensorsFile file;
  std::vector<Range> ranges;
  for (const auto &[key, value] : root.items()) {
    if (key == "__metadata__") {
      if (Status status = parseMetadata(value, file); !status)
        return status.takeError();
      continue;
    }
    SafetensorsTensor tensor;
    Range range;
    if (Status status = parseTensor(key, value, tensor, range); !status)
      return status.takeError();
    file.tensors.push_back(std::move(tensor));
    ranges.push_back(range);
  }

  // The byte ranges must tile the data exactly, in order.
  std::vector<size_t> order(file.tensors.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::make_pair(ranges[a].begin, ranges[a].end) <
           std::make_pair(ranges[b].begin, ranges[b].end);
  });
  const uint8_t *dataStart = data + in.offset();
  uint64_t dataSize = in.remaining();
  uint64_t expected = 0;
  std::vector<SafetensorsTensor> sorted;
  for (size_t i : order) {
    const Range &range = ranges[i];
    if (range.begin != expected)
      return fail("tensor '", file.tensors[i].name, "' starts at data byte ",
                  range.begin, " but the previous tensor ends at ", expected,
                  ": byte ranges must tile the data without gaps or overlaps");
    if (range.end > dataSize)
      return fail("tensor '", file.tensors[i].name, "' ends at data byte ",
                  range.end, ", past the ", dataSize,
                  " bytes of data in the file");
    expected = range.end;
    file.tensors[i].data = dataStart + range.begin;
    sorted.push_back(std::move(file.tensors[i]));
  }
  if (expected != dataSize)
    return fail("the tensors cover ", expected,
                " bytes of data but the file "
                "holds ",
                dataSize);
  file.tensors = std::move(sorted);
  return file;
}

} // namespace

Result<SafetensorsFile> parseSafetensors(const uint8_t *data, size_t size,
                                         const std::string &name) {
  return Parser(data, size, name).parse();
}

Result<SafetensorsFile> readSafetensors(const std::string &path) {
  Result<std::shared_ptr<const MappedFile>> mapped = MappedFile::open(path);
  if (!mapped)
    return mapped.takeError();
  Result<SafetensorsFile> file =
      parseSafetensors((*mapped)->data(), (*mapped)->size(), path);
  if (file)
    file->mapping = *mapped;
  return file;
}

} // namespace quantc::io
