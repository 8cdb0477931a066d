#!/usr/bin/env bash
# Builds jitgate into build/ (or $1) with the default RelWithDebInfo flags.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
