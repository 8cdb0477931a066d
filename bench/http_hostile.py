#!/usr/bin/env python3
"""Hostile-client figures for the HTTP API (design section 9), measured
against the real daemon with its default limits:

  logins    one client sends failed logins (a wrong bearer token, a new
            connection each) as fast as it can for 3 s: attempts per
            second, answers by status, and the auth.failed rows made
            durable; then whether a valid token from that address works
  slowloris 4,100 connections (41 addresses x 100) that send a partial
            request head and then a byte every 2 s; /healthz and
            /v1/check are asked every 100 ms from another address for
            15 s: answered, failed, max latency

Usage: bench/http_hostile.py [JITGATE_BINARY [BASELINE_BINARY]] [case ...]
With a baseline binary (e.g. a build of the commit before a change) both
are measured in this run, one after the other.  Not a test: it asserts
nothing."""
import http.client
import json
import os
import resource
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
BINARIES = []
while len(sys.argv) > 1 and os.path.isfile(sys.argv[1]):
    BINARIES.append(os.path.abspath(sys.argv.pop(1)))

import harness  # noqa: E402
from harness import Server, base_config, token  # noqa: E402


def request(port, method, path, tok=None, src="127.0.0.1", body=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                   source_address=(src, 0))
    h = {"Authorization": "Bearer " + tok} if tok else {}
    if body is not None:
        body = json.dumps(body)
        h["Content-Type"] = "application/json"
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def audit_rows(srv, action):
    n, after = 0, 0
    while True:
        st, body = srv.http("GET", "/v1/audit?action=%s&limit=1000&after=%d" % (action, after),
                            "erin")
        if st != 200 or not body["events"]:
            return n
        n += len(body["events"])
        after = body["next_after"]


def case_logins(label):
    srv = Server(base_config())
    try:
        src = "127.0.0.3"
        statuses = {}
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 3:
            st = request(srv.port, "GET", "/v1/whoami", tok="guess-%d" % n, src=src)
            statuses[st] = statuses.get(st, 0) + 1
            n += 1
        rate = n / (time.monotonic() - t0)
        time.sleep(1)  # let queued events land
        rows = audit_rows(srv, "auth.failed")
        ok = request(srv.port, "GET", "/v1/whoami", tok=token("alice"), src=src)
        print("%-10s logins    attempts=%d per_s=%.0f statuses=%s auth_failed_rows=%d "
              "valid_token_after=%d" % (label, n, rate, dict(sorted(statuses.items())), rows, ok),
              flush=True)
    finally:
        srv.stop()


def case_slowloris(label):
    srv = Server(base_config())
    socks, stop = [], threading.Event()
    try:
        for a in range(41):
            for _ in range(100):
                try:
                    s = socket.create_connection(("127.0.0.1", srv.port), timeout=2,
                                                 source_address=("127.0.2.%d" % (a + 1), 0))
                    s.sendall(b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\n")
                    s.setblocking(False)
                    socks.append(s)
                except OSError:
                    pass

        def dribble():
            while not stop.wait(2):
                for s in socks:
                    try:
                        s.send(b"X")
                    except OSError:
                        pass
        th = threading.Thread(target=dribble, daemon=True)
        th.start()
        ok = failed = 0
        worst = 0.0
        t0 = time.monotonic()
        while time.monotonic() - t0 < 15:
            for path, body in (("/healthz", None),
                               ("/v1/check", {"subject": "alice", "resource": "orders-db",
                                              "role": "read"})):
                t1 = time.monotonic()
                try:
                    st = request(srv.port, "POST" if body else "GET", path,
                                 tok=token("svc") if body else None, body=body, timeout=10)
                    ok += st == 200
                    failed += st != 200
                except OSError:
                    failed += 1
                worst = max(worst, time.monotonic() - t1)
            time.sleep(0.1)
        print("%-10s slowloris connections_opened=%d answered=%d failed=%d max_latency_s=%.3f"
              % (label, len(socks), ok, failed, worst), flush=True)
    finally:
        stop.set()
        for s in socks:
            s.close()
        srv.stop()


CASES = {"logins": case_logins, "slowloris": case_slowloris}


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    wanted = sys.argv[1:] or list(CASES)
    for name in wanted:
        for binary in BINARIES or [os.path.abspath(harness.JITGATE)]:
            harness.JITGATE = binary
            CASES[name](os.path.basename(os.path.dirname(binary)) or "jitgate")


if __name__ == "__main__":
    main()
