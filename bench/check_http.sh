#!/usr/bin/env bash
# POST /v1/check over HTTP keep-alive against jitgate, and GET / against an
# nginx that returns a static 200, on the same machine in the same run.
#
#   bench/check_http.sh            (env: JG_BUILD_DIR, default build-bench;
#                                   JG_BENCH_GRANTS active grants, default 1000;
#                                   JG_BENCH_SECONDS per wrk run, default 10;
#                                   JG_BENCH_ROUNDS of nginx+jitgate, default 2)
#
# Both servers get two worker threads (nginx worker_processes 2, jitgate's
# HTTP thread pool is 2) and the same wrk: 2 threads, 64 connections,
# keep-alive, a Lua script that hands out ready-made requests.  Prints
# req/s, p50 and p99 of both per round, the ratio of the median round and
# the targets.  Timing never decides the exit status; a failed check
# (non-2xx, wrong answer) does.
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
mkdir -p "$BENCH_DIR/nginx"
cat >"$BENCH_DIR/nginx/nginx.conf" <<EOF
worker_processes 2;
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
for _ in $(seq 1 100); do
	curl -fsS -o /dev/null "http://127.0.0.1:$NGX_PORT/" 2>/dev/null && break
	sleep 0.05
done
curl -fsS -o /dev/null "http://127.0.0.1:$NGX_PORT/" || bench_die "nginx did not start"

# ---- load ----
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
J_BAD=0
: >"$BENCH_DIR/rounds"
for round in $(seq 1 "$ROUNDS"); do
	bench_machine
	echo "== round $round/$ROUNDS nginx: GET / (static 200), wrk -t2 -c64 -d${SECONDS_RUN}s"
	run_wrk "http://127.0.0.1:$NGX_PORT/" static
	n="$(field rps) $(field p50_us) $(field p99_us)"
	echo "== round $round/$ROUNDS jitgate: POST /v1/check, $GRANTS active grants, wrk -t2 -c64 -d${SECONDS_RUN}s"
	run_wrk "http://127.0.0.1:$JG_PORT/" check "$GRANTS"
	j="$(field rps) $(field p50_us) $(field p99_us)"
	J_BAD=$((J_BAD + $(field non2xx) + $(field sockerr)))
	echo "$j $n" >>"$BENCH_DIR/rounds"
done

echo
echo "== /v1/check summary"
awk '{ ratio = $1 / $4
	printf "round %d: jitgate %7.0f req/s p99 %7.3f ms | nginx %7.0f req/s p99 %7.3f ms | ratio %.2f\n",
		NR, $1, $3/1000, $4, $6/1000, ratio }' "$BENCH_DIR/rounds"
# median round by ratio (the lower middle one for an even count)
sort -t' ' -k7,7g <(awk '{ print $0, $1 / $4 }' "$BENCH_DIR/rounds") |
	sed -n "$(((ROUNDS + 1) / 2))p" | awk '{
	jr = $1; j50 = $2; j99 = $3; nr = $4; n50 = $5; n99 = $6; ratio = $7
	printf "jitgate /v1/check  %9.0f req/s  p50 %6.3f ms  p99 %6.3f ms\n", jr, j50/1000, j99/1000
	printf "nginx static 200   %9.0f req/s  p50 %6.3f ms  p99 %6.3f ms   (baseline)\n", nr, n50/1000, n99/1000
	printf "ratio jitgate/nginx req/s: %.2f   (target >= 0.80, design 14: %s)\n", ratio, (ratio >= 0.8 ? "met" : "NOT MET")
	printf "jitgate p99: %.3f ms          (target <= 1 ms: %s)\n", j99/1000, (j99 <= 1000 ? "met" : "NOT MET")
}'
if [ "$J_BAD" -ne 0 ]; then
	bench_die "jitgate answered $J_BAD requests with an error or a socket error"
fi
