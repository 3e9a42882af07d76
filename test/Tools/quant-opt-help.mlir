// quant-opt registers qc, the upstream dialects quantc's pipelines use, and
// the project's passes.
// RUN: quant-opt --help | FileCheck %s
// RUN: quant-opt --show-dialects | FileCheck %s --check-prefix=DIALECTS

// CHECK: --qc-insert-observers
// CHECK-NEXT: --activations=
// CHECK: --qc-strip-observers
// CHECK-NEXT: --require-calibrated

// DIALECTS: Available Dialects:
// DIALECTS-SAME: arith
// DIALECTS-SAME: arm_neon
// DIALECTS-SAME: bufferization
// DIALECTS-SAME: func
// DIALECTS-SAME: gpu
// DIALECTS-SAME: linalg
// DIALECTS-SAME: llvm
// DIALECTS-SAME: math
// DIALECTS-SAME: memref
// DIALECTS-SAME: ml_program
// DIALECTS-SAME: nvgpu
// DIALECTS-SAME: nvvm
// DIALECTS-SAME: qc
// DIALECTS-SAME: quant
// DIALECTS-SAME: scf
// DIALECTS-SAME: tensor
// DIALECTS-SAME: transform
// DIALECTS-SAME: vector
// DIALECTS-SAME: x86vector
