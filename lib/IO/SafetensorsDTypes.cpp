//===- SafetensorsDTypes.cpp - safetensors dtype names and sizes ----------===//

#include "quantc/IO/Safetensors.h"

#include <iterator>

namespace quantc::io {
namespace {
struct DTypeInfo {
  SafetensorsDType dtype;
  std::string_view name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {SafetensorsDType::BOOL, "BOOL", 1},
    {SafetensorsDType::U8, "U8", 1},
    {SafetensorsDType::I8, "I8", 1},
    {SafetensorsDType::F8_E5M2, "F8_E5M2", 1},
    {SafetensorsDType::F8_E4M3, "F8_E4M3", 1},
    {SafetensorsDType::I16, "I16", 2},
    {SafetensorsDType::U16, "U16", 2},
    {SafetensorsDType::F16, "F16", 2},
    {SafetensorsDType::BF16, "BF16", 2},
    {SafetensorsDType::I32, "I32", 4},
    {SafetensorsDType::U32, "U32", 4},
    {SafetensorsDType::F32, "F32", 4},
    {SafetensorsDType::F64, "F64", 8},
    {SafetensorsDType::I64, "I64", 8},
    {SafetensorsDType::U64, "U64", 8},
};

constexpr bool tableIsInEnumOrder() {
  for (size_t i = 0; i < std::size(kDTypes); ++i)
    if (static_cast<size_t>(kDTypes[i].dtype) != i)
      return false;
  return true;
}
static_assert(tableIsInEnumOrder(), "kDTypes must follow SafetensorsDType");
} // namespace

std::string_view getSafetensorsDTypeName(SafetensorsDType dtype) {
  return kDTypes[static_cast<size_t>(dtype)].name;
}

size_t getSafetensorsDTypeSize(SafetensorsDType dtype) {
  return kDTypes[static_cast<size_t>(dtype)].size;
}

std::optional<SafetensorsDType> lookupSafetensorsDType(std::string_view name) {
  for (const DTypeInfo &info : kDTypes)
    if (info.name == name)
      return info.dtype;
  return std::nullopt;
}

uint64_t SafetensorsTensor::getElementCount() const {
  uint64_t count = 1;
  for (uint64_t dim : shape)
    count *= dim;
  return count;
}

const SafetensorsTensor *SafetensorsFile::find(std::string_view name) const {
  for (const SafetensorsTensor &tensor : tensors)
    if (tensor.name == name)
      return &tensor;
  return nullptr;
}

} // namespace quantc::io
