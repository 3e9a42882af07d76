//===- QCOps.cpp - qc operation verifiers and folders ---------------------===//

#include "QC/QCOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qc;

QUANTC_BEGIN_GENERATED_CODE
#define GET_OP_CLASSES
#include "QC/QCOps.cpp.inc"
QUANTC_END_GENERATED_CODE

//===----------------------------------------------------------------------===//
// Shared verification of quantization parameters against a tensor shape
//===----------------------------------------------------------------------===//

namespace {
// Storage widths quantc's integer numerics implement.
constexpr unsigned kMinStorageBits = 2;
constexpr unsigned kMaxStorageBits = 8;

LogicalResult
checkScaleAndZeroPoint(function_ref<InFlightDiagnostic()> emitError,
                       double scale, int64_t zeroPoint, int64_t storageMin,
                       int64_t storageMax, std::optional<int64_t> index) {
  auto where = [&](InFlightDiagnostic diag) -> InFlightDiagnostic {
    if (index)
      diag << " (index " << *index << ")";
    return diag;
  };
  if (!std::isfinite(scale) || !(scale > 0.0))
    return where(emitError() << "scale " << scale) << " must be finite and > 0";
  if (zeroPoint < storageMin || zeroPoint > storageMax)
    return where(emitError() << "zero point " << zeroPoint)
           << " is outside the storage range [" << storageMin << ", "
           << storageMax << "]";
  return success();
}
} // namespace

LogicalResult mlir::qc::verifyUniformQuantization(
    function_ref<InFlightDiagnostic()> emitError, ArrayRef<int64_t> shape,
    Type expressed, Type quantType) {
  auto quantized = dyn_cast<quant::QuantizedType>(quantType);
  if (!quantized ||
      !isa<quant::UniformQuantizedType, quant::UniformQuantizedPerAxisType,
           quant::UniformQuantizedSubChannelType>(quantized))
    return emitError() << "expects a !quant.uniform element type, got "
                       << quantType;
  if (quantized.getExpressedType() != expressed)
    return emitError() << "quantized type expresses "
                       << quantized.getExpressedType()
                       << " but the float tensor holds " << expressed;
  unsigned width = quantized.getStorageTypeIntegralWidth();
  if (width < kMinStorageBits || width > kMaxStorageBits)
    return emitError() << "storage width of " << width
                       << " bits is outside the supported " << kMinStorageBits
                       << ".." << kMaxStorageBits;
  int64_t storageMin = quantized.getStorageTypeMin();
  int64_t storageMax = quantized.getStorageTypeMax();
  auto rank = static_cast<int64_t>(shape.size());

  if (auto perTensor = dyn_cast<quant::UniformQuantizedType>(quantized))
    return checkScaleAndZeroPoint(emitError, perTensor.getScale(),
                                  perTensor.getZeroPoint(), storageMin,
                                  storageMax, std::nullopt);

  if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(quantized)) {
    int64_t axis = perAxis.getQuantizedDimension();
    if (axis >= rank)
      return emitError() << "quantized axis " << axis
                         << " is out of bounds for a rank-" << rank
                         << " tensor";
    auto numScales = static_cast<int64_t>(perAxis.getScales().size());
    if (!ShapedType::isDynamic(shape[axis]) && shape[axis] != numScales)
      return emitError() << "per-axis type has " << numScales
                         << " scales but dimension " << axis << " has size "
                         << shape[axis];
    for (auto [index, scale, zeroPoint] :
         llvm::enumerate(perAxis.getScales(), perAxis.getZeroPoints()))
      if (failed(checkScaleAndZeroPoint(emitError, scale, zeroPoint, storageMin,
                                        storageMax, index)))
        return failure();
    return success();
  }

  auto subChannel = cast<quant::UniformQuantizedSubChannelType>(quantized);
  ArrayRef<int64_t> scalesShape = subChannel.getScales().getType().getShape();
  if (static_cast<int64_t>(scalesShape.size()) != rank)
    return emitError() << "sub-channel scales have rank " << scalesShape.size()
                       << " but the tensor has rank " << rank;
  for (auto [axis, blockSize] : llvm::zip_equal(
           subChannel.getQuantizedDimensions(), subChannel.getBlockSizes())) {
    if (axis >= rank)
      return emitError() << "quantized axis " << axis
                         << " is out of bounds for a rank-" << rank
                         << " tensor";
    if (ShapedType::isDynamic(shape[axis]))
      continue;
    if (blockSize <= 0 || shape[axis] % blockSize != 0)
      return emitError() << "block size " << blockSize
                         << " does not divide dimension " << axis << " of size "
                         << shape[axis];
    if (scalesShape[axis] != shape[axis] / blockSize)
      return emitError() << "sub-channel scales have " << scalesShape[axis]
                         << " blocks along dimension " << axis << " but "
                         << shape[axis] << " / " << blockSize << " = "
                         << shape[axis] / blockSize << " are needed";
  }
  // Dimensions that are not blocked carry a single scale.
  for (int64_t axis = 0; axis < rank; ++axis)
    if (!llvm::is_contained(subChannel.getQuantizedDimensions(), axis) &&
        scalesShape[axis] != 1)
      return emitError() << "sub-channel scales have " << scalesShape[axis]
                         << " entries along unblocked dimension " << axis;
  auto scales = subChannel.getScales().getValues<APFloat>();
  auto zeroPoints = subChannel.getZeroPoints().getValues<APInt>();
  for (auto [index, scale, zeroPoint] : llvm::enumerate(scales, zeroPoints))
    if (failed(checkScaleAndZeroPoint(emitError, scale.convertToDouble(),
                                      zeroPoint.getSExtValue(), storageMin,
                                      storageMax, index)))
      return failure();
  return success();
}

namespace {
/// Verifies a float tensor against the quantized value it maps to or from.
LogicalResult verifyQuantizedPair(Operation *op, RankedTensorType floatType,
                                  Type quantizedType) {
  auto emitError = [op] { return op->emitOpError(); };
  if (auto packed = dyn_cast<PackedType>(quantizedType)) {
    if (!floatType.getElementType().isF32())
      return op->emitOpError("block formats convert to and from f32, got ")
             << floatType.getElementType();
    if (floatType.getShape() != packed.getShape())
      return op->emitOpError("float tensor shape ")
             << floatType << " does not match the packed logical shape "
             << quantizedType;
    return success();
  }
  auto quantTensor = cast<RankedTensorType>(quantizedType);
  if (quantTensor.getShape() != floatType.getShape())
    return op->emitOpError("float and quantized tensor shapes differ: ")
           << floatType << " vs " << quantTensor;
  return verifyUniformQuantization(emitError, floatType.getShape(),
                                   floatType.getElementType(),
                                   quantTensor.getElementType());
}
} // namespace

//===----------------------------------------------------------------------===//
// ObserveOp
//===----------------------------------------------------------------------===//

LogicalResult ObserveOp::verify() {
  auto type = cast<RankedTensorType>(getInput().getType());
  int64_t rank = type.getRank();
  if (getLabel().empty())
    return emitOpError("needs a non-empty label");
  // Axes as plain integers, -1 meaning per-tensor (GCC 12 misreports
  // std::optional<int64_t> here as maybe-uninitialized).
  IntegerAttr axisAttr = getAxisAttr();
  int64_t axis = axisAttr ? axisAttr.getInt() : -1;
  if (axisAttr && (axis < 0 || axis >= rank))
    return emitOpError("axis ")
           << axis << " is out of bounds for a rank-" << rank << " tensor";
  if (std::optional<int64_t> bins = getBins(); bins && *bins <= 0)
    return emitOpError("histogram bin count must be positive, got ") << *bins;

  if (StatsAttr stats = getStatsAttr()) {
    if (stats.getAxis().value_or(-1) != axis)
      return emitOpError("statistics axis does not match the observer's axis");
    if (axisAttr && !type.isDynamicDim(axis) &&
        static_cast<int64_t>(stats.getMin().size()) != type.getDimSize(axis))
      return emitOpError("per-channel statistics have ")
             << stats.getMin().size() << " entries but dimension " << axis
             << " has size " << type.getDimSize(axis);
    if (HistogramAttr histogram = stats.getHistogram()) {
      if (!getBins())
        return emitOpError("statistics carry a histogram the observer did "
                           "not ask for (no bins)");
      if (histogram.getNumBins() != static_cast<int64_t>(*getBins()))
        return emitOpError("histogram has ")
               << histogram.getNumBins() << " bins, observer asked for "
               << *getBins();
    }
  }

  if (std::optional<Type> qtype = getQtype())
    return verifyUniformQuantization([this] { return emitOpError(); },
                                     type.getShape(), type.getElementType(),
                                     *qtype);
  return success();
}

//===----------------------------------------------------------------------===//
// QuantizeOp
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::verify() {
  auto floatType = cast<RankedTensorType>(getInput().getType());
  if (failed(verifyQuantizedPair(*this, floatType, getResult().getType())))
    return failure();
  if (!getImportance())
    return success();
  auto packed = dyn_cast<PackedType>(getResult().getType());
  if (!packed)
    return emitOpError("an importance matrix applies only to block formats");
  const ::quantc::FormatInfo &info = packed.getFormatInfo();
  if (!info.acceptsImportance)
    return emitOpError("format ")
           << StringRef(info.name.data(), info.name.size())
           << " does not take an importance matrix";
  auto importanceType = cast<RankedTensorType>(getImportance().getType());
  if (importanceType.getRank() != 1 ||
      importanceType.getDimSize(0) != packed.getRowLength())
    return emitOpError("importance must be a tensor<")
           << packed.getRowLength() << "xf32>, one weight per column; got "
           << importanceType;
  return success();
}

namespace {
/// True when dequantizing then requantizing with `type` returns every code
/// unchanged: f32 arithmetic, and scales far enough from the f32 limits
/// that (q - zp) * scale is a normal, finite float whose rounding error is
/// far below half a step.
bool requantizationIsExact(Type type) {
  auto quantized =
      cast<quant::QuantizedType>(cast<RankedTensorType>(type).getElementType());
  if (!quantized.getExpressedType().isF32())
    return false;
  auto wellConditioned = [](double scale) {
    return scale >= 0x1p-100 && scale <= 0x1p100;
  };
  if (auto perTensor = dyn_cast<quant::UniformQuantizedType>(quantized))
    return wellConditioned(perTensor.getScale());
  if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(quantized))
    return llvm::all_of(perAxis.getScales(), wellConditioned);
  auto subChannel = cast<quant::UniformQuantizedSubChannelType>(quantized);
  return llvm::all_of(subChannel.getScales().getValues<APFloat>(),
                      [&](const APFloat &scale) {
                        return wellConditioned(scale.convertToDouble());
                      });
}
} // namespace

OpFoldResult QuantizeOp::fold(FoldAdaptor) {
  // quantize(dequantize(q)) == q when the parameters agree and the float
  // round trip is exact. Block quantizers search their scales, so they are
  // not idempotent and are never folded.
  auto dequantize = getInput().getDefiningOp<DequantizeOp>();
  if (!dequantize || dequantize.getInput().getType() != getType() ||
      isa<PackedType>(getType()) || !requantizationIsExact(getType()))
    return {};
  return dequantize.getInput();
}

//===----------------------------------------------------------------------===//
// DequantizeOp
//===----------------------------------------------------------------------===//

LogicalResult DequantizeOp::verify() {
  return verifyQuantizedPair(*this, cast<RankedTensorType>(getType()),
                             getInput().getType());
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

SmallVector<int64_t, 2> LinearOp::getWeightShape() {
  Type weight = getWeight().getType();
  if (auto grouped = dyn_cast<GroupedType>(weight))
    return SmallVector<int64_t, 2>(grouped.getShape());
  if (auto packed = dyn_cast<PackedType>(weight))
    return SmallVector<int64_t, 2>(packed.getShape());
  return SmallVector<int64_t, 2>(cast<RankedTensorType>(weight).getShape());
}

LogicalResult LinearOp::verify() {
  RankedTensorType inputType = getInput().getType();
  RankedTensorType resultType = getResult().getType();
  SmallVector<int64_t, 2> weightShape = getWeightShape();
  if (weightShape.size() != 2)
    return emitOpError("weight must be a matrix, got rank ")
           << weightShape.size();
  if (inputType.getRank() != 2 || resultType.getRank() != 2)
    return emitOpError("input and result must be rank 2 ([tokens, features])");
  int64_t outputs = weightShape[0], depth = weightShape[1];
  if (!ShapedType::isDynamic(inputType.getDimSize(1)) &&
      inputType.getDimSize(1) != depth)
    return emitOpError("input has ")
           << inputType.getDimSize(1) << " features but the weight has "
           << depth << " inputs";
  if (!ShapedType::isDynamic(resultType.getDimSize(1)) &&
      resultType.getDimSize(1) != outputs)
    return emitOpError("result has ")
           << resultType.getDimSize(1) << " features but the weight has "
           << outputs << " outputs";
  if (inputType.getDimSize(0) != resultType.getDimSize(0))
    return emitOpError("input and result disagree on the token dimension");

  Type weight = getWeight().getType();
  bool isFP8Weight = isa<RankedTensorType>(weight);
  if (isFP8Weight != getWeightScale().has_value())
    return emitOpError(isFP8Weight ? "an FP8 weight needs weight_scale"
                                   : "weight_scale is only for FP8 weights");
  if (auto scale = getWeightScale()) {
    float value = scale->convertToFloat();
    if (!std::isfinite(value) || !(value > 0.0f))
      return emitOpError("weight_scale must be finite and > 0, got ") << value;
  }
  if (auto packed = dyn_cast<PackedType>(weight))
    if (packed.getFormatInfo().role != ::quantc::FormatRole::Weight)
      return emitOpError("format '")
             << StringRef(packed.getFormatInfo().name.data(),
                          packed.getFormatInfo().name.size())
             << "' quantizes activations, not weights";

  int modes = (getDynamic() ? 1 : 0) + (getStaticType() ? 1 : 0) +
              (getInputScale() ? 1 : 0);
  if (modes > 1)
    return emitOpError(
        "dynamic, static and input_scale are exclusive ways of quantizing "
        "the input");
  if (getDynamic() || getStaticType()) {
    auto grouped = dyn_cast<GroupedType>(weight);
    if (!grouped || grouped.getStorageType().getWidth() != 8 ||
        !grouped.getStorageType().isSigned() || grouped.getGroupSize() != 0)
      return emitOpError("int8 activations need a per-row !qc.grouped<..., "
                         "si8> weight, got ")
             << weight;
  }
  if (auto staticType = getStaticType()) {
    auto uniform = dyn_cast<quant::UniformQuantizedType>(*staticType);
    if (!uniform || !uniform.getExpressedType().isF32() ||
        uniform.getStorageTypeIntegralWidth() != 8 || !uniform.isSigned())
      return emitOpError("static input type must be a per-tensor "
                         "!quant.uniform<i8:f32, scale:zero_point>, got ")
             << *staticType;
    if (failed(verifyUniformQuantization([&] { return emitOpError(); },
                                         inputType.getShape(),
                                         inputType.getElementType(), uniform)))
      return failure();
  }
  if (auto scale = getInputScale()) {
    if (!isFP8Weight)
      return emitOpError("FP8 activations (input_scale) need an FP8 weight");
    float value = scale->convertToFloat();
    if (!std::isfinite(value) || !(value > 0.0f))
      return emitOpError("input_scale must be finite and > 0, got ") << value;
  }
  return success();
}
