"""The web UI (design section 10, docs/ui.md) through the real daemon, a
real PostgreSQL behind the gateway, and Debian's chromium driven by
playwright-core (tests/ui/*.test.mjs, node's test runner):

- the files as served: types, ETag/304, gzip, CSP and the other security
  headers on every UI answer, no inline script or style, 404 for an
  unknown file, the first page under 100 KB compressed;
- in the browser: see the docstring of each tests/ui/*.test.mjs file.
"""
import gzip
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEFAULT_POLICIES, SOURCE_DIR, USERS, Server, free_port,  # noqa: E402
                     identities_yaml, run)
from pgcluster import PgCluster  # noqa: E402

UI_DIR = os.path.join(SOURCE_DIR, "tests", "ui")
CHROMIUM = os.environ.get("JG_CHROMIUM", "/usr/bin/chromium")


def ensure_node_modules():
    if not os.path.isdir(os.path.join(UI_DIR, "node_modules", "playwright-core")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=UI_DIR, check=True, stdout=subprocess.DEVNULL)


def ui_config(pgport, gwport):
    """orders-db is a real PostgreSQL behind the gateway; the rest generic;
    the policies every e2e test uses (harness.DEFAULT_POLICIES)."""
    return ("listen: {LISTEN}\nstorage: {STORAGE}\npending_ttl: 1h\n"
            "admins: [group:security]\nauditors: [group:audit]\n"
            "checkers: [user:svc]\n" + identities_yaml() + f"""
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


class UiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ensure_node_modules()
        cls.pgport = free_port()
        cls.pg = PgCluster(cls.pgport)
        cls.pg.start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def setUp(self):
        self.gwport = free_port()
        self.config_text = ui_config(self.pgport, self.gwport)
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

    def node(self, script, extra_env=None):
        """Runs one tests/ui script with node's test runner; its output is
        shown, and any failing (or skipped) test fails this one."""
        env_file = os.path.join(self.srv.dir, "ui-env.json")
        with open(env_file, "w") as f:
            json.dump({
                "tokens": {name: tok for name, (tok, _) in USERS.items()},
                "pid": self.srv.proc.pid,
                "config": self.srv.config_path,
                "gateway_port": self.gwport,
                "dir": self.srv.dir,
                **(extra_env or {}),
            }, f)
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

    # the files as served
    def test_served_files_and_their_headers(self):
        st, h, body = self.get("/")
        self.assertEqual(st, 200)
        self.assertEqual(h["Content-Type"], "text/html; charset=utf-8")
        csp = h["Content-Security-Policy"]
        for d in ("default-src 'self'", "script-src 'self'", "style-src 'self'",
                  "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
            self.assertIn(d, csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertNotIn("unsafe-eval", csp)
        self.assertEqual(h["X-Content-Type-Options"], "nosniff")
        self.assertEqual(h["Referrer-Policy"], "no-referrer")
        self.assertEqual(h["X-Frame-Options"], "DENY")
        html = body.decode()
        # no inline script or style: every <script> has a src, no style=
        self.assertEqual(re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html), [])
        self.assertNotIn("<style", html)
        self.assertIsNone(re.search(r"\sstyle=", html))
        self.assertNotIn("http://", html.replace("http://www.w3.org", ""))
        self.assertNotIn("https://", html)

        types = {"/ui/app.js": "text/javascript; charset=utf-8",
                 "/ui/app.css": "text/css; charset=utf-8",
                 "/ui/icon.svg": "image/svg+xml"}
        for path, ctype in types.items():
            st, h, body = self.get(path)
            self.assertEqual((st, h["Content-Type"]), (200, ctype), path)
            self.assertIn("frame-ancestors 'none'", h["Content-Security-Policy"])
            self.assertEqual(h["X-Content-Type-Options"], "nosniff")

        # the app's own pages get the app; an unknown file does not
        for page in ("/ui/requests/12", "/ui/approvals", "/ui/audit"):
            st, h, body = self.get(page)
            self.assertEqual((st, h["Content-Type"]), (200, "text/html; charset=utf-8"), page)
        for missing in ("/ui/nope.js", "/ui/app.js.map", "/ui/../etc/passwd.txt"):
            st, h, body = self.get(missing)
            self.assertEqual(st, 404, missing)
            self.assertIn("frame-ancestors 'none'", h["Content-Security-Policy"])
        # the app holds no data: the API still wants credentials
        st, _, _ = self.get("/v1/requests")
        self.assertEqual(st, 401)

    def test_etag_revalidation_and_gzip(self):
        st, h, plain = self.get("/ui/app.js")
        etag = h["ETag"]
        self.assertRegex(etag, r'^"[0-9a-f]{32}"$')
        self.assertEqual(h["Cache-Control"], "no-cache")
        st, h2, body = self.get("/ui/app.js", {"If-None-Match": etag})
        self.assertEqual((st, body), (304, b""))
        self.assertEqual(h2["ETag"], etag)
        st, h3, body = self.get("/ui/app.js", {"If-None-Match": '"something-else"'})
        self.assertEqual(st, 200)

        st, hz, z = self.get("/ui/app.js", {"Accept-Encoding": "br, gzip"})
        self.assertEqual(hz.get("Content-Encoding"), "gzip")
        self.assertEqual(gzip.decompress(z), plain)
        self.assertNotEqual(hz["ETag"], etag, "each encoding has its own tag")
        self.assertEqual(self.get("/ui/app.js", {"If-None-Match": hz["ETag"],
                                                  "Accept-Encoding": "gzip"})[0], 304)
        for refused in ("gzip;q=0", "identity", "br", "gzip;q=0.000"):
            st, hr, body = self.get("/ui/app.js", {"Accept-Encoding": refused})
            self.assertNotIn("Content-Encoding", hr, refused)
            self.assertEqual(body, plain, refused)
        self.assertEqual(self.get("/ui/app.js", {"Accept-Encoding": "gzip;q=0.5"})[1]
                         .get("Content-Encoding"), "gzip")

    def test_hostile_request_headers(self):
        etag = self.get("/ui/app.js")[1]["ETag"]
        cases = [
            b"If-None-Match: " + b'"' * 8000,
            b"If-None-Match: " + etag.encode() + b"x",
            b"If-None-Match: W/" + etag.encode()[:-1],
            b"Accept-Encoding: \xff\xfe gzip;q=",
            b"Accept-Encoding: gzip;q=0" + b",gzip;q=0" * 500,
            b"Accept-Encoding: " + b"," * 6000,
            b"If-None-Match: \x00" + etag.encode(),
        ]
        for hdr in cases:
            with socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as s:
                s.sendall(b"GET /ui/app.js HTTP/1.1\r\nHost: x\r\n" + hdr + b"\r\n\r\n")
                head = s.recv(200)
            status = int(head.split(b" ")[1])
            # answered in full (not 304: none of these names the tag), or
            # refused as a bad request; never a crash or a hang
            self.assertIn(status, (200, 400, 431), hdr[:60])
        self.assertEqual(self.get("/ui/app.js")[0], 200)
        self.assertEqual(self.srv.proc.poll(), None)

    def test_first_page_is_under_100_kb_compressed(self):
        # everything the first page loads: the HTML and what it links to
        st, h, body = self.get("/", {"Accept-Encoding": "gzip"})
        html = gzip.decompress(body).decode()
        total = len(body)
        refs = re.findall(r'(?:href|src)="(/ui/[^"]+\.(?:js|css|svg))"', html)
        self.assertIn("/ui/app.js", refs)
        for ref in set(refs):
            st, h, b = self.get(ref, {"Accept-Encoding": "gzip"})
            self.assertEqual(st, 200, ref)
            total += len(b)
        print("first page: %d bytes compressed over %d files" % (total, len(set(refs)) + 1))
        self.assertLess(total, 100 * 1024)

    # in the browser
    def test_shell(self):
        self.node("shell.test.mjs")


if __name__ == "__main__":
    run(UiTest)
