// RUN: quant-opt %s -qc-lower-vectors="vector-width=0" -verify-diagnostics

// expected-error @below {{qc-lower-vectors: vector-width must be positive}}
func.func @f(%x: memref<?xf32>) {
  return
}
