"""The PostgreSQL store (design section 12) with the real daemon: where the
password comes from, that it never reaches a log or an error, TLS through
libpq options, a store shared by a restart, and the schema's own rules
(append-only audit, versioned migrations)."""
import os
import subprocess
import sys
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
        self.assertEqual(self.pg.sql("SELECT max(version) FROM schema_version", db=db).strip(), "1")

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


if __name__ == "__main__":
    run(PgStoreTest)
