"""The web UI (design section 10, docs/ui.md) as served by the real
daemon: types, ETag/304, gzip, CSP and the other security headers on every
UI answer, no inline script or style, 404 for an unknown file, hostile
request headers, the first page under 100 KB compressed; and in chromium
the sign-in page (tests/ui/shell.test.mjs: CSP, accessibility in light and
dark at desktop and phone width, deep links, single sign-on at the IdP,
sign-out, a wrong token, framing refused)."""
import gzip
import http.client
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run  # noqa: E402
from uitest import UiCase  # noqa: E402


class UiServedTest(UiCase):
    IDP_PEOPLE = ("test_shell",)

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

    def test_files_keep_the_connection(self):
        """A page load's files, its API calls and a 404 one after another
        on one connection: the files were answered before libmicrohttpd
        had the whole request, which made it close the connection after
        each (Connection: close), so a page load took a new connection per
        file.  A file asked for with a body is still answered, and then
        the connection closed, its body never read."""
        def ask(s, path, extra=b""):
            s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Accept-Encoding: gzip\r\n" + extra)
            r = http.client.HTTPResponse(s, method="GET")
            r.begin()
            r.read()
            return r.status, (r.getheader("Connection") or "").lower()

        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as s:
            for path, status in (("/ui/requests/42", 200), ("/ui/app.js", 200),
                                 ("/ui/app.css", 200), ("/ui/nope.js", 404),
                                 ("/healthz", 200), ("/v1/whoami", 401), ("/ui/dom.js", 200)):
                self.assertEqual(ask(s, path, b"\r\n"), (status, ""), path)
            # HEAD too
            s.sendall(b"HEAD /ui/app.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            r = http.client.HTTPResponse(s, method="HEAD")
            r.begin()
            self.assertEqual((r.status, r.getheader("Connection")), (200, None))
            self.assertEqual(ask(s, "/ui/app.js", b"Content-Length: 5\r\n\r\nhello"),
                             (200, "close"))
            self.assertEqual(s.recv(10), b"", "closed after a file asked for with a body")
        self.assertEqual(self.get("/ui/app.js")[0], 200)

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

    def test_shell(self):
        self.node("shell.test.mjs")


if __name__ == "__main__":
    run(UiServedTest)
