//===- QCOps.td - qc operations ----------------------------*- tablegen -*-===//

#ifndef QC_OPS_TD
#define QC_OPS_TD

include "QC/QCBase.td"
include "QC/QCAttrs.td"
include "QC/QCTypes.td"
include "mlir/Dialect/Quant/IR/QuantBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def QC_FloatTensor : RankedTensorOf<[AnyFloat]>;

def QC_QuantizedTensor : Type<
    CPred<"::llvm::isa<::mlir::RankedTensorType>($_self) && "
          "::llvm::isa<::mlir::quant::QuantizedType>("
          "::llvm::cast<::mlir::RankedTensorType>($_self).getElementType())">,
    "ranked tensor of quantized type", "::mlir::RankedTensorType">;

def QC_QuantizedValue : AnyTypeOf<[QC_QuantizedTensor, QC_PackedType],
    "ranked tensor of !quant.uniform or !qc.packed">;

def QC_ObserveOp : QC_Op<"observe", [Pure, SameOperandsAndResultType]> {
  let summary = "marks a tensor whose statistics calibration collects";
  let description = [{
    An identity on its operand that names a tensor a quantization scheme may
    quantize. `qc-insert-observers` places it; `qc-calibrate` runs the model
    and fills `stats`; range selection fills `qtype` with the chosen
    `!quant.uniform` parameters; `qc-quantize` consumes it.

    `axis` asks for per-channel statistics along that dimension; `bins` asks
    for a histogram with that many bins.

    ```mlir
    %0 = qc.observe %x "mlp.fc1.in" : tensor<4x64xf32>
    %1 = qc.observe %w "mlp.fc1.w" axis(1) : tensor<64x32xf32>
    %2 = qc.observe %x "mlp.fc1.in" bins(2048)
           stats(#qc.stats<count = 256, min = [-1.0], max = [2.0]>)
           qtype(!quant.uniform<i8:f32, 0.0117:-43>) : tensor<4x64xf32>
    ```
  }];
  let arguments = (ins QC_FloatTensor:$input, StrAttr:$label,
                       OptionalAttr<I64Attr>:$axis,
                       OptionalAttr<I64Attr>:$bins,
                       OptionalAttr<QC_StatsAttr>:$stats,
                       OptionalAttr<TypeAttr>:$qtype);
  let results = (outs QC_FloatTensor:$output);
  let assemblyFormat = [{
    $input $label (`axis` `(` $axis^ `)`)? (`bins` `(` $bins^ `)`)?
    (`stats` `(` qualified($stats)^ `)`)? (`qtype` `(` $qtype^ `)`)?
    attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def QC_QuantizeOp : QC_Op<"quantize", [Pure]> {
  let summary = "quantizes a float tensor to integer or block storage";
  let description = [{
    Converts floats to the storage the result type names:

    - a tensor of upstream `!quant.uniform` (per-tensor, per-axis or
      sub-channel; 2 to 8 bit integer storage):
      `q = clamp(zero_point + round_half_even(x * (1 / scale)), qmin, qmax)`
      in f32, as PyTorch's `quantize_per_tensor` computes it
      (`quantc::quantizeAffine` in `lib/Numerics/Affine.h`);
    - `!qc.packed<..., FORMAT>`: the llama.cpp block format's quantizer,
      byte for byte as GGUF stores it. `importance` is an optional
      per-column importance matrix (llama.cpp's imatrix) for formats that
      accept one.

    Unlike upstream `quant.qcast`, it rounds half to even (never truncates)
    and always clamps, matching `lib/Numerics` bit for bit; and
    `dequantize(quantize(x))` is never folded away, so it is a faithful
    fake-quant.

    ```mlir
    %q = qc.quantize %x : tensor<4x8xf32> -> tensor<4x8x!quant.uniform<i8:f32, 0.05:-3>>
    %p = qc.quantize %w importance(%imat : tensor<256xf32>)
           : tensor<16x256xf32> -> !qc.packed<16x256, q4_K>
    ```
  }];
  let arguments = (ins QC_FloatTensor:$input,
                       Optional<RankedTensorOf<[F32]>>:$importance);
  let results = (outs QC_QuantizedValue:$result);
  let assemblyFormat = [{
    $input (`importance` `(` $importance^ `:` type($importance) `)`)?
    attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def QC_DequantizeOp : QC_Op<"dequantize", [Pure]> {
  let summary = "converts quantized storage back to floats";
  let description = [{
    The inverse map of `qc.quantize`: `(q - zero_point) * scale` for
    `!quant.uniform` element types, the format's decoder for `!qc.packed`.
    The result element type is the quantized type's expressed type (f32 for
    block formats).

    ```mlir
    %x = qc.dequantize %q : tensor<4x8x!quant.uniform<i8:f32, 0.05:-3>> -> tensor<4x8xf32>
    %w = qc.dequantize %p : !qc.packed<16x256, q4_K> -> tensor<16x256xf32>
    ```
  }];
  let arguments = (ins QC_QuantizedValue:$input);
  let results = (outs QC_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

#endif // QC_OPS_TD
