//===- SyntheticModel.h - a deterministic Llama-shaped model ----*- C++ -*-===//
//
// A model to run quantc on when no real checkpoint is at hand (a fresh
// machine without ../shared/data): a llama2.c legacy `.bin` checkpoint of
// any Llama shape with weights drawn from a seeded generator, and a
// llama2.c tokenizer `.bin` of the same vocabulary size.
//
// The bytes depend on the options and the seed only, never on the machine,
// compiler or C library: the generator is integer arithmetic (splitmix64),
// normal deviates are Irwin-Hall sums of twelve 32-bit uniforms (exact
// integer sums, no log/sin/cos whose last bits differ between libms) and
// each weight is one correctly rounded multiplication. The result is
// approximately normal, cut off at 6 standard deviations.
//
// Scales follow the usual initialisation so that every layer matters and
// the logits are neither flat nor one-hot: matrices reading the residual
// stream (wq, wk, wv, w1, w3) have std 1/sqrt(fan_in); the ones writing it
// (wo, w2) also divide by sqrt(2 * layers), as GPT-2 does; the token
// embedding (and the classifier) have std 1/sqrt(dim), so that a logit,
// the dot product of an RMS-normalised state with a row, has std about 1.
// Norm weights are 1. The two RoPE tables llama2.c's legacy format still
// carries (run.c skips them) are zeros.
//
// The tokenizer follows tok512.bin's conventions: id 0 "<unk>", 1
// "\n<s>\n", 2 "\n</s>\n", 3..258 the byte tokens "<0x00>".."<0xFF>" (all
// scored 0), then merges scored 0, -1, -2, ... in the order a byte-pair
// trainer found them on a small built-in English text (words carry their
// leading space, " the"), then the 95 printable ASCII characters, most
// frequent first, scored below every merge. run.c's encoder finds every
// character it needs and merges greedily by score. A vocabulary the text
// cannot fill ends with unreachable "<unused_N>" tokens; one too small for
// all characters keeps the most frequent ones.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_IO_SYNTHETICMODEL_H
#define QUANTC_IO_SYNTHETICMODEL_H

#include "quantc/IO/Llama2C.h"
#include "quantc/IO/OutputStream.h"
#include "quantc/IO/Result.h"

#include <cstdint>
#include <string>

namespace quantc::io {

struct SyntheticModelOptions {
  int32_t dim = 64;
  int32_t hiddenDim = 172;
  int32_t layers = 2;
  int32_t heads = 8;
  int32_t kvHeads = 4;
  int32_t vocabSize = 512;
  int32_t seqLen = 256;
  bool sharedClassifier = true;
  uint64_t seed = 0;
};

/// The checkpoint's header, or an error when the options do not describe a
/// model llama2.c (and quantc's reader) accepts.
Result<Llama2CConfig> getSyntheticModelConfig(const SyntheticModelOptions &);
/// Bytes of the checkpoint (valid options only).
uint64_t getSyntheticModelByteSize(const SyntheticModelOptions &options);

/// Streams the checkpoint into `out`.
Status writeSyntheticModel(const SyntheticModelOptions &options,
                           OutputStream &out);
/// writeSyntheticModel into `path`, atomically.
Status writeSyntheticModelFile(const SyntheticModelOptions &options,
                               const std::string &path);

/// The smallest vocabulary a tokenizer can have: 3 special tokens and 256
/// byte tokens.
constexpr int32_t kMinSyntheticVocabSize = 259;
/// The largest (beyond what the text fills, tokens are placeholders).
constexpr int32_t kMaxSyntheticVocabSize = 1 << 22;

/// The tokenizer of `vocabSize` tokens (kMinSyntheticVocabSize to
/// kMaxSyntheticVocabSize);
/// it does not depend on the seed.
Result<Llama2CTokenizer> makeSyntheticTokenizer(int32_t vocabSize);
/// A tokenizer in llama2.c's `.bin` layout (max_token_length, then score,
/// length and bytes per token).
Status writeLlama2CTokenizer(const Llama2CTokenizer &tokenizer,
                             OutputStream &out);
/// makeSyntheticTokenizer written into `path`, atomically.
Status writeSyntheticTokenizerFile(int32_t vocabSize, const std::string &path);

} // namespace quantc::io

#endif // QUANTC_IO_SYNTHETICMODEL_H
