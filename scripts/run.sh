#!/usr/bin/env bash
# The main job on the bundled default: sets up, builds, then runs quantc's
# calibration front half on examples/mlp.mlir, a two-layer float MLP, and,
# where ../shared/data is present, quantizes the shared mix3M checkpoint to
# a q4_K GGUF. Usage: scripts/run.sh [MODEL.mlir]  (output under out/)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=${1:-$root/examples/mlp.mlir}
build_dir=$("$root/scripts/build.sh")
out_dir=$root/out
mkdir -p "$out_dir"
name=$(basename "$model" .mlir)
observed=$out_dir/$name.observed.mlir

# Place an observer on every tensor a scheme may quantize: weights per output
# channel, activations per tensor with a 2048-bin histogram for range search.
"$build_dir/bin/quant-opt" "$model" \
  --qc-insert-observers="weights=per-channel activations=per-tensor bins=2048" \
  --canonicalize --cse -o "$observed.tmp"
mv "$observed.tmp" "$observed"

count=$(grep -c 'qc.observe' "$observed" || true)
echo "quant-opt: $model -> $observed ($count observers)" >&2
grep -o 'qc.observe %[^:]*' "$observed" | sed 's/^/  /' >&2
cat "$observed"

# A real checkpoint to a llama.cpp-loadable GGUF, like llama-quantize.
models=$root/../shared/data/models
if [ -f "$models/mix3M.bin" ] && [ -f "$models/tok512.bin" ]; then
  "$build_dir/bin/quantc" convert "$models/mix3M.bin" --type q4_K \
    --tokenizer "$models/tok512.bin" -o "$out_dir/mix3M-q4_K.gguf"
else
  echo "run: ../shared/data/models not found; skipping the mix3M -> q4_K GGUF step" >&2
fi
