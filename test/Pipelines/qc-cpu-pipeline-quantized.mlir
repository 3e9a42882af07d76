// REQUIRES: mlir-runner
// RUN: quant-opt %s --qc-cpu-pipeline | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_c_runner_utils | FileCheck %s
// RUN: quant-opt %s --qc-cpu-pipeline | FileCheck %s --check-prefix=LLVM

// A W8A8 projection (dynamic per-token int8 activations, per-row int8
// weights held inline) compiled and run, with results worked out by hand:
//   w = [[1, 2, 3, 4] * 0.5, [-1, 0, 1, 127] * 0.25]
//   row 0: max 127, scale 1: codes [127, 0, -127, 64] (63.5 ties to even);
//          sums 2 and 7874, times 0.5 and 0.25
//   row 1: max 63.5, scale 0.5: codes [127, -2, 2, 20] (ties to even);
//          sums 209 and 2415, times 0.25 and 0.125

// CHECK: 1
// CHECK-NEXT: 1968.5
// CHECK-NEXT: 52.25
// CHECK-NEXT: 301.875

// LLVM-LABEL: llvm.func @linear
// LLVM:         llvm.intr.roundeven
// LLVM-NOT:     qc.
// LLVM-NOT:     linalg.

// Codes (2 x 4 bytes), padding to 64, scales 0.5 and 0.25 (little-endian).
ml_program.global private @w(dense<"0x01020304FF00017F00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000003F0000803E"> : tensor<72xi8>) : !qc.grouped<2x4, si8>

func.func @linear(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w = ml_program.global_load_const @w : !qc.grouped<2x4, si8>
  %y = qc.linear %x, %w dynamic(per_token) : tensor<?x4xf32>, !qc.grouped<2x4, si8> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %x = arith.constant dense<[[127.0, 0.0, -127.0, 63.5], [63.5, -1.25, 0.75, 10.25]]> : tensor<2x4xf32>
  %xd = tensor.cast %x : tensor<2x4xf32> to tensor<?x4xf32>
  %y = call @linear(%xd) : (tensor<?x4xf32>) -> tensor<?x2xf32>
  %y00 = tensor.extract %y[%c0, %c0] : tensor<?x2xf32>
  %y01 = tensor.extract %y[%c0, %c1] : tensor<?x2xf32>
  %y10 = tensor.extract %y[%c1, %c0] : tensor<?x2xf32>
  %y11 = tensor.extract %y[%c1, %c1] : tensor<?x2xf32>
  vector.print %y00 : f32
  vector.print %y01 : f32
  vector.print %y10 : f32
  vector.print %y11 : f32
  return
}
