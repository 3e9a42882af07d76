//===- Passes.td - quantc passes over func/linalg/qc -------*- tablegen -*-===//

#ifndef QUANTC_TRANSFORMS_PASSES_TD
#define QUANTC_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def QCInsertObservers : Pass<"qc-insert-observers", "func::FuncOp"> {
  let summary = "Place qc.observe on every tensor a quantization scheme may quantize";
  let description = [{
    Walks the float contractions and convolutions of a function (every
    `linalg` op implementing the contraction or convolution interfaces) and
    routes each float input through a `qc.observe`, so that `qc-calibrate`
    can record its statistics. Inputs produced by a constant-like op are
    weights; everything else is an activation. Weights are observed per
    output channel by default (the parallel dimension of the weight that the
    activation does not index); activations per tensor, or per reduction
    channel (what SmoothQuant and AWQ need) with `activations=per-channel`.

    Each value gets one observer per granularity, shared by all its users,
    and an input already produced by `qc.observe` is left alone, so the pass
    is idempotent. Labels are stable: `<function>/<op>_<n>/in<i>` for inputs
    and `.../out` for results. Integer contractions are already quantized and
    are skipped. IR with buffer semantics is refused: observers are tensor
    values.

    Example (`--qc-insert-observers`):

    ```mlir
    func.func @fc(%x: tensor<4x64xf32>, %out: tensor<4x32xf32>) -> tensor<4x32xf32> {
      %w = arith.constant dense<0.5> : tensor<64x32xf32>
      %y = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>)
                         outs(%out : tensor<4x32xf32>) -> tensor<4x32xf32>
      return %y : tensor<4x32xf32>
    }
    ```
    becomes
    ```mlir
      %ox = qc.observe %x "fc/matmul_0/in0" : tensor<4x64xf32>
      %w = arith.constant dense<0.5> : tensor<64x32xf32>
      %ow = qc.observe %w "fc/matmul_0/in1" axis(1) : tensor<64x32xf32>
      %y = linalg.matmul ins(%ox, %ow : ...) outs(%out : ...) -> tensor<4x32xf32>
    ```
  }];
  let options = [
    Option<"weightGranularity", "weights", "::mlir::qc::ObserveGranularity",
           /*default=*/"::mlir::qc::ObserveGranularity::PerChannel",
           "How to observe weights", [{::llvm::cl::values(
             clEnumValN(::mlir::qc::ObserveGranularity::PerChannel,
                        "per-channel", "one range per output channel"),
             clEnumValN(::mlir::qc::ObserveGranularity::PerTensor,
                        "per-tensor", "one range per tensor"),
             clEnumValN(::mlir::qc::ObserveGranularity::None,
                        "none", "do not observe weights"))}]>,
    Option<"activationGranularity", "activations",
           "::mlir::qc::ObserveGranularity",
           /*default=*/"::mlir::qc::ObserveGranularity::PerTensor",
           "How to observe activations", [{::llvm::cl::values(
             clEnumValN(::mlir::qc::ObserveGranularity::PerTensor,
                        "per-tensor", "one range per tensor"),
             clEnumValN(::mlir::qc::ObserveGranularity::PerChannel,
                        "per-channel",
                        "one range per reduction channel (SmoothQuant, AWQ)"),
             clEnumValN(::mlir::qc::ObserveGranularity::None,
                        "none", "do not observe activations"))}]>,
    Option<"numBins", "bins", "int64_t", /*default=*/"0",
           "Histogram bins to request on activation observers (0: min/max "
           "only; percentile, entropy and MSE calibration need ~2048)">,
    Option<"observeResults", "results", "bool", /*default=*/"false",
           "Also observe each contraction's result (for static output "
           "quantization)">,
  ];
  let dependentDialects = ["::mlir::qc::QCDialect"];
}

def QCStripObservers : Pass<"qc-strip-observers", "func::FuncOp"> {
  let summary = "Remove qc.observe ops, forwarding their inputs";
  let description = [{
    Gives back the float model once calibration results have been consumed,
    or before running the float model without observers. With
    `require-calibrated`, an observer that carries no statistics is an error
    rather than silently dropped, which catches a calibration run that missed
    a tensor.

    ```mlir
    %0 = qc.observe %x "fc/matmul_0/in0" : tensor<4x64xf32>
    %1 = math.tanh %0 : tensor<4x64xf32>
    ```
    becomes
    ```mlir
    %1 = math.tanh %x : tensor<4x64xf32>
    ```
  }];
  let options = [
    Option<"requireCalibrated", "require-calibrated", "bool",
           /*default=*/"false",
           "Fail on any observer that has no statistics">,
  ];
}

#endif // QUANTC_TRANSFORMS_PASSES_TD
