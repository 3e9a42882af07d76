// RUN: quant-opt %s -qc-insert-observers -split-input-file -verify-diagnostics
// RUN: not quant-opt %s -qc-insert-observers="bins=-1" -split-input-file 2>&1 | FileCheck %s --check-prefix=BINS
// RUN: not quant-opt %s -qc-insert-observers="weights=per-row" 2>&1 | FileCheck %s --check-prefix=ENUM

// BINS: qc-insert-observers: bins must be >= 0, got -1
// ENUM: Cannot find option named 'per-row'!

// Observers are tensor values: bufferized IR is refused, not skipped.
func.func @buffers(%a: memref<2x8xf32>, %b: memref<8x4xf32>, %o: memref<2x4xf32>) {
  // expected-error @+1 {{'linalg.matmul' op has buffer semantics; qc-insert-observers runs on tensors, before bufferization}}
  linalg.matmul ins(%a, %b : memref<2x8xf32>, memref<8x4xf32>) outs(%o : memref<2x4xf32>)
  return
}
