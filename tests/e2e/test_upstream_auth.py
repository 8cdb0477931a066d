"""Upstream login authenticated both ways (design section 9), through the
real daemon (`jitgate serve` with a gateway) and real psql:

* a real PostgreSQL started here with a certificate from a CA made here
  (openssl CLI): `tls: true` / `mode: require` and `mode: verify-full`
  with the right CA and name pass; a wrong CA or a wrong server_name is
  refused;
* a hostile fake upstream written here: it declines TLS, asks for the
  password in cleartext, for md5, for GSSAPI, lets the role in without
  asking, sends a wrong SCRAM signature, none, an `e=` error, an absurd
  iteration count, or never answers.  Each is refused, and the brokered
  password never appears in what the fake received; a fake that plays
  SCRAM correctly is the control that lets a session in.
"""
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Server, free_port, identities_yaml, run, token,  # noqa: E402
                     wait_for)
from pgcluster import PgCluster  # noqa: E402
from fakepg import SSL_REQUEST, FakeUpstream  # noqa: E402

FAKE_PASSWORD = "brokered-Secret-7f3a9c"  # role read of every fake-* resource
def openssl(cwd, *args):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True)


def make_pki(d):
    """A CA, another CA, and a server certificate from the first for
    localhost and 127.0.0.1."""
    for ca in ("ca", "other-ca"):
        openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                "/CN=jitgate e2e " + ca, "-keyout", ca + ".key", "-out",
                ca + ".crt")
    openssl(d, "req", "-new", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "server.key", "-out", "server.csr")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt",
            "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "san.ext", "-out", "server.crt")


FAKES = {  # resource name -> (script, iterations, upstream options)
    "fake-no-tls": ("scram-good", 4096, ", tls: true"),
    "fake-cleartext": ("cleartext", 4096, ""),
    "fake-cleartext-tls": ("cleartext", 4096, ", tls: true, auth: [password]"),
    "fake-md5": ("md5", 4096, ""),
    "fake-gss": ("gss", 4096, ""),
    "fake-plus-only": ("plus-only", 4096, ""),
    "fake-trust": ("trust", 4096, ""),
    "fake-scram-good": ("scram-good", 4096, ""),
    "fake-scram-bad-signature": ("scram-bad-signature", 4096, ""),
    "fake-scram-no-final": ("scram-no-final", 4096, ""),
    "fake-scram-error": ("scram-error", 4096, ""),
    "fake-huge-iterations": ("scram-huge", 100000000, ""),
    "fake-scram-replay": ("scram-replay", 4096, ""),
    "fake-few-iterations": ("scram-few", 1000, ""),
    "fake-slow": ("slow", 4096, ""),
}


def config(pgport, gwport, pki, fakes):
    res = ["resources:"]

    def pg(name, tls, user="jit_tls", env="TLS_PW"):
        res.extend([
            "  - name: " + name, "    kind: postgres",
            "    upstream: {host: 127.0.0.1, port: %d, dbname: orders%s}" % (
                pgport, tls),
            "    roles:", "      read: {user: %s, password_env: %s}" % (
                user, env)])

    ca, other = (os.path.join(pki, f) for f in ("ca.crt", "other-ca.crt"))
    pg("pg-plain", "", "jit_read", "READ_PW")
    pg("pg-require", ", tls: true")
    pg("pg-require-map", ", tls: {mode: require}")
    pg("pg-verify", ", tls: {mode: verify-full, ca_file: %s}" % ca)
    pg("pg-verify-name", ", tls: {mode: verify-full, ca_file: %s, "
       "server_name: localhost}" % ca)
    pg("pg-wrong-ca", ", tls: {mode: verify-full, ca_file: %s}" % other)
    pg("pg-wrong-name", ", tls: {mode: verify-full, ca_file: %s, "
       "server_name: db.example.com}" % ca)
    for name, fake in fakes.items():
        res.extend([
            "  - name: " + name, "    kind: postgres",
            "    upstream: {host: 127.0.0.1, port: %d, dbname: orders%s}" % (
                fake.port, FAKES[name][2]),
            "    roles:", "      read: {user: jit_read, password_env: FAKE_PW}"])
    return ("listen: {LISTEN}\nstorage: {STORAGE}\npending_ttl: 1h\n"
            "admins: [group:security]\nauditors: [group:audit]\n"
            "checkers: [user:svc]\n" + identities_yaml() +
            "gateway:\n  postgres_listen: 127.0.0.1:%d\n" % gwport +
            "\n".join(res) + """
policies:
  - name: upstream-tests
    requesters: [group:engineering]
    resources: ["*"]
    roles: [read]
    max_duration: 4h
    approvals: 0
# the silent upstream's login must outlast another login, also under ASan
# on a loaded machine: not the 10 s default
limits:
  login_timeout: 5m
""")


class UpstreamAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="jg-pki-")
        make_pki(cls.pki)
        cls.pgport = free_port()
        cls.pg = PgCluster(cls.pgport,
                           ssl_cert=os.path.join(cls.pki, "server.crt"),
                           ssl_key=os.path.join(cls.pki, "server.key"))
        cls.pg.start()
        cls.fakes = {name: FakeUpstream(script, FAKE_PASSWORD, it)
                     for name, (script, it, _) in FAKES.items()}
        cls.gwport = free_port()
        cls.srv = Server(config(cls.pgport, cls.gwport, cls.pki, cls.fakes),
                         env={"READ_PW": "read-pw", "TLS_PW": "tls-pw",
                              "FAKE_PW": FAKE_PASSWORD,
                              "JITGATE_LOG_DEBUG": "1"})

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        for f in cls.fakes.values():
            f.close()
        cls.pg.stop()
        subprocess.run(["rm", "-rf", cls.pki])

    def psql_args(self, resource, sql):
        return ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
                "host=127.0.0.1 port=%d user=alice dbname=%s@read "
                "sslmode=disable connect_timeout=10" % (self.gwport, resource),
                "-c", sql]

    def env(self):
        e = dict(os.environ)
        e["PGPASSWORD"] = token("alice")
        e.pop("PGSSLMODE", None)
        return e

    def psql(self, resource, sql="select 1"):
        st, body = self.srv.request("alice", resource, "read", "30m")
        self.assertEqual(st, 201, body)
        return subprocess.run(self.psql_args(resource, sql),
                              capture_output=True, text=True, env=self.env(),
                              timeout=60)

    def refused(self, resource, needle):
        p = self.psql(resource)
        if resource in self.fakes:  # first: whatever else went wrong
            self.assert_password_never_sent(self.fakes[resource])
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("jitgate: cannot log in to %s as read: %s" % (
            resource, needle), p.stderr)
        return p

    def assert_password_never_sent(self, fake):
        fake.closed.wait(30)
        with fake.lock:
            self.assertNotIn(FAKE_PASSWORD.encode(), bytes(fake.received))
        self.assertNotIn(FAKE_PASSWORD, self.srv.logs())

    # --- real PostgreSQL with TLS -----------------------------------------

    def plus_logins(self):
        return self.srv.logs().count("upstream login with SCRAM-SHA-256-PLUS")

    def test_tls_require(self):
        # jit_tls may only log in over hostssl (pgcluster's pg_hba)
        for res in ("pg-require", "pg-require-map"):
            before = self.plus_logins()
            p = self.psql(res, "select current_user || ' ' || ssl from "
                          "pg_stat_ssl where pid = pg_backend_pid()")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.strip(), "jit_tls true")
            # bound to this TLS connection: PostgreSQL checked the
            # certificate hash the gateway saw
            self.assertEqual(self.plus_logins(), before + 1)

    def test_tls_verify_full_right_ca(self):
        # the host 127.0.0.1 against the IP entry; localhost against DNS
        for res in ("pg-verify", "pg-verify-name"):
            p = self.psql(res, "select ssl from pg_stat_ssl "
                          "where pid = pg_backend_pid()")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.strip(), "t")

    def test_tls_verify_full_wrong_ca_or_name(self):
        self.refused("pg-wrong-ca", "upstream certificate not accepted "
                     "(unable to get local issuer certificate)")
        self.refused("pg-wrong-name", "upstream certificate not accepted "
                     "(hostname mismatch)")

        def denied():
            return [e for e in self.srv.audit_events(action="check.denied")
                    if e.get("resource") in ("pg-wrong-ca", "pg-wrong-name")]

        # gateway events are queued, not written before the refusal
        wait_for(lambda: len(denied()) >= 2, what="two check.denied events")
        events = denied()
        self.assertEqual(len(events), 2, events)
        for e in events:
            self.assertEqual(e["detail"]["reason"], "upstream_failed")

    def test_cancel_over_tls(self):
        # a CancelRequest for a TLS upstream goes inside TLS, verified as
        # the login was
        for res in ("pg-require", "pg-verify"):
            st, body = self.srv.request("alice", res, "read", "30m")
            self.assertEqual(st, 201, body)
            before = self.srv.logs().count("cancel request to the upstream "
                                           "over TLS")
            p = subprocess.Popen(self.psql_args(res, "select pg_sleep(60)"),
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True,
                                 env=self.env())
            try:
                wait_for(lambda: self.pg.sql(
                    "select count(*) from pg_stat_activity where usename = "
                    "'jit_tls' and query = 'select pg_sleep(60)'",
                    db="postgres").strip() == "1", timeout=30,
                    what="the statement running upstream")
                p.send_signal(signal.SIGINT)  # psql sends a CancelRequest
                out, err = p.communicate(timeout=30)
            finally:
                p.kill()
            self.assertIn("canceling statement due to user request", err)
            self.assertEqual(self.srv.logs().count(
                "cancel request to the upstream over TLS"), before + 1)

    # --- hostile fake upstreams ----------------------------------------

    def test_no_fallback_to_cleartext(self):
        fake = self.fakes["fake-no-tls"]
        self.refused("fake-no-tls", "upstream does not offer TLS")
        fake.closed.wait(30)
        # only the SSLRequest: no startup packet (user name) in clear
        with fake.lock:
            self.assertEqual(bytes(fake.received),
                             struct.pack("!II", 8, SSL_REQUEST))
        self.assertFalse(fake.startup_seen.is_set())

    def test_cleartext_refused(self):
        for res in ("fake-cleartext", "fake-cleartext-tls"):
            fake = self.fakes[res]
            # over TLS too, which the fake declines: nothing is sent
            needle = ("upstream asked for cleartext password "
                      "authentication, which upstream.auth does not allow"
                      if res == "fake-cleartext" else
                      "upstream does not offer TLS")
            self.refused(res, needle)
            self.assert_password_never_sent(fake)
            self.assertEqual(fake.frontend_messages(), [])
        self.assertIn("upstream asked for cleartext password", self.srv.logs())

    def test_other_methods_refused(self):
        cases = {
            "fake-md5": "upstream asked for md5 authentication, which "
                        "upstream.auth does not allow",
            "fake-gss": "upstream asked for an unsupported authentication "
                        "method (code 7)",
            "fake-plus-only": "upstream offers no SASL mechanism we speak",
            "fake-trust": "upstream let us in without authentication "
                          "(trust), which upstream.auth does not allow",
        }
        for res, needle in cases.items():
            self.refused(res, needle)
            self.assert_password_never_sent(self.fakes[res])
            self.assertEqual(self.fakes[res].frontend_messages(), [])

    def test_scram_control(self):
        # the fake plays SCRAM right: the gateway's proof verifies, and
        # its signature is accepted (so the refusals below are about the
        # signature, not about the fake)
        fake = self.fakes["fake-scram-good"]
        p = self.psql("fake-scram-good", "select 1")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "1")
        self.assertTrue(fake.proof_ok)
        self.assert_password_never_sent(fake)

    def test_scram_server_signature_required(self):
        cases = {
            "fake-scram-bad-signature":
                "upstream SCRAM server signature did not verify",
            "fake-scram-no-final":
                "upstream skipped the SCRAM server signature",
            "fake-scram-error": "upstream reported a SCRAM error",
        }
        for res, needle in cases.items():
            fake = self.fakes[res]
            self.refused(res, needle)
            self.assertTrue(fake.proof_ok, res)
            self.assert_password_never_sent(fake)
        events = self.srv.audit_events(action="session.started")
        self.assertFalse([e for e in events if e.get("resource") in cases])

    def test_iteration_count_bounds_and_replay(self):
        cases = {
            "fake-huge-iterations": "upstream asked for a SCRAM iteration "
                                    "count outside 4096..1000000",
            "fake-few-iterations": "upstream asked for a SCRAM iteration "
                                   "count outside 4096..1000000",
            "fake-scram-replay": "malformed or replayed SCRAM "
                                 "server-first-message",
        }
        for res, needle in cases.items():
            fake = self.fakes[res]
            self.refused(res, needle)
            fake.closed.wait(30)
            self.assertTrue(fake.server_first_sent.is_set())
            # refused before any proof was computed or sent
            self.assertFalse(fake.client_final_seen.is_set())
            self.assertEqual(len(fake.frontend_messages()), 1)

    def test_slow_upstream_stalls_nobody(self):
        fake = self.fakes["fake-slow"]
        st, body = self.srv.request("alice", "fake-slow", "read", "30m")
        self.assertEqual(st, 201, body)
        stuck = subprocess.Popen(self.psql_args("fake-slow", "select 1"),
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=self.env())
        try:
            self.assertTrue(fake.startup_seen.wait(30))
            p = self.psql("pg-plain", "select count(*) from items")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.strip(), "100")
            # the other login is still waiting for its upstream
            self.assertIsNone(stuck.poll())
            self.assertFalse(fake.closed.is_set())
        finally:
            stuck.kill()
            stuck.communicate()


class UnbindableCertTest(unittest.TestCase):
    """An Ed25519 server certificate has no digest, so no channel binding:
    the gateway says it cannot bind ('n') instead of claiming the server
    stripped -PLUS ('y', which PostgreSQL refuses as a downgrade)."""

    def test_login_without_binding(self):
        d = tempfile.mkdtemp(prefix="jg-ed-")
        openssl(d, "req", "-x509", "-newkey", "ed25519", "-nodes", "-days",
                "2", "-subj", "/CN=localhost", "-keyout", "server.key",
                "-out", "server.crt")
        for ca in ("ca.crt", "other-ca.crt"):  # for config()'s verify-full
            shutil.copyfile(os.path.join(d, "server.crt"), os.path.join(d, ca))
        pg = PgCluster(free_port(), ssl_cert=os.path.join(d, "server.crt"),
                       ssl_key=os.path.join(d, "server.key"))
        pg.start()
        gwport = free_port()
        srv = None
        try:
            srv = Server(config(pg.port, gwport, d, {}),
                         env={"TLS_PW": "tls-pw", "READ_PW": "read-pw",
                              "JITGATE_LOG_DEBUG": "1"})
            st, body = srv.request("alice", "pg-require", "read", "30m")
            self.assertEqual(st, 201, body)
            env = dict(os.environ, PGPASSWORD=token("alice"))
            p = subprocess.run(
                ["psql", "-X", "-At", "-c", "select ssl from pg_stat_ssl "
                 "where pid = pg_backend_pid()",
                 "host=127.0.0.1 port=%d user=alice dbname=pg-require@read "
                 "sslmode=disable" % gwport],
                env=env, capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.strip(), "t")
            self.assertIn("upstream login with SCRAM-SHA-256\n", srv.logs())
        finally:
            if srv:
                srv.stop()
            pg.stop()
            subprocess.run(["rm", "-rf", d])


if __name__ == "__main__":
    run(UpstreamAuthTest, UnbindableCertTest)
