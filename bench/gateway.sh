#!/bin/sh
# PostgreSQL gateway benchmarks (design section 8), all in one run on this
# machine against a throwaway cluster:
#   1. pgbench -S -T $T at 1 and 16 clients: direct, PgBouncer (session
#      mode), jitgate; then the same with -C (connect per transaction).
#   2. revocation: N live sessions on one grant, revoke, time until each
#      client's socket has the FATAL (p50/p99).
#   3. expiry: M grants ending at the same instant, one live session each:
#      how late after expires_at each client sees the FATAL.
# Usage: bench/gateway.sh [BUILD_DIR]   env: T (20), REVOKE_N (100),
#        EXPIRE_N (1000), SKIP_THROUGHPUT=1, SKIP_CUTS=1
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-${JG_BUILD_DIR:-$SRC/build}}
T=${T:-20}
REVOKE_N=${REVOKE_N:-100}
EXPIRE_N=${EXPIRE_N:-1000}
PGPORT=${PGPORT:-27432}
PBPORT=$((PGPORT + 1))
GWPORT=$((PGPORT + 2))
WORK=$(mktemp -d /tmp/jg-gwbench-XXXXXX)
chmod 755 "$WORK"
export JG_BENCH_TOKEN=bench-token JG_BENCH_READ_PW=read-pw
# same footing for all three: no TLS (the gateway bench runs without a cert)
export PGSSLMODE=disable
GWPID= PBPID=
# the expiry run holds 3 descriptors per session in one process
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cleanup() {
	[ -n "$GWPID" ] && kill "$GWPID" 2>/dev/null || true
	[ -n "$PBPID" ] && kill "$PBPID" 2>/dev/null || true
	python3 "$SRC/tests/e2e/pgcluster.py" stop "$WORK/pg" || true
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "== building the bench helper against $BUILD"
cc -std=gnu17 -O2 -D_GNU_SOURCE -I"$SRC/src" -I/usr/include/postgresql \
	"$SRC/bench/gw_bench.c" "$BUILD/libjitgate_lib.a" -o "$WORK/gw_bench" \
	$(pkg-config --libs libevent libevent_pthreads libevent_openssl \
	  jansson openssl libpq libmicrohttpd yaml-0.1 libcurl sqlite3) \
	-lpthread -lm

echo "== starting PostgreSQL on 127.0.0.1:$PGPORT"
python3 "$SRC/tests/e2e/pgcluster.py" start "$WORK/pg" "$PGPORT" \
	$((EXPIRE_N + REVOKE_N + 50))
runuser -u postgres -- pgbench -q -i -s 10 -h "$WORK/pg" -p "$PGPORT" \
	-U postgres orders >/dev/null 2>&1
runuser -u postgres -- psql -X -q -h "$WORK/pg" -p "$PGPORT" -U postgres \
	-d orders -c "GRANT SELECT ON ALL TABLES IN SCHEMA public TO jit_read"

run_pgbench() { # label clients extra-flags conninfo-args...
	label=$1 c=$2 flags=$3
	shift 3
	tps=$(pgbench -n -S -T "$T" -c "$c" -j "$c" $flags "$@" 2>/dev/null |
		sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
	echo "${tps:-0}"
}

if [ "${SKIP_THROUGHPUT:-0}" != 1 ]; then
	echo "== starting PgBouncer (session mode) on 127.0.0.1:$PBPORT"
	cat >"$WORK/pgbouncer.ini" <<EOC
[databases]
orders = host=127.0.0.1 port=$PGPORT dbname=orders
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PBPORT
unix_socket_dir =
auth_type = plain
auth_file = $WORK/userlist.txt
pool_mode = session
max_client_conn = 200
default_pool_size = 40
logfile = $WORK/pgb/pgbouncer.log
pidfile = $WORK/pgb/pgbouncer.pid
EOC
	echo '"jit_read" "read-pw"' >"$WORK/userlist.txt"
	mkdir -p "$WORK/pgb"
	chown postgres "$WORK/pgbouncer.ini" "$WORK/userlist.txt" "$WORK/pgb"
	runuser -u postgres -- pgbouncer -q "$WORK/pgbouncer.ini" &
	PBPID=$!
	echo "== starting the jitgate gateway on 127.0.0.1:$GWPORT"
	"$WORK/gw_bench" serve "$PGPORT" "$GWPORT" >"$WORK/gw.out" &
	GWPID=$!
	sleep 1
	export PGPASSWORD
	printf '\n%-6s %-9s %10s %10s %10s %8s %8s\n' mode clients direct \
		pgbouncer jitgate pgb/dir jg/dir
	for flags in "" "-C"; do
		for c in 1 16; do
			PGPASSWORD=read-pw
			d=$(run_pgbench direct "$c" "$flags" -h 127.0.0.1 \
				-p "$PGPORT" -U jit_read orders)
			b=$(run_pgbench pgbouncer "$c" "$flags" -h 127.0.0.1 \
				-p "$PBPORT" -U jit_read orders)
			PGPASSWORD=bench-token
			g=$(run_pgbench jitgate "$c" "$flags" -h 127.0.0.1 \
				-p "$GWPORT" -U bench bench-db@read)
			printf '%-6s %-9s %10.0f %10.0f %10.0f %8.3f %8.3f\n' \
				"${flags:--S}" "$c" "$d" "$b" "$g" \
				"$(echo "$b / $d" | bc -l)" \
				"$(echo "$g / $d" | bc -l)"
		done
	done
	kill "$GWPID" "$PBPID" 2>/dev/null || true
	wait "$GWPID" 2>/dev/null || true
	GWPID= PBPID=
fi

if [ "${SKIP_CUTS:-0}" != 1 ]; then
	echo
	echo "== revocation: $REVOKE_N live sessions, one revoke"
	"$WORK/gw_bench" revoke "$PGPORT" "$GWPORT" "$REVOKE_N"
	echo "== expiry: $EXPIRE_N grants ending at the same instant"
	"$WORK/gw_bench" expire "$PGPORT" "$GWPORT" "$EXPIRE_N" 2>"${EXPIRE_LOG:-/dev/stderr}"
fi
