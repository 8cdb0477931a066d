#!/usr/bin/env bash
# Expiry precision on the real daemon (design section 8: every session cut
# within 50 ms of expires_at): N grants expiring together, one live
# gateway session on each, and how late after its grant's expires_at each
# client gets its FATAL (p50/p99/max, wall clock).
#
#   bench/gateway_expire.sh [N]   (default 1000; env JG_BUILD_DIR,
#                                  DURATION of the grants, default 60s)
#
# The grants are requested 32 at a time, so the engine's group commit
# activates many in one batch with the same activated_at: the run prints
# how many distinct expires_at they got and over how many ms.  Upstream:
# bench/gw_hold.c's PostgreSQL-protocol responder (trust), so that 1,000
# sessions do not need 1,000 PostgreSQL backends on this machine; the
# gateway's side of a cut (FATAL, Terminate, audit) is the same.  Lateness
# is measured from the same clock the daemon cuts by (CLOCK_REALTIME).
set -euo pipefail
. "$(dirname "$0")/common.sh"
N=${1:-1000}
DURATION=${DURATION:-60s}
bench_setup
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

cc -std=gnu17 -O2 -Wall -Werror "$BENCH_SRC/bench/gw_hold.c" -o "$BENCH_DIR/gw_hold" -lssl -lcrypto
HTTP=$(bench_free_port)
GW=$(bench_free_port)
RESP=$(bench_free_port)
python3 "$BENCH_SRC/bench/gwconf.py" config "$BENCH_DIR" "$HTTP" "$GW" 1 "$RESP" "$N"
"$BENCH_DIR/gw_hold" respond "$RESP" &
BENCH_PIDS+=($!)
bench_start_jitgate "$BENCH_DIR/jitgate.yaml" "$HTTP"
echo "== $N grants for $DURATION, one session each, through jitgate serve"
python3 "$BENCH_SRC/bench/gwconf.py" grants "$BENCH_DIR" "$HTTP" "$N" resp-db read "$DURATION" >"$BENCH_DIR/cuts"
bench_machine
"$BENCH_DIR/gw_hold" expire "$GW" "$BENCH_DIR/cuts"
# the daemon's own side: its log line "cutting session of SUBJECT" (ms
# timestamps) against that subject's expires_at; what the clients see
# above adds their own wake-up on a shared machine
python3 - "$BENCH_DIR/cuts" "$BENCH_DIR/jitgate.log" <<'PY'
import calendar, re, sys, time
at = {l.split()[0]: int(l.split()[3]) for l in open(sys.argv[1])}
late = []
for line in open(sys.argv[2]):
    m = re.match(r"(\S+)T(\S+)\.(\d{3})Z .*cutting session of (\S+) .*: expired$", line)
    if m and m.group(4) in at:
        ms = calendar.timegm(time.strptime(m.group(1) + "T" + m.group(2), "%Y-%m-%dT%H:%M:%S")) * 1000 + int(m.group(3))
        late.append(ms - at[m.group(4)])
late.sort()
if late:
    n = len(late)
    print("daemon's cut (its log) after expires_at (%d): p50 %d ms  p99 %d ms  max %d ms  (ms resolution)"
          % (n, late[n // 2], late[min(n - 1, n * 99 // 100)], late[-1]))
    print("RESULT gw_expire_daemon cut=%d p50_ms=%d p99_ms=%d max_ms=%d"
          % (n, late[n // 2], late[min(n - 1, n * 99 // 100)], late[-1]))
PY
echo "target: every session cut within 50 ms of expires_at (design section 8)"
bench_machine
