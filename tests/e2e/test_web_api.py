"""The web front door's API (design section 10) through the real daemon:
the catalog, end_comment, browser sessions (cookie, CSRF, cross-site
refusal, logout), static-token sign-in and the live event stream."""
import base64
import os
import re
import socket
import subprocess
import tempfile
import threading
import unittest

from browser import Browser, EventStream, cookie_attrs
from harness import (JITGATE, USERS, Server, base_config, free_port, identities_yaml, run,
                     token, wait_for)


def actions(srv, action):
    return [e for e in srv.audit_events(action=action)]


class CatalogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(base_config())

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def catalog(self, who):
        st, body = self.srv.http("GET", "/v1/catalog", who)
        self.assertEqual(st, 200, body)
        return {(e["resource"], e["role"]): e for e in body["entries"]}

    def test_alice_sees_what_she_may_request(self):
        cat = self.catalog("alice")
        self.assertEqual(sorted(cat), sorted([
            ("orders-db", "read"), ("orders-db", "write"), ("orders-db", "admin"),
            ("billing-api", "read"), ("billing-api", "admin"),
            ("prod-payments", "write")]))
        read = cat[("orders-db", "read")]
        self.assertEqual(read, {
            "resource": "orders-db", "kind": "generic", "role": "read",
            "policy": "engineers-read", "max_duration_s": 4 * 3600,
            "approvals": 0, "approvers": [], "allow_self_approval": False,
            "require_reason": False, "ticket_pattern": None,
            "break_glass_max_duration_s": None})
        write = cat[("prod-payments", "write")]
        self.assertEqual(write["policy"], "prod-write")
        self.assertEqual(write["approvals"], 2)
        self.assertEqual(write["approvers"], ["group:sre", "user:carol"])
        self.assertTrue(write["require_reason"])
        self.assertEqual(write["ticket_pattern"], "^OPS-[0-9]+$")
        self.assertEqual(write["break_glass_max_duration_s"], 1800)
        self.assertEqual(write["max_duration_s"], 3600)

    def test_first_match_decides_like_a_request(self):
        # every entry of the catalog can be requested (with what its
        # policy needs), and its answer names the same policy
        for (res, role), e in self.catalog("alice").items():
            st, r = self.srv.request("alice", res, role, "1m", reason="x",
                                     ticket="OPS-1")
            self.assertEqual(st, 201, r)
            self.assertEqual(r["policy"], e["policy"])

    def test_bob_and_mallory(self):
        cat = self.catalog("bob")
        self.assertEqual(list(cat), [("prod-payments", "read")])
        self.assertTrue(cat[("prod-payments", "read")]["allow_self_approval"])
        self.assertEqual(self.catalog("mallory"), {})
        # and mallory's request for anything is refused, as the empty
        # catalog says
        st, _ = self.srv.request("mallory", "orders-db", "read", "1m")
        self.assertEqual(st, 403)

    def test_needs_credentials_and_get(self):
        st, _ = self.srv.http("GET", "/v1/catalog")
        self.assertEqual(st, 401)
        st, _ = self.srv.http("POST", "/v1/catalog", "alice", {})
        self.assertEqual(st, 405)


PG_RESOURCES = """resources:
  - name: orders-db
    kind: postgres
    upstream: {host: 127.0.0.1, port: 5432, dbname: orders}
    roles: {read: {user: jit_read}}
  - name: billing-api
    kind: generic
    roles: {read: {}}
policies:
  - name: all-read
    requesters: [group:engineering]
    resources: [orders-db, billing-api]
    roles: [read]
    max_duration: 1h
    approvals: 0
"""


class GatewayAddressTest(unittest.TestCase):
    """Where to connect (gateway.public_address, docs/configuration.md): on
    postgres entries of the catalog, for the psql line of the web UI."""

    def gateways(self, srv):
        st, body = srv.http("GET", "/v1/catalog", "alice")
        self.assertEqual(st, 200, body)
        return {e["resource"]: e.get("gateway", "absent") for e in body["entries"]}

    def serve(self, gateway):
        srv = Server(base_config(resources=PG_RESOURCES, policies="", extra=gateway))
        self.addCleanup(srv.stop)
        return srv

    def test_derived_said_and_reloaded(self):
        # listening on every address: the host of web.public_url, the
        # gateway's port (generic resources have no gateway)
        gw = free_port()
        web = "web: {public_url: 'http://{LISTEN}'}\n"
        srv = self.serve("gateway: {postgres_listen: '0.0.0.0:%d'}\n" % gw + web)
        self.assertEqual(self.gateways(srv),
                         {"orders-db": "127.0.0.1:%d" % gw, "billing-api": "absent"})
        # said outright, and changed by a reload (no restart: nothing binds)
        cfg = base_config(resources=PG_RESOURCES, policies="", extra=(
            "gateway: {postgres_listen: '0.0.0.0:%d', public_address: "
            "'db-gw.example.com:5433'}\n" % gw + web))
        srv.write_config(cfg)
        srv.sighup()
        wait_for(lambda: self.gateways(srv)["orders-db"] == "db-gw.example.com:5433",
                 what="the reloaded address")
        # a hostile address is refused at reload, and the old one stays
        srv.write_config(cfg.replace("db-gw.example.com:5433",
                                     'x\\"; rm -rf / #:1'))
        srv.sighup()
        wait_for(lambda: "reload refused" in srv.logs(), what="the refusal")
        self.assertIn("public_address", srv.logs())
        self.assertEqual(self.gateways(srv)["orders-db"], "db-gw.example.com:5433")

    def test_listen_address_or_unknown(self):
        gw = free_port()
        srv = self.serve("gateway: {postgres_listen: '127.0.0.1:%d'}\n" % gw)
        self.assertEqual(self.gateways(srv)["orders-db"], "127.0.0.1:%d" % gw)
        srv.stop()
        # every address and no web.public_url: not known (null); no gateway
        # at all: null too
        srv = self.serve("gateway: {postgres_listen: '0.0.0.0:%d'}\n" % free_port())
        self.assertIsNone(self.gateways(srv)["orders-db"])
        srv.stop()
        srv = self.serve("")
        self.assertIsNone(self.gateways(srv)["orders-db"])

    def test_check_config_refuses_bad_addresses(self):
        for bad in ("db.example", "db.example:0", "db example:1", "db\u00e9.example:1",
                    "[::1:5", "'$(id)':1"):
            path = os.path.join(tempfile.mkdtemp(prefix="jg-gwaddr-"), "c.yaml")
            with open(path, "w") as f:
                f.write("gateway:\n  postgres_listen: 127.0.0.1:6432\n"
                        "  public_address: \"%s\"\n" % bad.replace('"', '\\"'))
            p = subprocess.run([JITGATE, "check-config", "-c", path], capture_output=True,
                               text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0, bad)
            self.assertIn("c.yaml:3: public_address:", p.stderr, bad)


class EndCommentTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(base_config())

    def tearDown(self):
        self.srv.stop()

    def test_deny_comment_and_revoke_reason(self):
        s = self.srv
        st, r = s.request("alice", "orders-db", "write", "10m", reason="fix",
                          ticket="OPS-1")
        self.assertEqual(st, 201)
        self.assertIsNone(r["end_comment"])
        st, d = s.act("bob", r["id"], "deny", {"comment": "use the replica <b>"})
        self.assertEqual(st, 200)
        self.assertEqual(d["end_comment"], "use the replica <b>")
        st, g = s.http("GET", "/v1/requests/%d" % r["id"], "alice")
        self.assertEqual(g["end_comment"], "use the replica <b>")

        st, r = s.request("alice", "orders-db", "read", "10m")
        self.assertEqual(r["state"], "active")
        # over the limit: 400, nothing changed
        st, e = s.act("dave", r["id"], "revoke", {"reason": "x" * 1025})
        self.assertEqual(st, 400)
        self.assertTrue(e["error"]["message"].startswith("reason"))
        st, g = s.http("GET", "/v1/requests/%d" % r["id"], "alice")
        self.assertEqual(g["state"], "active")
        st, v = s.act("dave", r["id"], "revoke", {"reason": "incident 42 \u00e9"})
        self.assertEqual(st, 200)
        self.assertEqual(v["end_comment"], "incident 42 \u00e9")
        # it survives a restart (stored, not only in memory)
        s.restart()
        st, g = s.http("GET", "/v1/requests/%d" % r["id"], "alice")
        self.assertEqual(g["end_comment"], "incident 42 \u00e9")
        # and a request that simply expires or is canceled has none
        st, r = s.request("alice", "orders-db", "write", "10m", reason="fix",
                          ticket="OPS-1")
        st, c = s.act("alice", r["id"], "cancel")
        self.assertIsNone(c["end_comment"])


class SessionTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(base_config())

    def tearDown(self):
        self.srv.stop()

    def signed_in(self, who="alice"):
        b = Browser(self.srv.url)
        st, body = b.sign_in_token(token(who))
        self.assertEqual(st, 200, body)
        return b

    def test_static_sign_in_sets_a_safe_cookie(self):
        b = Browser(self.srv.url)
        st, hdrs, data = b.raw("POST", "/auth/token", {"token": token("alice")},
                               {"Origin": b.origin})
        self.assertEqual(st, 200, data)
        body = __import__("json").loads(data)
        self.assertEqual(body["subject"], "alice")
        self.assertEqual(body["groups"], ["engineering"])
        self.assertRegex(body["csrf"], r"^[A-Za-z0-9_-]{43}$")
        (sc,) = hdrs["set-cookie"]
        name, value, attrs = cookie_attrs(sc)
        self.assertEqual(name, "jitgate_session")
        self.assertRegex(value, r"^[A-Za-z0-9_-]{43}$")
        self.assertNotEqual(value, body["csrf"])
        self.assertEqual(attrs["path"], "/")
        self.assertIs(attrs["httponly"], True)
        self.assertEqual(attrs["samesite"], "Lax")
        self.assertNotIn("secure", attrs)  # no public_url: plain http
        self.assertEqual(attrs["max-age"], str(12 * 3600))
        # the cookie is a credential of the API, and whoami gives the CSRF token
        b.csrf = None
        st, me = b.call("GET", "/v1/whoami")
        self.assertEqual(st, 200)
        self.assertEqual(me["subject"], "alice")
        self.assertEqual(me["csrf"], body["csrf"])
        self.assertIsNotNone(me["session_expires_at"])
        # a bearer call has no CSRF token
        st, me = self.srv.http("GET", "/v1/whoami", "alice")
        self.assertIsNone(me["csrf"])
        # audited, without the cookie or the CSRF token anywhere in the log
        ev = actions(self.srv, "auth.signed_in")
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["actor"], "alice")
        self.assertEqual(ev[0]["detail"]["method"], "static")
        text = self.srv.export()
        self.assertNotIn(value, text)
        self.assertNotIn(body["csrf"], text)
        self.assertNotIn(token("alice"), text)
        self.assertNotIn(value, self.srv.logs())

    def test_csrf_missing_or_wrong_is_refused_and_changes_nothing(self):
        b = self.signed_in("alice")
        req = {"resource": "orders-db", "role": "read", "duration": "10m"}
        for hdr in (None, "", "x" * 43, b.csrf[:-1], b.csrf + "A", b.csrf.lower()
                    if b.csrf.lower() != b.csrf else b.csrf.upper()):
            st, e = b.call("POST", "/v1/requests", req, csrf=False,
                           headers={"X-Jitgate-CSRF": hdr})
            self.assertEqual(st, 403, (hdr, e))
            self.assertIn("X-Jitgate-CSRF", e["error"]["message"])
        st, lst = self.srv.http("GET", "/v1/requests", "erin")
        self.assertEqual(actions(self.srv, "request.created"), [])
        st, r = b.call("POST", "/v1/requests", req)
        self.assertEqual(st, 201, r)
        self.assertEqual(r["requester"], "alice")
        # the same rule for every state-changing call: cancel, approve
        st, p = b.call("POST", "/v1/requests", {
            "resource": "orders-db", "role": "write", "duration": "10m",
            "reason": "fix", "ticket": "OPS-1"})
        self.assertEqual(st, 201)
        bob = self.signed_in("bob")
        st, e = bob.call("POST", "/v1/requests/%d/approve" % p["id"], {}, csrf=False)
        self.assertEqual(st, 403)
        st, g = self.srv.http("GET", "/v1/requests/%d" % p["id"], "alice")
        self.assertEqual(g["approvals"], [])
        st, a = bob.call("POST", "/v1/requests/%d/approve" % p["id"], {"comment": "ok"})
        self.assertEqual(st, 200, a)
        self.assertEqual(a["approvals"][0]["by"], "bob")
        # one session's token does not fit another's
        st, e = bob.call("POST", "/v1/requests/%d/approve" % p["id"], {},
                         csrf=False, headers={"X-Jitgate-CSRF": b.csrf})
        self.assertEqual(st, 403)

    def test_cross_site_is_refused_even_with_the_token(self):
        b = self.signed_in("alice")
        req = {"resource": "orders-db", "role": "read", "duration": "10m"}
        hostile = [
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Origin": b.origin + ".evil.example"},
            {"Origin": "http://localhost:%d" % self.srv.port},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
            {"Origin": b.origin, "Sec-Fetch-Site": "cross-site"},
        ]
        for h in hostile:
            st, e = b.call("POST", "/v1/requests", req, page=False,
                           headers=dict(h, **{"X-Jitgate-CSRF": b.csrf}))
            self.assertEqual(st, 403, h)
            self.assertIn("cross-site", e["error"]["message"])
        self.assertEqual(actions(self.srv, "request.created"), [])
        # sign-in from another site is refused too (no login CSRF)
        other = Browser(self.srv.url, origin="https://evil.example")
        st, e = other.sign_in_token(token("mallory"))
        self.assertEqual(st, 403)
        self.assertEqual(other.cookies, {})
        # a form post (not JSON) cannot sign in either
        st, _, _ = other.raw("POST", "/auth/token", b'token=tok-mallory-0123456789',
                             {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(st, 400)
        st, _, _ = other.raw("POST", "/auth/token",
                             b'{"token": "tok-mallory-0123456789"}',
                             {"Content-Type": "text/plain"})
        self.assertEqual(st, 400)
        self.assertEqual(actions(self.srv, "auth.signed_in")[-1]["actor"], "alice")

    def test_bearer_wins_over_a_cookie(self):
        b = self.signed_in("alice")
        st, r = b.call("POST", "/v1/requests",
                       {"resource": "prod-payments", "role": "read", "duration": "10m"},
                       csrf=False, headers={"Authorization": "Bearer " + token("bob")})
        self.assertEqual(st, 201, r)
        self.assertEqual(r["requester"], "bob")

    def test_logout_ends_the_session_server_side(self):
        b = self.signed_in("alice")
        cookie = "jitgate_session=" + b.cookies["jitgate_session"]
        st, e = b.call("POST", "/auth/logout", csrf=False)
        self.assertEqual(st, 403)
        st, me = b.call("GET", "/v1/whoami")
        self.assertEqual(st, 200)
        st, hdrs, data = b.raw("POST", "/auth/logout", None,
                               {"X-Jitgate-CSRF": b.csrf, "Origin": b.origin})
        self.assertEqual(st, 200, data)
        name, value, attrs = cookie_attrs(hdrs["set-cookie"][0])
        self.assertEqual((name, value, attrs["max-age"]), ("jitgate_session", "", "0"))
        # the old cookie, replayed by someone who kept it, is dead
        st, _, data = b.raw("GET", "/v1/whoami", cookie=cookie)
        self.assertEqual(st, 401, data)
        ev = actions(self.srv, "auth.signed_out")
        self.assertEqual([e["actor"] for e in ev], ["alice"])
        # logging out again is harmless
        st, _, _ = b.raw("POST", "/auth/logout", None, cookie=cookie)
        self.assertEqual(st, 200)

    def test_forged_garbage_and_stale_cookies(self):
        b = self.signed_in("alice")
        good = b.cookies["jitgate_session"]
        forged = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        bad = [forged, "", "x", good[:-1], good + "A", good.upper(),
               "%00" * 43, good[:20] + "\\" + good[22:], "a" * 4000,
               '"' + good, good + '"']
        for v in bad:
            st, _, data = b.raw("GET", "/v1/whoami", cookie="jitgate_session=" + v)
            self.assertEqual(st, 401, (v[:50], data))
        # non-UTF-8 bytes in the cookie header
        st, _, _ = b.raw("GET", "/v1/whoami",
                         cookie="jitgate_session=\udcff\udcfe".encode(
                             "utf-8", "surrogateescape").decode("latin-1"))
        self.assertEqual(st, 401)
        # a cookie header far over the header limit: refused, daemon fine
        st, _, _ = b.raw("GET", "/v1/whoami", cookie="jitgate_session=" + "A" * 40000)
        self.assertIn(st, (400, 413, 431))
        # two cookies of that name: the first decides, a stale one does not
        # smuggle a good one through
        st, _, _ = b.raw("GET", "/v1/whoami",
                         cookie="jitgate_session=%s; jitgate_session=%s" % (forged, good))
        self.assertEqual(st, 401)
        # a refused cookie is cleared in the browser; the good one still works
        self.assertNotIn("jitgate_session", b.cookies)
        b.cookies["jitgate_session"] = good
        st, me = b.call("GET", "/v1/whoami")
        self.assertEqual((st, me["subject"]), (200, "alice"))
        # sessions live in memory: a restart ends them
        self.srv.restart()
        st, _, _ = b.raw("GET", "/v1/whoami")
        self.assertEqual(st, 401)

    def test_sign_in_failures(self):
        b = Browser(self.srv.url)
        st, e = b.sign_in_token("tok-nobody-0123456789")
        self.assertEqual(st, 401)
        self.assertEqual(b.cookies, {})
        ev = actions(self.srv, "auth.failed")
        self.assertEqual(ev[-1]["detail"]["via"], "web")
        self.assertEqual(ev[-1]["actor"], "anonymous")
        self.assertNotIn("tok-nobody", self.srv.export())
        for body in ({}, {"token": 5}, {"token": "x", "extra": 1}, [1]):
            st, e = b.call("POST", "/auth/token", body)
            self.assertEqual(st, 400, body)
        st, _, _ = b.raw("POST", "/auth/token", b"\xff\xfe{",
                         {"Content-Type": "application/json"})
        self.assertEqual(st, 400)
        st, e = b.call("GET", "/auth/token")
        self.assertEqual(st, 405)
        st, e = b.call("GET", "/auth/nothing")
        self.assertEqual(st, 404)

    def test_sessions_are_bounded_per_subject(self):
        cookies = []
        for _ in range(33):
            cookies.append(self.signed_in("alice").cookies["jitgate_session"])
        b = Browser(self.srv.url)
        st, _, _ = b.raw("GET", "/v1/whoami", cookie="jitgate_session=" + cookies[0])
        self.assertEqual(st, 401)  # the oldest gave way
        for c in cookies[1:]:
            st, _, _ = b.raw("GET", "/v1/whoami", cookie="jitgate_session=" + c)
            self.assertEqual(st, 200)
        # another subject's sessions are untouched by alice's
        bob = self.signed_in("bob")
        st, _ = bob.call("GET", "/v1/whoami")
        self.assertEqual(st, 200)

    def test_removed_identity_ends_its_sessions(self):
        b = self.signed_in("mallory")
        users = {k: v for k, v in USERS.items() if k != "mallory"}
        cfg = base_config().replace(identities_yaml(), identities_yaml(users))
        self.srv.write_config(cfg)
        self.srv.sighup()
        wait_for(lambda: self.srv.http("GET", "/v1/whoami", "mallory")[0] == 401,
                 what="reload")
        st, _ = b.call("GET", "/v1/whoami")
        self.assertEqual(st, 401)


class SecureCookieTest(unittest.TestCase):
    def test_https_public_url_sets_secure_and_pins_the_origin(self):
        srv = Server(base_config(extra="web:\n  public_url: https://jit.example.test\n"
                                       "  session_ttl: 30m\n"))
        try:
            b = Browser(srv.url, origin="https://jit.example.test")
            st, hdrs, data = b.raw("POST", "/auth/token", {"token": token("alice")},
                                   {"Origin": b.origin})
            self.assertEqual(st, 200, data)
            name, value, attrs = cookie_attrs(hdrs["set-cookie"][0])
            self.assertIs(attrs["secure"], True)
            self.assertEqual(attrs["max-age"], "1800")
            b.csrf = __import__("json").loads(data)["csrf"]
            # the origin is public_url's, not whatever Host says
            st, e = b.call("POST", "/v1/requests", {
                "resource": "orders-db", "role": "read", "duration": "1m"},
                headers={"Origin": "http://127.0.0.1:%d" % srv.port})
            self.assertEqual(st, 403)
            st, r = b.call("POST", "/v1/requests", {
                "resource": "orders-db", "role": "read", "duration": "1m"})
            self.assertEqual(st, 201, r)
        finally:
            srv.stop()


def last_seq_of(srv, rid):
    return max(e["seq"] for e in srv.audit_events() if e.get("request_id") == rid)


def metric(srv, name):
    st, text = srv.http("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric " + name)


class EventsTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(base_config())
        self.streams = []

    def tearDown(self):
        for s in self.streams:
            s.close()
        self.srv.stop()

    def stream(self, who=None, **kw):
        if who is not None:
            kw["bearer"] = token(who)
        s = EventStream(self.srv.url, **kw)
        self.streams.append(s)
        return s

    def ready(self, s):
        self.assertEqual(s.status, 200)
        return int(s.until(lambda e: e["event"] == "ready")["id"])

    def test_approval_on_one_connection_shows_up_on_another(self):
        s = self.srv
        # alice watches from her browser session, bob and carol by token
        b = Browser(s.url)
        self.assertEqual(b.sign_in_token(token("alice"))[0], 200)
        alice = self.stream(cookie="jitgate_session=" + b.cookies["jitgate_session"])
        bob, carol = self.stream("bob"), self.stream("carol")
        for x in (alice, bob, carol):
            self.ready(x)
        st, r = b.call("POST", "/v1/requests", {
            "resource": "orders-db", "role": "write", "duration": "10m",
            "reason": "fix <b>", "ticket": "OPS-9"})
        self.assertEqual(st, 201)
        for x in (alice, bob, carol):
            ev = x.until(lambda e: e["event"] == "request")
            self.assertEqual((ev["data"]["id"], ev["data"]["state"]), (r["id"], "pending"))
            self.assertEqual(int(ev["id"]), last_seq_of(s, r["id"]))
        st, _ = s.act("bob", r["id"], "approve", {"comment": "ok"})
        ev = alice.until(lambda e: e["event"] == "request")
        self.assertEqual(ev["data"]["approvals"][0]["by"], "bob")
        self.assertEqual(ev["data"]["state"], "pending")
        st, _ = s.act("carol", r["id"], "approve")
        ev = alice.until(lambda e: e["event"] == "request")
        self.assertEqual(ev["data"]["state"], "active")
        self.assertEqual(int(ev["id"]), last_seq_of(s, r["id"]))
        self.assertIsNotNone(ev["data"]["expires_at"])
        # bob's stream saw the same changes, in the same order
        states = [bob.until(lambda e: e["event"] == "request")["data"]["state"]
                  for _ in range(2)]
        self.assertEqual(states, ["pending", "active"])
        # a revoke with a reason reaches the requester with end_comment
        st, _ = s.act("dave", r["id"], "revoke", {"reason": "incident over"})
        ev = alice.until(lambda e: e["event"] == "request")
        self.assertEqual((ev["data"]["state"], ev["data"]["end_comment"]),
                         ("revoked", "incident over"))

    def test_logout_ends_the_pages_streams(self):
        b = Browser(self.srv.url)
        self.assertEqual(b.sign_in_token(token("alice"))[0], 200)
        cookie = "jitgate_session=" + b.cookies["jitgate_session"]
        page = self.stream(cookie=cookie)
        other = self.stream("alice")  # her CLI, by token: not this session
        self.ready(page)
        self.ready(other)
        st, _ = b.call("POST", "/auth/logout")
        self.assertEqual(st, 200)
        while True:  # the page's stream ends, without anything more
            ev = page.next()
            if ev is None:
                break
            self.assertNotEqual(ev["event"], "request")
        st, r = self.srv.request("alice", "orders-db", "read", "1m")
        ev = other.until(lambda e: e["event"] == "request")
        self.assertEqual(ev["data"]["id"], r["id"])
        # and the cookie opens no new one
        again = EventStream(self.srv.url, cookie=cookie)
        self.assertEqual(again.status, 401)
        again.close()

    def test_invisible_requests_are_not_leaked(self):
        s = self.srv
        erik = self.stream("erik")  # engineering: sees only his own
        mallory = self.stream("mallory")
        self.ready(erik)
        self.ready(mallory)
        st, a = s.request("alice", "orders-db", "read", "10m")
        st, a2 = s.request("alice", "orders-db", "write", "10m", reason="x", ticket="OPS-1")
        s.act("bob", a2["id"], "deny", {"comment": "secret reason"})
        st, e = s.request("erik", "orders-db", "read", "10m")
        # the first thing erik's stream carries is his own request: alice's
        # changes, made before, were never sent to him
        ev = erik.until(lambda x: x["event"] == "request")
        self.assertEqual(ev["data"]["id"], e["id"])
        self.assertEqual(ev["data"]["requester"], "erik")
        # mallory may see nothing; her stream ends carrying no request
        # (closed by the daemon's shutdown)
        self.srv.stop()
        while True:
            ev = mallory.next()
            if ev is None:
                break
            self.assertNotEqual(ev["event"], "request", ev)

    def test_last_event_id_resumes(self):
        s = self.srv
        first = self.stream("alice")
        r0 = self.ready(first)
        first.close()
        st, a = s.request("alice", "orders-db", "read", "10m")
        st, b = s.request("alice", "orders-db", "write", "10m", reason="x", ticket="OPS-1")
        st, hidden = s.request("bob", "prod-payments", "read", "10m")
        s.act("bob", b["id"], "approve")
        mid = last_seq_of(s, b["id"])
        s.act("carol", b["id"], "approve")
        st, c = s.request("alice", "billing-api", "read", "5m")
        # back from r0: every visible request that changed, once, as it is
        # now, in the order of its last change; then ready at the head
        again = self.stream("alice", last_event_id=r0)
        evs = []
        while True:
            ev = again.next()
            if ev["event"] == "ready":
                break
            evs.append(ev)
        self.assertEqual([e["data"]["id"] for e in evs], [a["id"], b["id"], c["id"]])
        self.assertEqual(evs[1]["data"]["state"], "active")
        self.assertEqual([int(e["id"]) for e in evs],
                         [last_seq_of(s, x["id"]) for x in (a, b, c)])
        head = max(e["seq"] for e in s.audit_events())
        self.assertEqual(int(ev["id"]), head)
        # from the middle: only what changed after it
        again2 = self.stream("alice", last_event_id=mid)
        ev = again2.until(lambda e: e["event"] in ("request", "ready"))
        self.assertEqual(ev["data"]["id"], b["id"])
        ev = again2.until(lambda e: e["event"] in ("request", "ready"))
        self.assertEqual(ev["data"]["id"], c["id"])
        # and a resumed stream is live afterwards
        st, d = s.request("alice", "orders-db", "read", "1m")
        ev = again.until(lambda e: e["event"] == "request")
        self.assertEqual(ev["data"]["id"], d["id"])
        # the query form works for a first connection (EventSource cannot
        # set headers)
        for bad in ("x", "-1", "1.5", "99999999999999999999999", "1 2", "0x10"):
            st = EventStream(s.url, bearer=token("alice"), last_event_id=bad)
            self.assertEqual(st.status, 400, bad)
            st.close()

    def test_limits_and_the_thread_pool(self):
        # more streams than HTTP threads, and still every other call works
        for _ in range(16):
            self.ready(self.stream("alice"))
        # a 17th (a page reloaded before the old stream was noticed gone)
        # is served, and alice's oldest stream ends for it
        self.ready(self.stream("alice"))
        first = self.streams[0]
        while True:
            ev = first.next()
            if ev is None:
                break
            self.assertNotEqual(ev["event"], "request")
        self.streams.pop(0).close()
        for who in ("bob", "carol", "dave"):
            self.ready(self.stream(who))
        wait_for(lambda: metric(self.srv, "jitgate_event_streams") == 19,
                 what="the oldest stream to go")
        for _ in range(10):
            st, _ = self.srv.request("alice", "orders-db", "read", "1m")
            self.assertEqual(st, 201)
        st, _ = self.srv.http("GET", "/v1/events")
        self.assertEqual(st, 401)
        st, _ = self.srv.http("POST", "/v1/events", "alice", {})
        self.assertEqual(st, 405)
        # closed streams are given back (a suspended stream notices its
        # client is gone at the next heartbeat, every 15 s)
        for x in self.streams[:16]:
            x.close()
        wait_for(lambda: metric(self.srv, "jitgate_event_streams") == 3,
                 timeout=60, interval=0.5, what="streams to close")
        self.ready(self.stream("alice"))

    def test_a_slow_client_is_dropped(self):
        s = self.srv
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", s.port))
        slow.sendall(("GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s"
                      "\r\n\r\n" % token("alice")).encode())
        fast = self.stream("dave")  # an admin: sees everything
        self.ready(fast)
        got = []

        def read_fast():
            try:
                while True:
                    ev = fast.next()
                    if ev is None:
                        return
                    if ev["event"] == "request":
                        got.append(ev["data"]["id"])
            except (OSError, AttributeError, ValueError):
                return  # closed by tearDown

        t = threading.Thread(target=read_fast, daemon=True)
        t.start()
        made = []
        reason = "r" * 1000

        def create(_):
            st, r = s.request("alice", "orders-db", "read", "1m", reason=reason)
            self.assertEqual(st, 201)
            return r["id"]

        # ~250 changes of ~1.5 KB overflow the 256 KiB queue and the small
        # socket buffers; made in parallel batches (group commit)
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(8) as pool:
            while metric(s, "jitgate_event_streams_dropped_total") < 1:
                self.assertLess(len(made), 5000, "the slow stream was never dropped")
                made += list(pool.map(create, range(50)))
        made.sort()
        # the reader that keeps up got every one
        wait_for(lambda: len(got) >= len(made), what="the fast stream")
        self.assertEqual(sorted(got), made)
        # the slow one, once it reads, finds its stream cut short
        slow.settimeout(60)
        data = b""
        while True:
            chunk = slow.recv(65536)
            if not chunk:
                break
            data += chunk
        slow.close()
        text = data.decode(errors="replace")
        self.assertNotIn('"id":%d,' % made[-1], text)
        self.assertEqual(metric(s, "jitgate_event_streams"), 1)


if __name__ == "__main__":
    run(CatalogTest, GatewayAddressTest, EndCommentTest, SessionTest, SecureCookieTest, EventsTest)
