//===- GGUFFuzzer.cpp - libFuzzer target for the GGUF reader --------------===//
//
// Parses the input; whatever parses must survive the writer and read back
// unchanged, and writing it again must give the same bytes.
//
//===----------------------------------------------------------------------===//

#include "quantc/IO/GGUF.h"

#include <cstdlib>

using namespace quantc::io;

namespace {
void check(bool condition) {
  if (!condition)
    std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Result<GGUFFile> file = parseGGUF(data, size, "fuzz");
  if (!file)
    return 0;
  unsigned sum = 0;
  for (const GGUFKeyValue &kv : file->metadata)
    sum += formatGGUFValue(kv.value).size();
  for (const GGUFTensor &tensor : file->tensors)
    for (uint64_t i = 0; i < tensor.getByteSize(); ++i)
      sum += tensor.data[i];

  MemoryOutputStream first;
  check(writeGGUF(*file, first).ok());
  Result<GGUFFile> again =
      parseGGUF(first.bytes().data(), first.bytes().size(), "rewritten");
  check(again.ok());
  check(again->version == file->version);
  check(again->metadata.size() == file->metadata.size());
  for (size_t i = 0; i < file->metadata.size(); ++i)
    check(again->metadata[i].key == file->metadata[i].key &&
          again->metadata[i].value == file->metadata[i].value);
  check(again->tensors.size() == file->tensors.size());
  for (size_t i = 0; i < file->tensors.size(); ++i) {
    const GGUFTensor &a = file->tensors[i], &b = again->tensors[i];
    check(a.name == b.name && a.shape == b.shape && a.format == b.format);
    check(std::memcmp(a.data, b.data, a.getByteSize()) == 0);
  }
  MemoryOutputStream second;
  check(writeGGUF(*again, second).ok());
  check(second.bytes() == first.bytes());
  return static_cast<int>(sum & 0);
}
