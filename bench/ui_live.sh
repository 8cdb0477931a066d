#!/usr/bin/env bash
# Web UI live updates: approval -> requester's page shows active (p50/p99
# over RUNS runs, against a raw SSE client in the same run), and the SSE
# fan-out cost with CLIENTS connected streams (against 1 stream).
#   bench/ui_live.sh [RUNS=50] [CLIENTS=1000]
#   JG_BUILD_DIR=DIR: use that build (bench/all.sh) instead of building build/
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d tests/ui/node_modules ] || (cd tests/ui && npm ci --no-audit --no-fund --loglevel=error)
if [ -n "${JG_BUILD_DIR:-}" ]; then
  build=$(cd "$JG_BUILD_DIR" && pwd)
else
  scripts/build.sh build
  build=$PWD/build
fi
ulimit -n 65536 2>/dev/null || ulimit -n 8192
JITGATE_BIN=$build/jitgate JG_SOURCE_DIR=$PWD JG_BUILD_DIR=$build \
  python3 bench/ui_live.py "${1:-50}" "${2:-1000}"
