// RUN: quant-opt %s --qc-calibrate="quiet=1" -split-input-file -verify-diagnostics

// Only a model as `quantc import` writes it can run.
// expected-error @+1 {{qc-calibrate: not an imported model: the module has no @forward function to compile}}
module {
  func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
    %0 = qc.observe %x "x" : tensor<4xf32>
    return %0 : tensor<4xf32>
  }
}

// -----

// expected-error @+1 {{qc-calibrate: not an imported model: @forward has type (tensor<4xf32>) -> tensor<4xf32>; expected (tensor<?xi32>, index}}
module {
  func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {
    %0 = qc.observe %x "x" : tensor<4xf32>
    return %0 : tensor<4xf32>
  }
}

// -----

// A model, but nothing observed.
// expected-error @+1 {{qc-calibrate: nothing to calibrate: the module has no qc.observe; run qc-insert-observers first}}
module {
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    return %logits, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
}

// -----

// Calibration runs @forward: an observer elsewhere would see nothing.
module {
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    return %logits, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
  func.func @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
    // expected-error @+1 {{'qc.observe' op is outside @forward, which is what qc-calibrate runs}}
    %0 = qc.observe %x "helper" : tensor<4xf32>
    return %0 : tensor<4xf32>
  }
}

// -----

// Activations are recorded as f32.
module {
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    %h = tensor.empty() : tensor<2xf16>
    // expected-error @+1 {{'qc.observe' op observes a 'tensor<2xf16>' activation; calibration records f32 tensors}}
    %0 = qc.observe %h "half" : tensor<2xf16>
    return %logits, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
}

// -----

// A NaN or infinite weight never becomes statistics.
module {
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    %w = arith.constant dense<[[1.0, 0x7FC00000], [0x7F800000, 2.0]]> : tensor<2x2xf32>
    // expected-error @+1 {{'qc.observe' op observes a weight with 2 NaN or infinite values of 4}}
    %0 = qc.observe %w "w" axis(0) : tensor<2x2xf32>
    return %logits, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
}

// -----

// A weight whose file is missing.
module {
  ml_program.global private @w(#qc.external<path = "/nonexistent/quantc-model.bin", offset = 0>) : tensor<2x2xf32>
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    %w = ml_program.global_load_const @w : tensor<2x2xf32>
    // expected-error @+1 {{'qc.observe' op cannot read global @w: /nonexistent/quantc-model.bin: cannot open: No such file or directory}}
    %0 = qc.observe %w "w" : tensor<2x2xf32>
    return %logits, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
}

// -----

// A weight global without a value to read.
module {
  ml_program.global private @w(#ml_program.extern : tensor<2xf32>) : tensor<2xf32>
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    %w = ml_program.global_load_const @w : tensor<2xf32>
    // expected-error @+1 {{'qc.observe' op observes global @w, whose value is neither float elements nor a #qc.external reference}}
    %0 = qc.observe %w "w" : tensor<2xf32>
    return %logits, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
}

// -----

// Activations need samples.
// expected-error @+1 {{qc-calibrate: no samples; pass samples=FILE (int32 tokens .i32, or UTF-8 text)}}
module {
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    %0 = qc.observe %logits "logits" : tensor<?x3xf32>
    return %0, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
}
