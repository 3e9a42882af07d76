// qc-quantize on small hand-written modules with dense weights: one input per
// scheme family, each checked against the IR and the bytes it writes.
// RUN: rm -rf %t && split-file %s %t

// RUN: quant-opt %t/w8a8.mlir --qc-quantize="scheme=w8a8 weights-file=%t/w8a8.bin" | FileCheck %t/w8a8.mlir
// RUN: od -An -tx1 -w8 -N8 %t/w8a8.bin | FileCheck %s --check-prefix=CODES
// RUN: wc -c < %t/w8a8.bin | FileCheck %s --check-prefix=SIZE-W8A8
// The same input gives the same file.
// RUN: quant-opt %t/w8a8.mlir --qc-quantize="scheme=w8a8 weights-file=%t/again.bin" -o /dev/null
// RUN: cmp %t/w8a8.bin %t/again.bin
// Row 0 is [0.5, -1, 0.25, 2] with scale 2/127.5, row 1 [1, 0, -0.5, 0.125]
// with scale 1/127.5: round half to even, clamped to [-127, 127].
// CODES: 20 c0 10 7f 7f 00 c0 10
// 8 codes, padding to 64, two f32 scales.
// SIZE-W8A8: 72

// RUN: quant-opt %t/static.mlir --qc-quantize="scheme=w8a8-static weights-file=%t/static.bin" | FileCheck %t/static.mlir --check-prefix=MINMAX
// RUN: quant-opt %t/static.mlir --qc-quantize="scheme=w8a8-static method=percentile percentile=99 weights-file=%t/static.bin" | FileCheck %t/static.mlir --check-prefix=PERCENTILE
// RUN: quant-opt %t/static.mlir --qc-quantize="scheme=fp8 weights-file=%t/fp8.bin" | FileCheck %t/static.mlir --check-prefix=FP8
// RUN: wc -c < %t/fp8.bin | FileCheck %s --check-prefix=SIZE-FP8
// SIZE-FP8: 8

// RUN: quant-opt %t/int4.mlir --qc-quantize="scheme=int4-g32 weights-file=%t/int4.bin" | FileCheck %t/int4.mlir
// RUN: wc -c < %t/int4.bin | FileCheck %s --check-prefix=SIZE-INT4
// 3 rows of 40 4-bit codes (20 bytes each) padded to 64; 3 x 2 f32 scales
// padded to 128; 6 zero points.
// SIZE-INT4: 134

// RUN: quant-opt %t/blocks.mlir --qc-quantize="scheme=q8_0 weights-file=%t/q8_0.bin" | FileCheck %t/blocks.mlir --check-prefix=Q8
// RUN: quant-opt %t/blocks.mlir --qc-quantize="scheme=q4_K weights-file=%t/q4_K.bin" | FileCheck %t/blocks.mlir --check-prefix=Q4K
// RUN: wc -c < %t/q8_0.bin | FileCheck %s --check-prefix=SIZE-Q8
// 2 rows of 2 q8_0 blocks (34 bytes each) padded to 192; 2 x 48 f16.
// SIZE-Q8: 384

// RUN: quant-opt %t/plain.mlir --qc-quantize="scheme=int8 weights-file=%t/plain.bin" | FileCheck %t/plain.mlir

// RUN: quant-opt %t/tied.mlir --qc-quantize="scheme=q8_0 weights-file=%t/tied.bin" | FileCheck %t/tied.mlir --check-prefix=KEEP
// RUN: quant-opt %t/tied.mlir --qc-quantize="scheme=q8_0 keep-float= overrides=blk.0.*=int8 weights-file=%t/tied.bin" | FileCheck %t/tied.mlir --check-prefix=ALL
// RUN: quant-opt %t/tied.mlir --qc-quantize="scheme=q8_0 overrides=blk.*.attn_q.weight=int4,output.weight=q8_0,blk.1.*=int8 weights-file=%t/tied.bin" | FileCheck %t/tied.mlir --check-prefix=OVERRIDE

//--- w8a8.mlir
// Weights per row in si8, activations per token at run time: the observers,
// the zero fill and the float weight are gone.
// CHECK: module attributes {qc.quantized = {fallbacks = 0 : i64, file_bytes = 72 : i64, float_bytes = 32 : i64, kept_float = 0 : i64, packed_bytes = 72 : i64, prequantized = 0 : i64, quantized = 1 : i64, quantized_params = 8 : i64, scheme = "w8a8", weights_file = "{{.*}}w8a8.bin"}}
// CHECK-NEXT: ml_program.global private @fc.weight(#qc.external<path = "{{.*}}w8a8.bin", offset = 0>) : !qc.grouped<2x4, si8> {qc.format = "si8", qc.scheme = "w8a8", qc.source_weight = "fc.weight", qc.sqnr_db = 48.{{[0-9]+}} : f64}
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>)
// CHECK-NEXT: %[[W:.*]] = ml_program.global_load_const @fc.weight : !qc.grouped<2x4, si8>
// CHECK-NEXT: %[[Y:.*]] = qc.linear %[[X]], %[[W]] dynamic(per_token) : tensor<?x4xf32>, !qc.grouped<2x4, si8> -> tensor<?x2xf32>
// CHECK-NEXT: return %[[Y]]
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
ml_program.global private @fc.weight(dense<[[0.5, -1.0, 0.25, 2.0], [1.0, 0.0, -0.5, 0.125]]> : tensor<2x4xf32>) : tensor<2x4xf32>
func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %c0 = arith.constant 0 : index
  %d = tensor.dim %x, %c0 : tensor<?x4xf32>
  %ox = qc.observe %x "forward/matmul_0/in0" : tensor<?x4xf32>
  %w = ml_program.global_load_const @fc.weight : tensor<2x4xf32>
  %ow = qc.observe %w "forward/matmul_0/in1" axis(0) : tensor<2x4xf32>
  %e = tensor.empty(%d) : tensor<?x2xf32>
  %zero = arith.constant 0.0 : f32
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<?x2xf32>) -> tensor<?x2xf32>
  %y = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%ox, %ow : tensor<?x4xf32>, tensor<2x4xf32>) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

//--- static.mlir
// Calibrated per-tensor activations. minmax: [-1, 3] as PyTorch's affine
// int8 (scale 4/255, zero point -128 - round(-1 / scale) = -64).
// MINMAX: ml_program.global private @fc.weight({{.*}}) : !qc.grouped<2x4, si8> {qc.format = "si8", qc.scheme = "w8a8-static"
// MINMAX: qc.linear %{{.*}}, %{{.*}} static(!quant.uniform<i8:f32, 0.015686275{{[0-9]*}}:-64>) : tensor<?x4xf32>, !qc.grouped<2x4, si8> -> tensor<?x2xf32>
// MINMAX-NOT: qc.observe
// The 99th percentile of the |x| histogram (8 bins over [0, 4]) is the lower
// edge of bin 5, 2.5, which clips the top: [-1, 2.5], scale 3.5/255, zero
// point -128 - round(-72.86) = -55.
// PERCENTILE: static(!quant.uniform<i8:f32, 0.01372549{{[0-9]*}}:-55>)
// fp8: weights scaled by their amax (2 / 448), activations by theirs
// (3 / 448).
// FP8: ml_program.global private @fc.weight(#qc.external<path = "{{.*}}fp8.bin", offset = 0>) : tensor<2x4xf8E4M3FN> {qc.format = "f8e4m3", qc.scheme = "fp8", qc.source_weight = "fc.weight"}
// FP8: qc.linear %{{.*}}, %{{.*}} weight_scale(0.00446428591) input_scale(0.00669642864) : tensor<?x4xf32>, tensor<2x4xf8E4M3FN> -> tensor<?x2xf32>
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
ml_program.global private @fc.weight(dense<[[0.5, -1.0, 0.25, 2.0], [1.0, 0.0, -0.5, 0.125]]> : tensor<2x4xf32>) : tensor<2x4xf32>
func.func @forward(%x: tensor<?x4xf32>, %z: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %ox = qc.observe %x "forward/matmul_0/in0" bins(8)
      stats(#qc.stats<count = 100, min = [-1.0], max = [3.0],
                      histogram = <lo = 0.0, hi = 4.0, counts = [50, 30, 10, 5, 3, 1, 0, 1]>>)
      : tensor<?x4xf32>
  %w = ml_program.global_load_const @fc.weight : tensor<2x4xf32>
  %zero = arith.constant 0.0 : f32
  %zf = linalg.fill ins(%zero : f32) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  %y = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%ox, %w : tensor<?x4xf32>, tensor<2x4xf32>) outs(%zf : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

//--- int4.mlir
// Weight-only int4 in groups of 32 along rows of 40: a ragged last group.
// CHECK: ml_program.global private @fc.weight(#qc.external<path = "{{.*}}int4.bin", offset = 0>) : !qc.grouped<3x40, ui4, group = 32> {qc.format = "ui4:g32", qc.scheme = "int4-g32", qc.source_weight = "fc.weight"
// CHECK: %[[W:.*]] = ml_program.global_load_const @fc.weight : !qc.grouped<3x40, ui4, group = 32>
// CHECK: qc.linear %{{.*}}, %[[W]] : tensor<5x40xf32>, !qc.grouped<3x40, ui4, group = 32> -> tensor<5x3xf32>
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
ml_program.global private @fc.weight(dense<0.75> : tensor<3x40xf32>) : tensor<3x40xf32>
func.func @forward(%x: tensor<5x40xf32>) -> tensor<5x3xf32> {
  %w = ml_program.global_load_const @fc.weight : tensor<3x40xf32>
  %e = tensor.empty() : tensor<5x3xf32>
  %zero = arith.constant -0.0 : f32
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<5x3xf32>) -> tensor<5x3xf32>
  %y = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%x, %w : tensor<5x40xf32>, tensor<3x40xf32>) outs(%z : tensor<5x3xf32>) -> tensor<5x3xf32>
  return %y : tensor<5x3xf32>
}

//--- blocks.mlir
// llama.cpp formats: rows of 64 hold q8_0 blocks; rows of 48 fall back to
// f16 (no 32-element format divides them), which keeps the matmul over the
// weight widened to f32, as quantc import does for f16 checkpoints. q4_K
// (256-element blocks) falls back to q5_0 on rows of 64.
// Q8: ml_program.global private @a.weight(#qc.external<path = "{{.*}}q8_0.bin", offset = 0>) : !qc.packed<2x64, q8_0> {qc.format = "q8_0", qc.scheme = "q8_0", qc.source_weight = "a.weight", qc.sqnr_db = {{.*}} : f64}
// Q8-NEXT: ml_program.global private @b.weight(#qc.external<path = "{{.*}}q8_0.bin", offset = 192>) : tensor<2x48xf16> {qc.fallback = "q8_0", qc.format = "f16", qc.scheme = "q8_0", qc.source_weight = "b.weight", qc.sqnr_db = {{.*}} : f64}
// Q8-LABEL: func.func @forward
// Q8: %[[A:.*]] = ml_program.global_load_const @a.weight : !qc.packed<2x64, q8_0>
// Q8: qc.linear %{{.*}}, %[[A]] : tensor<?x64xf32>, !qc.packed<2x64, q8_0> -> tensor<?x2xf32>
// Q8: %[[B:.*]] = ml_program.global_load_const @b.weight : tensor<2x48xf16>
// Q8: %[[WIDE:.*]] = linalg.generic {{.*}} ins(%[[B]] : tensor<2x48xf16>) outs(%{{.*}} : tensor<2x48xf32>)
// Q8: arith.extf
// Q8: linalg.matmul {{.*}} ins(%{{.*}}, %[[WIDE]] : tensor<?x48xf32>, tensor<2x48xf32>)
// Q4K: module attributes {qc.quantized = {fallbacks = 2 : i64, {{.*}}quantized = 1 : i64, quantized_params = 128 : i64, scheme = "q4_K"
// Q4K: ml_program.global private @a.weight({{.*}}) : !qc.packed<2x64, q5_0> {qc.fallback = "q4_K", qc.format = "q5_0", qc.scheme = "q4_K"
// Q4K: ml_program.global private @b.weight({{.*}}) : tensor<2x48xf16> {qc.fallback = "q4_K", qc.format = "f16"
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
ml_program.global private @a.weight(dense<0.25> : tensor<2x64xf32>) : tensor<2x64xf32>
ml_program.global private @b.weight(dense<-0.1> : tensor<2x48xf32>) : tensor<2x48xf32>
func.func @forward(%x: tensor<?x64xf32>, %h: tensor<?x48xf32>, %z: tensor<?x2xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>) {
  %zero = arith.constant 0.0 : f32
  %zf = linalg.fill ins(%zero : f32) outs(%z : tensor<?x2xf32>) -> tensor<?x2xf32>
  %a = ml_program.global_load_const @a.weight : tensor<2x64xf32>
  %ya = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%x, %a : tensor<?x64xf32>, tensor<2x64xf32>) outs(%zf : tensor<?x2xf32>) -> tensor<?x2xf32>
  %b = ml_program.global_load_const @b.weight : tensor<2x48xf32>
  %yb = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%h, %b : tensor<?x48xf32>, tensor<2x48xf32>) outs(%zf : tensor<?x2xf32>) -> tensor<?x2xf32>
  return %ya, %yb : tensor<?x2xf32>, tensor<?x2xf32>
}

//--- plain.mlir
// A plain x * W matmul over an arith.constant [K, N] weight is packed
// transposed ([N, K]) under a name derived from its function; its init is
// not zero, so it is added back.
// CHECK: ml_program.global private @plain.matmul_0.weight(#qc.external<path = "{{.*}}plain.bin", offset = 0>) : !qc.grouped<2x3, si8> {qc.format = "si8", qc.scheme = "int8", qc.source_weight = "plain.matmul_0.weight"
// CHECK-LABEL: func.func @plain
// CHECK-SAME: (%[[X:.*]]: tensor<4x3xf32>, %[[ACC:.*]]: tensor<4x2xf32>)
// CHECK-NOT: arith.constant
// CHECK: %[[W:.*]] = ml_program.global_load_const @plain.matmul_0.weight : !qc.grouped<2x3, si8>
// CHECK: %[[L:.*]] = qc.linear %[[X]], %[[W]] : tensor<4x3xf32>, !qc.grouped<2x3, si8> -> tensor<4x2xf32>
// CHECK: %[[S:.*]] = linalg.add ins(%[[L]], %[[ACC]] : tensor<4x2xf32>, tensor<4x2xf32>) outs(%[[ACC]] : tensor<4x2xf32>)
// CHECK: return %[[S]]
func.func @plain(%x: tensor<4x3xf32>, %acc: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[1.0, -2.0], [0.5, 0.25], [3.0, 0.0]]> : tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<4x3xf32>, tensor<3x2xf32>) outs(%acc : tensor<4x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

//--- tied.mlir
// The classifier reads the token embedding, which the embedding also
// gathers from: it answers to output.weight, which keep-float keeps by
// default. The embedding stays float and inline (a dense global).
// KEEP: module attributes {qc.quantized = {{{.*}}kept_float = 1 : i64, {{.*}}quantized = 2 : i64
// KEEP: ml_program.global private @token_embd.weight(dense<{{.*}}> : tensor<8x32xf32>) : tensor<8x32xf32> {qc.keep_float}
// KEEP: ml_program.global private @blk.0.attn_q.weight({{.*}}) : !qc.packed<32x32, q8_0> {qc.format = "q8_0"
// KEEP: ml_program.global private @blk.1.attn_q.weight({{.*}}) : !qc.packed<32x32, q8_0> {qc.format = "q8_0"
// KEEP: tensor.extract %token_embd.weight
// KEEP: %[[E:.*]] = ml_program.global_load_const @token_embd.weight : tensor<8x32xf32>
// KEEP-NEXT: linalg.matmul {{.*}} ins(%{{.*}}, %[[E]] : tensor<?x32xf32>, tensor<8x32xf32>)
//
// With keep-float empty the classifier is quantized too: its packed copy
// gets its own name, since the embedding still reads the float one. blk.0
// takes int8 from an override.
// ALL: ml_program.global private @token_embd.weight(dense<{{.*}}> : tensor<8x32xf32>) : tensor<8x32xf32>{{$}}
// ALL-NEXT: ml_program.global private @token_embd.weight.q8_0({{.*}}) : !qc.packed<8x32, q8_0> {qc.format = "q8_0", qc.scheme = "q8_0", qc.source_weight = "token_embd.weight"
// ALL-NEXT: ml_program.global private @blk.0.attn_q.weight({{.*}}) : !qc.grouped<32x32, si8> {qc.format = "si8", qc.scheme = "int8"
// ALL-NEXT: ml_program.global private @blk.1.attn_q.weight({{.*}}) : !qc.packed<32x32, q8_0> {qc.format = "q8_0", qc.scheme = "q8_0"
// ALL: tensor.extract %{{.*}}
// ALL: qc.linear %{{.*}}, %{{.*}} : tensor<?x32xf32>, !qc.packed<8x32, q8_0> -> tensor<?x8xf32>
//
// Overrides: the first match wins, and an override beats keep-float.
// OVERRIDE: @token_embd.weight.q8_0({{.*}}) : !qc.packed<8x32, q8_0> {qc.format = "q8_0", qc.scheme = "q8_0"
// OVERRIDE: @blk.0.attn_q.weight({{.*}}) : !qc.grouped<32x32, ui4> {qc.format = "ui4", qc.scheme = "int4"
// OVERRIDE: @blk.1.attn_q.weight({{.*}}) : !qc.grouped<32x32, ui4> {qc.format = "ui4", qc.scheme = "int4"
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
ml_program.global private @token_embd.weight(dense<0.5> : tensor<8x32xf32>) : tensor<8x32xf32>
ml_program.global private @blk.0.attn_q.weight(dense<0.25> : tensor<32x32xf32>) : tensor<32x32xf32>
ml_program.global private @blk.1.attn_q.weight(dense<-0.25> : tensor<32x32xf32>) : tensor<32x32xf32>
func.func @forward(%tokens: tensor<?xi32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %tokens, %c0 : tensor<?xi32>
  %embd = ml_program.global_load_const @token_embd.weight : tensor<8x32xf32>
  %e0 = tensor.empty(%n) : tensor<?x32xf32>
  %h0 = linalg.generic {indexing_maps = [affine_map<(t, d) -> (t)>, affine_map<(t, d) -> (t, d)>], iterator_types = ["parallel", "parallel"]}
      ins(%tokens : tensor<?xi32>) outs(%e0 : tensor<?x32xf32>) {
  ^bb0(%token: i32, %out: f32):
    %row = arith.index_cast %token : i32 to index
    %col = linalg.index 1 : index
    %v = tensor.extract %embd[%row, %col] : tensor<8x32xf32>
    linalg.yield %v : f32
  } -> tensor<?x32xf32>
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty(%n) : tensor<?x32xf32>
  %z1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<?x32xf32>) -> tensor<?x32xf32>
  %q0 = ml_program.global_load_const @blk.0.attn_q.weight : tensor<32x32xf32>
  %h1 = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%h0, %q0 : tensor<?x32xf32>, tensor<32x32xf32>) outs(%z1 : tensor<?x32xf32>) -> tensor<?x32xf32>
  %q1 = ml_program.global_load_const @blk.1.attn_q.weight : tensor<32x32xf32>
  %h2 = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%h1, %q1 : tensor<?x32xf32>, tensor<32x32xf32>) outs(%z1 : tensor<?x32xf32>) -> tensor<?x32xf32>
  %e2 = tensor.empty(%n) : tensor<?x8xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<?x8xf32>) -> tensor<?x8xf32>
  %cls = ml_program.global_load_const @token_embd.weight : tensor<8x32xf32>
  %logits = linalg.matmul indexing_maps = [#x, #wt, #y] ins(%h2, %cls : tensor<?x32xf32>, tensor<8x32xf32>) outs(%z2 : tensor<?x8xf32>) -> tensor<?x8xf32>
  return %logits : tensor<?x8xf32>
}
