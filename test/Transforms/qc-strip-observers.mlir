// RUN: quant-opt %s -qc-strip-observers -split-input-file | FileCheck %s
// RUN: quant-opt %s -qc-insert-observers -qc-strip-observers -split-input-file | FileCheck %s --check-prefix=ROUNDTRIP
// RUN: quant-opt %s -qc-strip-observers=require-calibrated -split-input-file -verify-diagnostics

// CHECK-LABEL: func @strip
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>
// CHECK-NOT: qc.observe
// CHECK: linalg.matmul ins(%[[X]], %{{.*}} :
// ROUNDTRIP-LABEL: func @strip
// ROUNDTRIP-NOT: qc.observe
func.func @strip(%x: tensor<4x64xf32>, %out: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %ox = qc.observe %x "strip/matmul_0/in0" stats(#qc.stats<count = 256, min = [-1.0], max = [1.0]>) : tensor<4x64xf32>
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %y = linalg.matmul ins(%ox, %w : tensor<4x64xf32>, tensor<64x32xf32>)
                     outs(%out : tensor<4x32xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

// With require-calibrated, an observer calibration never reached is an error.
func.func @uncalibrated(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'qc.observe' op has no statistics: calibration never reached 'missed'}}
  %0 = qc.observe %x "missed" : tensor<4xf32>
  return %0 : tensor<4xf32>
}
