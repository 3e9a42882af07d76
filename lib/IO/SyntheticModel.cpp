//===- SyntheticModel.cpp - a deterministic Llama-shaped model ------------===//

#include "quantc/IO/SyntheticModel.h"

#include "Bytes.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace quantc::io {

//===----------------------------------------------------------------------===//
// The checkpoint
//===----------------------------------------------------------------------===//

namespace {

/// splitmix64 (Steele, Lea and Flood): a 64-bit state stepped by a constant
/// and scrambled; plain integer arithmetic, so the same on every machine.
class SplitMix64 {
public:
  explicit SplitMix64(uint64_t seed) : state(seed) {}

  uint64_t next() {
    state += 0x9e3779b97f4a7c15ull;
    return mix(state);
  }
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  /// An approximately standard normal deviate: the sum of twelve uniform
  /// 32-bit integers has mean 6 * (2^32 - 1) and standard deviation
  /// 2^32 (to 1 part in 2^64); centred and scaled by 2^-32 it is exact in a
  /// double. No libm call is involved.
  double nextNormal() {
    uint64_t sum = 0;
    for (int i = 0; i < 6; ++i) {
      uint64_t bits = next();
      sum += (bits >> 32) + (bits & 0xffffffffull);
    }
    int64_t centred =
        static_cast<int64_t>(sum) - static_cast<int64_t>(6 * 0xffffffffull);
    return static_cast<double>(centred) * 0x1p-32;
  }

private:
  uint64_t state;
};

constexpr uint64_t kHeaderBytes = 7 * sizeof(int32_t);

/// The llama2.c tensors in file order, with the std of their weights (0:
/// all ones, a norm).
struct Planned {
  const char *name;
  /// Matrices per tensor (the layer count for stacked ones, else 1).
  int64_t count;
  int64_t rows, columns;
  double std;
};

std::vector<Planned> planTensors(const Llama2CConfig &c) {
  const int64_t L = c.layers, D = c.dim, H = c.hiddenDim, V = c.vocabSize,
                KV = c.getKVDim();
  const double embedding = 1.0 / std::sqrt(static_cast<double>(D));
  const double readD = 1.0 / std::sqrt(static_cast<double>(D));
  const double writeD = 1.0 / std::sqrt(static_cast<double>(D) * 2.0 * L);
  const double writeH = 1.0 / std::sqrt(static_cast<double>(H) * 2.0 * L);
  std::vector<Planned> planned = {
      {"token_embedding_table", 1, V, D, embedding},
      {"rms_att_weight", L, 1, D, 0.0},
      {"wq", L, D, D, readD},
      {"wk", L, KV, D, readD},
      {"wv", L, KV, D, readD},
      {"wo", L, D, D, writeD},
      {"rms_ffn_weight", L, 1, D, 0.0},
      {"w1", L, H, D, readD},
      {"w2", L, D, H, writeH},
      {"w3", L, H, D, readD},
      {"rms_final_weight", 1, 1, D, 0.0},
  };
  return planned;
}

/// Writes `count` floats from `generate` in chunks.
template <typename Generate>
Status writeFloats(OutputStream &out, uint64_t count, Generate generate) {
  constexpr uint64_t kChunk = 16384;
  std::vector<float> buffer(static_cast<size_t>(std::min(count, kChunk)));
  for (uint64_t done = 0; done < count;) {
    size_t n = static_cast<size_t>(std::min(count - done, kChunk));
    for (size_t i = 0; i < n; ++i)
      buffer[i] = generate();
    if (Status status = out.write(buffer.data(), n * sizeof(float)); !status)
      return status;
    done += n;
  }
  return Status::success();
}

/// One generator per tensor, so that a tensor's weights depend on the seed,
/// its place in the file and the shapes before it only through its index.
SplitMix64 streamFor(uint64_t seed, uint64_t index) {
  return SplitMix64(
      SplitMix64::mix(seed ^ SplitMix64::mix(0x51d3a0f1ull + index)));
}

} // namespace

Result<Llama2CConfig> getSyntheticModelConfig(const SyntheticModelOptions &o) {
  const std::pair<const char *, int32_t> fields[] = {
      {"dim", o.dim},
      {"hidden dim", o.hiddenDim},
      {"layers", o.layers},
      {"heads", o.heads},
      {"KV heads", o.kvHeads},
      {"vocabulary size", o.vocabSize},
      {"sequence length", o.seqLen}};
  for (const auto &[what, value] : fields)
    if (value < 1)
      return makeError("the synthetic model's ", what, " is ", value,
                       "; it must be positive");
  if (o.dim % o.heads != 0)
    return makeError("the synthetic model's ", o.heads,
                     " heads do not divide dim ", o.dim);
  if (o.heads % o.kvHeads != 0)
    return makeError("the synthetic model's ", o.kvHeads,
                     " KV heads do not divide ", o.heads, " heads");
  if ((o.dim / o.heads) % 2 != 0)
    return makeError("the synthetic model's head size ", o.dim / o.heads,
                     " (dim / heads) is odd; RoPE rotates pairs");
  Llama2CConfig c;
  c.dim = o.dim;
  c.hiddenDim = o.hiddenDim;
  c.layers = o.layers;
  c.heads = o.heads;
  c.kvHeads = o.kvHeads;
  c.vocabSize = o.vocabSize;
  c.seqLen = o.seqLen;
  c.sharedClassifier = o.sharedClassifier;
  // Every count below is a product of two or three int32 values: at most
  // 2^93 would overflow, so check the total in long double first.
  long double floats = static_cast<long double>(c.seqLen) * c.getHeadSize();
  for (const Planned &p : planTensors(c))
    floats += static_cast<long double>(p.count) * p.rows * p.columns;
  if (!c.sharedClassifier)
    floats += static_cast<long double>(c.vocabSize) * c.dim;
  if (floats * sizeof(float) + kHeaderBytes > 0x1p62L)
    return makeError("the synthetic model would take more than 2^62 bytes");
  return c;
}

uint64_t getSyntheticModelByteSize(const SyntheticModelOptions &options) {
  Result<Llama2CConfig> config = getSyntheticModelConfig(options);
  if (!config)
    return 0;
  const Llama2CConfig &c = *config;
  uint64_t floats =
      static_cast<uint64_t>(c.seqLen) * static_cast<uint64_t>(c.getHeadSize());
  for (const Planned &p : planTensors(c))
    floats += static_cast<uint64_t>(p.count * p.rows) *
              static_cast<uint64_t>(p.columns);
  if (!c.sharedClassifier)
    floats += static_cast<uint64_t>(c.vocabSize) * static_cast<uint64_t>(c.dim);
  return kHeaderBytes + floats * sizeof(float);
}

Status writeSyntheticModel(const SyntheticModelOptions &options,
                           OutputStream &out) {
  Result<Llama2CConfig> config = getSyntheticModelConfig(options);
  if (!config)
    return config.takeError();
  const Llama2CConfig &c = *config;
  int32_t header[7] = {
      c.dim,   c.hiddenDim, c.layers,
      c.heads, c.kvHeads,   c.sharedClassifier ? c.vocabSize : -c.vocabSize,
      c.seqLen};
  if (Status status = out.write(header, sizeof(header)); !status)
    return status;

  auto writeTensor = [&](uint64_t index, uint64_t count, double std) -> Status {
    if (std == 0.0)
      return writeFloats(out, count, [] { return 1.0f; });
    SplitMix64 random = streamFor(options.seed, index);
    return writeFloats(out, count, [&] {
      return static_cast<float>(random.nextNormal() * std);
    });
  };
  std::vector<Planned> planned = planTensors(c);
  for (size_t i = 0; i < planned.size(); ++i) {
    const Planned &p = planned[i];
    uint64_t count = static_cast<uint64_t>(p.count * p.rows) *
                     static_cast<uint64_t>(p.columns);
    if (Status status = writeTensor(i, count, p.std); !status)
      return status;
  }
  // The legacy format's two RoPE tables, seq_len * head_size / 2 each.
  uint64_t ropeBytes = static_cast<uint64_t>(c.seqLen) *
                       static_cast<uint64_t>(c.getHeadSize()) * sizeof(float);
  while (ropeBytes != 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(ropeBytes, 1u << 20));
    if (Status status = out.writeZeros(n); !status)
      return status;
    ropeBytes -= n;
  }
  if (!c.sharedClassifier)
    if (Status status = writeTensor(
            planned.size(),
            static_cast<uint64_t>(c.vocabSize) * static_cast<uint64_t>(c.dim),
            1.0 / std::sqrt(static_cast<double>(c.dim)));
        !status)
      return status;
  return Status::success();
}

Status writeSyntheticModelFile(const SyntheticModelOptions &options,
                               const std::string &path) {
  if (Result<Llama2CConfig> config = getSyntheticModelConfig(options); !config)
    return config.takeError();
  Result<std::unique_ptr<AtomicFileOutputStream>> out =
      AtomicFileOutputStream::create(path);
  if (!out)
    return out.takeError();
  if (Status status = writeSyntheticModel(options, **out); !status)
    return status;
  return (*out)->commit();
}

//===----------------------------------------------------------------------===//
// The tokenizer
//===----------------------------------------------------------------------===//

namespace {

/// The byte-pair trainer's text: plain English in the register of the
/// stories small Llamas are trained on, written for quantc.
const char kSampleText[] =
    "Once upon a time there was a little girl who lived in a small house "
    "near the woods. She liked to play outside with her dog, and every "
    "morning they walked to the river to look at the fish. One day the girl "
    "found a shiny stone on the path. She picked it up and showed it to her "
    "mother. \"What a pretty stone,\" her mother said. \"Where did you find "
    "it?\" The girl pointed at the path and smiled. They put the stone on "
    "the table in the kitchen, and the girl looked at it every day.\n"
    "The next morning the dog was not in the garden. The girl was sad and "
    "she called his name again and again. She looked under the bed, behind "
    "the door and near the big tree, but she could not find him. Then she "
    "heard a happy bark from the woods. The dog was playing with a little "
    "bird that had lost its way. The girl laughed and they all walked home "
    "together. Her father made warm soup for dinner, and the bird sat on "
    "the window and sang a song.\n"
    "In the evening the family sat by the fire. The father told a story "
    "about a boy who wanted to fly like the birds. The boy built wings from "
    "sticks and leaves, and he jumped from a hill, but he fell into the "
    "soft grass. He was not hurt, and he learned that some things take "
    "time. The girl asked if she could have wings too. Her mother said that "
    "she could learn many things if she was patient and kind to her "
    "friends. Then they went to bed, and the little dog slept at the end of "
    "the bed.\n"
    "When the sun came up, the girl and her friend Tom went to the park. "
    "They played on the swings and ran around the trees. Tom had a red "
    "ball, and they threw it high into the sky. The ball landed in a "
    "puddle, and they both got wet and muddy. They laughed and went home "
    "to wash. Mom gave them cookies and milk, and they were very happy. "
    "That night the girl thought about the stone, the bird, the ball and "
    "her good friend, and she fell asleep with a smile.\n";

/// The text's pieces and how often each occurs: a word (a run of letters)
/// with the space before it, if any, or any other single character. Line
/// breaks count as spaces.
std::map<std::string, int64_t> countWords(const std::string &text) {
  // run.c puts a space before every text it encodes.
  std::string source = " " + text;
  std::replace(source.begin(), source.end(), '\n', ' ');
  auto isLetter = [&](size_t i) {
    char c = i < source.size() ? source[i] : '\0';
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  std::map<std::string, int64_t> words;
  for (size_t i = 0; i < source.size();) {
    size_t start = i;
    if (source[i] == ' ' && isLetter(i + 1))
      ++i;
    if (!isLetter(i)) {
      ++words[source.substr(start, 1)];
      ++i;
      continue;
    }
    while (isLetter(i))
      ++i;
    ++words[source.substr(start, i - start)];
  }
  return words;
}

/// Merges in the order a byte-pair trainer finds them: most frequent
/// adjacent pair first, ties to the smaller concatenation; at most `limit`.
std::vector<std::string>
trainMerges(const std::map<std::string, int64_t> &words, size_t limit) {
  std::vector<std::pair<std::vector<std::string>, int64_t>> pieces;
  for (const auto &[word, count] : words) {
    std::vector<std::string> symbols;
    for (char c : word)
      symbols.push_back(std::string(1, c));
    pieces.push_back({std::move(symbols), count});
  }
  std::vector<std::string> merges;
  std::set<std::string> known;
  while (merges.size() < limit) {
    std::map<std::pair<std::string, std::string>, int64_t> pairs;
    for (const auto &[symbols, count] : pieces)
      for (size_t i = 0; i + 1 < symbols.size(); ++i)
        pairs[{symbols[i], symbols[i + 1]}] += count;
    if (pairs.empty())
      break;
    const std::pair<std::string, std::string> *best = nullptr;
    int64_t bestCount = 0;
    for (const auto &[pair, count] : pairs) {
      if (best && count < bestCount)
        continue;
      if (best && count == bestCount &&
          pair.first + pair.second >= best->first + best->second)
        continue;
      best = &pair;
      bestCount = count;
    }
    std::string merged = best->first + best->second;
    for (auto &[symbols, count] : pieces) {
      std::vector<std::string> next;
      for (size_t i = 0; i < symbols.size(); ++i) {
        if (i + 1 < symbols.size() && symbols[i] == best->first &&
            symbols[i + 1] == best->second) {
          next.push_back(merged);
          ++i;
        } else {
          next.push_back(symbols[i]);
        }
      }
      symbols = std::move(next);
    }
    // The same string can come from two different splits; it is one token.
    if (known.insert(merged).second)
      merges.push_back(merged);
  }
  return merges;
}

} // namespace

Result<Llama2CTokenizer> makeSyntheticTokenizer(int32_t vocabSize) {
  if (vocabSize < kMinSyntheticVocabSize)
    return makeError("a tokenizer needs at least ", kMinSyntheticVocabSize,
                     " tokens (3 special tokens and 256 byte tokens), not ",
                     vocabSize);
  if (vocabSize > kMaxSyntheticVocabSize)
    return makeError("a synthetic tokenizer has at most ",
                     kMaxSyntheticVocabSize, " tokens, not ", vocabSize);
  Llama2CTokenizer tokenizer;
  auto add = [&](std::string text, float score) {
    tokenizer.tokens.push_back(std::move(text));
    tokenizer.scores.push_back(score);
  };
  add("<unk>", 0.0f);
  add("\n<s>\n", 0.0f);
  add("\n</s>\n", 0.0f);
  for (int byte = 0; byte < 256; ++byte) {
    char text[8];
    std::snprintf(text, sizeof(text), "<0x%02X>", byte);
    add(text, 0.0f);
  }

  // Printable ASCII, most frequent in the text first.
  std::map<std::string, int64_t> words = countWords(kSampleText);
  std::array<int64_t, 128> frequency{};
  for (const auto &[word, count] : words)
    for (char c : word)
      frequency[static_cast<unsigned char>(c) & 127] += count;
  std::vector<char> characters;
  for (char c = ' '; c <= '~'; ++c)
    characters.push_back(c);
  std::sort(characters.begin(), characters.end(), [&](char a, char b) {
    int64_t fa = frequency[static_cast<size_t>(a)],
            fb = frequency[static_cast<size_t>(b)];
    return fa != fb ? fa > fb : a < b;
  });
  size_t room = static_cast<size_t>(vocabSize) - tokenizer.tokens.size();
  if (characters.size() > room)
    characters.resize(room);
  room -= characters.size();

  std::vector<std::string> merges = trainMerges(words, room);
  float rank = 0.0f;
  for (const std::string &merge : merges) {
    add(merge, -rank);
    rank += 1.0f;
  }
  for (char c : characters) {
    add(std::string(1, c), -rank);
    rank += 1.0f;
  }
  for (size_t i = 0; tokenizer.tokens.size() < static_cast<size_t>(vocabSize);
       ++i) {
    add("<unused_" + std::to_string(i) + ">", -rank);
    rank += 1.0f;
  }
  for (const std::string &token : tokenizer.tokens)
    tokenizer.maxTokenLength =
        std::max(tokenizer.maxTokenLength, static_cast<int32_t>(token.size()));
  return tokenizer;
}

Status writeLlama2CTokenizer(const Llama2CTokenizer &tokenizer,
                             OutputStream &out) {
  if (tokenizer.tokens.size() != tokenizer.scores.size())
    return makeError("a tokenizer of ", tokenizer.tokens.size(), " tokens has ",
                     tokenizer.scores.size(), " scores");
  if (Status status = out.write(&tokenizer.maxTokenLength, sizeof(int32_t));
      !status)
    return status;
  for (size_t i = 0; i < tokenizer.tokens.size(); ++i) {
    const std::string &token = tokenizer.tokens[i];
    if (token.size() > static_cast<size_t>(tokenizer.maxTokenLength))
      return makeError("token ", i, " has ", token.size(),
                       " bytes; max_token_length is ",
                       tokenizer.maxTokenLength);
    int32_t length = static_cast<int32_t>(token.size());
    if (Status status = out.write(&tokenizer.scores[i], sizeof(float)); !status)
      return status;
    if (Status status = out.write(&length, sizeof(length)); !status)
      return status;
    if (Status status = out.write(token.data(), token.size()); !status)
      return status;
  }
  return Status::success();
}

Status writeSyntheticTokenizerFile(int32_t vocabSize, const std::string &path) {
  Result<Llama2CTokenizer> tokenizer = makeSyntheticTokenizer(vocabSize);
  if (!tokenizer)
    return tokenizer.takeError();
  Result<std::unique_ptr<AtomicFileOutputStream>> out =
      AtomicFileOutputStream::create(path);
  if (!out)
    return out.takeError();
  if (Status status = writeLlama2CTokenizer(*tokenizer, **out); !status)
    return status;
  return (*out)->commit();
}

} // namespace quantc::io
