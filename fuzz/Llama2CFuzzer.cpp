//===- Llama2CFuzzer.cpp - libFuzzer target for llama2.c files ------------===//
//
// The same bytes as a checkpoint and as a tokenizer (with and without a
// vocabulary size taken from the input); every tensor byte a checkpoint
// hands out is read, so that ASan sees any view past the input.
//
//===----------------------------------------------------------------------===//

#include "quantc/IO/Llama2C.h"

#include <cstring>

using namespace quantc::io;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned sum = 0;
  if (Result<Llama2CCheckpoint> checkpoint = parseLlama2C(data, size, "fuzz"))
    for (const Llama2CTensor &tensor : checkpoint->tensors)
      for (uint64_t i = 0; i < tensor.getElementCount() * 4; ++i)
        sum += tensor.data[i];
  if (Result<Llama2CTokenizer> tokenizer =
          parseLlama2CTokenizer(data, size, "fuzz"))
    sum += tokenizer->tokens.size();
  if (size >= 2) {
    uint16_t vocab;
    std::memcpy(&vocab, data, sizeof(vocab));
    if (Result<Llama2CTokenizer> tokenizer =
            parseLlama2CTokenizer(data + 2, size - 2, "fuzz", vocab))
      sum += tokenizer->tokens.size();
  }
  return static_cast<int>(sum & 0);
}
