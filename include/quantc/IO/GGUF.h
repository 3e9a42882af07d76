//===- GGUF.h - GGUF v3 files: metadata, tensors, read, write ---*- C++ -*-===//
//
// GGUF is llama.cpp's model file: a header, typed key-value metadata, tensor
// descriptions, then tensor data at aligned offsets. The reader accepts
// versions 2 and 3 (same layout; llama.cpp reads both) and checks everything
// a hostile file could get wrong before handing out views into the mapping.
// The writer lays files out exactly as llama.cpp's gguf writer does, so that
// reading a GGUF and writing it back reproduces it byte for byte.
//
// Tensor storage formats come from the registry (quantc/Numerics/Formats.h);
// a tensor of a ggml type quantc has no row for is an error, not a guess.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_IO_GGUF_H
#define QUANTC_IO_GGUF_H

#include "quantc/IO/MappedFile.h"
#include "quantc/IO/OutputStream.h"
#include "quantc/IO/Result.h"
#include "quantc/Numerics/Formats.h"

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace quantc::io {

/// Metadata value types, numbered as in the file.
enum class GGUFType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};

/// ggml's short names: "u8", "i32", "f32", "bool", "str", "arr", ...
std::string_view getGGUFTypeName(GGUFType type);
/// Bytes of one scalar of `type`; 0 for strings and arrays.
size_t getGGUFScalarSize(GGUFType type);

template <typename T> struct GGUFTypeOf;
#define QUANTC_GGUF_TYPE_OF(CppType, Type)                                     \
  template <> struct GGUFTypeOf<CppType> {                                     \
    static constexpr GGUFType value = GGUFType::Type;                          \
  };
QUANTC_GGUF_TYPE_OF(uint8_t, UInt8)
QUANTC_GGUF_TYPE_OF(int8_t, Int8)
QUANTC_GGUF_TYPE_OF(uint16_t, UInt16)
QUANTC_GGUF_TYPE_OF(int16_t, Int16)
QUANTC_GGUF_TYPE_OF(uint32_t, UInt32)
QUANTC_GGUF_TYPE_OF(int32_t, Int32)
QUANTC_GGUF_TYPE_OF(float, Float32)
QUANTC_GGUF_TYPE_OF(bool, Bool)
QUANTC_GGUF_TYPE_OF(uint64_t, UInt64)
QUANTC_GGUF_TYPE_OF(int64_t, Int64)
QUANTC_GGUF_TYPE_OF(double, Float64)
#undef QUANTC_GGUF_TYPE_OF

/// One metadata value: a scalar, a string, or an array of scalars, strings
/// or arrays. Scalars keep their exact bytes so that they are written back
/// unchanged.
class GGUFValue {
public:
  template <typename T> static GGUFValue of(T value) {
    return scalarFromBytes(GGUFTypeOf<T>::value,
                           reinterpret_cast<const uint8_t *>(&value));
  }
  static GGUFValue of(std::string value);
  static GGUFValue of(const char *value) { return of(std::string(value)); }
  template <typename T> static GGUFValue arrayOf(const std::vector<T> &values) {
    return arrayFromBytes(GGUFTypeOf<T>::value,
                          reinterpret_cast<const uint8_t *>(values.data()),
                          values.size());
  }
  static GGUFValue arrayOf(const std::vector<bool> &values);
  static GGUFValue arrayOf(std::vector<std::string> values);
  /// An array whose elements are arrays (each must be one).
  static GGUFValue arrayOfArrays(std::vector<GGUFValue> arrays);
  /// A scalar of fixed-size `type` from its little-endian bytes.
  static GGUFValue scalarFromBytes(GGUFType type, const uint8_t *bytes);
  /// An array of `count` fixed-size `elementType` scalars.
  static GGUFValue arrayFromBytes(GGUFType elementType, const uint8_t *bytes,
                                  uint64_t count);

  GGUFType getType() const { return type; }
  bool isArray() const { return type == GGUFType::Array; }
  /// The element type of an array.
  GGUFType getElementType() const { return elementType; }
  uint64_t getArraySize() const;

  /// The scalar, when this is a scalar of exactly T's GGUF type (GGUF states
  /// types and llama.cpp insists on them, e.g. u32 for general.alignment).
  template <typename T> std::optional<T> get() const {
    if (type != GGUFTypeOf<T>::value)
      return std::nullopt;
    if constexpr (std::is_same_v<T, bool>) {
      return bytes[0] != 0;
    } else {
      T value;
      std::memcpy(&value, bytes.data(), sizeof(T));
      return value;
    }
  }
  /// Any integer scalar (u8..i64) widened; nullopt for other types and for
  /// u64 values above INT64_MAX.
  std::optional<int64_t> getInteger() const;
  const std::string *getString() const {
    return type == GGUFType::String ? &strings.front() : nullptr;
  }
  /// The elements of an array of exactly T's GGUF type.
  template <typename T> std::optional<std::vector<T>> getArray() const {
    if (type != GGUFType::Array || elementType != GGUFTypeOf<T>::value)
      return std::nullopt;
    std::vector<T> values(bytes.size() / getGGUFScalarSize(elementType));
    if constexpr (std::is_same_v<T, bool>) {
      for (size_t i = 0; i < values.size(); ++i)
        values[i] = bytes[i] != 0;
    } else if (!values.empty()) {
      std::memcpy(values.data(), bytes.data(), bytes.size());
    }
    return values;
  }
  const std::vector<std::string> *getStringArray() const {
    return isArray() && elementType == GGUFType::String ? &strings : nullptr;
  }
  const std::vector<GGUFValue> *getArrays() const {
    return isArray() && elementType == GGUFType::Array ? &arrays : nullptr;
  }
  /// The little-endian bytes of a fixed-size scalar or of all elements of an
  /// array of fixed-size scalars.
  const std::vector<uint8_t> &getRawBytes() const { return bytes; }

  bool operator==(const GGUFValue &other) const;
  bool operator!=(const GGUFValue &other) const { return !(*this == other); }

private:
  GGUFValue(GGUFType type, GGUFType elementType)
      : type(type), elementType(elementType) {}

  GGUFType type;
  GGUFType elementType;
  std::vector<uint8_t> bytes;
  std::vector<std::string> strings;
  std::vector<GGUFValue> arrays;
};

/// A value for people: scalars as such, strings quoted and escaped, arrays
/// as `[N x type] [first elements, ...]` with at most `maxElements` shown.
std::string formatGGUFValue(const GGUFValue &value, size_t maxElements = 8);

struct GGUFKeyValue {
  std::string key;
  GGUFValue value;
};

constexpr uint32_t kGGUFDefaultAlignment = 32;
/// The largest general.alignment accepted: real files use 32 to a page or
/// two, and a hostile 2^31 would make rewriting a 100-byte file write 2 GiB.
constexpr uint32_t kGGUFMaxAlignment = uint32_t(1) << 24;
/// ggml's GGML_MAX_DIMS and GGML_MAX_NAME (names are shorter than 64 bytes).
constexpr unsigned kGGUFMaxDims = 4;
constexpr size_t kGGUFMaxNameLength = 63;

/// Bytes of a tensor of `format` and ggml `shape` (ne, innermost first), or
/// nullopt when a dimension is not positive, ne[0] is not a whole number of
/// blocks, or the size overflows.
std::optional<uint64_t> getTensorByteSize(Format format,
                                          const std::vector<int64_t> &shape);
/// Dimensions up to the last one that is not 1 (at least 1), as ggml_n_dims.
unsigned getEffectiveRank(const std::vector<int64_t> &shape);

struct GGUFTensor {
  std::string name;
  /// ggml's ne: ne[0] is the row length (innermost); as many entries as the
  /// file states dimensions.
  std::vector<int64_t> shape;
  Format format = Format::F32;
  /// Offset of the data from the start of the data section.
  uint64_t offset = 0;
  /// The data: a view into the file a reader mapped, or anything a writer's
  /// caller points at; null when a writer's filler supplies it.
  const uint8_t *data = nullptr;

  /// Valid for tensors a reader returned or a writer accepted.
  uint64_t getByteSize() const { return *getTensorByteSize(format, shape); }
  uint64_t getElementCount() const;
  /// Rows of ne[0] elements.
  uint64_t getRowCount() const;
};

struct GGUFFile {
  /// 3, or 2 for a version 2 file that was read (written back as such).
  uint32_t version = 3;
  /// In file order; keys are unique.
  std::vector<GGUFKeyValue> metadata;
  std::vector<GGUFTensor> tensors;
  /// Where the data section began in the file that was read.
  uint64_t dataOffset = 0;
  /// Keeps the mapping the tensors view alive.
  std::shared_ptr<const MappedFile> mapping;

  const GGUFValue *find(std::string_view key) const;
  /// Replaces or adds `key`; like llama.cpp's gguf_set_*, a replaced key
  /// moves to the end.
  void set(std::string key, GGUFValue value);
  bool remove(std::string_view key);
  const GGUFTensor *findTensor(std::string_view name) const;
  /// general.alignment, or 32 without it (valid for files a reader returned).
  uint32_t getAlignment() const;
};

/// Maps and parses `path`.
Result<GGUFFile> readGGUF(const std::string &path);
/// Parses a GGUF in memory; tensors view `data`, which must outlive them.
/// `name` prefixes error messages.
Result<GGUFFile> parseGGUF(const uint8_t *data, size_t size,
                           const std::string &name);

/// Writes the bytes of tensor `index` (exactly `size` of them) to `dst`.
using GGUFTensorFiller =
    std::function<Status(size_t index, uint8_t *dst, uint64_t size)>;

/// Writes `file` as llama.cpp does: header, metadata in order, tensor
/// descriptions with offsets recomputed (each tensor padded to the
/// alignment), zero padding to the aligned data section, then the data of
/// each tensor followed by zero padding. Tensor data comes from `fill` when
/// given, else from each tensor's `data`. Checks what a reader checks.
Status writeGGUF(const GGUFFile &file, OutputStream &out,
                 const GGUFTensorFiller &fill = {});
/// writeGGUF into `path`, atomically.
Status writeGGUFFile(const GGUFFile &file, const std::string &path,
                     const GGUFTensorFiller &fill = {});

} // namespace quantc::io

#endif // QUANTC_IO_GGUF_H
