//===- Passes.td - quantc passes over func/linalg/qc -------*- tablegen -*-===//

#ifndef QUANTC_TRANSFORMS_PASSES_TD
#define QUANTC_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def QCInsertObservers : Pass<"qc-insert-observers", "func::FuncOp"> {
  let summary = "Place qc.observe on every tensor a quantization scheme may quantize";
  let description = [{
    Walks the float contractions and convolutions of a function (every
    `linalg` op implementing the contraction or convolution interfaces) and
    routes each float input through a `qc.observe`, so that `qc-calibrate`
    can record its statistics. Inputs produced by a constant-like op are
    weights; everything else is an activation. Weights are observed per
    output channel by default (the parallel dimension of the weight that the
    activation does not index); activations per tensor, or per reduction
    channel (what SmoothQuant and AWQ need) with `activations=per-channel`.

    Each value gets one observer per granularity, shared by all its users,
    and an input already produced by `qc.observe` is left alone, so the pass
    is idempotent. Labels are stable: `<function>/<op>_<n>/in<i>` for inputs
    and `.../out` for results. Integer contractions are already quantized and
    are skipped. IR with buffer semantics is refused: observers are tensor
    values.

    Example (`--qc-insert-observers`):

    ```mlir
    func.func @fc(%x: tensor<4x64xf32>, %out: tensor<4x32xf32>) -> tensor<4x32xf32> {
      %w = arith.constant dense<0.5> : tensor<64x32xf32>
      %y = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>)
                         outs(%out : tensor<4x32xf32>) -> tensor<4x32xf32>
      return %y : tensor<4x32xf32>
    }
    ```
    becomes
    ```mlir
      %ox = qc.observe %x "fc/matmul_0/in0" : tensor<4x64xf32>
      %w = arith.constant dense<0.5> : tensor<64x32xf32>
      %ow = qc.observe %w "fc/matmul_0/in1" axis(1) : tensor<64x32xf32>
      %y = linalg.matmul ins(%ox, %ow : ...) outs(%out : ...) -> tensor<4x32xf32>
    ```
  }];
  let options = [
    Option<"weightGranularity", "weights", "::mlir::qc::ObserveGranularity",
           /*default=*/"::mlir::qc::ObserveGranularity::PerChannel",
           "How to observe weights", [{::llvm::cl::values(
             clEnumValN(::mlir::qc::ObserveGranularity::PerChannel,
                        "per-channel", "one range per output channel"),
             clEnumValN(::mlir::qc::ObserveGranularity::PerTensor,
                        "per-tensor", "one range per tensor"),
             clEnumValN(::mlir::qc::ObserveGranularity::None,
                        "none", "do not observe weights"))}]>,
    Option<"activationGranularity", "activations",
           "::mlir::qc::ObserveGranularity",
           /*default=*/"::mlir::qc::ObserveGranularity::PerTensor",
           "How to observe activations", [{::llvm::cl::values(
             clEnumValN(::mlir::qc::ObserveGranularity::PerTensor,
                        "per-tensor", "one range per tensor"),
             clEnumValN(::mlir::qc::ObserveGranularity::PerChannel,
                        "per-channel",
                        "one range per reduction channel (SmoothQuant, AWQ)"),
             clEnumValN(::mlir::qc::ObserveGranularity::None,
                        "none", "do not observe activations"))}]>,
    Option<"numBins", "bins", "int64_t", /*default=*/"0",
           "Histogram bins to request on activation observers (0: min/max "
           "only; percentile, entropy and MSE calibration need ~2048)">,
    Option<"observeResults", "results", "bool", /*default=*/"false",
           "Also observe each contraction's result (for static output "
           "quantization)">,
  ];
  let dependentDialects = ["::mlir::qc::QCDialect"];
}

def QCStripObservers : Pass<"qc-strip-observers", "func::FuncOp"> {
  let summary = "Remove qc.observe ops, forwarding their inputs";
  let description = [{
    Gives back the float model once calibration results have been consumed,
    or before running the float model without observers. With
    `require-calibrated`, an observer that carries no statistics is an error
    rather than silently dropped, which catches a calibration run that missed
    a tensor.

    ```mlir
    %0 = qc.observe %x "fc/matmul_0/in0" : tensor<4x64xf32>
    %1 = math.tanh %0 : tensor<4x64xf32>
    ```
    becomes
    ```mlir
    %1 = math.tanh %x : tensor<4x64xf32>
    ```
  }];
  let options = [
    Option<"requireCalibrated", "require-calibrated", "bool",
           /*default=*/"false",
           "Fail on any observer that has no statistics">,
  ];
}

def QCBindExternalWeights : Pass<"qc-bind-external-weights", "ModuleOp"> {
  let summary = "Turn loads of file-backed weights into views of function arguments";
  let description = [{
    Prepares an imported model for code generation. Every
    `ml_program.global_load_const` of a global whose value is a
    `#qc.external` reference becomes a `memref.view` into a new leading
    `memref<?xi8>` argument of the function, one per file, wrapped back into
    a tensor with `bufferization.to_tensor restrict`. The runtime maps each
    file and passes its bytes, so weights are never copied into the
    compiled code. Each new argument carries `qc.weight_file` (the path) and
    `qc.weight_bytes` (how many bytes of the file the function reads: the
    runtime refuses a shorter file). Globals with an elements value (small
    test models) become `arith.constant`. Globals that are then unused are
    erased.

    Refused, with a diagnostic: mutable globals, globals with no value or an
    `#ml_program.extern` value, and functions with callers (their signature
    changes).

    Example:

    ```mlir
    ml_program.global private @w(#qc.external<path = "m.bin", offset = 64>) : tensor<4x8xf32>
    func.func @f(%x: tensor<2x8xf32>) -> tensor<4x8xf32> {
      %w = ml_program.global_load_const @w : tensor<4x8xf32>
      ...
    ```
    becomes
    ```mlir
    func.func @f(%file: memref<?xi8> {qc.weight_file = "m.bin", qc.weight_bytes = 192 : i64},
                 %x: tensor<2x8xf32>) -> tensor<4x8xf32> {
      %c64 = arith.constant 64 : index
      %v = memref.view %file[%c64][] : memref<?xi8> to memref<4x8xf32>
      %w = bufferization.to_tensor %v restrict : memref<4x8xf32> to tensor<4x8xf32>
      ...
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::bufferization::BufferizationDialect"];
}

def QCCopiesToLinalg : Pass<"qc-copies-to-linalg", "func::FuncOp"> {
  let summary = "Rewrite memref.copy as linalg.copy";
  let description = [{
    Bufferization writes `memref.copy` where a value must move between
    buffers (e.g. new keys into a strided slice of the KV cache). The LLVM
    lowering turns a copy whose layout it cannot prove contiguous into a
    call to `memrefCopy` from MLIR's C runner utilities, a library a
    shipped artifact should not need. As a `linalg.copy` the copy becomes
    ordinary loops that LLVM vectorizes or turns into `memcpy`.

    ```mlir
    memref.copy %a, %b : memref<?x32xf32> to memref<?x32xf32, strided<[32, 1], offset: ?>>
    ```
    becomes
    ```mlir
    linalg.copy ins(%a : memref<?x32xf32>) outs(%b : memref<?x32xf32, strided<[32, 1], offset: ?>>)
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def QCDropAliasedEntryResults
    : Pass<"qc-drop-aliased-entry-results", "ModuleOp"> {
  let summary = "Drop results of public functions that return an argument's buffer";
  let description = [{
    After bufferization an imported model's `@forward` returns its own
    `k_cache`, `v_cache` and `logits` arguments: the updates were written in
    place. Upstream `drop-equivalent-buffer-results` leaves public functions
    alone (their callers could be anywhere), but a model's entry point is
    called only through the runtime's C interface, which passes those
    buffers in. Dropping the results gives a void entry point and keeps the
    deallocation pipeline from cloning the returned arguments.

    Only results that are a block argument (possibly through `memref.cast`)
    are dropped. Functions with call sites in the module are refused.

    ```mlir
    func.func @forward(%a: memref<4xf32>, %b: memref<4xf32>) -> memref<4xf32> {
      ...
      return %b : memref<4xf32>
    }
    ```
    becomes
    ```mlir
    func.func @forward(%a: memref<4xf32>, %b: memref<4xf32>) {
      ...
      return
    }
    ```
  }];
}

def QCTileAndVectorize : Pass<"qc-tile-and-vectorize", "func::FuncOp"> {
  let summary = "Tile bufferized linalg ops into small static tiles and vectorize them";
  let description = [{
    Tiles every `linalg` op with buffer semantics (`scf::tileUsingSCF`) so
    that each tile has a small static shape, drops the tile's unit loops and
    vectorizes it (`linalg::vectorize`; contractions as `vector.contract` on
    their operands as stored). The result is `scf.for` loops over
    `vector.transfer_read`/`transfer_write`, elementwise vector arithmetic,
    `vector.contract` and `vector.multi_reduction`, which
    `qc-lower-vectors` lowers. Running after bufferization keeps
    bufferization's analysis away from the tiled loops; ops on tensors are
    left alone.

    Tile sizes, per loop of the iteration space:
    - a dynamic loop is tiled by 1, except the vector loop: a dynamic loop
      that is the innermost dimension of one of the op's highest-rank
      operands (the token dimension of a `[T]` vector, the key position of
      attention scores), tiled by `vector-width`;
    - a contraction's batch loops (indexing both inputs and the result) are
      tiled by 1: each tile is one matmul;
    - static loops stay whole while the tile volume (the product of its
      loop extents) fits `tile-budget` (`contraction-tile-budget` for
      contractions); otherwise the largest parallel loops, then reduction
      loops, are split into power-of-two tiles. An op without reductions
      and without a vector loop (a weight dequantized whole) splits the
      innermost loop of its result last, so that its tiles are pieces of
      rows rather than strided columns.

    A loop its tile size does not divide is peeled: the main loop runs full
    static tiles. The remainder of a static loop is a smaller static tile;
    that of a dynamic loop is one masked tile of the full vector size,
    whose reductions see the masked lanes as their neutral element (and
    whose contractions multiply zero padding), so it computes exactly like
    a full tile: a row's result does not depend on where the dynamic size
    ends (one-token decode reproduces a prefill bit for bit), including
    size 1. Ops the vectorizer cannot handle (gathers) stay as tiled linalg
    ops.

    Example (`--qc-tile-and-vectorize`): a projection `x[T, 64] * W[20,
    64]^T`; 20 columns x 64 exceed the contraction budget, so 8 columns per
    tile, and a static remainder of 4

    ```mlir
    linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                   affine_map<(m, n, k) -> (n, k)>,
                                   affine_map<(m, n, k) -> (m, n)>]
        ins(%x, %w : memref<?x64xf32>, memref<20x64xf32>)
        outs(%y : memref<?x20xf32>)
    ```
    becomes
    ```mlir
    scf.for %t = %c0 to %T step %c1 {
      %xt = vector.transfer_read %x[%t, %c0] ... : vector<64xf32>
      scf.for %n = %c0 to %c16 step %c8 {
        %wn = vector.transfer_read %w[%n, %c0] ... : vector<8x64xf32>
        %yn = vector.transfer_read %y[%t, %n] ... : vector<8xf32>
        %r = vector.contract {...} %xt, %wn, %yn
            : vector<64xf32>, vector<8x64xf32> into vector<8xf32>
        vector.transfer_write %r, %y[%t, %n] ... : vector<8xf32>
      }
      // ... the same with vector<4x64xf32> for columns 16..20
    }
    ```
    and a row maximum over a dynamic length `%x: memref<4x?xf32>` becomes a
    loop over 16-lane tiles carrying the four maxima in a `vector<4xf32>`,
    then
    ```mlir
    %mask = vector.create_mask %c4, %rest : vector<4x16xi1>
    %part = vector.mask %mask { vector.transfer_read ... } : vector<4x16xi1> -> vector<4x16xf32>
    %full = arith.select %mask, %part, %neg_inf : vector<4x16xi1>, vector<4x16xf32>
    %max = vector.multi_reduction <maximumf>, %full, %acc [1] : vector<4x16xf32> to vector<4xf32>
    ```
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "Tile size of the vector loop (elements of a hardware vector)">,
    Option<"tileBudget", "tile-budget", "int64_t", /*default=*/"64",
           "Largest tile volume (product of the tile's loop extents) of "
           "elementwise ops and reductions">,
    Option<"contractionTileBudget", "contraction-tile-budget", "int64_t",
           /*default=*/"512",
           "Largest tile volume of contractions (matmuls), reduction loops "
           "included">,
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def QCLowerVectors : Pass<"qc-lower-vectors", "func::FuncOp"> {
  let summary = "Lower qc-tile-and-vectorize's vector ops to 1-D vectors, loads and stores";
  let description = [{
    Runs after `qc-tile-and-vectorize`, before `convert-vector-to-llvm`:
    - masked transfers (remainder tiles) take their mask as an operand;
      transfers lose their permutation maps and leading unit dimensions,
      and broadcasts and transposes fold into the contractions that use
      them;
    - each `vector.contract` becomes dot products when both inputs read the
      reduction along their innermost dimension over at least
      `vector-width` elements (a projection's columns), and outer products
      (FMAs along a parallel dimension, after one transpose of the tile)
      otherwise (attention over a head size of 8). Dot products (of one
      vector with N rows, M rows with N rows, or a lone one) accumulate
      `vector-width`-lane partial sums, which a butterfly of shuffles and
      adds then reduces for all results at once (no horizontal reduction
      per result; every result sums its lanes in the same order whatever
      the tile's shape). Outer products whose reduction is
      long, and whose large input needs no transpose, split it into
      independent chains of 4 FMAs summed pairwise, so that a loop carrying
      the accumulator is not bound by FMA latency;
    - `vector.multi_reduction` becomes one horizontal reduction per row;
    - n-D transfers and elementwise ops are unrolled to their rows (1-D
      vectors), transfers become loads and stores (masked ones
      `vector.maskedload`/`maskedstore`);
    - `math.exp` becomes a polynomial, which stays vectorized where the
      libm call would be scalarized (exp(-inf) is exactly 0, as the masked
      scores of a softmax need).
    Broadcasts and shape casts are left to `convert-vector-to-llvm`.

    Example (`--qc-lower-vectors`):

    ```mlir
    %v = vector.transfer_read %m[%i, %c0], %pad {in_bounds = [true, true]}
        : memref<?x16xf32>, vector<2x16xf32>
    %e = math.exp %v : vector<2x16xf32>
    ```
    becomes
    ```mlir
    %v0 = vector.load %m[%i, %c0] : memref<?x16xf32>, vector<16xf32>
    %i1 = affine.apply affine_map<()[s0] -> (s0 + 1)>()[%i]
    %v1 = vector.load %m[%i1, %c0] : memref<?x16xf32>, vector<16xf32>
    // ... a polynomial in arith and math.fma on %v0, then on %v1
    ```
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "Elements of a hardware vector">,
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def QCFuseRows : Pass<"qc-fuse-rows", "func::FuncOp"> {
  let summary = "Compute tensors with two dynamic dimensions one row at a time";
  let description = [{
    A tensor with two or more dynamic dimensions grows with their product:
    attention scores are tokens x context, 8 MB per layer and head group for
    a 512-token window, and every op of the softmax would stream one through
    memory. This pass finds the ops that reduce such a tensor away (the
    attention-weighted sum of values, whose result is tokens x heads x head
    size), tiles each by 1 along its dynamic parallel loops (`scf.for` over
    tokens), and fuses into that loop the producers that read or produce a
    quadratic tensor, and `linalg.fill`s: the score, mask, max, exp, sum and
    divide of one token's row, a few KB that stay in cache. A producer two
    fused ops read is fused twice and then deduplicated (CSE within the
    loop); slices of whole-tensor `tensor.empty` destinations become per-row
    `tensor.empty`. Producers of the linear-size inputs (queries, keys,
    values) are left alone.

    A row of causal attention then computes only its visible prefix: when
    the row's chain is exactly a mask `select(column <= bound, x, -inf)`
    (unsigned `ule`, or `bound >= column`; `bound` independent of the
    column), a row maximum, `exp(x - max)`, a row sum, a division and a
    contraction over the columns, the masked columns are -inf, then
    exactly 0, then add nothing (for finite values); so every op of the
    chain (and the scores' producer) is restricted to the first
    `min(bound + 1, columns)` columns: keys and values are sliced, row
    buffers stay full width under a slice (one allocation for all rows).
    This halves prefill attention, and makes a prefill row compute exactly
    what one-token decode computes for it. Any other chain is left whole.

    Example (`--qc-fuse-rows`): scores of queries `%q` against keys `%k`,
    then a row maximum

    ```mlir
    %s = linalg.generic {...} ins(%q, %k : tensor<?x8xf32>, tensor<?x8xf32>)
           outs(%zeros : tensor<?x?xf32>) -> tensor<?x?xf32>        // T x C
    %m = linalg.generic {... "parallel", "reduction"} ins(%s : tensor<?x?xf32>)
           outs(%init : tensor<?xf32>) -> tensor<?xf32>            // T
    ```
    becomes
    ```mlir
    %m = scf.for %t = %c0 to %T step %c1 iter_args(%acc = %init) -> (tensor<?xf32>) {
      %qt = tensor.extract_slice %q[%t, 0] [1, 8] [1, 1] : tensor<?x8xf32> to tensor<1x8xf32>
      %e = tensor.empty(%C) : tensor<1x?xf32>
      %zrow = linalg.fill ins(%zero : f32) outs(%e : tensor<1x?xf32>) -> tensor<1x?xf32>
      %srow = linalg.generic {...} ins(%qt, %k : tensor<1x8xf32>, tensor<?x8xf32>)
                outs(%zrow : tensor<1x?xf32>) -> tensor<1x?xf32>    // 1 x C
      %mrow = linalg.generic {...} ins(%srow : tensor<1x?xf32>) outs(...) -> tensor<1xf32>
      %r = tensor.insert_slice %mrow into %acc[%t] [1] [1] : tensor<1xf32> into tensor<?xf32>
      scf.yield %r : tensor<?xf32>
    }
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def QCCalibrate : Pass<"qc-calibrate", "ModuleOp"> {
  let summary = "Run an imported model on sample text and record every observer's statistics";
  let description = [{
    Fills the `stats` of every `qc.observe` in a model that `quantc import`
    wrote (an `@forward(tokens, pos, k_cache, v_cache, logits)`), so that a
    calibration method (min/max, percentile, entropy, MSE) can choose its
    quantization range:

    - weight observers (their input is an `arith.constant`, or an
      `ml_program.global_load_const` of a global whose value is dense or
      `#qc.external`) get statistics computed from the weight itself, read
      from the model file, without running anything;
    - activation observers are measured while the model runs: a clone of
      the module has each of them replaced by a call that hands the tensor
      to the host, is compiled for this CPU (the JIT of `quantc eval`) and
      runs over the samples in windows of `ctx` tokens, each from an empty
      KV cache at position 0 (the protocol of `quantc eval`). Progress goes
      to stderr unless `quiet`.

    Every observer gets `#qc.stats<count, min, max>` (one min/max pair per
    slice along `axis` for per-channel observers). Per-tensor activation
    observers also get a histogram of |x|: `bins` bins (the observer's own
    `bins`, otherwise this pass's `bins` option, which is then recorded on
    the observer) over `[0, max|x|]`. To know max|x| before binning, such
    a run goes over the samples twice: the first pass finds each tensor's
    range, the second bins its values, so the stored histogram has exactly
    the bins the observer asked for and ends at the observed max|x|.
    Per-channel statistics carry no histogram (`#qc.stats` holds one per
    tensor); a warning counts the per-channel observers that asked for one.
    Re-running overwrites earlier statistics, and drops a `qtype` chosen
    from them.

    Samples are a raw little-endian int32 token file (`.i32`), used as it
    is, or UTF-8 text tokenized as `quantc eval` does ([BOS] + the text's
    tokens) with `tokenizer`, by default the one the module records
    (`qc.tokenizer`). At most `max-tokens` tokens are used.

    Refused, with a diagnostic: a module that is not an imported model, one
    with no observer (run `qc-insert-observers` first), a missing or empty
    samples file, token ids outside the vocabulary, text that tokenizes to
    nothing, and any NaN or infinity in an observed tensor (the observer is
    named: a range must never come from them).

    Example (`--qc-calibrate="samples=story.txt ctx=128"`):

    ```mlir
    %x = qc.observe %h "forward/matmul_0/in0" : tensor<?x64xf32>
    %w = qc.observe %wq "forward/matmul_0/in1" axis(0) : tensor<64x64xf32>
    ```
    becomes
    ```mlir
    %x = qc.observe %h "forward/matmul_0/in0" bins(2048)
           stats(#qc.stats<count = 262144, min = [-3.91], max = [4.27],
                           histogram = <lo = 0.0, hi = 4.27, counts = [...]>>)
           : tensor<?x64xf32>
    %w = qc.observe %wq "forward/matmul_0/in1" axis(0)
           stats(#qc.stats<count = 4096, axis = 0, min = [-0.21, ...],
                           max = [0.19, ...]>) : tensor<64x64xf32>
    ```
  }];
  let options = [
    Option<"samplesPath", "samples", "std::string", /*default=*/"",
           "Calibration samples: int32 tokens (.i32) or UTF-8 text">,
    Option<"tokenizerPath", "tokenizer", "std::string", /*default=*/"",
           "Tokenizer for text samples (default: the module's "
           "qc.tokenizer)">,
    Option<"contextLength", "ctx", "int64_t", /*default=*/"0",
           "Tokens per window (default: min(256, the model's context "
           "length))">,
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"4096",
           "Use at most this many sample tokens (0: all)">,
    Option<"numBins", "bins", "int64_t", /*default=*/"2048",
           "Histogram bins for per-tensor activation observers that do not "
           "ask for a number themselves (0: min/max only)">,
    Option<"quiet", "quiet", "bool", /*default=*/"false",
           "No progress on stderr">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def QCQuantize : Pass<"qc-quantize", "ModuleOp"> {
  let summary = "Rewrite float projections into qc.linear with packed weights";
  let description = [{
    Quantizes every projection of a module by a scheme (the names of
    `quantc quantize --scheme`, `quantc::parseScheme` in
    `lib/Numerics/Scheme.h`): `w8a8`, `w8a8-static`, `fp8`, `int8`,
    `intB` / `intB-gG` (B = 2..8, groups of G), or any llama.cpp weight
    format (`q4_0`, `q8_0`, `q4_K`, ...; also `f16`, `bf16`, `f32`).

    A projection is a `linalg.matmul` with transposed-B indexing maps
    (input `[M, K]`, weight `[N, K]`, as `quantc import` writes them) or
    the plain form with a `[K, N]` weight (transposed while packing), whose
    weight is a float constant: an `ml_program.global_load_const` of a
    global holding `#qc.external` or dense elements, or an `arith.constant`,
    possibly through `qc.observe`. Each becomes a `qc.linear` whose weight
    is a `global_load_const` of a new global of the packed type
    (`!qc.grouped`, `!qc.packed`, `tensor<NxKxf8E4M3FN>`) whose value is
    `#qc.external<path = WEIGHTS_FILE, offset = ...>`. A matmul whose
    `outs` is not a zero `linalg.fill` gets its init added back
    (`linalg.add`). A weight stored as a float format (`f16`, and llama.cpp
    fallbacks to f16) keeps its `linalg.matmul` over the converted global,
    widened to f32 by a `linalg.generic` as `quantc import` does for f16
    checkpoints (whose widenings this pass also looks through). A packed
    global takes its source's name when it alone replaces it, and is
    `<name>.<format>` otherwise (a tied classifier quantized while the
    embedding stays float); an `arith.constant` weight becomes the global
    `<function>.matmul_<n>.weight`, the name globs match.

    Activations: `w8a8` quantizes them at run time per token; `w8a8-static`
    and `fp8` read the `#qc.stats` of the input's `qc.observe`
    (`qc-insert-observers`, then `qc-calibrate`) and choose a per-tensor
    range by `method`: `!quant.uniform<i8:f32, s:z>` from the clipped
    [min, max] (asymmetric int8), or `input_scale = amax / 448` for E4M3.

    Rows a llama.cpp block does not divide fall back as llama-quantize does
    (q4_K -> q5_0, q6_K -> q8_0, ..., then f16; f32 where f16 would
    overflow); `fallback=false` refuses instead. Integer groups take a
    ragged last group; w8a8 and fp8 fit any shape (int8 activations need
    K < 2^17 for the int32 accumulator).

    The weights file is self-contained: besides the packed weights, every
    `#qc.external` float global the module still reads (embeddings, norms,
    the float-kept head) is copied into it in its own dtype and re-pointed
    there; external globals nothing reads are dropped. Blobs are 64-byte
    aligned in module order; the file is written atomically (temporary +
    rename), deterministically, and only when the pass succeeds. Dense
    globals that stay float stay inline.

    Attributes written, for reports:
    - on each global written to the file: `qc.format` (`si8`, `ui4:g32`,
      `q4_K`, `f8e4m3`, `f16`, `f32`, ...); on packed ones also
      `qc.source_weight` (the original weight), `qc.fallback` (the format
      asked for, when llama.cpp's fallback replaced it), `qc.sqnr_db`
      (10 log10(sum w^2 / sum (w - deq(q(w)))^2) through the numerics
      decoders; absent when the encoding is exact), `qc.scheme` (the scheme
      that chose it: the pass's or an override's); `qc.keep_float` on float
      weights a `keep-float` glob kept;
    - on the module, `qc.quantized = {scheme, weights_file, float_bytes
      (the weights the module read, as stored before), packed_bytes (as
      stored after, padding excluded), file_bytes, quantized_params
      (weights now integer/block/FP8), quantized, fallbacks, kept_float
      (projection counts)}`. `qc.source` stays.

    Observers the rewrite consumed (a projection's weight and input
    observers, when nothing else reads them) are erased; the others
    (attention, KV, float-kept projections) are left to
    `qc-strip-observers`.

    Refused (error, nothing written): an unknown scheme or override, an
    override glob that matches no projection, a missing `weights-file`, a
    projection whose weight is not a float constant or global, a weight
    with NaN or infinity, an unreadable or short weight file, a static
    scheme without statistics on the input observer, a method that needs a
    histogram the statistics lack, a shape the scheme cannot take.

    Example (`--qc-quantize="scheme=w8a8 weights-file=/tmp/w.bin"`):

    ```mlir
    ml_program.global private @blk.0.attn_q.weight(
        #qc.external<path = "/m/model.bin", offset = 28>) : tensor<64x64xf32>
    ...
    %w = ml_program.global_load_const @blk.0.attn_q.weight : tensor<64x64xf32>
    %z = linalg.fill ins(%cst : f32) outs(%e : tensor<?x64xf32>) -> tensor<?x64xf32>
    %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                        affine_map<(m, n, k) -> (n, k)>,
                                        affine_map<(m, n, k) -> (m, n)>]
        ins(%x, %w : tensor<?x64xf32>, tensor<64x64xf32>)
        outs(%z : tensor<?x64xf32>) -> tensor<?x64xf32>
    ```
    becomes
    ```mlir
    module attributes {qc.quantized = {scheme = "w8a8", ...}, ...} {
    ml_program.global private @blk.0.attn_q.weight(
        #qc.external<path = "/tmp/w.bin", offset = 0>)
        {qc.format = "si8", qc.scheme = "w8a8", qc.source_weight =
         "blk.0.attn_q.weight", qc.sqnr_db = 44.1 : f64}
        : !qc.grouped<64x64, si8>
    ...
    %w = ml_program.global_load_const @blk.0.attn_q.weight : !qc.grouped<64x64, si8>
    %y = qc.linear %x, %w dynamic(per_token)
        : tensor<?x64xf32>, !qc.grouped<64x64, si8> -> tensor<?x64xf32>
    ```
  }];
  let options = [
    Option<"schemeName", "scheme", "std::string", /*default=*/"",
           "Quantization scheme (required): w8a8, w8a8-static, fp8, int8, "
           "intB[-gG], or a llama.cpp weight format (q4_0, q4_K, ...)">,
    Option<"weightsFile", "weights-file", "std::string", /*default=*/"",
           "Where to write the packed weights (and the float weights the "
           "module still reads); required unless nothing is written">,
    Option<"method", "method", "std::string", /*default=*/"\"minmax\"",
           "How static activation ranges are chosen from the statistics: "
           "minmax (default: needs no histogram), percentile, entropy or "
           "mse (these need a histogram: qc-insert-observers bins=2048; "
           "entropy and mse search an int8 grid, so fp8 takes minmax or "
           "percentile)">,
    Option<"percentile", "percentile", "double", /*default=*/"99.99",
           "Percentile of |x| kept by method=percentile">,
    Option<"keepFloat", "keep-float", "std::string",
           /*default=*/"\"output.weight\"",
           "Comma-separated globs of weights left in float; a classifier "
           "that reads the token embedding (tied) also answers to "
           "output.weight. Empty: quantize every projection">,
    Option<"overrides", "overrides", "std::string", /*default=*/"",
           "Per-weight schemes, GLOB=SCHEME,... (first match wins; takes "
           "precedence over keep-float), e.g. "
           "blk.0.*=int8,blk.*.ffn_down.weight=q8_0">,
    Option<"allowFallback", "fallback", "bool", /*default=*/"true",
           "Let a llama.cpp block format that does not divide a row fall "
           "back as llama-quantize does; false: refuse such a projection">,
  ];
  let dependentDialects = ["::mlir::qc::QCDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::ml_program::MLProgramDialect",
                           "::mlir::quant::QuantDialect"];
}

def QCGPTQ : Pass<"qc-gptq", "ModuleOp"> {
  let summary = "Quantize projection weights by GPTQ on calibration samples";
  let description = [{
    GPTQ (Frantar et al., 2023) chooses each weight's codes column by
    column, compensating each column's rounding error in the columns not yet
    quantized through the inverse Hessian of the layer's output error,
    H = 2/n sum x x^T over the calibration tokens of the projection's input
    (lib/Numerics/GPTQ.h: dampening, dead columns, Cholesky of H^-1, lazy
    batch blocks, act-order, static or dynamic groups).

    The pass chooses every projection's target as `qc-quantize` will (the
    same `scheme`, `keep-float` and `overrides`): integer groups (`intB`,
    `intB-gG`, and the si8 weights of `w8a8`/`w8a8-static`) or a llama.cpp
    block format with scalar codes (q4_0 ... q8_0, q2_K ... q6_K, iq4_nl,
    iq4_xs), after llama.cpp's row fallbacks. It runs the model over the
    samples (windows of `ctx` tokens from an empty cache, as `quantc eval`),
    recording H for each distinct projection input (q, k and v share
    one). With `true-sequential` (the default) inputs are visited in program
    order and each is recorded with every projection before it already
    quantized, so a layer corrects the error of those before it; otherwise
    one run of the float model records them all.

    The result is recorded on each weight's global as
    `qc.prequantized = {format, method = "gptq", bytes}`: the packed bytes,
    exactly as `qc-quantize` would lay them out, which `qc-quantize` then
    writes instead of rounding to nearest (and refuses when its scheme
    stores the weight in another format). The float values stay, for
    anything else that reads them. The module gets
    `qc.gptq = {weights, inputs, tokens, damp_retries, dead_columns,
    seconds}`.

    Refused, with a diagnostic: no samples, a scheme whose weights GPTQ
    cannot target (fp8, float formats, vector-codebook formats), a weight
    that is not a global (true-sequential runs read weights from host
    buffers), a Hessian that stays indefinite even at damp 1 (dampening is
    raised by 10x per failed Cholesky and reported), non-finite weights or
    activations. Projections the scheme leaves in float, or whose format
    falls back to f16, are left alone.

    Example (`--qc-gptq="scheme=int4-g32 samples=story.txt"` then
    `--qc-quantize="scheme=int4-g32 weights-file=w.bin"`):

    ```mlir
    ml_program.global private @blk.0.attn_q.weight(
        #qc.external<path = "/m/model.bin", offset = 28>) : tensor<64x64xf32>
    ```
    becomes
    ```mlir
    ml_program.global private @blk.0.attn_q.weight(
        #qc.external<path = "/m/model.bin", offset = 28>)
        {qc.prequantized = {bytes = dense<"0x..."> : tensor<2432xi8>,
                            format = "ui4:g32", method = "gptq"}}
        : tensor<64x64xf32>
    ```
  }];
  let options = [
    Option<"schemeName", "scheme", "std::string", /*default=*/"",
           "The scheme qc-quantize will use (required), with the same "
           "keep-float and overrides: what each weight is quantized to">,
    Option<"keepFloat", "keep-float", "std::string",
           /*default=*/"\"output.weight\"",
           "Comma-separated globs of weights left in float (as qc-quantize)">,
    Option<"overrides", "overrides", "std::string", /*default=*/"",
           "Per-weight schemes, GLOB=SCHEME,... (as qc-quantize)">,
    Option<"samplesPath", "samples", "std::string", /*default=*/"",
           "Calibration samples (required): int32 tokens (.i32) or UTF-8 "
           "text">,
    Option<"tokenizerPath", "tokenizer", "std::string", /*default=*/"",
           "Tokenizer for text samples (default: the module's "
           "qc.tokenizer)">,
    Option<"contextLength", "ctx", "int64_t", /*default=*/"0",
           "Tokens per window (default: min(256, the model's context "
           "length))">,
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"4096",
           "Use at most this many sample tokens (0: all)">,
    Option<"quiet", "quiet", "bool", /*default=*/"false",
           "No progress on stderr">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "Dampening added to H's diagonal, as a fraction of its mean">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "Columns per lazy-batch block">,
    Option<"actOrder", "act-order", "bool", /*default=*/"false",
           "Quantize columns by decreasing H_ii (desc_act); groups become "
           "static">,
    Option<"staticGroups", "static-groups", "bool", /*default=*/"false",
           "Fit every group's parameters from the original weights before "
           "the loop">,
    Option<"trueSequential", "true-sequential", "bool", /*default=*/"true",
           "Record each input with the projections before it quantized">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def QCAWQ : Pass<"qc-awq", "ModuleOp"> {
  let summary = "Activation-aware scaling and clipping of weights before weight-only quantization";
  let description = [{
    AWQ (Lin et al., 2024): the weights that meet large activations matter
    most, so each group of projections sharing an input (q/k/v after the
    attention norm, gate/up after the FFN norm, down after SwiGLU) gets a
    per-input-channel scale s = mean|x|^ratio (normalised), with the ratio
    searched on a grid of `grid` points to minimise the layers' output error
    once quantized to their target (`scheme`, as `qc-quantize` will round it;
    the error is exact over every calibration token through H = 2/n X^T X).
    W becomes W diag(s) and the input is divided by s where it is produced:
    the norm's weight, or the rows of the projection whose output the
    producer multiplies (up, for down's input), so no op is added and the
    float model computes the same function. Then, per row and group, the
    clipping search shrinks the group's range (`amax * (1 - i/20)`,
    i < 10) where that lowers the output error. The float weights are
    rewritten in place (dense values), and `qc-quantize` rounds them to
    nearest as usual.

    A group whose input cannot take a scale (o_proj reads attention output,
    which no per-channel constant produces; a norm shared with another
    reader; a tied embedding) is only clipped. The module gets `qc.awq =
    {scaled, clipped_only, tokens, seconds}` and each scaled group's first
    weight `qc.awq_ratio`.

    Refused: no samples, a scheme that is not weight-only integer groups or
    a llama.cpp block format, non-finite weights or activations.

    Example (`--qc-awq="scheme=int4-g32 samples=story.txt"`): `@blk.0.attn_norm.weight`
    is divided by s and `@blk.0.attn_{q,k,v}.weight` multiplied by it
    column-wise, each clipped per group; their values become dense.
  }];
  let options = [
    Option<"schemeName", "scheme", "std::string", /*default=*/"",
           "The scheme qc-quantize will use (required), with the same "
           "keep-float and overrides: what each weight is quantized to">,
    Option<"keepFloat", "keep-float", "std::string",
           /*default=*/"\"output.weight\"",
           "Comma-separated globs of weights left in float (as qc-quantize)">,
    Option<"overrides", "overrides", "std::string", /*default=*/"",
           "Per-weight schemes, GLOB=SCHEME,... (as qc-quantize)">,
    Option<"samplesPath", "samples", "std::string", /*default=*/"",
           "Calibration samples (required): int32 tokens (.i32) or UTF-8 "
           "text">,
    Option<"tokenizerPath", "tokenizer", "std::string", /*default=*/"",
           "Tokenizer for text samples (default: the module's "
           "qc.tokenizer)">,
    Option<"contextLength", "ctx", "int64_t", /*default=*/"0",
           "Tokens per window (default: min(256, the model's context "
           "length))">,
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"4096",
           "Use at most this many sample tokens (0: all)">,
    Option<"quiet", "quiet", "bool", /*default=*/"false",
           "No progress on stderr">,
    Option<"gridPoints", "grid", "int64_t", /*default=*/"20",
           "Ratios tried for the scale search: 0, 1/grid, ...">,
    Option<"clip", "clip", "bool", /*default=*/"true",
           "Run the clipping search after scaling">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def QCSmoothQuant : Pass<"qc-smoothquant", "ModuleOp"> {
  let summary = "Migrate activation outliers into weights (SmoothQuant) before W8A8";
  let description = [{
    SmoothQuant (Xiao et al., 2023): for each group of projections sharing
    an input, input channel j is divided by
    s_j = max|X_j|^alpha / max|W_j|^(1-alpha) (max|X_j| over the calibration
    samples, max|W_j| over the group's weight columns) and every weight
    column multiplied by s_j, so per-tensor activation quantization no
    longer loses the small channels to a few outliers. The division is
    folded into the op that produces the input (the RMSNorm weight, or the
    rows of the up projection for down's input): no op is added at run time
    and the float model computes the same function (up to rounding).

    `alpha=auto` searches alpha in {0, 0.05, ..., 1} per group, minimising
    the group's quantized output error on `sample-tokens` sampled rows of
    its input, with the activations quantized as `scheme` will (w8a8:
    dynamic per token; w8a8-static: per tensor; fp8: E4M3 per tensor) and
    per-row int8 weights.

    `layers` (globs over weight names) restricts which groups are smoothed;
    a group it names explicitly that cannot be smoothed is an error,
    otherwise such groups (o_proj, whose input is attention output) are
    skipped and counted. The module gets `qc.smoothquant = {smoothed,
    skipped, alphas, tokens}`.

    Refused: no samples, a non-finite or negative alpha outside [0, 1],
    inputs whose observers already carry statistics (smooth first, then
    calibrate), non-finite activations.

    Example (`--qc-smoothquant="alpha=0.5 samples=story.txt"`): the values
    of `@blk.0.attn_norm.weight` are divided by s and the columns of
    `@blk.0.attn_{q,k,v}.weight` multiplied by it; both become dense.
  }];
  let options = [
    Option<"alpha", "alpha", "std::string", /*default=*/"\"0.5\"",
           "Migration strength in [0, 1], or auto">,
    Option<"schemeName", "scheme", "std::string", /*default=*/"\"w8a8-static\"",
           "How activations will be quantized (alpha=auto's objective): "
           "w8a8, w8a8-static or fp8">,
    Option<"layers", "layers", "std::string", /*default=*/"",
           "Comma-separated globs of weight names whose groups are smoothed "
           "(default: every group that can be)">,
    Option<"sampleTokens", "sample-tokens", "int64_t", /*default=*/"512",
           "Input rows kept per group for alpha=auto">,
    Option<"samplesPath", "samples", "std::string", /*default=*/"",
           "Calibration samples (required): int32 tokens (.i32) or UTF-8 "
           "text">,
    Option<"tokenizerPath", "tokenizer", "std::string", /*default=*/"",
           "Tokenizer for text samples (default: the module's "
           "qc.tokenizer)">,
    Option<"contextLength", "ctx", "int64_t", /*default=*/"0",
           "Tokens per window (default: min(256, the model's context "
           "length))">,
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"4096",
           "Use at most this many sample tokens (0: all)">,
    Option<"quiet", "quiet", "bool", /*default=*/"false",
           "No progress on stderr">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

#endif // QUANTC_TRANSFORMS_PASSES_TD
