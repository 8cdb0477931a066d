"""HTTP connection limits under hostile clients (design section 9),
against the real daemon:

- slowloris from one address: past limits.http_connections_per_ip its
  connections are closed at accept, and /healthz and /v1/check keep
  answering for everyone else;
- slowloris from many addresses filling limits.http_connections: a client
  that keeps sending a byte at a time but never completes its request head
  is cut after limits.header_timeout (an inactivity timeout would never
  fire), and near the limit after one second whatever header_timeout says,
  and the service answers again;
- a reload applies header_timeout at once and names the connection
  limits as needing a restart (they keep their running values);
- out of file descriptors (EMFILE): accepting pauses instead of spinning,
  and resumes when descriptors are free.
"""
import json
import os
import resource
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, base_config, run, wait_for  # noqa: E402

LIMITS = """limits:
  header_timeout: 1s
  http_connections: 40
  http_connections_per_ip: 10
"""


class Flood:
    """Sockets that each send a partial request head, then one more byte
    every 200 ms from a thread, so they are never idle."""

    def __init__(self, port, sources):
        self.socks = []
        for src in sources:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                             source_address=(src, 0))
                s.sendall(b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\n")
                self.socks.append(s)
            except OSError:
                pass
        self.stop_ev = threading.Event()
        self.closed = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._dribble, daemon=True)
        self.thread.start()

    def _dribble(self):
        while not self.stop_ev.wait(0.2):
            for i, s in enumerate(self.socks):
                if i in self.closed:
                    continue
                try:
                    s.setblocking(False)
                    try:
                        if s.recv(64) == b"":
                            raise ConnectionResetError()
                    except BlockingIOError:
                        pass
                    s.send(b"X")
                except OSError:
                    with self.lock:
                        self.closed.add(i)

    def n_closed(self):
        with self.lock:
            return len(self.closed)

    def stop(self):
        self.stop_ev.set()
        self.thread.join()
        for s in self.socks:
            s.close()


def healthz(srv):
    st, body = srv.http("GET", "/healthz")
    return st == 200 and body == "ok\n"


class HttpLimitsTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(base_config(extra=LIMITS))

    def tearDown(self):
        self.srv.stop()

    def test_slowloris_from_one_address(self):
        flood = Flood(self.srv.port, ["127.0.0.2"] * 300)
        try:
            # everyone else is served while the flood is open (the harness
            # client comes from 127.0.0.1)
            for _ in range(5):
                self.assertTrue(healthz(self.srv))
                st, body = self.srv.check("alice", "orders-db", "read")
                self.assertEqual(st, 200, body)
            # of the 300, at most the per-address limit was ever held
            wait_for(lambda: flood.n_closed() >= len(flood.socks), timeout=30,
                     what="every flood connection closed")
        finally:
            flood.stop()
        self.assertEqual(flood.n_closed(), len(flood.socks))

    def test_slowloris_from_many_addresses_cut_at_header_timeout(self):
        # 40 addresses, one each: under the per-address limit, together at
        # the total limit
        flood = Flood(self.srv.port, ["127.0.1.%d" % i for i in range(1, 41)])
        try:
            # never idle, yet every one is cut: the head has a deadline
            wait_for(lambda: flood.n_closed() == len(flood.socks), timeout=30,
                     what="dribbling connections cut at header_timeout")
            self.assertEqual(len(flood.socks), 40)
            wait_for(lambda: healthz(self.srv), timeout=30, what="/healthz")
        finally:
            flood.stop()
        self.assertIn("no complete request head", self.srv.logs())

    def test_near_the_limit_slow_heads_are_cut_early(self):
        # header_timeout of an hour: only the pressure rule can free the
        # slots a slowloris from 40 addresses holds
        self.srv.stop()
        self.srv = Server(base_config(extra=LIMITS.replace("header_timeout: 1s",
                                                           "header_timeout: 1h")))
        flood = Flood(self.srv.port, ["127.0.3.%d" % i for i in range(1, 41)])
        # The rule holds at 3/4 of http_connections (30 of 40): it cuts
        # every slow head the daemon holds then.  On a loaded machine the
        # daemon may accept the last of the 40 only after that cut, with
        # so few open that the rule rightly leaves them alone; at most 29
        # may therefore stay, and at least 11 must go, which nothing but
        # the rule can do here (header_timeout is an hour).
        below = 40 * 3 // 4 - 1
        try:
            self.assertEqual(len(flood.socks), 40)
            wait_for(lambda: flood.n_closed() >= len(flood.socks) - below,
                     timeout=30,
                     what="slow heads cut near the connection limit")
            wait_for(lambda: healthz(self.srv), timeout=30, what="/healthz")
        finally:
            flood.stop()

    def test_keepalive_connection_idle_between_requests_is_cut(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=30)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"ok\n" not in data:
            data += s.recv(4096)
        self.assertIn(b"200", data.split(b"\r\n")[0])
        # the next head must come within header_timeout too
        self.assertEqual(s.recv(4096), b"")
        s.close()


class HttpLimitsReloadTest(unittest.TestCase):
    """What a reload does to limits: header_timeout applies to heads
    awaited from then on; the connection limits are libmicrohttpd's, fixed
    at start, so the reload names them and they keep their running
    values."""

    def setUp(self):
        self.slow = LIMITS.replace("header_timeout: 1s", "header_timeout: 1h")
        self.srv = Server(base_config(extra=self.slow))

    def tearDown(self):
        self.srv.stop()

    def reload(self, limits, n):
        self.srv.write_config(base_config(extra=limits))
        self.srv.sighup()
        wait_for(lambda: self.srv.logs().count("config reloaded") >= n,
                 what="reload %d" % n)

    def test_reload_applies_header_timeout_names_connection_limits(self):
        self.reload(self.slow.replace("http_connections_per_ip: 10",
                                      "http_connections_per_ip: 3"), 1)
        self.assertIn("reload: limits.http_connections_per_ip changed, which takes effect "
                      "only at the next restart (the running values stay)",
                      self.srv.logs())
        # the running per-address limit (10) still holds: 5 connections
        # from one address, all open at once, are each served
        socks = []
        try:
            for _ in range(5):
                s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=30)
                socks.append(s)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                data = b""
                while b"ok\n" not in data:
                    chunk = s.recv(4096)
                    self.assertNotEqual(chunk, b"", "closed: the new limit applied")
                    data += chunk
                self.assertIn(b"200", data.split(b"\r\n")[0])
        finally:
            for s in socks:
                s.close()
        # header_timeout applies at once: a head begun after the reload is
        # cut after 1 s (an hour before it)
        self.reload(LIMITS.replace("http_connections_per_ip: 10",
                                   "http_connections_per_ip: 3"), 2)
        # still not what runs: named again
        self.assertEqual(self.srv.logs().count(
            "limits.http_connections_per_ip changed, which takes effect only at the next "
            "restart"), 2, self.srv.logs())
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=30)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
            self.assertEqual(s.recv(4096), b"")
        finally:
            s.close()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class EmfileTest(unittest.TestCase):
    NOFILE = 128

    def setUp(self):
        extra = "limits:\n  http_connections: 1000\n  http_connections_per_ip: 1000\n"
        self.srv = Server(base_config(extra=extra), start=False)
        n = self.NOFILE
        self.srv.preexec_fn = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
        self.srv.start()

    def tearDown(self):
        self.srv.stop()

    def test_out_of_descriptors_pauses_accept(self):
        socks = []
        for _ in range(2 * self.NOFILE):
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5,
                                         source_address=("127.0.0.7", 0))
            socks.append(s)
        fds = "/proc/%d/fd" % self.srv.proc.pid
        try:
            # the daemon is out of descriptors with connections waiting in
            # its backlog: it must wait, not spin on accept()
            wait_for(lambda: len(os.listdir(fds)) >= self.NOFILE - 1,
                     what="the daemon at its descriptor limit")
            # let the burst of accepts that got it there finish (on a
            # loaded machine it spills into the window); a spin on accept()
            # never settles, so the window after it still catches one
            time.sleep(1)
            t0, c0 = time.monotonic(), cpu_seconds(self.srv.proc.pid)
            time.sleep(2)
            used = cpu_seconds(self.srv.proc.pid) - c0
            wall = time.monotonic() - t0
            self.assertLess(used, wall / 2, "daemon burned %.2fs CPU in %.2fs" % (used, wall))
            self.assertLess(len(self.srv.logs().splitlines()), 200)
            # the connections it had no descriptor for were told why
            # (503 + Retry-After, from the reserve descriptor), not left
            # hanging in the backlog
            told = []
            for s in socks:
                s.setblocking(False)
                try:
                    told.append(s.recv(4096))
                except (BlockingIOError, ConnectionResetError):
                    pass
            told = [t for t in told if t]
            self.assertTrue(told, "no waiting connection was answered")
            for t in told:
                self.assertTrue(t.startswith(b"HTTP/1.1 503 "), t[:80])
                self.assertIn(b"Retry-After: 1\r\n", t)
                self.assertEqual(json.loads(t.split(b"\r\n\r\n", 1)[1])["error"]["code"],
                                 "unavailable")
            self.assertIn("accept: Too many open files", self.srv.logs())
        finally:
            for s in socks:
                s.close()
        # descriptors are free again: it accepts and answers
        wait_for(lambda: healthz(self.srv), timeout=60, what="/healthz after EMFILE")


if __name__ == "__main__":
    import unittest as _u
    suite = _u.TestSuite()
    for cls in (HttpLimitsTest, HttpLimitsReloadTest, EmfileTest):
        suite.addTests(_u.defaultTestLoader.loadTestsFromTestCase(cls))
    res = _u.TextTestRunner(verbosity=2).run(suite)
    for case, why in res.skipped:
        print("SKIPPED (counted as failure): %s: %s" % (case.id(), why))
    sys.exit(0 if res.wasSuccessful() and res.testsRun > 0 and not res.skipped else 1)
