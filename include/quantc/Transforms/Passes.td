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

def QCBindExternalWeights : Pass<"qc-bind-external-weights", "ModuleOp"> {
  let summary = "Turn loads of file-backed weights into views of function arguments";
  let description = [{
    Prepares an imported model for code generation. Every
    `ml_program.global_load_const` of a global whose value is a
    `#qc.external` reference becomes a `memref.view` into a new leading
    `memref<?xi8>` argument of the function, one per file, wrapped back into
    a tensor with `bufferization.to_tensor restrict`. The runtime maps each
    file and passes its bytes, so weights are never copied into the
    compiled code. Each new argument carries `qc.weight_file` (the path) and
    `qc.weight_bytes` (how many bytes of the file the function reads: the
    runtime refuses a shorter file). Globals with an elements value (small
    test models) become `arith.constant`. Globals that are then unused are
    erased.

    Refused, with a diagnostic: mutable globals, globals with no value or an
    `#ml_program.extern` value, and functions with callers (their signature
    changes).

    Example:

    ```mlir
    ml_program.global private @w(#qc.external<path = "m.bin", offset = 64>) : tensor<4x8xf32>
    func.func @f(%x: tensor<2x8xf32>) -> tensor<4x8xf32> {
      %w = ml_program.global_load_const @w : tensor<4x8xf32>
      ...
    ```
    becomes
    ```mlir
    func.func @f(%file: memref<?xi8> {qc.weight_file = "m.bin", qc.weight_bytes = 192 : i64},
                 %x: tensor<2x8xf32>) -> tensor<4x8xf32> {
      %c64 = arith.constant 64 : index
      %v = memref.view %file[%c64][] : memref<?xi8> to memref<4x8xf32>
      %w = bufferization.to_tensor %v restrict : memref<4x8xf32> to tensor<4x8xf32>
      ...
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::bufferization::BufferizationDialect"];
}

def QCCopiesToLinalg : Pass<"qc-copies-to-linalg", "func::FuncOp"> {
  let summary = "Rewrite memref.copy as linalg.copy";
  let description = [{
    Bufferization writes `memref.copy` where a value must move between
    buffers (e.g. new keys into a strided slice of the KV cache). The LLVM
    lowering turns a copy whose layout it cannot prove contiguous into a
    call to `memrefCopy` from MLIR's C runner utilities, a library a
    shipped artifact should not need. As a `linalg.copy` the copy becomes
    ordinary loops that LLVM vectorizes or turns into `memcpy`.

    ```mlir
    memref.copy %a, %b : memref<?x32xf32> to memref<?x32xf32, strided<[32, 1], offset: ?>>
    ```
    becomes
    ```mlir
    linalg.copy ins(%a : memref<?x32xf32>) outs(%b : memref<?x32xf32, strided<[32, 1], offset: ?>>)
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def QCDropAliasedEntryResults
    : Pass<"qc-drop-aliased-entry-results", "ModuleOp"> {
  let summary = "Drop results of public functions that return an argument's buffer";
  let description = [{
    After bufferization an imported model's `@forward` returns its own
    `k_cache`, `v_cache` and `logits` arguments: the updates were written in
    place. Upstream `drop-equivalent-buffer-results` leaves public functions
    alone (their callers could be anywhere), but a model's entry point is
    called only through the runtime's C interface, which passes those
    buffers in. Dropping the results gives a void entry point and keeps the
    deallocation pipeline from cloning the returned arguments.

    Only results that are a block argument (possibly through `memref.cast`)
    are dropped. Functions with call sites in the module are refused.

    ```mlir
    func.func @forward(%a: memref<4xf32>, %b: memref<4xf32>) -> memref<4xf32> {
      ...
      return %b : memref<4xf32>
    }
    ```
    becomes
    ```mlir
    func.func @forward(%a: memref<4xf32>, %b: memref<4xf32>) {
      ...
      return
    }
    ```
  }];
}

#endif // QUANTC_TRANSFORMS_PASSES_TD
