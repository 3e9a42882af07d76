// RUN: quant-opt %s --convert-qc-to-linalg --split-input-file -verify-diagnostics

// The weight's bytes must come from a global.
func.func @argument(%x: tensor<?x64xf32>, %w: !qc.grouped<32x64, si8>) -> tensor<?x32xf32> {
  // expected-error @+1 {{weight must be an ml_program.global_load_const of a quantized global}}
  %y = qc.linear %x, %w dynamic(per_token)
      : tensor<?x64xf32>, !qc.grouped<32x64, si8> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// A quantized weight used by anything but qc.linear.
ml_program.global private @w(#qc.external<path = "m.bin", offset = 0>) : !qc.grouped<32x64, si8>
func.func @escapes() -> !qc.grouped<32x64, si8> {
  // expected-note @+1 {{loaded here}}
  %w = ml_program.global_load_const @w : !qc.grouped<32x64, si8>
  // expected-error @+1 {{'func.return' op uses a quantized weight, which convert-qc-to-linalg only lowers in qc.linear}}
  return %w : !qc.grouped<32x64, si8>
}

// -----

// expected-error @+1 {{is a mutable quantized weight}}
ml_program.global private mutable @w(#qc.external<path = "m.bin", offset = 0>) : !qc.grouped<32x64, si8>

// -----

// Elements must be the whole blob: 32 x 64 codes + 32 scales = 2176 bytes.
// expected-error @+1 {{holds a quantized weight whose value is neither a #qc.external reference nor 2176 bytes of elements}}
ml_program.global private @w(dense<0> : tensor<64xi8>) : !qc.grouped<32x64, si8>

// -----

// Values held elsewhere by symbol name cannot be bound to a file.
// expected-error @+1 {{holds a quantized weight whose value is neither}}
ml_program.global private @w(#ml_program.extern<tensor<4x8xf8E4M3FN>>) : tensor<4x8xf8E4M3FN>
