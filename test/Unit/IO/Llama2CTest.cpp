//===- Llama2CTest.cpp - llama2.c checkpoints and tokenizers --------------===//

#include "IOTesting.h"

#include "quantc/IO/Llama2C.h"

#include <gtest/gtest.h>

using namespace quantc;
using namespace quantc::io;
using namespace quantc::test;

namespace {

float floatAt(const uint8_t *data, uint64_t index) {
  float value;
  std::memcpy(&value, data + index * sizeof(float), sizeof(float));
  return value;
}

/// A checkpoint whose float i holds the value i.
std::vector<uint8_t> tinyCheckpoint(int32_t vocab, size_t floats) {
  ByteBuilder b;
  b.i32(4).i32(6).i32(2).i32(2).i32(1).i32(vocab).i32(3);
  for (size_t i = 0; i < floats; ++i)
    b.f32(static_cast<float>(i));
  return b.bytes;
}
// dim 4, hidden 6, 2 layers, 2 heads, 1 KV head (kv_dim 2), vocab 5, seq 3:
// 20 + 8 + 32 + 16 + 16 + 32 + 8 + 48 + 48 + 48 + 4 + RoPE 3 * 2 = 286.
constexpr size_t kTinyFloats = 286;

TEST(Llama2C, ReadsTensorsInRunCsOrder) {
  std::vector<uint8_t> bytes = tinyCheckpoint(5, kTinyFloats);
  Result<Llama2CCheckpoint> ckpt =
      parseLlama2C(bytes.data(), bytes.size(), "t");
  ASSERT_TRUE(ckpt.ok()) << ckpt.error();
  EXPECT_TRUE(ckpt->config.sharedClassifier);
  EXPECT_EQ(ckpt->config.getKVDim(), 2);
  ASSERT_EQ(ckpt->tensors.size(), 11u);
  EXPECT_EQ(ckpt->find("wk")->shape, (std::vector<int64_t>{2, 2, 4}));
  EXPECT_EQ(ckpt->find("w2")->shape, (std::vector<int64_t>{2, 4, 6}));
  EXPECT_EQ(floatAt(ckpt->find("token_embedding_table")->data, 0), 0.0f);
  EXPECT_EQ(floatAt(ckpt->find("wq")->data, 0), 28.0f);
  EXPECT_EQ(floatAt(ckpt->find("rms_final_weight")->data, 3), 279.0f);
  EXPECT_EQ(ckpt->find("wcls"), nullptr);
}

TEST(Llama2C, ReadsAnUnsharedClassifierAfterTheRopeTables) {
  std::vector<uint8_t> bytes = tinyCheckpoint(-5, kTinyFloats + 20);
  Result<Llama2CCheckpoint> ckpt =
      parseLlama2C(bytes.data(), bytes.size(), "t");
  ASSERT_TRUE(ckpt.ok()) << ckpt.error();
  EXPECT_FALSE(ckpt->config.sharedClassifier);
  EXPECT_EQ(ckpt->config.vocabSize, 5);
  const Llama2CTensor *wcls = ckpt->find("wcls");
  ASSERT_NE(wcls, nullptr);
  EXPECT_EQ(wcls->shape, (std::vector<int64_t>{5, 4}));
  EXPECT_EQ(floatAt(wcls->data, 0), static_cast<float>(kTinyFloats));
}

TEST(Llama2C, EveryTruncationAndExtensionIsAnError) {
  std::vector<uint8_t> bytes = tinyCheckpoint(5, kTinyFloats);
  for (size_t size = 0; size < bytes.size(); ++size) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + size);
    EXPECT_FALSE(parseLlama2C(prefix.data(), prefix.size(), "cut").ok())
        << "accepted a file cut at byte " << size;
  }
  bytes.push_back(0);
  Result<Llama2CCheckpoint> longer =
      parseLlama2C(bytes.data(), bytes.size(), "long.bin");
  ASSERT_FALSE(longer.ok());
  EXPECT_EQ(longer.error(),
            "long.bin: llama2.c checkpoint size mismatch: the header (dim 4, "
            "hidden_dim 6, n_layers 2, n_heads 2, n_kv_heads 1, vocab_size 5, "
            "seq_len 3) implies 1172 bytes but the file has 1173");
}

TEST(Llama2C, RefusesImpossibleHeaders) {
  struct Case {
    std::vector<int32_t> header;
    const char *error;
  } cases[] = {
      {{0, 6, 2, 2, 1, 5, 3}, "header field dim = 0 must be positive"},
      {{4, -6, 2, 2, 1, 5, 3}, "header field hidden_dim = -6 must be positive"},
      {{4, 6, 2, 2, 1, 0, 3}, "header field vocab_size = 0 must be non-zero"},
      {{4, 6, 2, 2, 1, INT32_MIN, 3}, "vocab_size = -2147483648"},
      {{4, 6, 2, 3, 1, 5, 3}, "n_heads 3 does not divide dim 4"},
      {{8, 6, 2, 4, 3, 5, 3}, "n_kv_heads 3 does not divide n_heads 4"},
      {{6, 6, 2, 2, 1, 5, 3}, "head size 3 is odd"},
      {{1 << 30, INT32_MAX, INT32_MAX, 2, 1, INT32_MAX, INT32_MAX},
       "implies more than 2^64 bytes"},
      {{0x616b3432, 1, 0, 0, 0, 0, 0},
       "a llama2.c export.py version 1 file (magic 'ak42')"},
  };
  for (const Case &c : cases) {
    ByteBuilder b;
    for (int32_t field : c.header)
      b.i32(field);
    b.zeros(64);
    Result<Llama2CCheckpoint> ckpt =
        parseLlama2C(b.bytes.data(), b.size(), "h");
    ASSERT_FALSE(ckpt.ok()) << c.error;
    EXPECT_NE(ckpt.error().find(c.error), std::string::npos) << ckpt.error();
  }
}

TEST(Llama2C, ReadsStories260K) {
  QUANTC_REQUIRE_MODEL(path, "stories260K.bin");
  Result<Llama2CCheckpoint> ckpt = readLlama2C(path.string());
  ASSERT_TRUE(ckpt.ok()) << ckpt.error();
  const Llama2CConfig &c = ckpt->config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hiddenDim, 172);
  EXPECT_EQ(c.layers, 5);
  EXPECT_EQ(c.heads, 8);
  EXPECT_EQ(c.kvHeads, 4);
  EXPECT_EQ(c.vocabSize, 512);
  EXPECT_EQ(c.seqLen, 512);
  EXPECT_TRUE(c.sharedClassifier);
  EXPECT_EQ(ckpt->find("wk")->shape, (std::vector<int64_t>{5, 32, 64}));
  uint64_t floats = 0;
  for (const Llama2CTensor &t : ckpt->tensors)
    floats += t.getElementCount();
  // PROVENANCE.md: 264,128 floats in all, 4,096 of them the RoPE tables.
  EXPECT_EQ(floats, 264128u - 4096u);
  // The first weight sits right after the header.
  const uint8_t *file = ckpt->mapping->data();
  EXPECT_EQ(std::memcmp(ckpt->tensors[0].data, file + 28, 4), 0);
}

TEST(Llama2C, ReadsMix3M) {
  QUANTC_REQUIRE_MODEL(path, "mix3M.bin");
  Result<Llama2CCheckpoint> ckpt = readLlama2C(path.string());
  ASSERT_TRUE(ckpt.ok()) << ckpt.error();
  EXPECT_EQ(ckpt->config.dim, 256);
  EXPECT_EQ(ckpt->config.hiddenDim, 768);
  EXPECT_EQ(ckpt->config.getKVDim(), 128);
  EXPECT_EQ(ckpt->find("w1")->shape, (std::vector<int64_t>{4, 768, 256}));
}

std::vector<uint8_t> tinyTokenizer() {
  ByteBuilder b;
  b.i32(6);
  b.f32(0).i32(5).raw("<unk>");
  b.f32(-1.5f).i32(3).raw("abc");
  b.f32(2).i32(0);
  return b.bytes;
}

TEST(Llama2CTokenizer, ReadsTokensAndScores) {
  std::vector<uint8_t> bytes = tinyTokenizer();
  Result<Llama2CTokenizer> tok =
      parseLlama2CTokenizer(bytes.data(), bytes.size(), "tok");
  ASSERT_TRUE(tok.ok()) << tok.error();
  EXPECT_EQ(tok->maxTokenLength, 6);
  EXPECT_EQ(tok->tokens, (std::vector<std::string>{"<unk>", "abc", ""}));
  EXPECT_EQ(tok->scores, (std::vector<float>{0, -1.5f, 2}));
  EXPECT_TRUE(parseLlama2CTokenizer(bytes.data(), bytes.size(), "tok", 3).ok());

  Result<Llama2CTokenizer> fewer =
      parseLlama2CTokenizer(bytes.data(), bytes.size(), "tok", 2);
  ASSERT_FALSE(fewer.ok());
  EXPECT_EQ(fewer.error(), "tok: 8 bytes follow the 2 tokens");
  Result<Llama2CTokenizer> more =
      parseLlama2CTokenizer(bytes.data(), bytes.size(), "tok", 4);
  ASSERT_FALSE(more.ok());
  EXPECT_NE(more.error().find("token 3 at byte 36 runs past the end"),
            std::string::npos)
      << more.error();
  Result<Llama2CTokenizer> huge =
      parseLlama2CTokenizer(bytes.data(), bytes.size(), "tok", 1u << 31);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error(), "tok: 2147483648 tokens cannot fit in 36 bytes");
}

TEST(Llama2CTokenizer, EveryTruncationIsAnError) {
  std::vector<uint8_t> bytes = tinyTokenizer();
  for (size_t size = 0; size < bytes.size(); ++size) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + size);
    // Cutting exactly between tokens leaves a valid, shorter tokenizer.
    if (size == 17 || size == 28)
      continue;
    EXPECT_FALSE(
        parseLlama2CTokenizer(prefix.data(), prefix.size(), "cut").ok())
        << "accepted a tokenizer cut at byte " << size;
    EXPECT_FALSE(
        parseLlama2CTokenizer(prefix.data(), prefix.size(), "cut", 3).ok())
        << "accepted a tokenizer cut at byte " << size;
  }
}

TEST(Llama2CTokenizer, RefusesBadLengths) {
  ByteBuilder negative;
  negative.i32(4).f32(0).i32(-1);
  Result<Llama2CTokenizer> tok =
      parseLlama2CTokenizer(negative.bytes.data(), negative.size(), "tok");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.error(), "tok: token 0 has length -1; max_token_length is 4");
  ByteBuilder tooLong;
  tooLong.i32(2).f32(0).i32(3).raw("abc");
  tok = parseLlama2CTokenizer(tooLong.bytes.data(), tooLong.size(), "tok");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.error(), "tok: token 0 has length 3; max_token_length is 2");
  ByteBuilder badMax;
  badMax.i32(0);
  tok = parseLlama2CTokenizer(badMax.bytes.data(), badMax.size(), "tok");
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.error().find("max_token_length 0 must be positive"),
            std::string::npos);
}

TEST(Llama2CTokenizer, ReadsTok512) {
  QUANTC_REQUIRE_MODEL(path, "tok512.bin");
  Result<Llama2CTokenizer> tok = readLlama2CTokenizer(path.string(), 512);
  ASSERT_TRUE(tok.ok()) << tok.error();
  EXPECT_EQ(tok->maxTokenLength, 7);
  ASSERT_EQ(tok->tokens.size(), 512u);
  EXPECT_EQ(tok->tokens[0], "<unk>");
  EXPECT_EQ(tok->tokens[1], "\n<s>\n");
  EXPECT_EQ(tok->tokens[2], "\n</s>\n");
  EXPECT_EQ(tok->tokens[3], "<0x00>");
  EXPECT_EQ(tok->tokens[258], "<0xFF>");
}

} // namespace
