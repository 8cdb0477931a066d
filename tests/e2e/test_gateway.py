"""The PostgreSQL gateway through the real daemon (`jitgate serve` with a
`gateway:` section) against a throwaway PostgreSQL cluster, with real psql
and pgbench: queries, prepared statements, COPY both ways, cancel, many
sessions, refusals (including cleartext from a non-loopback address), and
live sessions cut by revoke and by expiry."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, free_port, gateway_config as config, run, token, wait_for  # noqa: E402
from pgcluster import ClusterTestCase  # noqa: E402

PG = None


class RemoteClientHost:
    """A test host of our own: a network namespace joined to this one by a
    veth pair, so that a client reaches the gateway from a non-loopback
    address without any traffic leaving the machine."""

    def __init__(self):
        n = os.getpid() % 200 + 20
        self.ns = "jg-gw-%d" % os.getpid()
        self.host_if, self.ns_if = "jgh%d" % os.getpid(), "jgn%d" % os.getpid()
        self.host_ip, self.client_ip = "10.231.%d.1" % n, "10.231.%d.2" % n

    def __enter__(self):
        cmds = [
            ["ip", "netns", "add", self.ns],
            ["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if],
            ["ip", "link", "set", self.ns_if, "netns", self.ns],
            ["ip", "addr", "add", self.host_ip + "/30", "dev", self.host_if],
            ["ip", "link", "set", self.host_if, "up"],
            ["ip", "netns", "exec", self.ns, "ip", "addr", "add", self.client_ip + "/30",
             "dev", self.ns_if],
            ["ip", "netns", "exec", self.ns, "ip", "link", "set", self.ns_if, "up"],
            ["ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up"],
        ]
        for c in cmds:
            subprocess.run(c, check=True, capture_output=True)
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)

    def run(self, args, **kw):
        return subprocess.run(["ip", "netns", "exec", self.ns] + args, **kw)


class GatewayTest(ClusterTestCase):
    def setUp(self):
        self.gwport = free_port()
        # listen on all addresses so that a client can come from the test
        # host's veth address
        self.srv = Server(config(self.pgport, self.gwport, "0.0.0.0"),
                          env={"ORDERS_READ_PASSWORD": "read-pw",
                               "ORDERS_WRITE_PASSWORD": "write-pw"})

    def tearDown(self):
        self.srv.stop()

    # helpers
    def grant(self, who, role, duration="30m"):
        st, body = self.srv.request(who, "orders-db", role, duration,
                                    reason="gateway test")
        self.assertEqual(st, 201, body)
        self.assertEqual(body["state"], "active", body)
        return body["id"]

    def env(self, who, password=None):
        e = dict(os.environ)
        e["PGPASSWORD"] = password if password is not None else token(who)
        e.pop("PGSSLMODE", None)
        return e

    def dsn(self, who, db, host="127.0.0.1", sslmode="disable"):
        return (f"host={host} port={self.gwport} user={who} dbname={db} "
                f"sslmode={sslmode} connect_timeout=10")

    def psql(self, who, db, *cmds, password=None, host="127.0.0.1",
             sslmode="disable", timeout=60):
        args = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
                self.dsn(who, db, host, sslmode)]
        for c in cmds:
            args += ["-c", c]
        return subprocess.run(args, capture_output=True, text=True,
                              env=self.env(who, password), timeout=timeout)

    def popen_psql(self, who, db, *cmds):
        args = ["psql", "-X", "-At", self.dsn(who, db)]
        for c in cmds:
            args += ["-c", c]
        return subprocess.Popen(args, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env=self.env(who))

    def upstream_running(self, fragment):
        """How many upstream backends (other than ours) run a statement
        containing fragment."""
        out = self.pg.sql("select count(*) from pg_stat_activity where "
                          "state = 'active' and pid <> pg_backend_pid() and "
                          "query like '%%%s%%'" % fragment.replace("'", "''"))
        return int(str(out).strip().split()[-1])

    def events(self, action):
        return [e for e in self.srv.audit_events() if e["action"] == action]

    # tests
    def test_query_and_audit(self):
        rid = self.grant("alice", "read")
        r = self.psql("alice", "orders-db@read",
                      "select name from items where id = 42")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "item 42")
        # role left out: alice holds exactly one role there
        r = self.psql("alice", "orders-db", "select current_user")
        self.assertEqual(r.stdout.strip(), "jit_read", r.stderr)
        started = wait_for(lambda: self.events("session.started"),
                           what="session.started")
        self.assertEqual(started[0]["subject"], "alice")
        self.assertEqual(started[0]["request_id"], rid)
        self.assertIn("127.0.0.1", started[0]["detail"]["client"])
        q = wait_for(lambda: [e for e in self.events("session.query")
                              if "id = 42" in e["detail"]["statement"]],
                     what="session.query")
        self.assertEqual(q[0]["resource"], "orders-db")
        ended = wait_for(lambda: self.events("session.ended"),
                         what="session.ended")
        self.assertIn("duration_ms", ended[0]["detail"])
        self.assertGreater(ended[0]["detail"]["bytes_out"], 0)
        # the token never reaches the audit log
        self.assertNotIn(token("alice"), self.srv.export())

    def test_pgbench_prepared_and_many_sessions(self):
        self.grant("alice", "read")
        with tempfile.NamedTemporaryFile("w", suffix=".sql") as f:
            f.write("\\set id random(1, 100)\n"
                    "select name from items where id = :id;\n")
            f.flush()
            for extra in (["-M", "prepared", "-c", "4", "-t", "200"],
                          ["-C", "-c", "20", "-t", "5"]):
                r = subprocess.run(
                    ["pgbench", "-n", "-f", f.name] + extra +
                    ["-h", "127.0.0.1", "-p", str(self.gwport), "-U",
                     "alice", "orders-db@read"],
                    capture_output=True, text=True, env=self.env("alice"),
                    timeout=120)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                want = 4 * 200 if "-M" in extra else 20 * 5
                self.assertIn("number of transactions actually processed: "
                              f"{want}/{want}", r.stdout)
        # 20 sessions open at the same time
        procs = [self.popen_psql("alice", "orders-db@read",
                                 "select pg_sleep(1)", f"select {i}")
                 for i in range(20)]
        for i, p in enumerate(procs):
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
            self.assertEqual(out.split()[-1], str(i))

    def test_copy_both_ways(self):
        self.grant("alice", "write")
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "in.tsv")
            dst = os.path.join(d, "out.tsv")
            with open(src, "w") as f:
                for i in range(5000):
                    f.write(f"{i}\trow {i}\n")
            r = self.psql("alice", "orders-db@write",
                          "create temp table t (a int, b text)",
                          f"\\copy t from '{src}'",
                          "select count(*), sum(a) from t",
                          f"\\copy (select * from t order by a) to '{dst}'")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("5000|12497500", r.stdout)
            with open(dst) as f:
                self.assertEqual(f.read(), open(src).read())

    def test_cancel_long_query(self):
        self.grant("alice", "read")
        p = self.popen_psql("alice", "orders-db@read", "select pg_sleep(60)")
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)  # psql sends a CancelRequest
        out, err = p.communicate(timeout=30)
        self.assertIn("canceling statement due to user request", err)

    def test_refusals(self):
        self.grant("alice", "read")
        cases = [
            ("alice", None, "orders-db@write", "no active grant for orders-db as write"),
            ("alice", "not-a-token", "orders-db@read", "password authentication failed"),
            ("alice", token("bob"), "orders-db@read", "password authentication failed"),
            ("alice", None, "nope-db", 'no PostgreSQL resource named "nope-db"'),
            ("alice", None, "billing-api", "no PostgreSQL resource"),
            ("alice", None, "orders-db@admin", 'has no role "admin"'),
            ("bob", None, "orders-db@read", "no active grant"),
        ]
        for who, pw, db, msg in cases:
            r = self.psql(who, db, "select 1", password=pw)
            self.assertNotEqual(r.returncode, 0, (db, r.stdout))
            self.assertIn(msg, r.stderr, (who, db))
            self.assertNotIn("tok-", r.stderr)
        r = self.psql("alice", "orders-db@write", "select 1")
        self.assertIn("jitgate request orders-db write --for", r.stderr)
        denied = wait_for(lambda: [e for e in self.events("check.denied")
                                   if e["detail"].get("reason") == "no_grant"],
                          what="check.denied")
        self.assertEqual(denied[0]["detail"]["via"], "gateway")
        wait_for(lambda: self.events("auth.failed"), what="auth.failed")

    def test_tls_required_off_loopback(self):
        """A client on another host (our own network namespace) is refused
        in cleartext and admitted over TLS."""
        d = tempfile.mkdtemp(prefix="jg-gw-tls-")
        cert, key = os.path.join(d, "gw.crt"), os.path.join(d, "gw.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-subj", "/CN=jitgate-gateway-test", "-days", "1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        self.srv.stop()
        self.srv = Server(config(self.pgport, self.gwport, "0.0.0.0", (cert, key)),
                          env={"ORDERS_READ_PASSWORD": "read-pw",
                               "ORDERS_WRITE_PASSWORD": "write-pw"})
        self.grant("alice", "read")
        with RemoteClientHost() as remote:
            def psql(sslmode):
                return remote.run(["psql", "-X", "-At", "-c", "select 'remote-ok'",
                                   self.dsn("alice", "orders-db@read", remote.host_ip,
                                            sslmode)],
                                  capture_output=True, text=True, env=self.env("alice"),
                                  timeout=60)
            r = psql("disable")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("TLS is required", r.stderr)
            self.assertNotIn("tok-", r.stderr)
            r = psql("require")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), "remote-ok")
        denied = wait_for(lambda: [e for e in self.events("check.denied")
                                   if e["detail"].get("reason") == "tls_required"],
                          what="tls_required")
        self.assertIn(remote.client_ip, denied[0]["detail"]["client"])
        started = wait_for(lambda: self.events("session.started"), what="session")
        self.assertTrue(started[-1]["detail"]["tls"])
        self.assertIn(remote.client_ip, started[-1]["detail"]["client"])

    def test_revoke_cuts_live_session(self):
        rid = self.grant("alice", "read")
        p = self.popen_psql("alice", "orders-db@read", "select pg_sleep(60)")
        wait_for(lambda: self.events("session.started"), what="session")
        time.sleep(0.5)
        st, body = self.srv.act("alice", rid, "revoke", {"reason": "done"})
        self.assertEqual(st, 200, body)
        out, err = p.communicate(timeout=30)
        self.assertIn(f"FATAL:  jitgate: your grant {rid} for orders-db as "
                      "read was revoked", err)
        ended = wait_for(lambda: self.events("session.ended"), what="ended")
        self.assertEqual(ended[0]["detail"]["why"], "revoked")
        # the statement that was running upstream is cancelled, not left
        # to run out its 60 s
        wait_for(lambda: self.upstream_running("pg_sleep(60)") == 0,
                 timeout=10, what="upstream statement cancelled")
        # and a new login is refused at once
        r = self.psql("alice", "orders-db@read", "select 1")
        self.assertIn("no active grant", r.stderr)

    def test_expiry_cuts_idle_and_streaming_sessions(self):
        rid = self.grant("alice", "read", duration="4s")
        idle = self.popen_psql("alice", "orders-db@read", "select pg_sleep(60)")
        # a result streaming when the grant runs out
        stream = subprocess.Popen(
            ["psql", "-X", "-At", self.dsn("alice", "orders-db@read"), "-c",
             "copy (select g, repeat('x', 500) from "
             "generate_series(1, 1000000000) g) to stdout"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=self.env("alice"))
        for p in (idle, stream):
            _, err = p.communicate(timeout=60)
            self.assertIn(f"jitgate: your grant {rid} for orders-db as read "
                          "expired at", err)
        wait_for(lambda: self.upstream_running("pg_sleep(60)") == 0 and
                 self.upstream_running("generate_series(1, 1000000000)") == 0,
                 timeout=10, what="upstream statements cancelled")

    def test_overlapping_grants(self):
        a = self.grant("alice", "read", duration="1h")
        b = self.grant("alice", "read", duration="2h")
        p = self.popen_psql("alice", "orders-db@read", "select pg_sleep(3)",
                            "select 'alive'")
        wait_for(lambda: self.events("session.started"), what="session")
        used = self.events("session.started")[0]["request_id"]
        other = a if used == b else b
        st, _ = self.srv.act("alice", used, "revoke")
        self.assertEqual(st, 200)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("alive", out)
        # the remaining grant ending does cut
        p = self.popen_psql("alice", "orders-db@read", "select pg_sleep(60)")
        wait_for(lambda: len(self.events("session.started")) == 2, what="2nd")
        time.sleep(0.3)
        st, _ = self.srv.act("alice", other, "revoke")
        self.assertEqual(st, 200)
        _, err = p.communicate(timeout=30)
        self.assertIn("was revoked", err)


if __name__ == "__main__":
    run(GatewayTest)
