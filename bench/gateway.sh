#!/bin/sh
# PostgreSQL gateway benchmarks (design section 8), all in one run on this
# machine against a throwaway cluster:
#   1. pgbench -S -T $T at 1, 16 and 64 clients, plain and TLS: direct,
#      PgBouncer (session mode), `jitgate serve` (the real daemon, config
#      from bench/gwconf.py); -C (connect per transaction) at 1 and 16;
#      then audit_queries on vs off: the cost per statement.
#   (2 and 3 drive the gateway module in the bench/gw_bench.c harness;
#   revocation on the real daemon with 10,000 sessions open:
#   bench/gateway_hold.sh)
#   2. revocation: N live sessions on one grant, revoke, time until each
#      client's socket has the FATAL (p50/p99).
#   3. expiry: M grants ending at the same instant, one live session each:
#      how late after expires_at each client sees the FATAL.
# Usage: bench/gateway.sh [BUILD_DIR]   env: T (20), REVOKE_N (100),
#        EXPIRE_N (1000), CLIENTS ("1 16 64"), MODES ("disable require"),
#        SKIP_THROUGHPUT=1, SKIP_CUTS=1, SKIP_EXTRA=1 (no -C, no audit
#        cost), JG_BIN (the daemon to run), PROFILE=1 (syscalls and callgrind
#        instructions per transaction first; PROFILE_T transactions, 2000),
#        PROFILE=only (just those, nothing else), PROFILE_SSLMODE=require
#        (the profiled clients over TLS), PROFILE_CALLGRIND=0 (system
#        calls only), STRACE_KEEP=DIR (keep the straces there), CPU=0
#        (no CPU per transaction: by default every pgbench run goes
#        through bench/cpu_per_tx.py, which prints the CPU per transaction
#        of the proxy, PostgreSQL and pgbench to stderr)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-${JG_BUILD_DIR:-$SRC/build}}
T=${T:-10}
REVOKE_N=${REVOKE_N:-100}
EXPIRE_N=${EXPIRE_N:-1000}
PGPORT=${PGPORT:-27432}
PBPORT=$((PGPORT + 1))
GWPORT=$((PGPORT + 2))
WORK=$(mktemp -d /tmp/jg-gwbench-XXXXXX)
chmod 755 "$WORK"
export JG_BENCH_TOKEN=bench-token JG_BENCH_READ_PW=read-pw
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
	$((EXPIRE_N + REVOKE_N + 250))
runuser -u postgres -- pgbench -q -i -s 10 -h "$WORK/pg" -p "$PGPORT" \
	-U postgres orders >/dev/null 2>&1
runuser -u postgres -- psql -X -q -h "$WORK/pg" -p "$PGPORT" -U postgres \
	-d orders -c "GRANT SELECT ON ALL TABLES IN SCHEMA public TO jit_read"

run_pgbench() { # label clients extra-flags conninfo-args...
	label=$1 c=$2 flags=$3
	shift 3
	if [ "${CPU:-1}" = 1 ] && [ -n "${CPU_PROXY:-}" ]; then
		# CPU per transaction of the proxy, PostgreSQL and pgbench
		# (bench/cpu_per_tx.py), to stderr: stdout is the tps
		out=$(CPU_VERBOSE=1 python3 "$SRC/bench/cpu_per_tx.py" \
			"$label:${PGSSLMODE}:$c$flags" "$CPU_PROXY" \
			"$(head -1 "$WORK/pg/data/postmaster.pid")" -- \
			pgbench -n -S -T "$T" -c "$c" -j $((c < 8 ? c : 8)) $flags "$@" 2>/dev/null)
		echo "$out" | grep -E '^(CPU|RESULT)' >&2
		tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
	else
		tps=$(pgbench -n -S -T "$T" -c "$c" -j $((c < 8 ? c : 8)) $flags "$@" 2>/dev/null |
			sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
	fi
	echo "${tps:-0}"
}

if [ "${SKIP_THROUGHPUT:-0}" != 1 ]; then
	# ---- the real daemon: jitgate serve with a generated config ----
	JG=${JG_BIN:-$BUILD/jitgate}
	HTTP=$((PGPORT + 3))
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/tls.key" \
		-out "$WORK/tls.crt" -subj /CN=localhost -days 1 2>/dev/null
	chown postgres "$WORK/tls.key" "$WORK/tls.crt"
	python3 "$SRC/bench/gwconf.py" config "$WORK" "$HTTP" "$GWPORT" \
		"$PGPORT" 1 0 "$WORK/tls.crt" "$WORK/tls.key"
	ulimit -n 16384 2>/dev/null || true
	start_jitgate() { # [wrapper...]: a fresh store, the two grants
		rm -f "$WORK/jitgate.db"*
		"$@" "$JG" serve -c "$WORK/jitgate.yaml" >"$WORK/jitgate.log" 2>&1 &
		GWPID=$!
		for _ in $(seq 1 1200); do
			curl -fsS -o /dev/null "http://127.0.0.1:$HTTP/readyz" 2>/dev/null && break
			sleep 0.05
		done
		curl -fsS -o /dev/null "http://127.0.0.1:$HTTP/readyz" ||
			{ cat "$WORK/jitgate.log"; echo "jitgate did not start" >&2; exit 1; }
		python3 "$SRC/bench/gwconf.py" grant "$WORK" "$HTTP" bench bench-db read >/dev/null
		python3 "$SRC/bench/gwconf.py" grant "$WORK" "$HTTP" bench bench-db-audit read >/dev/null
	}
	stop_jitgate() {
		kill "$GWPID" 2>/dev/null || true
		wait "$GWPID" 2>/dev/null || true
		GWPID=
	}
	start_jitgate
	JG_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bench"])' "$WORK/tokens.json")

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
max_client_conn = 400
default_pool_size = 80
client_tls_sslmode = allow
client_tls_key_file = $WORK/tls.key
client_tls_cert_file = $WORK/tls.crt
server_tls_sslmode = disable
logfile = $WORK/pgb/pgbouncer.log
pidfile = $WORK/pgb/pgbouncer.pid
EOC
	echo '"jit_read" "read-pw"' >"$WORK/userlist.txt"
	mkdir -p "$WORK/pgb"
	chown postgres "$WORK/pgbouncer.ini" "$WORK/userlist.txt" "$WORK/pgb"
	runuser -u postgres -- pgbouncer -q "$WORK/pgbouncer.ini" &
	PBPID=$!
	sleep 1
	# load-independent figures for one client, pgbench -S -t $PROFILE_T:
	# system calls per transaction (strace -c) of the gateway and of
	# PgBouncer, and the daemon's instructions per relayed transaction
	# (callgrind, counters zeroed after a warm-up).  System calls are
	# counted over a run of n and one of 2n transactions, each with its
	# login: the difference over n is the cost of a relayed transaction
	# alone, the rest the cost of a login.
	strace_run() { # who pid t pgbench-args...: prints the system calls
		# of the whole process and of its busiest thread (the relaying
		# one: the daemon's other threads, API, engine, audit, make
		# system calls of their own as time passes)
		local who=$1 pid=$2 t=$3 spid
		shift 3
		mkdir -p "$WORK/st.$who.$t"
		strace -ff -qq -p "$pid" -o "$WORK/st.$who.$t/t" 2>/dev/null &
		spid=$!
		sleep 1
		pgbench -n -S -t "$t" -c 1 "$@" >/dev/null 2>&1
		kill -INT "$spid"
		wait "$spid" 2>/dev/null || true
		[ -n "${STRACE_KEEP:-}" ] && cp -r "$WORK/st.$who.$t" "$STRACE_KEEP/"
		echo "$(cat "$WORK/st.$who.$t"/t.* | wc -l) $(wc -l "$WORK/st.$who.$t"/t.* | grep -v ' total$' | sort -n | tail -1 | awk '{ print $1 }')"
		# the calls by name, whole process
		cat "$WORK/st.$who.$t"/t.* | sed -n 's/^\([a-z_0-9]*\)(.*/\1/p' | sort | uniq -c | sort -rn >"$WORK/strace.$who.$t"
	}
	profile() {
		local n=${PROFILE_T:-2000} pbpid tot loop c1 c2
		export PGPASSWORD
		export PGSSLMODE=${PROFILE_SSLMODE:-disable}
		pbpid=$(pgrep -P "$PBPID" || echo "$PBPID")
		for who in jitgate pgbouncer; do
			if [ $who = jitgate ]; then
				pid=$GWPID
				set -- -h 127.0.0.1 -p "$GWPORT" -U bench bench-db@read
				PGPASSWORD=$JG_TOKEN
			else
				pid=$pbpid
				set -- -h 127.0.0.1 -p "$PBPORT" -U jit_read orders
				PGPASSWORD=read-pw
			fi
			sleep 1
			pgbench -n -S -t 100 -c 1 "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" "$WORK/jitgate.log" >&2; exit 1; }
			set -- $(strace_run $who "$pid" "$n" "$@") $(strace_run $who "$pid" $((2 * n)) "$@") "$@"
			c1=$1 b1=$2 c2=$3 b2=$4
			shift 4
			echo "syscalls per transaction, $who: $(echo "scale=2; ($c2 - $c1) / $n" | bc) whole process, $(echo "scale=2; ($b2 - $b1) / $n" | bc) its busiest thread (marginal: $((2 * n)) vs $n transactions); per login+logout: $((c1 - (c2 - c1))); all over $n: $(echo "scale=2; $c1 / $n" | bc)"
			awk -v n="$n" '{ printf "    %-16s %.2f\n", $2, $1 / n }' "$WORK/strace.$who.$n" | head -8
			echo "RESULT gw_syscalls who=$who ssl=$PGSSLMODE per_tx=$(echo "scale=2; ($c2 - $c1) / $n" | bc) thread_per_tx=$(echo "scale=2; ($b2 - $b1) / $n" | bc) n=$n"
		done
		[ "${PROFILE_CALLGRIND:-1}" = 0 ] && return
		stop_jitgate
		start_jitgate valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out"
		PGPASSWORD=$JG_TOKEN
		set -- -h 127.0.0.1 -p "$GWPORT" -U bench bench-db@read
		pgbench -n -S -t 200 -c 1 "$@" >/dev/null 2>&1
		# dump 1: n transactions, dump 2: 2n, each with its login
		for t in "$n" $((2 * n)); do
			callgrind_control -z "$GWPID" >/dev/null
			pgbench -n -S -t "$t" -c 1 "$@" >/dev/null 2>&1
			callgrind_control -d "$GWPID" >/dev/null
		done
		gw_main_ir() {
			callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
				awk '/:gw_main / { gsub(",", "", $1); print $1; exit }'
		}
		tot=$(grep -hE '^(summary|totals):' "$WORK/cg.out.1" | tail -1 | awk '{ print $2 }')
		loop1=$(gw_main_ir "$WORK/cg.out.1")
		loop2=$(gw_main_ir "$WORK/cg.out.2")
		echo "daemon instructions per transaction (callgrind), all threads, over $n: $((${tot:-0} / n)) (with the one login's SCRAM key derivation)"
		echo "  the gateway loop (gw_main) per relayed transaction: $(((${loop2:-0} - ${loop1:-0}) / n)) (marginal: $((2 * n)) vs $n); per login: $((${loop1:-0} - (${loop2:-0} - ${loop1:-0})))"
		echo "RESULT gw_instr who=jitgate ssl=$PGSSLMODE per_tx=$(((${loop2:-0} - ${loop1:-0}) / n)) n=$n"
		# the same for PgBouncer (one thread: the whole process): a run of
		# it under callgrind from start to exit for n and one for 2n
		# transactions (callgrind_control cannot reach a run of another
		# user's that sleeps in epoll_wait); the difference over n is a
		# relayed transaction, start, login and exit cancel out
		if [ "${PROFILE_PGB_CALLGRIND:-1}" = 1 ]; then
			kill "$PBPID" 2>/dev/null || true
			wait "$PBPID" 2>/dev/null || true
			PGPASSWORD=read-pw
			pgb_instr() { # transactions -> PgBouncer's instructions
				rm -f "$WORK/pgb/cg.out"
				runuser -u postgres -- valgrind --tool=callgrind \
					--callgrind-out-file="$WORK/pgb/cg.out" \
					pgbouncer -q "$WORK/pgbouncer.ini" >/dev/null 2>&1 &
				PBPID=$!
				for _ in $(seq 1 300); do
					pgbench -n -S -t 1 -c 1 -h 127.0.0.1 -p "$PBPORT" -U jit_read orders >/dev/null 2>&1 && break
					sleep 0.1
				done
				pgbench -n -S -t "$1" -c 1 -h 127.0.0.1 -p "$PBPORT" -U jit_read orders >/dev/null 2>&1
				kill -INT "$(pgrep -P "$PBPID" || echo "$PBPID")" 2>/dev/null
				wait "$PBPID" 2>/dev/null
				grep -hE '^(summary|totals):' "$WORK/pgb/cg.out" | tail -1 | awk '{ print $2 }'
			}
			p1=$(pgb_instr "$n")
			p2=$(pgb_instr $((2 * n)))
			echo "PgBouncer instructions per relayed transaction (callgrind, whole process, marginal): $(((${p2:-0} - ${p1:-0}) / n))"
			echo "RESULT gw_instr who=pgbouncer ssl=$PGSSLMODE per_tx=$(((${p2:-0} - ${p1:-0}) / n)) n=$n"
			runuser -u postgres -- pgbouncer -q "$WORK/pgbouncer.ini" &
			PBPID=$!
			sleep 1
		fi
		for f in "$WORK"/cg.out.*; do
			cp "$f" "${PROFILE_OUT:-/tmp}/gw-$(date +%H%M%S)-${f##*/}" 2>/dev/null || true
		done
		stop_jitgate
		start_jitgate
	}
	if [ "${PROFILE:-0}" = 1 ] || [ "${PROFILE:-0}" = only ]; then
		profile
	fi
	[ "${PROFILE:-0}" = only ] && exit 0
	machine() { echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M:%SZ)"; }
	# one pgbench per target per client count, back to back, so that load
	# from elsewhere hits all three about equally; TLS: the client side
	# only (sslmode=require to PostgreSQL, PgBouncer and the gateway; the
	# hop behind the proxies is plain for both)
	row() { # label clients flags
		label=$1 c=$2 flags=$3
		PGPASSWORD=read-pw
		d=$(CPU_PROXY=0 run_pgbench direct "$c" "$flags" -h 127.0.0.1 -p "$PGPORT" -U jit_read orders)
		b=$(CPU_PROXY=$(pgrep -P "$PBPID" || echo "$PBPID") run_pgbench pgbouncer "$c" "$flags" -h 127.0.0.1 -p "$PBPORT" -U jit_read orders)
		PGPASSWORD=$JG_TOKEN
		g=$(CPU_PROXY=$GWPID run_pgbench jitgate "$c" "$flags" -h 127.0.0.1 -p "$GWPORT" -U bench bench-db@read)
		printf '%-10s %-4s %9.0f %9.0f %9.0f %7.3f %7.3f %7.3f  %s\n' \
			"$label" "$c" "$d" "$b" "$g" "$(echo "$b / $d" | bc -l)" \
			"$(echo "$g / $d" | bc -l)" "$(echo "$g / $b" | bc -l)" \
			"$(cut -d' ' -f1 /proc/loadavg)"
		# machine-readable (bench/all.sh)
		echo "RESULT gw_pgbench kind=$([ "$flags" = -C ] && echo C || echo S) ssl=$PGSSLMODE clients=$c direct=$d pgbouncer=$b jitgate=$g T=$T load=$(cut -d' ' -f1 /proc/loadavg)"
	}
	export PGPASSWORD
	machine
	printf '\n%-10s %-4s %9s %9s %9s %7s %7s %7s  %s\n' mode cli direct \
		pgbouncer jitgate pgb/dir jg/dir jg/pgb load1
	for mode in ${MODES:-disable require}; do
		export PGSSLMODE=$mode
		label=$([ $mode = disable ] && echo "-S plain" || echo "-S TLS")
		for c in ${CLIENTS:-1 16 64}; do
			row "$label" "$c" ""
		done
	done
	export PGSSLMODE=disable
	for c in $([ "${SKIP_EXTRA:-0}" = 1 ] || echo 1 16); do
		row "-C plain" "$c" "-C"
	done
	machine
	[ "${SKIP_EXTRA:-0}" = 1 ] || echo
	[ "${SKIP_EXTRA:-0}" = 1 ] || echo "== audit_queries: true (bench-db-audit) against the same resource without"
	PGPASSWORD=$JG_TOKEN
	for c in $([ "${SKIP_EXTRA:-0}" = 1 ] || echo 1 16); do
		g0=$(run_pgbench jitgate "$c" "" -h 127.0.0.1 -p "$GWPORT" -U bench bench-db@read)
		g1=$(run_pgbench jitgate "$c" "" -h 127.0.0.1 -p "$GWPORT" -U bench bench-db-audit@read)
		# cost per statement: extra latency per transaction (one SELECT)
		# at c clients = c/tps_audit - c/tps_plain
		printf 'clients %-3s plain %9.0f tps  audit %9.0f tps  ratio %.3f  cost %.1f us/statement  load %s\n' \
			"$c" "$g0" "$g1" "$(echo "$g1 / $g0" | bc -l)" \
			"$(echo "($c / $g1 - $c / $g0) * 1000000" | bc -l)" \
			"$(cut -d' ' -f1 /proc/loadavg)"
		echo "RESULT gw_audit clients=$c plain=$g0 audit=$g1 cost_us=$(echo "($c / $g1 - $c / $g0) * 1000000" | bc -l | xargs printf %.1f) load=$(cut -d' ' -f1 /proc/loadavg)"
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
	# (2>/dev/stderr would reopen a log file that stderr points to and
	# truncate it)
	if [ -n "${EXPIRE_LOG:-}" ]; then
		"$WORK/gw_bench" expire "$PGPORT" "$GWPORT" "$EXPIRE_N" 2>"$EXPIRE_LOG"
	else
		"$WORK/gw_bench" expire "$PGPORT" "$GWPORT" "$EXPIRE_N"
	fi
fi
