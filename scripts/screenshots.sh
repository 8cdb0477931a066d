#!/usr/bin/env bash
# Regenerates docs/ui/*.png: every page of the web UI, light and dark,
# desktop and phone, against a real daemon with a small scene of requests
# (tests/ui/screenshots.mjs).  Needs what the UI tests need: chromium,
# PostgreSQL 15, tests/ui and tests/idp node_modules (installed here when
# missing).
set -euo pipefail
cd "$(dirname "$0")/.."
for d in tests/idp tests/ui; do
  [ -d $d/node_modules ] || (cd $d && npm ci --no-audit --no-fund --loglevel=error)
done
scripts/build.sh build
JITGATE_BIN=$PWD/build/jitgate JG_SOURCE_DIR=$PWD JG_BUILD_DIR=$PWD/build \
  python3 tests/e2e/ui_screenshots.py docs/ui
