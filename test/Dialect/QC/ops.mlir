// RUN: quant-opt %s | quant-opt | FileCheck %s
// RUN: quant-opt %s --mlir-print-op-generic | quant-opt | FileCheck %s
// RUN: quant-opt %s --emit-bytecode | quant-opt | FileCheck %s

// CHECK-LABEL: func @observe_forms
func.func @observe_forms(%x: tensor<4x64xf32>, %w: tensor<64x32xf32>, %d: tensor<?x64xbf16>, %v: tensor<4x2xf32>) {
  // CHECK: qc.observe %{{.*}} "fc/matmul_0/in0" : tensor<4x64xf32>
  %0 = qc.observe %x "fc/matmul_0/in0" : tensor<4x64xf32>
  // CHECK: qc.observe %{{.*}} "fc/matmul_0/in1" axis(1) : tensor<64x32xf32>
  %1 = qc.observe %w "fc/matmul_0/in1" axis(1) : tensor<64x32xf32>
  // CHECK: qc.observe %{{.*}} "dyn" axis(0) bins(2048) : tensor<?x64xbf16>
  %2 = qc.observe %d "dyn" axis(0) bins(2048) : tensor<?x64xbf16>
  // CHECK: qc.observe %{{.*}} "calibrated" bins(4)
  // CHECK-SAME: stats(#qc.stats<count = 256, min = [-1.000000e+00], max = [2.000000e+00],
  // CHECK-SAME: histogram = <lo = -1.000000e+00, hi = 2.000000e+00, counts = [1, 5, 200, 50]>>)
  // CHECK-SAME: qtype(!quant.uniform<i8:f32, 0.011764705882352941:-43>) : tensor<4x64xf32>
  %3 = qc.observe %x "calibrated" bins(4)
         stats(#qc.stats<count = 256, min = [-1.0], max = [2.0],
                         histogram = <lo = -1.0, hi = 2.0, counts = [1, 5, 200, 50]>>)
         qtype(!quant.uniform<i8:f32, 0.011764705882352941:-43>) : tensor<4x64xf32>
  // CHECK: qc.observe %{{.*}} "per-channel" axis(1)
  // CHECK-SAME: stats(#qc.stats<count = 64, axis = 1, min = [-1.000000e+00, -5.000000e-01], max = [1.000000e+00, 2.500000e-01]>)
  // CHECK-SAME: qtype(!quant.uniform<i4:f32:1, {1.250000e-01,6.250000e-02:2}>)
  %4 = qc.observe %v "per-channel" axis(1)
         stats(#qc.stats<count = 64, axis = 1, min = [-1.0, -0.5], max = [1.0, 0.25]>)
         qtype(!quant.uniform<i4:f32:1, {0.125, 0.0625:2}>) : tensor<4x2xf32>
  return
}

// CHECK-LABEL: func @uniform_round_trip
func.func @uniform_round_trip(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  // CHECK: %[[Q:.*]] = qc.quantize %{{.*}} : tensor<4x8xf32> -> tensor<4x8x!quant.uniform<i8:f32, 5.000000e-02:-3>>
  // CHECK: qc.dequantize %[[Q]] : tensor<4x8x!quant.uniform<i8:f32, 5.000000e-02:-3>> -> tensor<4x8xf32>
  %q = qc.quantize %x : tensor<4x8xf32> -> tensor<4x8x!quant.uniform<i8:f32, 0.05:-3>>
  %d = qc.dequantize %q : tensor<4x8x!quant.uniform<i8:f32, 0.05:-3>> -> tensor<4x8xf32>
  // Per-axis, unsigned 4-bit storage.
  // CHECK: qc.quantize %{{.*}} : tensor<4x8xf32> -> tensor<4x8x!quant.uniform<u4:f32:0, {1.000000e-01:8,2.000000e-01:8,3.000000e-01,4.000000e-01:15}>>
  %qa = qc.quantize %x : tensor<4x8xf32> -> tensor<4x8x!quant.uniform<u4:f32:0, {0.1:8, 0.2:8, 0.3:0, 0.4:15}>>
  %da = qc.dequantize %qa : tensor<4x8x!quant.uniform<u4:f32:0, {0.1:8, 0.2:8, 0.3:0, 0.4:15}>> -> tensor<4x8xf32>
  // Sub-channel: one scale per row and group of 4 columns.
  // CHECK: qc.quantize %{{.*}} -> tensor<4x8x!quant.uniform<i8:f32:{0:1, 1:4}
  %qs = qc.quantize %x : tensor<4x8xf32> -> tensor<4x8x!quant.uniform<i8:f32:{0:1, 1:4}, {{0.5, 0.25}, {0.5, 0.25}, {0.5, 0.25}, {0.5:1, 0.25:-1}}>>
  %ds = qc.dequantize %qs : tensor<4x8x!quant.uniform<i8:f32:{0:1, 1:4}, {{0.5, 0.25}, {0.5, 0.25}, {0.5, 0.25}, {0.5:1, 0.25:-1}}>> -> tensor<4x8xf32>
  return %d, %da, %ds : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// CHECK-LABEL: func @narrow_and_small_widths
func.func @narrow_and_small_widths(%x: tensor<16xf32>, %h: tensor<16xf16>) {
  // CHECK: tensor<16x!quant.uniform<i8<-127:127>:f32, 1.000000e-01>>
  %0 = qc.quantize %x : tensor<16xf32> -> tensor<16x!quant.uniform<i8<-127:127>:f32, 0.1>>
  // CHECK: tensor<16x!quant.uniform<i2:f32, 1.000000e+00:1>>
  %1 = qc.quantize %x : tensor<16xf32> -> tensor<16x!quant.uniform<i2:f32, 1.0:1>>
  // CHECK: tensor<16x!quant.uniform<u8:f16, 2.500000e-01:128>>
  %2 = qc.quantize %h : tensor<16xf16> -> tensor<16x!quant.uniform<u8:f16, 0.25:128>>
  return
}

// CHECK-LABEL: func @block_formats
func.func @block_formats(%w: tensor<16x256xf32>, %imatrix: tensor<256xf32>) -> tensor<16x256xf32> {
  // CHECK: %[[P:.*]] = qc.quantize %{{.*}} : tensor<16x256xf32> -> !qc.packed<16x256, q4_K>
  %p = qc.quantize %w : tensor<16x256xf32> -> !qc.packed<16x256, q4_K>
  // CHECK: qc.quantize %{{.*}} importance(%{{.*}} : tensor<256xf32>) : tensor<16x256xf32> -> !qc.packed<16x256, iq4_xs>
  %i = qc.quantize %w importance(%imatrix : tensor<256xf32>) : tensor<16x256xf32> -> !qc.packed<16x256, iq4_xs>
  // CHECK: qc.quantize %{{.*}} : tensor<16x256xf32> -> !qc.packed<16x256, q8_0>
  %q8 = qc.quantize %w : tensor<16x256xf32> -> !qc.packed<16x256, q8_0>
  // CHECK: qc.dequantize %[[P]] : !qc.packed<16x256, q4_K> -> tensor<16x256xf32>
  %d = qc.dequantize %p : !qc.packed<16x256, q4_K> -> tensor<16x256xf32>
  return %d : tensor<16x256xf32>
}

// CHECK-LABEL: func @linear_forms
func.func @linear_forms(%x: tensor<?x64xf32>, %w8: !qc.grouped<32x64, si8>,
                        %w4: !qc.grouped<32x64, ui4, group = 32>,
                        %wq: !qc.packed<32x64, q8_0>,
                        %wf: tensor<32x64xf8E4M3FN>) {
  // CHECK: qc.linear %{{.*}}, %{{.*}} dynamic(per_token) : tensor<?x64xf32>, !qc.grouped<32x64, si8> -> tensor<?x32xf32>
  %0 = qc.linear %x, %w8 dynamic(per_token) : tensor<?x64xf32>, !qc.grouped<32x64, si8> -> tensor<?x32xf32>
  // CHECK: qc.linear %{{.*}}, %{{.*}} dynamic(per_tensor)
  %1 = qc.linear %x, %w8 dynamic(per_tensor) : tensor<?x64xf32>, !qc.grouped<32x64, si8> -> tensor<?x32xf32>
  // CHECK: qc.linear %{{.*}}, %{{.*}} static(!quant.uniform<i8:f32, 2.500000e-02:-4>)
  %2 = qc.linear %x, %w8 static(!quant.uniform<i8:f32, 0.025:-4>) : tensor<?x64xf32>, !qc.grouped<32x64, si8> -> tensor<?x32xf32>
  // CHECK: qc.linear %{{.*}}, %{{.*}} : tensor<?x64xf32>, !qc.grouped<32x64, ui4, group = 32> -> tensor<?x32xf32>
  %3 = qc.linear %x, %w4 : tensor<?x64xf32>, !qc.grouped<32x64, ui4, group = 32> -> tensor<?x32xf32>
  // CHECK: qc.linear %{{.*}}, %{{.*}} : tensor<?x64xf32>, !qc.packed<32x64, q8_0> -> tensor<?x32xf32>
  %4 = qc.linear %x, %wq : tensor<?x64xf32>, !qc.packed<32x64, q8_0> -> tensor<?x32xf32>
  // CHECK: qc.linear %{{.*}}, %{{.*}} weight_scale(3.125000e-02) input_scale(5.000000e-01) : tensor<?x64xf32>, tensor<32x64xf8E4M3FN> -> tensor<?x32xf32>
  %5 = qc.linear %x, %wf weight_scale(0.03125) input_scale(0.5) : tensor<?x64xf32>, tensor<32x64xf8E4M3FN> -> tensor<?x32xf32>
  // CHECK: qc.linear %{{.*}}, %{{.*}} weight_scale(3.125000e-02) : tensor<?x64xf32>, tensor<32x64xf8E4M3FN> -> tensor<?x32xf32>
  %6 = qc.linear %x, %wf weight_scale(0.03125) : tensor<?x64xf32>, tensor<32x64xf8E4M3FN> -> tensor<?x32xf32>
  return
}
