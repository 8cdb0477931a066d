#!/usr/bin/env bash
# POST /v1/check over HTTP keep-alive against jitgate, and GET / against an
# nginx that returns a static 200, on the same machine in the same run.
#
#   bench/check_http.sh            (env: JG_BUILD_DIR, default build-bench;
#                                   JG_BENCH_GRANTS active grants, default 1000;
#                                   JG_BENCH_SECONDS per wrk run, default 10)
#
# Both servers get two worker threads (nginx worker_processes 2, jitgate's
# HTTP thread pool is 2) and the same wrk: 2 threads, 64 connections,
# keep-alive, a Lua script that hands out ready-made requests.  Prints
# req/s, p50 and p99 of both, the ratio and the targets.  Timing never
# decides the exit status; a failed check (non-2xx, wrong answer) does.
set -euo pipefail
. "$(dirname "$0")/common.sh"

GRANTS=${JG_BENCH_GRANTS:-1000}
SECONDS_RUN=${JG_BENCH_SECONDS:-10}
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

bench_machine
echo "== nginx: GET / (static 200), wrk -t2 -c64 -d${SECONDS_RUN}s"
run_wrk "http://127.0.0.1:$NGX_PORT/" static
N_RPS=$(field rps) N_P50=$(field p50_us) N_P99=$(field p99_us)

echo "== jitgate: POST /v1/check, $GRANTS active grants, wrk -t2 -c64 -d${SECONDS_RUN}s"
run_wrk "http://127.0.0.1:$JG_PORT/" check "$GRANTS"
J_RPS=$(field rps) J_P50=$(field p50_us) J_P99=$(field p99_us)
J_BAD=$(($(field non2xx) + $(field sockerr)))

echo
echo "== /v1/check summary"
awk -v jr="$J_RPS" -v j50="$J_P50" -v j99="$J_P99" \
	-v nr="$N_RPS" -v n50="$N_P50" -v n99="$N_P99" 'BEGIN {
	ratio = jr / nr
	printf "jitgate /v1/check  %9.0f req/s  p50 %6.3f ms  p99 %6.3f ms\n", jr, j50/1000, j99/1000
	printf "nginx static 200   %9.0f req/s  p50 %6.3f ms  p99 %6.3f ms   (baseline)\n", nr, n50/1000, n99/1000
	printf "ratio jitgate/nginx req/s: %.2f   (target >= 0.50: %s)\n", ratio, (ratio >= 0.5 ? "met" : "NOT MET")
	printf "jitgate p99: %.3f ms          (target <= 1 ms: %s)\n", j99/1000, (j99 <= 1000 ? "met" : "NOT MET")
}'
if [ "$J_BAD" -ne 0 ]; then
	bench_die "jitgate answered $J_BAD requests with an error or a socket error"
fi
