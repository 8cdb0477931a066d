#!/usr/bin/env python3
"""Where a request+approve cycle's CPU goes on the PostgreSQL store.

Two nodes on one durable PostgreSQL (as bench/ha.py section 2), node A
driven by bench_cycle_load for SECONDS; the bench's own cluster runs with
pg_stat_statements (track = all, so statements run inside the audit
trigger show too) and track_functions = all.  Printed per cycle:

- every statement: calls, execution time (total and mean), planning time
  (wall-clock times: on a loaded machine they grow with the waits),
- every PL/pgSQL function: calls and self time,
- WAL records, full-page images and bytes (pg_stat_wal),
- the indexes of the requests and audit tables: scans and size,
- CPU (utime + stime from /proc) of each node and each PostgreSQL
  process, the backends named by what their last statement was.

With PERF=1 also `perf record` of node A and of the writer's backend
(perf.data files in the working directory are left for `perf report`).

Usage: bench/ha_profile.py [BUILD_DIR]  (env SECONDS (10), CLIENTS (64),
       PERF (0)).  Never fails on a figure.
"""
import os
import subprocess
import sys
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.argv[1:2] = sys.argv[1:2] or [os.environ.get("JG_BUILD_DIR",
                                                 os.path.join(SRC, "build-bench"))]
sys.path.insert(0, os.path.join(SRC, "bench"))
import ha  # noqa: E402  (sets JITGATE_BIN from BUILD_DIR)
from ha import node, run_load, cpu_seconds, PgCluster, free_port  # noqa: E402

SECONDS = ha.SECONDS
CLIENTS = ha.CLIENTS
PERF = os.environ.get("PERF", "0") == "1"


def rows(pg, sql, db):
    out = pg.sql(sql, db=db)
    return [line.split("|") for line in out.splitlines() if line]


def classify(pg):
    """pid -> what the backend is, from pg_stat_activity."""
    names = {}
    for pid, btype, query in rows(pg, "SELECT pid, backend_type,"
                                  " regexp_replace(left(query, 60), '[\\n|]', ' ', 'g')"
                                  " FROM pg_stat_activity", "postgres"):
        if btype != "client backend":
            names[int(pid)] = btype
        elif query.startswith("COMMIT") or "audit_head WHERE id = 1 AND seq" in query:
            names[int(pid)] = "backend: writer"
        elif "lease" in query or "LISTEN" in query or "pg_notify" in query:
            names[int(pid)] = "backend: watch (" + query[:30] + ")"
        else:
            names[int(pid)] = "backend: other (" + query[:30] + ")"
    return names


def main():
    pg = PgCluster(free_port(), max_connections=300)
    pg.start()
    nodes = []
    perfs = []
    try:
        for k, v in (("fsync", "on"), ("synchronous_commit", "on"),
                     ("full_page_writes", "on"),
                     ("shared_preload_libraries", "'pg_stat_statements'"),
                     ("track_functions", "'all'")):
            pg.sql("ALTER SYSTEM SET %s = %s" % (k, v), db="postgres")
        pg.restart()
        # known once the library is loaded
        pg.sql("ALTER SYSTEM SET pg_stat_statements.track = 'all'", db="postgres")
        pg.sql("ALTER SYSTEM SET pg_stat_statements.track_planning = on", db="postgres")
        pg.sql("SELECT pg_reload_conf()", db="postgres")
        pg.sql("CREATE EXTENSION pg_stat_statements", db="postgres")
        db = pg.new_store_db()
        url = pg.store_url(db, password=False)
        a, b = node(pg, url, "jg-a"), node(pg, url, "jg-b")
        nodes += [a, b]
        print("machine: %d cores, load %s" % (os.cpu_count(),
              open("/proc/loadavg").read().split()[:3]))
        # warm up: prepared statements, caches, the id pool
        warm = int(ha.SECONDS)
        ha.SECONDS = 2
        run_load(["http", a.port, 2, CLIENTS, "orders-db", "write"])
        ha.SECONDS = warm
        pg.sql("SELECT pg_stat_statements_reset(); SELECT pg_stat_reset_shared('wal')",
               db="postgres")
        pg.sql("SELECT pg_stat_reset()", db=db)
        with open(os.path.join(pg.data, "postmaster.pid")) as f:
            pmpid = int(f.readline())
        names = classify(pg)
        writer = [p for p, n in names.items() if n == "backend: writer"]
        if PERF:
            for tag, pid in (("node", a.proc.pid),) + tuple(("writer", p) for p in writer):
                perfs.append(subprocess.Popen(
                    ["perf", "record", "-q", "-g", "-o", "perf-%s.data" % tag, "-p", str(pid),
                     "--", "sleep", str(SECONDS)], stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL))
        c0 = cpu_seconds()
        res, _ = run_load(["http", a.port, SECONDS, CLIENTS, "orders-db", "write"])
        c1 = cpu_seconds()
        for p in perfs:
            p.wait()
        names.update({p: n for p, n in classify(pg).items() if p not in names})
        cycles = res.get("cycles_per_s", 0) * SECONDS
        print("load average after: %s" % open("/proc/loadavg").read().split()[:3])
        print("\n%d cycles in %d s (%.0f/s), %d clients" % (cycles, SECONDS, cycles / SECONDS,
                                                           CLIENTS))

        per = lambda x: x / cycles if cycles else float("nan")  # noqa: E731
        print("\n== CPU per cycle (us), by process")
        label = {a.proc.pid: "node A (writes)", b.proc.pid: "node B (idle)",
                 pmpid: "postmaster"}
        total = 0.0
        groups = {}
        for pid, (ppid, t) in c1.items():
            if pid not in label and ppid != pmpid:
                continue
            d = t - (c0[pid][1] if pid in c0 else 0)
            if d <= 0:
                continue
            name = label.get(pid) or names.get(pid, "backend (gone)")
            groups[name] = groups.get(name, 0) + d
            total += d
        for name, d in sorted(groups.items(), key=lambda kv: -kv[1]):
            print("%8.1f  %s" % (per(d) * 1e6, name))
        print("%8.1f  total" % (per(total) * 1e6))
        print("RESULT ha_profile cycles_per_s=%.0f cpu_us_per_cycle=%.1f writer_us=%.1f"
              " node_a_us=%.1f" % (cycles / SECONDS, per(total) * 1e6,
                                   per(groups.get("backend: writer", 0)) * 1e6,
                                   per(groups.get("node A (writes)", 0)) * 1e6), flush=True)

        print("\n== statements per cycle (pg_stat_statements, top level and nested)")
        print("%8s %9s %9s %9s  %s" % ("calls", "exec us", "mean us", "plan us", "query"))
        for calls, tot, mean, plan, top, q in rows(
                pg, "SELECT calls, total_exec_time * 1000, mean_exec_time * 1000,"
                " total_plan_time * 1000, toplevel,"
                " regexp_replace(left(query, 90), '[\\n|]', ' ', 'g') FROM pg_stat_statements"
                " WHERE calls > 0 ORDER BY total_exec_time DESC LIMIT 25", "postgres"):
            print("%8.3f %9.1f %9.1f %9.1f  %s%s" % (
                per(float(calls)), per(float(tot)), float(mean), per(float(plan)),
                "" if top == "t" else "(nested) ", q))

        print("\n== PL/pgSQL functions per cycle (track_functions)")
        for f, calls, tot, self_ in rows(pg, "SELECT funcname, calls, total_time * 1000,"
                                         " self_time * 1000 FROM pg_stat_user_functions", db):
            print("%-24s calls %.3f  total %.1f us  self %.1f us"
                  % (f, per(float(calls)), per(float(tot)), per(float(self_))))

        print("\n== WAL per cycle (pg_stat_wal)")
        for rec, fpi, byt, wr, sy, in rows(pg, "SELECT wal_records, wal_fpi, wal_bytes,"
                                           " wal_write, wal_sync FROM pg_stat_wal",
                                           "postgres"):
            print("records %.1f  full-page images %.2f  bytes %.0f  writes %.3f  syncs %.3f"
                  % (per(float(rec)), per(float(fpi)), per(float(byt)), per(float(wr)),
                     per(float(sy))))

        print("\n== tables and indexes")
        for rel, idx, scans, size in rows(
                pg, "SELECT relname, indexrelname, idx_scan,"
                " pg_size_pretty(pg_relation_size(indexrelid)) FROM pg_stat_user_indexes"
                " ORDER BY relname, indexrelname", db):
            print("%-14s %-22s scans/cycle %7.3f  size %s" % (rel, idx, per(float(scans)), size))
        for rel, n, size in rows(pg, "SELECT relname, n_tup_ins + n_tup_upd,"
                                 " pg_size_pretty(pg_relation_size(relid)) FROM"
                                 " pg_stat_user_tables ORDER BY relname", db):
            print("%-14s rows written/cycle %.3f  heap %s" % (rel, per(float(n)), size))
    finally:
        for p in perfs:
            if p.poll() is None:
                p.kill()
        for n in nodes:
            n.stop()
        pg.stop()


if __name__ == "__main__":
    main()
