#!/usr/bin/env python3
"""Hostile-client figures for the gateway (design section 9), measured
against the real daemon and a real PostgreSQL:

  flush    rows written and events dropped for 1 MB of Flush messages
  prepared session.query rows for pgbench -M prepared -t 10 (one client)
  gssenc   requests taken and answers queued while 10 clients repeat
           GSSENCRequest for 3 s and read nothing (and daemon RSS)
  emfile   log lines and daemon CPU seconds in 3 s with 1,100 idle
           connections against RLIMIT_NOFILE 1024, then whether a login
           succeeds once they are closed
  preauth  durable rows for 10,000 connections refused before the
           password (bad dbname) from one address, counted after a
           restart (which writes every aggregate), and how they were
           answered

Usage: bench/gateway_hostile.py [JITGATE_BINARY [BASELINE_BINARY]] [case ...]
Prints one line per figure (for each binary: with a baseline, e.g. a
build of the commit before a change, both run here one after the other).
Not a test: it asserts nothing."""
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
BINARIES = []
while len(sys.argv) > 1 and os.path.isfile(sys.argv[1]):
    BINARIES.append(os.path.abspath(sys.argv.pop(1)))

import harness  # noqa: E402
import pgwire  # noqa: E402
from harness import Server, free_port, gateway_config, token  # noqa: E402
from pgcluster import PgCluster  # noqa: E402


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def queries(srv):
    return [e for e in srv.audit_events() if e["action"] == "session.query"]


def dropped(srv):
    st, text = srv.http("GET", "/metrics")
    for line in str(text).splitlines():
        if line.startswith("jitgate_audit_dropped_total "):
            return int(line.split()[1])
    return -1


def settle(srv, n=None):
    """Waits until the session.query count stops moving."""
    last, same = -1, 0
    while same < 5:
        c = len(queries(srv))
        same = same + 1 if c == last else 0
        last = c
        time.sleep(0.2)
    return last


def case_flush(srv, gwport):
    c = pgwire.Conn(gwport)
    c.login("alice", "orders-db@read", token("alice"))
    before = settle(srv)
    c.send(pgwire.FLUSH * (1024 * 1024 // 5) + pgwire.query("select 1"))
    c.until_ready()
    c.close()
    print("flush: session.query rows for 1 MB of Flush + 1 Query: %d; "
          "jitgate_audit_dropped_total %d" % (settle(srv) - before, dropped(srv)))


def case_prepared(srv, gwport):
    before = settle(srv)
    env = dict(os.environ, PGPASSWORD=token("alice"))
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as f:
        f.write("select 1;\nselect 2;\nselect 3;\n")
        f.flush()
        subprocess.run(["pgbench", "-n", "-M", "prepared", "-t", "10", "-f",
                        f.name, "-h", "127.0.0.1", "-p", str(gwport), "-U",
                        "alice", "orders-db@read"], env=env, check=True,
                       capture_output=True)
    rows = settle(srv) - before
    print("prepared: session.query rows for pgbench -M prepared -t 10 of 3 "
          "statements: %d (3 statements parsed)" % rows)


def case_gssenc(srv, gwport):
    """Ten clients repeat GSSENCRequest for 3 s without reading."""
    pid = srv.proc.pid
    socks = []
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", gwport))
        s.setblocking(False)
        socks.append(s)
    r0 = rss_kb(pid)
    end = time.time() + 3
    sent = 0
    chunk = pgwire.GSSENC_REQUEST * 8192
    while time.time() < end and socks:
        for s in list(socks):
            try:
                sent += s.send(chunk)
            except BlockingIOError:
                pass
            except OSError:
                socks.remove(s)
        time.sleep(0.001)
    r1 = rss_kb(pid)
    answers = 0
    for s in socks:
        s.settimeout(2)
        try:
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                answers += len(b)
        except OSError:
            pass
        s.close()
    print("gssenc: 10 clients sent %d GSSENCRequests in 3 s reading nothing; "
          "daemon RSS %+d kB (%d -> %d kB); answers then read: %d"
          % (sent // 8, r1 - r0, r0, r1, answers))


def case_emfile(srv, gwport):
    pid = srv.proc.pid
    lines0 = len(srv.logs().splitlines())
    c0 = cpu_s(pid)
    socks = []
    for _ in range(1100):
        try:
            socks.append(socket.create_connection(("127.0.0.1", gwport),
                                                  timeout=2))
        except OSError:
            break
    time.sleep(3)
    lines = len(srv.logs().splitlines()) - lines0
    cpu = cpu_s(pid) - c0
    for s in socks:
        s.close()
    time.sleep(0.5)
    ok = False
    try:
        c = pgwire.Conn(gwport, timeout=10)
        c.login("alice", "orders-db@read", token("alice"))
        c.send(pgwire.query("select 1"))
        c.until_ready()
        c.close()
        ok = True
    except Exception as e:  # noqa: BLE001 - a figure, not a test
        ok = "failed: %s" % e
    print("emfile: %d connections held 3 s at RLIMIT_NOFILE 1024: %d log "
          "lines, %.2f CPU s; login afterwards: %s" % (len(socks), lines, cpu, ok))


def case_preauth(srv, gwport):
    def rows():
        return len([e for e in srv.audit_events()
                    if e["action"] in ("check.denied", "auth.failed")])

    before = rows()
    codes = {}
    for _ in range(10000):
        r = pgwire.login(gwport, "mallory", "", database="orders-db@")
        codes[r.sqlstate] = codes.get(r.sqlstate, 0) + 1
    srv.restart()  # closes every minute: the aggregates are written
    print("preauth: 10,000 refused connections answered %s: %d durable rows"
          % (codes, rows() - before))


CASES = {"preauth": case_preauth, "flush": case_flush, "prepared": case_prepared,
         "gssenc": case_gssenc, "emfile": case_emfile}


def main():
    wanted = sys.argv[1:] or list(CASES)
    pgport, gwport = free_port(), free_port()
    pg = PgCluster(pgport)
    pg.start()
    try:
        for name, binary in [(n, b) for n in wanted for b in BINARIES or [os.path.abspath(harness.JITGATE)]]:
            harness.JITGATE = binary
            print("[%s] " % binary, end="", flush=True)
            pre = None
            if name == "emfile":
                def pre():
                    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
            srv = Server(gateway_config(pgport, gwport), start=False,
                         env={"ORDERS_READ_PASSWORD": "read-pw"})
            srv.preexec_fn = pre
            srv.start()
            try:
                st, body = srv.request("alice", "orders-db", "read", "1h",
                                       reason="bench")
                assert st == 201, body
                CASES[name](srv, gwport)
            finally:
                srv.stop()
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
