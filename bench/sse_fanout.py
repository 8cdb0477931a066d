#!/usr/bin/env python3
"""What live pages cost: GET /v1/events with N open streams.

N event streams (default 1,000, from N admin identities: a subject may have
16) stay open while alice makes R requests that are granted at once.  For
each request: the time from sending it to each stream receiving its event
(p50/p99 over every delivery, and the slowest stream per request), and the
request's own latency.  The same R requests are made first with no stream
open, in the same run, as the baseline: printed with their ratio.  Also the
daemon's CPU time per delivered event, and its threads (streams hold none).

Usage: bench/sse_fanout.py [JITGATE_BIN]     env: N (1000), R (50)
Never fails on a figure; exits non-zero only if a run could not be made.
"""
import http.client
import json
import os
import selectors
import socket
import sys
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
if len(sys.argv) > 1:
    os.environ["JITGATE_BIN"] = os.path.abspath(sys.argv[1])
from harness import (DEFAULT_POLICIES, DEFAULT_RESOURCES, USERS, Server,  # noqa: E402
                     identities_yaml, token)

N = int(os.environ.get("N", "1000"))
R = int(os.environ.get("R", "50"))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))] if v else float("nan")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        f = f.read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def open_stream(port, tok):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
               % tok).encode())
    s.setblocking(False)
    return s


def main():
    users = dict(USERS)
    for i in range(N):
        users["watch%d" % i] = ("tok-watch-%06d-0123456789" % i, ["security"])
    cfg = ("listen: {LISTEN}\nstorage: {STORAGE}\npending_ttl: 1h\n"
           "admins: [group:security]\nauditors: [group:audit]\n"
           "limits: {http_connections: %d, http_connections_per_ip: %d}\n"
           % (2 * N + 64, 2 * N + 64)) + identities_yaml(users) + DEFAULT_RESOURCES \
        + DEFAULT_POLICIES
    srv = Server(cfg)
    pid = srv.proc.pid
    api = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    body = json.dumps({"resource": "orders-db", "role": "read", "duration": "5m"})
    hdr = {"Authorization": "Bearer " + token("alice"), "Content-Type": "application/json"}

    def create():
        t0 = time.perf_counter()
        api.request("POST", "/v1/requests", body, hdr)
        r = api.getresponse()
        rid = json.loads(r.read())["id"]
        assert r.status == 201
        return t0, time.perf_counter() - t0, rid

    try:
        base = [create()[1] for _ in range(R)]
        threads_before = threads(pid)
        sel = selectors.DefaultSelector()
        bufs = {}
        for i in range(N):
            s = open_stream(srv.port, users["watch%d" % i][0])
            sel.register(s, selectors.EVENT_READ)
            bufs[s] = b""
        ready = set()
        deadline = time.time() + 120
        while len(ready) < N and time.time() < deadline:
            for key, _ in sel.select(timeout=1):
                bufs[key.fileobj] += key.fileobj.recv(65536)
                if b"event: ready" in bufs[key.fileobj]:
                    ready.add(key.fileobj)
        if len(ready) < N:
            print("only %d of %d streams opened" % (len(ready), N))
            return 1
        for s in bufs:
            bufs[s] = b""
        threads_open = threads(pid)
        lat, slowest, api_lat = [], [], []
        cpu0 = cpu_s(pid)
        for _ in range(R):
            t0, a, rid = create()
            api_lat.append(a)
            want = ('"id":%d,' % rid).encode()
            pending = set(bufs)
            last = 0.0
            while pending:
                for key, _ in sel.select(timeout=10):
                    s = key.fileobj
                    bufs[s] += s.recv(65536)
                    if s in pending and want in bufs[s]:
                        dt = time.perf_counter() - t0
                        lat.append(dt)
                        last = max(last, dt)
                        pending.discard(s)
                        bufs[s] = b""
            slowest.append(last)
        cpu = cpu_s(pid) - cpu0
        print("streams open: %d; daemon threads %d with none, %d with all open"
              % (N, threads_before, threads_open))
        print("request latency, no streams:  p50 %.2f ms  p99 %.2f ms"
              % (pct(base, 50) * 1e3, pct(base, 99) * 1e3))
        print("request latency, %d streams: p50 %.2f ms  p99 %.2f ms  (ratio p50 %.2f)"
              % (N, pct(api_lat, 50) * 1e3, pct(api_lat, 99) * 1e3,
                 pct(api_lat, 50) / pct(base, 50)))
        print("send -> event on a stream (%d deliveries): p50 %.2f ms  p99 %.2f ms"
              % (len(lat), pct(lat, 50) * 1e3, pct(lat, 99) * 1e3))
        print("send -> event on the slowest of %d streams: p50 %.2f ms  p99 %.2f ms"
              % (N, pct(slowest, 50) * 1e3, pct(slowest, 99) * 1e3))
        print("daemon CPU: %.1f us per delivered event (%.2f s for %d events x %d streams)"
              % (cpu / (R * N) * 1e6, cpu, R, N))
        return 0
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())
