"""Fail-safe behaviour when parts are down: the store refusing writes, and
notification targets that are unreachable (the outbox keeps every event,
also across a restart)."""
import hashlib
import hmac
import http.server
import json
import threading
import time
import unittest

from harness import CONTRACTORS_READ, Server, base_config, free_port, run, wait_for


class Receiver:
    """A local HTTP receiver standing in for Slack and a SIEM webhook."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.posts = []
        self.lock = threading.Lock()
        self.httpd = None

    def start(self):
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                with outer.lock:
                    outer.posts.append((self.path, dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def bodies(self, path):
        with self.lock:
            return [json.loads(b) for p, h, b in self.posts if p == path]


class StoreDownTest(unittest.TestCase):
    def setUp(self):
        # PostgreSQL: a store call waits at most half of stale_after (2 s
        # at the least; the server gives up at 3/4 of it), and a batch
        # refused by a lock makes up to three calls (the commit, its
        # locked retry, the head re-read).  The shortest wait keeps a
        # refused write in seconds as on SQLite (its 5 s busy timeout),
        # well inside the harness's 30 s HTTP timeout.  SQLite ignores it.
        self.srv = Server(base_config(extra="stale_after: 4s\n"))

    def tearDown(self):
        self.srv.stop()

    def lock_store(self):
        """Another session holds the store's write lock: every jitgate
        commit fails (after the store's wait; harness.StoreLock)."""
        return self.srv.lock_store()

    def test_writes_fail_closed_and_change_nothing(self):
        s = self.srv
        _, g = s.request("alice", "orders-db", "read", "1h")
        _, p = s.request("alice", "orders-db", "write", "30m", reason="x", ticket="OPS-1")
        before = s.export()
        lock = self.lock_store()
        try:
            st, e = s.request("erik", "orders-db", "read", "1h")
            self.assertEqual(st, 503, e)
            self.assertEqual(e["error"]["code"], "unavailable")
            st, e = s.act("bob", p["id"], "approve")
            self.assertEqual(st, 503, e)
            st, e = s.act("dave", g["id"], "revoke")
            self.assertEqual(st, 503, e)
            # checks keep answering from memory while the store is down
            st, c = s.check("alice", "orders-db", "read")
            self.assertEqual(st, 200)
            self.assertTrue(c["allowed"])
            # a denied check cannot be audited: the caller is told
            st, e = s.check("erik", "orders-db", "read")
            self.assertEqual(st, 503)
            self.assertEqual(s.http("GET", "/readyz")[0], 200)
        finally:
            lock.release()
        # nothing of the refused work happened, and the chain is intact
        self.assertEqual(s.export(), before)
        _, r = s.http("GET", "/v1/requests/%d" % p["id"], "bob")
        self.assertEqual((r["state"], r["approvals"]), ("pending", []))
        _, r = s.http("GET", "/v1/requests/%d" % g["id"], "alice")
        self.assertEqual(r["state"], "active")
        _, lst = s.http("GET", "/v1/requests", "erik")
        self.assertEqual(lst["requests"], [])
        st, v = s.http("GET", "/v1/audit/verify", "erin")
        self.assertTrue(v["ok"])
        # and the store is usable again
        st, r = s.act("bob", p["id"], "approve")
        self.assertEqual((st, len(r["approvals"])), (200, 1))
        _, m = s.http("GET", "/metrics")
        self.assertNotIn("jitgate_store_commit_failures_total 0\n", m)
        # a lock wait that timed out is not another node's append: the
        # batch is refused once, not run again to wait as long a second time
        self.assertNotIn("another node appended", s.logs())

    def test_expiry_enforced_while_store_down(self):
        s = self.srv
        _, g = s.request("alice", "orders-db", "read", "2s")
        lock = self.lock_store()
        try:
            time.sleep(2.2)
            # the expiry cannot be written, but the grant is over: the
            # check is denied, and since that denial cannot be audited the
            # answer is 503, never "allowed"
            st, c = s.check("alice", "orders-db", "read", who="alice")
            self.assertEqual(st, 503, c)
            self.assertNotIn("allowed", c)
        finally:
            lock.release()
        # once the store is back the expiry is recorded, with its real time
        wait_for(lambda: s.http("GET", "/v1/requests/%d" % g["id"], "alice")[1]["state"]
                 == "expired", timeout=15, what="expiry recorded")
        _, r = s.http("GET", "/v1/requests/%d" % g["id"], "alice")
        self.assertEqual(r["ended_at"], r["expires_at"])


    def test_reload_takes_effect_only_once_config_loaded_is_durable(self):
        # engine: effects after commit.  A reload whose config.loaded
        # cannot be written leaves the running config; once it can be, the
        # new config answers only after its event is in the audit log.
        s = self.srv

        def mallory_may_request():
            st, cat = s.http("GET", "/v1/catalog", "mallory")
            self.assertEqual(st, 200, cat)
            return any(e["resource"] == "orders-db" for e in cat["entries"])

        self.assertFalse(mallory_may_request())
        s.write_config(base_config(policies=CONTRACTORS_READ))
        with open(s.config_path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        lock = self.lock_store()
        try:
            s.sighup()
            # either the new config answers (its event cannot be durable:
            # the store is locked) or the reload gives up after the
            # store's wait
            wait_for(lambda: mallory_may_request() or "reload not applied" in s.logs(),
                     timeout=60, what="the reload to be decided")
            self.assertFalse(mallory_may_request(),
                             "the new config took effect before its config.loaded "
                             "was durable")
            self.assertIn("the running config stays", s.logs())
        finally:
            lock.release()
        self.assertEqual([e["detail"]["sha256"] for e in s.audit_events(action="config.loaded")
                          if e["detail"]["sha256"] == digest], [])
        s.sighup()
        wait_for(mallory_may_request, what="the reloaded policy")
        # read at once: by the time the new config answers, its event is in
        self.assertEqual([e["detail"]["sha256"] for e in s.audit_events(action="config.loaded")
                          if e["detail"]["sha256"] == digest], [digest])


class NotifyTest(unittest.TestCase):
    SECRET = "siem-hmac-key-for-tests"

    def config(self, port):
        return base_config(extra="""\
notify:
  - {kind: slack, url: "http://127.0.0.1:%d/slack", events: [request.created]}
  - {kind: webhook, url: "http://127.0.0.1:%d/siem", secret_env: SIEM_KEY, events: ["*"]}
""" % (port, port))

    def test_delivery_signature_and_break_glass(self):
        rx = Receiver().start()
        srv = Server(self.config(rx.port), env={"SIEM_KEY": self.SECRET})
        try:
            srv.request("alice", "orders-db", "write", "30m", reason="outage",
                        break_glass=True)
            wait_for(lambda: len(rx.bodies("/siem")) >= 4, what="siem events")
            with rx.lock:
                siem = [(h, b) for p, h, b in rx.posts if p == "/siem"]
            for headers, body in siem:
                sig = headers.get("X-Jitgate-Signature")
                want = "sha256=" + hmac.new(self.SECRET.encode(), body,
                                            hashlib.sha256).hexdigest()
                self.assertEqual(sig, want)
            actions = [e["action"] for e in rx.bodies("/siem")]
            self.assertIn("request.break_glass", actions)
            # the events are the audit events themselves, chain fields and all
            exported = [json.loads(l) for l in srv.export().strip().split("\n")]
            by_seq = {e["seq"]: e for e in exported}
            for e in rx.bodies("/siem"):
                self.assertEqual(e, by_seq[e["seq"]])
            # slack wants request.created only, but break-glass alerts every channel
            wait_for(lambda: len(rx.bodies("/slack")) >= 2, what="slack messages")
            texts = [m["text"] for m in rx.bodies("/slack")]
            self.assertTrue(any("BREAK-GLASS" in t for t in texts), texts)
            self.assertTrue(any("request.created" in t for t in texts), texts)
            self.assertNotIn(self.SECRET, srv.logs())
        finally:
            srv.stop()
            rx.stop()

    def test_outage_and_restart_lose_nothing(self):
        port = free_port()
        srv = Server(self.config(port), env={"SIEM_KEY": self.SECRET})
        rx = Receiver(port)
        try:
            for _ in range(3):
                srv.request("alice", "orders-db", "read", "1h")
            # the target is down: deliveries fail and are retried
            wait_for(lambda: "notification" in srv.logs() and "failed" in srv.logs(),
                     what="failed delivery logged")
            srv.stop()
            srv.start()
            rx.start()
            n_audit = len(srv.audit_events())
            # every event (all but the config.loaded events written while
            # nobody listened are "*"-subscribed too) arrives exactly once
            wait_for(lambda: len(rx.bodies("/siem")) >= n_audit, timeout=30,
                     what="all events delivered after the outage")
            seqs = sorted(e["seq"] for e in rx.bodies("/siem"))
            self.assertEqual(seqs, list(range(1, n_audit + 1)))
            # the slack rows have their own retry schedule: all of /siem
            # arriving says nothing about them
            wait_for(lambda: len(rx.bodies("/slack")) >= 3, timeout=30,
                     what="all slack messages delivered after the outage")
            self.assertEqual(len(rx.bodies("/slack")), 3)
        finally:
            srv.stop()
            rx.stop()


class FailsafeTest(StoreDownTest, NotifyTest):
    pass


if __name__ == "__main__":
    run(FailsafeTest)
