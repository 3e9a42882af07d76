// RUN: quant-opt %s -qc-tile-and-vectorize -split-input-file | FileCheck %s

// A projection x[T, 64] * W[20, 64]^T: one token per tile, and its 20
// columns exceed the contraction budget (512 / 64 = 8 per tile): tiles of 8
// for columns 0..16, then a static remainder of 4. Each tile is a dot
// product per column (vector.contract on the operands as stored).

// CHECK-LABEL: func @projection
// CHECK-SAME:    (%[[X:.*]]: memref<?x64xf32>, %[[W:.*]]: memref<20x64xf32>, %[[Y:.*]]: memref<?x20xf32>)
// CHECK-DAG:     %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG:     %[[C8:.*]] = arith.constant 8 : index
// CHECK-DAG:     %[[C16:.*]] = arith.constant 16 : index
// CHECK-DAG:     %[[T:.*]] = memref.dim %[[X]], %[[C0]]
// CHECK:         scf.for %[[I:.*]] = %[[C0]] to %[[T]] step %[[C1]] {
// CHECK:           vector.transfer_read {{.*}} : memref<64xf32, {{.*}}>, vector<64xf32>
// CHECK:           scf.for %[[N:.*]] = %[[C0]] to %[[C16]] step %[[C8]] {
// CHECK:             vector.transfer_read {{.*}} : memref<8x64xf32, {{.*}}>, vector<8x64xf32>
// CHECK:             vector.contract {{.*}} : vector<64xf32>, vector<8x64xf32> into vector<8xf32>
// CHECK:             vector.transfer_write {{.*}} : vector<8xf32>, memref<8xf32
// CHECK:           }
// CHECK:           vector.contract {{.*}} : vector<64xf32>, vector<4x64xf32> into vector<4xf32>
// CHECK:         }
// CHECK-NOT:     linalg.
func.func @projection(%x: memref<?x64xf32>, %w: memref<20x64xf32>, %y: memref<?x20xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                 affine_map<(m, n, k) -> (n, k)>,
                                 affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<?x64xf32>, memref<20x64xf32>) outs(%y : memref<?x20xf32>)
  return
}

// -----

// A row maximum over a dynamic length: 16 lanes at a time with the running
// maxima in registers (loop-carried vector), then the remainder as one
// masked tile whose extra lanes are -inf, so that it reduces exactly like a
// full tile.

// CHECK-LABEL: func @row_max
// CHECK-DAG:     %[[NEGINF:.*]] = arith.constant dense<0xFF800000> : vector<4x16xf32>
// CHECK-DAG:     %[[C16:.*]] = arith.constant 16 : index
// CHECK:         %[[INIT:.*]] = vector.transfer_read %{{.*}} : memref<4xf32>, vector<4xf32>
// CHECK:         %[[MAIN:.*]] = scf.for %{{.*}} step %[[C16]] iter_args(%[[ACC:.*]] = %[[INIT]]) -> (vector<4xf32>) {
// CHECK:           %[[TILE:.*]] = vector.transfer_read {{.*}} : memref<4x16xf32, {{.*}}>, vector<4x16xf32>
// CHECK:           %[[MAX:.*]] = vector.multi_reduction <maximumf>, %[[TILE]], %[[ACC]] [1] : vector<4x16xf32> to vector<4xf32>
// CHECK:           scf.yield %[[MAX]]
// CHECK:         scf.for %{{.*}} step %[[C16]] iter_args(%[[ACC2:.*]] = %{{.*}}) -> (vector<4xf32>) {
// CHECK:           %[[MASK:.*]] = vector.create_mask %{{.*}}, %{{.*}} : vector<4x16xi1>
// CHECK:           %[[PART:.*]] = vector.mask %[[MASK]] { vector.transfer_read {{.*}} } : vector<4x16xi1> -> vector<4x16xf32>
// CHECK:           %[[FULL:.*]] = arith.select %[[MASK]], %[[PART]], %[[NEGINF]]
// CHECK:           vector.multi_reduction <maximumf>, %[[FULL]], %[[ACC2]] [1]
// CHECK-NOT:     linalg.
func.func @row_max(%x: memref<4x?xf32>, %m: memref<4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x?xf32>) outs(%m : memref<4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %r = arith.maximumf %acc, %in : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Elementwise over [T, C]: one row per tile (T is not contiguous), columns
// 16 at a time, then a masked remainder; T = 1 is just one row.

// CHECK-LABEL: func @scale
// CHECK-DAG:     %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG:     %[[C16:.*]] = arith.constant 16 : index
// CHECK:         scf.for %{{.*}} step %[[C1]] {
// CHECK:           scf.for %{{.*}} step %[[C16]] {
// CHECK:             %[[V:.*]] = vector.transfer_read {{.*}} : memref<16xf32, {{.*}}>, vector<16xf32>
// CHECK:             %[[R:.*]] = arith.mulf %[[V]], %{{.*}} : vector<16xf32>
// CHECK:             vector.transfer_write %[[R]]
// CHECK:           }
// CHECK:           scf.for %{{.*}} step %[[C16]] {
// CHECK:             %[[MASK:.*]] = vector.create_mask %{{.*}} : vector<16xi1>
// CHECK:             vector.mask %[[MASK]] { vector.transfer_read
// CHECK:             arith.mulf {{.*}} : vector<16xf32>
// CHECK:             vector.mask %[[MASK]] { vector.transfer_write
func.func @scale(%x: memref<?x?xf32>, %y: memref<?x?xf32>) {
  %c = arith.constant 0.5 : f32
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<?x?xf32>) outs(%y : memref<?x?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.mulf %in, %c : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Scores of queries against keys (head size 8): rows one at a time; keys 16
// at a time, then a masked tile. Both reads of the masked contraction are
// padded with zeros, so it needs no mask of its own.

// CHECK-LABEL: func @scores
// CHECK:         scf.for
// CHECK:           scf.for
// CHECK:             vector.contract {{.*}} : vector<8xf32>, vector<16x8xf32> into vector<16xf32>
// CHECK:           scf.for
// CHECK:             vector.mask %{{.*}} { vector.transfer_read {{.*}}, %[[PAD:.*]] {{.*}} } : vector<16x8xi1>
// CHECK-NOT:         vector.mask %{{.*}} { vector.contract
// CHECK:             vector.contract {{.*}} : vector<8xf32>, vector<16x8xf32> into vector<16xf32>
func.func @scores(%q: memref<?x8xf32>, %k: memref<?x8xf32>, %s: memref<?x?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(t, c, e) -> (t, e)>,
                                   affine_map<(t, c, e) -> (c, e)>,
                                   affine_map<(t, c, e) -> (t, c)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<?x8xf32>, memref<?x8xf32>) outs(%s : memref<?x?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A gather (an embedding lookup) does not vectorize: it stays a linalg op,
// one row per tile, for convert-linalg-to-loops.

// CHECK-LABEL: func @embed
// CHECK:         scf.for
// CHECK:           linalg.generic
// CHECK:             memref.load
func.func @embed(%ids: memref<?xi32>, %table: memref<32x8xf32>, %out: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(t, d) -> (t)>, affine_map<(t, d) -> (t, d)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%ids : memref<?xi32>) outs(%out : memref<?x8xf32>) {
  ^bb0(%id: i32, %o: f32):
    %row = arith.index_cast %id : i32 to index
    %col = linalg.index 1 : index
    %v = memref.load %table[%row, %col] : memref<32x8xf32>
    linalg.yield %v : f32
  }
  return
}

// -----

// Ops on tensors are bufferization's business: left alone.

// CHECK-LABEL: func @tensors
// CHECK-NOT:     scf.for
// CHECK:         linalg.generic
func.func @tensors(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      outs(%x : tensor<?x8xf32>) {
  ^bb0(%o: f32):
    %d = arith.addf %o, %o : f32
    linalg.yield %d : f32
  } -> tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

// A weight converted whole (static [256, 768], no reduction): the row is
// split last, so tiles are 64 contiguous elements of one row, not 64 rows
// of one column.

// CHECK-LABEL: func @static_elementwise
// CHECK:         scf.for %[[R:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:           scf.for %[[C:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:             vector.transfer_read %{{.*}} : memref<64xi8, strided<[1], offset: ?>>, vector<64xi8>
// CHECK:             arith.sitofp %{{.*}} : vector<64xi8> to vector<64xf32>
// CHECK:             vector.transfer_write %{{.*}} : vector<64xf32>, memref<64xf32, strided<[1], offset: ?>>
func.func @static_elementwise(%w: memref<256x768xi8>, %out: memref<256x768xf32>) {
  linalg.generic {indexing_maps = [affine_map<(n, k) -> (n, k)>, affine_map<(n, k) -> (n, k)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%w : memref<256x768xi8>) outs(%out : memref<256x768xf32>) {
  ^bb0(%c: i8, %o: f32):
    %f = arith.sitofp %c : i8 to f32
    linalg.yield %f : f32
  }
  return
}
