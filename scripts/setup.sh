#!/usr/bin/env bash
# Installs exactly the Debian packages quantc needs; idempotent: installs
# nothing (and runs no apt-get update) when everything is already present.
set -euo pipefail

PACKAGES=(
  # LLVM/MLIR 22: headers, libMLIR.so/libLLVM.so, mlir-tblgen, FileCheck, lit
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools clang-22 lld-22
  # build
  cmake ninja-build ccache python3
  # JSON for manifests, reports and golden data
  nlohmann-json3-dev
  # dense linear algebra (GPTQ's Cholesky and updates, Hessians, AWQ)
  libopenblas-dev liblapacke-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # clang 22 sanitizer runtimes for scripts/test.sh --sanitize
  libclang-rt-22-dev
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present" >&2
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
