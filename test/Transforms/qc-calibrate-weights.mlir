// RUN: quant-opt %s --qc-calibrate | FileCheck %s

// Weights need no samples: their statistics come from their values, dense
// or (see qc-calibrate.test) in a model file; per channel along `axis`, with
// a histogram of |x| over [0, max|x|] when the observer asks for one.
module {
  ml_program.global private @w(dense<[[1.0, -2.0], [0.5, 3.0], [0.0, 0.0]]> : tensor<3x2xf32>) : tensor<3x2xf32>
  // CHECK-LABEL: func.func @forward
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    // CHECK: qc.observe %{{.*}} "rows" axis(0) stats(#qc.stats<count = 6, axis = 0, min = [-2.000000e+00, 5.000000e-01, 0.000000e+00], max = [1.000000e+00, 3.000000e+00, 0.000000e+00]>) : tensor<3x2xf32>
    %w = ml_program.global_load_const @w : tensor<3x2xf32>
    %0 = qc.observe %w "rows" axis(0) : tensor<3x2xf32>
    // CHECK: qc.observe %{{.*}} "columns" axis(1) stats(#qc.stats<count = 6, axis = 1, min = [0.000000e+00, -2.000000e+00], max = [1.000000e+00, 3.000000e+00]>) : tensor<3x2xf32>
    %1 = qc.observe %w "columns" axis(1) : tensor<3x2xf32>
    // |x| = 1, 2, 4, 0.25 in 4 bins over [0, 4]; f16 values read as f32.
    // CHECK: qc.observe %{{.*}} "half" bins(4) stats(#qc.stats<count = 4, min = [-4.000000e+00], max = [2.000000e+00], histogram = <lo = 0.000000e+00, hi = 4.000000e+00, counts = [1, 1, 1, 1]>>) : tensor<2x2xf16>
    %c = arith.constant dense<[[1.0, 2.0], [-4.0, 0.25]]> : tensor<2x2xf16>
    %2 = qc.observe %c "half" bins(4) : tensor<2x2xf16>
    // Only zeros: a range of [0, 0] and no histogram (it needs lo < hi).
    // CHECK: qc.observe %{{.*}} "zeros" bins(8) stats(#qc.stats<count = 5, min = [0.000000e+00], max = [0.000000e+00]>) : tensor<5xf32>
    %z = arith.constant dense<0.0> : tensor<5xf32>
    %3 = qc.observe %z "zeros" bins(8) : tensor<5xf32>
    // Earlier statistics are replaced, and the qtype chosen from them goes.
    // CHECK: qc.observe %{{.*}} "stale" stats(#qc.stats<count = 2, min = [-1.000000e+00], max = [5.000000e-01]>) : tensor<2xf32>
    %s = arith.constant dense<[-1.0, 0.5]> : tensor<2xf32>
    %4 = qc.observe %s "stale" stats(#qc.stats<count = 9, min = [-9.0], max = [9.0]>) qtype(!quant.uniform<i8:f32, 0.07:0>) : tensor<2xf32>
    return %logits, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
}
