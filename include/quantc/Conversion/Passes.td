//===- Passes.td - quantc conversions ----------------------*- tablegen -*-===//

#ifndef QUANTC_CONVERSION_PASSES_TD
#define QUANTC_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQCToLinalg : Pass<"convert-qc-to-linalg", "ModuleOp"> {
  let summary = "Lower quantized weights and qc.linear to linalg on tensors";
  let description = [{
    Turns the quantized weights and projections that `qc-quantize` writes
    into integer and float `linalg` on plain tensors, which the rest of the
    CPU pipeline (`qc-bind-external-weights`, bufferization, tiling and
    vectorization) understands. The arithmetic is that of
    `lib/Numerics/QuantizedLinear.h`, and the integer paths agree with it
    bit for bit.

    Weights. Every `ml_program.global` of a quantized weight type becomes
    plain tensors of its bytes, in globals beside it (`#qc.external`
    offsets advanced by each plane's offset in the layout of
    `lib/Numerics/GroupedAffine.h`), and the original global goes:
    - `!qc.grouped<N x K, ...>`: `@w.codes : tensor<N x codeRowBytes x i8>`
      (bit-packed codes), `@w.scales : tensor<N x G x f32>` and, for
      unsigned formats, `@w.zero_points : tensor<N x G x i8>`;
    - `!qc.packed<N x K, format>`: `@w.bytes : tensor<N x rowBytes x i8>`;
    - `tensor<N x K x f8E4M3FN>`: `@w.bytes : tensor<N x K x i8>` (the CPU
      backend cannot extend f8 values, so they are decoded with integer
      bit operations).
    Instead of a file reference, a global may hold its bytes inline as
    elements (small tests): `tensor<B x i8>` of the whole blob, or f8
    elements for an FP8 weight.

    `qc.linear` (`y[m, n] = sum_k x[m, k] w[n, k]`), by mode:
    - weight only, `!qc.grouped`: a `linalg.generic` dequantizes the weight
      to f32 (`(code - zero_point) * scale`, codes read from the packed bit
      stream), then the transposed-B `linalg.matmul` the importer emits.
      When groups are whole bytes (2, 4 or 8 bits, groups dividing the
      row), the dequantization runs over (row, code slot within a byte,
      group, byte) with no gathers, so it vectorizes; it yields the columns
      slot-major and the activations' columns are permuted to match (the
      same products, summed in another order). Otherwise (3, 5, 6, 7 bits,
      a ragged last group) codes and parameters are read by index;
    - `!qc.packed`: the format's decoder (`BlockDecode.h`), then the same
      matmul;
    - `dynamic(per_token | per_tensor)`: max |x| per row (or tensor),
      scale = max(amax / 127, 2^-23), codes clamp(roundeven(x * (1 /
      scale)), -127, 127) in i8 (NaN to 0), an i8 x i8 -> i32
      `linalg.matmul`, and the epilogue `float(acc) * (scale_x *
      scale_w[n])`;
    - `static(!quant.uniform<i8:f32, s:z>)`: codes with the calibrated
      parameters, the zero point corrected after the contraction with the
      weight's row sums (`acc - z * sum_k w[n, k]`), same epilogue;
    - FP8 weights: E4M3FN bytes decoded with integer bit operations, with
      `input_scale(s)` activations rounded to E4M3FN (saturating, nearest
      even, NaN kept) by integer bit operations first; f32 matmul, then the
      product of the scales.
    Errors, never a silent skip: a `qc.linear` whose weight is not loaded
    (`ml_program.global_load_const`) from such a global, a load of a
    quantized global used by anything but `qc.linear`, a mutable quantized
    global or one with any other value, and a block format with no IR
    decoder.

    Example (`--convert-qc-to-linalg`):

    ```mlir
    ml_program.global private @w(#qc.external<path = "m.bin", offset = 0>)
        : !qc.grouped<32x64, si8>
    func.func @f(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
      %w = ml_program.global_load_const @w : !qc.grouped<32x64, si8>
      %y = qc.linear %x, %w dynamic(per_token)
          : tensor<?x64xf32>, !qc.grouped<32x64, si8> -> tensor<?x32xf32>
      return %y : tensor<?x32xf32>
    }
    ```
    becomes
    ```mlir
    ml_program.global private @w.codes(#qc.external<path = "m.bin", offset = 0>)
        : tensor<32x64xi8>
    ml_program.global private @w.scales(#qc.external<path = "m.bin", offset = 2048>)
        : tensor<32x1xf32>
    func.func @f(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
      %codes = ml_program.global_load_const @w.codes : tensor<32x64xi8>
      %scales = ml_program.global_load_const @w.scales : tensor<32x1xf32>
      %amax = linalg.generic {...} ins(%x) outs(...) -> tensor<?xf32>    // maxnumf |x|
      %s:2 = linalg.generic {...} ins(%amax) outs(...) -> (tensor<?xf32>, tensor<?xf32>)
      %xq = linalg.generic {...} ins(%x, %s#1) outs(...) -> tensor<?x64xi8>
      %acc = linalg.matmul indexing_maps = [...] ins(%xq, %codes : tensor<?x64xi8>, tensor<32x64xi8>)
          outs(...) -> tensor<?x32xi32>
      %y = linalg.generic {...} ins(%acc, %s#0, ...) outs(...) -> tensor<?x32xf32>
      return %y : tensor<?x32xf32>
    }
    ```
  }];
  let options = [
    Option<"fuseDequantize", "fuse-dequantize", "bool", /*default=*/"false",
           "Weight-only !qc.grouped and FP8 weights: dequantize inside the "
           "contraction (no f32 copy of the weight; more work per token)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::ml_program::MLProgramDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // QUANTC_CONVERSION_PASSES_TD
