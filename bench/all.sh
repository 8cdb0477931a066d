#!/usr/bin/env bash
# Every benchmark behind the table of docs/benchmarks.md, one after the
# other, on the real daemon, and the table's rows written from their
# output (bench/table.py reads the RESULT lines each bench prints).
#
#   bench/all.sh [RESULTS.md]     default bench-results-<UTC time>.md here
#
# env: QUICK=1      a few minutes with tiny sizes: checks that every bench
#                   runs and prints its RESULT lines (figures meaningless)
#      JG_BUILD_DIR use this build (Release recommended) instead of
#                   building build-bench (Release, -g) first
#      ONLY="index gateway ..."   run only these steps (names below)
#
# Steps (full mode: 19 min 55 s at load 7-30 on the 2-core VM, 2026-11-29;
# less on a quiet machine; plus the build):
#   index       build-bench/bench_index               grant lookup 1k vs 1M
#   check_http  bench/check_http.sh                   /v1/check vs nginx
#   cycle       bench/cycle.sh                        request+approve, SQLite
#   gateway     bench/gateway.sh (PROFILE=1)          pgbench -S/-C plain+TLS vs
#               PgBouncer and direct, audit cost, system calls and
#               instructions per transaction vs PgBouncer, harness cuts
#   gateway_tls bench/gateway.sh (PROFILE=only, TLS)  the same profile over TLS
#   hold        bench/gateway_hold.sh 10000           10,000 sessions, revoke
#               with them open, the disk's fdatasync; 2,000 on PostgreSQL
#   expire      bench/gateway_expire.sh 1000          expiry lateness
#   jwt         bench/jwt.sh                          RS256/PS256 vs openssl speed
#   idp_hang    bench/idp_hang.py                     unknown kids, IdP hanging
#   ha          bench/ha.py                           two nodes on PostgreSQL
#   ui_live     bench/ui_live.sh                      approval -> page active
# (bench/run_all.sh runs index, check_http and cycle with their defaults.)
#
# Before and after each step the 1-minute load average is recorded; it is
# printed in every row.  Run it on a quiet machine: a row whose load is
# above the number of cores measured the scheduler as much as the code.
# The exit status is 0 unless a bench failed to run (its rows then say so);
# missing a target never fails it.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
STAMP=$(date -u +%Y%m%dT%H%MZ)
OUT=${1:-$SRC/bench-results-$STAMP.md}
RAW=${OUT%.md}.log
QUICK=${QUICK:-0}
# every step's output goes to the terminal and is appended to RAW: with
# the terminal redirected to RAW as well, each line would be there twice,
# the copies interleaved
if [ -e "$RAW" ] && { [ "$RAW" -ef /dev/stdout ] || [ "$RAW" -ef /dev/stderr ]; }; then
	echo "bench/all.sh: $RAW is this script's own log; redirect its output elsewhere" >&2
	exit 2
fi
q() { # full-value quick-value
	if [ "$QUICK" = 1 ]; then echo "$2"; else echo "$1"; fi
}

if [ -z "${JG_BUILD_DIR:-}" ]; then
	JG_BUILD_DIR=$SRC/build-bench
	echo "== building $JG_BUILD_DIR (Release, -g)"
	cmake -S "$SRC" -B "$JG_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_C_FLAGS=-g >/dev/null || exit 1
	cmake --build "$JG_BUILD_DIR" -j"$(nproc)" --target jitgate jitgate_lib \
		bench_index bench_cycle_load >/dev/null || exit 1
fi
B=$(cd "$JG_BUILD_DIR" && pwd)
export JG_BUILD_DIR=$B

load1() { cut -d' ' -f1 /proc/loadavg; }
{
	echo "#### MACHINE cores=$(nproc) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\" mem_gib=$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo) kernel=$(uname -r) disk=\"$(df -T /tmp | awk 'NR == 2 { print $1 " " $2 }')\" commit=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown) build=$B quick=$QUICK started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$RAW"
status=0

# step NAME "COMMAND AS SHOWN" COMMAND...: runs it, its output to the log
# and the terminal, with the load before and after
step() {
	local name=$1 shown=$2 before t0 rc
	shift 2
	if [ -n "${ONLY:-}" ] && ! [[ " $ONLY " == *" $name "* ]]; then
		return 0
	fi
	before=$(load1)
	t0=$(date +%s)
	echo "#### BEGIN $name" >>"$RAW"
	echo "== [$(date -u +%H:%M:%S)] $name: $shown (load $before)"
	"$@" 2>&1 | tee -a "$RAW"
	rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] || status=1
	printf '#### END %s rc=%s load_before=%s load_after=%s seconds=%s cmd=%s\n' \
		"$name" "$rc" "$before" "$(load1)" $(($(date +%s) - t0)) "$shown" >>"$RAW"
	echo "== $name: exit $rc, $(($(date +%s) - t0)) s, load $before -> $(load1)"
}

# the commands as printed in the table: relative to the source tree
R=${B#"$SRC"/}
env_cmd() { # VAR=VALUE... COMMAND...: runs it with those variables
	env "$@"
}

cd "$SRC" || exit 1
N_LOOK=$(q 1000000 200000)
step index "$R/bench_index $N_LOOK" "$B/bench_index" "$N_LOOK"

S=$(q 10 2) ROUNDS=$(q 3 1) GRANTS=$(q 1000 100)
step check_http "JG_BUILD_DIR=$R JG_BENCH_SECONDS=$S JG_BENCH_ROUNDS=$ROUNDS JG_BENCH_GRANTS=$GRANTS bench/check_http.sh" \
	env_cmd JG_BENCH_SECONDS="$S" JG_BENCH_ROUNDS="$ROUNDS" JG_BENCH_GRANTS="$GRANTS" bench/check_http.sh

step cycle "JG_BUILD_DIR=$R JG_BENCH_SECONDS=$S bench/cycle.sh" \
	env_cmd JG_BENCH_SECONDS="$S" bench/cycle.sh

T=$(q 10 2) PT=$(q 2000 300) RN=$(q 100 20) EN=$(q 1000 100)
step gateway "PROFILE=1 PROFILE_T=$PT T=$T REVOKE_N=$RN EXPIRE_N=$EN bench/gateway.sh $R" \
	env_cmd PROFILE=1 PROFILE_T="$PT" T="$T" REVOKE_N="$RN" EXPIRE_N="$EN" bench/gateway.sh "$B"

step gateway_tls "PROFILE=only PROFILE_SSLMODE=require PROFILE_T=$PT bench/gateway.sh $R" \
	env_cmd PROFILE=only PROFILE_SSLMODE=require PROFILE_T="$PT" bench/gateway.sh "$B"

HN=$(q 10000 500) RNH=$(q 2000 50) CUTS=$(q 100 10)
step hold "JG_BUILD_DIR=$R REAL_N=$RNH CUTS=$CUTS bench/gateway_hold.sh $HN" \
	env_cmd REAL_N="$RNH" CUTS="$CUTS" bench/gateway_hold.sh "$HN"

XN=$(q 1000 100) DUR=$(q 15s 15s)
step expire "JG_BUILD_DIR=$R DURATION=$DUR bench/gateway_expire.sh $XN" \
	env_cmd DURATION="$DUR" bench/gateway_expire.sh "$XN"

JS=$(q 2 1) JR=$(q 3 1)
step jwt "bench/jwt.sh $R $JS $JR" bench/jwt.sh "$B" "$JS" "$JR"

IN=$(q 20 5)
step idp_hang "N=$IN python3 bench/idp_hang.py $R/jitgate" \
	env_cmd N="$IN" python3 bench/idp_hang.py "$B/jitgate"

HS=$(q 10 2) HSESS=$(q 100 10)
step ha "SECONDS=$HS SESSIONS=$HSESS python3 bench/ha.py $R" \
	env_cmd SECONDS="$HS" SESSIONS="$HSESS" python3 bench/ha.py "$B"

UR=$(q 50 5) UC=$(q 1000 50)
step ui_live "JG_BUILD_DIR=$R bench/ui_live.sh $UR $UC" bench/ui_live.sh "$UR" "$UC"

echo "#### FINISHED $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$RAW"
python3 "$SRC/bench/table.py" "$RAW" >"$OUT" || status=1
echo
cat "$OUT"
echo
echo "rows: $OUT   full output: $RAW"
exit $status
