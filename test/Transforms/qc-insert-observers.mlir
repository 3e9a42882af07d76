// RUN: quant-opt %s -qc-insert-observers -split-input-file | FileCheck %s
// RUN: quant-opt %s -qc-insert-observers -qc-insert-observers -split-input-file | FileCheck %s
// RUN: quant-opt %s -qc-insert-observers="weights=per-tensor activations=per-channel bins=2048 results=true" -split-input-file | FileCheck %s --check-prefix=OPTS
// RUN: quant-opt %s -qc-insert-observers="weights=none activations=none" -split-input-file | FileCheck %s --check-prefix=NONE

// A weight (constant) is observed per output channel, the activation per
// tensor; the second run finds everything observed and changes nothing.
// CHECK-LABEL: func @fc
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>, %[[OUT:.*]]: tensor<4x32xf32>)
// CHECK-NEXT: %[[OX:.*]] = qc.observe %[[X]] "fc/matmul_0/in0" : tensor<4x64xf32>
// CHECK-NEXT: %[[W:.*]] = arith.constant
// CHECK-NEXT: %[[OW:.*]] = qc.observe %[[W]] "fc/matmul_0/in1" axis(1) : tensor<64x32xf32>
// CHECK-NEXT: linalg.matmul ins(%[[OX]], %[[OW]] : {{.*}}) outs(%[[OUT]] : {{.*}})
// CHECK-NEXT: return
// OPTS-LABEL: func @fc
// OPTS: %[[OX:.*]] = qc.observe %{{.*}} "fc/matmul_0/in0" axis(1) bins(2048) : tensor<4x64xf32>
// OPTS: %[[OW:.*]] = qc.observe %{{.*}} "fc/matmul_0/in1" : tensor<64x32xf32>
// OPTS: %[[Y:.*]] = linalg.matmul ins(%[[OX]], %[[OW]]
// OPTS: %[[OY:.*]] = qc.observe %[[Y]] "fc/matmul_0/out0" bins(2048) : tensor<4x32xf32>
// OPTS: return %[[OY]]
// NONE-LABEL: func @fc
// NONE-NOT: qc.observe
func.func @fc(%x: tensor<4x64xf32>, %out: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %y = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>)
                     outs(%out : tensor<4x32xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

// One observer per activation, shared by every consumer (q/k/v style);
// a transposed weight (N x K) is observed along its dimension 0; labels
// count ops per function.
// CHECK-LABEL: func @shared_input
// CHECK-NEXT: %[[OX:.*]] = qc.observe %{{.*}} "shared_input/matmul_0/in0" : tensor<2x8xf32>
// CHECK-NEXT: arith.constant
// CHECK-NEXT: %[[OWQ:.*]] = qc.observe %{{.*}} "shared_input/matmul_0/in1" axis(1)
// CHECK-NEXT: arith.constant
// CHECK-NEXT: %[[OWK:.*]] = qc.observe %{{.*}} "shared_input/matmul_1/in1" axis(0) : tensor<16x8xf32>
// CHECK-NEXT: linalg.matmul ins(%[[OX]], %[[OWQ]]
// CHECK-NEXT: linalg.matmul indexing_maps = {{.*}} ins(%[[OX]], %[[OWK]]
func.func @shared_input(%x: tensor<2x8xf32>, %o: tensor<2x16xf32>) -> (tensor<2x16xf32>, tensor<2x16xf32>) {
  %wq = arith.constant dense<1.0> : tensor<8x16xf32>
  %wk = arith.constant dense<2.0> : tensor<16x8xf32>
  %q = linalg.matmul ins(%x, %wq : tensor<2x8xf32>, tensor<8x16xf32>) outs(%o : tensor<2x16xf32>) -> tensor<2x16xf32>
  %k = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
       ins(%x, %wk : tensor<2x8xf32>, tensor<16x8xf32>) outs(%o : tensor<2x16xf32>) -> tensor<2x16xf32>
  return %q, %k : tensor<2x16xf32>, tensor<2x16xf32>
}

// -----

// Two activations (attention scores); a batch matmul keeps the batch
// dimension out of the weight's channel; a convolution filter is observed
// along F.
// CHECK-LABEL: func @mixed
// CHECK-NEXT: qc.observe %{{.*}} "mixed/batch_matmul_0/in0" : tensor<2x4x8xf32>
// CHECK-NEXT: qc.observe %{{.*}} "mixed/batch_matmul_0/in1" : tensor<2x8x4xf32>
// CHECK-NEXT: qc.observe %{{.*}} "mixed/conv_2d_nhwc_hwcf_0/in0" : tensor<1x8x8x4xf32>
// CHECK-NEXT: linalg.batch_matmul
// CHECK-NEXT: arith.constant
// CHECK-NEXT: qc.observe %{{.*}} "mixed/conv_2d_nhwc_hwcf_0/in1" axis(3) : tensor<3x3x4x16xf32>
// CHECK-NEXT: linalg.conv_2d_nhwc_hwcf
// OPTS-LABEL: func @mixed
// OPTS: qc.observe %{{.*}} "mixed/batch_matmul_0/in0" axis(2) bins(2048) : tensor<2x4x8xf32>
// OPTS: qc.observe %{{.*}} "mixed/batch_matmul_0/in1" axis(1) bins(2048) : tensor<2x8x4xf32>
// OPTS: qc.observe %{{.*}} "mixed/conv_2d_nhwc_hwcf_0/in0" axis(3) bins(2048) : tensor<1x8x8x4xf32>
func.func @mixed(%a: tensor<2x4x8xf32>, %b: tensor<2x8x4xf32>, %o: tensor<2x4x4xf32>,
                 %img: tensor<1x8x8x4xf32>, %co: tensor<1x6x6x16xf32>) -> (tensor<2x4x4xf32>, tensor<1x6x6x16xf32>) {
  %s = linalg.batch_matmul ins(%a, %b : tensor<2x4x8xf32>, tensor<2x8x4xf32>) outs(%o : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %f = arith.constant dense<0.1> : tensor<3x3x4x16xf32>
  %c = linalg.conv_2d_nhwc_hwcf ins(%img, %f : tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) outs(%co : tensor<1x6x6x16xf32>) -> tensor<1x6x6x16xf32>
  return %s, %c : tensor<2x4x4xf32>, tensor<1x6x6x16xf32>
}

// -----

// Already-integer contractions and non-contractions are not observed.
// CHECK-LABEL: func @skipped
// CHECK-NOT: qc.observe
func.func @skipped(%a: tensor<2x8xi8>, %b: tensor<8x4xi8>, %o: tensor<2x4xi32>, %x: tensor<4xf32>) -> (tensor<2x4xi32>, tensor<4xf32>) {
  %r = linalg.matmul ins(%a, %b : tensor<2x8xi8>, tensor<8x4xi8>) outs(%o : tensor<2x4xi32>) -> tensor<2x4xi32>
  %e = linalg.exp ins(%x : tensor<4xf32>) outs(%x : tensor<4xf32>) -> tensor<4xf32>
  return %r, %e : tensor<2x4xi32>, tensor<4xf32>
}
