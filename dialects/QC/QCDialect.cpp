//===- QCDialect.cpp - qc dialect, attributes and types -------------------===//

#include "QC/QCOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qc;

QUANTC_BEGIN_GENERATED_CODE
#include "QC/QCOpsDialect.cpp.inc"
QUANTC_END_GENERATED_CODE

QUANTC_BEGIN_GENERATED_CODE
#include "QC/QCOpsEnums.cpp.inc"
QUANTC_END_GENERATED_CODE

QUANTC_BEGIN_GENERATED_CODE
#define GET_ATTRDEF_CLASSES
#include "QC/QCOpsAttrs.cpp.inc"
QUANTC_END_GENERATED_CODE

QUANTC_BEGIN_GENERATED_CODE
#define GET_TYPEDEF_CLASSES
#include "QC/QCOpsTypes.cpp.inc"
QUANTC_END_GENERATED_CODE

void QCDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "QC/QCOpsAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "QC/QCOpsTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "QC/QCOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Parameter spellings
//===----------------------------------------------------------------------===//

FailureOr<llvm::APFloat> mlir::qc::parseF64(AsmParser &parser) {
  double value;
  if (parser.parseFloat(value))
    return failure();
  return llvm::APFloat(value);
}

void mlir::qc::printF64(AsmPrinter &printer, const llvm::APFloat &value) {
  printer.printFloat(value);
}

FailureOr<DenseF64ArrayAttr> mlir::qc::parseF64List(AsmParser &parser) {
  SmallVector<double> values;
  if (parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&] {
        return parser.parseFloat(values.emplace_back());
      }))
    return failure();
  return DenseF64ArrayAttr::get(parser.getContext(), values);
}

void mlir::qc::printF64List(AsmPrinter &printer, DenseF64ArrayAttr values) {
  printer << '[';
  llvm::interleaveComma(values.asArrayRef(), printer, [&](double value) {
    printF64(printer, llvm::APFloat(value));
  });
  printer << ']';
}

FailureOr<SmallVector<int64_t>> mlir::qc::parseI64List(AsmParser &parser) {
  SmallVector<int64_t> values;
  if (parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&] {
        return parser.parseInteger(values.emplace_back());
      }))
    return failure();
  return values;
}

void mlir::qc::printI64List(AsmPrinter &printer, ArrayRef<int64_t> values) {
  printer << '[';
  llvm::interleaveComma(values, printer);
  printer << ']';
}

FailureOr<SmallVector<int64_t>> mlir::qc::parseStaticShape(AsmParser &parser) {
  SmallVector<int64_t> shape;
  if (parser.parseDimensionList(shape, /*allowDynamic=*/false,
                                /*withTrailingX=*/false))
    return failure();
  return shape;
}

void mlir::qc::printStaticShape(AsmPrinter &printer, ArrayRef<int64_t> shape) {
  llvm::interleave(shape, printer, "x");
}

FailureOr<::quantc::Format> mlir::qc::parseFormat(AsmParser &parser) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef name;
  if (parser.parseKeyword(&name))
    return failure();
  if (std::optional<::quantc::Format> format =
          ::quantc::lookupFormat({name.data(), name.size()}))
    return *format;
  size_t count = 0;
  const ::quantc::FormatInfo *formats = ::quantc::allFormats(count);
  InFlightDiagnostic diag = parser.emitError(loc)
                            << "unknown storage format '" << name
                            << "'; known formats:";
  for (size_t i = 0; i < count; ++i)
    diag << ' ' << formats[i].name;
  return diag;
}

void mlir::qc::printFormat(AsmPrinter &printer, ::quantc::Format format) {
  std::string_view name = ::quantc::getFormatInfo(format).name;
  printer << StringRef(name.data(), name.size());
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

LogicalResult
HistogramAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      llvm::APFloat loValue, llvm::APFloat hiValue,
                      ArrayRef<int64_t> counts) {
  double lo = loValue.convertToDouble(), hi = hiValue.convertToDouble();
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi))
    return emitError() << "histogram range [" << lo << ", " << hi
                       << "] must be finite with lo < hi";
  if (counts.empty())
    return emitError() << "histogram needs at least one bin";
  for (auto [index, count] : llvm::enumerate(counts))
    if (count < 0)
      return emitError() << "histogram bin " << index << " has negative count "
                         << count;
  return success();
}

LogicalResult ExternalAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   StringRef path, uint64_t offset) {
  (void)offset;
  if (path.empty())
    return emitError() << "external weight needs a file path";
  return success();
}

LogicalResult StatsAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                int64_t count, std::optional<int64_t> axis,
                                DenseF64ArrayAttr minAttr,
                                DenseF64ArrayAttr maxAttr,
                                HistogramAttr histogram) {
  if (!minAttr || !maxAttr)
    return emitError() << "statistics need min and max";
  ArrayRef<double> min = minAttr.asArrayRef(), max = maxAttr.asArrayRef();
  if (count <= 0)
    return emitError() << "statistics count must be positive, got " << count;
  if (min.size() != max.size())
    return emitError() << "statistics have " << min.size() << " min and "
                       << max.size() << " max values";
  if (min.empty())
    return emitError() << "statistics need at least one min/max pair";
  if (axis && *axis < 0)
    return emitError() << "statistics axis must be non-negative, got " << *axis;
  if (!axis && min.size() != 1)
    return emitError() << "per-tensor statistics have one min/max pair, got "
                       << min.size() << " (set axis for per-channel)";
  for (size_t i = 0, e = min.size(); i < e; ++i) {
    if (!std::isfinite(min[i]) || !std::isfinite(max[i]))
      return emitError() << "statistics of slice " << i
                         << " are not finite (min " << min[i] << ", max "
                         << max[i] << ")";
    if (min[i] > max[i])
      return emitError() << "statistics of slice " << i << " have min "
                         << min[i] << " > max " << max[i];
  }
  if (histogram && axis)
    return emitError() << "a histogram is per-tensor; it cannot accompany "
                          "per-channel statistics";
  return success();
}

double StatsAttr::getAbsMax(size_t i) const {
  return std::max(std::fabs(getMin()[i]), std::fabs(getMax()[i]));
}

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

LogicalResult PackedType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<int64_t> shape,
                                 ::quantc::Format format) {
  const ::quantc::FormatInfo &info = ::quantc::getFormatInfo(format);
  StringRef name(info.name.data(), info.name.size());
  if (!info.isBlockQuantized())
    return emitError() << "'" << name
                       << "' is not a block format; use a tensor of " << name;
  if (shape.empty())
    return emitError() << "packed tensors need rank >= 1";
  int64_t elements = 1;
  for (int64_t dim : shape) {
    if (dim <= 0)
      return emitError() << "packed tensor dimensions must be positive, got "
                         << dim;
    if (llvm::MulOverflow(elements, dim, elements))
      return emitError() << "packed tensor has too many elements";
  }
  if (shape.back() % info.blockSize != 0)
    return emitError() << "row length " << shape.back()
                       << " is not a multiple of the " << name << " block size "
                       << info.blockSize;
  return success();
}

const ::quantc::FormatInfo &PackedType::getFormatInfo() const {
  return ::quantc::getFormatInfo(getFormat());
}

int64_t PackedType::getNumElements() const {
  int64_t elements = 1;
  for (int64_t dim : getShape())
    elements *= dim;
  return elements;
}

uint64_t PackedType::getSizeInBytes() const {
  const ::quantc::FormatInfo &info = getFormatInfo();
  return static_cast<uint64_t>(getNumRows()) * *info.rowBytes(getRowLength());
}

LogicalResult GroupedType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  ArrayRef<int64_t> shape,
                                  IntegerType storageType, int64_t groupSize) {
  if (shape.size() != 2)
    return emitError() << "grouped weights are matrices (rank 2), got rank "
                       << shape.size();
  for (int64_t dim : shape)
    if (dim <= 0)
      return emitError() << "grouped weight dimensions must be positive, got "
                         << dim;
  if (storageType.isSignless())
    return emitError() << "storage type " << storageType
                       << " must say its mapping: si<N> (symmetric) or ui<N> "
                          "(asymmetric)";
  unsigned width = storageType.getWidth();
  if (width < 2 || width > 8)
    return emitError() << "storage width of " << width
                       << " bits is outside the supported 2..8";
  if (groupSize < 0)
    return emitError() << "group size must be positive, got " << groupSize;
  return success();
}

::quantc::GroupedFormat GroupedType::getFormat() const {
  ::quantc::GroupedFormat format;
  format.bits = getStorageType().getWidth();
  format.isSigned = getStorageType().isSigned();
  format.groupSize = getGroupSize();
  return format;
}

uint64_t GroupedType::getSizeInBytes() const {
  return ::quantc::groupedLayout(getFormat(), getNumRows(), getRowLength())
      .totalBytes;
}
