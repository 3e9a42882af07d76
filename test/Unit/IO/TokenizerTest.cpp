//===- TokenizerTest.cpp - llama2.c's tokenizer, from .bin and GGUF -------===//

#include "IOTesting.h"

#include "quantc/IO/GGUF.h"
#include "quantc/IO/SourceModel.h"
#include "quantc/IO/Tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <random>
#include <unordered_map>

using namespace quantc;
using namespace quantc::io;
using namespace quantc::test;

namespace {

/// run.c's encode as run.c writes it: after each merge, rescan every
/// adjacent pair for the best one. O(n^2); the reference that
/// Tokenizer::encode must agree with.
std::vector<int32_t> referenceEncode(const Tokenizer &tokenizer,
                                     std::string_view text, bool addBos) {
  std::unordered_map<std::string, int32_t> ids;
  for (int32_t id = 0; id < tokenizer.size(); ++id)
    ids.emplace(tokenizer.getPiece(id), id);
  auto lookup = [&](const std::string &piece) {
    auto it = ids.find(piece);
    return it == ids.end() ? -1 : it->second;
  };
  auto orUnknown = [&](int32_t id) {
    return id >= 0 ? id : tokenizer.getUnknownId();
  };

  std::vector<int32_t> tokens;
  if (addBos)
    tokens.push_back(tokenizer.getBosId());
  if (!text.empty())
    tokens.push_back(orUnknown(lookup(" ")));
  std::string character;
  for (size_t i = 0; i < text.size(); ++i) {
    character += text[i];
    bool continues = i + 1 < text.size() &&
                     (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80;
    if (continues && character.size() < 4)
      continue;
    if (int32_t id = lookup(character); id >= 0) {
      tokens.push_back(id);
    } else {
      for (unsigned char byte : character) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", byte);
        tokens.push_back(orUnknown(lookup(name)));
      }
    }
    character.clear();
  }

  while (true) {
    float bestScore = -1e10f;
    int32_t bestId = -1;
    size_t bestIndex = 0;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      int32_t id = lookup(tokenizer.getPiece(tokens[i]) +
                          tokenizer.getPiece(tokens[i + 1]));
      if (id >= 0 && tokenizer.getScore(id) > bestScore) {
        bestScore = tokenizer.getScore(id);
        bestId = id;
        bestIndex = i;
      }
    }
    if (bestId < 0)
      break;
    tokens[bestIndex] = bestId;
    tokens.erase(tokens.begin() + static_cast<ptrdiff_t>(bestIndex) + 1);
  }
  return tokens;
}

std::filesystem::path sharedPath(const std::string &relative) {
  return std::filesystem::path(QUANTC_SHARED_DATA_DIR) / relative;
}

/// A shared text as the evaluation protocol reads it: leading and trailing
/// whitespace stripped.
std::optional<std::string> readProtocolText(const std::string &name) {
  std::optional<std::vector<uint8_t>> bytes =
      readFile(sharedPath("text/" + name));
  if (!bytes)
    return std::nullopt;
  std::string text(bytes->begin(), bytes->end());
  const char *whitespace = " \t\n\r\f\v";
  size_t first = text.find_first_not_of(whitespace);
  if (first == std::string::npos)
    return std::string();
  size_t last = text.find_last_not_of(whitespace);
  return text.substr(first, last - first + 1);
}

/// Concatenated decode of every token after the first, as run.c prints a
/// generation that starts at BOS.
std::string decodeAll(const Tokenizer &tokenizer,
                      const std::vector<int32_t> &tokens) {
  std::string text;
  for (size_t i = 1; i < tokens.size(); ++i)
    text += tokenizer.decode(tokens[i - 1], tokens[i]);
  return text;
}

Tokenizer loadTok512(const std::filesystem::path &path) {
  Result<Tokenizer> tokenizer = Tokenizer::load(path.string(), 512);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.error();
  return std::move(*tokenizer);
}

/// Random text mixing ASCII that tok512 merges, multi-byte characters it
/// knows or falls back to bytes for, stray continuation bytes and NUL.
std::string randomText(std::mt19937 &rng, size_t length) {
  static const std::string kAlphabet[] = {" ",
                                          " ",
                                          "e",
                                          "t",
                                          "h",
                                          "a",
                                          "o",
                                          "n",
                                          "s",
                                          "d",
                                          "\n",
                                          ".",
                                          ",",
                                          "T",
                                          "\"",
                                          "'",
                                          "!",
                                          "\x80",
                                          "\xbf",
                                          "\xff",
                                          "\xe2\x80",
                                          "\xc3\xa9",
                                          "\xe2\x84\xa2",
                                          "\xf0\x9f\x98\x80",
                                          std::string(1, '\0')};
  std::uniform_int_distribution<size_t> pick(0, std::size(kAlphabet) - 1);
  std::string text;
  while (text.size() < length)
    text += kAlphabet[pick(rng)];
  return text;
}

TEST(Tokenizer, MergesTheBestPairLeftmostOnTies) {
  Result<Tokenizer> tokenizer = Tokenizer::fromPieces(
      {"<unk>", "<s>", "</s>", " ", "a", "b", "aa", "ab", " a"},
      {0, 0, 0, -1, -1, -1, -2, -3, -5}, 1, 2, 0, "test");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error();
  // " " + "a" scores below "a" + "a"; of the two "aa" pairs the left one
  // merges, and "aa" + "a" is no token.
  EXPECT_EQ(tokenizer->encode("aaa", false), (std::vector<int32_t>{3, 6, 4}));
  // "ab" beats " a" even though " a" is further left.
  EXPECT_EQ(tokenizer->encode("ab", true), (std::vector<int32_t>{1, 3, 7}));
  EXPECT_EQ(tokenizer->encode("a", false), (std::vector<int32_t>{8}));
  EXPECT_EQ(tokenizer->encode("", true), (std::vector<int32_t>{1}));
  EXPECT_TRUE(tokenizer->encode("", false).empty());
  // No byte tokens: unknown characters become the unknown id.
  EXPECT_EQ(tokenizer->encode("\xc3\xa9", false),
            (std::vector<int32_t>{3, 0, 0}));
}

TEST(Tokenizer, PairsScoringAtTheFloorOrNaNNeverMerge) {
  Result<Tokenizer> tokenizer = Tokenizer::fromPieces(
      {"<unk>", "<s>", "</s>", " ", "a", "b", "ab", " a"},
      {0, 0, 0, 0, 0, 0, -1e10f, std::numeric_limits<float>::quiet_NaN()}, 1, 2,
      0, "test");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error();
  EXPECT_EQ(tokenizer->encode("ab", false), (std::vector<int32_t>{3, 4, 5}));
}

TEST(Tokenizer, UsesByteTokensAndTheSpacePieceWhereverTheyAre) {
  std::vector<std::string> pieces = {"<unk>", "<s>", "</s>", "x"};
  for (unsigned byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", 255 - byte);
    pieces.push_back(name);
  }
  std::vector<float> scores(pieces.size(), 0.0f);
  Result<Tokenizer> tokenizer =
      Tokenizer::fromPieces(pieces, scores, 1, 2, 0, "test");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error();
  // No " " piece: the dummy prefix is unknown; bytes map to <0xXX> ids.
  EXPECT_EQ(tokenizer->encode("x\xc3\xa9", false),
            (std::vector<int32_t>{0, 3, 4 + 255 - 0xc3, 4 + 255 - 0xa9}));
  EXPECT_EQ(tokenizer->decode(3, 4 + 255 - 0xc3), "\xc3");
}

TEST(Tokenizer, AgreesWithTheQuadraticReferenceOnRandomVocabularies) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    // Short pieces over a tiny alphabet, with few distinct scores so that
    // ties are common.
    std::vector<std::string> pieces = {"<unk>", "<s>", "</s>", " ",
                                       "a",     "b",   "c"};
    std::uniform_int_distribution<int> letter(0, 3), length(2, 4), score(-3, 0);
    while (pieces.size() < 40) {
      std::string piece;
      for (int i = length(rng); i > 0; --i)
        piece += " abc"[letter(rng)];
      pieces.push_back(piece);
    }
    std::vector<float> scores;
    for (size_t i = 0; i < pieces.size(); ++i)
      scores.push_back(static_cast<float>(score(rng)));
    Result<Tokenizer> tokenizer =
        Tokenizer::fromPieces(pieces, scores, 1, 2, 0, "random");
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.error();
    for (int sample = 0; sample < 20; ++sample) {
      std::string text;
      for (int i = std::uniform_int_distribution<int>(0, 60)(rng); i > 0; --i)
        text += " abcd"[std::uniform_int_distribution<int>(0, 4)(rng)];
      for (bool bos : {false, true})
        ASSERT_EQ(tokenizer->encode(text, bos),
                  referenceEncode(*tokenizer, text, bos))
            << "round " << round << " text '" << text << "'";
    }
  }
}

TEST(Tokenizer, AgreesWithTheQuadraticReferenceOnTok512) {
  QUANTC_REQUIRE_MODEL(path, "tok512.bin");
  Tokenizer tokenizer = loadTok512(path);
  std::mt19937 rng(11);
  for (int sample = 0; sample < 200; ++sample) {
    std::string text = randomText(rng, sample * 2);
    ASSERT_EQ(tokenizer.encode(text, true),
              referenceEncode(tokenizer, text, true))
        << "sample " << sample;
    // Every byte has a token, so decoding gives the text back.
    EXPECT_EQ(decodeAll(tokenizer, tokenizer.encode(text, true)), text);
  }
  for (const char *name :
       {"tinystories_validation_excerpt.txt", "tinyshakespeare_input.txt",
        "wikitext2_valid.txt"}) {
    std::optional<std::string> text = readProtocolText(name);
    if (!text)
      GTEST_SKIP() << "text " << name << " is absent";
    for (size_t start : {size_t(0), text->size() / 3, text->size() / 2}) {
      std::string slice = text->substr(start, 1500);
      ASSERT_EQ(tokenizer.encode(slice, true),
                referenceEncode(tokenizer, slice, true))
          << name << " at " << start;
    }
  }
}

TEST(Tokenizer, DecodesAsRunC) {
  QUANTC_REQUIRE_MODEL(path, "tok512.bin");
  Tokenizer tokenizer = loadTok512(path);
  EXPECT_EQ(tokenizer.size(), 512);
  EXPECT_EQ(tokenizer.getBosId(), 1);
  EXPECT_EQ(tokenizer.getEosId(), 2);
  EXPECT_EQ(tokenizer.getUnknownId(), 0);
  EXPECT_EQ(tokenizer.getPiece(1), "\n<s>\n");
  EXPECT_EQ(tokenizer.getPiece(262), " s");
  EXPECT_EQ(tokenizer.decode(1, 262), "s");
  EXPECT_EQ(tokenizer.decode(5, 262), " s");
  EXPECT_EQ(tokenizer.getPiece(13), "<0x0A>");
  EXPECT_EQ(tokenizer.decode(1, 13), "\n");
  EXPECT_EQ(tokenizer.decode(1, 3), std::string(1, '\0'));
  // The byte fallback of tok512 is byte value + 3.
  EXPECT_EQ(tokenizer.encode("\xff", false).back(), 0xff + 3);
  for (int32_t bad : {-1, 512, std::numeric_limits<int32_t>::max(),
                      std::numeric_limits<int32_t>::min()}) {
    EXPECT_EQ(tokenizer.decode(1, bad), "");
    EXPECT_EQ(tokenizer.decode(bad, bad), "");
    EXPECT_EQ(tokenizer.getPiece(bad), "");
    EXPECT_TRUE(std::isnan(tokenizer.getScore(bad)));
  }
  EXPECT_EQ(tokenizer.decode(-7, 262), " s");
}

TEST(Tokenizer, ReproducesTheGoldenTokensOfTheEvaluationText) {
  QUANTC_REQUIRE_MODEL(path, "tok512.bin");
  std::optional<std::string> text =
      readProtocolText("tinystories_validation_excerpt.txt");
  if (!text)
    GTEST_SKIP() << "the TinyStories excerpt is absent";
  Tokenizer tokenizer = loadTok512(path);
  auto begin = std::chrono::steady_clock::now();
  std::vector<int32_t> tokens = tokenizer.encode(*text, /*addBos=*/true);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin)
          .count();
  std::cout << "encoded " << text->size() << " bytes into " << tokens.size()
            << " tokens in " << seconds << " s\n";
  // run.c's quadratic loop would take hours; this guards the O(n log n)
  // merging, generously enough for sanitizer builds.
  EXPECT_LT(seconds, 20.0);
  EXPECT_EQ(tokens.size(), 297768u);
  EXPECT_EQ(decodeAll(tokenizer, tokens), *text);

  bool found = false;
  for (const char *model : {"stories260K", "mix3M"}) {
    std::filesystem::path golden =
        sharedPath("golden/" + std::string(model) + "/tokens_first8193.i32");
    std::optional<std::vector<uint8_t>> bytes = readFile(golden);
    if (!bytes)
      continue;
    found = true;
    ASSERT_EQ(bytes->size(), 8193u * 4) << golden;
    std::vector<int32_t> expected(8193);
    std::memcpy(expected.data(), bytes->data(), bytes->size());
    EXPECT_EQ(std::vector<int32_t>(tokens.begin(), tokens.begin() + 8193),
              expected)
        << golden;
  }
  if (!found)
    GTEST_SKIP() << "no golden token files under " << sharedPath("golden");
}

TEST(Tokenizer, ReadsTheVocabularyConvertWritesToGGUF) {
  QUANTC_REQUIRE_MODEL(modelFile, "stories260K.bin");
  QUANTC_REQUIRE_MODEL(tokenizerFile, "tok512.bin");
  Result<SourceModel> model =
      loadSourceModel(modelFile.string(), tokenizerFile.string());
  ASSERT_TRUE(model.ok()) << model.error();
  GGUFFile file;
  file.metadata = model->metadata;
  TempDir dir;
  ASSERT_TRUE(writeGGUFFile(file, dir.file("vocab.gguf")).ok());

  Result<Tokenizer> fromGGUF = Tokenizer::load(dir.file("vocab.gguf"), 512);
  ASSERT_TRUE(fromGGUF.ok()) << fromGGUF.error();
  Tokenizer llama2c = loadTok512(tokenizerFile);
  ASSERT_EQ(fromGGUF->size(), 512);
  EXPECT_EQ(fromGGUF->getBosId(), 1);
  EXPECT_EQ(fromGGUF->getEosId(), 2);
  EXPECT_EQ(fromGGUF->getPiece(1), "<s>");
  // Past the renamed <unk>, <s> and </s>, the pieces are tok512's, spaces
  // included.
  for (int32_t id = 3; id < 512; ++id) {
    EXPECT_EQ(fromGGUF->getPiece(id), llama2c.getPiece(id)) << id;
    EXPECT_EQ(fromGGUF->decode(1, id), llama2c.decode(1, id)) << id;
  }

  std::optional<std::string> text =
      readProtocolText("tinystories_validation_excerpt.txt");
  if (!text)
    GTEST_SKIP() << "the TinyStories excerpt is absent";
  std::vector<int32_t> tokens = fromGGUF->encode(*text, true);
  EXPECT_EQ(tokens, llama2c.encode(*text, true));
  EXPECT_EQ(decodeAll(*fromGGUF, tokens), *text);

  Result<Tokenizer> wrongSize = Tokenizer::load(dir.file("vocab.gguf"), 32000);
  ASSERT_FALSE(wrongSize.ok());
  EXPECT_NE(wrongSize.error().find("has 512 tokens; expected 32000"),
            std::string::npos)
      << wrongSize.error();
}

/// A GGUF with `metadata` and no tensors, written under `dir`.
std::string writeVocabulary(const TempDir &dir, const std::string &name,
                            std::vector<GGUFKeyValue> metadata) {
  GGUFFile file;
  file.metadata = std::move(metadata);
  std::string path = dir.file(name);
  Status status = writeGGUFFile(file, path);
  EXPECT_TRUE(status.ok()) << (status ? "" : status.error());
  return path;
}

std::string loadError(const std::string &path) {
  Result<Tokenizer> tokenizer = Tokenizer::load(path);
  return tokenizer ? "(loaded)" : tokenizer.error();
}

TEST(Tokenizer, RefusesGGUFsWithoutAUsableVocabulary) {
  TempDir dir;
  auto tokens = GGUFValue::arrayOf(
      std::vector<std::string>{"<unk>", "<s>", "</s>", "\xe2\x96\x81"});
  auto scores = GGUFValue::arrayOf(std::vector<float>{0, 0, 0, -1});
  GGUFKeyValue llama = {"tokenizer.ggml.model", GGUFValue::of("llama")};

  Result<Tokenizer> good = Tokenizer::load(writeVocabulary(
      dir, "good.gguf",
      {llama,
       {"tokenizer.ggml.tokens", tokens},
       {"tokenizer.ggml.scores", scores},
       {"tokenizer.ggml.bos_token_id", GGUFValue::of(uint32_t(2))},
       {"tokenizer.ggml.eos_token_id", GGUFValue::of(int32_t(1))}}));
  ASSERT_TRUE(good.ok()) << good.error();
  EXPECT_EQ(good->getBosId(), 2);
  EXPECT_EQ(good->getEosId(), 1);
  EXPECT_EQ(good->encode("  ", false), (std::vector<int32_t>{3, 3, 3}));

  struct Case {
    const char *name;
    std::vector<GGUFKeyValue> metadata;
    const char *message;
  };
  const Case cases[] = {
      {"none",
       {{"general.architecture", GGUFValue::of("llama")}},
       "has no vocabulary"},
      {"gpt2",
       {{"tokenizer.ggml.model", GGUFValue::of("gpt2")},
        {"tokenizer.ggml.tokens", tokens}},
       "tokenizer model 'gpt2' is not supported"},
      {"model-type",
       {{"tokenizer.ggml.model", GGUFValue::of(uint32_t(1))}},
       "tokenizer.ggml.model is 1, not a string"},
      {"no-tokens",
       {llama, {"tokenizer.ggml.scores", scores}},
       "no tokenizer.ggml.tokens"},
      {"no-scores",
       {llama, {"tokenizer.ggml.tokens", tokens}},
       "no tokenizer.ggml.scores"},
      {"short-scores",
       {llama,
        {"tokenizer.ggml.tokens", tokens},
        {"tokenizer.ggml.scores",
         GGUFValue::arrayOf(std::vector<float>{0, 0})}},
       "4 tokens but 2 scores"},
      {"int-scores",
       {llama,
        {"tokenizer.ggml.tokens", tokens},
        {"tokenizer.ggml.scores",
         GGUFValue::arrayOf(std::vector<int32_t>{0, 0, 0, 0})}},
       "no tokenizer.ggml.scores f32 array"},
      {"bos-range",
       {llama,
        {"tokenizer.ggml.tokens", tokens},
        {"tokenizer.ggml.scores", scores},
        {"tokenizer.ggml.bos_token_id", GGUFValue::of(uint32_t(4))}},
       "the BOS id 4 is not in the 4-token vocabulary"},
      {"eos-negative",
       {llama,
        {"tokenizer.ggml.tokens", tokens},
        {"tokenizer.ggml.scores", scores},
        {"tokenizer.ggml.eos_token_id", GGUFValue::of(int32_t(-1))}},
       "tokenizer.ggml.eos_token_id is -1, not a token id"},
      {"unk-type",
       {llama,
        {"tokenizer.ggml.tokens", tokens},
        {"tokenizer.ggml.scores", scores},
        {"tokenizer.ggml.unknown_token_id", GGUFValue::of("0")}},
       "tokenizer.ggml.unknown_token_id is \"0\", not a token id"},
      {"empty",
       {llama,
        {"tokenizer.ggml.tokens",
         GGUFValue::arrayOf(std::vector<std::string>{})},
        {"tokenizer.ggml.scores", GGUFValue::arrayOf(std::vector<float>{})}},
       "the vocabulary has no tokens"},
  };
  for (const Case &c : cases) {
    std::string error = loadError(
        writeVocabulary(dir, std::string(c.name) + ".gguf", c.metadata));
    EXPECT_NE(error.find(c.message), std::string::npos)
        << c.name << ": " << error;
  }
}

TEST(Tokenizer, RefusesTruncatedAndForeignFiles) {
  QUANTC_REQUIRE_MODEL(path, "tok512.bin");
  std::vector<uint8_t> bytes = *readFile(path);
  TempDir dir;
  std::string truncated = dir.file("truncated.bin");
  std::mt19937 rng(3);
  for (size_t size = 0; size < bytes.size(); size += 1 + rng() % 40) {
    writeFile(truncated,
              std::vector<uint8_t>(bytes.begin(), bytes.begin() + size));
    EXPECT_FALSE(Tokenizer::load(truncated, 512).ok()) << size;
    // Without a count, a cut at a token boundary is a smaller vocabulary;
    // whatever loads must encode and decode without trouble.
    if (Result<Tokenizer> smaller = Tokenizer::load(truncated)) {
      std::vector<int32_t> tokens =
          smaller->encode("Once upon a time\xc3", true);
      for (int32_t token : tokens)
        EXPECT_TRUE(token >= 0 && token < smaller->size());
      decodeAll(*smaller, tokens);
    }
  }

  // A GGUF cut short anywhere is an error, never a crash.
  Result<SourceModel> model =
      loadSourceModel(modelPath("stories260K.bin").string(), path.string());
  if (model) {
    GGUFFile file;
    file.metadata = model->metadata;
    MemoryOutputStream out;
    ASSERT_TRUE(writeGGUF(file, out).ok());
    const std::vector<uint8_t> &gguf = out.bytes();
    for (size_t size = 4; size < gguf.size(); size += 1 + rng() % 500) {
      writeFile(truncated,
                std::vector<uint8_t>(gguf.begin(), gguf.begin() + size));
      EXPECT_FALSE(Tokenizer::load(truncated).ok()) << size;
    }
  }

  writeFile(truncated, {});
  EXPECT_NE(loadError(truncated).find("not a llama2.c tokenizer"),
            std::string::npos);
  EXPECT_NE(loadError(dir.file("missing.bin")).find("missing.bin"),
            std::string::npos);
  std::string error = loadError(modelPath("stories260K.bin").string());
  EXPECT_NE(error.find("a llama2.c tokenizer .bin or a GGUF"),
            std::string::npos)
      << error;
}

TEST(Tokenizer, RefusesInconsistentPieces) {
  EXPECT_FALSE(Tokenizer::fromPieces({}, {}, 0, 0, 0, "t").ok());
  EXPECT_FALSE(Tokenizer::fromPieces({"a"}, {0, 1}, 0, 0, 0, "t").ok());
  EXPECT_FALSE(Tokenizer::fromPieces({"a"}, {0}, 1, 0, 0, "t").ok());
  EXPECT_FALSE(Tokenizer::fromPieces({"a"}, {0}, 0, -1, 0, "t").ok());
  Result<Tokenizer> unknown = Tokenizer::fromPieces({"a"}, {0}, 0, 0, 3, "t");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error(),
            "t: the unknown-token id 3 is not in the 1-token vocabulary");
}

} // namespace
