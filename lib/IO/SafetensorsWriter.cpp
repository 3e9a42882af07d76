//===- SafetensorsWriter.cpp - writing the reference layout ---------------===//
//
// As huggingface/safetensors' serialize(): tensors sorted by descending
// dtype (its enum order, so wider types come first and stay aligned), then
// by name; the header is compact JSON with `__metadata__` first (its keys
// sorted, where the reference's hash map has no fixed order) and each
// tensor's dtype, shape and data_offsets in that order, padded with spaces
// to a multiple of 8 bytes.
//
//===----------------------------------------------------------------------===//

#include "quantc/IO/Safetensors.h"

#include "Bytes.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

namespace quantc::io {

Status writeSafetensors(const SafetensorsFile &file, OutputStream &out) {
  std::set<std::string_view> names;
  for (const SafetensorsTensor &tensor : file.tensors) {
    if (tensor.name == "__metadata__")
      return makeError("a safetensors tensor cannot be named __metadata__");
    if (!names.insert(tensor.name).second)
      return makeError("duplicate safetensors tensor name '", tensor.name, "'");
    uint64_t bytes = getSafetensorsDTypeSize(tensor.dtype);
    for (uint64_t dim : tensor.shape)
      if (mulOverflows(bytes, dim, bytes))
        return makeError("the size of safetensors tensor '", tensor.name,
                         "' overflows");
    if (bytes != tensor.size)
      return makeError("safetensors tensor '", tensor.name, "' has ",
                       tensor.size, " bytes but its dtype and shape need ",
                       bytes);
    if (bytes != 0 && !tensor.data)
      return makeError("safetensors tensor '", tensor.name, "' has no data");
  }

  std::vector<const SafetensorsTensor *> order;
  for (const SafetensorsTensor &tensor : file.tensors)
    order.push_back(&tensor);
  std::sort(order.begin(), order.end(),
            [](const SafetensorsTensor *a, const SafetensorsTensor *b) {
              if (a->dtype != b->dtype)
                return a->dtype > b->dtype;
              return a->name < b->name;
            });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (file.metadata)
    header["__metadata__"] = *file.metadata;
  uint64_t offset = 0;
  for (const SafetensorsTensor *tensor : order) {
    nlohmann::ordered_json info;
    info["dtype"] = getSafetensorsDTypeName(tensor->dtype);
    info["shape"] = tensor->shape;
    info["data_offsets"] = {offset, offset + tensor->size};
    header[tensor->name] = std::move(info);
    offset += tensor->size;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception &error) {
    return makeError("cannot write the safetensors header: ", error.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  std::vector<uint8_t> prefix;
  ByteWriter writer(prefix);
  writer.write(static_cast<uint64_t>(text.size()));
  writer.writeBytes(text.data(), text.size());
  if (Status status = out.write(prefix.data(), prefix.size()); !status)
    return status;
  for (const SafetensorsTensor *tensor : order)
    if (Status status = out.write(tensor->data, tensor->size); !status)
      return status;
  return Status::success();
}

Status writeSafetensorsFile(const SafetensorsFile &file,
                            const std::string &path) {
  Result<std::unique_ptr<AtomicFileOutputStream>> out =
      AtomicFileOutputStream::create(path);
  if (!out)
    return out.takeError();
  if (Status status = writeSafetensors(file, **out); !status)
    return status;
  return (*out)->commit();
}

} // namespace quantc::io
