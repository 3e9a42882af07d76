#!/usr/bin/env bash
# The main job on the bundled default: sets up, builds, imports a real Llama
# checkpoint into MLIR, compiles it for this CPU and prints its float
# perplexity under the shared evaluation protocol, then a greedy sample.
#
# Default model: ../shared/data's stories260K (llama2.c checkpoint, tok512
# tokenizer) scored on the TinyStories excerpt; without shared data, a
# deterministic synthetic Llama-shaped model that `quantc synth` writes,
# scored on examples/story.txt.
#
# Then quantizes it to W8A8 and reports size, perplexity and KL against
# float, and a greedy sample of the quantized model.
#
# Usage: scripts/run.sh [--windows N]   (N windows of 512 tokens; default all)
# Outputs under out/: model.mlir, eval.json, model-w8a8.mlir (+ .weights),
# w8a8-report.json.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
windows=()
if [ "${1:-}" = "--windows" ] && [ -n "${2:-}" ]; then
  windows=(--windows "$2")
fi
build_dir=$("$root/scripts/build.sh")
quantc=$build_dir/bin/quantc
out_dir=$root/out
mkdir -p "$out_dir"

data=$root/../shared/data
if [ -f "$data/models/stories260K.bin" ] && [ -f "$data/models/tok512.bin" ] &&
   [ -f "$data/text/tinystories_validation_excerpt.txt" ]; then
  model=$data/models/stories260K.bin
  tokenizer=$data/models/tok512.bin
  text=$data/text/tinystories_validation_excerpt.txt
else
  echo "run: ../shared/data not found; using a synthetic model (random weights: its perplexity only shows the flow)" >&2
  model=$out_dir/synthetic.bin
  tokenizer=$out_dir/synthetic-tok.bin
  "$quantc" synth -o "$model" --tokenizer-out "$tokenizer"
  text=$root/examples/story.txt
fi

# Checkpoint -> one MLIR module; the weights stay in the checkpoint.
"$quantc" import "$model" --tokenizer "$tokenizer" -o "$out_dir/model.mlir"
# Perplexity (the last line: mean_nll=... ppl=... tokens=...).
"$quantc" eval "$out_dir/model.mlir" --text "$text" "${windows[@]}" \
  --json "$out_dir/eval.json"
# What the model writes, greedily.
"$quantc" run "$out_dir/model.mlir" --temp 0 -n 64 --quiet
# Quantized: W8A8 (int8 weights per channel, int8 activations per token),
# with its size and its perplexity and KL against the float model.
"$quantc" quantize "$out_dir/model.mlir" --scheme w8a8 --eval-text "$text" \
  --eval-windows 16 --report "$out_dir/w8a8-report.json" \
  -o "$out_dir/model-w8a8.mlir" | grep -v '^blk\.'
"$quantc" run "$out_dir/model-w8a8.mlir" --temp 0 -n 64 --quiet
