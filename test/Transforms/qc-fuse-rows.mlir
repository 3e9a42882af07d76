// RUN: quant-opt %s -qc-fuse-rows -split-input-file | FileCheck %s

// Causal attention of T queries over T keys. Every op between the scores
// and the weighted sum of values works on a T x T tensor; after the pass
// they run inside one loop over queries, on 1 x T rows, and no T x T tensor
// is left. The mask leaves row t its first t + 1 columns visible, and the
// chain after it is exactly softmax then a contraction, so every op of the
// row stops there: keys, values and the row buffers are sliced to that
// count (the buffers stay full width underneath, for allocation outside
// the loop).

// CHECK-LABEL: func @attention
// CHECK-SAME:    (%[[Q:.*]]: tensor<?x8xf32>, %[[K:.*]]: tensor<?x8xf32>, %[[V:.*]]: tensor<?x8xf32>)
// CHECK-NOT:     tensor<?x?xf32>
// CHECK:         %[[C:.*]] = tensor.dim %[[K]]
// CHECK:         %[[KEYS:.*]] = tensor.extract_slice %[[K]][0, 0] [%[[C]], 8] [1, 1]
// CHECK:         %[[VALUES:.*]] = tensor.extract_slice %[[V]][0, 0] [%[[C]], 8] [1, 1]
// CHECK:         %[[OUT:.*]] = scf.for %[[T:.*]] = %{{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (tensor<?x8xf32>) {
// CHECK:           %[[QT:.*]] = tensor.extract_slice %[[Q]][%[[T]], 0] [1, 8] [1, 1]
// CHECK:           %[[FULL:.*]] = tensor.empty(%[[C]]) : tensor<1x?xf32>
// CHECK:           %[[LAST:.*]] = affine.apply #{{.*}}(%[[T]])
// CHECK:           %[[NEXT_COL:.*]] = arith.addi %[[LAST]], %{{.*}} : index
// CHECK:           %[[ALL:.*]] = arith.cmpi uge, %[[LAST]], %[[C]] : index
// CHECK:           %[[N:.*]] = arith.select %[[ALL]], %[[C]], %[[NEXT_COL]] : index
// CHECK:           %[[KN:.*]] = tensor.extract_slice %[[KEYS]][0, 0] [%[[N]], 8] [1, 1]
// CHECK:           %[[ROW0:.*]] = tensor.extract_slice %[[FULL]][0, 0] [1, %[[N]]] [1, 1]
// CHECK:           %[[ZERO:.*]] = linalg.fill {{.*}} outs(%[[ROW0]] : tensor<1x?xf32>)
// CHECK:           %[[DOTS:.*]] = linalg.generic {{.*}} ins(%[[QT]], %[[KN]] : tensor<1x8xf32>, tensor<?x8xf32>) outs(%[[ZERO]] : tensor<1x?xf32>)
// CHECK:           %[[MASKED:.*]] = linalg.generic {{.*}} ins(%[[DOTS]] : tensor<1x?xf32>)
// CHECK:           arith.maximumf
// CHECK:           math.exp
// CHECK:           arith.addf
// CHECK:           %[[P:.*]] = linalg.generic
// CHECK:             arith.divf
// CHECK:           %[[VN:.*]] = tensor.extract_slice %[[VALUES]][0, 0] [%[[N]], 8] [1, 1]
// CHECK:           %[[ROW:.*]] = linalg.generic {{.*}} ins(%[[P]], %[[VN]] : tensor<1x?xf32>, tensor<?x8xf32>) outs(%{{.*}} : tensor<1x8xf32>)
// CHECK:           %[[NEXT:.*]] = tensor.insert_slice %[[ROW]] into %[[ACC]][%[[T]], 0] [1, 8] [1, 1]
// CHECK:           scf.yield %[[NEXT]]
// CHECK:         }
// CHECK-NOT:     linalg.generic
// CHECK-NOT:     tensor<?x?xf32>
// CHECK:         return %[[OUT]]
#qk = [affine_map<(t, s, e) -> (t, e)>, affine_map<(t, s, e) -> (s, e)>, affine_map<(t, s, e) -> (t, s)>]
#pv = [affine_map<(t, e, s) -> (t, s)>, affine_map<(t, e, s) -> (s, e)>, affine_map<(t, e, s) -> (t, e)>]
#id = affine_map<(t, s) -> (t, s)>
#row = affine_map<(t, s) -> (t)>

// Causal attention of T queries over T keys: row t only reads keys 0..t.
func.func @attention(%q: tensor<?x8xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %t = tensor.dim %q, %c0 : tensor<?x8xf32>
  %e0 = tensor.empty(%t, %t) : tensor<?x?xf32>
  %z0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<?x?xf32>) -> tensor<?x?xf32>
  %dots = linalg.generic {indexing_maps = #qk, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%q, %k : tensor<?x8xf32>, tensor<?x8xf32>) outs(%z0 : tensor<?x?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x?xf32>
  %e1 = tensor.empty(%t, %t) : tensor<?x?xf32>
  %masked = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%dots : tensor<?x?xf32>) outs(%e1 : tensor<?x?xf32>) {
  ^bb0(%x: f32, %o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %vis = arith.cmpi ule, %j, %i : index
    %r = arith.select %vis, %x, %ninf : f32
    linalg.yield %r : f32
  } -> tensor<?x?xf32>
  %e2 = tensor.empty(%t) : tensor<?xf32>
  %m0 = linalg.fill ins(%ninf : f32) outs(%e2 : tensor<?xf32>) -> tensor<?xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%masked : tensor<?x?xf32>) outs(%m0 : tensor<?xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %r = arith.maximumf %acc, %x : f32
    linalg.yield %r : f32
  } -> tensor<?xf32>
  %e3 = tensor.empty(%t, %t) : tensor<?x?xf32>
  %exp = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%masked, %max : tensor<?x?xf32>, tensor<?xf32>) outs(%e3 : tensor<?x?xf32>) {
  ^bb0(%x: f32, %m: f32, %o: f32):
    %d = arith.subf %x, %m : f32
    %r = math.exp %d : f32
    linalg.yield %r : f32
  } -> tensor<?x?xf32>
  %s0 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<?xf32>) -> tensor<?xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<?x?xf32>) outs(%s0 : tensor<?xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %r = arith.addf %acc, %x : f32
    linalg.yield %r : f32
  } -> tensor<?xf32>
  %e4 = tensor.empty(%t, %t) : tensor<?x?xf32>
  %probs = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<?x?xf32>, tensor<?xf32>) outs(%e4 : tensor<?x?xf32>) {
  ^bb0(%x: f32, %s: f32, %o: f32):
    %r = arith.divf %x, %s : f32
    linalg.yield %r : f32
  } -> tensor<?x?xf32>
  %e5 = tensor.empty(%t) : tensor<?x8xf32>
  %o0 = linalg.fill ins(%zero : f32) outs(%e5 : tensor<?x8xf32>) -> tensor<?x8xf32>
  %out = linalg.generic {indexing_maps = #pv, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%probs, %v : tensor<?x?xf32>, tensor<?x8xf32>) outs(%o0 : tensor<?x8xf32>) {
  ^bb0(%p: f32, %x: f32, %acc: f32):
    %m = arith.mulf %p, %x : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----

// Without a mask every column counts: rows are fused, not narrowed.

#qk2 = [affine_map<(t, s, e) -> (t, e)>, affine_map<(t, s, e) -> (s, e)>, affine_map<(t, s, e) -> (t, s)>]
#pv2 = [affine_map<(t, e, s) -> (t, s)>, affine_map<(t, e, s) -> (s, e)>, affine_map<(t, e, s) -> (t, e)>]

// CHECK-LABEL: func @full_attention
// CHECK:         scf.for
// CHECK-NOT:       arith.cmpi
// CHECK:           linalg.generic
// CHECK:         }
func.func @full_attention(%q: tensor<?x8xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = tensor.dim %q, %c0 : tensor<?x8xf32>
  %c = tensor.dim %k, %c0 : tensor<?x8xf32>
  %e0 = tensor.empty(%t, %c) : tensor<?x?xf32>
  %z0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<?x?xf32>) -> tensor<?x?xf32>
  %dots = linalg.generic {indexing_maps = #qk2, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%q, %k : tensor<?x8xf32>, tensor<?x8xf32>) outs(%z0 : tensor<?x?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x?xf32>
  %e5 = tensor.empty(%t) : tensor<?x8xf32>
  %o0 = linalg.fill ins(%zero : f32) outs(%e5 : tensor<?x8xf32>) -> tensor<?x8xf32>
  %out = linalg.generic {indexing_maps = #pv2, iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%dots, %v : tensor<?x?xf32>, tensor<?x8xf32>) outs(%o0 : tensor<?x8xf32>) {
  ^bb0(%p: f32, %x: f32, %acc: f32):
    %m = arith.mulf %p, %x : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----

// No tensor with two dynamic dimensions: nothing to do.

// CHECK-LABEL: func @rows
// CHECK-NOT:     scf.for
// CHECK:         linalg.generic
// CHECK:         linalg.generic
func.func @rows(%x: tensor<?x64xf32>) -> tensor<?xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%t) : tensor<?x64xf32>
  %sq = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                        iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<?x64xf32>) outs(%e : tensor<?x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %a : f32
    linalg.yield %m : f32
  } -> tensor<?x64xf32>
  %r0 = tensor.empty(%t) : tensor<?xf32>
  %r1 = linalg.fill ins(%zero : f32) outs(%r0 : tensor<?xf32>) -> tensor<?xf32>
  %sum = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                         iterator_types = ["parallel", "reduction"]}
      ins(%sq : tensor<?x64xf32>) outs(%r1 : tensor<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  return %sum : tensor<?xf32>
}
