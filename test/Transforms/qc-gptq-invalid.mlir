// RUN: quant-opt %s --qc-gptq="scheme=int4-g16 overrides='w_fp8=fp8,w_iq=tq2_0' quiet=1 samples=%S/../Tools/Inputs/story.txt" -split-input-file -verify-diagnostics
// RUN: not quant-opt %s --qc-gptq="quiet=1" -split-input-file 2>&1 | FileCheck %s --check-prefix=NOSCHEME
// RUN: not quant-opt %s --qc-gptq="scheme=int4-g16 damp=0 quiet=1" -split-input-file 2>&1 | FileCheck %s --check-prefix=DAMP
// RUN: not quant-opt %S/../Tools/Inputs/no-forward.mlir --qc-gptq="scheme=int4-g16 quiet=1" 2>&1 | FileCheck %s --check-prefix=NOMODEL

// NOSCHEME: qc-gptq: needs a scheme (scheme=...)
// DAMP: qc-gptq: damp must be in (0, 1], got 0
// NOMODEL: qc-gptq: not an imported model

// FP8 weights have one scale per tensor: nothing for GPTQ to choose.
module {
  ml_program.global private @w_fp8(dense<0.5> : tensor<4x32xf32>) : tensor<4x32xf32>
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    %c0 = arith.constant 0 : index
    %n = tensor.dim %tokens, %c0 : tensor<?xi32>
    %zero = arith.constant 0.0 : f32
    %x = tensor.empty(%n) : tensor<?x32xf32>
    %e = tensor.empty(%n) : tensor<?x4xf32>
    %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
    %wv = ml_program.global_load_const @w_fp8 : tensor<4x32xf32>
    // expected-error @+1 {{qc-gptq: fp8 stores weights as E4M3 codes with one scale per tensor; GPTQ targets integer groups and llama.cpp block formats}}
    %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                        affine_map<(m, n, k) -> (n, k)>,
                                        affine_map<(m, n, k) -> (m, n)>]
        ins(%x, %wv : tensor<?x32xf32>, tensor<4x32xf32>)
        outs(%init : tensor<?x4xf32>) -> tensor<?x4xf32>
    return %logits, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
}

// -----


// Ternary formats have no scalar grid to round within.
module {
  ml_program.global private @w_iq(dense<0.5> : tensor<4x256xf32>) : tensor<4x256xf32>
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    %c0 = arith.constant 0 : index
    %n = tensor.dim %tokens, %c0 : tensor<?xi32>
    %zero = arith.constant 0.0 : f32
    %x = tensor.empty(%n) : tensor<?x256xf32>
    %e = tensor.empty(%n) : tensor<?x4xf32>
    %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
    %wv = ml_program.global_load_const @w_iq : tensor<4x256xf32>
    // expected-error @+1 {{qc-gptq: weight 'w_iq': GPTQ: tq2_0 is ternary: its single per-block scale is the block's absolute maximum and its codes are trits (packed base 3 in tq1_0), not a scalar grid GPTQ can round within}}
    %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                        affine_map<(m, n, k) -> (n, k)>,
                                        affine_map<(m, n, k) -> (m, n)>]
        ins(%x, %wv : tensor<?x256xf32>, tensor<4x256xf32>)
        outs(%init : tensor<?x4xf32>) -> tensor<?x4xf32>
    return %logits, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
}

// -----


// True-sequential runs read weights from host buffers: globals only.
module {
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    %c0 = arith.constant 0 : index
    %n = tensor.dim %tokens, %c0 : tensor<?xi32>
    %zero = arith.constant 0.0 : f32
    %x = tensor.empty(%n) : tensor<?x32xf32>
    %e = tensor.empty(%n) : tensor<?x4xf32>
    %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
    %wv = arith.constant dense<0.5> : tensor<4x32xf32>
    // expected-error @+1 {{qc-gptq: weight 'forward.matmul_0.weight' is an arith.constant; qc-gptq quantizes weights held in ml_program globals (the tapped model reads them from host buffers)}}
    %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                        affine_map<(m, n, k) -> (n, k)>,
                                        affine_map<(m, n, k) -> (m, n)>]
        ins(%x, %wv : tensor<?x32xf32>, tensor<4x32xf32>)
        outs(%init : tensor<?x4xf32>) -> tensor<?x4xf32>
    return %logits, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
}
