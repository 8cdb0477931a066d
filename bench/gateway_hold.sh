#!/usr/bin/env bash
# Many concurrent gateway sessions held by one real daemon (design §14):
# daemon memory per session (RSS growth / sessions) and, with them all
# open, the time from a revoke to the FATAL on the one session it cuts.
#
#   bench/gateway_hold.sh [N]     (default 10000, 0 to skip; env JG_BUILD_DIR,
#                                  CUTS revokes to time, default 100;
#                                  REAL_N sessions against real PostgreSQL,
#                                  default 2000, 0 to skip;
#                                  GW_TLS=1: the N sessions over TLS;
#                                  FSYNC_N fdatasync probes of the disk
#                                  after the revokes, default 500)
#
# Upstream for the N sessions: bench/gw_hold.c's PostgreSQL-protocol
# responder (one epoll thread, trust login), since this machine cannot run
# 10,000 PostgreSQL backends.  Then REAL_N sessions against a throwaway
# PostgreSQL with max_connections = REAL_N + 50.
set -euo pipefail
. "$(dirname "$0")/common.sh"
N=${1:-10000}
CUTS=${CUTS:-100}
REAL_N=${REAL_N:-2000}
bench_setup
# 2 descriptors per session in the daemon, 1 in the client and responder
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((2 * N + 200)) ]; then
	# e.g. a container whose hard limit cannot be raised (this one: 20000)
	N=$((($(ulimit -n) - 200) / 2))
	echo "RLIMIT_NOFILE is $(ulimit -n) and cannot be raised here: the daemon holds 2 descriptors per session, so N = $N"
fi

cc -std=gnu17 -O2 -Wall -Werror "$BENCH_SRC/bench/gw_hold.c" -o "$BENCH_DIR/gw_hold" -lssl -lcrypto

HTTP=$(bench_free_port)
GW=$(bench_free_port)
RESP=$(bench_free_port)
PG=$(bench_free_port)
TLSARGS=()
if [ -n "${GW_TLS:-}" ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$BENCH_DIR/tls.key" \
		-out "$BENCH_DIR/tls.crt" -subj /CN=localhost -days 1 2>/dev/null
	TLSARGS=("$BENCH_DIR/tls.crt" "$BENCH_DIR/tls.key")
	export GW_TLS
fi
python3 "$BENCH_SRC/bench/gwconf.py" config "$BENCH_DIR" "$HTTP" "$GW" "$PG" "$RESP" "$CUTS" "${TLSARGS[@]}"
tok() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
	"$BENCH_DIR/tokens.json" "$1"; }
export JG_BENCH_TOKEN JG_BENCH_ADMIN JG_BENCH_READ_PW=read-pw
JG_BENCH_TOKEN=$(tok bench)
JG_BENCH_ADMIN=$(tok admin)

"$BENCH_DIR/gw_hold" respond "$RESP" &
BENCH_PIDS+=($!)
bench_start_jitgate "$BENCH_DIR/jitgate.yaml" "$HTTP"
python3 "$BENCH_SRC/bench/gwconf.py" grant "$BENCH_DIR" "$HTTP" bench resp-db read >/dev/null
# one grant per timed revoke, as cut-I: "SUBJECT TOKEN REQUEST_ID" lines
cut_grants() { # COUNT
	python3 "$BENCH_SRC/bench/gwconf.py" grants "$BENCH_DIR" "$HTTP" "$1" resp-db read 2h |
		awk 'NF { print $1, $2, $3 }' >"$BENCH_DIR/cuts"
	[ "$(wc -l <"$BENCH_DIR/cuts")" -eq "$1" ] || bench_die "could not make $1 grants to revoke"
}
[ "$N" -eq 0 ] || cut_grants "$CUTS"

if [ "$N" -gt 0 ]; then
	echo "== $N sessions through jitgate serve to the bench responder"
	bench_machine
	"$BENCH_DIR/gw_hold" hold "$GW" "$HTTP" "$JITGATE_PID" "$N" "$BENCH_DIR/cuts"
	bench_machine
	# the baseline of the revoke's durable write, same disk, same minute
	"$BENCH_DIR/gw_hold" fsync "$BENCH_DIR" "${FSYNC_N:-500}"
fi

[ "$REAL_N" -gt 0 ] || exit 0
echo
echo "== $REAL_N sessions through jitgate serve to real PostgreSQL"
chmod 755 "$BENCH_DIR" # initdb runs as postgres
python3 "$BENCH_SRC/tests/e2e/pgcluster.py" start "$BENCH_DIR/pg" "$PG" $((REAL_N + 50)) >/dev/null
trap 'python3 "$BENCH_SRC/tests/e2e/pgcluster.py" stop "$BENCH_DIR/pg" >/dev/null 2>&1 || true; bench_cleanup' EXIT
# the real PostgreSQL resource instead of the responder: same client, the
# resource name is the only difference
sed -i "s/^  - name: resp-db$/  - name: resp-db-unused/; s/^  - name: bench-db$/  - name: resp-db/; s/resources: \[bench-db, bench-db-audit, resp-db\]/resources: [resp-db, bench-db-audit, resp-db-unused]/" \
	"$BENCH_DIR/jitgate.yaml"
kill -TERM "$JITGATE_PID"
wait "$JITGATE_PID" 2>/dev/null || true
rm -f "$BENCH_DIR/jitgate.db"*
bench_start_jitgate "$BENCH_DIR/jitgate.yaml" "$HTTP"
python3 "$BENCH_SRC/bench/gwconf.py" grant "$BENCH_DIR" "$HTTP" bench resp-db read >/dev/null
cut_grants $((CUTS < 20 ? CUTS : 20))
bench_machine
"$BENCH_DIR/gw_hold" hold "$GW" "$HTTP" "$JITGATE_PID" "$REAL_N" "$BENCH_DIR/cuts"
bench_machine
