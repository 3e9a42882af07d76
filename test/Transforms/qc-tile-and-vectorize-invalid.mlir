// RUN: quant-opt %s -qc-tile-and-vectorize="vector-width=0" -verify-diagnostics
// RUN: quant-opt %s -qc-tile-and-vectorize="contraction-tile-budget=0" -verify-diagnostics

// expected-error @below {{qc-tile-and-vectorize: vector-width, tile-budget and contraction-tile-budget must be positive}}
func.func @f(%x: memref<?xf32>) {
  return
}
