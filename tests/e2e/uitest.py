"""What the web UI tests share (tests/e2e/test_ui*.py): the daemon with a
real PostgreSQL behind its gateway and the real IdP of tests/idp, and a
runner for the browser scripts in tests/ui (Debian's chromium driven by
playwright-core, node's test runner).  Not a test file itself."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEFAULT_POLICIES, SOURCE_DIR, USERS, Server, free_port,  # noqa: E402
                     identities_yaml)
from idp import STATIC_USERS, Idp  # noqa: E402
from idp import ensure_node_modules as ensure_idp_modules  # noqa: E402
from pgcluster import PgCluster  # noqa: E402

UI_DIR = os.path.join(SOURCE_DIR, "tests", "ui")
CHROMIUM = os.environ.get("JG_CHROMIUM", "/usr/bin/chromium")


def ensure_node_modules():
    if not os.path.isdir(os.path.join(UI_DIR, "node_modules", "playwright-core")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=UI_DIR, check=True, stdout=subprocess.DEVNULL)


def ui_config(pgport, gwport, issuer, users=USERS):
    """orders-db is a real PostgreSQL behind the gateway; the rest generic;
    the policies every e2e test uses (harness.DEFAULT_POLICIES); people sign
    in at the IdP or with their static tokens (users).  jitgate refuses an
    IdP sign-in for the subject of a static identity, so a test where
    alice, bob or carol sign in at the IdP uses idp.STATIC_USERS."""
    return ("listen: {LISTEN}\nstorage: {STORAGE}\npending_ttl: 1h\n"
            "admins: [group:security]\nauditors: [group:audit]\n"
            "checkers: [user:svc]\n" + identities_yaml(users) + f"""
oidc:
  issuer: {issuer}
  audience: jitgate
  groups_claim: groups
web:
  public_url: http://{{LISTEN}}
  oidc_client_id: jitgate-web
gateway:
  postgres_listen: 127.0.0.1:{gwport}
resources:
  - name: orders-db
    kind: postgres
    upstream: {{host: 127.0.0.1, port: {pgport}, dbname: orders}}
    audit_queries: true
    roles:
      read:  {{user: jit_read,  password_env: ORDERS_READ_PASSWORD}}
      write: {{user: jit_write, password_env: ORDERS_WRITE_PASSWORD}}
  - name: billing-api
    kind: generic
    roles: {{read: {{}}, admin: {{}}}}
  - name: prod-payments
    kind: generic
    roles: {{read: {{}}, write: {{}}}}
""" + DEFAULT_POLICIES)


class UiCase(unittest.TestCase):
    """The daemon (with gateway, PostgreSQL and IdP) and the node runner
    for the browser scripts; each test gets a fresh daemon."""

    @classmethod
    def setUpClass(cls):
        ensure_node_modules()
        ensure_idp_modules()
        cls.pgport = free_port()
        cls.pg = PgCluster(cls.pgport)
        cls.pg.start()
        cls.idp_dir = tempfile.mkdtemp(prefix="jg-ui-idp-")
        cls.idp = Idp(cls.idp_dir)
        cls.idp.start()

    @classmethod
    def tearDownClass(cls):
        cls.idp.stop()
        cls.pg.stop()

    # tests whose people sign in at the IdP as alice, bob or carol
    IDP_PEOPLE = ()

    def setUp(self):
        self.gwport = free_port()
        self.users = STATIC_USERS if self._testMethodName in self.IDP_PEOPLE else USERS
        self.config_text = ui_config(self.pgport, self.gwport, self.idp.issuer, self.users)
        self.srv = Server(self.config_text,
                          env={"ORDERS_READ_PASSWORD": "read-pw",
                               "ORDERS_WRITE_PASSWORD": "write-pw"})

    def tearDown(self):
        self.srv.stop()

    def get(self, path, headers=None):
        req = urllib.request.Request(self.srv.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def write_env(self):
        """What the browser scripts need to know (tests/ui/lib.mjs ENV)."""
        env_file = os.path.join(self.srv.dir, "ui-env.json")
        with open(env_file, "w") as f:
            json.dump({
                "tokens": {name: tok for name, (tok, _) in self.users.items()},
                "pid": self.srv.proc.pid,
                "config": self.srv.config_path,
                "gateway_port": self.gwport,
                "dir": self.srv.dir,
                # alice's access token from the IdP, her password at the
                # gateway when she signed in there
                "idp_tokens": ({"alice": self.idp.token("code", "alice")}
                               if self._testMethodName in self.IDP_PEOPLE else {}),
            }, f)
        return env_file

    def node(self, script):
        """Runs one tests/ui script with node's test runner; its output is
        shown, and any failing (or skipped) test fails this one."""
        env_file = self.write_env()
        env = dict(os.environ, JG_UI_URL=self.srv.url, JG_UI_ENV=env_file,
                   JG_CHROMIUM=CHROMIUM)
        p = subprocess.run(["node", "--test", "--test-reporter=spec",
                            "--test-concurrency=1", script],
                           cwd=UI_DIR, env=env, capture_output=True, text=True,
                           timeout=600)
        sys.stdout.write(p.stdout)
        sys.stderr.write(p.stderr)
        self.assertEqual(p.returncode, 0, "%s failed:\n%s\n%s\n--- daemon log ---\n%s" % (
            script, p.stdout[-6000:], p.stderr[-3000:], self.srv.logs()[-3000:]))
        summary = dict(re.findall(r"^ℹ (tests|pass|fail|skipped|todo) (\d+)$", p.stdout, re.M))
        self.assertGreater(int(summary.get("pass", 0)), 0, "no test passed")
        self.assertEqual(int(summary.get("skipped", 0)) + int(summary.get("todo", 0)), 0,
                         "a skipped test is not a pass")
