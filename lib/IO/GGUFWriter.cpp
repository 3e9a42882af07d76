//===- GGUFWriter.cpp - writing GGUF as llama.cpp does --------------------===//
//
// Byte-for-byte what ggml's gguf_write_to_file produces for the same
// content: the header, the key-value pairs in order, the tensor descriptions
// with offsets relative to the data section (each tensor's size rounded up
// to the alignment), zero padding up to the aligned data section, and each
// tensor's data followed by zero padding to the alignment, the last one
// included. The header is assembled in memory, tensor data streamed.
//
//===----------------------------------------------------------------------===//

#include "quantc/IO/GGUF.h"

#include "Bytes.h"

#include <unordered_set>

namespace quantc::io {
namespace {

void writeString(ByteWriter &out, const std::string &text) {
  out.write(static_cast<uint64_t>(text.size()));
  out.writeBytes(text.data(), text.size());
}

/// An array's element type, count and elements; a scalar's bytes.
void writeValueBody(ByteWriter &out, const GGUFValue &value) {
  if (const std::string *text = value.getString()) {
    writeString(out, *text);
    return;
  }
  if (!value.isArray()) {
    out.writeBytes(value.getRawBytes().data(), value.getRawBytes().size());
    return;
  }
  out.write(static_cast<uint32_t>(value.getElementType()));
  out.write(value.getArraySize());
  if (const std::vector<std::string> *texts = value.getStringArray()) {
    for (const std::string &text : *texts)
      writeString(out, text);
  } else if (const std::vector<GGUFValue> *arrays = value.getArrays()) {
    for (const GGUFValue &array : *arrays)
      writeValueBody(out, array);
  } else {
    out.writeBytes(value.getRawBytes().data(), value.getRawBytes().size());
  }
}

bool nestsOnlyArrays(const GGUFValue &value) {
  if (const std::vector<GGUFValue> *arrays = value.getArrays())
    for (const GGUFValue &array : *arrays)
      if (!array.isArray() || !nestsOnlyArrays(array))
        return false;
  return true;
}

Status checkMetadata(const GGUFFile &file) {
  std::unordered_set<std::string_view> keys;
  for (const GGUFKeyValue &kv : file.metadata) {
    if (kv.key.empty())
      return makeError("GGUF metadata key is empty");
    if (!keys.insert(kv.key).second)
      return makeError("duplicate GGUF metadata key '", kv.key, "'");
    if (!nestsOnlyArrays(kv.value))
      return makeError("GGUF metadata key '", kv.key,
                       "' holds an array of arrays with a non-array element");
  }
  if (const GGUFValue *value = file.find("general.alignment")) {
    std::optional<uint32_t> alignment = value->get<uint32_t>();
    if (!alignment || *alignment == 0 || (*alignment & (*alignment - 1)) != 0 ||
        *alignment > kGGUFMaxAlignment)
      return makeError("general.alignment must be a u32 power of two up to ",
                       kGGUFMaxAlignment);
  }
  if (file.version != 2 && file.version != 3)
    return makeError("cannot write GGUF version ", file.version);
  return Status::success();
}

Status checkTensor(const GGUFTensor &tensor,
                   std::unordered_set<std::string_view> &names) {
  if (tensor.name.empty() || tensor.name.size() > kGGUFMaxNameLength)
    return makeError("GGUF tensor name '", tensor.name, "' must have 1 to ",
                     kGGUFMaxNameLength, " bytes");
  if (!names.insert(tensor.name).second)
    return makeError("duplicate GGUF tensor name '", tensor.name, "'");
  if (tensor.shape.empty() || tensor.shape.size() > kGGUFMaxDims)
    return makeError("GGUF tensor '", tensor.name, "' has ",
                     tensor.shape.size(), " dimensions; expected 1 to ",
                     kGGUFMaxDims);
  if (!getTensorByteSize(tensor.format, tensor.shape))
    return makeError("GGUF tensor '", tensor.name, "' of type ",
                     getFormatInfo(tensor.format).name,
                     " has a non-positive dimension, a row that is not a "
                     "whole number of blocks, or an overflowing size");
  return Status::success();
}

uint64_t padTo(uint64_t offset, uint64_t alignment) {
  return (offset + alignment - 1) / alignment * alignment;
}

} // namespace

Status writeGGUF(const GGUFFile &file, OutputStream &out,
                 const GGUFTensorFiller &fill) {
  if (Status status = checkMetadata(file); !status)
    return status;
  std::unordered_set<std::string_view> names;
  for (const GGUFTensor &tensor : file.tensors) {
    if (Status status = checkTensor(tensor, names); !status)
      return status;
    if (!fill && !tensor.data)
      return makeError("GGUF tensor '", tensor.name, "' has no data");
  }
  const uint64_t alignment = file.getAlignment();

  std::vector<uint8_t> header;
  ByteWriter writer(header);
  writer.writeBytes("GGUF", 4);
  writer.write(file.version);
  writer.write(static_cast<int64_t>(file.tensors.size()));
  writer.write(static_cast<int64_t>(file.metadata.size()));
  for (const GGUFKeyValue &kv : file.metadata) {
    writeString(writer, kv.key);
    writer.write(static_cast<uint32_t>(kv.value.getType()));
    writeValueBody(writer, kv.value);
  }
  uint64_t offset = 0;
  for (const GGUFTensor &tensor : file.tensors) {
    writeString(writer, tensor.name);
    writer.write(static_cast<uint32_t>(tensor.shape.size()));
    for (int64_t dim : tensor.shape)
      writer.write(dim);
    writer.write(getFormatInfo(tensor.format).ggmlType);
    writer.write(offset);
    offset += padTo(tensor.getByteSize(), alignment);
  }
  header.resize(padTo(header.size(), alignment), 0);
  if (Status status = out.write(header.data(), header.size()); !status)
    return status;

  std::vector<uint8_t> buffer;
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    const GGUFTensor &tensor = file.tensors[i];
    uint64_t bytes = tensor.getByteSize();
    const uint8_t *data = tensor.data;
    if (fill) {
      buffer.assign(bytes, 0);
      if (Status status = fill(i, buffer.data(), bytes); !status)
        return status;
      data = buffer.data();
    }
    if (Status status = out.write(data, bytes); !status)
      return status;
    if (Status status = out.writeZeros(padTo(bytes, alignment) - bytes);
        !status)
      return status;
  }
  return Status::success();
}

Status writeGGUFFile(const GGUFFile &file, const std::string &path,
                     const GGUFTensorFiller &fill) {
  Result<std::unique_ptr<AtomicFileOutputStream>> out =
      AtomicFileOutputStream::create(path);
  if (!out)
    return out.takeError();
  if (Status status = writeGGUF(file, **out, fill); !status)
    return status;
  return (*out)->commit();
}

} // namespace quantc::io
