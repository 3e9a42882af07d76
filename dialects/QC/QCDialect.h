//===- QCDialect.h - The qc dialect, its attributes and types ---*- C++ -*-===//

#ifndef QC_QCDIALECT_H
#define QC_QCDIALECT_H

#include "quantc/Support/GeneratedCode.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectImplementation.h"
#include "quantc/Numerics/Formats.h"
#include "quantc/Numerics/GroupedAffine.h"

#include <optional>

namespace mlir::qc {
// Parameter spellings shared by the generated attribute and type parsers.
FailureOr<llvm::APFloat> parseF64(AsmParser &parser);
void printF64(AsmPrinter &printer, const llvm::APFloat &value);
FailureOr<DenseF64ArrayAttr> parseF64List(AsmParser &parser);
void printF64List(AsmPrinter &printer, DenseF64ArrayAttr values);
FailureOr<SmallVector<int64_t>> parseI64List(AsmParser &parser);
void printI64List(AsmPrinter &printer, ArrayRef<int64_t> values);
FailureOr<SmallVector<int64_t>> parseStaticShape(AsmParser &parser);
void printStaticShape(AsmPrinter &printer, ArrayRef<int64_t> shape);
FailureOr<::quantc::Format> parseFormat(AsmParser &parser);
void printFormat(AsmPrinter &printer, ::quantc::Format format);
} // namespace mlir::qc

QUANTC_BEGIN_GENERATED_CODE
#include "QC/QCOpsDialect.h.inc"
QUANTC_END_GENERATED_CODE

QUANTC_BEGIN_GENERATED_CODE
#include "QC/QCOpsEnums.h.inc"
QUANTC_END_GENERATED_CODE

QUANTC_BEGIN_GENERATED_CODE
#define GET_ATTRDEF_CLASSES
#include "QC/QCOpsAttrs.h.inc"
QUANTC_END_GENERATED_CODE

QUANTC_BEGIN_GENERATED_CODE
#define GET_TYPEDEF_CLASSES
#include "QC/QCOpsTypes.h.inc"
QUANTC_END_GENERATED_CODE

#endif // QC_QCDIALECT_H
