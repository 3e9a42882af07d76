//===- Imatrix.cpp - llama.cpp importance matrices ------------------------===//

#include "quantc/IO/Imatrix.h"

#include "Bytes.h"

#include <cmath>

namespace quantc::io {

const std::vector<float> *
ImportanceMatrix::lookup(const std::string &name) const {
  if (forEveryTensor)
    return &*forEveryTensor;
  auto it = entries.find(name);
  return it == entries.end() ? nullptr : &it->second;
}

namespace {

/// Quantizers weight squared errors by these; anything but finite,
/// non-negative weights makes their searches meaningless.
Status checkWeights(const std::vector<float> &weights, const std::string &name,
                    const std::string &entry) {
  for (size_t i = 0; i < weights.size(); ++i)
    if (!std::isfinite(weights[i]) || weights[i] < 0)
      return makeError(name, ": importance of '", entry, "' column ", i, " is ",
                       weights[i], "; weights must be finite and non-negative");
  return Status::success();
}

std::vector<float> readFloats(const uint8_t *bytes, uint64_t count) {
  std::vector<float> values(count);
  if (count != 0)
    std::memcpy(values.data(), bytes, count * sizeof(float));
  return values;
}

bool hasSuffix(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

Result<ImportanceMatrix> parseGGUFImatrix(const GGUFFile &file,
                                          const std::string &name) {
  ImportanceMatrix matrix;
  matrix.format = "gguf";
  const std::string sums = ".in_sum2", counts = ".counts";
  std::map<std::string, std::pair<const GGUFTensor *, const GGUFTensor *>>
      pairs;
  for (const GGUFTensor &tensor : file.tensors) {
    if (hasSuffix(tensor.name, sums))
      pairs[tensor.name.substr(0, tensor.name.size() - sums.size())].first =
          &tensor;
    else if (hasSuffix(tensor.name, counts))
      pairs[tensor.name.substr(0, tensor.name.size() - counts.size())].second =
          &tensor;
  }
  for (const auto &[entry, pair] : pairs) {
    const auto [sum, count] = pair;
    if (!sum || !count)
      return makeError(name, ": imatrix entry '", entry, "' has ",
                       sum ? "sums but no counts" : "counts but no sums");
    if (sum->format != Format::F32 || count->format != Format::F32)
      return makeError(name, ": imatrix tensors of '", entry, "' must be f32");
    uint64_t columns = static_cast<uint64_t>(sum->shape[0]);
    uint64_t matrices = sum->getRowCount();
    if (count->getElementCount() != matrices)
      return makeError(name, ": imatrix entry '", entry, "' has ", matrices,
                       " rows of sums but ", count->getElementCount(),
                       " counts");
    std::vector<float> sumValues = readFloats(sum->data, columns * matrices);
    std::vector<float> countValues = readFloats(count->data, matrices);
    std::vector<float> weights(columns * matrices);
    for (uint64_t m = 0; m < matrices; ++m)
      for (uint64_t c = 0; c < columns; ++c)
        weights[m * columns + c] =
            countValues[m] > 0 ? sumValues[m * columns + c] / countValues[m]
                               : 1.0f;
    if (Status status = checkWeights(weights, name, entry); !status)
      return status.takeError();
    matrix.entries.emplace(entry, std::move(weights));
  }
  if (matrix.entries.empty())
    return makeError(name, ": a GGUF without imatrix tensors "
                           "(NAME.in_sum2 and NAME.counts)");
  if (const GGUFValue *datasets = file.find("imatrix.datasets"))
    if (const std::vector<std::string> *names = datasets->getStringArray())
      matrix.datasets = *names;
  if (const GGUFValue *chunks = file.find("imatrix.chunk_count"))
    matrix.chunkCount = chunks->get<uint32_t>();
  return matrix;
}

Result<ImportanceMatrix> parseLegacyImatrix(const uint8_t *data, size_t size,
                                            const std::string &name) {
  ByteReader in(data, size);
  auto truncated = [&](const std::string &what) {
    return makeError(name, ": truncated legacy imatrix: ", what, " at byte ",
                     in.offset(), " runs past the end");
  };
  ImportanceMatrix matrix;
  matrix.format = "legacy";
  int32_t entries;
  if (!in.read(entries))
    return truncated("the entry count");
  // An entry takes at least 16 bytes (three int32 and one float).
  if (entries < 1 || static_cast<uint64_t>(entries) > in.remaining() / 16)
    return makeError(name, ": legacy imatrix entry count ", entries,
                     " is not between 1 and what ", size, " bytes can hold");
  for (int32_t i = 0; i < entries; ++i) {
    std::string what = "entry " + std::to_string(i);
    int32_t nameLength, calls, values;
    std::string entry;
    if (!in.read(nameLength))
      return truncated("the name length of " + what);
    if (nameLength < 0 ||
        !in.readString(static_cast<uint64_t>(nameLength), entry))
      return truncated("the " + std::to_string(nameLength) + "-byte name of " +
                       what);
    if (!in.read(calls) || !in.read(values))
      return truncated("the counts of '" + entry + "'");
    const uint8_t *bytes;
    if (values < 1)
      return makeError(name, ": imatrix entry '", entry, "' has ", values,
                       " values");
    if (!in.view(static_cast<uint64_t>(values) * sizeof(float), bytes))
      return truncated("the " + std::to_string(values) + " values of '" +
                       entry + "'");
    std::vector<float> weights = readFloats(bytes, values);
    if (calls > 0)
      for (float &w : weights)
        w /= static_cast<float>(calls);
    if (Status status = checkWeights(weights, name, entry); !status)
      return status.takeError();
    if (!matrix.entries.emplace(entry, std::move(weights)).second)
      return makeError(name, ": duplicate imatrix entry '", entry, "'");
  }
  // Newer legacy files end with the chunk count and the dataset name.
  if (in.remaining() != 0) {
    int32_t lastCall, datasetLength;
    std::string dataset;
    if (!in.read(lastCall) || !in.read(datasetLength) || datasetLength < 0 ||
        !in.readString(static_cast<uint64_t>(datasetLength), dataset))
      return truncated("the trailing chunk count and dataset name");
    if (in.remaining() != 0)
      return makeError(name, ": ", in.remaining(),
                       " unexpected bytes at the end of a legacy imatrix");
    if (lastCall >= 0)
      matrix.chunkCount = static_cast<uint32_t>(lastCall);
    matrix.datasets.push_back(std::move(dataset));
  }
  return matrix;
}

Result<ImportanceMatrix> parseRawImatrix(const uint8_t *data, size_t size,
                                         const std::string &name) {
  if (size == 0 || size % sizeof(float) != 0)
    return makeError(name, ": a raw imatrix holds float32 values; ", size,
                     " bytes is not a positive multiple of 4");
  ImportanceMatrix matrix;
  matrix.format = "raw";
  std::vector<float> weights = readFloats(data, size / sizeof(float));
  if (Status status = checkWeights(weights, name, "raw"); !status)
    return status.takeError();
  matrix.forEveryTensor = std::move(weights);
  return matrix;
}

Result<ImportanceMatrix> readImatrix(const std::string &path) {
  Result<std::shared_ptr<const MappedFile>> mapped = MappedFile::open(path);
  if (!mapped)
    return mapped.takeError();
  const uint8_t *data = (*mapped)->data();
  size_t size = (*mapped)->size();
  if (size >= 4 && std::memcmp(data, "GGUF", 4) == 0) {
    Result<GGUFFile> file = parseGGUF(data, size, path);
    if (!file)
      return file.takeError();
    return parseGGUFImatrix(*file, path);
  }
  if (hasSuffix(path, ".f32"))
    return parseRawImatrix(data, size, path);
  Result<ImportanceMatrix> legacy = parseLegacyImatrix(data, size, path);
  if (!legacy)
    return makeError(legacy.error(),
                     " (an imatrix is a llama-imatrix GGUF, a legacy .dat, "
                     "or raw float32 named *.f32)");
  return legacy;
}

} // namespace quantc::io
