//===- SyntheticModelTest.cpp - the deterministic synthetic Llama ---------===//

#include "IOTesting.h"

#include "quantc/IO/Llama2C.h"
#include "quantc/IO/LlamaSpec.h"
#include "quantc/IO/SyntheticModel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

using namespace quantc;
using namespace quantc::io;
using namespace quantc::test;

namespace {

std::vector<uint8_t> modelBytes(const SyntheticModelOptions &options) {
  MemoryOutputStream out;
  Status status = writeSyntheticModel(options, out);
  EXPECT_TRUE(status.ok()) << (status ? "" : status.error());
  return out.bytes();
}

uint64_t fnv1a(const std::vector<uint8_t> &bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (uint8_t byte : bytes)
    hash = (hash ^ byte) * 0x100000001b3ull;
  return hash;
}

struct Moments {
  double mean = 0, std = 0, maxAbs = 0;
};

Moments momentsOf(const Llama2CTensor &tensor) {
  uint64_t n = tensor.getElementCount();
  std::vector<float> values(n);
  std::memcpy(values.data(), tensor.data, n * sizeof(float));
  Moments m;
  for (float v : values) {
    m.mean += v;
    m.maxAbs = std::max(m.maxAbs, static_cast<double>(std::fabs(v)));
  }
  m.mean /= static_cast<double>(n);
  for (float v : values)
    m.std += (v - m.mean) * (v - m.mean);
  m.std = std::sqrt(m.std / static_cast<double>(n));
  return m;
}

TEST(SyntheticModel, WritesACheckpointQuantcReads) {
  SyntheticModelOptions options;
  std::vector<uint8_t> bytes = modelBytes(options);
  EXPECT_EQ(bytes.size(), getSyntheticModelByteSize(options));
  Result<Llama2CCheckpoint> checkpoint =
      parseLlama2C(bytes.data(), bytes.size(), "synthetic");
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.error();
  const Llama2CConfig &c = checkpoint->config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hiddenDim, 172);
  EXPECT_EQ(c.layers, 2);
  EXPECT_EQ(c.heads, 8);
  EXPECT_EQ(c.kvHeads, 4);
  EXPECT_EQ(c.vocabSize, 512);
  EXPECT_EQ(c.seqLen, 256);
  EXPECT_TRUE(c.sharedClassifier);

  // Norms are ones; matrices are centred with the documented scales.
  for (const char *norm :
       {"rms_att_weight", "rms_ffn_weight", "rms_final_weight"}) {
    Moments m = momentsOf(*checkpoint->find(norm));
    EXPECT_EQ(m.mean, 1.0) << norm;
    EXPECT_EQ(m.std, 0.0) << norm;
  }
  const std::pair<const char *, double> scales[] = {
      {"token_embedding_table", 1 / std::sqrt(64.0)},
      {"wq", 1 / std::sqrt(64.0)},
      {"wk", 1 / std::sqrt(64.0)},
      {"wv", 1 / std::sqrt(64.0)},
      {"wo", 1 / std::sqrt(64.0 * 4)},
      {"w1", 1 / std::sqrt(64.0)},
      {"w2", 1 / std::sqrt(172.0 * 4)},
      {"w3", 1 / std::sqrt(64.0)},
  };
  for (const auto &[name, std] : scales) {
    Moments m = momentsOf(*checkpoint->find(name));
    EXPECT_NEAR(m.std, std, 0.05 * std) << name;
    EXPECT_NEAR(m.mean, 0.0, 0.05 * std) << name;
    EXPECT_LE(m.maxAbs, 6 * std) << name;
    EXPECT_GE(m.maxAbs, 3 * std) << name;
  }
  // Distinct tensors are not copies of one stream.
  const Llama2CTensor &wk = *checkpoint->find("wk"),
                      &wv = *checkpoint->find("wv");
  EXPECT_NE(std::memcmp(wk.data, wv.data, 64), 0);
}

TEST(SyntheticModel, IsTheSameOnEveryMachine) {
  SyntheticModelOptions options;
  std::vector<uint8_t> bytes = modelBytes(options);
  EXPECT_EQ(bytes, modelBytes(options));
  // Pinned: a change here changes every synthetic model ever written.
  EXPECT_EQ(fnv1a(bytes), 0xa8384ec230d78cefull) << std::hex << fnv1a(bytes);
  uint32_t first;
  std::memcpy(&first, bytes.data() + 28, sizeof(first));
  EXPECT_EQ(first, 0xbe0fb680u) << std::hex << first; // -0.140344619...

  SyntheticModelOptions other = options;
  other.seed = 1;
  EXPECT_NE(bytes, modelBytes(other));
}

TEST(SyntheticModel, WritesASeparateClassifier) {
  TempDir dir;
  SyntheticModelOptions options;
  options.dim = 32;
  options.hiddenDim = 48;
  options.layers = 3;
  options.heads = 2;
  options.kvHeads = 1;
  options.vocabSize = 100;
  options.seqLen = 8;
  options.sharedClassifier = false;
  options.seed = 7;
  ASSERT_TRUE(writeSyntheticModelFile(options, dir.file("m.bin")).ok());
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.bin"});
  Result<Llama2CCheckpoint> checkpoint = readLlama2C(dir.file("m.bin"));
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.error();
  EXPECT_FALSE(checkpoint->config.sharedClassifier);
  EXPECT_EQ(checkpoint->config.vocabSize, 100);
  EXPECT_EQ(checkpoint->mapping->size(), getSyntheticModelByteSize(options));
  const Llama2CTensor *wcls = checkpoint->find("wcls");
  ASSERT_NE(wcls, nullptr);
  Moments m = momentsOf(*wcls);
  EXPECT_NEAR(m.std, 1 / std::sqrt(32.0), 0.1 / std::sqrt(32.0));
  EXPECT_NE(std::memcmp(wcls->data,
                        checkpoint->find("token_embedding_table")->data, 128),
            0);

  Result<LlamaSpec> spec = loadLlamaSpec(dir.file("m.bin"));
  ASSERT_TRUE(spec.ok()) << spec.error();
  EXPECT_FALSE(spec->sharedClassifier);
  EXPECT_EQ(spec->config.kvHeads, 1);
  EXPECT_EQ(spec->output.shape, (std::vector<int64_t>{100, 32}));
}

TEST(SyntheticModel, RefusesImpossibleShapes) {
  auto error = [](void (*edit)(SyntheticModelOptions &)) {
    SyntheticModelOptions options;
    edit(options);
    Result<Llama2CConfig> config = getSyntheticModelConfig(options);
    EXPECT_FALSE(config.ok());
    MemoryOutputStream out;
    EXPECT_FALSE(writeSyntheticModel(options, out).ok());
    EXPECT_EQ(out.tell(), 0u);
    return config ? "" : config.error();
  };
  EXPECT_EQ(error([](SyntheticModelOptions &o) { o.dim = 0; }),
            "the synthetic model's dim is 0; it must be positive");
  EXPECT_EQ(error([](SyntheticModelOptions &o) { o.heads = 7; }),
            "the synthetic model's 7 heads do not divide dim 64");
  EXPECT_EQ(error([](SyntheticModelOptions &o) { o.kvHeads = 3; }),
            "the synthetic model's 3 KV heads do not divide 8 heads");
  EXPECT_EQ(error([](SyntheticModelOptions &o) { o.heads = 64; }),
            "the synthetic model's head size 1 (dim / heads) is odd; RoPE "
            "rotates pairs");
  EXPECT_EQ(error([](SyntheticModelOptions &o) {
              o.dim = o.hiddenDim = o.layers = o.vocabSize = 0x7ffffffe;
              o.heads = o.kvHeads = 1;
            }),
            "the synthetic model would take more than 2^62 bytes");
}

//===----------------------------------------------------------------------===//
// The tokenizer
//===----------------------------------------------------------------------===//

/// run.c's encode(): a leading space, each UTF-8 character as a token (or
/// its bytes + 3), then the best-scoring adjacent merge, repeatedly.
std::vector<int> encode(const Llama2CTokenizer &tokenizer,
                        const std::string &text) {
  std::map<std::string, int> ids;
  for (size_t i = 0; i < tokenizer.tokens.size(); ++i)
    ids.emplace(tokenizer.tokens[i], static_cast<int>(i));
  std::vector<int> tokens;
  std::string source = " " + text;
  for (size_t i = 0; i < source.size();) {
    size_t length = 1;
    while (i + length < source.size() &&
           (static_cast<unsigned char>(source[i + length]) & 0xc0) == 0x80)
      ++length;
    auto it = ids.find(source.substr(i, length));
    if (it != ids.end()) {
      tokens.push_back(it->second);
    } else {
      for (size_t j = 0; j < length; ++j)
        tokens.push_back(static_cast<unsigned char>(source[i + j]) + 3);
    }
    i += length;
  }
  for (;;) {
    float best = -1e10f;
    int bestId = -1;
    size_t bestAt = 0;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      auto it = ids.find(tokenizer.tokens[tokens[i]] +
                         tokenizer.tokens[tokens[i + 1]]);
      if (it != ids.end() && tokenizer.scores[it->second] > best) {
        best = tokenizer.scores[it->second];
        bestId = it->second;
        bestAt = i;
      }
    }
    if (bestId < 0)
      break;
    tokens[bestAt] = bestId;
    tokens.erase(tokens.begin() + static_cast<std::ptrdiff_t>(bestAt) + 1);
  }
  return tokens;
}

std::string decode(const Llama2CTokenizer &tokenizer,
                   const std::vector<int> &tokens) {
  std::string text;
  for (int id : tokens) {
    const std::string &piece = tokenizer.tokens[id];
    unsigned byte;
    if (piece.size() == 6 && std::sscanf(piece.c_str(), "<0x%02X>", &byte) == 1)
      text += static_cast<char>(byte);
    else
      text += piece;
  }
  return text;
}

Llama2CTokenizer tokenizerOf(int32_t vocab) {
  Result<Llama2CTokenizer> tokenizer = makeSyntheticTokenizer(vocab);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.error();
  return *tokenizer;
}

TEST(SyntheticTokenizer, FollowsTok512sConventions) {
  TempDir dir;
  ASSERT_TRUE(writeSyntheticTokenizerFile(512, dir.file("t.bin")).ok());
  Result<Llama2CTokenizer> read = readLlama2CTokenizer(dir.file("t.bin"), 512);
  ASSERT_TRUE(read.ok()) << read.error();
  Llama2CTokenizer made = tokenizerOf(512);
  EXPECT_EQ(read->tokens, made.tokens);
  EXPECT_EQ(read->scores, made.scores);
  EXPECT_EQ(read->maxTokenLength, made.maxTokenLength);

  EXPECT_EQ(made.tokens[0], "<unk>");
  EXPECT_EQ(made.tokens[1], "\n<s>\n");
  EXPECT_EQ(made.tokens[2], "\n</s>\n");
  EXPECT_EQ(made.tokens[3], "<0x00>");
  EXPECT_EQ(made.tokens[3 + 0x0a], "<0x0A>");
  EXPECT_EQ(made.tokens[258], "<0xFF>");
  for (int id = 0; id < 259; ++id)
    EXPECT_EQ(made.scores[id], 0.0f) << id;
  // Merges, best first, then every printable character.
  for (size_t id = 260; id < made.tokens.size(); ++id)
    EXPECT_EQ(made.scores[id], made.scores[id - 1] - 1.0f) << id;
  std::set<std::string> unique(made.tokens.begin(), made.tokens.end());
  EXPECT_EQ(unique.size(), made.tokens.size());
  for (char c = ' '; c <= '~'; ++c)
    EXPECT_TRUE(unique.count(std::string(1, c))) << c;
  EXPECT_TRUE(unique.count(" the"));
  int32_t longest = 0;
  for (const std::string &token : made.tokens)
    longest = std::max(longest, static_cast<int32_t>(token.size()));
  EXPECT_EQ(made.maxTokenLength, longest);
}

TEST(SyntheticTokenizer, MatchesTok512sSpecialAndByteTokens) {
  QUANTC_REQUIRE_MODEL(tok512, "tok512.bin");
  Llama2CTokenizer made = tokenizerOf(512);
  Result<Llama2CTokenizer> real = readLlama2CTokenizer(tok512.string(), 512);
  ASSERT_TRUE(real.ok()) << real.error();
  for (int id = 0; id < 259; ++id) {
    EXPECT_EQ(made.tokens[id], real->tokens[id]) << id;
    EXPECT_EQ(made.scores[id], real->scores[id]) << id;
  }
  // Both start their merges at score -0 and count down.
  EXPECT_EQ(made.scores[259], real->scores[259]);
  EXPECT_EQ(made.scores[300], real->scores[300]);
}

TEST(SyntheticTokenizer, MergesWhatRunCEncodes) {
  Llama2CTokenizer tokenizer = tokenizerOf(512);
  std::string text = "Once upon a time there was a little girl. She played "
                     "with her dog in the park, and they were happy!";
  std::vector<int> tokens = encode(tokenizer, text);
  EXPECT_EQ(decode(tokenizer, tokens), " " + text);
  EXPECT_LT(tokens.size(), text.size() / 2);
  // Characters outside the vocabulary fall back to bytes.
  std::string other = "caf\xc3\xa9\n~";
  tokens = encode(tokenizer, other);
  EXPECT_EQ(decode(tokenizer, tokens), " " + other);
  EXPECT_NE(std::find(tokens.begin(), tokens.end(), 0xc3 + 3), tokens.end());
  EXPECT_NE(std::find(tokens.begin(), tokens.end(), '\n' + 3), tokens.end());
}

TEST(SyntheticTokenizer, FitsAnyVocabularySize) {
  // Only the special and byte tokens.
  Llama2CTokenizer smallest = tokenizerOf(259);
  EXPECT_EQ(smallest.tokens.size(), 259u);
  EXPECT_EQ(smallest.maxTokenLength, 6);
  // Room for some characters only: the most frequent, space first.
  Llama2CTokenizer few = tokenizerOf(270);
  EXPECT_EQ(few.tokens[259], " ");
  EXPECT_EQ(few.tokens[260], "e");
  std::string text = "the tea";
  EXPECT_EQ(decode(few, encode(few, text)), " " + text);
  // More than the text can fill: unreachable placeholders.
  Llama2CTokenizer large = tokenizerOf(5000);
  EXPECT_EQ(large.tokens.size(), 5000u);
  EXPECT_EQ(large.tokens.back().rfind("<unused_", 0), 0u);
  std::set<std::string> unique(large.tokens.begin(), large.tokens.end());
  EXPECT_EQ(unique.size(), large.tokens.size());
  // The first tokens do not depend on the size.
  Llama2CTokenizer standard = tokenizerOf(512);
  std::vector<int> a = encode(standard, "the little bird"),
                   b = encode(large, "the little bird");
  EXPECT_EQ(decode(standard, a), decode(large, b));

  Result<Llama2CTokenizer> tooSmall = makeSyntheticTokenizer(258);
  ASSERT_FALSE(tooSmall.ok());
  EXPECT_EQ(tooSmall.error(), "a tokenizer needs at least 259 tokens (3 "
                              "special tokens and 256 byte tokens), not 258");
  EXPECT_FALSE(makeSyntheticTokenizer(kMaxSyntheticVocabSize + 1).ok());
}

TEST(SyntheticModel, LoadsAsALlamaSpecWithItsTokenizer) {
  TempDir dir;
  SyntheticModelOptions options;
  options.seed = 42;
  ASSERT_TRUE(writeSyntheticModelFile(options, dir.file("m.bin")).ok());
  ASSERT_TRUE(writeSyntheticTokenizerFile(512, dir.file("t.bin")).ok());
  Result<LlamaSpec> spec = loadLlamaSpec(dir.file("m.bin"), dir.file("t.bin"));
  ASSERT_TRUE(spec.ok()) << spec.error();
  EXPECT_EQ(spec->config.dim, 64);
  EXPECT_EQ(spec->config.layers, 2);
  EXPECT_EQ(spec->config.contextLength, 256);
  EXPECT_TRUE(spec->sharedClassifier);
  EXPECT_EQ(spec->tokenizerPath,
            std::filesystem::canonical(dir.file("t.bin")).string());
  EXPECT_EQ(spec->getWeights().size(), 1u + 2 * 9 + 1);
}

} // namespace
