# Shared by bench/check_http.sh and bench/cycle.sh (sourced, not run).
# Everything a benchmark starts lives in $BENCH_DIR (a temp dir) and is
# stopped by bench_cleanup, which the scripts install as an EXIT trap.

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_BUILD=${JG_BUILD_DIR:-$BENCH_SRC/build-bench}
BENCH_PIDS=()

bench_die() {
	echo "bench: $*" >&2
	exit 1
}

bench_setup() {
	[ -x "$BENCH_BUILD/jitgate" ] ||
		bench_die "no $BENCH_BUILD/jitgate; build it first (see docs/benchmarks.md)"
	BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/jg-bench.XXXXXX")
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	local pid
	for pid in "${BENCH_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${BENCH_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	BENCH_PIDS=()
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "bench: kept $BENCH_DIR"
	elif [ -n "${BENCH_DIR:-}" ]; then
		rm -rf "$BENCH_DIR"
	fi
}

# A TCP port nobody listens on right now.
bench_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bench_sha256() {
	printf %s "$1" | sha256sum | cut -d' ' -f1
}

# A fresh random bearer token.
bench_token() {
	echo "bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
}

# bench_start_jitgate CONFIG PORT: starts the daemon, waits for /readyz.
# JG_WRAP: a command to run it under (e.g. valgrind --tool=callgrind ...).
bench_start_jitgate() {
	local cfg=$1 port=$2 i
	# shellcheck disable=SC2086 # JG_WRAP is a command line
	${JG_WRAP:-} "$BENCH_BUILD/jitgate" serve -c "$cfg" >"$BENCH_DIR/jitgate.log" 2>&1 &
	BENCH_PIDS+=($!)
	JITGATE_PID=$!
	for i in $(seq 1 $([ -n "${JG_WRAP:-}" ] && echo 2400 || echo 200)); do
		if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then
			return 0
		fi
		kill -0 "$JITGATE_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$BENCH_DIR/jitgate.log" >&2
	bench_die "jitgate did not become ready"
}

# Prints "host: ... cores ... load ..." so every figure carries its context.
bench_machine() {
	echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
