// RUN: quant-opt %s -qc-lower-vectors -split-input-file | FileCheck %s

// A column tile of a projection reads its reduction (64 long) along the
// innermost dimension of both inputs: one dot product per column, a single
// horizontal reduction each.

// CHECK-LABEL: func @dot_products
// CHECK-COUNT-8: vector.reduction <add>, %{{.*}} : vector<64xf32> into f32
// CHECK-NOT:     vector.fma
// CHECK-NOT:     vector.contract
func.func @dot_products(%x: vector<64xf32>, %w: vector<8x64xf32>, %acc: vector<8xf32>) -> vector<8xf32> {
  %r = vector.contract {indexing_maps = [affine_map<(n, k) -> (k)>, affine_map<(n, k) -> (n, k)>, affine_map<(n, k) -> (n)>],
                        iterator_types = ["parallel", "reduction"], kind = #vector.kind<add>}
      %x, %w, %acc : vector<64xf32>, vector<8x64xf32> into vector<8xf32>
  return %r : vector<8xf32>
}

// -----

// Scores of one query against 16 keys over a head size of 8: too short a
// reduction to pay a horizontal sum per score; the key tile is transposed
// once and eight FMAs accumulate all 16 scores.

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
