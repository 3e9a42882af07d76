// RUN: quant-opt %s -qc-drop-aliased-entry-results -verify-diagnostics

// expected-error @+1 {{has callers; only entry points called through the runtime's C interface can drop results}}
func.func @entry(%a: memref<4xf32>) -> memref<4xf32> {
  return %a : memref<4xf32>
}
func.func @caller(%a: memref<4xf32>) {
  %r = func.call @entry(%a) : (memref<4xf32>) -> memref<4xf32>
  return
}
