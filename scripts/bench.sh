#!/usr/bin/env bash
# Builds quantc and runs the quantization throughput benchmark beside
# llama.cpp's figures for this machine kind; the table goes to stdout, the
# JSON to out/bench-quantize.json.
# Usage: scripts/bench.sh [--reps N] [--formats q4_0,q8_0] [--size N]
#                         [--threads N] [--isa scalar|avx2|avx512]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$("$root/scripts/build.sh")
mkdir -p "$root/out"
exec "$build_dir/bin/quantc-bench-quantize" \
  --json "$root/out/bench-quantize.json" "$@"
