//===- Model.cpp - running a compiled forward pass ------------------------===//

#include "quantc/Runtime/Model.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include <cstring>
#include <dlfcn.h>
#include <fstream>

namespace quantc::runtime {

namespace {

/// The C interface's memref descriptor of a given rank.
template <int Rank> struct MemRefDescriptor {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[Rank];
  int64_t strides[Rank];
};

template <int Rank>
MemRefDescriptor<Rank> describe(const void *data,
                                const std::array<int64_t, Rank> &shape) {
  MemRefDescriptor<Rank> descriptor;
  // The compiled code never frees or writes through weight descriptors;
  // the const_cast only fits the C struct.
  descriptor.allocated = const_cast<void *>(data);
  descriptor.aligned = const_cast<void *>(data);
  descriptor.offset = 0;
  int64_t stride = 1;
  for (int i = Rank - 1; i >= 0; --i) {
    descriptor.sizes[i] = shape[i];
    descriptor.strides[i] = stride;
    stride *= shape[i];
  }
  return descriptor;
}

bool positive(int64_t value) { return value > 0; }

} // namespace

std::string ModelInterface::toJSON() const {
  nlohmann::ordered_json json;
  json["format"] = "quantc-model";
  json["version"] = 1;
  json["layers"] = layers;
  json["context_length"] = contextLength;
  json["kv_dim"] = kvDim;
  json["vocab_size"] = vocabSize;
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (const WeightFile &file : weightFiles)
    files.push_back({{"path", file.path}, {"required_bytes", file.requiredBytes}});
  json["weight_files"] = std::move(files);
  json["tokenizer"] = tokenizerPath;
  json["source"] = source;
  return json.dump(2);
}

Result<ModelInterface> ModelInterface::fromJSON(const std::string &text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object())
    return io::makeError("model manifest is not a JSON object");
  try {
    if (json.value("format", "") != "quantc-model" ||
        json.value("version", 0) != 1)
      return io::makeError("model manifest has an unknown format or version");
    ModelInterface interface;
    interface.layers = json.at("layers").get<int64_t>();
    interface.contextLength = json.at("context_length").get<int64_t>();
    interface.kvDim = json.at("kv_dim").get<int64_t>();
    interface.vocabSize = json.at("vocab_size").get<int64_t>();
    for (const auto &file : json.at("weight_files"))
      interface.weightFiles.push_back(
          {file.at("path").get<std::string>(),
           file.at("required_bytes").get<uint64_t>()});
    interface.tokenizerPath = json.value("tokenizer", "");
    interface.source = json.value("source", "");
    if (!positive(interface.layers) || !positive(interface.contextLength) ||
        !positive(interface.kvDim) || !positive(interface.vocabSize))
      return io::makeError("model manifest has a non-positive size");
    return interface;
  } catch (const nlohmann::json::exception &error) {
    return io::makeError("model manifest: ", error.what());
  }
}

Result<std::unique_ptr<Model>>
Model::create(ModelInterface interface, PackedForward forward,
              std::shared_ptr<void> owner,
              const std::vector<HostWeights> &hostWeights) {
  std::unique_ptr<Model> model(new Model());
  for (const ModelInterface::WeightFile &file : interface.weightFiles) {
    auto host = std::find_if(
        hostWeights.begin(), hostWeights.end(),
        [&](const HostWeights &weights) { return weights.path == file.path; });
    if (host != hostWeights.end()) {
      if (host->size < file.requiredBytes)
        return io::makeError("weights: the host buffer for ", file.path,
                             " holds ", host->size,
                             " bytes, but the model reads ",
                             file.requiredBytes);
      model->weights.emplace_back(host->data, host->size);
      continue;
    }
    Result<std::shared_ptr<const io::MappedFile>> mapped =
        io::MappedFile::open(file.path);
    if (!mapped)
      return io::makeError("weights: ", mapped.error());
    if ((*mapped)->size() < file.requiredBytes)
      return io::makeError(file.path, ": ", (*mapped)->size(),
                           " bytes, but the model reads ", file.requiredBytes,
                           " (the file changed since it was imported?)");
    model->weights.emplace_back((*mapped)->data(), (*mapped)->size());
    model->mappings.push_back(*mapped);
  }
  model->interface = std::move(interface);
  model->forward = forward;
  model->owner = std::move(owner);
  return model;
}

std::unique_ptr<Session> Model::createSession() const {
  return std::make_unique<Session>(*this);
}

Session::Session(const Model &model) : model(model) {
  const ModelInterface &shape = model.interface;
  size_t cacheSize = static_cast<size_t>(shape.layers * shape.contextLength *
                                         shape.kvDim);
  keyCache.assign(cacheSize, 0.0f);
  valueCache.assign(cacheSize, 0.0f);
}

Status Session::forward(const int32_t *tokens, int64_t count, int64_t position,
                        float *logits) {
  const ModelInterface &shape = model.interface;
  if (count <= 0)
    return io::makeError("forward: no tokens");
  if (position < 0 || position > shape.contextLength - count)
    return io::makeError("forward: positions ", position, "..",
                         position + count - 1, " exceed the context length ",
                         shape.contextLength);
  for (int64_t i = 0; i < count; ++i)
    if (tokens[i] < 0 || tokens[i] >= shape.vocabSize)
      return io::makeError("forward: token id ", tokens[i],
                           " outside the vocabulary of ", shape.vocabSize);

  std::vector<MemRefDescriptor<1>> files;
  for (const auto &[data, size] : model.weights)
    files.push_back(describe<1>(data, {static_cast<int64_t>(size)}));
  MemRefDescriptor<1> tokenView = describe<1>(tokens, {count});
  std::array<int64_t, 3> cacheShape = {shape.layers, shape.contextLength,
                                       shape.kvDim};
  MemRefDescriptor<3> keys = describe<3>(keyCache.data(), cacheShape);
  MemRefDescriptor<3> values = describe<3>(valueCache.data(), cacheShape);
  MemRefDescriptor<2> logitView = describe<2>(logits, {count, shape.vocabSize});

  std::vector<void *> pointers;
  for (auto &file : files)
    pointers.push_back(&file);
  pointers.push_back(&tokenView);
  pointers.push_back(&keys);
  pointers.push_back(&values);
  pointers.push_back(&logitView);
  // args[i] points at argument i: the descriptor pointers, and pos itself.
  std::vector<void *> args;
  size_t fileCount = files.size();
  for (size_t i = 0; i < fileCount + 1; ++i)
    args.push_back(&pointers[i]);
  args.push_back(&position);
  for (size_t i = fileCount + 1; i < pointers.size(); ++i)
    args.push_back(&pointers[i]);
  model.forward(args.data());
  return Status::success();
}

bool isArtifact(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  char magic[4] = {};
  return file.read(magic, 4) && std::memcmp(magic, "\x7f" "ELF", 4) == 0;
}

Result<std::unique_ptr<Model>> loadArtifact(const std::string &path) {
  if (!isArtifact(path))
    return io::makeError(path, ": not a compiled model (no ELF header)");
  // A path without a slash would make dlopen search the library path.
  std::string qualified = path.find('/') == std::string::npos ? "./" + path : path;
  void *handle = ::dlopen(qualified.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    return io::makeError(path, ": cannot load: ", ::dlerror());
  std::shared_ptr<void> owner(handle, [](void *h) { ::dlclose(h); });
  auto *manifest = static_cast<const char *>(::dlsym(handle, "qc_manifest"));
  auto forward = reinterpret_cast<PackedForward>(::dlsym(handle, "qc_forward"));
  if (!manifest || !forward)
    return io::makeError(path, ": a shared object, but not a quantc model "
                               "(no qc_manifest / qc_forward)");
  Result<ModelInterface> interface = ModelInterface::fromJSON(manifest);
  if (!interface)
    return io::makeError(path, ": ", interface.error());
  return Model::create(std::move(*interface), forward, std::move(owner));
}

} // namespace quantc::runtime
