// RUN: quant-opt %s -qc-lower-vectors -split-input-file | FileCheck %s

// A column tile of a projection reads its reduction (64 long) along the
// innermost dimension of both inputs: dot products. Each of the 8 columns
// accumulates 16-lane partial sums (4 chunks: a multiply, 3 FMAs), then a
// butterfly of shuffles and adds sums all 8 at once, halving the lanes per
// column at each of 4 levels, into one vector of 8 results: no horizontal
// reduction per column.

// CHECK-LABEL: func @dot_products
// CHECK-COUNT-8: arith.mulf {{.*}} : vector<16xf32>
// CHECK-NOT:     vector.reduction
// CHECK:         vector.shuffle %{{.*}}, %{{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23] : vector<16xf32>, vector<16xf32>
// CHECK:         vector.shuffle %{{.*}}, %{{.*}} [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31] : vector<16xf32>, vector<16xf32>
// CHECK:         vector.shuffle %{{.*}}, %{{.*}} [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30] : vector<16xf32>, vector<16xf32>
// CHECK:         %[[SUMS:.*]] = arith.addf %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK:         %[[EIGHT:.*]] = vector.shuffle %[[SUMS]], %[[SUMS]] [0, 1, 2, 3, 4, 5, 6, 7] : vector<16xf32>, vector<16xf32>
// CHECK:         %[[R:.*]] = arith.addf %{{.*}}, %[[EIGHT]] : vector<8xf32>
// CHECK:         return %[[R]]
// CHECK-NOT:     vector.contract
func.func @dot_products(%x: vector<64xf32>, %w: vector<8x64xf32>, %acc: vector<8xf32>) -> vector<8xf32> {
  %r = vector.contract {indexing_maps = [affine_map<(n, k) -> (k)>, affine_map<(n, k) -> (n, k)>, affine_map<(n, k) -> (n)>],
                        iterator_types = ["parallel", "reduction"], kind = #vector.kind<add>}
      %x, %w, %acc : vector<64xf32>, vector<8x64xf32> into vector<8xf32>
  return %r : vector<8xf32>
}

// -----

// Two rows by four columns: 8 results from one butterfly, row-major.

// CHECK-LABEL: func @rows_by_columns
// CHECK-COUNT-8: arith.mulf {{.*}} : vector<16xf32>
// CHECK-NOT:     vector.reduction
// CHECK:         %[[EIGHT:.*]] = vector.shuffle %{{.*}}, %{{.*}} [0, 1, 2, 3, 4, 5, 6, 7] : vector<16xf32>, vector<16xf32>
// CHECK:         %[[GRID:.*]] = vector.shape_cast %[[EIGHT]] : vector<8xf32> to vector<2x4xf32>
// CHECK:         %[[ROW0:.*]] = vector.extract %[[GRID]][0] : vector<4xf32> from vector<2x4xf32>
// CHECK:         arith.addf %{{.*}}, %[[ROW0]] : vector<4xf32>
func.func @rows_by_columns(%x: vector<2x64xf32>, %w: vector<4x64xf32>, %acc: vector<2x4xf32>) -> vector<2x4xf32> {
  %r = vector.contract {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>],
                        iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>}
      %x, %w, %acc : vector<2x64xf32>, vector<4x64xf32> into vector<2x4xf32>
  return %r : vector<2x4xf32>
}

// -----

// A lone dot product (a row's sum of squares) sums its lanes in the same
// order as a tile of them; its last chunk is padded with zeros (K = 40).

// CHECK-LABEL: func @lone_dot
// CHECK-DAG:     %[[ZEROS:.*]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK:         vector.shuffle %{{.*}}, %[[ZEROS]] [0, 1, 2, 3, 4, 5, 6, 7, 24, 25, 26, 27, 28, 29, 30, 31] : vector<16xf32>, vector<16xf32>
// CHECK-COUNT-2: vector.fma {{.*}} : vector<16xf32>
// CHECK-NOT:     vector.reduction
// CHECK:         %[[SUM:.*]] = vector.extract %{{.*}}[0] : f32 from vector<16xf32>
// CHECK:         arith.addf %{{.*}}, %[[SUM]] : f32
func.func @lone_dot(%x: vector<40xf32>, %acc: f32) -> f32 {
  %r = vector.contract {indexing_maps = [affine_map<(k) -> (k)>, affine_map<(k) -> (k)>, affine_map<(k) -> ()>],
                        iterator_types = ["reduction"], kind = #vector.kind<add>}
      %x, %x, %acc : vector<40xf32>, vector<40xf32> into f32
  return %r : f32
}

// -----

// Scores of one query against 16 keys over a head size of 8: too short a
// reduction to pay a horizontal sum per score; the key tile is transposed
// once and eight FMAs accumulate all 16 scores (one chain: splitting it
// would transpose every chunk).

// CHECK-LABEL: func @outer_products
// CHECK:         vector.shuffle {{.*}} : vector<128xf32>, vector<128xf32>
// CHECK-COUNT-8: vector.fma {{.*}} : vector<16xf32>
// CHECK-NOT:     vector.reduction
// CHECK-NOT:     vector.contract
func.func @outer_products(%q: vector<8xf32>, %k: vector<16x8xf32>, %acc: vector<16xf32>) -> vector<16xf32> {
  %r = vector.contract {indexing_maps = [affine_map<(c, e) -> (e)>, affine_map<(c, e) -> (c, e)>, affine_map<(c, e) -> (c)>],
                        iterator_types = ["parallel", "reduction"], kind = #vector.kind<add>}
      %q, %k, %acc : vector<8xf32>, vector<16x8xf32> into vector<16xf32>
  return %r : vector<16xf32>
}

// -----

// Weights of 16 keys times their values (head size 8), for 2 query heads:
// outer products over the keys, in 4 independent chains of 4 FMAs per head
// (summed pairwise, then added to the accumulator) instead of one chain of
// 16: the loop over keys carries one add, not 16 FMA latencies.

// CHECK-LABEL: func @weighted_values
// CHECK-SAME:    %[[ACC:[a-z0-9]*]]: vector<2x8xf32>
// CHECK-COUNT-32: vector.fma {{.*}} : vector<8xf32>
// CHECK-COUNT-4: arith.addf {{.*}} : vector<8xf32>
// CHECK:         arith.addf %[[A:.*]], %[[B:.*]] : vector<8xf32>
// CHECK:         arith.addf %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK:         vector.extract %[[ACC]][0]
// CHECK-NOT:     vector.contract
func.func @weighted_values(%p: vector<2x16xf32>, %v: vector<16x8xf32>, %acc: vector<2x8xf32>) -> vector<2x8xf32> {
  %r = vector.contract {indexing_maps = [affine_map<(r, e, s) -> (r, s)>, affine_map<(r, e, s) -> (s, e)>, affine_map<(r, e, s) -> (r, e)>],
                        iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>}
      %p, %v, %acc : vector<2x16xf32>, vector<16x8xf32> into vector<2x8xf32>
  return %r : vector<2x8xf32>
}

// -----

// CHECK-LABEL: func @row_sums
// CHECK-COUNT-4: vector.reduction <add>, %{{.*}}, %{{.*}} : vector<16xf32> into f32
// CHECK-NOT:     vector.multi_reduction
func.func @row_sums(%x: vector<4x16xf32>, %acc: vector<4xf32>) -> vector<4xf32> {
  %r = vector.multi_reduction <add>, %x, %acc [1] : vector<4x16xf32> to vector<4xf32>
  return %r : vector<4xf32>
}

// -----

// A 2-D tile of exp, read and written row by row; exp is a polynomial
// (vectorizable), not a call.

// CHECK-LABEL: func @exp
// CHECK-COUNT-2: vector.load {{.*}} : memref<?x16xf32>, vector<16xf32>
// CHECK-NOT:     math.exp
// CHECK:         math.fma {{.*}} : vector<16xf32>
// CHECK-COUNT-2: vector.store {{.*}} : memref<?x16xf32>, vector<16xf32>
func.func @exp(%m: memref<?x16xf32>, %out: memref<?x16xf32>, %i: index) {
  %pad = ub.poison : f32
  %c0 = arith.constant 0 : index
  %v = vector.transfer_read %m[%i, %c0], %pad {in_bounds = [true, true]} : memref<?x16xf32>, vector<2x16xf32>
  %e = math.exp %v : vector<2x16xf32>
  vector.transfer_write %e, %out[%i, %c0] {in_bounds = [true, true]} : vector<2x16xf32>, memref<?x16xf32>
  return
}

// -----

// A remainder tile's masked read becomes a masked load.

// CHECK-LABEL: func @masked
// CHECK:         %[[MASK:.*]] = vector.create_mask %{{.*}} : vector<16xi1>
// CHECK:         vector.maskedload %{{.*}}, %[[MASK]], %{{.*}} : memref<?xf32>, vector<16xi1>, vector<16xf32> into vector<16xf32>
// CHECK-NOT:     vector.mask
func.func @masked(%m: memref<?xf32>, %n: index) -> vector<16xf32> {
  %pad = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %mask = vector.create_mask %n : vector<16xi1>
  %v = vector.mask %mask { vector.transfer_read %m[%c0], %pad {in_bounds = [true]} : memref<?xf32>, vector<16xf32> } : vector<16xi1> -> vector<16xf32>
  return %v : vector<16xf32>
}

// -----

// An i8 x i8 -> i32 contraction (vectorization folds linalg's sign
// extensions into it): extended explicitly, then dot products in i32.

// CHECK-LABEL: func @int8_dots
// CHECK:         arith.extsi %{{.*}} : vector<64xi8> to vector<64xi32>
// CHECK:         arith.muli %{{.*}}, %{{.*}} : vector<64xi32>
// CHECK:         vector.reduction <add>, %{{.*}} : vector<64xi32> into i32
// CHECK-NOT:     vector.contract
func.func @int8_dots(%x: vector<64xi8>, %w: vector<2x64xi8>, %acc: vector<2xi32>) -> vector<2xi32> {
  %r = vector.contract {indexing_maps = [affine_map<(n, k) -> (k)>, affine_map<(n, k) -> (n, k)>, affine_map<(n, k) -> (n)>],
                        iterator_types = ["parallel", "reduction"], kind = #vector.kind<add>}
      %x, %w, %acc : vector<64xi8>, vector<2x64xi8> into vector<2xi32>
  return %r : vector<2xi32>
}
