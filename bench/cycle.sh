#!/usr/bin/env bash
# Durable request+approve cycles per second on SQLite, 64 clients.
#
#   bench/cycle.sh        (env: JG_BUILD_DIR, default build-bench;
#                          JG_BENCH_SECONDS per run, default 10;
#                          JG_BENCH_CLIENTS, default 64)
#
# A cycle is POST /v1/requests by "requester" (policy: 1 approval by
# "approver", no self-approval) answered 201 pending, then POST
# /v1/requests/ID/approve by "approver" answered 200 active.  Both writes
# are durable (SQLite WAL, synchronous=FULL) before the reply.
#
# Baseline, same run, same disk (the temp dir): single-row SQLite
# transactions with the same pragmas, one after another, i.e. one fsync
# per write.  cycles/s divided by that rate shows what group commit buys:
# without it a cycle (two durable writes) could not go faster than half
# the baseline.  Timing never decides the exit status; errors do.
set -euo pipefail
. "$(dirname "$0")/common.sh"

SECONDS_RUN=${JG_BENCH_SECONDS:-10}
CLIENTS=${JG_BENCH_CLIENTS:-64}
LOAD=$BENCH_BUILD/bench_cycle_load
[ -x "$LOAD" ] || bench_die "no $LOAD; build the bench_cycle_load target"
bench_setup

PORT=$(bench_free_port)
JG_BENCH_REQUESTER_TOKEN=$(bench_token)
JG_BENCH_APPROVER_TOKEN=$(bench_token)
export JG_BENCH_REQUESTER_TOKEN JG_BENCH_APPROVER_TOKEN

cat >"$BENCH_DIR/jitgate.yaml" <<EOF
listen: 127.0.0.1:$PORT
storage: sqlite:$BENCH_DIR/jitgate.db
pending_ttl: 1h
identities:
  - subject: requester
    groups: [engineering]
    token_sha256: $(bench_sha256 "$JG_BENCH_REQUESTER_TOKEN")
  - subject: approver
    groups: [sre]
    token_sha256: $(bench_sha256 "$JG_BENCH_APPROVER_TOKEN")
resources:
  - name: orders-db
    kind: generic
    roles: {read: {}, write: {}}
policies:
  - name: bench-one-approval
    requesters: [user:requester]
    resources: [orders-db]
    roles: [write]
    max_duration: 1h
    approvals: 1
    approvers: [user:approver]
    allow_self_approval: false
EOF

bench_machine
echo "disk: $(df -T "$BENCH_DIR" | awk 'NR == 2 { print $1 " " $2 " mounted on " $7 }')"
echo "== baseline: raw SQLite durable commits in $BENCH_DIR (${SECONDS_RUN}s)"
"$LOAD" sqlite "$BENCH_DIR/baseline.db" "$SECONDS_RUN" | tee "$BENCH_DIR/base.out"
BASE=$(sed -n 's/^RESULT commits_per_s=\([0-9.]*\).*/\1/p' "$BENCH_DIR/base.out")
rm -f "$BENCH_DIR"/baseline.db*

bench_start_jitgate "$BENCH_DIR/jitgate.yaml" "$PORT"
# the engine's commit histogram: one observation per group commit
commits() {
	curl -fsS "http://127.0.0.1:$PORT/metrics" |
		sed -n 's/^jitgate_audit_commit_duration_seconds_\(count\|sum\) \(.*\)/\2/p' |
		tr '\n' ' '
}
read -r S0 C0 <<<"$(commits)"
echo "== jitgate: request+approve cycles, $CLIENTS clients, ${SECONDS_RUN}s"
"$LOAD" http "$PORT" "$SECONDS_RUN" "$CLIENTS" orders-db write | tee "$BENCH_DIR/load.out"
read -r S1 C1 <<<"$(commits)"
CYC=$(sed -n 's/^RESULT cycles_per_s=\([0-9.]*\).*/\1/p' "$BENCH_DIR/load.out")
ERRS=$(sed -n 's/^RESULT .*errors=\([0-9]*\).*/\1/p' "$BENCH_DIR/load.out")

echo
echo "== request+approve summary"
awk -v clients="$CLIENTS" -v c="$CYC" -v b="$BASE" -v n="$((C1 - C0))" -v busy="$S0 $S1" -v t="$SECONDS_RUN" 'BEGIN {
	split(busy, s, " ")
	if (n > 0)
		printf "group commits %d: %.1f writes per commit, engine busy %.0f%% of the run\n",
			n, 2 * c * t / n, 100 * (s[2] - s[1]) / t
	printf "jitgate cycles/s            %8.0f  (%.0f durable writes/s)\n", c, 2 * c
	printf "sqlite commits/s            %8.0f  (baseline: one write per fsync)\n", b
	printf "ratio writes/s : commits/s  %8.2f  (above 1 only through group commit)\n", 2 * c / b
	printf "target >= 2000 cycles/s: %s\n", (c >= 2000 ? "met" : "NOT MET")
	printf "RESULT cycle clients=%d seconds=%d cycles_per_s=%.0f sqlite_commits_per_s=%.0f writes_per_commit=%.2f\n",
		clients, t, c, b, (n > 0 ? 2 * c * t / n : 0)
}'
[ "${ERRS:-1}" -eq 0 ] || bench_die "$ERRS cycles failed (see the replies above)"
