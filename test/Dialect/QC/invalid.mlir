// RUN: quant-opt %s -split-input-file -verify-diagnostics

func.func @observe_axis_out_of_bounds(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qc.observe' op axis 2 is out of bounds for a rank-2 tensor}}
  %0 = qc.observe %x "a" axis(2) : tensor<4x8xf32>
  return
}

// -----

func.func @observe_negative_axis(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qc.observe' op axis -1 is out of bounds for a rank-2 tensor}}
  %0 = qc.observe %x "a" axis(-1) : tensor<4x8xf32>
  return
}

// -----

func.func @observe_empty_label(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qc.observe' op needs a non-empty label}}
  %0 = qc.observe %x "" : tensor<4x8xf32>
  return
}

// -----

func.func @observe_zero_bins(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qc.observe' op histogram bin count must be positive, got 0}}
  %0 = qc.observe %x "a" bins(0) : tensor<4x8xf32>
  return
}

// -----

func.func @observe_integer_tensor(%x: tensor<4x8xi8>) {
  // expected-error @+1 {{'qc.observe' op operand #0 must be ranked tensor of floating-point values}}
  %0 = qc.observe %x "a" : tensor<4x8xi8>
  return
}

// -----

func.func @observe_stats_axis_mismatch(%x: tensor<4x2xf32>) {
  // expected-error @+1 {{'qc.observe' op statistics axis does not match the observer's axis}}
  %0 = qc.observe %x "a" axis(0) stats(#qc.stats<count = 8, axis = 1, min = [0.0, 0.0], max = [1.0, 1.0]>) : tensor<4x2xf32>
  return
}

// -----

func.func @observe_stats_channel_count(%x: tensor<4x3xf32>) {
  // expected-error @+1 {{'qc.observe' op per-channel statistics have 2 entries but dimension 1 has size 3}}
  %0 = qc.observe %x "a" axis(1) stats(#qc.stats<count = 8, axis = 1, min = [0.0, 0.0], max = [1.0, 1.0]>) : tensor<4x3xf32>
  return
}

// -----

func.func @observe_unrequested_histogram(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qc.observe' op statistics carry a histogram the observer did not ask for (no bins)}}
  %0 = qc.observe %x "a" stats(#qc.stats<count = 4, min = [0.0], max = [1.0], histogram = <lo = 0.0, hi = 1.0, counts = [4]>>) : tensor<4xf32>
  return
}

// -----

func.func @observe_histogram_bins(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qc.observe' op histogram has 1 bins, observer asked for 2048}}
  %0 = qc.observe %x "a" bins(2048) stats(#qc.stats<count = 4, min = [0.0], max = [1.0], histogram = <lo = 0.0, hi = 1.0, counts = [4]>>) : tensor<4xf32>
  return
}

// -----

func.func @observe_qtype_not_quantized(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qc.observe' op expects a !quant.uniform element type, got 'i8'}}
  %0 = qc.observe %x "a" qtype(i8) : tensor<4xf32>
  return
}

// -----

func.func @observe_qtype_axis(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qc.observe' op quantized axis 1 is out of bounds for a rank-1 tensor}}
  %0 = qc.observe %x "a" qtype(!quant.uniform<i8:f32:1, {0.1, 0.2}>) : tensor<4xf32>
  return
}

// -----

func.func @quantize_shape_mismatch(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qc.quantize' op float and quantized tensor shapes differ: 'tensor<4x8xf32>' vs 'tensor<8x4x!quant.uniform<i8:f32, 1.000000e-01>>'}}
  %0 = qc.quantize %x : tensor<4x8xf32> -> tensor<8x4x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @quantize_expressed_mismatch(%x: tensor<4xf16>) {
  // expected-error @+1 {{'qc.quantize' op quantized type expresses 'f32' but the float tensor holds 'f16'}}
  %0 = qc.quantize %x : tensor<4xf16> -> tensor<4x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @quantize_bit_width_too_wide(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qc.quantize' op storage width of 16 bits is outside the supported 2..8}}
  %0 = qc.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i16:f32, 0.1>>
  return
}

// -----

func.func @quantize_bit_width_too_narrow(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qc.quantize' op storage width of 1 bits is outside the supported 2..8}}
  %0 = qc.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i1:f32, 0.1>>
  return
}

// -----

// Upstream accepts a NaN scale; quantc does not.
func.func @quantize_nan_scale(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qc.quantize' op scale nan must be finite and > 0}}
  %0 = qc.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0x7FF8000000000000>>
  return
}

// -----

func.func @quantize_nan_per_axis_scale(%x: tensor<2xf32>) {
  // expected-error @+1 {{'qc.quantize' op scale nan (index 1) must be finite and > 0}}
  %0 = qc.quantize %x : tensor<2xf32> -> tensor<2x!quant.uniform<i8:f32:0, {0.5, 0x7FF8000000000000}>>
  return
}

// -----

// Upstream accepts a zero point outside the storage range; quantc does not.
func.func @quantize_zero_point_out_of_range(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qc.quantize' op zero point 300 is outside the storage range [-128, 127]}}
  %0 = qc.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.1:300>>
  return
}

// -----

func.func @quantize_zero_point_outside_narrow_range(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qc.quantize' op zero point -128 is outside the storage range [-127, 127]}}
  %0 = qc.quantize %x : tensor<4xf32> -> tensor<4x!quant.uniform<i8<-127:127>:f32, 0.1:-128>>
  return
}

// -----

func.func @quantize_u4_zero_point(%x: tensor<2xf32>) {
  // expected-error @+1 {{'qc.quantize' op zero point 16 (index 1) is outside the storage range [0, 15]}}
  %0 = qc.quantize %x : tensor<2xf32> -> tensor<2x!quant.uniform<u4:f32:0, {0.5:8, 0.5:16}>>
  return
}

// -----

func.func @quantize_axis_out_of_bounds(%x: tensor<4x2xf32>) {
  // expected-error @+1 {{'qc.quantize' op quantized axis 5 is out of bounds for a rank-2 tensor}}
  %0 = qc.quantize %x : tensor<4x2xf32> -> tensor<4x2x!quant.uniform<i8:f32:5, {0.5, 0.25}>>
  return
}

// -----

func.func @quantize_per_axis_count(%x: tensor<4x3xf32>) {
  // expected-error @+1 {{'qc.quantize' op per-axis type has 2 scales but dimension 1 has size 3}}
  %0 = qc.quantize %x : tensor<4x3xf32> -> tensor<4x3x!quant.uniform<i8:f32:1, {0.5, 0.25}>>
  return
}

// -----

func.func @quantize_block_not_dividing(%x: tensor<2x6xf32>) {
  // expected-error @+1 {{'qc.quantize' op block size 4 does not divide dimension 1 of size 6}}
  %0 = qc.quantize %x : tensor<2x6xf32> -> tensor<2x6x!quant.uniform<i8:f32:{0:1, 1:4}, {{0.5}, {0.5}}>>
  return
}

// -----

func.func @quantize_sub_channel_block_count(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{'qc.quantize' op sub-channel scales have 1 blocks along dimension 1 but 8 / 4 = 2 are needed}}
  %0 = qc.quantize %x : tensor<2x8xf32> -> tensor<2x8x!quant.uniform<i8:f32:{0:1, 1:4}, {{0.5}, {0.5}}>>
  return
}

// -----

func.func @quantize_calibrated_type(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qc.quantize' op expects a !quant.uniform element type, got '!quant.calibrated<f32<-1.000000e+00:1.000000e+00>>'}}
  %0 = qc.quantize %x : tensor<4xf32> -> tensor<4x!quant.calibrated<f32<-1.0:1.0>>>
  return
}

// -----

func.func @quantize_to_float(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qc.quantize' op result #0 must be ranked tensor of !quant.uniform or !qc.packed}}
  %0 = qc.quantize %x : tensor<4xf32> -> tensor<4xf16>
  return
}

// -----

func.func @quantize_packed_shape(%x: tensor<4x256xf32>) {
  // expected-error @+1 {{'qc.quantize' op float tensor shape 'tensor<4x256xf32>' does not match the packed logical shape '!qc.packed<8x256, q4_K>'}}
  %0 = qc.quantize %x : tensor<4x256xf32> -> !qc.packed<8x256, q4_K>
  return
}

// -----

func.func @quantize_packed_from_f16(%x: tensor<4x256xf16>) {
  // expected-error @+1 {{'qc.quantize' op block formats convert to and from f32, got 'f16'}}
  %0 = qc.quantize %x : tensor<4x256xf16> -> !qc.packed<4x256, q4_K>
  return
}

// -----

func.func @importance_on_uniform(%x: tensor<4xf32>, %i: tensor<4xf32>) {
  // expected-error @+1 {{'qc.quantize' op an importance matrix applies only to block formats}}
  %0 = qc.quantize %x importance(%i : tensor<4xf32>) : tensor<4xf32> -> tensor<4x!quant.uniform<i8:f32, 0.1>>
  return
}

// -----

func.func @importance_length(%x: tensor<4x256xf32>, %i: tensor<128xf32>) {
  // expected-error @+1 {{'qc.quantize' op importance must be a tensor<256xf32>, one weight per column; got 'tensor<128xf32>'}}
  %0 = qc.quantize %x importance(%i : tensor<128xf32>) : tensor<4x256xf32> -> !qc.packed<4x256, q4_K>
  return
}

// -----

func.func @importance_unsupported_format(%x: tensor<4x256xf32>, %i: tensor<256xf32>) {
  // expected-error @+1 {{'qc.quantize' op format tq2_0 does not take an importance matrix}}
  %0 = qc.quantize %x importance(%i : tensor<256xf32>) : tensor<4x256xf32> -> !qc.packed<4x256, tq2_0>
  return
}

// -----

func.func @dequantize_wrong_float(%q: tensor<4x!quant.uniform<i8:f32, 0.1>>) {
  // expected-error @+1 {{'qc.dequantize' op quantized type expresses 'f32' but the float tensor holds 'bf16'}}
  %0 = qc.dequantize %q : tensor<4x!quant.uniform<i8:f32, 0.1>> -> tensor<4xbf16>
  return
}

// -----

func.func @dequantize_packed_shape(%p: !qc.packed<2x32, q8_0>) {
  // expected-error @+1 {{'qc.dequantize' op float tensor shape 'tensor<2x64xf32>' does not match the packed logical shape '!qc.packed<2x32, q8_0>'}}
  %0 = qc.dequantize %p : !qc.packed<2x32, q8_0> -> tensor<2x64xf32>
  return
}

// -----

func.func @dequantize_float_input(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qc.dequantize' op operand #0 must be ranked tensor of !quant.uniform or !qc.packed}}
  %0 = qc.dequantize %x : tensor<4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @linear_depth_mismatch(%x: tensor<?x32xf32>, %w: !qc.grouped<16x64, si8>) {
  // expected-error @+1 {{'qc.linear' op input has 32 features but the weight has 64 inputs}}
  %0 = qc.linear %x, %w : tensor<?x32xf32>, !qc.grouped<16x64, si8> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_output_mismatch(%x: tensor<?x64xf32>, %w: !qc.grouped<16x64, si8>) {
  // expected-error @+1 {{'qc.linear' op result has 8 features but the weight has 16 outputs}}
  %0 = qc.linear %x, %w : tensor<?x64xf32>, !qc.grouped<16x64, si8> -> tensor<?x8xf32>
  return
}

// -----

func.func @linear_int8_activations_need_si8_rows(%x: tensor<?x64xf32>, %w: !qc.grouped<16x64, ui4, group = 32>) {
  // expected-error @+1 {{'qc.linear' op int8 activations need a per-row !qc.grouped<..., si8> weight, got '!qc.grouped<16x64, ui4, group = 32>'}}
  %0 = qc.linear %x, %w dynamic(per_token) : tensor<?x64xf32>, !qc.grouped<16x64, ui4, group = 32> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_two_activation_modes(%x: tensor<?x64xf32>, %w: !qc.grouped<16x64, si8>) {
  // expected-error @+1 {{'qc.linear' op dynamic, static and input_scale are exclusive ways of quantizing the input}}
  %0 = qc.linear %x, %w dynamic(per_token) static(!quant.uniform<i8:f32, 0.5>) : tensor<?x64xf32>, !qc.grouped<16x64, si8> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_static_needs_i8(%x: tensor<?x64xf32>, %w: !qc.grouped<16x64, si8>) {
  // expected-error @+1 {{'qc.linear' op static input type must be a per-tensor !quant.uniform<i8:f32, scale:zero_point>, got '!quant.uniform<u8:f32, 5.000000e-01>'}}
  %0 = qc.linear %x, %w static(!quant.uniform<u8:f32, 0.5>) : tensor<?x64xf32>, !qc.grouped<16x64, si8> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_fp8_needs_scale(%x: tensor<?x64xf32>, %w: tensor<16x64xf8E4M3FN>) {
  // expected-error @+1 {{'qc.linear' op an FP8 weight needs weight_scale}}
  %0 = qc.linear %x, %w : tensor<?x64xf32>, tensor<16x64xf8E4M3FN> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_scale_on_int_weight(%x: tensor<?x64xf32>, %w: !qc.grouped<16x64, si8>) {
  // expected-error @+1 {{'qc.linear' op weight_scale is only for FP8 weights}}
  %0 = qc.linear %x, %w weight_scale(0.5) : tensor<?x64xf32>, !qc.grouped<16x64, si8> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_fp8_input_needs_fp8_weight(%x: tensor<?x64xf32>, %w: !qc.packed<16x64, q8_0>) {
  // expected-error @+1 {{'qc.linear' op FP8 activations (input_scale) need an FP8 weight}}
  %0 = qc.linear %x, %w input_scale(0.5) : tensor<?x64xf32>, !qc.packed<16x64, q8_0> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_activation_format(%x: tensor<?x64xf32>, %w: !qc.packed<16x64, q8_1>) {
  // expected-error @+1 {{'qc.linear' op format 'q8_1' quantizes activations, not weights}}
  %0 = qc.linear %x, %w : tensor<?x64xf32>, !qc.packed<16x64, q8_1> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_negative_input_scale(%x: tensor<?x64xf32>, %w: tensor<16x64xf8E4M3FN>) {
  // expected-error @+1 {{'qc.linear' op input_scale must be finite and > 0, got -5.000000e-01}}
  %0 = qc.linear %x, %w weight_scale(0.5) input_scale(-0.5) : tensor<?x64xf32>, tensor<16x64xf8E4M3FN> -> tensor<?x16xf32>
  return
}
