// RUN: quant-opt %s -canonicalize -cse -split-input-file | FileCheck %s

// Requantizing dequantized codes with the same parameters gives the codes.
// CHECK-LABEL: func @requantize_folds
// CHECK-SAME: (%[[Q:.*]]: tensor<4x8x!quant.uniform<i8:f32, 5.000000e-02:-3>>, %[[A:.*]]: tensor<4x2x{{.*}}>, %[[S:.*]]: tensor<2x8x{{.*}}>)
// CHECK-NOT: qc.
// CHECK: return %[[Q]], %[[A]], %[[S]]
func.func @requantize_folds(%q: tensor<4x8x!quant.uniform<i8:f32, 0.05:-3>>,
                            %a: tensor<4x2x!quant.uniform<u4:f32:1, {0.1:8, 0.2}>>,
                            %s: tensor<2x8x!quant.uniform<i8:f32:{1:4}, {{0.5, 0.25}}>>)
    -> (tensor<4x8x!quant.uniform<i8:f32, 0.05:-3>>, tensor<4x2x!quant.uniform<u4:f32:1, {0.1:8, 0.2}>>,
        tensor<2x8x!quant.uniform<i8:f32:{1:4}, {{0.5, 0.25}}>>) {
  %d = qc.dequantize %q : tensor<4x8x!quant.uniform<i8:f32, 0.05:-3>> -> tensor<4x8xf32>
  %r = qc.quantize %d : tensor<4x8xf32> -> tensor<4x8x!quant.uniform<i8:f32, 0.05:-3>>
  %da = qc.dequantize %a : tensor<4x2x!quant.uniform<u4:f32:1, {0.1:8, 0.2}>> -> tensor<4x2xf32>
  %ra = qc.quantize %da : tensor<4x2xf32> -> tensor<4x2x!quant.uniform<u4:f32:1, {0.1:8, 0.2}>>
  %ds = qc.dequantize %s : tensor<2x8x!quant.uniform<i8:f32:{1:4}, {{0.5, 0.25}}>> -> tensor<2x8xf32>
  %rs = qc.quantize %ds : tensor<2x8xf32> -> tensor<2x8x!quant.uniform<i8:f32:{1:4}, {{0.5, 0.25}}>>
  return %r, %ra, %rs : tensor<4x8x!quant.uniform<i8:f32, 0.05:-3>>, tensor<4x2x!quant.uniform<u4:f32:1, {0.1:8, 0.2}>>,
                        tensor<2x8x!quant.uniform<i8:f32:{1:4}, {{0.5, 0.25}}>>
}

// -----

// Fake quantization is the point of dequantize(quantize(x)): never folded
// (upstream folds dcast(qcast x) to x).
// CHECK-LABEL: func @fake_quant_is_kept
// CHECK: %[[Q:.*]] = qc.quantize
// CHECK: %[[D:.*]] = qc.dequantize %[[Q]]
// CHECK: return %[[D]]
func.func @fake_quant_is_kept(%x: tensor<4xf32>) -> tensor<4xf32> {
  %q = qc.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.05>>
  %d = qc.dequantize %q : tensor<4x!quant.uniform<i8:f32, 0.05>> -> tensor<4xf32>
  return %d : tensor<4xf32>
}

// -----

// Different parameters requantize for real.
// CHECK-LABEL: func @requantize_other_params
// CHECK: qc.dequantize
// CHECK: qc.quantize
func.func @requantize_other_params(%q: tensor<4x!quant.uniform<i8:f32, 0.05>>) -> tensor<4x!quant.uniform<i8:f32, 0.1>> {
  %d = qc.dequantize %q : tensor<4x!quant.uniform<i8:f32, 0.05>> -> tensor<4xf32>
  %r = qc.quantize %d : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.1>>
  return %r : tensor<4x!quant.uniform<i8:f32, 0.1>>
}

// -----

// Block quantizers search their scales: requantizing may change bytes.
// CHECK-LABEL: func @packed_requantize_kept
// CHECK: qc.dequantize
// CHECK: qc.quantize
func.func @packed_requantize_kept(%p: !qc.packed<2x256, q4_K>) -> !qc.packed<2x256, q4_K> {
  %d = qc.dequantize %p : !qc.packed<2x256, q4_K> -> tensor<2x256xf32>
  %r = qc.quantize %d : tensor<2x256xf32> -> !qc.packed<2x256, q4_K>
  return %r : !qc.packed<2x256, q4_K>
}

// -----

// A scale near the f32 limits makes (q - zp) * scale inexact: not folded.
// CHECK-LABEL: func @tiny_scale_kept
// CHECK: qc.dequantize
// CHECK: qc.quantize
func.func @tiny_scale_kept(%q: tensor<4x!quant.uniform<i8:f32, 1.0e-40>>) -> tensor<4x!quant.uniform<i8:f32, 1.0e-40>> {
  %d = qc.dequantize %q : tensor<4x!quant.uniform<i8:f32, 1.0e-40>> -> tensor<4xf32>
  %r = qc.quantize %d : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 1.0e-40>>
  return %r : tensor<4x!quant.uniform<i8:f32, 1.0e-40>>
}

// -----

// f16 cannot hold every dequantized value exactly: not folded.
// CHECK-LABEL: func @f16_kept
// CHECK: qc.dequantize
// CHECK: qc.quantize
func.func @f16_kept(%q: tensor<4x!quant.uniform<i8:f16, 1000.0>>) -> tensor<4x!quant.uniform<i8:f16, 1000.0>> {
  %d = qc.dequantize %q : tensor<4x!quant.uniform<i8:f16, 1000.0>> -> tensor<4xf16>
  %r = qc.quantize %d : tensor<4xf16> -> tensor<4x!quant.uniform<i8:f16, 1000.0>>
  return %r : tensor<4x!quant.uniform<i8:f16, 1000.0>>
}

// -----

// Observers are pure: an unused one is dead, identical ones CSE into one.
// CHECK-LABEL: func @observers
// CHECK-NEXT: %[[O:.*]] = qc.observe %{{.*}} "used"
// CHECK-NEXT: return %[[O]], %[[O]]
func.func @observers(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %dead = qc.observe %x "dead" : tensor<4xf32>
  %a = qc.observe %x "used" : tensor<4xf32>
  %b = qc.observe %x "used" : tensor<4xf32>
  return %a, %b : tensor<4xf32>, tensor<4xf32>
}
