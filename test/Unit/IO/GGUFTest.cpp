//===- GGUFTest.cpp - GGUF reading, writing, byte-exact round trips -------===//

#include "IOTesting.h"

#include "quantc/IO/GGUF.h"

#include <gtest/gtest.h>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

using namespace quantc;
using namespace quantc::io;
using namespace quantc::test;

namespace {

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i)
    bytes[i] = static_cast<uint8_t>(seed + i * 7);
  return bytes;
}

/// A file with a key of every type (arrays of every element type, nested
/// arrays included), a non-default alignment and tensors of several formats
/// whose sizes need padding.
struct EveryKind {
  GGUFFile file;
  std::vector<std::vector<uint8_t>> data;

  EveryKind() {
    auto &m = file.metadata;
    m.push_back({"general.alignment", GGUFValue::of(uint32_t(64))});
    m.push_back({"u8", GGUFValue::of(uint8_t(200))});
    m.push_back({"i8", GGUFValue::of(int8_t(-5))});
    m.push_back({"u16", GGUFValue::of(uint16_t(65535))});
    m.push_back({"i16", GGUFValue::of(int16_t(-300))});
    m.push_back({"u32", GGUFValue::of(uint32_t(4000000000u))});
    m.push_back({"i32", GGUFValue::of(int32_t(-70000))});
    m.push_back({"f32", GGUFValue::of(1.5f)});
    m.push_back({"bool", GGUFValue::of(true)});
    m.push_back({"str", GGUFValue::of("h\xc3\xa9llo \"world\"\n")});
    m.push_back({"empty.str", GGUFValue::of("")});
    m.push_back({"u64", GGUFValue::of(uint64_t(1) << 63)});
    m.push_back({"i64", GGUFValue::of(-(int64_t(1) << 40))});
    m.push_back({"f64", GGUFValue::of(-2.25)});
    m.push_back({"arr.u8", GGUFValue::arrayOf(std::vector<uint8_t>{1, 2, 3})});
    m.push_back({"arr.i8", GGUFValue::arrayOf(std::vector<int8_t>{-1, 1})});
    m.push_back({"arr.u16", GGUFValue::arrayOf(std::vector<uint16_t>{9})});
    m.push_back({"arr.i16", GGUFValue::arrayOf(std::vector<int16_t>{-9, 9})});
    m.push_back({"arr.u32", GGUFValue::arrayOf(std::vector<uint32_t>{7, 8})});
    m.push_back({"arr.i32", GGUFValue::arrayOf(std::vector<int32_t>{-7})});
    m.push_back({"arr.f32", GGUFValue::arrayOf(std::vector<float>{0.5f, -1})});
    m.push_back({"arr.bool", GGUFValue::arrayOf(std::vector<bool>{true})});
    m.push_back({"arr.u64", GGUFValue::arrayOf(std::vector<uint64_t>{1, 2})});
    m.push_back({"arr.i64", GGUFValue::arrayOf(std::vector<int64_t>{-3})});
    m.push_back({"arr.f64", GGUFValue::arrayOf(std::vector<double>{1e300})});
    m.push_back({"arr.str", GGUFValue::arrayOf(std::vector<std::string>{
                                "<unk>", "", "\xe2\x96\x81the"})});
    m.push_back({"arr.empty", GGUFValue::arrayOf(std::vector<float>{})});
    m.push_back({"arr.nested",
                 GGUFValue::arrayOfArrays(
                     {GGUFValue::arrayOf(std::vector<uint32_t>{1, 2, 3}),
                      GGUFValue::arrayOf(std::vector<std::string>{"a", "bc"}),
                      GGUFValue::arrayOfArrays(
                          {GGUFValue::arrayOf(std::vector<int8_t>{})})})});

    addTensor("t.f32", {3}, Format::F32, 1);
    addTensor("t.f16", {5, 2}, Format::F16, 2);
    addTensor("t.q8_0", {64, 3}, Format::Q8_0, 3);
    addTensor("t.q4_0", {32}, Format::Q4_0, 4);
    addTensor("t.bf16.4d", {7, 1, 1, 2}, Format::BF16, 5);
  }

  void addTensor(std::string name, std::vector<int64_t> shape, Format format,
                 uint8_t seed) {
    GGUFTensor tensor;
    tensor.name = std::move(name);
    tensor.shape = std::move(shape);
    tensor.format = format;
    data.push_back(pattern(tensor.getByteSize(), seed));
    file.tensors.push_back(std::move(tensor));
    // Point at the data only once `data` has stopped growing.
    for (size_t i = 0; i < file.tensors.size(); ++i)
      file.tensors[i].data = data[i].data();
  }
};

std::vector<uint8_t> write(const GGUFFile &file) {
  MemoryOutputStream out;
  Status status = writeGGUF(file, out);
  EXPECT_TRUE(status.ok()) << (status ? "" : status.error());
  return out.bytes();
}

TEST(GGUF, WritesTheLayoutOfLlamaCppsWriter) {
  // One u32 key and one 2-element f32 tensor, laid out field by field.
  GGUFFile file;
  file.metadata.push_back({"a", GGUFValue::of(uint32_t(7))});
  const float values[2] = {1.0f, 2.0f};
  GGUFTensor tensor;
  tensor.name = "t";
  tensor.shape = {2};
  tensor.data = reinterpret_cast<const uint8_t *>(values);
  file.tensors.push_back(tensor);

  ByteBuilder expected;
  expected.raw("GGUF").u32(3).i64(1).i64(1);
  expected.str("a").u32(4).u32(7);
  expected.str("t").u32(1).i64(2).u32(0).u64(0);
  expected.padTo(32);
  expected.f32(1.0f).f32(2.0f).padTo(32);
  EXPECT_EQ(write(file), expected.bytes);
  EXPECT_EQ(expected.size(), 128u);
}

TEST(GGUF, RoundTripsEveryValueTypeByteForByte) {
  EveryKind every;
  std::vector<uint8_t> first = write(every.file);
  Result<GGUFFile> read = parseGGUF(first.data(), first.size(), "memory");
  ASSERT_TRUE(read.ok()) << read.error();

  ASSERT_EQ(read->metadata.size(), every.file.metadata.size());
  for (size_t i = 0; i < read->metadata.size(); ++i) {
    EXPECT_EQ(read->metadata[i].key, every.file.metadata[i].key);
    EXPECT_TRUE(read->metadata[i].value == every.file.metadata[i].value)
        << read->metadata[i].key;
  }
  EXPECT_EQ(read->getAlignment(), 64u);
  EXPECT_EQ(read->dataOffset % 64, 0u);
  ASSERT_EQ(read->tensors.size(), every.file.tensors.size());
  for (size_t i = 0; i < read->tensors.size(); ++i) {
    const GGUFTensor &tensor = read->tensors[i];
    EXPECT_EQ(tensor.name, every.file.tensors[i].name);
    EXPECT_EQ(tensor.shape, every.file.tensors[i].shape);
    EXPECT_EQ(tensor.format, every.file.tensors[i].format);
    EXPECT_EQ(tensor.offset % 64, 0u);
    EXPECT_EQ(
        std::vector<uint8_t>(tensor.data, tensor.data + tensor.getByteSize()),
        every.data[i]);
  }
  EXPECT_EQ(write(*read), first);
}

TEST(GGUF, ReadsTypedValues) {
  EveryKind every;
  std::vector<uint8_t> bytes = write(every.file);
  Result<GGUFFile> file = parseGGUF(bytes.data(), bytes.size(), "memory");
  ASSERT_TRUE(file.ok()) << file.error();
  EXPECT_EQ(file->find("u32")->get<uint32_t>(), 4000000000u);
  EXPECT_EQ(file->find("u32")->get<int32_t>(), std::nullopt);
  EXPECT_EQ(file->find("i8")->getInteger(), -5);
  EXPECT_EQ(file->find("u64")->getInteger(), std::nullopt);
  EXPECT_EQ(file->find("bool")->get<bool>(), true);
  EXPECT_EQ(*file->find("str")->getString(), "h\xc3\xa9llo \"world\"\n");
  EXPECT_EQ(file->find("arr.f32")->getArray<float>(),
            (std::vector<float>{0.5f, -1}));
  EXPECT_EQ(file->find("arr.str")->getStringArray()->at(2), "\xe2\x96\x81the");
  EXPECT_EQ(file->find("arr.nested")->getArrays()->size(), 3u);
  EXPECT_EQ(formatGGUFValue(*file->find("arr.u32")), "[2 x u32] [7, 8]");
  EXPECT_EQ(formatGGUFValue(*file->find("str")),
            "\"h\xc3\xa9llo \\\"world\\\"\\n\"");
  EXPECT_EQ(formatGGUFValue(*file->find("arr.nested"), 1),
            "[3 x arr] [[3 x u32] [1, ...], ...]");
  EXPECT_EQ(file->findTensor("t.q8_0")->getRowCount(), 3u);
  EXPECT_EQ(file->find("missing"), nullptr);
}

TEST(GGUF, KeepsVersion2) {
  EveryKind every;
  every.file.version = 2;
  std::vector<uint8_t> bytes = write(every.file);
  Result<GGUFFile> file = parseGGUF(bytes.data(), bytes.size(), "memory");
  ASSERT_TRUE(file.ok()) << file.error();
  EXPECT_EQ(file->version, 2u);
  EXPECT_EQ(write(*file), bytes);
}

TEST(GGUF, SetMovesAReplacedKeyToTheEndLikeLlamaCpp) {
  GGUFFile file;
  file.set("a", GGUFValue::of(uint32_t(1)));
  file.set("b", GGUFValue::of(uint32_t(2)));
  file.set("a", GGUFValue::of(uint32_t(3)));
  ASSERT_EQ(file.metadata.size(), 2u);
  EXPECT_EQ(file.metadata[0].key, "b");
  EXPECT_EQ(file.metadata[1].key, "a");
  EXPECT_EQ(file.metadata[1].value.get<uint32_t>(), 3u);
  EXPECT_TRUE(file.remove("b"));
  EXPECT_FALSE(file.remove("b"));
}

TEST(GGUF, WritesFilesAtomically) {
  TempDir dir;
  EveryKind every;
  std::string path = dir.file("every.gguf");
  Status status = writeGGUFFile(every.file, path);
  ASSERT_TRUE(status.ok()) << status.error();
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"every.gguf"});
  Result<GGUFFile> read = readGGUF(path);
  ASSERT_TRUE(read.ok()) << read.error();
  EXPECT_EQ(write(*read), *readFile(path));

  // A failing tensor leaves the earlier file untouched and no temporary.
  Status failed = writeGGUFFile(
      every.file, path, [](size_t index, uint8_t *, uint64_t) -> Status {
        if (index == 2)
          return makeError("no data for tensor 2");
        return Status::success();
      });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error(), "no data for tensor 2");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"every.gguf"});
  EXPECT_EQ(write(*read), *readFile(path));
}

// An interrupted writer (Ctrl-C, kill) leaves neither output nor temporary,
// and still dies of its signal. SIGINT is tried only where it is not
// ignored (a shell starts background jobs with SIGINT ignored, and the
// cleanup leaves ignored signals alone).
TEST(GGUF, InterruptedWritesLeaveNoTemporary) {
  std::vector<int> signals = {SIGTERM};
  struct sigaction interrupt;
  if (::sigaction(SIGINT, nullptr, &interrupt) == 0 &&
      interrupt.sa_handler != SIG_IGN)
    signals.push_back(SIGINT);
  for (int signal : signals) {
    TempDir dir;
    std::string path = dir.file("out.gguf");
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      EveryKind every;
      (void)writeGGUFFile(every.file, path,
                          [&](size_t index, uint8_t *, uint64_t) -> Status {
                            if (index == 1)
                              ::raise(signal);
                            return Status::success();
                          });
      ::_exit(0); // not reached: the signal ends the child
    }
    int wstatus = 0;
    ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "exit status " << wstatus;
    EXPECT_EQ(WTERMSIG(wstatus), signal);
    EXPECT_EQ(dir.entries(), std::vector<std::string>{});
  }
}

TEST(GGUF, ReportsUnwritablePaths) {
  TempDir dir;
  Status status = writeGGUFFile(GGUFFile(), dir.file("missing/out.gguf"));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().find("missing/out.gguf"), std::string::npos);
  EXPECT_NE(status.error().find("No such file or directory"),
            std::string::npos);
}

TEST(GGUF, ReportsUnreadablePaths) {
  Result<GGUFFile> file = readGGUF("/nonexistent/model.gguf");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.error(),
            "/nonexistent/model.gguf: cannot open: No such file or directory");
  TempDir dir;
  Result<GGUFFile> directory = readGGUF(dir.path.string());
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.error().find("not a regular file"), std::string::npos);
}

TEST(GGUF, WriterRefusesWhatAReaderWould) {
  auto refusal = [](GGUFFile file) {
    MemoryOutputStream out;
    Status status = writeGGUF(file, out);
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(out.tell(), 0u);
    return status.ok() ? std::string() : status.error();
  };
  const uint8_t data[64] = {};
  GGUFTensor tensor;
  tensor.name = "t";
  tensor.shape = {8};
  tensor.data = data;

  GGUFFile duplicateKey;
  duplicateKey.metadata = {{"k", GGUFValue::of(1.0f)},
                           {"k", GGUFValue::of(2.0f)}};
  EXPECT_EQ(refusal(duplicateKey), "duplicate GGUF metadata key 'k'");

  GGUFFile badAlignment;
  badAlignment.set("general.alignment", GGUFValue::of(uint64_t(32)));
  const std::string alignmentError =
      "general.alignment must be a u32 power of two up to 16777216";
  EXPECT_EQ(refusal(badAlignment), alignmentError);
  badAlignment.set("general.alignment", GGUFValue::of(uint32_t(48)));
  EXPECT_EQ(refusal(badAlignment), alignmentError);
  badAlignment.set("general.alignment", GGUFValue::of(uint32_t(1) << 25));
  EXPECT_EQ(refusal(badAlignment), alignmentError);

  GGUFFile badNesting;
  badNesting.set("n", GGUFValue::arrayOfArrays({GGUFValue::of(1.0f)}));
  EXPECT_NE(refusal(badNesting).find("non-array element"), std::string::npos);

  GGUFFile twice;
  twice.tensors = {tensor, tensor};
  EXPECT_EQ(refusal(twice), "duplicate GGUF tensor name 't'");

  GGUFFile partialBlock;
  partialBlock.tensors = {tensor};
  partialBlock.tensors[0].format = Format::Q8_0;
  EXPECT_NE(refusal(partialBlock).find("whole number of blocks"),
            std::string::npos);

  GGUFFile longName;
  longName.tensors = {tensor};
  longName.tensors[0].name.assign(64, 'x');
  EXPECT_NE(refusal(longName).find("must have 1 to 63 bytes"),
            std::string::npos);

  GGUFFile fiveDims;
  fiveDims.tensors = {tensor};
  fiveDims.tensors[0].shape = {1, 1, 1, 1, 1};
  EXPECT_NE(refusal(fiveDims).find("5 dimensions"), std::string::npos);

  GGUFFile noData;
  noData.tensors = {tensor};
  noData.tensors[0].data = nullptr;
  EXPECT_EQ(refusal(noData), "GGUF tensor 't' has no data");
}

TEST(GGUF, RoundTripsEveryGGUFInSharedData) {
  std::filesystem::path root(QUANTC_SHARED_DATA_DIR);
  if (!std::filesystem::is_directory(root))
    GTEST_SKIP() << root.string()
                 << " is absent (../shared/data not beside the checkout)";
  int count = 0;
  for (const auto &entry :
       std::filesystem::recursive_directory_iterator(root)) {
    if (entry.path().extension() != ".gguf")
      continue;
    ++count;
    Result<GGUFFile> file = readGGUF(entry.path().string());
    ASSERT_TRUE(file.ok()) << file.error();
    EXPECT_EQ(write(*file), *readFile(entry.path())) << entry.path();
  }
  if (count == 0)
    GTEST_SKIP() << "no .gguf file under " << root.string();
}

} // namespace
