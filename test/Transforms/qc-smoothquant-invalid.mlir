// RUN: quant-opt %s --qc-smoothquant="layers=w_named quiet=1 samples=%S/../Tools/Inputs/story.txt" -split-input-file -verify-diagnostics
// RUN: not quant-opt %s --qc-smoothquant="alpha=1.5 quiet=1" -split-input-file 2>&1 | FileCheck %s --check-prefix=ALPHA
// RUN: not quant-opt %s --qc-smoothquant="alpha=often quiet=1" -split-input-file 2>&1 | FileCheck %s --check-prefix=ALPHA
// RUN: not quant-opt %s --qc-smoothquant="scheme=int4 quiet=1" -split-input-file 2>&1 | FileCheck %s --check-prefix=WEIGHTONLY

// ALPHA: qc-smoothquant: alpha must be a number in [0, 1] or 'auto'
// WEIGHTONLY: qc-smoothquant: scheme int4 leaves activations in float; SmoothQuant eases activation quantization

// Smoothing after calibration would leave stale ranges.
module {
  ml_program.global private @w(dense<0.5> : tensor<4x32xf32>) : tensor<4x32xf32>
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    %c0 = arith.constant 0 : index
    %n = tensor.dim %tokens, %c0 : tensor<?xi32>
    %zero = arith.constant 0.0 : f32
    %x0 = tensor.empty(%n) : tensor<?x32xf32>
    // expected-error @+1 {{qc-smoothquant: 'x' already has calibration statistics, which smoothing would invalidate; run qc-smoothquant before qc-calibrate}}
    %x = qc.observe %x0 "x" stats(#qc.stats<count = 4, min = [-1.0], max = [1.0]>) : tensor<?x32xf32>
    %e = tensor.empty(%n) : tensor<?x4xf32>
    %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
    %wv = ml_program.global_load_const @w : tensor<4x32xf32>
    %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                        affine_map<(m, n, k) -> (n, k)>,
                                        affine_map<(m, n, k) -> (m, n)>]
        ins(%x, %wv : tensor<?x32xf32>, tensor<4x32xf32>)
        outs(%init : tensor<?x4xf32>) -> tensor<?x4xf32>
    return %logits, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
}

// -----


// A group named by `layers` must be smoothable.
module {
  ml_program.global private @w_named(dense<0.5> : tensor<4x32xf32>) : tensor<4x32xf32>
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    %c0 = arith.constant 0 : index
    %n = tensor.dim %tokens, %c0 : tensor<?xi32>
    %zero = arith.constant 0.0 : f32
    %x = tensor.empty(%n) : tensor<?x32xf32>
    %e = tensor.empty(%n) : tensor<?x4xf32>
    %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
    %wv = ml_program.global_load_const @w_named : tensor<4x32xf32>
    // expected-error @+1 {{qc-smoothquant: cannot smooth the input of 'w_named': the input is produced by 'tensor.empty', not an elementwise linalg.generic}}
    %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                        affine_map<(m, n, k) -> (n, k)>,
                                        affine_map<(m, n, k) -> (m, n)>]
        ins(%x, %wv : tensor<?x32xf32>, tensor<4x32xf32>)
        outs(%init : tensor<?x4xf32>) -> tensor<?x4xf32>
    return %logits, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
}
