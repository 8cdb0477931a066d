#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, builds three ways and runs every tier with ctest.
#   1. build/        RelWithDebInfo: unit, end-to-end (real daemon, CLI,
#                    PostgreSQL, OIDC provider), fuzz corpora replayed;
#                    then the end-to-end suite again on the PostgreSQL store
#   2. build-fuzz/   clang + libFuzzer + ASan/UBSan: each fuzz target runs
#                    a bounded number of iterations
#   3. build-analyzer/ gcc -fanalyzer over src/ (the daemon): a finding
#                    fails the build (suppressions: CMakeLists.txt, each
#                    with its reason; listed in docs/testing.md)
#   4. build-tsan/   gcc + ThreadSanitizer: unit and end-to-end tests
#   5. build-asan/   gcc + ASan/UBSan: the whole suite again
# Servers the tests need (PostgreSQL, PgBouncer, the OIDC provider) are
# started and stopped by the tests themselves.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1
# npm packages of the test helpers: the OIDC provider, the browser tests
for d in tests/idp tests/ui; do
  if [ -f $d/package.json ] && [ ! -d $d/node_modules ]; then
    (cd $d && npm ci --no-audit --no-fund --loglevel=error) || exit 1
  fi
done

jobs=$(nproc)
fail=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_ctest() {
  local dir=$1; shift
  echo "=== ctest in $dir $*"
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j"$jobs" "$@") || fail=1
}

scripts/build.sh build || exit 1
run_ctest build
# the whole end-to-end suite again with the PostgreSQL store (design
# section 12): each test process starts its own cluster, each server gets
# a fresh database in it (tests/e2e/harness.py).  Left out (docs/testing.md
# says the same):
#   test_diskfull  by nature about the SQLite file: a real 4 MiB tmpfs
#                  under it, filled to the last byte; a PostgreSQL store's
#                  disk is the database server's, not jitgate's
#   test_ha, test_store_pg  already ran on PostgreSQL above: they start
#                  their own cluster and name its databases themselves,
#                  so the variable changes nothing in them
pg_left_out='test_diskfull|test_ha|test_store_pg'
JITGATE_TEST_STORAGE=postgresql \
  run_ctest build -L e2e -E "^e2e/($pg_left_out)\$"

scripts/build.sh build-fuzz -DCMAKE_C_COMPILER=clang -DJG_FUZZ=ON -DJG_SANITIZE=ON \
  -DJG_FUZZ_RUNS="${JG_FUZZ_RUNS:-200000}" || exit 1
run_ctest build-fuzz -L fuzz

echo "=== gcc -fanalyzer (build-analyzer)"
JG_BUILD_TARGET=jitgate scripts/build.sh build-analyzer -DJG_ANALYZER=ON || fail=1

scripts/build.sh build-tsan -DJG_TSAN=ON || exit 1
# test_ha included: its partition case used to overrun here; the cause
# found (also under ASan): a cut-off node's reconnect had one 50 ms slice
# to finish TCP, TLS and SCRAM; it has 2 s now
TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:second_deadlock_stack=1} \
  run_ctest build-tsan -L 'unit|e2e'

scripts/build.sh build-asan -DJG_SANITIZE=ON || exit 1
run_ctest build-asan

# ctest's own summary line stays the last thing printed
[ $fail -eq 0 ] || { echo "test suite: a tier FAILED (see above)"; exit 1; }
