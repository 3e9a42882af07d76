//===- GGUF.cpp - GGUF metadata values, tensors and files -----------------===//

#include "quantc/IO/GGUF.h"

#include "Bytes.h"

#include <cinttypes>
#include <cstdio>
#include <limits>
#include <sstream>

namespace quantc::io {

std::string_view getGGUFTypeName(GGUFType type) {
  switch (type) {
  case GGUFType::UInt8:
    return "u8";
  case GGUFType::Int8:
    return "i8";
  case GGUFType::UInt16:
    return "u16";
  case GGUFType::Int16:
    return "i16";
  case GGUFType::UInt32:
    return "u32";
  case GGUFType::Int32:
    return "i32";
  case GGUFType::Float32:
    return "f32";
  case GGUFType::Bool:
    return "bool";
  case GGUFType::String:
    return "str";
  case GGUFType::Array:
    return "arr";
  case GGUFType::UInt64:
    return "u64";
  case GGUFType::Int64:
    return "i64";
  case GGUFType::Float64:
    return "f64";
  }
  return "?";
}

size_t getGGUFScalarSize(GGUFType type) {
  switch (type) {
  case GGUFType::UInt8:
  case GGUFType::Int8:
  case GGUFType::Bool:
    return 1;
  case GGUFType::UInt16:
  case GGUFType::Int16:
    return 2;
  case GGUFType::UInt32:
  case GGUFType::Int32:
  case GGUFType::Float32:
    return 4;
  case GGUFType::UInt64:
  case GGUFType::Int64:
  case GGUFType::Float64:
    return 8;
  case GGUFType::String:
  case GGUFType::Array:
    return 0;
  }
  return 0;
}

//===----------------------------------------------------------------------===//
// GGUFValue
//===----------------------------------------------------------------------===//

GGUFValue GGUFValue::of(std::string value) {
  GGUFValue result(GGUFType::String, GGUFType::String);
  result.strings.push_back(std::move(value));
  return result;
}

GGUFValue GGUFValue::arrayOf(const std::vector<bool> &values) {
  std::vector<uint8_t> bytes(values.begin(), values.end());
  return arrayFromBytes(GGUFType::Bool, bytes.data(), bytes.size());
}

GGUFValue GGUFValue::arrayOf(std::vector<std::string> values) {
  GGUFValue result(GGUFType::Array, GGUFType::String);
  result.strings = std::move(values);
  return result;
}

GGUFValue GGUFValue::arrayOfArrays(std::vector<GGUFValue> arrays) {
  GGUFValue result(GGUFType::Array, GGUFType::Array);
  result.arrays = std::move(arrays);
  return result;
}

GGUFValue GGUFValue::scalarFromBytes(GGUFType type, const uint8_t *bytes) {
  size_t size = getGGUFScalarSize(type);
  assert(size != 0 && "not a fixed-size scalar type");
  GGUFValue result(type, type);
  result.bytes.assign(bytes, bytes + size);
  return result;
}

GGUFValue GGUFValue::arrayFromBytes(GGUFType elementType, const uint8_t *bytes,
                                    uint64_t count) {
  size_t size = getGGUFScalarSize(elementType);
  assert(size != 0 && "not a fixed-size scalar type");
  GGUFValue result(GGUFType::Array, elementType);
  if (count != 0)
    result.bytes.assign(bytes, bytes + count * size);
  return result;
}

uint64_t GGUFValue::getArraySize() const {
  if (!isArray())
    return 0;
  if (elementType == GGUFType::String)
    return strings.size();
  if (elementType == GGUFType::Array)
    return arrays.size();
  return bytes.size() / getGGUFScalarSize(elementType);
}

std::optional<int64_t> GGUFValue::getInteger() const {
  switch (type) {
  case GGUFType::UInt8:
    return *get<uint8_t>();
  case GGUFType::Int8:
    return *get<int8_t>();
  case GGUFType::UInt16:
    return *get<uint16_t>();
  case GGUFType::Int16:
    return *get<int16_t>();
  case GGUFType::UInt32:
    return *get<uint32_t>();
  case GGUFType::Int32:
    return *get<int32_t>();
  case GGUFType::Int64:
    return *get<int64_t>();
  case GGUFType::UInt64: {
    uint64_t value = *get<uint64_t>();
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    return static_cast<int64_t>(value);
  }
  default:
    return std::nullopt;
  }
}

bool GGUFValue::operator==(const GGUFValue &other) const {
  return type == other.type && elementType == other.elementType &&
         bytes == other.bytes && strings == other.strings &&
         arrays == other.arrays;
}

namespace {

void formatString(std::ostringstream &os, const std::string &text) {
  os << '"';
  for (unsigned char c : text) {
    if (c == '"' || c == '\\')
      os << '\\' << c;
    else if (c == '\n')
      os << "\\n";
    else if (c == '\t')
      os << "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      os << escaped;
    } else {
      os << c;
    }
  }
  os << '"';
}

void formatScalar(std::ostringstream &os, GGUFType type, const uint8_t *bytes) {
  GGUFValue value = GGUFValue::scalarFromBytes(type, bytes);
  if (std::optional<int64_t> integer = value.getInteger())
    os << *integer;
  else if (std::optional<uint64_t> big = value.get<uint64_t>())
    os << *big;
  else if (std::optional<bool> flag = value.get<bool>())
    os << (*flag ? "true" : "false");
  else if (std::optional<float> f = value.get<float>())
    os << *f;
  else if (std::optional<double> d = value.get<double>())
    os << *d;
}

void formatValue(std::ostringstream &os, const GGUFValue &value,
                 size_t maxElements) {
  if (const std::string *text = value.getString()) {
    formatString(os, *text);
    return;
  }
  if (!value.isArray()) {
    formatScalar(os, value.getType(), value.getRawBytes().data());
    return;
  }
  uint64_t size = value.getArraySize();
  os << '[' << size << " x " << getGGUFTypeName(value.getElementType())
     << "] [";
  uint64_t shown = size < maxElements ? size : maxElements;
  for (uint64_t i = 0; i < shown; ++i) {
    if (i != 0)
      os << ", ";
    if (const std::vector<std::string> *texts = value.getStringArray())
      formatString(os, (*texts)[i]);
    else if (const std::vector<GGUFValue> *arrays = value.getArrays())
      formatValue(os, (*arrays)[i], maxElements);
    else
      formatScalar(os, value.getElementType(),
                   value.getRawBytes().data() +
                       i * getGGUFScalarSize(value.getElementType()));
  }
  if (shown < size)
    os << ", ...";
  os << ']';
}

} // namespace

std::string formatGGUFValue(const GGUFValue &value, size_t maxElements) {
  std::ostringstream os;
  os.precision(9);
  formatValue(os, value, maxElements);
  return os.str();
}

//===----------------------------------------------------------------------===//
// Tensors and files
//===----------------------------------------------------------------------===//

std::optional<uint64_t> getTensorByteSize(Format format,
                                          const std::vector<int64_t> &shape) {
  if (shape.empty())
    return std::nullopt;
  for (int64_t dim : shape)
    if (dim <= 0)
      return std::nullopt;
  std::optional<uint64_t> rowBytes =
      getFormatInfo(format).rowBytes(static_cast<uint64_t>(shape[0]));
  if (!rowBytes)
    return std::nullopt;
  uint64_t bytes = *rowBytes;
  for (size_t i = 1; i < shape.size(); ++i)
    if (mulOverflows(bytes, static_cast<uint64_t>(shape[i]), bytes))
      return std::nullopt;
  // Element counts must fit ggml's int64 as well.
  uint64_t elements = 1;
  for (int64_t dim : shape)
    if (mulOverflows(elements, static_cast<uint64_t>(dim), elements) ||
        elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
  return bytes;
}

unsigned getEffectiveRank(const std::vector<int64_t> &shape) {
  unsigned rank = 1;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != 1)
      rank = static_cast<unsigned>(i) + 1;
  return rank;
}

uint64_t GGUFTensor::getElementCount() const {
  uint64_t count = 1;
  for (int64_t dim : shape)
    count *= static_cast<uint64_t>(dim);
  return count;
}

uint64_t GGUFTensor::getRowCount() const {
  return shape.empty() ? 0
                       : getElementCount() / static_cast<uint64_t>(shape[0]);
}

const GGUFValue *GGUFFile::find(std::string_view key) const {
  for (const GGUFKeyValue &kv : metadata)
    if (kv.key == key)
      return &kv.value;
  return nullptr;
}

void GGUFFile::set(std::string key, GGUFValue value) {
  remove(key);
  metadata.push_back({std::move(key), std::move(value)});
}

bool GGUFFile::remove(std::string_view key) {
  for (auto it = metadata.begin(); it != metadata.end(); ++it) {
    if (it->key == key) {
      metadata.erase(it);
      return true;
    }
  }
  return false;
}

const GGUFTensor *GGUFFile::findTensor(std::string_view name) const {
  for (const GGUFTensor &tensor : tensors)
    if (tensor.name == name)
      return &tensor;
  return nullptr;
}

uint32_t GGUFFile::getAlignment() const {
  if (const GGUFValue *value = find("general.alignment"))
    if (std::optional<uint32_t> alignment = value->get<uint32_t>())
      return *alignment;
  return kGGUFDefaultAlignment;
}

} // namespace quantc::io
