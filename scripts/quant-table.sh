#!/usr/bin/env bash
# Quality and size of every quantization scheme and calibration method on a
# model, against its float self: perplexity, mean KL divergence, top-1
# agreement, size and bits per weight, as a Markdown table on stdout and a
# JSON array in out/quant-table/table.json (one `quantc quantize --report`
# object per row).
#
# Calibration reads the last --calib-bytes of the text and the evaluation
# scores its first --windows windows, so the two do not overlap.
#
# Usage: scripts/quant-table.sh [--model M] [--tokenizer T] [--text F]
#          [--windows N] [--ctx N] [--calib-bytes B] [--schemes "s1 s2 ..."]
# Defaults: stories260K, tok512 and the TinyStories excerpt from
# ../shared/data; 64 windows of 256 tokens; 32768 bytes of calibration text.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=$root/../shared/data
model=$data/models/stories260K.bin
tokenizer=$data/models/tok512.bin
text=$data/text/tinystories_validation_excerpt.txt
windows=64
ctx=256
calib_bytes=32768
schemes="w8a8 w8a8-static:minmax w8a8-static:percentile w8a8-static:entropy
w8a8-static:mse fp8:minmax fp8:percentile fp8:entropy fp8:mse int8 int4-g32
int4-g64 int4 int3-g32 int3-g64 q8_0 q6_K q5_K q5_1 q5_0 q4_K q4_1 q4_0 q3_K
q2_K"
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --tokenizer) tokenizer=$2; shift 2 ;;
    --text) text=$2; shift 2 ;;
    --windows) windows=$2; shift 2 ;;
    --ctx) ctx=$2; shift 2 ;;
    --calib-bytes) calib_bytes=$2; shift 2 ;;
    --schemes) schemes=$2; shift 2 ;;
    *) echo "quant-table: unknown option $1" >&2; exit 2 ;;
  esac
done
for f in "$model" "$tokenizer" "$text"; do
  [ -f "$f" ] || { echo "quant-table: $f not found" >&2; exit 1; }
done
build_dir=$("$root/scripts/build.sh")
quantc=$build_dir/bin/quantc
out=$root/out/quant-table
mkdir -p "$out"
calib=$out/calib.txt
tail -c "$calib_bytes" "$text" > "$calib"

echo "| scheme | method | ppl | vs float | mean KL | top-1 | size | bits/weight |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
json="["
separator=""
for entry in $schemes; do
  scheme=${entry%%:*}
  method=-
  args=()
  if [ "$entry" != "$scheme" ]; then
    method=${entry#*:}
    args=(--calib "$calib" --method "$method")
  fi
  name=$(echo "$entry" | tr ':' '-')
  log=$out/$name.log
  if ! "$quantc" quantize "$model" --tokenizer "$tokenizer" --scheme "$scheme" \
      "${args[@]}" --eval-text "$text" --eval-windows "$windows" \
      --eval-ctx "$ctx" --report "$out/$name.json" -o "$out/$name.mlir" \
      --quiet > "$log" 2>&1; then
    echo "| $scheme | $method | failed: $(tail -n 1 "$log") | | | | | |"
    continue
  fi
  quality=$(grep '^quality on' "$log")
  size=$(grep '^size:' "$log")
  ppl=$(sed -E 's/.*quantized ppl=([0-9.]+) \(([-+0-9.]+%)\).*/\1/' <<< "$quality")
  delta=$(sed -E 's/.*quantized ppl=([0-9.]+) \(([-+0-9.]+%)\).*/\2/' <<< "$quality")
  kl=$(sed -E 's/.*mean KL=([0-9.e-]+).*/\1/' <<< "$quality")
  top1=$(sed -E 's/.*top-1 agreement=([0-9.]+).*/\1/' <<< "$quality")
  bytes=$(sed -E 's/^size: .* -> ([0-9.]+ [KMG]?i?B) .*/\1/' <<< "$size")
  bpw=$(sed -E 's/.*\), ([0-9.]+) bits per weight.*/\1/' <<< "$size")
  echo "| $scheme | $method | $ppl | $delta | $kl | $top1 | $bytes | $bpw |"
  json+="$separator$(cat "$out/$name.json")"
  separator=","
done
float=$(grep '^quality on' "$out"/*.log | head -n 1 |
        sed -E 's/.*float ppl=([0-9.]+),.*/\1/')
echo
echo "float ppl=$float on the first $windows windows of $ctx tokens of $(basename "$text")"
printf '%s]\n' "$json" > "$out/table.json"
