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


def QC_WeightMatrix : AnyTypeOf<[QC_GroupedType, QC_PackedType,
                                 RankedTensorOf<[F8E4M3FN]>],
    "!qc.grouped, !qc.packed or tensor of f8E4M3FN">;

def QC_LinearOp : QC_Op<"linear", [Pure]> {
  let summary = "y = x W^T with a quantized weight and, optionally, quantized activations";
  let description = [{
    The quantized form of a projection: `result[m, n] = sum_k input[m, k] *
    weight[n, k]`, the weight stored `[outputs, inputs]` as PyTorch and GGUF
    store it. What is quantized, and how, is in the types and attributes; the
    arithmetic of every combination is defined once in
    `lib/Numerics/QuantizedLinear.h`, which the lowering
    (`convert-qc-to-linalg`) matches bit for bit on its integer paths.

    - Weight only (no activation attribute): `!qc.grouped`, `!qc.packed`
      (llama.cpp block formats) or FP8 E4M3 weights are dequantized and
      multiplied in float.
    - `dynamic(per_token | per_tensor)`: activations are quantized at run
      time to symmetric int8 ([-127, 127], scale = max|x| / 127 per row or per
      tensor); the weight must be `!qc.grouped<..., si8>` per row. int8 x int8
      accumulates in int32; the epilogue is `acc * (scale_x * scale_w[n])`.
    - `static(!quant.uniform<i8:f32, s:z>)`: activations quantized with
      calibrated per-tensor parameters; the zero point is corrected with the
      weight's row sums.
    - `input_scale(s)` with an FP8 weight (`weight_scale(s_w)`): activations
      are cast to E4M3 after dividing by `s`, products accumulate in f32 and
      the result is scaled by `s * s_w`.

    ```mlir
    %y0 = qc.linear %x, %w8 dynamic(per_token)
        : tensor<?x64xf32>, !qc.grouped<32x64, si8> -> tensor<?x32xf32>
    %y1 = qc.linear %x, %w8 static(!quant.uniform<i8:f32, 0.0213:-4>)
        : tensor<?x64xf32>, !qc.grouped<32x64, si8> -> tensor<?x32xf32>
    %y2 = qc.linear %x, %w4
        : tensor<?x64xf32>, !qc.grouped<32x64, ui4, group = 32> -> tensor<?x32xf32>
    %y3 = qc.linear %x, %wq : tensor<?x64xf32>, !qc.packed<32x64, q8_0> -> tensor<?x32xf32>
    %y4 = qc.linear %x, %wf weight_scale(0.0031) input_scale(0.021)
        : tensor<?x64xf32>, tensor<32x64xf8E4M3FN> -> tensor<?x32xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$input, QC_WeightMatrix:$weight,
                       OptionalAttr<F32Attr>:$weight_scale,
                       OptionalAttr<QC_DynamicGranularity>:$dynamic,
                       OptionalAttr<TypeAttr>:$static_type,
                       OptionalAttr<F32Attr>:$input_scale);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $input `,` $weight (`weight_scale` `(` $weight_scale^ `)`)?
    (`dynamic` `(` $dynamic^ `)`)? (`static` `(` $static_type^ `)`)?
    (`input_scale` `(` $input_scale^ `)`)?
    attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Logical [outputs, inputs] shape of the weight.
    ::llvm::SmallVector<int64_t, 2> getWeightShape();
    /// True when activations are quantized (dynamic, static or FP8).
    bool hasQuantizedInput() {
      return getDynamic() || getStaticType() || getInputScale();
    }
  }];
}

#endif // QC_OPS_TD
