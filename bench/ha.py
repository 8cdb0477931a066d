#!/usr/bin/env python3
"""Several nodes on one PostgreSQL (design sections 12 and 14), same run:

1. cross-node revoke -> FATAL: a session through node B's gateway, the
   revoke sent to node A; the time from sending the revoke to the FATAL
   on the session, p50/p99 over S sessions.  Baseline: the same with the
   revoke sent to node B itself (one node).
2. request+approve cycles/s (bench_cycle_load, C clients): jitgate on
   PostgreSQL, jitgate on SQLite, and the raw baselines: single-row
   commits on PostgreSQL and on SQLite, one after another.  The
   PostgreSQL cluster runs durable (fsync, synchronous_commit on).
   Beside the rates, the CPU per cycle of the nodes and every
   PostgreSQL process (a figure the machine's load moves far less).
3. check latency on node B (POST /v1/check, keep-alive) idle, and while
   node A takes request+approve cycles at full rate: p50/p99 and ratio.

Usage: bench/ha.py [BUILD_DIR]   (default build-bench; env SECONDS (10),
       CLIENTS (64), SESSIONS (100))
Never fails on a figure; exits non-zero only if a run could not be made.
"""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                        os.environ.get("JG_BUILD_DIR", os.path.join(SRC, "build-bench")))
os.environ["JITGATE_BIN"] = os.path.join(BUILD, "jitgate")
os.environ.pop("JITGATE_TEST_STORAGE", None)
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
from harness import Server, free_port, identities_yaml, sha256_hex, token  # noqa: E402
from pgcluster import PASSWORDS, PgCluster  # noqa: E402
import pgwire  # noqa: E402

SECONDS = int(os.environ.get("SECONDS", "10"))
CLIENTS = int(os.environ.get("CLIENTS", "64"))
SESSIONS = int(os.environ.get("SESSIONS", "100"))
LOAD = os.path.join(BUILD, "bench_cycle_load")
REQ_TOKEN, APPR_TOKEN = "bench-requester-0123456789", "bench-approver-0123456789"


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))] if v else float("nan")


def config(pgport, gwport, node_id, storage):
    return ("listen: {LISTEN}\nstorage: %s\npending_ttl: 1h\n" % storage
            + "admins: [group:security]\ncheckers: [user:svc]\n"
            + identities_yaml()
            + "  - subject: requester\n    groups: [engineering]\n"
            + "    token_sha256: %s\n" % sha256_hex(REQ_TOKEN)
            + "  - subject: approver\n    groups: [sre]\n"
            + "    token_sha256: %s\n" % sha256_hex(APPR_TOKEN)
            + f"""node_id: {node_id}
limits: {{http_connections: 4096, http_connections_per_ip: 1024}}
gateway:
  postgres_listen: 127.0.0.1:{gwport}
resources:
  - name: orders-db
    kind: postgres
    upstream: {{host: 127.0.0.1, port: {pgport}, dbname: orders}}
    roles:
      read:  {{user: jit_read,  password_env: ORDERS_READ_PASSWORD}}
      write: {{user: jit_write, password_env: ORDERS_WRITE_PASSWORD}}
policies:
  - name: read-now
    requesters: [group:engineering]
    resources: [orders-db]
    roles: [read]
    max_duration: 4h
    approvals: 0
  - name: bench-one-approval
    requesters: [user:requester]
    resources: [orders-db]
    roles: [write]
    max_duration: 1h
    approvals: 1
    approvers: [user:approver]
""")


def node(pg, storage, name):
    gw = free_port()
    n = Server(config(pg.port, gw, name, storage),
               env={"ORDERS_READ_PASSWORD": "read-pw", "ORDERS_WRITE_PASSWORD": "write-pw",
                    "PGPASSWORD": PASSWORDS["jitgate"]})
    n.gwport = gw
    return n


def run_load(args):
    env = dict(os.environ, JG_BENCH_REQUESTER_TOKEN=REQ_TOKEN,
               JG_BENCH_APPROVER_TOKEN=APPR_TOKEN, PGPASSWORD=PASSWORDS["jitgate"])
    p = subprocess.run([LOAD] + [str(a) for a in args], capture_output=True, text=True,
                       env=env, timeout=SECONDS * 4 + 60)
    out = p.stdout + p.stderr
    if p.returncode != 0:
        raise SystemExit("bench_cycle_load %s failed:\n%s" % (args[0], out))
    res = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            for kv in line.split()[1:]:
                k, v = kv.split("=")
                res[k] = float(v)
    return res, out


# ---- CPU per cycle: load-independent beside the rates ----

def cpu_seconds():
    """utime+stime of every process, by pid, and each one's parent."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        out[int(p)] = (int(fields[1]),
                       (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return out


def cpu_of(before, after, roots):
    """CPU seconds spent between two cpu_seconds() by roots and their
    children (the nodes, the PostgreSQL server and its backends)."""
    def ours(snap, pid):
        return pid in roots or snap[pid][0] in roots
    return sum(t - (before[pid][1] if pid in before else 0)
               for pid, (_, t) in after.items() if ours(after, pid))


def run_load_cpu(args, pg, nodes):
    """run_load, and the CPU per cycle of the nodes and PostgreSQL (us)."""
    with open(os.path.join(pg.data, "postmaster.pid")) as f:
        roots = {int(f.readline())} | {n.proc.pid for n in nodes}
    c0 = cpu_seconds()
    res, out = run_load(args)
    spent = cpu_of(c0, cpu_seconds(), roots)
    cycles = res.get("cycles_per_s", 0) * SECONDS
    return res, out, (spent / cycles * 1e6 if cycles else float("nan"))


# ---- 1. revoke -> FATAL ----

def revoke_to_fatal(writer, holder, n):
    """n sessions through holder's gateway, each revoked on writer."""
    lat = []
    for i in range(n):
        st, r = writer.request("alice", "orders-db", "read", duration="1h")
        assert st == 201, (st, r)
        rid = r["id"]
        deadline = time.time() + 10
        while not holder.check("alice", "orders-db", "read")[1]["allowed"]:
            assert time.time() < deadline, "grant never reached the holder"
            time.sleep(0.002)
        c = pgwire.Conn(holder.gwport)
        c.login("alice", "orders-db@read", token("alice"))
        conn = http.client.HTTPConnection("127.0.0.1", writer.port, timeout=30)
        body = json.dumps({"reason": "bench"})
        t0 = time.perf_counter()
        conn.request("POST", "/v1/requests/%d/revoke" % rid, body,
                     {"Authorization": "Bearer " + token("alice"),
                      "Content-Type": "application/json"})
        f = c.read_fatal()
        t1 = time.perf_counter()
        resp = conn.getresponse()
        resp.read()
        conn.close()
        c.close()
        assert resp.status == 200, resp.status
        assert f and "revoked" in f.get("M", ""), f
        lat.append((t1 - t0) * 1000)
    return lat


# ---- 3. check latency ----

def check_latency(n, count):
    conn = http.client.HTTPConnection("127.0.0.1", n.port, timeout=30)
    body = json.dumps({"subject": "erik", "resource": "orders-db", "role": "read"})
    hdr = {"Authorization": "Bearer " + token("svc"), "Content-Type": "application/json"}
    lat = []
    for _ in range(count):
        t0 = time.perf_counter()
        conn.request("POST", "/v1/check", body, hdr)
        r = conn.getresponse()
        r.read()
        lat.append((time.perf_counter() - t0) * 1000)
        assert r.status == 200
    conn.close()
    return lat


def main():
    for f in (LOAD, os.environ["JITGATE_BIN"]):
        if not os.access(f, os.X_OK):
            raise SystemExit("missing %s: build jitgate and bench_cycle_load" % f)
    print("machine: %d cores, load %s" % (os.cpu_count(),
          open("/proc/loadavg").read().split()[:3]))
    pg = PgCluster(free_port(), max_connections=300)
    pg.start()
    nodes = []
    try:
        # durable, as a production server: a commit waits for its WAL flush
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            pg.sql("ALTER SYSTEM SET %s = on" % setting, db="postgres")
        pg.sql("SELECT pg_reload_conf()", db="postgres")
        time.sleep(0.5)
        print("postgresql: fsync=%s synchronous_commit=%s" % (
            pg.sql("SHOW fsync", db="postgres").strip(),
            pg.sql("SHOW synchronous_commit", db="postgres").strip()))
        url = pg.store_url(pg.new_store_db(), password=False)
        a, b = node(pg, url, "jg-a"), node(pg, url, "jg-b")
        nodes += [a, b]

        print("\n== 1. revoke -> FATAL on a gateway session, %d sessions" % SESSIONS)
        same = revoke_to_fatal(b, b, SESSIONS)
        cross = revoke_to_fatal(a, b, SESSIONS)
        print("same node  (revoke on B, session on B): p50 %.2f ms  p99 %.2f ms  max %.2f ms"
              % (pct(same, 50), pct(same, 99), max(same)))
        print("cross node (revoke on A, session on B): p50 %.2f ms  p99 %.2f ms  max %.2f ms"
              % (pct(cross, 50), pct(cross, 99), max(cross)))
        print("target cross-node p99 <= 100 ms: %s" % ("met" if pct(cross, 99) <= 100
                                                      else "NOT MET"))
        print("RESULT ha_revoke sessions=%d same_p50_ms=%.2f same_p99_ms=%.2f "
              "cross_p50_ms=%.2f cross_p99_ms=%.2f cross_max_ms=%.2f"
              % (SESSIONS, pct(same, 50), pct(same, 99), pct(cross, 50), pct(cross, 99),
                 max(cross)), flush=True)

        print("\n== 2. request+approve cycles/s, %d clients, %ds each" % (CLIENTS, SECONDS))
        raw_pg, _ = run_load(["pg", "host=127.0.0.1 port=%d user=jitgate dbname=%s"
                              % (pg.port, pg.new_store_db()), SECONDS])
        d = tempfile.mkdtemp(prefix="jg-bench-ha-")
        raw_sq, _ = run_load(["sqlite", os.path.join(d, "raw.db"), SECONDS])
        jg_pg, out, cpu_pg = run_load_cpu(["http", a.port, SECONDS, CLIENTS, "orders-db",
                                           "write"], pg, nodes)
        for n in nodes:
            n.stop()
        nodes.clear()
        sq = node(pg, "sqlite:" + os.path.join(d, "jg.db"), "jg-sqlite")
        nodes.append(sq)
        jg_sq, _, cpu_sq = run_load_cpu(["http", sq.port, SECONDS, CLIENTS, "orders-db",
                                         "write"], pg, nodes)
        sq.stop()
        nodes.clear()
        c_pg, c_sq = jg_pg.get("cycles_per_s", 0), jg_sq.get("cycles_per_s", 0)
        print("jitgate on PostgreSQL  %8.0f cycles/s" % c_pg)
        print("jitgate on SQLite      %8.0f cycles/s" % c_sq)
        print("raw PostgreSQL         %8.0f single-row commits/s" % raw_pg["commits_per_s"])
        print("raw SQLite             %8.0f single-row commits/s" % raw_sq["commits_per_s"])
        print("ratio PostgreSQL : SQLite (jitgate)  %.2f  (target >= 1: %s)"
              % (c_pg / c_sq if c_sq else float("nan"), "met" if c_pg >= c_sq else "NOT MET"))
        print("ratio durable writes/s : raw PostgreSQL commits/s  %.2f"
              % (2 * c_pg / raw_pg["commits_per_s"]))
        # what the machine's load cannot move much: CPU of both nodes and
        # every PostgreSQL process per cycle (on SQLite: the node; the
        # idle cluster's processes are counted too, the same set)
        print("CPU per cycle (nodes + PostgreSQL server): PostgreSQL %.0f us, SQLite %.0f us"
              " (ratio %.2f)" % (cpu_pg, cpu_sq, cpu_pg / cpu_sq if cpu_sq else float("nan")))
        print("RESULT ha_cycles clients=%d seconds=%d pg_cycles_per_s=%.0f "
              "sqlite_cycles_per_s=%.0f raw_pg_commits_per_s=%.0f raw_sqlite_commits_per_s=%.0f"
              " pg_cpu_us_per_cycle=%.0f sqlite_cpu_us_per_cycle=%.0f"
              % (CLIENTS, SECONDS, c_pg, c_sq, raw_pg["commits_per_s"],
                 raw_sq["commits_per_s"], cpu_pg, cpu_sq), flush=True)

        print("\n== 3. check latency on B, idle and while A writes at full rate")
        url = pg.store_url(pg.new_store_db(), password=False)
        a, b = node(pg, url, "jg-a"), node(pg, url, "jg-b")
        nodes += [a, b]
        st, r = a.request("erik", "orders-db", "read")
        deadline = time.time() + 10
        while not b.check("erik", "orders-db", "read")[1]["allowed"]:
            assert time.time() < deadline
            time.sleep(0.01)
        idle = check_latency(b, 3000)
        res = {}
        t = threading.Thread(target=lambda: res.update(
            run_load(["http", a.port, SECONDS, CLIENTS, "orders-db", "write"])[0]))
        t.start()
        time.sleep(1)
        busy = check_latency(b, 3000)
        t.join()
        print("idle:   p50 %.3f ms  p99 %.3f ms" % (pct(idle, 50), pct(idle, 99)))
        print("loaded: p50 %.3f ms  p99 %.3f ms  (A at %.0f cycles/s meanwhile)"
              % (pct(busy, 50), pct(busy, 99), res.get("cycles_per_s", 0)))
        print("ratio loaded : idle  p50 %.2f  p99 %.2f"
              % (pct(busy, 50) / pct(idle, 50), pct(busy, 99) / pct(idle, 99)))
        print("RESULT ha_check idle_p50_ms=%.3f idle_p99_ms=%.3f loaded_p50_ms=%.3f "
              "loaded_p99_ms=%.3f writer_cycles_per_s=%.0f"
              % (pct(idle, 50), pct(idle, 99), pct(busy, 50), pct(busy, 99),
                 res.get("cycles_per_s", 0)), flush=True)
    finally:
        for n in nodes:
            n.stop()
        pg.stop()


if __name__ == "__main__":
    main()
