#!/usr/bin/env bash
# Benchmark of the offline policy tools (design section 11): `policy test`
# on 10,000 cases against a 500-policy config (cases/s), and `policy
# matrix` / `policy diff` on that config (time, peak RSS).  Not a test:
# it prints figures and fails only when a tool does not run or gives a
# wrong answer.
#
#   bench/policy.sh                       uses $JG_BUILD_DIR or build-bench
#   JG_BENCH_POLICIES=500 JG_BENCH_CASES=10000 bench/policy.sh
#
# The baseline in the same run is `check-config` on the same file: what
# loading and validating the config costs, which every command pays.
set -euo pipefail
source "$(dirname "$0")/common.sh"
bench_setup
JG=$BENCH_BUILD/jitgate
NPOL=${JG_BENCH_POLICIES:-500}
NCASES=${JG_BENCH_CASES:-10000}

python3 - "$BENCH_DIR" "$NPOL" "$NCASES" <<'PY'
import os, random, sys
d, npol, ncases = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42)
nres, ngroups, nusers = 200, 60, 300
roles = ["read", "write", "admin"]
out = ["identities:"]
for u in range(nusers):
    groups = sorted({"g%d" % rnd.randrange(ngroups) for _ in range(rnd.randint(1, 3))})
    out.append("  - {subject: u%d, groups: [%s], token_sha256: %064x}" % (u, ", ".join(groups), u + 1))
out.append("resources:")
names = ["%s-%d" % (rnd.choice(["prod", "stage", "dev"]), r) for r in range(nres)]
for n in names:
    out.append("  - {name: %s, kind: generic, roles: {read: {}, write: {}, admin: {}}}" % n)
out.append("policies:")
for p in range(npol):
    reqs = ["group:g%d" % rnd.randrange(ngroups) for _ in range(rnd.randint(1, 3))]
    if rnd.random() < 0.2:
        reqs.append("user:u%d" % rnd.randrange(nusers))
    if rnd.random() < 0.3:
        res = ['"%s-*"' % rnd.choice(["prod", "stage", "dev"])]
    else:
        res = rnd.sample(names, rnd.randint(1, 4))
    approvals = rnd.choice([0, 0, 1, 2])
    line = ("  - {name: p%d, requesters: [%s], resources: [%s], roles: [%s], max_duration: %dh, approvals: %d"
            % (p, ", ".join(reqs), ", ".join(res), ", ".join(rnd.sample(roles, rnd.randint(1, 3))),
               rnd.choice([1, 2, 4, 8]), approvals))
    if approvals:
        line += ", approvers: [group:g%d, group:g%d]" % (rnd.randrange(ngroups), rnd.randrange(ngroups))
        if rnd.random() < 0.3:
            line += ", break_glass: {max_duration: 30m}"
    out.append(line + "}")
with open(os.path.join(d, "config.yaml"), "w") as f:
    f.write("\n".join(out) + "\n")
# the same with every tenth policy loosened, for diff
def loosen(l):
    if " requesters: " in l and int(l.split("name: p")[1].split(",")[0]) % 10 == 0:
        return l.replace("approvals: 2", "approvals: 1").replace("max_duration: 1h", "max_duration: 2h")
    return l
with open(os.path.join(d, "config2.yaml"), "w") as f:
    f.write("\n".join(loosen(l) for l in out) + "\n")
per_file = 1000
for k in range((ncases + per_file - 1) // per_file):
    with open(os.path.join(d, "cases-%03d.yaml" % k), "w") as f:
        f.write("cases:\n")
        for i in range(k * per_file, min(ncases, (k + 1) * per_file)):
            f.write("  - name: c%d\n    as: {subject: u%d}\n"
                    "    request: {resource: %s, role: %s, duration: %dm}\n"
                    "    expect: {outcome: granted}\n"
                    % (i, rnd.randrange(nusers), rnd.choice(names), rnd.choice(roles),
                       rnd.choice([10, 30, 90, 300])))
PY

timed() { # LABEL COMMAND... : prints "LABEL: S s, RSS KiB" and keeps stdout in $BENCH_DIR/out
	local label=$1 rc=0
	shift
	/usr/bin/time -f "%e %M" -o "$BENCH_DIR/time" "$@" >"$BENCH_DIR/out" 2>"$BENCH_DIR/err" || rc=$?
	read -r secs rss < <(tail -1 "$BENCH_DIR/time")
	printf '%-44s %8.3f s  peak RSS %7d KiB  (exit %d)\n' "$label" "$secs" "$rss" "$rc"
	LAST_SECS=$secs
	LAST_RC=$rc
}

echo "config: $NPOL policies, $(grep -c 'kind: generic' "$BENCH_DIR/config.yaml") resources," \
	"$(grep -c 'subject: u' "$BENCH_DIR/config.yaml") identities; $NCASES cases in" \
	"$(ls "$BENCH_DIR"/cases-*.yaml | wc -l) files"
timed "check-config (baseline: load + validate)" "$JG" check-config -c "$BENCH_DIR/config.yaml"
[ "$LAST_RC" = 0 ] || bench_die "check-config failed: $(cat "$BENCH_DIR/err")"
BASE=$LAST_SECS

# first run: learn the outcomes, then write them as expectations so the
# timed run is a passing suite, as in real use
"$JG" policy test -c "$BENCH_DIR/config.yaml" "$BENCH_DIR"/cases-*.yaml --json >"$BENCH_DIR/first.json" || true
python3 - "$BENCH_DIR" <<'PY'
import glob, json, sys
d = sys.argv[1]
got = {c["name"]: c["got"] for c in json.load(open(d + "/first.json"))["cases"]}
for p in sorted(glob.glob(d + "/cases-*.yaml")):
    out, name = [], None
    for line in open(p):
        if line.startswith("  - name: "):
            name = line.split(": ", 1)[1].strip()
        if line.startswith("    expect:"):
            g = got[name]
            e = "outcome: %s" % g["outcome"]
            if g.get("policy"):
                e += ", policy: %s" % g["policy"]
            if g["outcome"] == "pending":
                e += ", approvals: %d" % g["approvals"]
            if g["outcome"] == "refused":
                e += ", status: %d" % g["status"]
            line = "    expect: {%s}\n" % e
        out.append(line)
    open(p, "w").write("".join(out))
PY
timed "policy test ($NCASES cases)" "$JG" policy test -c "$BENCH_DIR/config.yaml" "$BENCH_DIR"/cases-*.yaml
[ "$LAST_RC" = 0 ] || bench_die "the suite built from its own outcomes did not pass: $(tail -1 "$BENCH_DIR/out")"
tail -1 "$BENCH_DIR/out"
python3 -c "import sys; t, b, n = map(float, sys.argv[1:]); \
print('  %.0f cases/s overall; %.0f cases/s beyond the config load (%.1fx the baseline)' % \
      (n / t, n / max(t - b, 1e-3), t / max(b, 1e-3)))" "$LAST_SECS" "$BASE" "$NCASES"
timed "policy matrix" "$JG" policy matrix -c "$BENCH_DIR/config.yaml" --json
echo "  $(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['rows']))" "$BENCH_DIR/out") rows"
timed "policy diff (10% of policies loosened)" "$JG" policy diff "$BENCH_DIR/config.yaml" "$BENCH_DIR/config2.yaml"
[ "$LAST_RC" = 1 ] || bench_die "diff of a loosened config should exit 1, got $LAST_RC"
echo "  $(tail -1 "$BENCH_DIR/out")"
timed "policy lint" "$JG" policy lint -c "$BENCH_DIR/config.yaml"
echo "  $(tail -1 "$BENCH_DIR/out")"
