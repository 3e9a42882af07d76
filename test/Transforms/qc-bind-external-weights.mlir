// RUN: quant-opt %s -qc-bind-external-weights -split-input-file | FileCheck %s

// Each file becomes one leading byte argument; every load a view of it.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[A:.*]]: memref<?xi8> {qc.weight_bytes = 192 : i64, qc.weight_file = "/models/a.bin"},
// CHECK-SAME: %[[B:.*]]: memref<?xi8> {qc.weight_bytes = 1032 : i64, qc.weight_file = "/models/b.bin"},
// CHECK-SAME: %[[X:.*]]: tensor<2x8xf32>)
// CHECK: %[[C64:.*]] = arith.constant 64 : index
// CHECK: %[[V0:.*]] = memref.view %[[A]][%[[C64]]][] : memref<?xi8> to memref<4x8xf32>
// CHECK: %[[W0:.*]] = bufferization.to_tensor %[[V0]] restrict : memref<4x8xf32> to tensor<4x8xf32>
// CHECK: %[[C1000:.*]] = arith.constant 1000 : index
// CHECK: %[[V1:.*]] = memref.view %[[B]][%[[C1000]]][] : memref<?xi8> to memref<16xf16>
// CHECK: %[[W1:.*]] = bufferization.to_tensor %[[V1]] restrict
// CHECK: %[[K:.*]] = arith.constant dense<1.000000e+00> : tensor<2xf32>
// CHECK: return %[[W0]], %[[W1]], %[[K]]
// CHECK-NOT: ml_program.global
ml_program.global private @w(#qc.external<path = "/models/a.bin", offset = 64>) : tensor<4x8xf32>
ml_program.global private @h(#qc.external<path = "/models/b.bin", offset = 1000>) : tensor<16xf16>
ml_program.global private @inline(dense<1.0> : tensor<2xf32>) : tensor<2xf32>
func.func @forward(%x: tensor<2x8xf32>) -> (tensor<4x8xf32>, tensor<16xf16>, tensor<2xf32>) {
  %w = ml_program.global_load_const @w : tensor<4x8xf32>
  %h = ml_program.global_load_const @h : tensor<16xf16>
  %i = ml_program.global_load_const @inline : tensor<2xf32>
  return %w, %h, %i : tensor<4x8xf32>, tensor<16xf16>, tensor<2xf32>
}

// -----

// Two globals in one file share its argument; the furthest byte read sets
// qc.weight_bytes. A function that loads nothing is left alone.
// CHECK-LABEL: func.func @shared
// CHECK-SAME: (%[[F:.*]]: memref<?xi8> {qc.weight_bytes = 48 : i64, qc.weight_file = "/m.bin"}) ->
// CHECK: memref.view %[[F]]
// CHECK: memref.view %[[F]]
// CHECK-LABEL: func.func @untouched(%{{.*}}: tensor<2xf32>)
ml_program.global private @a(#qc.external<path = "/m.bin", offset = 0>) : tensor<4xf32>
ml_program.global private @b(#qc.external<path = "/m.bin", offset = 32>) : tensor<4xf32>
func.func @shared() -> (tensor<4xf32>, tensor<4xf32>) {
  %a = ml_program.global_load_const @a : tensor<4xf32>
  %b = ml_program.global_load_const @b : tensor<4xf32>
  return %a, %b : tensor<4xf32>, tensor<4xf32>
}
func.func @untouched(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}
