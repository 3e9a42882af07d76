// RUN: quant-opt %s -qc-bind-external-weights -split-input-file -verify-diagnostics

ml_program.global private mutable @state(dense<0.0> : tensor<4xf32>) : tensor<4xf32>
func.func @mutable() -> tensor<4xf32> {
  // expected-error @+1 {{reads or writes a mutable global, which qc-bind-external-weights cannot bind}}
  %s = ml_program.global_load @state : tensor<4xf32>
  return %s : tensor<4xf32>
}

// -----

ml_program.global private @unresolved(#ml_program.extern<tensor<4xf32>>) : tensor<4xf32>
func.func @extern() -> tensor<4xf32> {
  // expected-error @+1 {{loads @unresolved, whose value is neither a #qc.external reference nor elements}}
  %w = ml_program.global_load_const @unresolved : tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

ml_program.global private @bits(#qc.external<path = "/m.bin", offset = 0>) : tensor<8xi1>
func.func @subbyte() -> tensor<8xi1> {
  // expected-error @+1 {{loads @bits as a type that is not a static tensor of whole-byte elements: 'tensor<8xi1>'}}
  %w = ml_program.global_load_const @bits : tensor<8xi1>
  return %w : tensor<8xi1>
}

// -----

ml_program.global private @w(#qc.external<path = "/m.bin", offset = 0>) : tensor<4xf32>
// expected-error @+1 {{has callers; qc-bind-external-weights adds weight arguments and can only bind entry points}}
func.func @callee() -> tensor<4xf32> {
  %w = ml_program.global_load_const @w : tensor<4xf32>
  return %w : tensor<4xf32>
}
func.func @caller() -> tensor<4xf32> {
  %r = func.call @callee() : () -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// expected-error @+1 {{external weight needs a file path}}
ml_program.global private @nameless(#qc.external<path = "", offset = 0>) : tensor<4xf32>
