// REQUIRES: mlir-runner
// RUN: quant-opt %s --qc-cpu-pipeline | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_c_runner_utils | FileCheck %s

// Causal attention computed for 37 tokens and for their first 19: rows
// 0..18 must agree bit for bit. A row's keys split differently into full
// 16-wide tiles and a remainder in the two calls (37 = 32 + 5, 19 = 16 + 3),
// so this holds only because a remainder tile computes exactly like a full
// one (masked lanes neutral). It is what makes one-token decode reproduce a
// prefill's logits.

// CHECK: mismatches: 0
// CHECK: last: 0.81
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

// Rows 0..18 of a 37-token call against a 19-token call on the same prefix:
// mismatching elements are counted bit for bit.
func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %n = arith.constant 37 : index
  %init = tensor.empty(%n) : tensor<?x8xf32>
  // Deterministic inputs: sin(0.37 i + 0.11 j + phase).
  %gen = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      outs(%init : tensor<?x8xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %ii = arith.index_cast %i : index to i32
    %jj = arith.index_cast %j : index to i32
    %fi = arith.sitofp %ii : i32 to f32
    %fj = arith.sitofp %jj : i32 to f32
    %a = arith.constant 0.37 : f32
    %b = arith.constant 0.11 : f32
    %x = arith.mulf %fi, %a : f32
    %y = arith.mulf %fj, %b : f32
    %z = arith.addf %x, %y : f32
    %r = math.sin %z : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  %all = call @attention(%gen, %gen, %gen) : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %c19 = arith.constant 19 : index
  %prefix = tensor.extract_slice %gen[0, 0] [%c19, 8] [1, 1] : tensor<?x8xf32> to tensor<?x8xf32>
  %part = call @attention(%prefix, %prefix, %prefix) : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %zero = arith.constant 0 : i32
  %one = arith.constant 1 : i32
  %count = scf.for %i = %c0 to %c19 step %c1 iter_args(%acc = %zero) -> (i32) {
    %inner = scf.for %j = %c0 to %c8 step %c1 iter_args(%a2 = %acc) -> (i32) {
      %x = tensor.extract %all[%i, %j] : tensor<?x8xf32>
      %y = tensor.extract %part[%i, %j] : tensor<?x8xf32>
      %xb = arith.bitcast %x : f32 to i32
      %yb = arith.bitcast %y : f32 to i32
      %ne = arith.cmpi ne, %xb, %yb : i32
      %inc = arith.select %ne, %one, %zero : i32
      %s = arith.addi %a2, %inc : i32
      scf.yield %s : i32
    }
    scf.yield %inner : i32
  }
  vector.print str "mismatches: "
  vector.print %count : i32
  %c36 = arith.constant 36 : index
  %last = tensor.extract %all[%c36, %c0] : tensor<?x8xf32>
  vector.print str "last: "
  vector.print %last : f32
  return
}
