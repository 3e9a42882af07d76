#!/usr/bin/env bash
# Round-to-nearest against GPTQ, AWQ and GPTQ with act-order, for weight-only
# 4- and 3-bit schemes on each model: perplexity, mean KL divergence and
# top-1 agreement against the float model, and the share of RTN's mean-KL
# gap each method closes (1 - KL_method / KL_rtn). A Markdown table on
# stdout; one `quantc quantize --report` JSON per row in
# out/error-aware-table/.
#
# Same protocol as scripts/quant-table.sh: calibrate on the last
# --calib-bytes of the text, score its first --windows windows.
#
# Usage: scripts/error-aware-table.sh [--models "m1.bin m2.bin"]
#          [--tokenizer T] [--text F] [--windows N] [--calib-bytes B]
#          [--schemes "s1 s2 ..."] [--methods "rtn gptq awq gptq-act"]
# Defaults: every model in ../shared/data/models (stories260K, mix3M), 64
# windows of min(256, context), 32768 bytes of calibration text, schemes
# int4-g32 q4_0 q4_K int3-g32 q3_K (K-quants only where rows are multiples
# of 256).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=$root/../shared/data
models="$data/models/stories260K.bin $data/models/mix3M.bin"
tokenizer=$data/models/tok512.bin
text=$data/text/tinystories_validation_excerpt.txt
windows=64
calib_bytes=32768
schemes="int4-g32 q4_0 q4_K int3-g32 q3_K"
methods="rtn gptq awq gptq-act"
while [ $# -gt 0 ]; do
  case "$1" in
    --models) models=$2; shift 2 ;;
    --tokenizer) tokenizer=$2; shift 2 ;;
    --text) text=$2; shift 2 ;;
    --windows) windows=$2; shift 2 ;;
    --calib-bytes) calib_bytes=$2; shift 2 ;;
    --schemes) schemes=$2; shift 2 ;;
    --methods) methods=$2; shift 2 ;;
    *) echo "error-aware-table: unknown option $1" >&2; exit 2 ;;
  esac
done
for f in $models "$tokenizer" "$text"; do
  [ -f "$f" ] || { echo "error-aware-table: $f not found" >&2; exit 1; }
done
build_dir=$("$root/scripts/build.sh")
quantc=$build_dir/bin/quantc
out=$root/out/error-aware-table
mkdir -p "$out"
calib=$out/calib.txt
tail -c "$calib_bytes" "$text" > "$calib"

echo "| model | scheme | method | ppl | vs float | mean KL | top-1 | KL gap closed | seconds |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for model in $models; do
  base=$(basename "$model" .bin)
  # Context: the model's (header int 7), at most 256.
  seq_len=$(od -An -t d4 -j 24 -N 4 "$model" | tr -d ' ')
  ctx=$(( seq_len < 256 ? seq_len : 256 ))
  dim=$(od -An -t d4 -j 0 -N 4 "$model" | tr -d ' ')
  hidden=$(od -An -t d4 -j 4 -N 4 "$model" | tr -d ' ')
  for scheme in $schemes; do
    case "$scheme" in
      q*_K) if (( dim % 256 != 0 || hidden % 256 != 0 )); then
              echo "| $base | $scheme | - | rows of $dim/$hidden: no K-quant blocks | | | | | |"
              continue
            fi ;;
    esac
    rtn_kl=""
    for method in $methods; do
      args=()
      case "$method" in
        rtn) ;;
        gptq) args=(--gptq) ;;
        gptq-act) args=(--gptq --act-order) ;;
        awq) args=(--awq) ;;
        *) echo "error-aware-table: unknown method $method" >&2; exit 2 ;;
      esac
      [ "$method" = rtn ] || args+=(--calib "$calib")
      name=$base-$scheme-$method
      log=$out/$name.log
      start=$(date +%s.%N)
      if ! "$quantc" quantize "$model" --tokenizer "$tokenizer" \
          --scheme "$scheme" "${args[@]}" --eval-text "$text" \
          --eval-windows "$windows" --eval-ctx "$ctx" \
          --report "$out/$name.json" -o "$out/$name.mlir" --quiet \
          > "$log" 2>&1; then
        echo "| $base | $scheme | $method | failed: $(tail -n 1 "$log") | | | | | |"
        continue
      fi
      seconds=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { print a - b }')
      quality=$(grep '^quality on' "$log")
      ppl=$(sed -E 's/.*quantized ppl=([0-9.]+) \(([-+0-9.]+%)\).*/\1/' <<< "$quality")
      delta=$(sed -E 's/.*quantized ppl=([0-9.]+) \(([-+0-9.]+%)\).*/\2/' <<< "$quality")
      kl=$(sed -E 's/.*mean KL=([0-9.e-]+).*/\1/' <<< "$quality")
      top1=$(sed -E 's/.*top-1 agreement=([0-9.]+).*/\1/' <<< "$quality")
      closed=-
      if [ "$method" = rtn ]; then
        rtn_kl=$kl
      elif [ -n "$rtn_kl" ]; then
        closed=$(awk -v a="$kl" -v b="$rtn_kl" 'BEGIN { printf "%.0f%%", 100 * (1 - a / b) }')
      fi
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %.1f |\n' "$base" \
        "$scheme" "$method" "$ppl" "$delta" "$kl" "$top1" "$closed" "$seconds"
      rm -f "$out/$name.mlir" "$out/$name.weights"
    done
  done
  float=$(grep -h '^quality on' "$out/$base"-*.log | head -n 1 |
          sed -E 's/.*float ppl=([0-9.]+),.*/\1/')
  echo "| $base | float | - | $float | | | | | |"
done
echo
echo "scored on the first $windows windows of $(basename "$text"); calibrated on its last $calib_bytes bytes"
