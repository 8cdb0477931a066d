"""Signing in at a real OpenID Connect provider (tests/idp, oidc-provider
from npm): the browser's authorization code + PKCE flow through
/auth/login and /auth/callback (design section 10), the refusals around it
(open redirects, replayed or foreign state, bad codes, IdP errors), a
confidential client, and a code exchange that hangs without blocking the
API."""
import json
import os
import socket
import tempfile
import threading
import unittest
import urllib.parse

from browser import Browser, IdpSession, cookie_attrs
from harness import Server, base_config, run, wait_for
from idp import Idp, ensure_node_modules


def oidc_config(issuer, client="jitgate-web", secret_env=None):
    extra = ("oidc:\n  issuer: %s\n  audience: jitgate\n  groups_claim: groups\n"
             "web:\n  public_url: http://{LISTEN}\n  oidc_client_id: %s\n"
             % (issuer, client))
    if secret_env:
        extra += "  oidc_client_secret_env: %s\n" % secret_env
    return base_config(extra=extra)


def query(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


class WebLoginTest(unittest.TestCase):
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
        self.assertNotIn("jitgate_session", other.cookies)
        # a login cookie for another state does not help either
        st, _, _ = other.raw("GET", path, cookie="jitgate_login=" + "A" * 43)
        self.assertEqual(st, 401)
        # the right browser: once
        st, _, _ = b.raw("GET", path)
        self.assertEqual(st, 302)
        st, _, data = b.raw("GET", path)
        self.assertEqual(st, 401, data)
        failed = self.srv.audit_events(action="auth.failed")
        reasons = [e["detail"]["reason"] for e in failed]
        self.assertIn("sign-in state does not belong to this browser", reasons)
        self.assertIn("unknown, used or expired sign-in state", reasons)

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
        self.assertIn("the IdP refused the code", json.loads(data)["error"]["message"])
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
    def test_a_hanging_idp_does_not_block_the_api(self):
        idp = HangingIdp()
        srv = Server(oidc_config(idp.issuer))
        try:
            # more stuck sign-ins than the API has HTTP threads (2)
            browsers, results = [], []
            for _ in range(4):
                b = Browser(srv.url)
                st, hdrs, _ = b.raw("GET", "/auth/login")
                self.assertEqual(st, 302)
                state = query(hdrs["location"][0])["state"]
                browsers.append((b, state))

            def callback(b, state):
                st, _, _ = b.raw("GET", "/auth/callback?code=c&state=" + state)
                results.append(st)

            threads = [threading.Thread(target=callback, args=bs) for bs in browsers]
            for t in threads:
                t.start()
            wait_for(lambda: idp.token_calls >= 1, what="the exchange to start")
            # while the exchange hangs, everything else is answered
            for _ in range(20):
                st, me = srv.http("GET", "/v1/whoami", "alice")
                self.assertEqual(st, 200)
                st, _ = srv.request("alice", "orders-db", "read", "1m")
                self.assertEqual(st, 201)
            self.assertEqual(results, [])  # and the sign-ins are still waiting
            # once the IdP gives up, every waiting browser gets its answer:
            # 503 (the IdP failed), no session
            idp.release()
            for t in threads:
                t.join(timeout=60)
            self.assertEqual(results, [503] * 4)
            self.assertEqual(srv.audit_events(action="auth.signed_in"), [])
        finally:
            srv.stop()
            idp.close()


if __name__ == "__main__":
    run(WebLoginTest, ConfidentialClientTest, HangingExchangeTest)
