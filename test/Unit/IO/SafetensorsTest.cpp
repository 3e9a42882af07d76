//===- SafetensorsTest.cpp - safetensors reading, writing, hostile input --===//

#include "IOTesting.h"

#include "quantc/IO/Safetensors.h"

#include <gtest/gtest.h>

using namespace quantc;
using namespace quantc::io;
using namespace quantc::test;

namespace {

const float kSix[6] = {0, 1, 2, 3, 4, 5};

SafetensorsTensor tensor(std::string name, SafetensorsDType dtype,
                         std::vector<uint64_t> shape, const void *data) {
  SafetensorsTensor t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.size = t.getElementCount() * getSafetensorsDTypeSize(dtype);
  t.data = static_cast<const uint8_t *>(data);
  return t;
}

std::vector<uint8_t> write(const SafetensorsFile &file) {
  MemoryOutputStream out;
  Status status = writeSafetensors(file, out);
  EXPECT_TRUE(status.ok()) << (status ? "" : status.error());
  return out.bytes();
}

/// Header length, header text, then data: a file spelled out.
std::vector<uint8_t> spelled(const std::string &header, const void *data,
                             size_t size) {
  ByteBuilder b;
  b.u64(header.size()).raw(header);
  const auto *bytes = static_cast<const uint8_t *>(data);
  b.bytes.insert(b.bytes.end(), bytes, bytes + size);
  return b.bytes;
}

// The byte sequences the reference implementation's own tests expect.
TEST(Safetensors, WritesTheReferenceBytes) {
  SafetensorsFile one;
  one.tensors = {tensor("attn.0", SafetensorsDType::F32, {1, 2, 3}, kSix)};
  EXPECT_EQ(write(one),
            spelled("{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],"
                    "\"data_offsets\":[0,24]}}",
                    kSix, sizeof(kSix)));

  SafetensorsFile padded;
  padded.tensors = {tensor("attn0", SafetensorsDType::F32, {1, 1, 2, 3}, kSix)};
  EXPECT_EQ(write(padded),
            spelled("{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],"
                    "\"data_offsets\":[0,24]}}       ",
                    kSix, sizeof(kSix)));

  SafetensorsFile empty;
  EXPECT_EQ(write(empty), spelled("{}      ", nullptr, 0));

  SafetensorsFile metadata;
  metadata.metadata = std::map<std::string, std::string>{{"framework", "pt"}};
  EXPECT_EQ(
      write(metadata),
      spelled("{\"__metadata__\":{\"framework\":\"pt\"}}     ", nullptr, 0));
}

TEST(Safetensors, OrdersTensorsByDescendingDTypeThenName) {
  const uint8_t bytes[64] = {};
  SafetensorsFile file;
  file.tensors = {tensor("b", SafetensorsDType::F16, {2}, bytes),
                  tensor("d", SafetensorsDType::U8, {3}, bytes),
                  tensor("a", SafetensorsDType::F16, {1}, bytes),
                  tensor("c", SafetensorsDType::F32, {1}, bytes),
                  tensor("e", SafetensorsDType::I64, {}, bytes)};
  std::vector<uint8_t> out = write(file);
  Result<SafetensorsFile> read = parseSafetensors(out.data(), out.size(), "m");
  ASSERT_TRUE(read.ok()) << read.error();
  std::vector<std::string> names;
  for (const SafetensorsTensor &t : read->tensors)
    names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"e", "c", "a", "b", "d"}));
  EXPECT_EQ(read->find("e")->shape, std::vector<uint64_t>{});
  EXPECT_EQ(read->find("e")->size, 8u);
}

TEST(Safetensors, RoundTripsByteForByte) {
  std::vector<uint16_t> halves = {0x3c00, 0xc000, 0x7bff};
  std::vector<int8_t> bytes = {-1, 2, -3, 4};
  std::vector<double> doubles = {1.5, -2.5};
  SafetensorsFile file;
  file.metadata = std::map<std::string, std::string>{
      {"format", "pt"}, {"note", "\"quoted\"\n\x01 caf\xc3\xa9"}};
  file.tensors = {
      tensor("model.embed.weight", SafetensorsDType::F32, {2, 3}, kSix),
      tensor("h", SafetensorsDType::BF16, {3}, halves.data()),
      tensor("g", SafetensorsDType::F16, {1, 3}, halves.data()),
      tensor("i8", SafetensorsDType::I8, {2, 2}, bytes.data()),
      tensor("fp8", SafetensorsDType::F8_E4M3, {4}, bytes.data()),
      tensor("f64", SafetensorsDType::F64, {2}, doubles.data()),
      tensor("empty", SafetensorsDType::BOOL, {0, 5}, nullptr)};
  std::vector<uint8_t> first = write(file);
  Result<SafetensorsFile> read =
      parseSafetensors(first.data(), first.size(), "m");
  ASSERT_TRUE(read.ok()) << read.error();
  EXPECT_EQ(read->metadata, file.metadata);
  ASSERT_EQ(read->tensors.size(), file.tensors.size());
  for (const SafetensorsTensor &original : file.tensors) {
    const SafetensorsTensor *t = read->find(original.name);
    ASSERT_NE(t, nullptr) << original.name;
    EXPECT_EQ(t->dtype, original.dtype);
    EXPECT_EQ(t->shape, original.shape);
    ASSERT_EQ(t->size, original.size);
    if (t->size != 0) {
      EXPECT_EQ(std::memcmp(t->data, original.data, t->size), 0);
    }
  }
  EXPECT_EQ(write(*read), first);
  // Wider types first keeps every tensor aligned to its element size.
  for (const SafetensorsTensor &t : read->tensors)
    EXPECT_EQ((t.data - first.data() - 8) % getSafetensorsDTypeSize(t.dtype),
              0u)
        << t.name;

  TempDir dir;
  Status status = writeSafetensorsFile(*read, dir.file("m.safetensors"));
  ASSERT_TRUE(status.ok()) << status.error();
  EXPECT_EQ(*readFile(dir.file("m.safetensors")), first);
  Result<SafetensorsFile> mapped = readSafetensors(dir.file("m.safetensors"));
  ASSERT_TRUE(mapped.ok()) << mapped.error();
  EXPECT_EQ(write(*mapped), first);
}

TEST(Safetensors, WriterRefusesInconsistentTensors) {
  auto refusal = [](SafetensorsFile file) {
    MemoryOutputStream out;
    Status status = writeSafetensors(file, out);
    EXPECT_FALSE(status.ok());
    return status.ok() ? std::string() : status.error();
  };
  SafetensorsFile twice;
  twice.tensors = {tensor("a", SafetensorsDType::F32, {6}, kSix),
                   tensor("a", SafetensorsDType::F32, {6}, kSix)};
  EXPECT_EQ(refusal(twice), "duplicate safetensors tensor name 'a'");
  SafetensorsFile reserved;
  reserved.tensors = {tensor("__metadata__", SafetensorsDType::F32, {}, kSix)};
  EXPECT_EQ(refusal(reserved),
            "a safetensors tensor cannot be named __metadata__");
  SafetensorsFile mismatch;
  mismatch.tensors = {tensor("a", SafetensorsDType::F32, {6}, kSix)};
  mismatch.tensors[0].size = 20;
  EXPECT_EQ(refusal(mismatch),
            "safetensors tensor 'a' has 20 bytes but its dtype and shape "
            "need 24");
  SafetensorsFile badName;
  badName.tensors = {tensor("\xff", SafetensorsDType::F32, {1}, kSix)};
  EXPECT_NE(refusal(badName).find("cannot write the safetensors header"),
            std::string::npos);
}

std::vector<uint8_t> validFile() {
  SafetensorsFile file;
  file.metadata = std::map<std::string, std::string>{{"k", "v"}};
  file.tensors = {tensor("a", SafetensorsDType::F32, {2, 2}, kSix),
                  tensor("b", SafetensorsDType::F16, {2}, kSix)};
  return write(file);
}

TEST(SafetensorsHostile, EveryTruncationIsAnError) {
  std::vector<uint8_t> bytes = validFile();
  ASSERT_TRUE(parseSafetensors(bytes.data(), bytes.size(), "m").ok());
  for (size_t size = 0; size < bytes.size(); ++size) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + size);
    EXPECT_FALSE(parseSafetensors(prefix.data(), prefix.size(), "cut").ok())
        << "accepted a file cut at byte " << size;
  }
}

struct HostileCase {
  const char *name;
  std::vector<uint8_t> bytes;
  const char *error;
};

std::vector<uint8_t> withHeader(const std::string &header,
                                size_t dataBytes = 0) {
  std::vector<uint8_t> zeros(dataBytes);
  return spelled(header, zeros.data(), zeros.size());
}

const std::string kTensorA =
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

std::vector<HostileCase> hostileCases() {
  ByteBuilder hugeHeader;
  hugeHeader.u64(uint64_t(1) << 62).raw("{}");
  ByteBuilder headerPastEnd;
  headerPastEnd.u64(100).raw("{}");
  return {
      {"Empty", {}, "not a safetensors file: 0 bytes"},
      {"ShortLength", {1, 0, 0}, "shorter than the 8-byte header length"},
      {"HugeHeader", hugeHeader.bytes,
       "header length 4611686018427387904 exceeds the reference "
       "implementation's limit"},
      {"HeaderPastEnd", headerPastEnd.bytes,
       "header length 100 runs past the end of the 10-byte file"},
      {"BadJson", withHeader("{\"a\":"), "the header is not valid JSON"},
      {"TrailingGarbage", withHeader("{}xx"), "the header is not valid JSON"},
      {"InvalidUtf8", withHeader("{\"\xc3\x28\":{}}"),
       "the header is not valid JSON"},
      {"NotAnObject", withHeader("[1,2]"),
       "the header must be a JSON object, not array"},
      {"DuplicateTensor", withHeader("{" + kTensorA + "," + kTensorA + "}", 8),
       "the header has duplicate key 'a'"},
      {"DuplicateField",
       withHeader("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[2],"
                  "\"data_offsets\":[0,8]}}",
                  8),
       "the header has duplicate key 'dtype'"},
      {"MetadataNotObject", withHeader("{\"__metadata__\":3}"),
       "__metadata__ must be an object of strings, not number"},
      {"MetadataNotString", withHeader("{\"__metadata__\":{\"k\":1}}"),
       "__metadata__ entry 'k' must be a string, not number"},
      {"TensorNotObject", withHeader("{\"a\":[]}"),
       "tensor 'a' must be an object, not array"},
      {"MissingField", withHeader("{\"a\":{\"dtype\":\"F32\"}}"),
       "tensor 'a' needs dtype, shape and data_offsets"},
      {"UnknownDType",
       withHeader("{\"a\":{\"dtype\":\"Q4\",\"shape\":[],\"data_offsets\":[0,"
                  "1]}}"),
       "tensor 'a' has unsupported dtype 'Q4'"},
      {"DTypeNotString",
       withHeader("{\"a\":{\"dtype\":4,\"shape\":[],\"data_offsets\":[0,4]}}"),
       "tensor 'a' has a dtype that is not a string"},
      {"NegativeDim",
       withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":"
                  "[0,8]}}"),
       "tensor 'a' has shape entry -2"},
      {"FractionalDim",
       withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],"
                  "\"data_offsets\":[0,8]}}"),
       "tensor 'a' has shape entry 2.5"},
      {"ShapeNotArray",
       withHeader(
           "{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}"),
       "tensor 'a' has a shape that is not an array"},
      {"ThreeOffsets",
       withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":"
                  "[0,4,8]}}"),
       "tensor 'a' has data_offsets [0,4,8]"},
      {"ReversedOffsets",
       withHeader("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":"
                  "[8,0]}}"),
       "data_offsets [8, 0] that end before they begin"},
      {"SizeMismatch",
       withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":"
                  "[0,8]}}",
                  8),
       "tensor 'a' of dtype F32 and 1-d shape holds 12 bytes but "
       "data_offsets span 8"},
      {"ShapeOverflow",
       withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,"
                  "4294967296],\"data_offsets\":[0,8]}}",
                  8),
       "the size of tensor 'a' overflows"},
      {"HugeOffsets",
       withHeader("{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":"
                  "[18446744073709551600,18446744073709551608]}}",
                  8),
       "tensor 'a' starts at data byte 18446744073709551600 but the previous "
       "tensor ends at 0"},
      {"Gap",
       withHeader("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":"
                  "[4,8]}}",
                  8),
       "tensor 'a' starts at data byte 4 but the previous tensor ends at 0"},
      {"Overlap",
       withHeader("{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":"
                  "[0,8]},\"b\":{\"dtype\":\"U8\",\"shape\":[4],"
                  "\"data_offsets\":[4,8]}}",
                  8),
       "tensor 'b' starts at data byte 4 but the previous tensor ends at 8"},
      {"PastEnd", withHeader("{" + kTensorA + "}", 4),
       "tensor 'a' ends at data byte 8, past the 4 bytes of data"},
      {"TrailingData", withHeader("{" + kTensorA + "}", 12),
       "the tensors cover 8 bytes of data but the file holds 12"},
  };
}

TEST(SafetensorsHostile, EveryCaseIsRefusedWithAClearMessage) {
  for (const HostileCase &c : hostileCases()) {
    Result<SafetensorsFile> file =
        parseSafetensors(c.bytes.data(), c.bytes.size(), "bad.safetensors");
    ASSERT_FALSE(file.ok()) << c.name;
    EXPECT_NE(file.error().find(c.error), std::string::npos)
        << c.name << ": " << file.error();
    EXPECT_EQ(file.error().rfind("bad.safetensors: ", 0), 0u) << file.error();
  }
}

} // namespace
