"""The PostgreSQL store (design section 12) with the real daemon: where the
password comes from, that it never reaches a log or an error, TLS through
libpq options, a store shared by a restart, and the schema's own rules
(append-only audit, versioned migrations)."""
import os
import sqlite3
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import JITGATE, Server, base_config, free_port, run  # noqa: E402
from pgcluster import PASSWORDS, PgCluster  # noqa: E402

PW = PASSWORDS["jitgate"]


class PgStoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster(free_port())
        cls.pg.start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def server(self, storage, env=None, extra="", start=True):
        text = base_config(extra=extra).replace("{STORAGE}", storage)
        env = dict(env or {})
        env.setdefault("PGPASSWORD", "")  # never inherit one by accident
        return Server(text, env=env, start=start)

    def serve_fails(self, srv):
        """Runs serve expecting a prompt non-zero exit; returns its output."""
        p = subprocess.run([JITGATE, "serve", "-c", srv.config_path],
                           capture_output=True, text=True, timeout=30,
                           env=srv.env, cwd=srv.dir)
        self.assertNotEqual(p.returncode, 0)
        return p.stdout + p.stderr

    def test_password_in_url_is_never_logged(self):
        db = self.pg.new_store_db()
        srv = self.server(self.pg.store_url(db))
        try:
            st, body = srv.request("alice", "orders-db", "read")
            self.assertEqual(st, 201, body)
            self.assertEqual(srv.check("alice", "orders-db", "read")[1]["allowed"], True)
        finally:
            srv.stop()
        logs = srv.logs()
        self.assertIn("postgresql://jitgate:***@127.0.0.1", logs)
        self.assertNotIn(PW, logs)
        # the rows are in PostgreSQL
        self.assertEqual(self.pg.sql("SELECT count(*) FROM requests", db=db).strip(), "1")

    def test_password_env(self):
        db = self.pg.new_store_db()
        srv = self.server(self.pg.store_url(db, password=False),
                          env={"JG_DB_PW": PW},
                          extra="storage_password_env: JG_DB_PW\n")
        try:
            self.assertEqual(srv.request("alice", "orders-db", "read")[0], 201)
        finally:
            srv.stop()
        self.assertNotIn(PW, srv.logs())

    def test_password_env_unset_refused(self):
        srv = self.server(self.pg.store_url(self.pg.new_store_db(), password=False),
                          extra="storage_password_env: JG_DB_PW_MISSING\n", start=False)
        out = self.serve_fails(srv)
        self.assertIn("JG_DB_PW_MISSING is not set", out)

    def test_wrong_password_refused_without_echo(self):
        db = self.pg.new_store_db()
        url = self.pg.store_url(db).replace(PW, "Wr0ng-Secret-77")
        srv = self.server(url, start=False)
        out = self.serve_fails(srv)
        self.assertIn("password authentication failed", out)
        self.assertNotIn("Wr0ng-Secret-77", out)
        # and check-config does not echo it either
        p = subprocess.run([JITGATE, "check-config", "-c", srv.config_path],
                           capture_output=True, text=True, timeout=30)
        self.assertNotIn("Wr0ng-Secret-77", p.stdout + p.stderr)

    def test_pgpassfile(self):
        db = self.pg.new_store_db()
        srv = self.server(self.pg.store_url(db, password=False), start=False)
        path = os.path.join(srv.dir, "pgpass")
        with open(path, "w") as f:
            f.write("127.0.0.1:%d:%s:jitgate:%s\n" % (self.pg.port, db, PW))
        os.chmod(path, 0o600)
        srv.env["PGPASSFILE"] = path
        srv.start()
        try:
            self.assertEqual(srv.request("alice", "orders-db", "read")[0], 201)
        finally:
            srv.stop()

    def test_tls_via_libpq_options(self):
        db = self.pg.new_store_db()
        srv = self.server(self.pg.store_url(db, sslmode="require"))
        try:
            self.assertEqual(srv.request("alice", "orders-db", "read")[0], 201)
            # the server saw an SSL connection from the jitgate role
            n = self.pg.sql("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a"
                            " USING (pid) WHERE a.usename = 'jitgate' AND s.ssl",
                            db="postgres").strip()
            self.assertGreater(int(n), 0)
        finally:
            srv.stop()

    def test_restart_keeps_state_and_chain(self):
        db = self.pg.new_store_db()
        srv = self.server(self.pg.store_url(db))
        try:
            st, r = srv.request("alice", "orders-db", "read")
            self.assertEqual(st, 201)
            srv.restart()
            self.assertTrue(srv.check("alice", "orders-db", "read")[1]["allowed"])
            st, body = srv.http("GET", "/v1/audit/verify", "erin")
            self.assertEqual(st, 200)
            self.assertTrue(body["ok"], body)
            # two config.loaded + created + activated
            self.assertEqual(body["count"], 4)
        finally:
            srv.stop()
        # 2: the notices sent per request (reminders, escalated, expiry_warned)
        # 3: each request's Slack channel message (slack_messages)
        # 4: the chain rule a statement at a time (a batch's events in one INSERT)
        self.assertEqual(self.pg.sql("SELECT max(version) FROM schema_version", db=db).strip(), "4")

    def test_audit_table_is_append_only(self):
        db = self.pg.new_store_db()
        srv = self.server(self.pg.store_url(db))
        try:
            srv.request("alice", "orders-db", "read")
        finally:
            srv.stop()
        for sql in ("UPDATE audit SET actor = 'mallory'", "DELETE FROM audit",
                    "TRUNCATE audit", "DELETE FROM audit_head",
                    "INSERT INTO audit (seq, time, action, actor, event, hash)"
                    " VALUES (99, 't', 'config.loaded', 'x', '{}', 'h')"):
            with self.assertRaises(subprocess.CalledProcessError, msg=sql):
                self.pg.sql(sql, db=db)
        srv.start()
        try:
            st, body = srv.http("GET", "/v1/audit/verify", "erin")
            self.assertTrue(body["ok"], body)
        finally:
            srv.stop()


    # ---- jitgate store copy ----

    def copy(self, src, dst, env=None, args=()):
        e = dict(os.environ)
        e.pop("PGPASSWORD", None)
        e.update(env or {})
        p = subprocess.run([JITGATE, "store", "copy", src, dst] + list(args),
                           capture_output=True, text=True, timeout=120, env=e)
        return p.returncode, p.stdout, p.stderr

    def busy_server(self, storage):
        """A server on storage with requests in every state; returns it
        stopped, with what a client saw."""
        srv = self.server(storage)
        seen = {}
        try:
            seen["active"] = srv.request("alice", "orders-db", "read")[1]["id"]
            st, r = srv.request("alice", "orders-db", "write", reason="r", ticket="OPS-1")
            seen["pending"] = r["id"]
            st, r = srv.request("erik", "billing-api", "read")
            seen["revoked"] = r["id"]
            srv.act("erik", r["id"], "revoke", {"reason": "done"})
            srv.check("mallory", "orders-db", "read")  # check.denied
            st, body = srv.http("GET", "/v1/audit/verify", "erin")
            seen["head"] = body["head"]
            seen["count"] = body["count"]
        finally:
            srv.stop()
        return seen

    def assert_same(self, storage, seen):
        srv = self.server(storage)
        try:
            for state, rid in (("active", seen["active"]), ("pending", seen["pending"]),
                               ("revoked", seen["revoked"])):
                st, r = srv.http("GET", "/v1/requests/%d" % rid, "dave")
                self.assertEqual((st, r["state"]), (200, state))
            self.assertTrue(srv.check("alice", "orders-db", "read")[1]["allowed"])
            events = srv.audit_events()
            # the copied chain, then this start's config.loaded after it
            self.assertEqual(events[seen["count"] - 1]["hash"], seen["head"])
            self.assertEqual(events[seen["count"]]["prev"], seen["head"])
            st, body = srv.http("GET", "/v1/audit/verify", "erin")
            self.assertTrue(body["ok"], body)
            # new ids go on after the copied ones
            st, r = srv.request("erik", "orders-db", "read")
            self.assertGreater(r["id"], max(seen["active"], seen["pending"], seen["revoked"]))
        finally:
            srv.stop()

    def test_copy_sqlite_to_postgresql_and_back(self):
        d = tempfile.mkdtemp(prefix="jg-copy-")
        src = "sqlite:" + os.path.join(d, "a.db")
        seen = self.busy_server(src)
        db = self.pg.new_store_db()
        pg_url = self.pg.store_url(db, password=False)
        rc, out, err = self.copy(src, pg_url, env={"JG_PW": PW},
                                 args=["--password-env", "JG_PW"])
        self.assertEqual(rc, 0, err)
        self.assertIn("the chain verifies: head %d %s" % (seen["count"], seen["head"]), out)
        self.assertIn("copied 3 requests, %d audit events" % seen["count"], out)
        self.assertNotIn(PW, out + err)
        self.assert_same(self.pg.store_url(db), seen)

        # and back, into a new SQLite file, password from PGPASSWORD
        back = "sqlite:" + os.path.join(d, "b.db")
        rc, out, err = self.copy(pg_url, back, env={"PGPASSWORD": PW})
        self.assertEqual(rc, 0, err)
        self.assertIn("copied 4 requests", out)
        srv = self.server(back)
        try:
            st, body = srv.http("GET", "/v1/audit/verify", "erin")
            self.assertTrue(body["ok"], body)
            # the PostgreSQL run added config.loaded, created, activated;
            # this start its own config.loaded
            self.assertEqual(body["count"], seen["count"] + 4)
            st, r = srv.http("GET", "/v1/requests/%d" % seen["revoked"], "dave")
            self.assertEqual(r["state"], "revoked")
        finally:
            srv.stop()

    def test_copy_refuses_a_store_that_is_not_empty(self):
        d = tempfile.mkdtemp(prefix="jg-copy-")
        src = "sqlite:" + os.path.join(d, "a.db")
        self.busy_server(src)
        db = self.pg.new_store_db()
        dst = self.pg.store_url(db)
        self.assertEqual(self.copy(src, dst)[0], 0)
        rc, out, err = self.copy(src, dst)
        self.assertEqual(rc, 1)
        self.assertIn("not empty", err)
        self.assertNotIn(PW, err)
        self.assertEqual(self.copy(src, src)[0], 2)
        self.assertEqual(self.copy(src, "mysql://x/y")[0], 2)
        self.assertEqual(self.copy("copy", src)[0], 2)

    def test_copy_refuses_a_broken_chain(self):
        d = tempfile.mkdtemp(prefix="jg-copy-")
        path = os.path.join(d, "a.db")
        self.busy_server("sqlite:" + path)
        # an intruder with file access edits one event (dropping the
        # trigger that forbids it)
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("DROP TRIGGER audit_no_update")
        con.execute("UPDATE audit SET event = replace(event, '\"alice\"', '\"mallory\"')"
                    " WHERE seq = 3")
        con.close()
        db = self.pg.new_store_db()
        rc, out, err = self.copy("sqlite:" + path, self.pg.store_url(db))
        self.assertEqual(rc, 1)
        self.assertIn("does not verify at seq 3", err)
        self.assertEqual(self.pg.sql("SELECT count(*) FROM audit", db=db).strip(), "0")
        self.assertEqual(self.pg.sql("SELECT count(*) FROM requests", db=db).strip(), "0")

    def test_copy_wrong_password_is_not_echoed(self):
        d = tempfile.mkdtemp(prefix="jg-copy-")
        src = "sqlite:" + os.path.join(d, "a.db")
        self.busy_server(src)
        db = self.pg.new_store_db()
        bad = self.pg.store_url(db).replace(PW, "Copy-Secret-55")
        rc, out, err = self.copy(src, bad)
        self.assertEqual(rc, 1)
        self.assertIn("jitgate:***@", err)
        self.assertNotIn("Copy-Secret-55", out + err)


if __name__ == "__main__":
    run(PgStoreTest)
