// RUN: quant-opt %s -qc-copies-to-linalg | FileCheck %s

// CHECK-LABEL: func.func @strided_copy
// CHECK-SAME: (%[[A:.*]]: memref<?x32xf32>, %[[B:.*]]: memref<?x32xf32, strided<[32, 1], offset: ?>>)
// CHECK-NEXT: linalg.copy ins(%[[A]] : memref<?x32xf32>) outs(%[[B]] : memref<?x32xf32, strided<[32, 1], offset: ?>>)
// CHECK-NEXT: return
// CHECK-NOT: memref.copy
func.func @strided_copy(%a: memref<?x32xf32>, %b: memref<?x32xf32, strided<[32, 1], offset: ?>>) {
  memref.copy %a, %b : memref<?x32xf32> to memref<?x32xf32, strided<[32, 1], offset: ?>>
  return
}
