// qc-quantize's refusals of its options and of weight files, each before
// anything is written.
// RUN: rm -rf %t && split-file %s %t
// RUN: not quant-opt %t/model.mlir --qc-quantize 2>&1 | FileCheck %s --check-prefix=NOSCHEME
// NOSCHEME: error: qc-quantize needs a scheme (scheme=...): w8a8, w8a8-static, fp8, int8, intB or intB-gG (B = 2..8, groups of G), f32, f16, bf16, q4_0,
// RUN: not quant-opt %t/model.mlir --qc-quantize="scheme=w4a4 weights-file=%t/w.bin" 2>&1 | FileCheck %s --check-prefix=SCHEME
// SCHEME: error: qc-quantize: unknown scheme 'w4a4'; expected one of: w8a8, w8a8-static, fp8
// RUN: not quant-opt %t/model.mlir --qc-quantize="scheme=q8_K weights-file=%t/w.bin" 2>&1 | FileCheck %s --check-prefix=ACTIVATION
// ACTIVATION: error: qc-quantize: q8_K is the format llama.cpp quantizes activations to, not a weight scheme
// RUN: not quant-opt %t/model.mlir --qc-quantize="scheme=int9 weights-file=%t/w.bin" 2>&1 | FileCheck %s --check-prefix=BITS
// BITS: error: qc-quantize: scheme 'int9': integer weights take 2 to 8 bits (int2 .. int8)
// RUN: not quant-opt %t/model.mlir --qc-quantize="scheme=w8a8" 2>&1 | FileCheck %s --check-prefix=NOFILE
// NOFILE: error: qc-quantize needs weights-file=PATH: 2 packed weights and 1 weights read from files go there
// RUN: not quant-opt %t/model.mlir --qc-quantize="scheme=w8a8-static method=kl weights-file=%t/w.bin" 2>&1 | FileCheck %s --check-prefix=METHOD
// METHOD: error: qc-quantize: unknown method 'kl'; expected minmax, percentile, entropy or mse
// RUN: not quant-opt %t/model.mlir --qc-quantize="scheme=w8a8-static method=percentile percentile=100.5 weights-file=%t/w.bin" 2>&1 | FileCheck %s --check-prefix=PERCENT
// PERCENT: error: qc-quantize: percentile must be in [0, 100], got 1.005000e+02
// RUN: not quant-opt %t/model.mlir --qc-quantize="scheme=int8 overrides=blk.0.* weights-file=%t/w.bin" 2>&1 | FileCheck %s --check-prefix=SYNTAX
// SYNTAX: error: qc-quantize: override 'blk.0.*' is not GLOB=SCHEME
// RUN: not quant-opt %t/model.mlir --qc-quantize="scheme=int8 overrides=blk.0.*=int4-g0 weights-file=%t/w.bin" 2>&1 | FileCheck %s --check-prefix=OVERSCHEME
// OVERSCHEME: error: qc-quantize: override 'blk.0.*=int4-g0': scheme 'int4-g0': the group size must be a positive number, e.g. int4-g32
// RUN: not quant-opt %t/model.mlir --qc-quantize="scheme=int8 overrides=blk.0.*=q8_0,blk.9.*=q4_0,{a,b}=f16 weights-file=%t/w.bin" 2>&1 | FileCheck %s --check-prefix=UNMATCHED
// UNMATCHED: error: qc-quantize: override 'blk.9.*=q4_0' matches no projection weight
// UNMATCHED: error: qc-quantize: override '{a,b}=f16' matches no projection weight
// RUN: not quant-opt %t/model.mlir --qc-quantize="scheme=int8 keep-float=[ weights-file=%t/w.bin" 2>&1 | FileCheck %s --check-prefix=GLOB
// GLOB: error: qc-quantize: keep-float glob '[': invalid glob pattern, unmatched '['
// llama.cpp block formats fall back unless told not to.
// RUN: not quant-opt %t/model.mlir --qc-quantize="scheme=q4_K fallback=false weights-file=%t/w.bin" 2>&1 | FileCheck %s --check-prefix=NOFALLBACK
// NOFALLBACK: error: 'linalg.matmul' op weight 'blk.0.attn_q.weight' has rows of 64, not a multiple of the q4_K block size 256, and fallback=false
// fp8 activations take no int8 searches; histogram methods need histograms.
// RUN: not quant-opt %t/calibrated.mlir --qc-quantize="scheme=fp8 method=mse weights-file=%t/w.bin" 2>&1 | FileCheck %s --check-prefix=FP8MSE
// FP8MSE: error: 'linalg.matmul' op method=mse searches an int8 grid; fp8 activations take minmax or percentile
// RUN: not quant-opt %t/calibrated.mlir --qc-quantize="scheme=w8a8-static method=entropy weights-file=%t/w.bin" 2>&1 | FileCheck %s --check-prefix=NOHIST
// NOHIST: error: 'qc.observe' op 'f/in0' has statistics without a histogram, which method=entropy needs; observe it with bins (qc-insert-observers bins=2048) and calibrate again

// Weights in files: a file shorter than the weight, and a weights-file that
// would overwrite the checkpoint the module reads.
// RUN: printf '0123456789abcdef' > %t/short.bin
// RUN: sed 's|@DIR@|%t|' %t/external.mlir > %t/external-in.mlir
// RUN: not quant-opt %t/external-in.mlir --qc-quantize="scheme=int8 weights-file=%t/w.bin" 2>&1 | FileCheck %s --check-prefix=SHORT
// SHORT: error: 'ml_program.global' op weight 'w' needs bytes [8, 40) of '{{.*}}short.bin', which has 16 bytes
// RUN: not quant-opt %t/external-in.mlir --qc-quantize="scheme=int8 keep-float=w weights-file=%t/short.bin" 2>&1 | FileCheck %s --check-prefix=OVERWRITE
// OVERWRITE: error: 'ml_program.global' op reads '{{.*}}short.bin', which weights-file would overwrite; write the quantized weights elsewhere
// RUN: not ls %t/w.bin
// RUN: FileCheck %s --check-prefix=UNCHANGED < %t/short.bin
// UNCHANGED: 0123456789abcdef

//--- model.mlir
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
ml_program.global private @blk.0.attn_q.weight(dense<0.5> : tensor<64x64xf32>) : tensor<64x64xf32>
ml_program.global private @blk.1.attn_q.weight(dense<0.5> : tensor<64x64xf32>) : tensor<64x64xf32>
ml_program.global private @norm(#qc.external<path = "/nonexistent/norm.bin", offset = 0>) : tensor<64xf32>
func.func @forward(%x: tensor<?x64xf32>, %z: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<64xf32>) {
  %w0 = ml_program.global_load_const @blk.0.attn_q.weight : tensor<64x64xf32>
  %y0 = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%x, %w0 : tensor<?x64xf32>, tensor<64x64xf32>) outs(%z : tensor<?x64xf32>) -> tensor<?x64xf32>
  %w1 = ml_program.global_load_const @blk.1.attn_q.weight : tensor<64x64xf32>
  %y1 = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%y0, %w1 : tensor<?x64xf32>, tensor<64x64xf32>) outs(%z : tensor<?x64xf32>) -> tensor<?x64xf32>
  %n = ml_program.global_load_const @norm : tensor<64xf32>
  return %y1, %n : tensor<?x64xf32>, tensor<64xf32>
}

//--- calibrated.mlir
ml_program.global private @w(dense<0.5> : tensor<2x4xf32>) : tensor<2x4xf32>
func.func @f(%x: tensor<?x4xf32>, %z: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %ox = qc.observe %x "f/in0" stats(#qc.stats<count = 4, min = [-1.0], max = [1.0]>) : tensor<?x4xf32>
  %w = ml_program.global_load_const @w : tensor<2x4xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ins(%ox, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

//--- external.mlir
ml_program.global private @w(#qc.external<path = "@DIR@/short.bin", offset = 8>) : tensor<2x4xf32>
func.func @f(%x: tensor<?x4xf32>, %z: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = ml_program.global_load_const @w : tensor<2x4xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ins(%x, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
