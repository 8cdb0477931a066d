"""Several `jitgate serve` nodes on one PostgreSQL store (design section 12),
all real: a PostgreSQL cluster, two or three daemons, psql through their
gateways, kill -9, a PostgreSQL restart, and a TCP proxy that stops
forwarding to cut one node off from the database."""
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, free_port, identities_yaml, run, token, wait_for  # noqa: E402
from pgcluster import PgCluster  # noqa: E402

GW_ENV = {"ORDERS_READ_PASSWORD": "read-pw", "ORDERS_WRITE_PASSWORD": "write-pw"}


def node_config(pgport, gwport, node_id, stale_after="3s", extra_policies=""):
    return ("listen: {LISTEN}\nstorage: {STORAGE}\npending_ttl: 1h\n"
            "admins: [group:security]\nauditors: [group:audit]\n"
            "checkers: [user:svc]\n" + identities_yaml() + f"""
node_id: {node_id}
stale_after: {stale_after}
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
  - name: write-two
    requesters: [group:engineering]
    resources: [orders-db]
    roles: [write]
    max_duration: 1h
    approvals: 2
    approvers: [group:sre, user:carol]
""" + extra_policies)


def listen_local():
    """A listening socket on a free loopback port, and the port."""
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    return lsock, lsock.getsockname()[1]


class Blackhole:
    """A TCP proxy to the database that can stop forwarding: connections
    stay open, bytes stop moving, new connections hang (what a cut network
    looks like to the node)."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.lsock, self.port = listen_local()
        self.blocked = threading.Event()
        self.closing = False
        self.pairs = []
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while not self.closing:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self.pump, args=(c,), daemon=True).start()

    def pump(self, c):
        while self.blocked.is_set() and not self.closing:
            time.sleep(0.05)
        try:
            u = socket.create_connection(self.target)
        except OSError:
            c.close()
            return
        self.pairs.append((c, u))
        socks = [c, u]
        while not self.closing:
            if self.blocked.is_set():
                time.sleep(0.02)
                continue
            r, _, _ = select.select(socks, [], [], 0.05)
            for s in r:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    c.close()
                    u.close()
                    return
                (u if s is c else c).sendall(data)

    def close(self):
        self.closing = True
        self.lsock.close()
        for c, u in self.pairs:
            c.close()
            u.close()


class NotifyDropper:
    """A TCP proxy to the database that forwards everything except the
    server's NotificationResponse messages ('A'): a node behind it never
    hears a NOTIFY (a lost notification, as after a network hiccup or on
    an engine without LISTEN), but its connections otherwise work.  Counts
    what it dropped.  The node must connect with sslmode=disable (the
    proxy reads the protocol)."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.lsock, self.port = listen_local()
        self.dropped = 0
        self.lock = threading.Lock()
        self.socks = []
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                c, _ = self.lsock.accept()
                u = socket.create_connection(self.target)
            except OSError:
                return
            self.socks += [c, u]
            threading.Thread(target=self.pump, args=(c, u, False), daemon=True).start()
            threading.Thread(target=self.pump, args=(u, c, True), daemon=True).start()

    def pump(self, src, dst, drop_notify):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if drop_notify:
                    data, buf = self.without_notifications(buf + data)
                if data:
                    dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def without_notifications(self, buf):
        """The whole messages of buf (type, int32 length) but 'A', and
        the start of an incomplete one."""
        out = b""
        while len(buf) >= 5:
            n = int.from_bytes(buf[1:5], "big") + 1
            if len(buf) < n:
                break
            if buf[:1] == b"A":
                with self.lock:
                    self.dropped += 1
            else:
                out += buf[:n]
            buf = buf[n:]
        return out, buf

    def count(self):
        with self.lock:
            return self.dropped

    def close(self):
        self.lsock.close()
        for s in self.socks:
            s.close()


class HaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster(free_port(), max_connections=300)
        cls.pg.start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def setUp(self):
        self.db = self.pg.new_store_db()
        self.nodes = []

    def tearDown(self):
        for n in self.nodes:
            n.stop(signal.SIGKILL if n.proc and n.proc.poll() is None and
                   getattr(n, "kill_on_stop", False) else signal.SIGTERM)

    def start_node(self, name, storage=None, stale_after="3s", extra_policies=""):
        gw = free_port()
        text = node_config(self.pg.port, gw, name, stale_after, extra_policies).replace(
            "{STORAGE}", storage or self.pg.store_url(self.db))
        n = Server(text, env=GW_ENV)
        n.name, n.gwport = name, gw
        self.nodes.append(n)
        return n

    def sql(self, q):
        return self.pg.sql(q, db=self.db).strip()

    def lease_holder(self):
        return self.sql("SELECT node_id FROM lease WHERE name = 'deadlines'")

    def verify_chain(self, node):
        st, body = node.http("GET", "/v1/audit/verify", "erin")
        self.assertEqual(st, 200, body)
        self.assertTrue(body["ok"], body)
        # one line: seq 1..head, no gap, no duplicate
        seqs = [int(x) for x in self.sql("SELECT seq FROM audit ORDER BY seq").split()]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
        # (an asynchronous event such as session.ended may land in between)
        self.assertEqual(body["count"], body["head_seq"])
        self.assertLessEqual(body["count"], len(seqs))
        # and every node's export verifies offline against the same head
        path = os.path.join(node.dir, "export.jsonl")
        with open(path, "w") as f:
            f.write(node.export())
        rc, out, err = node.cli(["audit", "verify", path])
        self.assertEqual(rc, 0, out + err)
        return body

    def psql(self, node, who, db, sql):
        env = dict(os.environ, PGPASSWORD=token(who))
        env.pop("PGSSLMODE", None)
        return subprocess.Popen(
            ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
             "host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable" %
             (node.gwport, who, db), "-c", sql],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def session_on(self, writer, holder):
        """A read grant requested on writer, and a psql session (a long
        sleep) through holder's gateway once holder admits it; returns
        the request id and the psql process."""
        st, r = writer.request("alice", "orders-db", "read")
        self.assertEqual(st, 201, r)
        rid = r["id"]
        wait_for(lambda: holder.check("alice", "orders-db", "read")[1]["allowed"],
                 what="grant on " + holder.name)
        p = self.psql(holder, "alice", "orders-db@read", "select pg_sleep(60)")
        wait_for(lambda: self.session_started(holder, rid), what="session on " + holder.name)
        return rid, p

    def session_started(self, node, rid):
        return [e for e in node.audit_events(action="session.started")
                if e.get("request_id") == rid]

    # ---- the cases of the issue ----

    def test_request_on_a_approve_on_b_check_on_c(self):
        a, b, c = (self.start_node(n) for n in ("jg-a", "jg-b", "jg-c"))
        st, r = a.request("alice", "orders-db", "write", reason="deploy")
        self.assertEqual(st, 201, r)
        rid = r["id"]
        self.assertEqual(b.act("bob", rid, "approve")[1]["state"], "pending")
        st, r = c.act("carol", rid, "approve")
        self.assertEqual(r["state"], "active", r)
        # C wrote it; A and B learn of it through LISTEN/NOTIFY
        for n in (c, a, b):
            wait_for(lambda n=n: n.check("alice", "orders-db", "write")[1]["allowed"],
                     what="grant on " + n.name)
        # a second approval by bob on another node is still refused
        self.assertEqual(a.act("bob", rid, "approve")[0], 409)
        st, r = b.act("dave", rid, "revoke", {"reason": "done"})
        self.assertEqual(r["state"], "revoked")
        for n in (a, b, c):
            wait_for(lambda n=n: not n.check("alice", "orders-db", "write")[1]["allowed"],
                     what="revoke on " + n.name)
        body = self.verify_chain(a)
        # three config.loaded, created, 2 approved, activated, revoked; the
        # denied checks after the revoke are audited too
        self.assertGreaterEqual(body["count"], 8)
        self.assertEqual(self.sql("SELECT count(*) FROM audit WHERE action = 'config.loaded'"),
                         "3")

    def test_revoke_on_a_cuts_session_on_b(self):
        a, b = self.start_node("jg-a"), self.start_node("jg-b")
        rid, p = self.session_on(a, b)
        st, r = a.act("alice", rid, "revoke", {"reason": "done"})
        self.assertEqual(st, 200, r)
        out, err = p.communicate(timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("FATAL:  jitgate: your grant %d for orders-db as read was revoked" % rid,
                      err)
        self.verify_chain(b)

    def test_grant_expiring_while_its_node_is_killed(self):
        a, b = self.start_node("jg-a", stale_after="2s"), self.start_node("jg-b", stale_after="2s")
        wait_for(lambda: self.lease_holder() in ("jg-a", "jg-b"), what="a lease holder")
        holder = a if self.lease_holder() == "jg-a" else b
        other = b if holder is a else a
        st, r = holder.request("alice", "orders-db", "read", duration="3s")
        self.assertEqual(st, 201, r)
        rid = r["id"]
        wait_for(lambda: other.check("alice", "orders-db", "read")[1]["allowed"],
                 what="grant on the other node")
        holder.proc.kill()  # kill -9: no hand-over of the lease
        holder.proc.wait()
        wait_for(lambda: other.http("GET", "/v1/requests/%d" % rid, "alice")[1]["state"]
                 == "expired", timeout=30, what="expiry by the survivor")
        self.assertEqual(self.lease_holder(), other.name)
        expired = self.sql("SELECT count(*) FROM audit WHERE action = 'request.expired'"
                           " AND request_id = %d" % rid)
        self.assertEqual(expired, "1")
        # the expiry recorded the grant's own end, not the takeover time
        st, req = other.http("GET", "/v1/requests/%d" % rid, "alice")
        self.assertEqual(req["ended_at"], req["expires_at"])
        self.verify_chain(other)

    def test_reminders_fire_once_across_nodes_and_a_kill(self):
        """Reminders and escalation are deadlines like expiry: fired by the
        lease holder only, once each, and taken over by the survivor of a
        kill -9 without a repeat (docs/slack.md)."""
        slow = """\
  - name: sre-write-reminded
    requesters: [group:sre]
    resources: [orders-db]
    roles: [write]
    max_duration: 1h
    approvals: 1
    approvers: [user:carol]
    remind_after: 1s
    escalate_after: 2s
    escalate_to: [user:dave]
"""
        a = self.start_node("jg-a", stale_after="2s", extra_policies=slow)
        b = self.start_node("jg-b", stale_after="2s", extra_policies=slow)
        wait_for(lambda: self.lease_holder() in ("jg-a", "jg-b"), what="a lease holder")
        holder = a if self.lease_holder() == "jg-a" else b
        other = b if holder is a else a
        st, r = other.request("bob", "orders-db", "write", reason="x")
        self.assertEqual(st, 201, r)
        rid = r["id"]

        def reminders():
            rows = self.sql("SELECT event FROM audit WHERE action = 'request.reminded'"
                            " AND request_id = %d ORDER BY seq" % rid)
            return [json.loads(x)["detail"]["reminder"] for x in rows.split("\n") if x]

        wait_for(lambda: len(reminders()) >= 3, timeout=60, what="three reminders")
        holder.proc.kill()  # kill -9: no hand-over of the lease
        holder.proc.wait()
        before = len(reminders())
        wait_for(lambda: len(reminders()) >= before + 2, timeout=60,
                 what="reminders by the survivor")
        self.assertEqual(self.lease_holder(), other.name)
        st, r = other.act("carol", rid, "approve")
        self.assertEqual(r["state"], "active", r)
        got = reminders()
        # once each: strictly increasing counts (missed ones while nobody
        # held the lease are one reminder with the later count)
        self.assertEqual(got, sorted(set(got)), got)
        self.assertEqual(self.sql("SELECT count(*) FROM audit WHERE action ="
                                  " 'request.escalated' AND request_id = %d" % rid), "1")
        # the request's mark is the last count
        self.assertEqual(self.sql("SELECT reminders FROM requests WHERE id = %d" % rid),
                         str(got[-1]))
        self.verify_chain(other)

    def test_kill9_under_load_loses_nothing_acknowledged(self):
        nodes = [self.start_node(n) for n in ("jg-a", "jg-b", "jg-c")]
        acked, lock, stop = [], threading.Lock(), threading.Event()

        def load(node):
            while not stop.is_set():
                try:
                    st, r = node.request("alice", "orders-db", "read", duration="1h")
                except Exception:
                    continue  # the node died under us: not acknowledged
                if st == 201:
                    with lock:
                        acked.append(r["id"])

        threads = [threading.Thread(target=load, args=(n,)) for n in nodes for _ in range(3)]
        for t in threads:
            t.start()
        wait_for(lambda: len(acked) >= 60, timeout=60, what="load")
        nodes[1].proc.kill()
        nodes[1].proc.wait()
        n_at_kill = len(acked)
        wait_for(lambda: len(acked) >= n_at_kill + 60, timeout=60, what="load after kill")
        stop.set()
        for t in threads:
            t.join()
        stored = set(int(x) for x in self.sql("SELECT id FROM requests").split())
        self.assertTrue(set(acked) <= stored, set(acked) - stored)
        created = set(int(x) for x in self.sql(
            "SELECT request_id FROM audit WHERE action = 'request.created'").split())
        self.assertTrue(set(acked) <= created)
        # every survivor sees every acknowledged grant's request
        for n in (nodes[0], nodes[2]):
            for rid in acked[-5:]:
                st, r = n.http("GET", "/v1/requests/%d" % rid, "alice")
                self.assertEqual(r["state"], "active")
        self.verify_chain(nodes[0])

    def test_postgres_restart_under_load(self):
        a, b = self.start_node("jg-a", stale_after="10s"), self.start_node("jg-b", stale_after="10s")
        acked, lock, stop = [], threading.Lock(), threading.Event()

        def load(node):
            while not stop.is_set():
                st, r = node.request("alice", "orders-db", "read", duration="1h")
                if st == 201:
                    with lock:
                        acked.append(r["id"])
                elif st != 503:
                    raise AssertionError((st, r))

        threads = [threading.Thread(target=load, args=(n,)) for n in (a, b) for _ in range(2)]
        for t in threads:
            t.start()
        wait_for(lambda: len(acked) >= 30, timeout=60, what="load")
        self.pg.restart()
        n_at_restart = len(acked)
        wait_for(lambda: len(acked) >= n_at_restart + 30, timeout=60, what="load after restart")
        stop.set()
        for t in threads:
            t.join()
        stored = set(int(x) for x in self.sql("SELECT id FROM requests").split())
        self.assertTrue(set(acked) <= stored)
        # LISTEN is back on both: a revoke on one reaches the other
        st, r = a.request("erik", "orders-db", "read")
        rid = r["id"]
        wait_for(lambda: b.check("erik", "orders-db", "read")[1]["allowed"], what="grant on b")
        b.act("erik", rid, "revoke")
        wait_for(lambda: not a.check("erik", "orders-db", "read")[1]["allowed"],
                 what="revoke on a")
        self.verify_chain(b)

    def test_partitioned_node_denies_and_cuts_after_stale_after(self):
        proxy = Blackhole(self.pg.port)
        try:
            a = self.start_node("jg-a", storage=self.pg.store_url(self.db).replace(
                ":%d/" % self.pg.port, ":%d/" % proxy.port), stale_after="2s")
            b = self.start_node("jg-b", stale_after="2s")
            rid, p = self.session_on(b, a)
            t0 = time.monotonic()
            proxy.blocked.set()
            # a: stale_after after its last answer from the database (one
            # beat, stale_after/6, before the block at most), never sooner,
            # it denies and cuts
            wait_for(lambda: a.http("GET", "/readyz")[0] == 503, timeout=30,
                     what="a not ready")
            self.assertGreaterEqual(time.monotonic() - t0, 2.0 * 5 / 6)
            st, text = a.http("GET", "/readyz")
            self.assertIn("cut off from the store", text)
            st, body = a.check("alice", "orders-db", "read")
            self.assertFalse(st == 200 and body.get("allowed"), (st, body))
            out, err = p.communicate(timeout=30)
            self.assertIn("ended (the access store is unreachable)", err)
            # writes are refused at once, nothing is changed
            self.assertEqual(a.request("erik", "orders-db", "read")[0], 503)
            # b is not affected
            self.assertTrue(b.check("alice", "orders-db", "read")[1]["allowed"])
            self.assertEqual(b.http("GET", "/readyz")[0], 200)
            # the network comes back: a catches up and admits again
            proxy.blocked.clear()
            wait_for(lambda: a.http("GET", "/readyz")[0] == 200, timeout=30, what="a ready")
            wait_for(lambda: a.check("alice", "orders-db", "read")[1]["allowed"],
                     what="grant on a again")
            self.assertEqual(self.sql("SELECT count(*) FROM requests WHERE requester = 'erik'"),
                             "0")
            self.verify_chain(a)
        finally:
            for n in self.nodes:
                n.stop()
            self.nodes = []
            proxy.close()

    def test_lost_notifications_revoke_still_reaches_the_node(self):
        """No NOTIFY reaches node b (a proxy drops them): b learns of a
        revoke on a by the catch-up by seq of its watch's beat (design
        section 12), and cuts the session through its gateway."""
        proxy = NotifyDropper(self.pg.port)
        try:
            url = self.pg.store_url(self.db, sslmode="disable", gssencmode="disable").replace(
                ":%d/" % self.pg.port, ":%d/" % proxy.port)
            a, b = self.start_node("jg-a"), self.start_node("jg-b", storage=url)
            rid, p = self.session_on(a, b)
            before = proxy.count()
            st, r = a.act("alice", rid, "revoke", {"reason": "done"})
            self.assertEqual(st, 200, r)
            revoked = int(self.sql("SELECT max(seq) FROM audit WHERE action = 'request.revoked'"))
            out, err = p.communicate(timeout=30)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("FATAL:  jitgate: your grant %d for orders-db as read was revoked"
                          % rid, err)
            # the revoke's notification was sent and never reached b
            wait_for(lambda: proxy.count() > before, what="a dropped notification")
            # b wrote nothing between the revoke and the cut (a write of its
            # own would have caught up too): only the session's end follows
            after = self.sql("SELECT action FROM audit WHERE seq > %d ORDER BY seq" % revoked)
            self.assertEqual(set(after.split()) - {"session.ended"}, set(), after)
            self.assertFalse(b.check("alice", "orders-db", "read")[1]["allowed"])
            self.verify_chain(b)
        finally:
            for n in self.nodes:
                n.stop()
            self.nodes = []
            proxy.close()

    def test_reads_answer_503_at_once_while_the_database_is_silent(self):
        """HTTP threads never wait on a silent database: once it has not
        answered the watch for two beats, listings, the audit log and
        one request answer 503 at once (metrics leave the store's counts
        out), checks are answered from memory meanwhile, and a burst of
        reads far beyond the two HTTP threads is answered, not queued
        behind waits of seconds each (stale_after 30 s: the node is not
        cut off during this test)."""
        proxy = Blackhole(self.pg.port)
        try:
            a = self.start_node("jg-a", stale_after="30s", storage=self.pg.store_url(
                self.db).replace(":%d/" % self.pg.port, ":%d/" % proxy.port))
            st, r = a.request("alice", "orders-db", "read")
            self.assertEqual(st, 201, r)
            rid = r["id"]
            self.assertEqual(a.http("GET", "/v1/requests", "erin")[0], 200)
            proxy.blocked.set()
            wait_for(lambda: a.http("GET", "/v1/requests", "erin")[0] == 503, timeout=60,
                     what="listing refused")
            paths = ["/v1/requests", "/v1/audit", "/v1/requests/%d" % rid, "/metrics"] * 8
            results = [None] * len(paths)

            def get(i):
                results[i] = a.http("GET", paths[i], "erin")
            threads = [threading.Thread(target=get, args=(i,)) for i in range(len(paths))]
            for t in threads:
                t.start()
            self.assertTrue(a.check("alice", "orders-db", "read")[1]["allowed"])
            for t in threads:
                t.join()
            for path, (st, body) in zip(paths, results):
                if path == "/metrics":
                    self.assertEqual(st, 200, body)
                    self.assertNotIn('jitgate_requests{state="active"} 1', body)
                else:
                    self.assertEqual(st, 503, (path, body))
            self.assertEqual(a.http("GET", "/readyz")[0], 200)
            self.assertTrue(a.check("alice", "orders-db", "read")[1]["allowed"])
            proxy.blocked.clear()
            wait_for(lambda: a.http("GET", "/v1/requests", "erin")[0] == 200, timeout=60,
                     what="listing again")
            st, body = a.http("GET", "/metrics", "erin")
            self.assertIn('jitgate_requests{state="active"} 1', body)
        finally:
            for n in self.nodes:
                n.stop()
            self.nodes = []
            proxy.close()

    def test_forged_notifications_change_nothing(self):
        a, b = self.start_node("jg-a"), self.start_node("jg-b")
        for payload in ("garbage", "-1", "99999999999999", "", "1" * 200):
            self.pg.sql("NOTIFY jitgate, '%s'" % payload, db=self.db)
        st, r = a.request("alice", "orders-db", "read")
        wait_for(lambda: b.check("alice", "orders-db", "read")[1]["allowed"], what="grant on b")
        b.act("alice", r["id"], "revoke")
        wait_for(lambda: not a.check("alice", "orders-db", "read")[1]["allowed"],
                 what="revoke on a")
        self.verify_chain(a)


if __name__ == "__main__":
    run(HaTest)
