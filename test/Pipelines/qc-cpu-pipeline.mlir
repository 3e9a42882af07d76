// RUN: quant-opt %s --qc-cpu-pipeline | FileCheck %s

// A projection (x[T, 64] * W[32, 64]^T, T dynamic) and a SiLU reach LLVM
// vectorized: the projection as 16-lane FMAs over 64-wide rows whose
// partial sums a butterfly of shuffles reduces (no horizontal reduction
// per output), exp as a polynomial on 32-wide rows.

// CHECK-LABEL: llvm.func @block
// CHECK:         llvm.load {{.*}} -> vector<64xf32>
// CHECK:         llvm.fmul {{.*}} : vector<16xf32>
// CHECK:         llvm.intr.fmuladd({{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// CHECK:         llvm.shufflevector {{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23] : vector<16xf32>
// CHECK-NOT:     vector.reduce.fadd
// CHECK:         llvm.intr.fma({{.*}}) : (vector<32xf32>, vector<32xf32>, vector<32xf32>) -> vector<32xf32>
// CHECK:         llvm.fdiv {{.*}} : vector<32xf32>
// CHECK:         llvm.store {{.*}} : vector<32xf32>, !llvm.ptr
// CHECK-NOT:     linalg.
// CHECK-NOT:     math.
// CHECK-NOT:     @expf
func.func @block(%x: tensor<?x64xf32>, %out: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %w = arith.constant dense<0.5> : tensor<32x64xf32>
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%t) : tensor<?x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<?x32xf32>) -> tensor<?x32xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : tensor<?x64xf32>, tensor<32x64xf32>) outs(%z : tensor<?x32xf32>) -> tensor<?x32xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%y : tensor<?x32xf32>) outs(%out : tensor<?x32xf32>) {
  ^bb0(%a: f32, %o: f32):
    %n = arith.negf %a : f32
    %ex = math.exp %n : f32
    %one = arith.constant 1.0 : f32
    %d = arith.addf %ex, %one : f32
    %sig = arith.divf %a, %d : f32
    linalg.yield %sig : f32
  } -> tensor<?x32xf32>
  return %s : tensor<?x32xf32>
}
