// RUN: quant-opt %s -qc-drop-aliased-entry-results -split-input-file | FileCheck %s

// Results that are arguments (directly or through memref.cast) go; a fresh
// buffer stays a result.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[A:.*]]: memref<4xf32>, %[[B:.*]]: memref<?xf32>) -> memref<2xf32>
// CHECK: return %{{.*}} : memref<2xf32>
func.func @forward(%a: memref<4xf32>, %b: memref<?xf32>) -> (memref<4xf32>, memref<2xf32>, memref<?xf32>) {
  %fresh = memref.alloc() : memref<2xf32>
  %cast = memref.cast %b : memref<?xf32> to memref<?xf32>
  return %a, %fresh, %cast : memref<4xf32>, memref<2xf32>, memref<?xf32>
}

// -----

// Private functions are upstream drop-equivalent-buffer-results' business.
// CHECK-LABEL: func.func private @helper
// CHECK-SAME: -> memref<4xf32>
func.func private @helper(%a: memref<4xf32>) -> memref<4xf32> {
  return %a : memref<4xf32>
}
