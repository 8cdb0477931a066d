#!/usr/bin/env bash
# POST /v1/check over HTTP keep-alive against jitgate, and GET / against an
# nginx that returns a static 200, on the same machine in the same run.
#
#   bench/check_http.sh            (env: JG_BUILD_DIR, default build-bench;
#                                   JG_BENCH_GRANTS active grants, default 1000;
#                                   JG_BENCH_SECONDS per wrk run, default 10;
#                                   JG_BENCH_ROUNDS of nginx+jitgate, default 2;
#                                   JG_BENCH_WARMUP seconds of unmeasured load
#                                   on each first, default 2;
#                                   JG_BENCH_PERF=1: also count system calls
#                                   and context switches per request)
#
# Both servers get one worker per online CPU, at least 2 (nginx
# worker_processes, jitgate's HTTP thread pool: src/api/http.c
# api_threads) and the same wrk: 2 threads, 64 connections,
# keep-alive, a Lua script that hands out ready-made requests.  Prints
# req/s, p50 and p99 of both per round, the ratio of the median round and
# the targets.  Also the CPU time each server spent per request (from the
# scheduler's per-thread run time, /proc/PID/task/*/schedstat, read around
# each wrk run): on a machine shared with other work the throughput ratio
# swings with whoever else runs, while CPU per request mostly does not, so
# nginx's CPU per request over jitgate's is printed as the capacity ratio.
# Timing never decides the exit status; a failed check (non-2xx, wrong
# answer) does.
set -euo pipefail
. "$(dirname "$0")/common.sh"

GRANTS=${JG_BENCH_GRANTS:-1000}
SECONDS_RUN=${JG_BENCH_SECONDS:-10}
ROUNDS=${JG_BENCH_ROUNDS:-2}
command -v wrk >/dev/null || bench_die "wrk is not installed"
command -v nginx >/dev/null || bench_die "nginx is not installed"
bench_setup

JG_PORT=$(bench_free_port)
NGX_PORT=$(bench_free_port)
[ "$JG_PORT" != "$NGX_PORT" ] || NGX_PORT=$(bench_free_port)

# ---- jitgate with GRANTS active grants, made through the API ----
python3 "$BENCH_SRC/bench/mkgrants.py" config "$BENCH_DIR" "$JG_PORT" "$GRANTS"
bench_start_jitgate "$BENCH_DIR/jitgate.yaml" "$JG_PORT"
python3 "$BENCH_SRC/bench/mkgrants.py" grants "$BENCH_DIR" "$JG_PORT"
JG_BENCH_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checker"])' \
	"$BENCH_DIR/tokens.json")
export JG_BENCH_TOKEN

# one check by hand: the load below must be measuring "allowed", not errors
answer=$(curl -fsS -H "Authorization: Bearer $JG_BENCH_TOKEN" \
	-d '{"subject":"user-0","resource":"orders-db","role":"read"}' \
	"http://127.0.0.1:$JG_PORT/v1/check")
case $answer in
*'"allowed":true'* | *'"allowed": true'*) ;;
*) bench_die "check of a granted triple said: $answer" ;;
esac

# ---- nginx, static 200 ----
NGX_WORKERS=$(nproc)
[ "$NGX_WORKERS" -ge 2 ] || NGX_WORKERS=2
[ "$NGX_WORKERS" -le 16 ] || NGX_WORKERS=16
mkdir -p "$BENCH_DIR/nginx"
cat >"$BENCH_DIR/nginx/nginx.conf" <<EOF
worker_processes $NGX_WORKERS;
daemon off;
pid $BENCH_DIR/nginx/nginx.pid;
error_log $BENCH_DIR/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $BENCH_DIR/nginx/body;
    proxy_temp_path $BENCH_DIR/nginx/proxy;
    fastcgi_temp_path $BENCH_DIR/nginx/fastcgi;
    uwsgi_temp_path $BENCH_DIR/nginx/uwsgi;
    scgi_temp_path $BENCH_DIR/nginx/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    default_type text/plain;
    server {
        listen 127.0.0.1:$NGX_PORT;
        location / { return 200 "ok"; }
    }
}
EOF
nginx -p "$BENCH_DIR/nginx" -e "$BENCH_DIR/nginx/error.log" \
	-c "$BENCH_DIR/nginx/nginx.conf" &
BENCH_PIDS+=($!)
NGINX_PID=$!
for _ in $(seq 1 100); do
	curl -fsS -o /dev/null "http://127.0.0.1:$NGX_PORT/" 2>/dev/null && break
	sleep 0.05
done
curl -fsS -o /dev/null "http://127.0.0.1:$NGX_PORT/" || bench_die "nginx did not start"

# ---- load ----
# Every PID of a server, comma-separated: ROOT and its children (nginx's
# workers), by the ppid field of /proc/*/stat (after the ")" of comm);
# processes that end meanwhile are skipped.
server_pids() {
	local root=$1 f line rest out=$1
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$f" || continue
		rest=${line##*) }
		set -- $rest
		[ "$2" = "$root" ] && out="$out,${f//[^0-9]/}"
	done
	echo "$out"
}

# Nanoseconds of CPU run by PID and its children, all threads: the first
# field of every /proc/P/task/T/schedstat.
cpu_ns() {
	local p t total=0 v
	for p in $(server_pids "$1" | tr , ' '); do
		for t in /proc/"$p"/task/*/schedstat; do
			read -r v _ <"$t" 2>/dev/null || continue
			total=$((total + v))
		done
	done
	echo "$total"
}

# JG_BENCH_PERF=1: perf stat counts the server's system calls and context
# switches while wrk runs (load-independent: what a request costs the
# server in kernel entries, whoever else runs)
perf_start() { # ROOT_PID
	PERF_PID=
	[ -n "${JG_BENCH_PERF:-}" ] || return 0
	perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$(server_pids "$1")" \
		-o "$BENCH_DIR/perfstat" &
	PERF_PID=$!
	sleep 0.2
}
perf_stop() { # REQUESTS -> PERF_OUT="syscalls/req cs/req" (not in a $(...):
	# only this shell can wait for perf to write its file)
	PERF_OUT="- -"
	[ -n "$PERF_PID" ] || return 0
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" 2>/dev/null || true
	PERF_OUT=$(awk -F, -v n="$1" '$3 ~ /sys_enter/ { s = $1 } $3 ~ /context-switches/ { c = $1 }
		END { printf "%.2f %.2f", s / n, c / n }' "$BENCH_DIR/perfstat")
}

run_wrk() { # URL ARGS... -> prints wrk's report, leaves RESULT line in $BENCH_DIR/last
	local url=$1
	shift
	wrk -t2 -c64 -d"${SECONDS_RUN}s" --latency -s "$BENCH_SRC/bench/wrk_bench.lua" \
		"$url" -- "$@" | tee "$BENCH_DIR/last"
}
field() { # NAME -> value from the RESULT line of the last run
	sed -n "s/.*RESULT.* $1=\([0-9.]*\).*/\1/p; s/^RESULT $1=\([0-9.]*\).*/\1/p" \
		"$BENCH_DIR/last" | head -1
}

# Rounds alternate nginx and jitgate so that a burst of load from someone
# else on the machine hits both sides about equally; each round prints its
# own ratio and the summary is the median round (by ratio).
# warm-up, not measured: both servers' threads, caches and connections,
# and the kernel's socket memory, as in every round after the first
if [ "${JG_BENCH_WARMUP:-2}" -gt 0 ]; then
	wrk -t2 -c64 -d"${JG_BENCH_WARMUP:-2}s" -s "$BENCH_SRC/bench/wrk_bench.lua" \
		"http://127.0.0.1:$NGX_PORT/" -- static >/dev/null
	wrk -t2 -c64 -d"${JG_BENCH_WARMUP:-2}s" -s "$BENCH_SRC/bench/wrk_bench.lua" \
		"http://127.0.0.1:$JG_PORT/" -- check "$GRANTS" >/dev/null
fi
J_BAD=0
: >"$BENCH_DIR/rounds"
for round in $(seq 1 "$ROUNDS"); do
	bench_machine
	echo "== round $round/$ROUNDS nginx: GET / (static 200), wrk -t2 -c64 -d${SECONDS_RUN}s"
	perf_start "$NGINX_PID"
	c0=$(cpu_ns "$NGINX_PID")
	run_wrk "http://127.0.0.1:$NGX_PORT/" static
	c1=$(cpu_ns "$NGINX_PID")
	n="$(field rps) $(field p50_us) $(field p99_us) $(awk -v c=$((c1 - c0)) -v n="$(field requests)" 'BEGIN { printf "%.2f", c / n / 1000 }')"
	perf_stop "$(field requests)"
	nk=$PERF_OUT
	echo "== round $round/$ROUNDS jitgate: POST /v1/check, $GRANTS active grants, wrk -t2 -c64 -d${SECONDS_RUN}s"
	perf_start "$JITGATE_PID"
	c0=$(cpu_ns "$JITGATE_PID")
	run_wrk "http://127.0.0.1:$JG_PORT/" check "$GRANTS"
	c1=$(cpu_ns "$JITGATE_PID")
	j="$(field rps) $(field p50_us) $(field p99_us) $(awk -v c=$((c1 - c0)) -v n="$(field requests)" 'BEGIN { printf "%.2f", c / n / 1000 }')"
	perf_stop "$(field requests)"
	jk=$PERF_OUT
	J_BAD=$((J_BAD + $(field non2xx) + $(field sockerr)))
	echo "$j $n" >>"$BENCH_DIR/rounds"
	[ -z "${JG_BENCH_PERF:-}" ] || echo "$jk $nk" >>"$BENCH_DIR/kernel"
done

echo
echo "== /v1/check summary"
# rounds: jitgate rps p50 p99 cpu_us | nginx rps p50 p99 cpu_us
awk '{ printf "round %d: jitgate %7.0f req/s p99 %7.3f ms %5.1f us CPU/req | nginx %7.0f req/s p99 %7.3f ms %5.1f us CPU/req | ratio %.2f, CPU ratio %.2f\n",
		NR, $1, $3/1000, $4, $5, $7/1000, $8, $1 / $5, $8 / $4 }' "$BENCH_DIR/rounds"
# median round by ratio (the lower middle one for an even count)
sort -t' ' -k9,9g <(awk '{ print $0, $1 / $5 }' "$BENCH_DIR/rounds") |
	sed -n "$(((ROUNDS + 1) / 2))p" | awk -v grants="$GRANTS" -v rounds="$ROUNDS" -v secs="$SECONDS_RUN" '{
	jr = $1; j50 = $2; j99 = $3; nr = $5; n50 = $6; n99 = $7; ratio = $9
	printf "jitgate /v1/check  %9.0f req/s  p50 %6.3f ms  p99 %6.3f ms\n", jr, j50/1000, j99/1000
	printf "nginx static 200   %9.0f req/s  p50 %6.3f ms  p99 %6.3f ms   (baseline)\n", nr, n50/1000, n99/1000
	printf "ratio jitgate/nginx req/s: %.2f   (target >= 0.80, design 14: %s)\n", ratio, (ratio >= 0.8 ? "met" : "NOT MET")
	printf "jitgate p99: %.3f ms, nginx p99 %.3f ms (ratio %.2f; target <= 1 ms: %s)\n", j99/1000, n99/1000, j99 / n99, (j99 <= 1000 ? "met" : "NOT MET")
	printf "RESULT check_http grants=%d rounds=%d seconds=%d jitgate_rps=%.0f nginx_rps=%.0f ratio=%.3f jitgate_p50_ms=%.3f jitgate_p99_ms=%.3f nginx_p50_ms=%.3f nginx_p99_ms=%.3f\n",
		grants, rounds, secs, jr, nr, ratio, j50/1000, j99/1000, n50/1000, n99/1000
}'
# CPU per request, median over rounds of each side
for col in 4 8; do
	awk -v c=$col '{ print $c }' "$BENCH_DIR/rounds" | sort -g | sed -n "$(((ROUNDS + 1) / 2))p"
done | paste -sd' ' | awk '{
	printf "CPU per request (median round): jitgate %.1f us, nginx %.1f us; capacity ratio nginx/jitgate %.2f\n", $1, $2, $2 / $1
	printf "RESULT check_http_cpu jitgate_us=%.2f nginx_us=%.2f capacity=%.3f\n", $1, $2, $2 / $1 }'
if [ -n "${JG_BENCH_PERF:-}" ]; then
	awk '{ printf "round %d per request: jitgate %.2f system calls, %.2f context switches | nginx %.2f system calls, %.2f context switches\n", NR, $1, $2, $3, $4 }' \
		"$BENCH_DIR/kernel"
fi
if [ "$J_BAD" -ne 0 ]; then
	bench_die "jitgate answered $J_BAD requests with an error or a socket error"
fi
