//===- SafetensorsFuzzer.cpp - libFuzzer target for safetensors -----------===//
//
// Parses the input; whatever parses must survive the writer and read back
// unchanged, and writing it again must give the same bytes.
//
//===----------------------------------------------------------------------===//

#include "quantc/IO/Safetensors.h"

#include <cstdlib>
#include <cstring>

using namespace quantc::io;

namespace {
void check(bool condition) {
  if (!condition)
    std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Result<SafetensorsFile> file = parseSafetensors(data, size, "fuzz");
  if (!file)
    return 0;
  unsigned sum = 0;
  for (const SafetensorsTensor &tensor : file->tensors)
    for (uint64_t i = 0; i < tensor.size; ++i)
      sum += tensor.data[i];

  MemoryOutputStream first;
  Status written = writeSafetensors(*file, first);
  // Names that are not valid UTF-8 cannot be written back as JSON; the
  // reader only lets valid ones through.
  check(written.ok());
  Result<SafetensorsFile> again =
      parseSafetensors(first.bytes().data(), first.bytes().size(), "again");
  check(again.ok());
  check(again->metadata == file->metadata);
  check(again->tensors.size() == file->tensors.size());
  for (const SafetensorsTensor &a : file->tensors) {
    const SafetensorsTensor *b = again->find(a.name);
    check(b && b->dtype == a.dtype && b->shape == a.shape && b->size == a.size);
    check(a.size == 0 || std::memcmp(a.data, b->data, a.size) == 0);
  }
  MemoryOutputStream second;
  check(writeSafetensors(*again, second).ok());
  check(second.bytes() == first.bytes());
  return static_cast<int>(sum & 0);
}
