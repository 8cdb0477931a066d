"""`jitgate selftest` against the real daemon with its PostgreSQL gateway
in front of a real PostgreSQL, and a real OIDC provider: every check
passes on a healthy deployment and reports the latencies it measured; it
fails with a clear report when the store refuses writes or the IdP is
down; and its own powers stay narrow (it reads only its own audit events,
and other identities cannot read its configuration)."""
import json
import os
import subprocess
import sys
import threading
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (JITGATE, USERS, Server, free_port, identities_yaml,  # noqa: E402
                     run, sha256_hex)
from pgcluster import PgCluster  # noqa: E402

SELFTEST_TOKEN = "tok-selftest-0123456789"


def config(pgport, gwport, extra=""):
    users = dict(USERS)
    users["jg-selftest"] = (SELFTEST_TOKEN, ["selftest"])
    return ("listen: {LISTEN}\nstorage: {STORAGE}\npending_ttl: 1h\n"
            "admins: [group:security]\nauditors: [group:audit]\n"
            "checkers: [user:svc]\n" + identities_yaml(users) + f"""
gateway:
  postgres_listen: 127.0.0.1:{gwport}
resources:
  - name: orders-db
    kind: postgres
    upstream: {{host: 127.0.0.1, port: {pgport}, dbname: orders}}
    roles:
      read:  {{user: jit_read,  password_env: ORDERS_READ_PASSWORD}}
  - name: selftest-db
    kind: postgres
    upstream: {{host: 127.0.0.1, port: {pgport}, dbname: orders}}
    roles:
      probe: {{user: jit_read, password_env: ORDERS_READ_PASSWORD}}
  - name: selftest-api
    kind: generic
    roles: {{probe: {{}}}}
policies:
  - name: engineers-read
    requesters: [group:engineering]
    resources: [orders-db]
    roles: [read]
    max_duration: 4h
    approvals: 0
  - name: selftest
    requesters: [user:jg-selftest]
    resources: [selftest-api, selftest-db]
    roles: [probe]
    max_duration: 10m
    approvals: 0
selftest:
  subject: jg-selftest
  resource: selftest-api
  postgres_resource: selftest-db
""" + extra)


def selftest(srv, *args, token=SELFTEST_TOKEN):
    env = dict(srv.env)
    env["JITGATE_TOKEN"] = token
    env.pop("JITGATE_ADDR", None)
    p = subprocess.run([JITGATE, "selftest", "--addr", srv.url] + list(args),
                       capture_output=True, text=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def lines_of(out, word):
    return [l for l in out.splitlines() if l.startswith(word)]


class SelftestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pgport = free_port()
        cls.pg = PgCluster(cls.pgport)
        cls.pg.start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def setUp(self):
        # stale_after 4s: on PostgreSQL a write refused by a held lock is
        # answered after 1.5 s server-side waits instead of 7.5 s ones
        # (test_failsafe.StoreDownTest says why); SQLite ignores it
        self.srv = Server(config(self.pgport, free_port(), extra="stale_after: 4s\n"),
                          env={"ORDERS_READ_PASSWORD": "read-pw"})

    def tearDown(self):
        self.srv.stop()

    def test_healthy_deployment_passes(self):
        junit = os.path.join(self.srv.dir, "selftest.xml")
        rc, out, err = selftest(self.srv, "--junit", junit)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(lines_of(out, "FAIL"), [])
        last = out.rstrip("\n").split("\n")[-1]
        self.assertRegex(last, r"^\d+ passed, 0 failed$")
        for area, name in [
                ("boundaries", "deny by default"),
                ("boundaries", "asking about another subject is refused"),
                ("boundaries", "reading the whole audit log is refused"),
                ("boundaries", "approving its own grant is refused"),
                ("boundaries", "the gateway refuses a subject without a grant"),
                ("timeout", "a grant is live at once"),
                ("timeout", "a revoke denies the next check"),
                ("timeout", "a short grant expires on time"),
                ("timeout", "a revoke cuts the live session"),
                ("timeout", "expiry cuts the live session"),
                ("integration", "upstream reachable through the gateway"),
                ("integration", "every upstream reachable from the daemon"),
                ("audit", "every action is in the log"),
                ("audit", "the chain verifies"),
                ("fail-safe", "store answers"),
                ("fail-safe", "audit writer ready"),
                ("fail-safe", "outbox delivers")]:
            self.assertRegex(out, r"(?m)^PASS +%s +%s" % (area, name))
        # no OIDC here: the IdP check does not apply and is not a pass
        self.assertRegex(out, r"(?m)^skip +integration +IdP keys fresh")
        lat = [l for l in out.splitlines() if l.startswith("latencies:")][0]
        for what in ("deny after revoke", "session cut after revoke",
                     "expiry lateness (check)", "expiry lateness (request.expired)",
                     "expiry lateness (session cut)"):
            self.assertRegex(lat, r"%s \d+\.\d{3} ms" % what.replace("(", r"\(")
                             .replace(")", r"\)"))
        root = ET.parse(junit).getroot()
        self.assertEqual(root.get("failures"), "0")
        self.assertEqual({s.get("name") for s in root.findall("testsuite")},
                         {"boundaries", "audit", "timeout", "integration", "fail-safe"})
        # it touched only its own resources, as itself
        for ev in self.srv.audit_events():
            if ev["actor"] == "jg-selftest":
                self.assertIn(ev.get("resource"), ("selftest-api", "selftest-db"), ev)
                self.assertEqual(ev.get("subject"), "jg-selftest", ev)
        # a second run passes too (leftovers do not disturb it)
        rc, out, err = selftest(self.srv, "--json")
        self.assertEqual(rc, 0, out + err)
        doc = json.loads(out)
        self.assertEqual(doc["failed"], 0)
        self.assertGreater(doc["latencies_ms"]["deny_after_revoke"], 0)

    def test_store_refusing_writes_fails_clearly(self):
        with self.srv.lock_store():
            rc, out, err = selftest(self.srv)
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(out, r"(?m)^FAIL +timeout +a grant is live at once: HTTP 503 "
                         r"unavailable: .*\(the store refuses writes\)")
        self.assertRegex(out, r"(?m)^\d+ passed, [1-9]\d* failed$")

    def test_powers_stay_narrow(self):
        s = self.srv
        s.request("alice", "orders-db", "read", "1h")
        # its audit listing holds only its own events, whatever it asks
        st, body = s.http("GET", "/v1/audit?subject=alice", bearer=SELFTEST_TOKEN)
        self.assertEqual(st, 200)
        self.assertEqual(body["events"], [])
        st, _ = s.http("GET", "/v1/audit/verify", bearer=SELFTEST_TOKEN)
        self.assertEqual(st, 200)
        st, _ = s.http("GET", "/v1/audit/export", bearer=SELFTEST_TOKEN)
        self.assertEqual(st, 403)
        # others may not read the selftest configuration; admins may
        self.assertEqual(s.http("GET", "/v1/selftest", "alice")[0], 403)
        st, info = s.http("GET", "/v1/selftest", "dave")
        self.assertEqual((st, info["resource"], info["role"], info["postgres_role"]),
                         (200, "selftest-api", "probe", "probe"))
        # and an admin's token is not the selftest identity
        rc, out, _ = selftest(s, token=USERS["dave"][0])
        self.assertEqual(rc, 1)
        self.assertIn("the token is the selftest identity's: it is dave's", out)
        # /readyz stays what it was without verbose
        st, text = s.http("GET", "/readyz")
        self.assertEqual((st, text), (200, "ready\n"))
        st, doc = s.http("GET", "/readyz?verbose=1")
        self.assertEqual((st, doc["ready"], doc["store"], doc["outbox"]["ok"]),
                         (200, True, True, True))
        self.assertNotIn("kids", json.dumps(doc))


class SelftestIdpTest(unittest.TestCase):
    """With oidc: the daemon must hold the keys the IdP signs with; an IdP
    that is down fails the integration check, clearly.  Here nothing
    listens at the upstreams' port either, which fails "every upstream
    reachable" and nothing else."""

    def fails(self, out):
        return [l.split(":")[0] for l in out.splitlines() if l.startswith("FAIL")]

    def test_idp_keys_fresh_then_idp_down(self):
        from test_oidc import Idp, ensure_node_modules
        import tempfile
        ensure_node_modules()
        idp = Idp(tempfile.mkdtemp(prefix="jg-st-idp-"))
        idp.start()
        srv = None
        closed = free_port()
        try:
            extra = "oidc:\n  issuer: %s\n  audience: jitgate\n" % idp.issuer
            srv = Server(config(closed, free_port(), extra).replace(
                "  postgres_resource: selftest-db\n", ""))
            rc, out, err = selftest(srv)
            self.assertEqual(rc, 1, out + err)
            self.assertRegex(out, r"(?m)^PASS +integration +the daemon holds IdP keys")
            self.assertRegex(out, r"(?m)^PASS +integration +IdP keys fresh: the daemon "
                             r"holds all [1-9]\d* signing keys the IdP publishes$")
            self.assertRegex(out, r"(?m)^skip +integration +upstream reachable through")
            self.assertRegex(out, r"(?m)^FAIL +integration +every upstream reachable from "
                             r"the daemon: 2 of 2 unreachable: orders-db \(127\.0\.0\.1:%d\): "
                             r"Connection refused; selftest-db " % closed)
            self.assertEqual(self.fails(out), ["FAIL  integration  every upstream reachable "
                                               "from the daemon"])
            idp.stop()
            rc, out, err = selftest(srv)
            self.assertEqual(rc, 1, out + err)
            self.assertRegex(out, r"(?m)^FAIL +integration +IdP keys fresh: the IdP does "
                             r"not answer: .*%s" % idp.issuer.replace(".", r"\."))
            # everything else still passes: the daemon works on its kept keys
            self.assertEqual(len(self.fails(out)), 2, out)
        finally:
            if srv:
                srv.stop()
            idp.stop()


class SelftestConfigTest(unittest.TestCase):
    def test_without_selftest_section(self):
        from harness import base_config
        srv = Server(base_config())
        try:
            # nobody is the selftest identity: no endpoint, no audit reads
            self.assertEqual(srv.http("GET", "/v1/selftest", "dave")[0], 404)
            self.assertEqual(srv.http("GET", "/v1/audit/verify", "alice")[0], 403)
            self.assertEqual(srv.http("GET", "/v1/audit?subject=alice", "alice")[0], 403)
            rc, out, _ = selftest(srv, token=USERS["alice"][0])
            self.assertEqual(rc, 1)
            self.assertIn("FAIL  boundaries   the token is the selftest identity's: "
                          "GET /v1/selftest: HTTP 404 not_found: no selftest: section in "
                          "the config (add selftest: to the config)", out)
            self.assertTrue(out.endswith(" failed\n"))
        finally:
            srv.stop()

    def test_bad_selftest_key_has_its_line(self):
        srv = Server(config(5432, free_port()).replace(
            "  resource: selftest-api\n", "  resource: selftest-apx\n"), start=False)
        p = subprocess.run([JITGATE, "check-config", "-c", srv.config_path],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)  # check-config's "invalid"
        with open(srv.config_path) as f:
            line = f.read().split("\n").index("  resource: selftest-apx") + 1
        self.assertIn("%s:%d: resource: unknown resource 'selftest-apx'" %
                      (srv.config_path, line), p.stderr)


if __name__ == "__main__":
    import unittest as u
    suite = u.TestSuite()
    for cls in (SelftestTest, SelftestIdpTest, SelftestConfigTest):
        suite.addTests(u.defaultTestLoader.loadTestsFromTestCase(cls))
    res = u.TextTestRunner(verbosity=2).run(suite)
    for case, why in res.skipped:
        print("SKIPPED (counted as failure): %s: %s" % (case.id(), why))
    sys.exit(0 if res.wasSuccessful() and res.testsRun > 0 and not res.skipped else 1)
