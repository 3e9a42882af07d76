//===- Tokenizer.cpp - llama2.c's SentencePiece-BPE tokenizer -------------===//

#include "quantc/IO/Tokenizer.h"

#include "quantc/IO/GGUF.h"
#include "quantc/IO/Llama2C.h"
#include "quantc/IO/MappedFile.h"

#include <cstring>
#include <limits>
#include <queue>

namespace quantc::io {

namespace {

/// SentencePiece writes spaces in token texts as U+2581 (LOWER ONE EIGHTH
/// BLOCK).
constexpr std::string_view kSentencePieceSpace = "\xe2\x96\x81";

/// run.c starts its search for the best pair at this score, so a token
/// scoring at or below it never results from a merge.
constexpr float kMergeFloor = -1e10f;

bool isContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/// The byte a "<0xXX>" token stands for (either case of hex digit, as
/// run.c's sscanf accepts).
std::optional<char> parseByteToken(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>')
    return std::nullopt;
  int high = hexValue(piece[3]), low = hexValue(piece[4]);
  if (high < 0 || low < 0)
    return std::nullopt;
  return static_cast<char>(high * 16 + low);
}

std::string byteTokenText(unsigned value) {
  const char *digits = "0123456789ABCDEF";
  return std::string("<0x") + digits[value >> 4] + digits[value & 15] + ">";
}

std::string unescapeSpaces(const std::string &piece) {
  std::string text;
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kSentencePieceSpace.size(), kSentencePieceSpace) ==
        0) {
      text += ' ';
      i += kSentencePieceSpace.size();
    } else {
      text += piece[i++];
    }
  }
  return text;
}

/// A tokenizer.ggml.*_token_id, or `fallback` (llama.cpp's SentencePiece
/// default) when the key is absent.
Result<int32_t> readTokenId(const GGUFFile &file, const char *key,
                            int32_t fallback, const std::string &path) {
  const GGUFValue *value = file.find(key);
  if (!value)
    return fallback;
  std::optional<int64_t> id = value->getInteger();
  if (!id || *id < 0 || *id > std::numeric_limits<int32_t>::max())
    return makeError(path, ": ", key, " is ", formatGGUFValue(*value),
                     ", not a token id");
  return static_cast<int32_t>(*id);
}

Result<Tokenizer> fromGGUF(const GGUFFile &file, const std::string &path,
                           std::optional<uint32_t> vocabSize) {
  const GGUFValue *model = file.find("tokenizer.ggml.model");
  if (!model)
    return makeError(path, ": the GGUF has no vocabulary "
                           "(no tokenizer.ggml.model)");
  if (!model->getString())
    return makeError(path, ": tokenizer.ggml.model is ",
                     formatGGUFValue(*model), ", not a string");
  if (*model->getString() != "llama")
    return makeError(path, ": tokenizer model '", *model->getString(),
                     "' is not supported; quantc reads SentencePiece "
                     "vocabularies (tokenizer.ggml.model \"llama\")");
  const GGUFValue *tokens = file.find("tokenizer.ggml.tokens");
  if (!tokens || !tokens->getStringArray())
    return makeError(path, ": the GGUF has no tokenizer.ggml.tokens string "
                           "array");
  const GGUFValue *scores = file.find("tokenizer.ggml.scores");
  std::optional<std::vector<float>> scoreValues =
      scores ? scores->getArray<float>() : std::nullopt;
  // SentencePiece merging ranks pairs by score; without scores there is no
  // way to reproduce it.
  if (!scoreValues)
    return makeError(path, ": the GGUF has no tokenizer.ggml.scores f32 "
                           "array, which the SentencePiece merges rank by");
  const std::vector<std::string> &texts = *tokens->getStringArray();
  if (vocabSize && texts.size() != *vocabSize)
    return makeError(path, ": the vocabulary has ", texts.size(),
                     " tokens; expected ", *vocabSize);

  Result<int32_t> bos =
      readTokenId(file, "tokenizer.ggml.bos_token_id", 1, path);
  if (!bos)
    return bos.takeError();
  Result<int32_t> eos =
      readTokenId(file, "tokenizer.ggml.eos_token_id", 2, path);
  if (!eos)
    return eos.takeError();
  Result<int32_t> unknown =
      readTokenId(file, "tokenizer.ggml.unknown_token_id", 0, path);
  if (!unknown)
    return unknown.takeError();

  std::vector<std::string> pieces;
  pieces.reserve(texts.size());
  for (const std::string &text : texts)
    pieces.push_back(unescapeSpaces(text));
  return Tokenizer::fromPieces(std::move(pieces), std::move(*scoreValues), *bos,
                               *eos, *unknown, path);
}

/// A symbol of the text being merged: a token in a doubly linked list.
struct Symbol {
  int32_t token;
  int32_t previous;
  int32_t next;
  /// Bumped whenever the symbol changes (absorbs its right neighbour) or is
  /// absorbed, so that queued pairs naming its old state are recognized as
  /// stale.
  uint32_t generation;
};

/// Adjacent symbols `left` and `right` that would merge into `token`, as
/// they were at the generations recorded.
struct Candidate {
  float score;
  int32_t left;
  int32_t right;
  int32_t token;
  uint32_t leftGeneration;
  uint32_t rightGeneration;
};

/// Heap order: the highest score first, then the leftmost pair. Symbols
/// never reorder, so the left symbol's index orders pairs as positions do.
/// Scores are never NaN here (NaN scores never merge), so this is a strict
/// weak order.
struct LowerPriority {
  bool operator()(const Candidate &a, const Candidate &b) const {
    if (a.score != b.score)
      return a.score < b.score;
    return a.left > b.left;
  }
};

} // namespace

Result<Tokenizer> Tokenizer::fromPieces(std::vector<std::string> pieces,
                                        std::vector<float> scores,
                                        int32_t bosId, int32_t eosId,
                                        int32_t unknownId,
                                        const std::string &name) {
  if (pieces.empty())
    return makeError(name, ": the vocabulary has no tokens");
  if (pieces.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return makeError(name, ": ", pieces.size(),
                     " tokens do not fit int32 token ids");
  if (scores.size() != pieces.size())
    return makeError(name, ": ", pieces.size(), " tokens but ", scores.size(),
                     " scores");
  const int32_t count = static_cast<int32_t>(pieces.size());
  for (auto [what, id] : {std::pair<const char *, int32_t>{"BOS", bosId},
                          {"EOS", eosId},
                          {"unknown-token", unknownId}})
    if (id < 0 || id >= count)
      return makeError(name, ": the ", what, " id ", id, " is not in the ",
                       count, "-token vocabulary");

  Tokenizer tokenizer;
  tokenizer.pieces = std::move(pieces);
  tokenizer.scores = std::move(scores);
  tokenizer.bosId = bosId;
  tokenizer.eosId = eosId;
  tokenizer.unknownId = unknownId;
  tokenizer.ids.reserve(tokenizer.pieces.size());
  for (int32_t id = 0; id < count; ++id)
    tokenizer.ids.emplace(tokenizer.pieces[id], id);
  for (unsigned byte = 0; byte < 256; ++byte) {
    int32_t id = tokenizer.lookup(byteTokenText(byte));
    tokenizer.byteTokens[byte] = id >= 0 ? id : unknownId;
  }
  int32_t space = tokenizer.lookup(" ");
  tokenizer.spaceToken = space >= 0 ? space : unknownId;
  return tokenizer;
}

Result<Tokenizer> Tokenizer::load(const std::string &path,
                                  std::optional<uint32_t> vocabSize) {
  Result<std::shared_ptr<const MappedFile>> mapped = MappedFile::open(path);
  if (!mapped)
    return mapped.takeError();
  const MappedFile &file = **mapped;
  if (file.size() >= 4 && std::memcmp(file.data(), "GGUF", 4) == 0) {
    Result<GGUFFile> gguf = parseGGUF(file.data(), file.size(), path);
    if (!gguf)
      return gguf.takeError();
    return fromGGUF(*gguf, path, vocabSize);
  }
  Result<Llama2CTokenizer> llama2c =
      parseLlama2CTokenizer(file.data(), file.size(), path, vocabSize);
  if (!llama2c)
    return makeError(llama2c.error(),
                     " (a tokenizer is a llama2.c tokenizer .bin or a GGUF "
                     "with a vocabulary)");
  // run.c's fixed ids: 0 <unk>, 1 BOS, 2 EOS.
  return fromPieces(std::move(llama2c->tokens), std::move(llama2c->scores),
                    /*bosId=*/1, /*eosId=*/2, /*unknownId=*/0, path);
}

int32_t Tokenizer::lookup(const std::string &text) const {
  auto it = ids.find(text);
  return it == ids.end() ? -1 : it->second;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text,
                                       bool addBos) const {
  std::vector<int32_t> initial;
  if (addBos)
    initial.push_back(bosId);
  if (!text.empty())
    initial.push_back(spaceToken);
  std::string character;
  for (size_t start = 0; start < text.size();) {
    size_t length = 1;
    while (length < 4 && start + length < text.size() &&
           isContinuationByte(text[start + length]))
      ++length;
    character.assign(text.substr(start, length));
    if (int32_t id = lookup(character); id >= 0) {
      initial.push_back(id);
    } else {
      for (char byte : character)
        initial.push_back(byteTokens[static_cast<unsigned char>(byte)]);
    }
    start += length;
  }

  const int32_t count = static_cast<int32_t>(initial.size());
  std::vector<Symbol> symbols(initial.size());
  for (int32_t i = 0; i < count; ++i)
    symbols[i] = {initial[i], i - 1, i + 1 < count ? i + 1 : -1, 0};

  std::priority_queue<Candidate, std::vector<Candidate>, LowerPriority> queue;
  std::string pair;
  auto consider = [&](int32_t left) {
    int32_t right = left < 0 ? -1 : symbols[left].next;
    if (right < 0)
      return;
    pair = pieces[symbols[left].token];
    pair += pieces[symbols[right].token];
    int32_t merged = lookup(pair);
    if (merged >= 0 && scores[merged] > kMergeFloor)
      queue.push({scores[merged], left, right, merged, symbols[left].generation,
                  symbols[right].generation});
  };
  for (int32_t i = 0; i + 1 < count; ++i)
    consider(i);

  while (!queue.empty()) {
    Candidate best = queue.top();
    queue.pop();
    Symbol &left = symbols[best.left];
    Symbol &right = symbols[best.right];
    if (left.generation != best.leftGeneration ||
        right.generation != best.rightGeneration || left.next != best.right)
      continue;
    left.token = best.token;
    left.next = right.next;
    ++left.generation;
    ++right.generation;
    if (right.next >= 0)
      symbols[right.next].previous = best.left;
    consider(left.previous);
    consider(best.left);
  }

  // Symbol 0 is never absorbed (only right neighbours are), so the list
  // starts there.
  std::vector<int32_t> tokens;
  for (int32_t i = count > 0 ? 0 : -1; i >= 0; i = symbols[i].next)
    tokens.push_back(symbols[i].token);
  return tokens;
}

std::string Tokenizer::decode(int32_t previous, int32_t token) const {
  if (token < 0 || token >= size())
    return {};
  std::string_view piece = pieces[token];
  if (previous == bosId && !piece.empty() && piece.front() == ' ')
    piece.remove_prefix(1);
  if (std::optional<char> byte = parseByteToken(piece))
    return std::string(1, *byte);
  return std::string(piece);
}

const std::string &Tokenizer::getPiece(int32_t token) const {
  static const std::string kNone;
  return token >= 0 && token < size() ? pieces[token] : kNone;
}

float Tokenizer::getScore(int32_t token) const {
  return token >= 0 && token < size() ? scores[token]
                                      : std::numeric_limits<float>::quiet_NaN();
}

} // namespace quantc::io
