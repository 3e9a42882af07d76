// Malformed input gives a diagnostic and a non-zero exit, never a crash.
// RUN: split-file %s %t
// RUN: not quant-opt %t/truncated.mlir 2>&1 | FileCheck %s --check-prefix=TRUNC
// RUN: not quant-opt %t/unknown-op.mlir 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not quant-opt %t/bad-type.mlir 2>&1 | FileCheck %s --check-prefix=TYPE
// RUN: not quant-opt %t/garbage.mlir 2>&1 | FileCheck %s --check-prefix=GARBAGE
// RUN: not quant-opt %t/missing.mlir 2>&1 | FileCheck %s --check-prefix=MISSING

// TRUNC: error: expected
// UNKNOWN: error: custom op 'qc.fake_quant' is unknown
// TYPE: error: unknown storage format 'q4'
// GARBAGE: error:
// MISSING: cannot open input file

//--- truncated.mlir
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = qc.observe %x "a" : tensor<4x
//--- unknown-op.mlir
func.func @f(%x: tensor<4xf32>) {
  %0 = qc.fake_quant %x : tensor<4xf32>
  return
}
//--- bad-type.mlir
func.func private @f(!qc.packed<4x32, q4>)
//--- garbage.mlir
#qc.stats<<<<<< !qc. %%%% }}}
