//===- Tokenizer.h - llama2.c's SentencePiece-BPE tokenizer -----*- C++ -*-===//
//
// Text to token ids and back, exactly as karpathy/llama2.c's run.c does it,
// so that `quantc eval` scores the same token stream as the reference
// numbers (see ../shared/data/golden/stories260K/README.md). The vocabulary
// comes from a llama2.c tokenizer `.bin` or from a GGUF whose
// tokenizer.ggml.model is "llama" (SentencePiece), such as the ones
// `quantc convert --tokenizer` writes.
//
// run.c's merge loop rescans every adjacent pair after each merge, O(n^2)
// in the text length; encode() makes the same choices (the highest-scoring
// mergeable pair, the leftmost on ties) in O(n log n) with a linked list of
// symbols and a max-heap of candidate pairs.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_IO_TOKENIZER_H
#define QUANTC_IO_TOKENIZER_H

#include "quantc/IO/Result.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace quantc::io {

class Tokenizer {
public:
  /// Reads a vocabulary: a GGUF file (recognized by its 'GGUF' magic) with a
  /// "llama" tokenizer model, otherwise a llama2.c tokenizer `.bin`. With
  /// `vocabSize`, the vocabulary must hold exactly that many tokens (a
  /// llama2.c `.bin` does not state its count; it is read to the end
  /// without one).
  static Result<Tokenizer> load(const std::string &path,
                                std::optional<uint32_t> vocabSize = {});

  /// A tokenizer over `pieces` (token texts, spaces as ' ') and their merge
  /// `scores`; `name` prefixes error messages. Fails unless the two have
  /// the same positive length and the BOS, EOS and unknown ids are in range.
  static Result<Tokenizer> fromPieces(std::vector<std::string> pieces,
                                      std::vector<float> scores, int32_t bosId,
                                      int32_t eosId, int32_t unknownId,
                                      const std::string &name);

  /// run.c's encode: BOS when `addBos`, then for non-empty text a
  /// dummy-prefix " " token, each UTF-8 character (a byte and up to three
  /// continuation bytes) as its token or, when it is none, one byte token
  /// "<0xXX>" per byte; then, while some adjacent pair concatenates to a
  /// token scoring above -1e10, the pair whose token scores highest (the
  /// leftmost on ties) is merged. BOS takes part in the merging as it does
  /// in run.c. Unlike run.c, which reads a C string, a NUL byte is text
  /// like any other; a missing byte token or " " becomes the unknown id
  /// (run.c assumes tok512's layout and would write byte + 3 or -1).
  std::vector<int32_t> encode(std::string_view text, bool addBos) const;

  /// run.c's decode: the text of `token`, without its leading space when
  /// `previous` is BOS (SentencePiece's dummy prefix), and a byte token
  /// "<0xXX>" as that raw byte. Empty for an id that is not in the
  /// vocabulary.
  std::string decode(int32_t previous, int32_t token) const;

  /// The token's text with spaces as ' '; empty for an id that is not in
  /// the vocabulary.
  const std::string &getPiece(int32_t token) const;
  /// The token's merge score; NaN for an id that is not in the vocabulary.
  float getScore(int32_t token) const;
  int32_t size() const { return static_cast<int32_t>(pieces.size()); }
  int32_t getBosId() const { return bosId; }
  int32_t getEosId() const { return eosId; }
  int32_t getUnknownId() const { return unknownId; }

private:
  Tokenizer() = default;

  /// The id of the token whose text is `text`, or -1.
  int32_t lookup(const std::string &text) const;

  std::vector<std::string> pieces;
  std::vector<float> scores;
  /// Text to id; a text that occurs twice keeps its lowest id (run.c's
  /// bsearch over a qsorted copy leaves the choice to the C library).
  std::unordered_map<std::string, int32_t> ids;
  /// The token of each byte value for byte fallback.
  std::array<int32_t, 256> byteTokens{};
  /// The dummy prefix, " ".
  int32_t spaceToken = 0;
  int32_t bosId = 1;
  int32_t eosId = 2;
  int32_t unknownId = 0;
};

} // namespace quantc::io

#endif // QUANTC_IO_TOKENIZER_H
