//===- ImatrixFuzzer.cpp - libFuzzer target for importance matrices -------===//
//
// The input as a legacy .dat, as raw floats, and, when it is a GGUF, as
// llama-imatrix's GGUF.
//
//===----------------------------------------------------------------------===//

#include "quantc/IO/Imatrix.h"

using namespace quantc::io;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t sum = 0;
  if (Result<ImportanceMatrix> legacy = parseLegacyImatrix(data, size, "fuzz"))
    sum += legacy->entries.size();
  if (Result<ImportanceMatrix> raw = parseRawImatrix(data, size, "fuzz"))
    sum += raw->forEveryTensor->size();
  if (Result<GGUFFile> file = parseGGUF(data, size, "fuzz"))
    if (Result<ImportanceMatrix> gguf = parseGGUFImatrix(*file, "fuzz"))
      sum += gguf->entries.size();
  return static_cast<int>(sum & 0);
}
