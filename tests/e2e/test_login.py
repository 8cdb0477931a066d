"""Signing in at a real OpenID Connect provider (tests/idp, oidc-provider
from npm): the browser's authorization code + PKCE flow through
/auth/login and /auth/callback (design section 10), the refusals around it
(open redirects, replayed or foreign state, bad codes, IdP errors), a
confidential client, and a code exchange that hangs without blocking the
API."""
import json
import os
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

from browser import Browser, IdpSession, cookie_attrs
from harness import JITGATE, Server, base_config, free_port, run, token, wait_for
from idp import STATIC_USERS, Idp, ensure_node_modules


def oidc_config(issuer, client="jitgate-web", secret_env=None):
    extra = ("oidc:\n  issuer: %s\n  audience: jitgate\n  groups_claim: groups\n"
             "web:\n  public_url: http://{LISTEN}\n  oidc_client_id: %s\n"
             % (issuer, client))
    if secret_env:
        extra += "  oidc_client_secret_env: %s\n" % secret_env
    return base_config(extra=extra, users=STATIC_USERS)


def query(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


class WithIdp(unittest.TestCase):
    """One IdP and one daemon signing in at it, for the whole class."""

    @classmethod
    def setUpClass(cls):
        ensure_node_modules()
        cls.dir = tempfile.mkdtemp(prefix="jg-login-")
        cls.idp = Idp(cls.dir)
        cls.idp.start()
        try:
            cls.srv = Server(oidc_config(cls.idp.issuer))
        except Exception:
            cls.idp.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.idp.stop()


class WebLoginTest(WithIdp):

    def start_login(self, b, nxt="/"):
        st, hdrs, data = b.raw("GET", "/auth/login?next=" + urllib.parse.quote(nxt, safe=""))
        self.assertEqual(st, 302, data)
        return hdrs["location"][0], hdrs

    def sign_in(self, account, nxt="/"):
        """A browser signs in as account; returns it and the callback URL."""
        b = Browser(self.srv.url)
        to_idp, _ = self.start_login(b, nxt)
        back = IdpSession().follow(to_idp, account, self.srv.url + "/auth/callback")
        path = back[len(self.srv.url):]
        st, hdrs, data = b.raw("GET", path)
        self.assertEqual(st, 302, data)
        self.assertEqual(hdrs["location"], [nxt])
        st, me = b.call("GET", "/v1/whoami")
        self.assertEqual(st, 200, me)
        b.csrf = me["csrf"]
        return b, path, hdrs

    def test_code_flow_with_pkce_signs_in(self):
        b = Browser(self.srv.url)
        to_idp, hdrs = self.start_login(b, "/ui/requests/7?tab=2")
        q = query(to_idp)
        self.assertTrue(to_idp.startswith(self.idp.issuer + "/auth?"))
        self.assertEqual(q["response_type"], "code")
        self.assertEqual(q["client_id"], "jitgate-web")
        self.assertEqual(q["redirect_uri"], self.srv.url + "/auth/callback")
        self.assertEqual(q["code_challenge_method"], "S256")
        self.assertRegex(q["code_challenge"], r"^[A-Za-z0-9_-]{43}$")
        self.assertRegex(q["state"], r"^[A-Za-z0-9_-]{43}$")
        self.assertRegex(q["nonce"], r"^[A-Za-z0-9_-]{43}$")
        self.assertIn("groups", q["scope"].split())
        # the browser is bound to this sign-in by a cookie for the callback only
        name, value, attrs = cookie_attrs(hdrs["set-cookie"][0])
        self.assertEqual((name, value, attrs["path"]), ("jitgate_login", q["state"],
                                                       "/auth/callback"))
        self.assertIs(attrs["httponly"], True)

        b, path, hdrs = self.sign_in("alice", "/ui/requests/7?tab=2")
        name, value, attrs = cookie_attrs(hdrs["set-cookie"][0])
        self.assertEqual(name, "jitgate_session")
        self.assertEqual((attrs["samesite"], attrs["path"], attrs["httponly"]),
                         ("Lax", "/", True))
        st, me = b.call("GET", "/v1/whoami")
        self.assertEqual((me["subject"], me["groups"], me["method"]),
                         ("alice", ["engineering"], "oidc"))
        # the session works like any credential: alice's groups drive policy
        st, r = b.call("POST", "/v1/requests",
                       {"resource": "orders-db", "role": "read", "duration": "5m"})
        self.assertEqual((st, r["requester"]), (201, "alice"))
        ev = [e for e in self.srv.audit_events(action="auth.signed_in")
              if e["detail"]["method"] == "oidc"]
        self.assertEqual(ev[-1]["actor"], "alice")
        # the code and state in the callback URL are not logged or audited
        code = query(path)["code"]
        self.assertNotIn(code, self.srv.export())
        self.assertNotIn(code, self.srv.logs())
        # bob, in his own browser, is bob
        bob, _, _ = self.sign_in("bob")
        st, me = bob.call("GET", "/v1/whoami")
        self.assertEqual((me["subject"], me["groups"]), ("bob", ["sre"]))

    def test_state_works_once_and_only_in_its_browser(self):
        b = Browser(self.srv.url)
        to_idp, _ = self.start_login(b)
        back = IdpSession().follow(to_idp, "alice", self.srv.url + "/auth/callback")
        path = back[len(self.srv.url):]
        # another browser (no login cookie) presenting this callback: refused
        other = Browser(self.srv.url)
        st, _, data = other.raw("GET", path)
        self.assertEqual(st, 401, data)
        self.assertIn(b"sign-in state does not belong to this browser", data)
        self.assertNotIn("jitgate_session", other.cookies)
        # a login cookie for another state does not help either
        st, _, _ = other.raw("GET", path, cookie="jitgate_login=" + "A" * 43)
        self.assertEqual(st, 401)
        # the right browser: once
        st, _, _ = b.raw("GET", path)
        self.assertEqual(st, 302)
        st, _, data = b.raw("GET", path)
        self.assertEqual(st, 401, data)
        self.assertIn(b"unknown, used or expired sign-in state", data)
        # failures are audited as auth.failed, the first of each (address,
        # claimed subject) in a minute at once, the others counted into one
        # event when the minute closes (design section 9)
        failed = self.srv.audit_events(action="auth.failed")
        self.assertTrue(failed)
        self.assertTrue(all(e["detail"]["via"] == "web" for e in failed), failed)

    def test_open_redirects_are_refused(self):
        b = Browser(self.srv.url)
        for nxt in ["//evil.example", "/\\evil.example", "https://evil.example/",
                    "http:evil.example", "evil.example", "javascript:alert(1)",
                    "/\t/evil.example", "/\r\nSet-Cookie:x=y", "\\\\evil.example",
                    "/a\\b", "/" + "a" * 1024]:
            st, _, data = b.raw("GET", "/auth/login?next=" + urllib.parse.quote(nxt, safe=""))
            self.assertEqual(st, 400, (nxt, data))
        # percent-encoding that decodes to one of the above is refused too;
        # non-UTF-8 and control bytes as well
        for raw in ["%2F%2Fevil.example", "%2F%5Cevil", "%2F%FF%FE", "%2F%00x", "%2F%09%2Fx",
                    "%2F%0D%0ASet-Cookie:x=y"]:
            st, _, _ = b.raw("GET", "/auth/login?next=" + raw)
            self.assertEqual(st, 400, raw)
        for ok in ["/", "/ui/requests/1", "/ui/x?y=%2F%2Fz", "/a/b#frag", "/%0d%0a"]:
            st, hdrs, _ = b.raw("GET", "/auth/login?next=" + urllib.parse.quote(ok, safe=""))
            self.assertEqual(st, 302, ok)
        st, _, _ = b.raw("GET", "/auth/login")
        self.assertEqual(st, 302)  # no next: the home page

    def test_bad_code_and_idp_errors(self):
        b = Browser(self.srv.url)
        to_idp, _ = self.start_login(b)
        state = query(to_idp)["state"]
        st, _, data = b.raw("GET", "/auth/callback?code=forged-code&state=" + state)
        self.assertEqual(st, 401, data)
        self.assertIn(b"the IdP refused the code", data)
        self.assertNotIn("jitgate_session", b.cookies)
        to_idp, _ = self.start_login(b)
        state = query(to_idp)["state"]
        st, _, data = b.raw("GET", "/auth/callback?error=access_denied&state=" + state)
        self.assertEqual(st, 401)
        for q in ["", "?code=x", "?state=" + state, "?code=&state=" + state,
                  "?code=x&state=short", "?code=" + "c" * 3000 + "&state=" + state]:
            st, _, _ = b.raw("GET", "/auth/callback" + q)
            self.assertEqual(st, 400, q[:40])
        st, _, _ = b.raw("POST", "/auth/login")
        self.assertEqual(st, 405)

    def test_many_sign_ins_stay_bounded(self):
        # each /auth/login keeps a little state; a flood cycles a bounded
        # table and the daemon keeps answering
        b = Browser(self.srv.url)
        for _ in range(300):
            st, _, _ = b.raw("GET", "/auth/login")
            self.assertEqual(st, 302)
        self.sign_in("carol")

    def test_logout_after_idp_sign_in(self):
        b, _, _ = self.sign_in("carol")
        st, body = b.call("POST", "/auth/logout")
        self.assertEqual((st, body), (200, {"signed_out": True}))
        st, _ = b.call("GET", "/v1/whoami")
        self.assertEqual(st, 401)


def page_text(data):
    """The words of an HTML page, tags dropped, entities decoded."""
    import html
    import re
    return html.unescape(re.sub(r"<[^>]*>", " ", data.decode()))


class FailurePageTest(WithIdp):
    """A failed /auth/callback is where a browser lands: it answers an HTML
    page in the app's look (no script, no reflected markup, no code or
    token) with a link to sign in again, audited as the same refusal."""

    def assert_page(self, st, hdrs, data, status):
        self.assertEqual(st, status, data)
        self.assertEqual(hdrs["content-type"], ["text/html; charset=utf-8"])
        self.assertIn("script-src 'self'", hdrs["content-security-policy"][0])
        self.assertEqual(hdrs["cache-control"], ["no-store"])
        self.assertTrue(data.startswith(b"<!doctype html>"), data[:80])
        self.assertIn(b'<link rel="stylesheet" href="/ui/app.css">', data)
        self.assertNotIn(b"<script", data)
        self.assertNotIn(b"style=", data)
        return page_text(data)

    def start(self, b, nxt="/"):
        st, hdrs, _ = b.raw("GET", "/auth/login?next=" + urllib.parse.quote(nxt, safe=""))
        self.assertEqual(st, 302)
        return query(hdrs["location"][0])["state"]

    def test_idp_refusal_is_a_page_and_audited(self):
        # a daemon of its own: the first failure of an address in a
        # minute is audited at once with its reason
        srv = Server(oidc_config(self.idp.issuer))
        self.addCleanup(srv.stop)
        b = Browser(srv.url)
        state = self.start(b)
        st, hdrs, data = b.raw("GET", "/auth/callback?error=access_denied"
                               "&error_description=%3Cb%3Enope%3C%2Fb%3E&state=" + state)
        text = self.assert_page(st, hdrs, data, 401)
        self.assertIn("Sign-in failed", text)
        self.assertIn("the IdP refused the sign-in: access_denied", text)
        self.assertIn(b'<a class="button primary" href="/auth/login">Sign in again</a>', data)
        self.assertNotIn(b"nope", data)  # the IdP's description is not shown
        self.assertNotIn("jitgate_session", b.cookies)
        # audited exactly as before: the first failure of this address at
        # once, as auth.failed via web with the reason
        ev = srv.audit_events(action="auth.failed")
        self.assertEqual(ev[0]["detail"]["via"], "web")
        self.assertEqual(ev[0]["detail"]["reason"], "the IdP refused the sign-in: access_denied")

    def test_hostile_query_strings_are_not_reflected(self):
        b = Browser(self.srv.url)
        state = self.start(b)
        for q, status in [
                ("error=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=" + state, 401),
                ("error=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", 401),
                ("error=%FF%FE%00%0D%0ASet-Cookie:%20x=y", 401),
                ("error=" + "A" * 5000, 401),
                ("code=%3Cscript%3Ex%3C%2Fscript%3E&state=%3Cscript%3Ey%3C%2Fscript%3E", 400),
                ("code=x&state=" + "%3C" * 43, 401),
                ("code=%3Cb%3Ecode%3C%2Fb%3E&state=" + "A" * 43, 401),
                ("code=" + "c" * 3000 + "&state=" + state, 400)]:
            st, hdrs, data = b.raw("GET", "/auth/callback?" + q)
            text = self.assert_page(st, hdrs, data, status)
            for bad in (b"<img", b"<b>", b"\xff", b"Set-Cookie: x",
                        b"<script"):
                self.assertNotIn(bad, data, q[:60])
            self.assertNotIn("x=y", hdrs.get("set-cookie", [""])[0])
            self.assertIn("Sign in again", text)
        # the hostile error is shown as text, escaped
        st, _, data = b.raw("GET", "/auth/callback?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        self.assertIn(b"&lt;script&gt;alert(1)&lt;/script&gt;", data)
        self.assertIn("the IdP refused the sign-in: <script>alert(1)</script>", page_text(data))
        st, _, data = b.raw("GET", "/auth/callback?error=%FF%FE%0D%0Ax")
        self.assertIn("the IdP refused the sign-in: ????x", page_text(data))
        # the log has it as one line of printable text (no injected
        # lines), and no session was made
        self.assertNotIn("\nSet-Cookie", self.srv.logs())
        self.assertNotIn("jitgate_session", b.cookies)
        st, _ = b.call("GET", "/v1/whoami")
        self.assertEqual(st, 401)

    def test_bad_and_stale_state(self):
        # another browser's state: refused, the page says why
        b = Browser(self.srv.url)
        state = self.start(b)
        other = Browser(self.srv.url)
        st, hdrs, data = other.raw("GET", "/auth/callback?code=c&state=" + state)
        text = self.assert_page(st, hdrs, data, 401)
        self.assertIn("sign-in state does not belong to this browser", text)
        # a state the daemon has forgotten (a flood of sign-ins cycled the
        # bounded table, as expiry does after 10 minutes): the same answer
        # as an expired one
        for _ in range(1100):
            b2 = Browser(self.srv.url)
            self.start(b2)
        st, hdrs, data = b.raw("GET", "/auth/callback?code=c&state=" + state)
        text = self.assert_page(st, hdrs, data, 401)
        self.assertIn("unknown, used or expired sign-in state", text)

    def test_code_exchange_failure_keeps_the_code_secret(self):
        b = Browser(self.srv.url)
        state = self.start(b, "/ui/requests/42?tab=a%20b")
        code = "CODE-d0ntL0g-" + "z" * 20
        st, hdrs, data = b.raw("GET", "/auth/callback?code=%s&state=%s" % (code, state))
        text = self.assert_page(st, hdrs, data, 401)
        self.assertIn("the IdP refused the code: invalid_grant", text)
        # sign in again goes back to where the browser was going
        self.assertIn(b'href="/auth/login?next=/ui/requests/42%3Ftab%3Da%2520b"', data)
        for where in (data.decode(), self.srv.logs(), self.srv.export()):
            self.assertNotIn(code, where)
            self.assertNotIn(state, where)
        # the link works: it starts a new sign-in for the same path
        st, hdrs, _ = b.raw("GET", "/auth/login?next=/ui/requests/42%3Ftab%3Da%2520b")
        self.assertEqual(st, 302)

    def test_login_errors_are_pages_too(self):
        # the single sign-on button is a link: /auth/login is a landing
        b = Browser(self.srv.url)
        st, hdrs, data = b.raw("GET", "/auth/login?next=%2F%2Fevil.example%2F%3Cscript%3E")
        text = self.assert_page(st, hdrs, data, 400)
        self.assertIn("next: must be a path on this site", text)
        self.assertNotIn(b"evil.example", data)
        # an IdP that cannot be reached before its endpoints are known
        port = free_port()
        srv = Server(oidc_config("http://127.0.0.1:%d" % port))
        self.addCleanup(srv.stop)
        st, hdrs, data = Browser(srv.url).raw("GET", "/auth/login?next=/ui/access")
        text = self.assert_page(st, hdrs, data, 503)
        self.assertIn("Sign-in unavailable", text)
        self.assertIn(b'href="/auth/login?next=/ui/access"', data)

    def test_idp_down(self):
        b = Browser(self.srv.url)
        to_idp = b.raw("GET", "/auth/login")[1]["location"][0]
        back = IdpSession().follow(to_idp, "alice", self.srv.url + "/auth/callback")
        self.idp.stop()
        try:
            st, hdrs, data = b.raw("GET", back[len(self.srv.url):])
            text = self.assert_page(st, hdrs, data, 503)
            self.assertIn("Sign-in unavailable", text)
            self.assertIn("Try again in a moment", text)
            self.assertNotIn(query(back)["code"], data.decode() + self.srv.logs())
        finally:
            self.idp.start()


class SlowIdpTest(WithIdp):
    """One slow answer of the IdP holds one sign-in worker, not every
    sign-in behind it: the real IdP holds alice's code exchange unanswered
    (tests/idp's test hook) while bob signs in."""

    def callback_path(self, b, account):
        st, hdrs, _ = b.raw("GET", "/auth/login")
        back = IdpSession().follow(hdrs["location"][0], account,
                                   self.srv.url + "/auth/callback")
        return back[len(self.srv.url):]

    def test_a_slow_exchange_does_not_hold_another_sign_in(self):
        alice, bob = Browser(self.srv.url), Browser(self.srv.url)
        alice_path = self.callback_path(alice, "alice")
        bob_path = self.callback_path(bob, "bob")
        self.idp.control("hold", "POST")
        results = []
        t = threading.Thread(target=lambda: results.append(alice.raw("GET", alice_path)[0]))
        t.start()
        wait_for(lambda: self.idp.control("held")["held"] == 1, timeout=60,
                 what="alice's exchange to be held at the IdP")
        # the API answers while it is held
        for _ in range(5):
            st, me = self.srv.http("GET", "/v1/whoami", "erik")
            self.assertEqual(st, 200)
        # bob signs in; his exchange reached the IdP while alice's was
        # still held open (one worker would have waited for it to time out)
        st, hdrs, data = bob.raw("GET", bob_path)
        self.assertEqual(st, 302, data)
        bob.csrf = bob.call("GET", "/v1/whoami")[1]["csrf"]
        st, me = bob.call("GET", "/v1/whoami")
        self.assertEqual((st, me["subject"]), (200, "bob"))
        arrivals = self.idp.control("held")["arrivals"]
        self.assertEqual(arrivals[-1], 1, arrivals)
        # alice's exchange goes on when the IdP answers
        released = self.idp.control("release", "POST")["released"]
        t.join(timeout=120)
        self.assertEqual(results, [302] if released else [503])
        if released:
            st, me = alice.call("GET", "/v1/whoami")
            self.assertEqual((st, me["subject"]), (200, "alice"))


class ConfidentialClientTest(unittest.TestCase):
    def test_client_secret_from_the_environment(self):
        ensure_node_modules()
        d = tempfile.mkdtemp(prefix="jg-login-conf-")
        idp = Idp(d)
        idp.start()
        srv = None
        try:
            srv = Server(oidc_config(idp.issuer, "jitgate-conf", "JG_TEST_WEB_SECRET"),
                         env={"JG_TEST_WEB_SECRET": "conf-secret"})
            b = Browser(srv.url)
            st, hdrs, _ = b.raw("GET", "/auth/login")
            back = IdpSession().follow(hdrs["location"][0], "bob", srv.url + "/auth/callback")
            st, hdrs, data = b.raw("GET", back[len(srv.url):])
            self.assertEqual(st, 302, data)
            st, me = b.call("GET", "/v1/whoami")
            self.assertEqual(me["subject"], "bob")
            self.assertNotIn("conf-secret", srv.logs())
            self.assertNotIn("conf-secret", srv.export())
            srv.stop()
            # without the secret the exchange is not attempted: 503
            srv = Server(oidc_config(idp.issuer, "jitgate-conf", "JG_TEST_WEB_SECRET"),
                         env={"JG_TEST_WEB_SECRET": ""})
            b = Browser(srv.url)
            st, hdrs, _ = b.raw("GET", "/auth/login")
            back = IdpSession().follow(hdrs["location"][0], "bob", srv.url + "/auth/callback")
            st, _, data = b.raw("GET", back[len(srv.url):])
            self.assertEqual(st, 503, data)
        finally:
            if srv:
                srv.stop()
            idp.stop()


class HangingIdp:
    """An "IdP" whose discovery answers and whose token endpoint accepts
    connections and never answers: the code exchange hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.issuer = "http://127.0.0.1:%d" % self.port
        self.held = []
        self.token_calls = 0
        self.released = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            req = c.recv(65536).decode(errors="replace")
            if req.startswith("GET /.well-known/openid-configuration"):
                doc = json.dumps({
                    "issuer": self.issuer, "jwks_uri": self.issuer + "/jwks",
                    "authorization_endpoint": self.issuer + "/auth",
                    "token_endpoint": self.issuer + "/token"})
                c.sendall(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           "Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                           % (len(doc), doc)).encode())
                c.close()
            elif req.startswith("GET /jwks"):
                doc = '{"keys": []}'
                c.sendall(("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                           "Connection: close\r\n\r\n%s" % (len(doc), doc)).encode())
                c.close()
            else:
                self.token_calls += 1
                if self.released:
                    c.close()  # a broken answer: the exchange fails at once
                else:
                    self.held.append(c)  # never answered

    def release(self):
        self.released = True
        for c in self.held:
            c.close()

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


class HangingExchangeTest(unittest.TestCase):
    def start_callbacks(self, srv, n):
        """n browsers come back from the IdP at once; returns their threads
        and the list their (status, page body) answers go to."""
        results = []

        def callback(b, state):
            st, _, data = b.raw("GET", "/auth/callback?code=c&state=" + state)
            results.append((st, data))

        threads = []
        for _ in range(n):
            b = Browser(srv.url)
            st, hdrs, _ = b.raw("GET", "/auth/login")
            self.assertEqual(st, 302)
            state = query(hdrs["location"][0])["state"]
            threads.append(threading.Thread(target=callback, args=(b, state)))
        for t in threads:
            t.start()
        return threads, results

    def test_a_hanging_idp_does_not_block_the_api(self):
        idp = HangingIdp()
        srv = Server(oidc_config(idp.issuer))
        try:
            # more stuck sign-ins than the API has HTTP threads (2) and
            # than there are sign-in workers (4)
            threads, results = self.start_callbacks(srv, 6)
            wait_for(lambda: idp.token_calls >= 1, what="the exchange to start")
            # while the exchange hangs, everything else is answered
            for _ in range(5):
                st, me = srv.http("GET", "/v1/whoami", "erik")
                self.assertEqual(st, 200)
                st, _ = srv.request("erik", "orders-db", "read", "1m")
                self.assertEqual(st, 201)
            self.assertEqual(results, [])  # and the sign-ins are still waiting
            # once the IdP gives up, every waiting browser gets its answer:
            # 503 (the IdP failed), no session
            idp.release()
            for t in threads:
                t.join(timeout=60)
            self.assertEqual([st for st, _ in results], [503] * 6)
            self.assertEqual(srv.audit_events(action="auth.signed_in"), [])
        finally:
            srv.stop()
            idp.close()

    def test_a_hanging_idp_does_not_hold_sign_ins_forever(self):
        # the IdP never answers and is never released: every sign-in still
        # gets an answer (each IdP call is bounded, and one that waited for
        # a worker too long is answered without being started), and the
        # page says the IdP is unavailable
        idp = HangingIdp()
        srv = Server(oidc_config(idp.issuer))
        try:
            threads, results = self.start_callbacks(srv, 7)
            for t in threads:
                t.join(timeout=120)
            self.assertEqual([(st, b"Sign-in unavailable" in data) for st, data in results],
                             [(503, True)] * 7)
            self.assertFalse(idp.released)
            st, _ = srv.http("GET", "/v1/whoami", "erik")
            self.assertEqual(st, 200)
        finally:
            srv.stop()
            idp.close()


class Cli:
    """jitgate as a person runs it: its own config home, JITGATE_ADDR."""

    def __init__(self, srv, home):
        self.env = dict(os.environ)
        self.env.pop("JITGATE_TOKEN", None)
        self.env["XDG_CONFIG_HOME"] = home
        self.env["JITGATE_ADDR"] = srv.url
        self.token_file = os.path.join(home, "jitgate", "token")

    def run(self, args, tok=None, timeout=60):
        env = dict(self.env)
        if tok:
            env["JITGATE_TOKEN"] = tok
        p = subprocess.run([JITGATE] + args, env=env, capture_output=True, text=True,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def start(self, args, tok=None):
        env = dict(self.env)
        if tok:
            env["JITGATE_TOKEN"] = tok
        return subprocess.Popen([JITGATE] + args, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


def read_until(stream, pred, limit=50):
    lines = []
    for _ in range(limit):
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if pred(line):
            return lines
    raise AssertionError("not found in: %r" % lines)


class CliLoginTest(WithIdp):
    def setUp(self):
        self.cli = Cli(self.srv, tempfile.mkdtemp(prefix="jg-home-"))

    def check_token_file(self):
        st = os.stat(self.cli.token_file)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.cli.token_file)).st_mode),
                         0o700)
        with open(self.cli.token_file) as f:
            return json.load(f)

    def test_device_flow(self):
        p = self.cli.start(["login"])
        lines = read_until(p.stderr, lambda l: l.startswith("(or open "))
        complete = lines[-1].strip()[len("(or open "):-1]
        code = lines[-2].split()[-1]
        self.assertIn("enter the code", lines[-2])
        self.assertIn(code.replace("-", ""), complete.replace("-", "").replace("%2D", ""))
        IdpSession().follow(complete, "alice", None, extra={"confirm": "yes"})
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out.strip(), "Signed in as alice")
        tok = self.check_token_file()
        self.assertEqual(tok["client_id"], "jitgate-web")
        self.assertTrue(tok["refresh_token"])
        # the CLI now works without JITGATE_TOKEN, as alice, through an
        # ID token whose aud is the web client
        rc, out, err = self.cli.run(["whoami", "--json"])
        self.assertEqual(rc, 0, err)
        me = json.loads(out)
        self.assertEqual((me["subject"], me["groups"], me["method"]),
                         ("alice", ["engineering"], "oidc"))
        rc, out, err = self.cli.run(["catalog"])
        self.assertEqual(rc, 0, err)
        self.assertIn("orders-db", out)
        # an expired token is refreshed with the refresh token
        old = tok["id_token"]
        tok["expires_at"] = 0
        with open(self.cli.token_file, "w") as f:
            json.dump(tok, f)
        rc, out, err = self.cli.run(["whoami"])
        self.assertEqual(rc, 0, err)
        # (only a refresh the IdP granted rewrites the file; the new ID
        # token may equal the old one when minted in the same second)
        new = self.check_token_file()
        self.assertGreater(new["expires_at"], time.time())
        self.assertEqual(new["client_id"], "jitgate-web")
        # a refresh token the IdP no longer honours: a warning, then the
        # server's 401 for the stale ID token is not what happens here
        # since the token is still valid; a garbage one is refused
        new["expires_at"] = 0
        new["refresh_token"] = "forged"
        with open(self.cli.token_file, "w") as f:
            json.dump(new, f)
        rc, out, err = self.cli.run(["whoami"])
        self.assertIn("refuse", err)
        self.assertEqual(rc, 0)  # the old ID token still verifies
        self.assertEqual(old.split(".")[0], new["id_token"].split(".")[0])
        # a token file others can read is not used
        os.chmod(self.cli.token_file, 0o644)
        rc, out, err = self.cli.run(["whoami"])
        self.assertEqual(rc, 4)
        self.assertIn("0600", err)
        os.chmod(self.cli.token_file, 0o600)
        # logout forgets it
        rc, out, err = self.cli.run(["logout"])
        self.assertEqual((rc, out.strip()), (0, "Signed out"))
        self.assertFalse(os.path.exists(self.cli.token_file))
        rc, out, err = self.cli.run(["whoami"])
        self.assertEqual(rc, 2)
        self.assertIn("jitgate login", err)
        rc, out, err = self.cli.run(["logout"])
        self.assertEqual((rc, out.strip()), (0, "Not signed in"))

    def test_loopback_flow(self):
        p = self.cli.start(["login", "--browser"])
        lines = read_until(p.stderr, lambda l: l.startswith("http"))
        url = lines[-1].strip()
        q = query(url)
        self.assertEqual(q["code_challenge_method"], "S256")
        self.assertTrue(q["redirect_uri"].startswith("http://127.0.0.1:"))
        # something else knocking at the loopback port first is turned away
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen(q["redirect_uri"] + "?code=x&state=wrong", timeout=10)
        back = IdpSession().follow(url, "bob", q["redirect_uri"])
        with urllib.request.urlopen(back, timeout=30) as r:
            self.assertIn("Signed in", r.read().decode())
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out.strip(), "Signed in as bob")
        self.check_token_file()
        rc, out, err = self.cli.run(["whoami", "--json"])
        self.assertEqual(json.loads(out)["subject"], "bob")

    def test_without_oidc_on_the_server(self):
        srv = Server(base_config())
        try:
            rc, out, err = Cli(srv, tempfile.mkdtemp()).run(["login"])
            self.assertEqual(rc, 2)
            self.assertIn("no OIDC sign-in", err)
        finally:
            srv.stop()


class WaitTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(base_config())
        self.cli = Cli(self.srv, tempfile.mkdtemp(prefix="jg-home-"))

    def tearDown(self):
        self.srv.stop()

    def pending_id(self):
        def one():
            st, body = self.srv.http("GET", "/v1/requests?approvable=1", "bob")
            return body["requests"][0]["id"] if body["requests"] else None
        return wait_for(one, what="the request")

    def wait_cmd(self):
        return self.cli.start(["request", "orders-db", "write", "--for", "10m",
                               "--reason", "fix", "--ticket", "OPS-1", "--wait"],
                              tok=token("alice"))

    def test_wait_until_active(self):
        p = self.wait_cmd()
        rid = self.pending_id()
        read_until(p.stderr, lambda l: "waiting" in l)
        self.srv.act("bob", rid, "approve")
        self.srv.act("carol", rid, "approve")
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("state:            active", out)

    def test_wait_until_denied_or_canceled(self):
        p = self.wait_cmd()
        rid = self.pending_id()
        read_until(p.stderr, lambda l: "waiting" in l)
        self.srv.act("bob", rid, "deny", {"comment": "not today \x1b[2J"})
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 1, err)
        self.assertIn("state:            denied", out)
        self.assertIn("end_comment:      not today ?[2J", out)
        p = self.wait_cmd()
        rid = self.pending_id()
        read_until(p.stderr, lambda l: "waiting" in l)
        self.srv.act("alice", rid, "cancel")
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 1, err)
        self.assertIn("canceled", out)

    def test_decided_before_the_stream_opens(self):
        # approved by both before the CLI even looks: it must not hang
        st, r = self.srv.request("alice", "orders-db", "read", "5m")
        rc, out, err = self.cli.run(["request", "orders-db", "read", "--for", "5m",
                                     "--wait", "--json"], tok=token("alice"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["state"], "active")

    def test_timed_out(self):
        self.srv.stop()
        self.srv = Server(base_config(pending_ttl="2s"))
        self.cli = Cli(self.srv, tempfile.mkdtemp(prefix="jg-home-"))
        rc, out, err = self.cli.run(["request", "orders-db", "write", "--for", "10m",
                                     "--reason", "fix", "--ticket", "OPS-1", "--wait"],
                                    tok=token("alice"))
        self.assertEqual(rc, 1, err)
        self.assertIn("timed_out", out)


if __name__ == "__main__":
    run(WebLoginTest, FailurePageTest, SlowIdpTest, ConfidentialClientTest, HangingExchangeTest,
        CliLoginTest, WaitTest)
