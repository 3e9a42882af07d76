//===- GGUFHostileTest.cpp - malformed GGUF files give errors -------------===//
//
// Every malformed input yields an error message, never a crash, a hang or a
// huge allocation; the sanitizer build (scripts/test.sh --sanitize) runs
// these under ASan and UBSan.
//
//===----------------------------------------------------------------------===//

#include "IOTesting.h"

#include "quantc/IO/GGUF.h"

#include <gtest/gtest.h>

#include <functional>

using namespace quantc;
using namespace quantc::io;
using namespace quantc::test;

namespace {

/// A header with `tensors` tensors and `kvs` key-value pairs to follow.
ByteBuilder header(int64_t tensors, int64_t kvs, uint32_t version = 3) {
  ByteBuilder b;
  b.raw("GGUF").u32(version).i64(tensors).i64(kvs);
  return b;
}

/// Tensor description: name, dims, type, offset.
void tensorInfo(ByteBuilder &b, const std::string &name,
                std::vector<int64_t> shape, uint32_t type, uint64_t offset) {
  b.str(name).u32(static_cast<uint32_t>(shape.size()));
  for (int64_t dim : shape)
    b.i64(dim);
  b.u32(type).u64(offset);
}

/// A valid file: two keys, two f32 tensors.
std::vector<uint8_t> validFile() {
  ByteBuilder b = header(2, 2);
  b.str("general.architecture").u32(8).str("llama");
  b.str("list").u32(9).u32(5).u64(2).i32(-1).i32(1);
  tensorInfo(b, "a", {4}, 0, 0);
  tensorInfo(b, "b", {2, 2}, 0, 32);
  b.padTo(32);
  b.zeros(16).padTo(32).zeros(16).padTo(32);
  return b.bytes;
}

TEST(GGUFHostile, TheBaseFileIsValid) {
  std::vector<uint8_t> bytes = validFile();
  Result<GGUFFile> file = parseGGUF(bytes.data(), bytes.size(), "base");
  ASSERT_TRUE(file.ok()) << file.error();
  EXPECT_EQ(file->tensors.size(), 2u);
}

TEST(GGUFHostile, EveryTruncationIsAnError) {
  std::vector<uint8_t> bytes = validFile();
  // The last tensor ends 16 bytes before the file does (its padding).
  for (size_t size = 0; size + 16 < bytes.size(); ++size) {
    // A copy of exactly `size` bytes, so that ASan sees any overread.
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + size);
    Result<GGUFFile> file = parseGGUF(prefix.data(), prefix.size(), "cut");
    EXPECT_FALSE(file.ok()) << "accepted a file cut at byte " << size;
  }
}

struct HostileCase {
  const char *name;
  std::function<std::vector<uint8_t>()> bytes;
  const char *error;
};

std::vector<uint8_t> withKey(const std::function<void(ByteBuilder &)> &kv) {
  ByteBuilder b = header(0, 1);
  kv(b);
  return b.bytes;
}

std::vector<uint8_t> withTensor(std::vector<int64_t> shape, uint32_t type,
                                uint64_t offset, size_t dataBytes = 64) {
  ByteBuilder b = header(1, 0);
  tensorInfo(b, "t", std::move(shape), type, offset);
  b.padTo(32).zeros(dataBytes);
  return b.bytes;
}

const HostileCase kCases[] = {
    {"Empty", [] { return std::vector<uint8_t>(); },
     "not a GGUF file: 0 bytes"},
    {"WrongMagic",
     [] {
       ByteBuilder b;
       b.raw("GGML").u32(3).i64(0).i64(0);
       return b.bytes;
     },
     "not a GGUF file: magic 'GGML', expected 'GGUF'"},
    {"Version0", [] { return header(0, 0, 0).bytes; }, "bad GGUF version 0"},
    {"Version1", [] { return header(0, 0, 1).bytes; },
     "GGUF version 1 is not supported"},
    {"Version4", [] { return header(0, 0, 4).bytes; },
     "GGUF version 4 is newer than quantc reads"},
    {"BigEndian", [] { return header(0, 0, 0x03000000).bytes; },
     "probably big-endian"},
    {"NegativeTensorCount", [] { return header(-1, 0).bytes; },
     "negative tensor count -1"},
    {"NegativeKvCount", [] { return header(0, -5).bytes; },
     "negative metadata count -5"},
    {"HugeTensorCount", [] { return header(INT64_MAX, 0).bytes; },
     "tensor count 9223372036854775807 cannot fit"},
    {"HugeKvCount", [] { return header(0, int64_t(1) << 40).bytes; },
     "metadata count 1099511627776 cannot fit"},
    {"HugeKeyLength",
     [] {
       ByteBuilder b = header(0, 1);
       b.u64(uint64_t(1) << 63).raw("key").u32(4).u32(0);
       return b.bytes;
     },
     "metadata key #0 claims 9223372036854775808 bytes but only 11 remain"},
    {"HugeStringLength",
     [] {
       return withKey([](ByteBuilder &b) {
         b.str("k").u32(8).u64(~uint64_t(0)).raw("short");
       });
     },
     "the string of key 'k' claims 18446744073709551615 bytes"},
    {"EmptyKey",
     [] { return withKey([](ByteBuilder &b) { b.str("").u32(4).u32(1); }); },
     "metadata key #0 is empty"},
    {"DuplicateKey",
     [] {
       ByteBuilder b = header(0, 2);
       b.str("k").u32(4).u32(1).str("k").u32(4).u32(2);
       return b.bytes;
     },
     "duplicate metadata key 'k'"},
    {"InvalidValueType",
     [] { return withKey([](ByteBuilder &b) { b.str("k").u32(13).u32(0); }); },
     "key 'k' has invalid value type 13"},
    {"InvalidElementType",
     [] {
       return withKey([](ByteBuilder &b) { b.str("k").u32(9).u32(77).u64(0); });
     },
     "an array of key 'k' has invalid element type 77"},
    {"HugeArrayCount",
     [] {
       return withKey([](ByteBuilder &b) {
         b.str("k").u32(9).u32(4).u64(uint64_t(1) << 61).u32(0);
       });
     },
     "an array of key 'k' claims 2305843009213693952 u32 elements"},
    {"HugeStringArrayCount",
     [] {
       return withKey(
           [](ByteBuilder &b) { b.str("k").u32(9).u32(8).u64(1000).str("x"); });
     },
     "an array of key 'k' claims 1000 str elements"},
    {"TruncatedArray",
     [] {
       return withKey(
           [](ByteBuilder &b) { b.str("k").u32(9).u32(12).u64(2).add(1.0); });
     },
     "an array of key 'k' claims 2 f64 elements but only 8 bytes remain"},
    {"ArraysNestTooDeep",
     [] {
       return withKey([](ByteBuilder &b) {
         b.str("k").u32(9);
         for (int i = 0; i < 40; ++i)
           b.u32(9).u64(1);
         b.u32(4).u64(0);
       });
     },
     "arrays of key 'k' nest deeper than 16"},
    {"AlignmentNotU32",
     [] {
       return withKey(
           [](ByteBuilder &b) { b.str("general.alignment").u32(10).u64(32); });
     },
     "general.alignment must be a u32, not u64"},
    {"AlignmentZero",
     [] {
       return withKey(
           [](ByteBuilder &b) { b.str("general.alignment").u32(4).u32(0); });
     },
     "general.alignment 0 is not a power of two"},
    {"AlignmentNotPowerOfTwo",
     [] {
       return withKey(
           [](ByteBuilder &b) { b.str("general.alignment").u32(4).u32(24); });
     },
     "general.alignment 24 is not a power of two"},
    {"AlignmentTooLarge",
     [] {
       return withKey([](ByteBuilder &b) {
         b.str("general.alignment").u32(4).u32(1u << 30);
       });
     },
     "general.alignment 1073741824 exceeds the largest quantc accepts"},
    {"ZeroDims", [] { return withTensor({}, 0, 0); },
     "tensor 't' has 0 dimensions; expected 1 to 4"},
    {"FiveDims",
     [] {
       return withTensor({1, 1, 1, 1, 1}, 0, 0);
     },
     "tensor 't' has 5 dimensions; expected 1 to 4"},
    {"ZeroDim",
     [] {
       return withTensor({4, 0}, 0, 0);
     },
     "tensor 't' has dimension 1 = 0; dimensions must be positive"},
    {"NegativeDim", [] { return withTensor({-4}, 0, 0); },
     "tensor 't' has dimension 0 = -4"},
    {"DimsOverflow",
     [] {
       return withTensor({int64_t(1) << 40, int64_t(1) << 40}, 0, 0);
     },
     "the size of tensor 't' overflows"},
    {"BytesOverflow",
     [] {
       return withTensor({int64_t(1) << 31, int64_t(1) << 31, 1 << 2}, 0, 0);
     },
     "the size of tensor 't' overflows"},
    {"UnknownTypeId", [] { return withTensor({32}, 99, 0); },
     "tensor 't' has ggml type 99, which quantc's format registry does not "
     "know"},
    {"TypeOutsideTheRegistry", [] { return withTensor({256}, 16, 0); },
     "tensor 't' has ggml type 16"},
    {"PartialBlock", [] { return withTensor({48}, 2, 0); },
     "tensor 't' of type q4_0 has 48 elements per row, not a multiple of the "
     "32-element block"},
    {"MisalignedOffset", [] { return withTensor({4}, 0, 8); },
     "tensor 't' has offset 8, not a multiple of the alignment 32"},
    {"OffsetPastEnd", [] { return withTensor({4}, 0, 64); },
     "tensor 't' (16 bytes at data offset 64) runs past the end of the file: "
     "the data section holds 64 bytes"},
    {"OffsetOverflows", [] { return withTensor({4}, 0, ~uint64_t(31)); },
     "runs past the end of the file"},
    {"DataPastEnd", [] { return withTensor({64}, 0, 0); },
     "tensor 't' (256 bytes at data offset 0) runs past the end"},
    {"Overlap",
     [] {
       ByteBuilder b = header(2, 0);
       tensorInfo(b, "a", {16}, 0, 0);
       tensorInfo(b, "b", {4}, 0, 32);
       b.padTo(32).zeros(96);
       return b.bytes;
     },
     "tensors 'a' and 'b' overlap"},
    {"DuplicateTensor",
     [] {
       ByteBuilder b = header(2, 0);
       tensorInfo(b, "a", {4}, 0, 0);
       tensorInfo(b, "a", {4}, 0, 32);
       b.padTo(32).zeros(64);
       return b.bytes;
     },
     "duplicate tensor name 'a'"},
    {"EmptyTensorName",
     [] {
       ByteBuilder b = header(1, 0);
       tensorInfo(b, "", {4}, 0, 0);
       b.padTo(32).zeros(32);
       return b.bytes;
     },
     "tensor #0 has an empty name"},
    {"LongTensorName",
     [] {
       ByteBuilder b = header(1, 0);
       tensorInfo(b, std::string(64, 'n'), {4}, 0, 0);
       b.padTo(32).zeros(32);
       return b.bytes;
     },
     "tensor #0 has a name of 64 bytes; ggml allows 63"},
};

class GGUFHostileCase : public ::testing::TestWithParam<HostileCase> {};

TEST_P(GGUFHostileCase, IsRefusedWithAClearMessage) {
  std::vector<uint8_t> bytes = GetParam().bytes();
  Result<GGUFFile> file = parseGGUF(bytes.data(), bytes.size(), "bad.gguf");
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().find(GetParam().error), std::string::npos)
      << "message: " << file.error();
  EXPECT_EQ(file.error().rfind("bad.gguf: ", 0), 0u) << file.error();
}

INSTANTIATE_TEST_SUITE_P(Cases, GGUFHostileCase, ::testing::ValuesIn(kCases),
                         [](const auto &info) { return info.param.name; });

} // namespace
