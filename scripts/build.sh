#!/usr/bin/env bash
# Builds jitgate into build/ (or $1) with the default RelWithDebInfo flags;
# further arguments go to cmake; JG_BUILD_TARGET builds one target only.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" ${JG_BUILD_TARGET:+--target "$JG_BUILD_TARGET"}
