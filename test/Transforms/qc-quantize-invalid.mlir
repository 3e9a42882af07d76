// RUN: rm -rf %t && mkdir -p %t
// RUN: quant-opt %s -split-input-file -verify-diagnostics --qc-quantize="scheme=w8a8-static weights-file=%t/w.bin"
// Nothing is written when the pass fails.
// RUN: not ls %t/w.bin

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
ml_program.global private @w(dense<0.5> : tensor<2x4xf32>) : tensor<2x4xf32>
// Every projection is checked before giving up: both missing statistics are
// reported.
func.func @uncalibrated(%x: tensor<?x4xf32>, %z: tensor<?x2xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>) {
  // expected-error @+1 {{'f/in0' has no calibration statistics; run qc-calibrate}}
  %ox = qc.observe %x "f/in0" : tensor<?x4xf32>
  %w = ml_program.global_load_const @w : tensor<2x4xf32>
  %y = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%ox, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  // expected-error @+1 {{'f/in1' has no calibration statistics; run qc-calibrate}}
  %oy = qc.observe %x "f/in1" axis(1) : tensor<?x4xf32>
  %y2 = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%oy, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y, %y2 : tensor<?x2xf32>, tensor<?x2xf32>
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
ml_program.global private @w(dense<0.5> : tensor<2x4xf32>) : tensor<2x4xf32>
func.func @unobserved(%x: tensor<?x4xf32>, %z: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = ml_program.global_load_const @w : tensor<2x4xf32>
  // expected-error @+1 {{has no qc.observe on its input; w8a8-static calibrates activations: run qc-insert-observers and qc-calibrate first}}
  %y = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%x, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// expected-error @+1 {{weight 'w' has a non-finite value (nan) at [1, 2]; quantizing it would poison its scales}}
ml_program.global private @w(dense<[[0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0x7FC00000, 0.5]]> : tensor<2x4xf32>) : tensor<2x4xf32>
func.func @nan(%x: tensor<?x4xf32>, %z: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %ox = qc.observe %x "nan/in0" stats(#qc.stats<count = 4, min = [-1.0], max = [1.0]>) : tensor<?x4xf32>
  %w = ml_program.global_load_const @w : tensor<2x4xf32>
  %y = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%ox, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
func.func @infinite(%x: tensor<?x4xf32>, %z: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %ox = qc.observe %x "inf/in0" stats(#qc.stats<count = 4, min = [-1.0], max = [1.0]>) : tensor<?x4xf32>
  // expected-error @+1 {{weight 'infinite.matmul_0.weight' has a non-finite value (-inf) at [0, 3]}}
  %w = arith.constant dense<[[0.5, 0.5, 0.5, 0xFF800000], [0.5, 0.5, 0.5, 0.5]]> : tensor<2x4xf32>
  %y = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%ox, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
func.func @argument_weight(%x: tensor<?x4xf32>, %w: tensor<2x4xf32>, %z: tensor<?x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{has a weight that is not a constant or a global (it is a block argument); qc-quantize packs weights known before the model runs}}
  %y = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%x, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// Attention-style products of two activations are not projections.
func.func @computed_weight(%x: tensor<?x4xf32>, %k: tensor<2x4xf32>, %z: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = arith.addf %k, %k : tensor<2x4xf32>
  // expected-error @+1 {{has a weight that is not a constant or a global (it is computed by 'arith.addf')}}
  %y = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%x, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

ml_program.global private mutable @state(dense<0.5> : tensor<2x4xf32>) : tensor<2x4xf32>
func.func @mutable(%x: tensor<?x4xf32>, %z: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = ml_program.global_load @state : tensor<2x4xf32>
  // expected-error @+1 {{has a weight that is not a constant or a global (it is computed by 'ml_program.global_load')}}
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ins(%x, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

ml_program.global private @w(dense<0.5> : tensor<4x2xf32>) : tensor<4x2xf32>
func.func @transposed_input(%x: tensor<4x3xf32>, %z: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = ml_program.global_load_const @w : tensor<4x2xf32>
  // expected-error @+1 {{has indexing maps that are neither x * W^T (weight [N, K]) nor x * W (weight [K, N]); qc-quantize rewrites projections}}
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (k, m)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>] ins(%x, %w : tensor<4x3xf32>, tensor<4x2xf32>) outs(%z : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

func.func @half_activations(%x: tensor<4x4xf16>, %z: tensor<4x2xf16>) -> tensor<4x2xf16> {
  %w = arith.constant dense<0.5> : tensor<4x2xf16>
  // expected-error @+1 {{computes 'tensor<4x4xf16>' -> 'tensor<4x2xf16>'; qc-quantize rewrites projections of f32 activations}}
  %y = linalg.matmul ins(%x, %w : tensor<4x4xf16>, tensor<4x2xf16>) outs(%z : tensor<4x2xf16>) -> tensor<4x2xf16>
  return %y : tensor<4x2xf16>
}

// -----

func.func @buffers(%x: memref<4x4xf32>, %z: memref<4x2xf32>) {
  %w = arith.constant dense<0.5> : tensor<4x2xf32>
  %m = bufferization.to_buffer %w : tensor<4x2xf32> to memref<4x2xf32>
  // expected-error @+1 {{has buffer semantics; qc-quantize runs on tensors, before bufferization}}
  linalg.matmul ins(%x, %m : memref<4x4xf32>, memref<4x2xf32>) outs(%z : memref<4x2xf32>)
  return
}

// -----

// int8 x int8 sums of 2^17 products could overflow the int32 accumulator.
ml_program.global private @wide(dense<0.5> : tensor<1x131072xf32>) : tensor<1x131072xf32>
func.func @too_deep(%x: tensor<?x131072xf32>, %z: tensor<?x1xf32>) -> tensor<?x1xf32> {
  %ox = qc.observe %x "deep/in0" stats(#qc.stats<count = 4, min = [-1.0], max = [1.0]>) : tensor<?x131072xf32>
  %w = ml_program.global_load_const @wide : tensor<1x131072xf32>
  // expected-error @+1 {{reduces over 131072 inputs; w8a8-static accumulates int8 products in int32, which holds at most 131071}}
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ins(%ox, %w : tensor<?x131072xf32>, tensor<1x131072xf32>) outs(%z : tensor<?x1xf32>) -> tensor<?x1xf32>
  return %y : tensor<?x1xf32>
}

// -----

// expected-error @+1 {{cannot read its weight file: /nonexistent/model.bin}}
ml_program.global private @missing(#qc.external<path = "/nonexistent/model.bin", offset = 0>) : tensor<2x4xf32>
func.func @unreadable(%x: tensor<?x4xf32>, %z: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = ml_program.global_load_const @missing : tensor<2x4xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ins(%x, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// A norm that stays float must still be copied from its file.
// expected-error @+1 {{cannot read its weight file: /nonexistent/norm.bin}}
ml_program.global private @norm(#qc.external<path = "/nonexistent/norm.bin", offset = 0>) : tensor<4xf32>
func.func @unreadable_copy() -> tensor<4xf32> {
  %n = ml_program.global_load_const @norm : tensor<4xf32>
  return %n : tensor<4xf32>
}

// -----

// Bytes qc-gptq chose for another format than this scheme stores.
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
ml_program.global private @w(dense<0.5> : tensor<2x4xf32>) : tensor<2x4xf32> {qc.prequantized = {bytes = dense<0> : tensor<8xi8>, format = "ui4:g16", method = "gptq"}}
func.func @other_format(%x: tensor<?x4xf32>, %z: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = ml_program.global_load_const @w : tensor<2x4xf32>
  // expected-error @+1 {{weight 'w' was quantized by gptq to ui4:g16, but w8a8-static stores it as si8; run both passes with the same scheme}}
  %y = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%x, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// The right format, but not the bytes that format takes.
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
ml_program.global private @w(dense<0.5> : tensor<2x4xf32>) : tensor<2x4xf32> {qc.prequantized = {bytes = dense<0> : tensor<3xi8>, format = "si8", method = "gptq"}}
func.func @short_bytes(%x: tensor<?x4xf32>, %z: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = ml_program.global_load_const @w : tensor<2x4xf32>
  // expected-error @+1 {{weight 'w' has 3 prequantized bytes, but si8 of 2x4 takes}}
  %y = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%x, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
ml_program.global private @w(dense<0.5> : tensor<2x4xf32>) : tensor<2x4xf32> {qc.prequantized = {format = "si8", method = "gptq"}}
func.func @no_bytes(%x: tensor<?x4xf32>, %z: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = ml_program.global_load_const @w : tensor<2x4xf32>
  // expected-error @+1 {{weight 'w' has a malformed qc.prequantized (expected {format, method, bytes: i8 elements})}}
  %y = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%x, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
