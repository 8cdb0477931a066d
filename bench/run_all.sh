#!/usr/bin/env bash
# Runs the daemon benchmarks (not the gateway or JWT ones) and prints a
# summary of their figures against the design targets (design.md §8).
#
#   bench/run_all.sh                builds build-bench (Release) first
#   JG_BUILD_DIR=DIR bench/run_all.sh   uses an existing build instead
#
# Figures on a shared 2-core machine are noisy: run it twice and compare.
# The exit status is 0 unless a benchmark failed to run or saw a wrong
# answer; missing a timing target never fails it.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)

if [ -z "${JG_BUILD_DIR:-}" ]; then
	export JG_BUILD_DIR=$SRC/build-bench
	cmake -S "$SRC" -B "$JG_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_C_FLAGS=-g >/dev/null
	cmake --build "$JG_BUILD_DIR" -j2 --target jitgate bench_index bench_cycle_load >/dev/null
fi

LOG=$(mktemp -d "${TMPDIR:-/tmp}/jg-bench-all.XXXXXX")
trap 'rm -rf "$LOG"' EXIT
status=0

run() { # NAME COMMAND...
	local name=$1
	shift
	echo "################ $name"
	if ! "$@" 2>&1 | tee "$LOG/$name"; then
		echo "!! $name failed"
		status=1
	fi
	echo
}

run index "$JG_BUILD_DIR/bench_index"
run check_http "$SRC/bench/check_http.sh"
run cycle "$SRC/bench/cycle.sh"

echo "################ summary ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ))"
grep -h -E '^target|^ratio' "$LOG/index" || true
sed -n '/== \/v1\/check summary/,$p' "$LOG/check_http" | tail -n +2 || true
sed -n '/== request+approve summary/,$p' "$LOG/cycle" | tail -n +2 || true
exit $status
