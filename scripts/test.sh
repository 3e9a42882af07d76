#!/usr/bin/env bash
# Sets up, builds and runs every quantc test (lit/FileCheck and GoogleTest)
# through one ctest. Usage: scripts/test.sh [--sanitize]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$("$root/scripts/build.sh" "$@")
cd "$build_dir"
ctest -j "$(nproc)" --output-on-failure
