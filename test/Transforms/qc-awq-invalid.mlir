// RUN: quant-opt %s --qc-awq="scheme=int4-g16 overrides='w_act=w8a8' quiet=1 samples=%S/../Tools/Inputs/story.txt" -split-input-file -verify-diagnostics
// RUN: not quant-opt %s --qc-awq="quiet=1" -split-input-file 2>&1 | FileCheck %s --check-prefix=NOSCHEME
// RUN: not quant-opt %s --qc-awq="scheme=int4-g16 grid=0 quiet=1" -split-input-file 2>&1 | FileCheck %s --check-prefix=GRID
// RUN: not quant-opt %s --qc-awq="scheme=int4-g16 quiet=1" -split-input-file 2>&1 | FileCheck %s --check-prefix=NOSAMPLES

// NOSCHEME: qc-awq: needs a scheme (scheme=...)
// GRID: qc-awq: grid must be positive, got 0
// NOSAMPLES: qc-awq: no samples; pass samples=FILE

// AWQ is for weight-only schemes.
module {
  ml_program.global private @w_act(dense<0.5> : tensor<4x32xf32>) : tensor<4x32xf32>
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    %c0 = arith.constant 0 : index
    %n = tensor.dim %tokens, %c0 : tensor<?xi32>
    %zero = arith.constant 0.0 : f32
    %x = tensor.empty(%n) : tensor<?x32xf32>
    %e = tensor.empty(%n) : tensor<?x4xf32>
    %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
    %wv = ml_program.global_load_const @w_act : tensor<4x32xf32>
    // expected-error @+1 {{qc-awq: w8a8 is not a weight-only integer or llama.cpp scheme; AWQ protects salient weights of weight-only quantization (for quantized activations, use qc-smoothquant)}}
    %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                        affine_map<(m, n, k) -> (n, k)>,
                                        affine_map<(m, n, k) -> (m, n)>]
        ins(%x, %wv : tensor<?x32xf32>, tensor<4x32xf32>)
        outs(%init : tensor<?x4xf32>) -> tensor<?x4xf32>
    return %logits, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
}
