//===- GGUFReader.cpp - parsing hostile GGUF files ------------------------===//
//
// Checks follow llama.cpp's gguf.cpp (version, duplicate keys and tensor
// names, name length, dimensions, type ids, block divisibility, alignment)
// and add what a mapping needs: every count and length is capped by the
// bytes left before anything is allocated, sizes are overflow-checked, and
// every tensor lies inside the file, aligned, overlapping no other.
//
// Stricter than llama.cpp on purpose: zero-sized dimensions and zero
// dimensions (scalars), which ggml never writes, are refused.
//
//===----------------------------------------------------------------------===//

#include "quantc/IO/GGUF.h"

#include "Bytes.h"

#include <algorithm>
#include <unordered_set>

namespace quantc::io {
namespace {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
/// Arrays of arrays nest at most this deep; bounds the recursion on hostile
/// input (a level costs only 12 bytes of file).
constexpr unsigned kMaxArrayDepth = 16;

bool isValidType(uint32_t raw) {
  return raw <= static_cast<uint32_t>(GGUFType::Float64);
}

/// Fewest file bytes one element of `type` can occupy.
uint64_t minElementBytes(GGUFType type) {
  if (type == GGUFType::String)
    return 8; // the length
  if (type == GGUFType::Array)
    return 12; // element type and count
  return getGGUFScalarSize(type);
}

class Parser {
public:
  Parser(const uint8_t *data, size_t size, const std::string &name)
      : in(data, size), data(data), size(size), name(name) {}

  Result<GGUFFile> parse();

private:
  template <typename... Parts> Error fail(const Parts &...parts) {
    return makeError(name, ": ", parts..., " (at byte ", in.offset(), ")");
  }
  template <typename... Parts> Error truncated(const Parts &...parts) {
    return makeError(name, ": truncated file: ", parts..., " at byte ",
                     in.offset(), " runs past the end (", size, " bytes)");
  }

  Status parseHeader(GGUFFile &file, uint64_t &tensorCount, uint64_t &kvCount);
  Status parseKeyValue(GGUFFile &file, uint64_t index,
                       std::unordered_set<std::string> &keys);
  Status parseString(std::string &text, const std::string &what);
  Status parseValue(GGUFType type, const std::string &key, GGUFValue &value);
  Status parseElementType(const std::string &key, GGUFType &type);
  Status parseArrayBody(GGUFType elementType, unsigned depth,
                        const std::string &key, GGUFValue &value);
  Status parseTensorInfo(GGUFFile &file, uint64_t index,
                         std::unordered_set<std::string> &names);
  Status checkAlignment(const GGUFFile &file);
  Status placeTensors(GGUFFile &file);

  ByteReader in;
  const uint8_t *data;
  size_t size;
  const std::string &name;
};

Status Parser::parseString(std::string &text, const std::string &what) {
  uint64_t length;
  if (!in.read(length))
    return truncated("the length of ", what);
  if (length > in.remaining())
    return fail(what, " claims ", length, " bytes but only ", in.remaining(),
                " remain");
  in.readString(length, text);
  return Status::success();
}

Status Parser::parseHeader(GGUFFile &file, uint64_t &tensorCount,
                           uint64_t &kvCount) {
  const uint8_t *magic;
  if (!in.view(4, magic))
    return makeError(name, ": not a GGUF file: ", size,
                     " bytes, shorter than the 4-byte magic");
  if (std::memcmp(magic, kMagic, 4) != 0) {
    std::string shown;
    for (int i = 0; i < 4; ++i)
      shown += (magic[i] >= 0x20 && magic[i] < 0x7f) ? char(magic[i]) : '?';
    return makeError(name, ": not a GGUF file: magic '", shown,
                     "', expected 'GGUF'");
  }
  uint32_t version;
  if (!in.read(version))
    return truncated("the version");
  if (version == 0)
    return fail("bad GGUF version 0");
  // A big-endian file's small version reads as a huge one.
  if ((version & 0xFFFFu) == 0)
    return fail("GGUF version ", version,
                " is implausible: the file is probably big-endian, which "
                "quantc does not read");
  if (version == 1)
    return fail("GGUF version 1 is not supported (llama.cpp dropped it too); "
                "convert the file to version 3");
  if (version > 3)
    return fail("GGUF version ", version, " is newer than quantc reads (2, 3)");
  file.version = version;

  int64_t tensors, kvs;
  if (!in.read(tensors))
    return truncated("the tensor count");
  if (!in.read(kvs))
    return truncated("the metadata count");
  if (tensors < 0)
    return fail("negative tensor count ", tensors);
  if (kvs < 0)
    return fail("negative metadata count ", kvs);
  // The smallest key-value pair takes 13 bytes and the smallest tensor
  // description 32: larger counts cannot be real.
  if (static_cast<uint64_t>(kvs) > in.remaining() / 13)
    return fail("metadata count ", kvs, " cannot fit in the ", in.remaining(),
                " bytes that remain");
  if (static_cast<uint64_t>(tensors) > in.remaining() / 32)
    return fail("tensor count ", tensors, " cannot fit in the ", in.remaining(),
                " bytes that remain");
  tensorCount = static_cast<uint64_t>(tensors);
  kvCount = static_cast<uint64_t>(kvs);
  return Status::success();
}

Status Parser::parseKeyValue(GGUFFile &file, uint64_t index,
                             std::unordered_set<std::string> &keys) {
  std::string key;
  std::string what = "metadata key #" + std::to_string(index);
  if (Status status = parseString(key, what); !status)
    return status;
  if (key.empty())
    return fail(what, " is empty");
  if (!keys.insert(key).second)
    return fail("duplicate metadata key '", key, "'");
  uint32_t rawType;
  if (!in.read(rawType))
    return truncated("the type of key '", key, "'");
  if (!isValidType(rawType))
    return fail("key '", key, "' has invalid value type ", rawType);
  GGUFValue value = GGUFValue::of(std::string());
  if (Status status = parseValue(static_cast<GGUFType>(rawType), key, value);
      !status)
    return status;
  file.metadata.push_back({std::move(key), std::move(value)});
  return Status::success();
}

Status Parser::parseValue(GGUFType type, const std::string &key,
                          GGUFValue &value) {
  if (type == GGUFType::String) {
    std::string text;
    if (Status status = parseString(text, "the string of key '" + key + "'");
        !status)
      return status;
    value = GGUFValue::of(std::move(text));
    return Status::success();
  }
  if (type == GGUFType::Array) {
    GGUFType elementType;
    if (Status status = parseElementType(key, elementType); !status)
      return status;
    return parseArrayBody(elementType, 1, key, value);
  }
  const uint8_t *bytes;
  if (!in.view(getGGUFScalarSize(type), bytes))
    return truncated("the ", getGGUFTypeName(type), " value of key '", key,
                     "'");
  value = GGUFValue::scalarFromBytes(type, bytes);
  return Status::success();
}

Status Parser::parseElementType(const std::string &key, GGUFType &type) {
  uint32_t raw;
  if (!in.read(raw))
    return truncated("the element type of an array of key '", key, "'");
  if (!isValidType(raw))
    return fail("an array of key '", key, "' has invalid element type ", raw);
  type = static_cast<GGUFType>(raw);
  return Status::success();
}

Status Parser::parseArrayBody(GGUFType elementType, unsigned depth,
                              const std::string &key, GGUFValue &value) {
  if (depth > kMaxArrayDepth)
    return fail("arrays of key '", key, "' nest deeper than ", kMaxArrayDepth);
  uint64_t count;
  if (!in.read(count))
    return truncated("the element count of an array of key '", key, "'");
  if (count > in.remaining() / minElementBytes(elementType))
    return fail("an array of key '", key, "' claims ", count, " ",
                getGGUFTypeName(elementType), " elements but only ",
                in.remaining(), " bytes remain");
  if (elementType == GGUFType::String) {
    std::vector<std::string> texts(count);
    for (uint64_t i = 0; i < count; ++i)
      if (Status status = parseString(texts[i], "string " + std::to_string(i) +
                                                    " of key '" + key + "'");
          !status)
        return status;
    value = GGUFValue::arrayOf(std::move(texts));
    return Status::success();
  }
  if (elementType == GGUFType::Array) {
    std::vector<GGUFValue> arrays(count, GGUFValue::arrayOfArrays({}));
    for (uint64_t i = 0; i < count; ++i) {
      GGUFType nestedType;
      if (Status status = parseElementType(key, nestedType); !status)
        return status;
      if (Status status = parseArrayBody(nestedType, depth + 1, key, arrays[i]);
          !status)
        return status;
    }
    value = GGUFValue::arrayOfArrays(std::move(arrays));
    return Status::success();
  }
  // The count was capped by the bytes left, so this view cannot fail.
  const uint8_t *bytes = nullptr;
  in.view(count * getGGUFScalarSize(elementType), bytes);
  value = GGUFValue::arrayFromBytes(elementType, bytes, count);
  return Status::success();
}

Status Parser::checkAlignment(const GGUFFile &file) {
  const GGUFValue *value = file.find("general.alignment");
  if (!value)
    return Status::success();
  std::optional<uint32_t> alignment = value->get<uint32_t>();
  if (!alignment)
    return makeError(name, ": general.alignment must be a u32, not ",
                     getGGUFTypeName(value->getType()));
  if (*alignment == 0 || (*alignment & (*alignment - 1)) != 0)
    return makeError(name, ": general.alignment ", *alignment,
                     " is not a power of two");
  if (*alignment > kGGUFMaxAlignment)
    return makeError(name, ": general.alignment ", *alignment,
                     " exceeds the largest quantc accepts, ",
                     kGGUFMaxAlignment);
  return Status::success();
}

Status Parser::parseTensorInfo(GGUFFile &file, uint64_t index,
                               std::unordered_set<std::string> &names) {
  GGUFTensor tensor;
  std::string what = "the name of tensor #" + std::to_string(index);
  if (Status status = parseString(tensor.name, what); !status)
    return status;
  if (tensor.name.empty())
    return fail("tensor #", index, " has an empty name");
  if (tensor.name.size() > kGGUFMaxNameLength)
    return fail("tensor #", index, " has a name of ", tensor.name.size(),
                " bytes; ggml allows ", kGGUFMaxNameLength);
  if (!names.insert(tensor.name).second)
    return fail("duplicate tensor name '", tensor.name, "'");
  const std::string &tensorName = tensor.name;

  uint32_t dims;
  if (!in.read(dims))
    return truncated("the dimension count of tensor '", tensorName, "'");
  if (dims == 0 || dims > kGGUFMaxDims)
    return fail("tensor '", tensorName, "' has ", dims,
                " dimensions; expected 1 to ", kGGUFMaxDims);
  tensor.shape.resize(dims);
  for (uint32_t d = 0; d < dims; ++d) {
    if (!in.read(tensor.shape[d]))
      return truncated("dimension ", d, " of tensor '", tensorName, "'");
    if (tensor.shape[d] <= 0)
      return fail("tensor '", tensorName, "' has dimension ", d, " = ",
                  tensor.shape[d], "; dimensions must be positive");
  }

  uint32_t ggmlType;
  if (!in.read(ggmlType))
    return truncated("the type of tensor '", tensorName, "'");
  std::optional<Format> format = lookupFormatByGgmlType(ggmlType);
  if (!format)
    return fail("tensor '", tensorName, "' has ggml type ", ggmlType,
                ", which quantc's format registry does not know");
  tensor.format = *format;
  const FormatInfo &info = getFormatInfo(*format);
  if (tensor.shape[0] % info.blockSize != 0)
    return fail("tensor '", tensorName, "' of type ", info.name, " has ",
                tensor.shape[0], " elements per row, not a multiple of the ",
                info.blockSize, "-element block");
  if (!getTensorByteSize(tensor.format, tensor.shape))
    return fail("the size of tensor '", tensorName, "' overflows");

  if (!in.read(tensor.offset))
    return truncated("the data offset of tensor '", tensorName, "'");
  file.tensors.push_back(std::move(tensor));
  return Status::success();
}

Status Parser::placeTensors(GGUFFile &file) {
  uint32_t alignment = file.getAlignment();
  uint64_t headerEnd = in.offset();
  file.dataOffset = (headerEnd + alignment - 1) / alignment * alignment;
  // Without tensors the padding may be absent; with tensors the data must
  // start inside the file.
  uint64_t dataSize =
      file.dataOffset <= size ? size - file.dataOffset : uint64_t(0);

  std::vector<const GGUFTensor *> byOffset;
  for (GGUFTensor &tensor : file.tensors) {
    if (tensor.offset % alignment != 0)
      return makeError(name, ": tensor '", tensor.name, "' has offset ",
                       tensor.offset, ", not a multiple of the alignment ",
                       alignment);
    uint64_t bytes = tensor.getByteSize();
    uint64_t end;
    if (addOverflows(tensor.offset, bytes, end) || end > dataSize)
      return makeError(name, ": tensor '", tensor.name, "' (", bytes,
                       " bytes at data offset ", tensor.offset,
                       ") runs past the end of the file: the data section "
                       "holds ",
                       dataSize, " bytes");
    tensor.data = data + file.dataOffset + tensor.offset;
    byOffset.push_back(&tensor);
  }
  std::sort(byOffset.begin(), byOffset.end(),
            [](const GGUFTensor *a, const GGUFTensor *b) {
              return a->offset < b->offset;
            });
  for (size_t i = 1; i < byOffset.size(); ++i) {
    const GGUFTensor &previous = *byOffset[i - 1];
    if (previous.offset + previous.getByteSize() > byOffset[i]->offset)
      return makeError(name, ": tensors '", previous.name, "' and '",
                       byOffset[i]->name, "' overlap");
  }
  return Status::success();
}

Result<GGUFFile> Parser::parse() {
  GGUFFile file;
  uint64_t tensorCount, kvCount;
  if (Status status = parseHeader(file, tensorCount, kvCount); !status)
    return status.takeError();

  std::unordered_set<std::string> keys;
  file.metadata.reserve(kvCount);
  for (uint64_t i = 0; i < kvCount; ++i)
    if (Status status = parseKeyValue(file, i, keys); !status)
      return status.takeError();
  if (Status status = checkAlignment(file); !status)
    return status.takeError();

  std::unordered_set<std::string> names;
  file.tensors.reserve(tensorCount);
  for (uint64_t i = 0; i < tensorCount; ++i)
    if (Status status = parseTensorInfo(file, i, names); !status)
      return status.takeError();
  if (Status status = placeTensors(file); !status)
    return status.takeError();
  return file;
}

} // namespace

Result<GGUFFile> parseGGUF(const uint8_t *data, size_t size,
                           const std::string &name) {
  return Parser(data, size, name).parse();
}

Result<GGUFFile> readGGUF(const std::string &path) {
  Result<std::shared_ptr<const MappedFile>> mapped = MappedFile::open(path);
  if (!mapped)
    return mapped.takeError();
  Result<GGUFFile> file = parseGGUF((*mapped)->data(), (*mapped)->size(), path);
  if (file)
    file->mapping = *mapped;
  return file;
}

} // namespace quantc::io
