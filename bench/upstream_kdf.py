#!/usr/bin/env python3
"""Does SCRAM key derivation for one upstream stall other sessions?

One client runs `select 1` in a loop through the gateway (pgbench, one
connection, a real PostgreSQL) for T seconds, twice: alone, then while K
clients keep logging in to a fake upstream (tests/e2e/fakepg.py) that asks
for 1,000,000 PBKDF2 iterations, the most the gateway accepts.  Printed:
the select's latency (p50, p99, max) in both runs, their ratio, and how
many derivations the gateway did meanwhile.  With the derivation on the
gateway loop, every one of them stalls the select for its whole length.

Usage: bench/upstream_kdf.py [JITGATE_BIN]   env: T (10), K (4)
Never fails on a figure; exits non-zero only if a run could not be made.
"""
import os
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
if len(sys.argv) > 1:
    os.environ["JITGATE_BIN"] = os.path.abspath(sys.argv[1])
from harness import Server, free_port, identities_yaml, token  # noqa: E402
from pgcluster import PgCluster  # noqa: E402
from fakepg import FakeUpstream  # noqa: E402

T = int(os.environ.get("T", "10"))
K = int(os.environ.get("K", "4"))
PW = "kdf-bench-pw"


def config(pgport, gwport, fakeport):
    return ("listen: {LISTEN}\nstorage: {STORAGE}\npending_ttl: 1h\n"
            "admins: [group:security]\nauditors: [group:audit]\n"
            "checkers: [user:svc]\n" + identities_yaml() + f"""
gateway:
  postgres_listen: 127.0.0.1:{gwport}
resources:
  - name: pg
    kind: postgres
    upstream: {{host: 127.0.0.1, port: {pgport}, dbname: orders}}
    roles: {{read: {{user: jit_read, password_env: READ_PW}}}}
  - name: kdf
    kind: postgres
    upstream: {{host: 127.0.0.1, port: {fakeport}, dbname: orders}}
    roles: {{read: {{user: jit_read, password_env: FAKE_PW}}}}
policies:
  - name: all
    requesters: [group:engineering]
    resources: ["*"]
    roles: [read]
    max_duration: 4h
    approvals: 0
""")


def latencies(gwport, workdir, label):
    """pgbench select 1 for T s on one connection; latencies in ms."""
    script = os.path.join(workdir, "select1.sql")
    with open(script, "w") as f:
        f.write("select 1;\n")
    env = dict(os.environ, PGPASSWORD=token("alice"), PGSSLMODE="disable")
    subprocess.run(["pgbench", "-n", "-h", "127.0.0.1", "-p", str(gwport),
                    "-U", "alice", "-c", "1", "-T", str(T), "-f", script,
                    "-l", "--log-prefix", os.path.join(workdir, label),
                    "pg@read"], env=env, check=True, capture_output=True)
    out = []
    for name in os.listdir(workdir):
        if name.startswith(label + "."):
            with open(os.path.join(workdir, name)) as f:
                out += [int(line.split()[2]) / 1000.0 for line in f]
    return sorted(out)


def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p))]


def main():
    work = tempfile.mkdtemp(prefix="jg-kdfbench-")
    pg = PgCluster(free_port())
    pg.start()
    fake = FakeUpstream("scram-wait", PW, iterations=1000000)
    gwport = free_port()
    srv = Server(config(pg.port, gwport, fake.port),
                 env={"READ_PW": "read-pw", "FAKE_PW": PW})
    stop = threading.Event()
    logins = [0]
    try:
        for res in ("pg", "kdf"):
            st, body = srv.request("alice", res, "read", "1h")
            assert st == 201, body
        base = latencies(gwport, work, "alone")

        def attacker():
            env = dict(os.environ, PGPASSWORD=token("alice"))
            while not stop.is_set():
                subprocess.run(["psql", "-X", "-c", "select 1",
                                "host=127.0.0.1 port=%d user=alice "
                                "dbname=kdf@read sslmode=disable" % gwport],
                               env=env, capture_output=True)
                logins[0] += 1

        threads = [threading.Thread(target=attacker) for _ in range(K)]
        for t in threads:
            t.start()
        time.sleep(1)  # let the derivations start
        n0 = logins[0]
        hot = latencies(gwport, work, "kdf")
        n1 = logins[0]
        stop.set()
        for t in threads:
            t.join()
    finally:
        stop.set()
        srv.stop()
        fake.close()
        pg.stop()
        subprocess.run(["rm", "-rf", work])
    print("select 1 through the gateway, one connection, %d s each "
          "(%d cores, load %s)" % (T, os.cpu_count(),
                                   open("/proc/loadavg").read().split()[0]))
    for label, v in (("alone", base), ("with KDF logins", hot)):
        print("  %-16s n=%-6d p50 %7.2f ms  p99 %7.2f ms  max %8.2f ms" % (
            label, len(v), pct(v, 0.5), pct(v, 0.99), v[-1]))
    print("  ratio (with/alone): p99 %.1fx, max %.1fx" % (
        pct(hot, 0.99) / pct(base, 0.99), hot[-1] / base[-1]))
    print("  %d logins at 1,000,000 PBKDF2 iterations during the run (%d "
          "clients)" % (n1 - n0, K))


if __name__ == "__main__":
    main()
