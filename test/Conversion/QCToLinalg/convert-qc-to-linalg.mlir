// RUN: quant-opt %s --convert-qc-to-linalg --split-input-file | FileCheck %s
// RUN: quant-opt %s --convert-qc-to-linalg="fuse-dequantize=true" --split-input-file | FileCheck %s --check-prefix=FUSED

// W8A8, dynamic per-token: the grouped global splits into its code and
// scale planes (offsets of lib/Numerics/GroupedAffine.h: 32 x 64 codes,
// then the scales at 2048); max |x| per row (NaN ignored), scale and
// inverse, codes rounded half to even and clamped to [-127, 127], an
// i8 x i8 -> i32 matmul, and float(acc) * (x_scale * w_scale[n]).

// CHECK-DAG: ml_program.global private @w.codes(#qc.external<path = "m.bin", offset = 128>) : tensor<32x64xi8>
// CHECK-DAG: ml_program.global private @w.scales(#qc.external<path = "m.bin", offset = 2176>) : tensor<32x1xf32>
// CHECK-NOT: !qc.grouped
// CHECK-LABEL: func.func @per_token(
// CHECK-SAME:      %[[X:.*]]: tensor<?x64xf32>
// CHECK-DAG:     %[[CODES:.*]] = ml_program.global_load_const @w.codes : tensor<32x64xi8>
// CHECK-DAG:     %[[SCALES:.*]] = ml_program.global_load_const @w.scales : tensor<32x1xf32>
// CHECK:         %[[WS:.*]] = tensor.collapse_shape %[[SCALES]] {{\[}}[0, 1]] : tensor<32x1xf32> into tensor<32xf32>
// CHECK:         %[[AMAX:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[X]] : tensor<?x64xf32>)
// CHECK:           math.absf
// CHECK:           arith.maxnumf
// CHECK:         %[[S:.*]]:2 = linalg.generic {{.*}} ins(%[[AMAX]] : tensor<?xf32>)
// CHECK:           %[[DIV:.*]] = arith.divf %{{.*}}, %{{.*}} : f32
// CHECK:           %[[SCALE:.*]] = arith.maxnumf %[[DIV]], %{{.*}} : f32
// CHECK:           %[[INV:.*]] = arith.divf %{{.*}}, %[[SCALE]] : f32
// CHECK:           linalg.yield %[[SCALE]], %[[INV]] : f32, f32
// CHECK:         %[[XQ:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[S]]#1 : tensor<?x64xf32>, tensor<?xf32>) outs(%{{.*}} : tensor<?x64xi8>)
// CHECK:           arith.mulf
// CHECK:           math.roundeven
// CHECK:           arith.cmpf uno
// CHECK:           arith.maxnumf
// CHECK:           arith.minnumf
// CHECK:           arith.select
// CHECK:           arith.fptosi %{{.*}} : f32 to i32
// CHECK:           arith.trunci %{{.*}} : i32 to i8
// CHECK:         %[[ACC:.*]] = linalg.matmul indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}] ins(%[[XQ]], %[[CODES]] : tensor<?x64xi8>, tensor<32x64xi8>) outs(%{{.*}} : tensor<?x32xi32>)
// CHECK:         %[[Y:.*]] = linalg.generic {{.*}} ins(%[[ACC]], %[[WS]], %[[S]]#0 : tensor<?x32xi32>, tensor<32xf32>, tensor<?xf32>) outs(%{{.*}} : tensor<?x32xf32>)
// CHECK:         ^bb0(%[[A:.*]]: i32, %[[W:.*]]: f32, %[[XS:.*]]: f32, %{{.*}}: f32):
// CHECK:           %[[PS:.*]] = arith.mulf %[[XS]], %[[W]] : f32
// CHECK:           %[[F:.*]] = arith.sitofp %[[A]] : i32 to f32
// CHECK:           %[[R:.*]] = arith.mulf %[[F]], %[[PS]] : f32
// CHECK:           linalg.yield %[[R]] : f32
// CHECK:         return %[[Y]] : tensor<?x32xf32>
ml_program.global private @w(#qc.external<path = "m.bin", offset = 128>) : !qc.grouped<32x64, si8>
func.func @per_token(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  %w = ml_program.global_load_const @w : !qc.grouped<32x64, si8>
  %y = qc.linear %x, %w dynamic(per_token)
      : tensor<?x64xf32>, !qc.grouped<32x64, si8> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// Per tensor: one max over the whole input, scale and inverse as scalars.

// CHECK-LABEL: func.func @per_tensor(
// CHECK:         %[[AMAX:.*]] = linalg.generic {{.*}} iterator_types = ["reduction", "reduction"]} ins(%{{.*}} : tensor<4x64xf32>) outs(%{{.*}} : tensor<f32>)
// CHECK:         %[[M:.*]] = tensor.extract %[[AMAX]][] : tensor<f32>
// CHECK:         %[[DIV:.*]] = arith.divf %[[M]], %{{.*}} : f32
// CHECK:         %[[SCALE:.*]] = arith.maxnumf %[[DIV]], %{{.*}} : f32
// CHECK:         %[[INV:.*]] = arith.divf %{{.*}}, %[[SCALE]] : f32
// CHECK:         linalg.generic {{.*}} outs(%{{.*}} : tensor<4x64xi8>)
// CHECK:           arith.mulf %{{.*}}, %[[INV]] : f32
// CHECK:         linalg.matmul {{.*}} -> tensor<4x32xi32>
// CHECK:         linalg.generic
// CHECK:           arith.mulf %[[SCALE]], %{{.*}} : f32
ml_program.global private @w(#qc.external<path = "m.bin", offset = 0>) : !qc.grouped<32x64, si8>
func.func @per_tensor(%x: tensor<4x64xf32>) -> tensor<4x32xf32> {
  %w = ml_program.global_load_const @w : !qc.grouped<32x64, si8>
  %y = qc.linear %x, %w dynamic(per_tensor)
      : tensor<4x64xf32>, !qc.grouped<32x64, si8> -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

// Static: 1 / 0.02 = 50 as a constant, the grid [-128, 127] shifted by the
// zero point -3, and -3 * (row sums of the weight) taken off the integer
// sums before the epilogue.

// CHECK-LABEL: func.func @static(
// CHECK-DAG:     %[[INV:.*]] = arith.constant 5.000000e+01 : f32
// CHECK-DAG:     %[[S:.*]] = arith.constant 2.000000e-02 : f32
// CHECK:         %[[XQ:.*]] = linalg.generic
// CHECK:           arith.mulf %{{.*}}, %[[INV]] : f32
// CHECK:           arith.constant -1.250000e+02 : f32
// CHECK:           arith.constant 1.300000e+02 : f32
// CHECK:           %[[Q:.*]] = arith.fptosi
// CHECK:           arith.addi %[[Q]], %{{.*}} : i32
// CHECK:         %[[ACC:.*]] = linalg.matmul {{.*}} ins(%[[XQ]], %[[CODES:.*]] : tensor<?x64xi8>, tensor<32x64xi8>)
// CHECK:         %[[SUMS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[CODES]] : tensor<32x64xi8>) outs(%{{.*}} : tensor<32xi32>)
// CHECK:           arith.extsi
// CHECK:           arith.addi
// CHECK:         linalg.generic {{.*}} ins(%[[ACC]], %{{.*}}, %[[SUMS]] : tensor<?x32xi32>, tensor<32xf32>, tensor<32xi32>)
// CHECK:           %[[C:.*]] = arith.muli %{{.*}}, %{{.*}} : i32
// CHECK:           %[[A:.*]] = arith.subi %{{.*}}, %[[C]] : i32
// CHECK:           %[[PS:.*]] = arith.mulf %[[S]], %{{.*}} : f32
// CHECK:           %[[F:.*]] = arith.sitofp %[[A]] : i32 to f32
// CHECK:           arith.mulf %[[F]], %[[PS]] : f32
ml_program.global private @w(#qc.external<path = "m.bin", offset = 0>) : !qc.grouped<32x64, si8>
func.func @static(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  %w = ml_program.global_load_const @w : !qc.grouped<32x64, si8>
  %y = qc.linear %x, %w static(!quant.uniform<i8:f32, 0.02:-3>)
      : tensor<?x64xf32>, !qc.grouped<32x64, si8> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// Weight-only int4, groups of 32 over 172 columns (the last group has 12):
// 86 bytes of codes per row, 6 scales and zero points per row at their
// aligned offsets (688 -> 704, 704 + 192 = 896). Codes are read from the
// bit stream by index; then the importer's transposed-B matmul in f32.

// CHECK-DAG: ml_program.global private @w.codes(#qc.external<path = "m.bin", offset = 64>) : tensor<8x86xi8>
// CHECK-DAG: ml_program.global private @w.scales(#qc.external<path = "m.bin", offset = 768>) : tensor<8x6xf32>
// CHECK-DAG: ml_program.global private @w.zero_points(#qc.external<path = "m.bin", offset = 960>) : tensor<8x6xi8>
// CHECK-LABEL: func.func @int4(
// CHECK:         %[[W:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} outs(%{{.*}} : tensor<8x172xf32>)
// CHECK:           %[[N:.*]] = linalg.index 0 : index
// CHECK:           %[[K:.*]] = linalg.index 1 : index
// CHECK:           %[[BIT:.*]] = arith.muli %[[K]], %{{.*}} : index
// CHECK:           %[[BYTE:.*]] = arith.shrui %[[BIT]], %{{.*}} : index
// CHECK:           tensor.extract %{{.*}}[%[[N]], %[[BYTE]]] : tensor<8x86xi8>
// CHECK:           %[[G:.*]] = arith.divui %[[K]], %{{.*}} : index
// CHECK:           %[[SCALE:.*]] = tensor.extract %{{.*}}[%[[N]], %[[G]]] : tensor<8x6xf32>
// CHECK:           %[[ZP:.*]] = tensor.extract %{{.*}}[%[[N]], %[[G]]] : tensor<8x6xi8>
// CHECK:           %[[Z:.*]] = arith.extui %[[ZP]] : i8 to i32
// CHECK:           %[[D:.*]] = arith.subi %{{.*}}, %[[Z]] : i32
// CHECK:           %[[F:.*]] = arith.sitofp %[[D]] : i32 to f32
// CHECK:           arith.mulf %[[F]], %[[SCALE]] : f32
// CHECK:         linalg.matmul {{.*}} ins(%{{.*}}, %[[W]] : tensor<?x172xf32>, tensor<8x172xf32>) outs(%{{.*}} : tensor<?x8xf32>)

// FUSED-LABEL: func.func @int4(
// FUSED-NOT:     linalg.matmul
// FUSED:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}} : tensor<?x172xf32>) outs(%{{.*}} : tensor<?x8xf32>)
// FUSED:           linalg.index 1 : index
// FUSED:           linalg.index 2 : index
// FUSED:           tensor.extract
// FUSED:           arith.mulf
// FUSED:           arith.addf
ml_program.global private @w(#qc.external<path = "m.bin", offset = 64>) : !qc.grouped<8x172, ui4, group = 32>
func.func @int4(%x: tensor<?x172xf32>) -> tensor<?x8xf32> {
  %w = ml_program.global_load_const @w : !qc.grouped<8x172, ui4, group = 32>
  %y = qc.linear %x, %w : tensor<?x172xf32>, !qc.grouped<8x172, ui4, group = 32> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Weight-only int3, one group per row: a code may straddle two bytes, so the
// next byte (clamped to the row) is read too, then the code sign-extended.

// CHECK-LABEL: func.func @int3(
// CHECK:         linalg.generic {{.*}} outs(%{{.*}} : tensor<4x70xf32>)
// CHECK:           %[[LO:.*]] = tensor.extract %{{.*}} : tensor<4x27xi8>
// CHECK:           %[[NEXT:.*]] = arith.minui %{{.*}}, %{{.*}} : index
// CHECK:           %[[HI:.*]] = tensor.extract %{{.*}}[%{{.*}}, %[[NEXT]]] : tensor<4x27xi8>
// CHECK:           arith.shli
// CHECK:           arith.ori
// CHECK:           arith.shrui
// CHECK:           arith.andi
// CHECK:           arith.shli
// CHECK:           arith.shrsi
ml_program.global private @w(#qc.external<path = "m.bin", offset = 0>) : !qc.grouped<4x70, si3>
func.func @int3(%x: tensor<?x70xf32>) -> tensor<?x4xf32> {
  %w = ml_program.global_load_const @w : !qc.grouped<4x70, si3>
  %y = qc.linear %x, %w : tensor<?x70xf32>, !qc.grouped<4x70, si3> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// Weight-only int4 whose groups are whole bytes (groups of 32 dividing
// the row): dequantized over (row, code slot in a byte, group, byte in
// group), every plane read through indexing maps (no gathers: it
// vectorizes), giving the weight's columns slot-major; the activations'
// columns are put in the same order, so the matmul sums the same products.

// CHECK-LABEL: func.func @int4_slots(
// CHECK-SAME:      %[[X:.*]]: tensor<?x64xf32>
// CHECK:         %[[CODES:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [16, 2, 16] : tensor<16x32xi8> into tensor<16x2x16xi8>
// CHECK:         %[[W:.*]] = linalg.generic {indexing_maps = [#{{map[0-9]*}}, #[[GROUPMAP:map[0-9]*]], #[[GROUPMAP]], #{{map[0-9]*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[CODES]], %{{.*}}, %{{.*}} : tensor<16x2x16xi8>, tensor<16x2xf32>, tensor<16x2xi8>) outs(%{{.*}} : tensor<16x2x2x16xf32>)
// CHECK:           %[[SLOT:.*]] = linalg.index 1 : index
// CHECK:           arith.shrui
// CHECK:           arith.andi
// CHECK-NOT:       tensor.extract
// CHECK:         %[[WT:.*]] = tensor.collapse_shape %[[W]] {{\[}}[0], [1, 2, 3]] : tensor<16x2x2x16xf32> into tensor<16x64xf32>
// CHECK:         %[[XE:.*]] = tensor.expand_shape %[[X]] {{\[}}[0], [1, 2]] output_shape [%{{.*}}, 32, 2] : tensor<?x64xf32> into tensor<?x32x2xf32>
// CHECK:         %[[XS:.*]] = linalg.generic {{.*}} ins(%[[XE]] : tensor<?x32x2xf32>) outs(%{{.*}} : tensor<?x2x32xf32>)
// CHECK:         %[[XT:.*]] = tensor.collapse_shape %[[XS]] {{\[}}[0], [1, 2]] : tensor<?x2x32xf32> into tensor<?x64xf32>
// CHECK:         linalg.matmul {{.*}} ins(%[[XT]], %[[WT]] : tensor<?x64xf32>, tensor<16x64xf32>)
ml_program.global private @w(#qc.external<path = "m.bin", offset = 0>) : !qc.grouped<16x64, ui4, group = 32>
func.func @int4_slots(%x: tensor<?x64xf32>) -> tensor<?x16xf32> {
  %w = ml_program.global_load_const @w : !qc.grouped<16x64, ui4, group = 32>
  %y = qc.linear %x, %w : tensor<?x64xf32>, !qc.grouped<16x64, ui4, group = 32> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// FP8 weights with FP8 activations: the f8 global becomes its bytes (an
// elements value is bitcast), activations are scaled by 1 / 0.25 = 4,
// rounded to E4M3FN and decoded with integer bit operations, the weight
// decoded likewise, an f32 matmul, and the product of the scales (0.125).

// CHECK: ml_program.global private @wf.bytes(dense<{{.*}}> : tensor<4x8xi8>) : tensor<4x8xi8>
// CHECK-LABEL: func.func @fp8(
// CHECK:         %[[INV:.*]] = arith.constant 4.000000e+00 : f32
// CHECK:         %[[XQ:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x8xf32>)
// CHECK:           arith.mulf %{{.*}}, %[[INV]] : f32
// CHECK:           arith.bitcast %{{.*}} : f32 to i32
// CHECK:           arith.minui
// CHECK:           arith.trunci %{{.*}} : i32 to i8
// CHECK:           arith.extui %{{.*}} : i8 to i32
// CHECK:           arith.bitcast %{{.*}} : i32 to f32
// CHECK:         %[[W:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<4x8xi8>) outs(%{{.*}} : tensor<4x8xf32>)
// CHECK:         %[[P:.*]] = linalg.matmul {{.*}} ins(%[[XQ]], %[[W]] : tensor<?x8xf32>, tensor<4x8xf32>)
// CHECK:         %[[OUT:.*]] = arith.constant 1.250000e-01 : f32
// CHECK:         linalg.generic {{.*}} ins(%[[P]] : tensor<?x4xf32>)
// CHECK:           arith.mulf %{{.*}}, %[[OUT]] : f32
ml_program.global private @wf(dense<[[1.0, 2.0, 0.5, -1.0, 448.0, 0.0, 3.0, -0.25],
                                     [1.0, 2.0, 0.5, -1.0, 448.0, 0.0, 3.0, -0.25],
                                     [1.0, 2.0, 0.5, -1.0, 448.0, 0.0, 3.0, -0.25],
                                     [1.0, 2.0, 0.5, -1.0, 448.0, 0.0, 3.0, -0.25]]> : tensor<4x8xf8E4M3FN>) : tensor<4x8xf8E4M3FN>
func.func @fp8(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  %w = ml_program.global_load_const @wf : tensor<4x8xf8E4M3FN>
  %y = qc.linear %x, %w weight_scale(0.5) input_scale(0.25)
      : tensor<?x8xf32>, tensor<4x8xf8E4M3FN> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// A grouped weight inline (elements of its bytes): each plane becomes its
// own elements, the scales read as little-endian f32 (0.5 and 0.25).

// CHECK-DAG: ml_program.global private @w.codes(dense<{{\[}}[1, 2, 3, 4], [-1, 0, 1, 127]]> : tensor<2x4xi8>) : tensor<2x4xi8>
// CHECK-DAG: ml_program.global private @w.scales(dense<{{\[}}[5.000000e-01], [2.500000e-01]]> : tensor<2x1xf32>) : tensor<2x1xf32>
// CHECK-LABEL: func.func @inline(
ml_program.global private @w(dense<"0x01020304FF00017F00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000003F0000803E"> : tensor<72xi8>) : !qc.grouped<2x4, si8>
func.func @inline(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w = ml_program.global_load_const @w : !qc.grouped<2x4, si8>
  %y = qc.linear %x, %w dynamic(per_token) : tensor<?x4xf32>, !qc.grouped<2x4, si8> -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// A llama.cpp block format: the global becomes its rows of blocks
// (64 / 32 blocks of 34 bytes per row), decoded by the format's IR decoder,
// then the importer's matmul.

// CHECK: ml_program.global private @wq.bytes(#qc.external<path = "m.bin", offset = 4096>) : tensor<4x68xi8>
// CHECK-LABEL: func.func @packed(
// CHECK:         %[[BYTES:.*]] = ml_program.global_load_const @wq.bytes : tensor<4x68xi8>
// CHECK:         %[[BLOCKS:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<4x2x32xf32>)
// CHECK:           tensor.extract %[[BYTES]]
// CHECK:         %[[W:.*]] = tensor.collapse_shape %[[BLOCKS]] {{.*}} into tensor<4x64xf32>
// CHECK:         linalg.matmul {{.*}} ins(%{{.*}}, %[[W]] : tensor<?x64xf32>, tensor<4x64xf32>)
ml_program.global private @wq(#qc.external<path = "m.bin", offset = 4096>) : !qc.packed<4x64, q8_0>
func.func @packed(%x: tensor<?x64xf32>) -> tensor<?x4xf32> {
  %w = ml_program.global_load_const @wq : !qc.packed<4x64, q8_0>
  %y = qc.linear %x, %w : tensor<?x64xf32>, !qc.packed<4x64, q8_0> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// A global no function loads still becomes its planes (qc-bind-external-
// weights drops the unused ones).

// CHECK: ml_program.global private @unused.bytes(#qc.external<path = "m.bin", offset = 0>) : tensor<4x68xi8>
// CHECK-NOT: !qc.packed
ml_program.global private @unused(#qc.external<path = "m.bin", offset = 0>) : !qc.packed<4x64, q8_0>
