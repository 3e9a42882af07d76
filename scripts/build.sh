#!/usr/bin/env bash
# Configures and builds quantc. Usage: scripts/build.sh [--sanitize]
#   QUANTC_BUILD_DIR  build folder (default: build, or build-asan with --sanitize)
#   QUANTC_CXX        C++ compiler (default: clang++-22; g++ works too)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sanitize=OFF
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=ON ;;
    *) echo "build: unknown option '$arg' (expected --sanitize)" >&2; exit 2 ;;
  esac
done
default_dir=build
[ "$sanitize" = ON ] && default_dir=build-asan
build_dir=${QUANTC_BUILD_DIR:-$root/$default_dir}
cxx=${QUANTC_CXX:-clang++-22}
case "$cxx" in
  clang++*) cc=${cxx/clang++/clang} ;;
  g++*) cc=${cxx/g++/gcc} ;;
  *) cc=cc ;;
esac

"$root/scripts/setup.sh"
cmake -S "$root" -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
  -DQUANTC_SANITIZE="$sanitize" >&2
cmake --build "$build_dir" -j "$(nproc)" >&2
echo "$build_dir"
