"""Failed authentication, actors and outside text under attack (design
section 9), against the real daemon: the HTTP API and the PostgreSQL
gateway (its pre-authentication paths need no upstream; session.started
runs against a real PostgreSQL).

- a refusal before authentication has actor "anonymous" and the claimed
  user in detail.claimed_subject, in the API and the gateway;
- user names, database names and application_name that are not UTF-8 are
  escaped in the audit log, never a reason to drop the event; a newline in
  a name cannot forge a log line;
- failed logins are aggregated per (address, claimed subject) and minute,
  and past limits.auth_failures_per_ip_per_min an address gets 429 with
  Retry-After (gateway FATAL 53300) with nothing written, while its valid
  credentials are still served; the counted failures are written when the
  minute closes (here: at shutdown, which closes every minute);
- probes without credentials (GET /, HEAD /metrics) write nothing, and
  /metrics has the Content-Type Prometheus 3 requires.
"""
import hashlib
import hmac
import http.client
import json
import os
import sys
import time
import urllib.parse
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, free_port, identities_yaml, run, token, wait_for  # noqa: E402
from pgcluster import PgCluster  # noqa: E402
import pgwire  # noqa: E402

LIMIT = 5
SLACK_SECRET = "slack-signing-secret-for-tests"


def config(pgport, gwport):
    return ("listen: {LISTEN}\nstorage: {STORAGE}\npending_ttl: 1h\n"
            "admins: [group:security]\nauditors: [group:audit]\n"
            "checkers: [user:svc]\n" + identities_yaml() + f"""
gateway:
  postgres_listen: 127.0.0.1:{gwport}
resources:
  - name: orders-db
    kind: postgres
    upstream: {{host: 127.0.0.1, port: {pgport}, dbname: orders}}
    roles:
      read:  {{user: jit_read,  password_env: ORDERS_READ_PASSWORD}}
policies:
  - name: read
    requesters: [group:engineering]
    resources: [orders-db]
    roles: [read]
    max_duration: 4h
    approvals: 0
limits:
  auth_failures_per_ip_per_min: {LIMIT}
slack:
  signing_secret_env: JG_SLACK_SECRET
  bot_token_env: JG_SLACK_TOKEN
  api_url: http://127.0.0.1:9/api
  users: {{U0ALICE: alice}}
""")


def http_from(srv, src, method, path, tok=None, headers=None, body=None):
    """One request from loopback address src: (status, headers, body)."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30,
                                   source_address=(src, 0))
    h = dict(headers or {})
    if tok is not None:
        h["Authorization"] = "Bearer " + tok
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode(errors="replace")
    finally:
        c.close()


class AuthHardeningTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pgport = free_port()
        cls.pg = PgCluster(cls.pgport)
        cls.pg.start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def setUp(self):
        self.gwport = free_port()
        self.srv = Server(config(self.pgport, self.gwport),
                          env={"ORDERS_READ_PASSWORD": "read-pw",
                               "JG_SLACK_SECRET": SLACK_SECRET,
                               "JG_SLACK_TOKEN": "xoxb-unused"})

    def tearDown(self):
        self.srv.stop()

    def events(self, action, n=None):
        """The action's events; with n, waits until there are n (the
        gateway's events are written asynchronously)."""
        if n is not None:
            wait_for(lambda: len(self.srv.audit_events(action=action)) >= n,
                     what="%d %s event(s)" % (n, action))
        return self.srv.audit_events(action=action)

    def by_addr(self, action, addr):
        return [e for e in self.events(action)
                if e.get("detail", {}).get("remote_addr") == addr]

    def valid_login_served(self, src):
        """A limited address's valid token still logs in at the gateway."""
        st, body = self.srv.request("alice", "orders-db", "read", "30m")
        self.assertEqual(st, 201, body)
        r = pgwire.login(self.gwport, "alice", token("alice"), src=src)
        self.assertTrue(r.ready, (r.sqlstate, r.message))
        r.conn.close()

    # -- actors ---------------------------------------------------------

    def test_gateway_preauth_refusal_has_no_actor(self):
        # no token is ever sent: the user name is only a claim
        r = pgwire.login(self.gwport, "dave", "", database="orders-db@")
        self.assertEqual(r.sqlstate, "3D000", r.message)
        self.assertFalse(r.asked_password)
        ev = [e for e in self.events("check.denied", 1)
              if e["detail"].get("reason") == "bad_dbname"]
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual(ev[0]["actor"], "anonymous")
        self.assertNotIn("subject", ev[0])
        self.assertEqual(ev[0]["detail"]["claimed_subject"], "dave")

    def test_gateway_failed_login_has_no_actor(self):
        r = pgwire.login(self.gwport, "dave", "not-daves-token")
        self.assertEqual(r.sqlstate, "28P01", r.message)
        ev = self.events("auth.failed", 1)
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual(ev[0]["actor"], "anonymous")
        self.assertEqual(ev[0]["detail"]["claimed_subject"], "dave")
        self.assertEqual(ev[0]["detail"]["via"], "gateway")
        self.assertEqual(ev[0]["detail"]["remote_addr"], "127.0.0.1")
        self.assertNotIn("not-daves-token", self.srv.export())

    def test_gateway_valid_token_for_another_user(self):
        # erin's valid token used to log in as dave: the verified erin is
        # the actor, dave only the claim
        r = pgwire.login(self.gwport, "dave", token("erin"))
        self.assertEqual(r.sqlstate, "28P01", r.message)
        ev = self.events("auth.failed", 1)
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual(ev[0]["actor"], "erin")
        self.assertEqual(ev[0]["detail"]["claimed_subject"], "dave")

    # -- text that is not UTF-8, and log lines --------------------------

    def test_non_utf8_names_are_escaped_not_dropped(self):
        forged = b"2026-01-01T00:00:00.000Z info admit: FORGED"
        user = b"d\xffve\n" + forged
        r = pgwire.login(self.gwport, user, "guess-1")
        self.assertEqual(r.sqlstate, "28P01", r.message)
        r = pgwire.login(self.gwport, b"m\xc3\x28llory", "x", database=b"\xfe@")
        self.assertEqual(r.sqlstate, "3D000", r.message)
        fails = self.events("auth.failed", 1)
        self.assertEqual(len(fails), 1, fails)
        self.assertEqual(fails[0]["detail"]["claimed_subject"],
                         "d\\xffve\n" + forged.decode())
        denied = [e for e in self.events("check.denied", 1)
                  if e["detail"].get("reason") == "bad_dbname"]
        self.assertEqual(len(denied), 1, denied)
        self.assertEqual(denied[0]["detail"]["claimed_subject"], "m\\xc3(llory")
        # the chain still verifies with the escaped text in it
        st, v = self.srv.http("GET", "/v1/audit/verify", "erin")
        self.assertEqual((st, v.get("ok")), (200, True), v)
        # the newline did not start a line of its own
        for line in self.srv.logs().splitlines():
            self.assertFalse(line.startswith("2026-01-01T00:00:00.000Z"), line)
        self.assertIn("d\\xffve\\n2026-01-01", self.srv.logs())

    def test_non_utf8_application_name_in_session_started(self):
        st, body = self.srv.request("alice", "orders-db", "read", "30m")
        self.assertEqual(st, 201, body)
        r = pgwire.login(self.gwport, "alice", token("alice"), database="orders-db",
                         app=b"psql\xff\x01")
        self.assertTrue(r.ready, (r.sqlstate, r.message))
        r.conn.close()
        ev = self.events("session.started", 1)
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual(ev[0]["actor"], "alice")
        self.assertEqual(ev[0]["detail"]["application_name"], "psql\\xff\x01")

    # -- aggregation and the limit ---------------------------------------

    def test_api_failures_aggregated_then_refused(self):
        src = "127.0.0.3"
        statuses = []
        for i in range(40):
            st, hdrs, body = http_from(self.srv, src, "GET", "/v1/whoami",
                                       tok="guess-%d" % i)
            statuses.append(st)
            if st == 429:
                ra = int(hdrs["Retry-After"])
                self.assertTrue(1 <= ra <= 60, hdrs)
                self.assertIn("too_many_requests", body)
        self.assertEqual(statuses, [401] * LIMIT + [429] * (40 - LIMIT))
        # valid credentials from the same address are still served
        st, _, body = http_from(self.srv, src, "GET", "/v1/whoami", tok=token("alice"))
        self.assertEqual(st, 200, body)
        # no credentials at all: refused too, but not a failure
        st, hdrs, _ = http_from(self.srv, src, "GET", "/v1/whoami")
        self.assertEqual(st, 429)
        # other addresses are not affected
        st, _, _ = http_from(self.srv, "127.0.0.4", "GET", "/v1/whoami", tok="nope")
        self.assertEqual(st, 401)
        # durable so far: only the first failure of (127.0.0.3, no claim)
        ev = self.by_addr("auth.failed", src)
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual(ev[0]["actor"], "anonymous")
        self.assertNotIn("count", ev[0]["detail"])
        st, metrics = self.srv.http("GET", "/metrics")
        self.assertIn("jitgate_auth_refused_total 36", metrics)
        # stopping closes every minute: the counts are written, not lost
        self.srv.restart()
        ev = self.by_addr("auth.failed", src)
        self.assertEqual(len(ev), 3, ev)
        agg = [e for e in ev if e["detail"].get("aggregated")]
        lim = [e for e in ev if e["detail"].get("rate_limited")]
        self.assertEqual(len(agg), 1, ev)
        self.assertEqual(agg[0]["detail"]["count"], LIMIT - 1)
        self.assertEqual(len(lim), 1, ev)
        self.assertEqual(lim[0]["detail"]["count"], 40 - LIMIT + 1)
        for e in ev:
            self.assertEqual(e["actor"], "anonymous")

    def test_gateway_failures_refused_with_53300(self):
        src = "127.0.0.5"
        codes = [pgwire.login(self.gwport, "u%d" % (i % 3), "guess", src=src).sqlstate
                 for i in range(12)]
        self.assertEqual(codes, ["28P01"] * LIMIT + ["53300"] * (12 - LIMIT))
        self.valid_login_served(src)
        # one event per claimed subject so far (u0, u1, u2): 3, not 12
        wait_for(lambda: len(self.by_addr("auth.failed", src)) >= 3, what="3 events")
        ev = self.by_addr("auth.failed", src)
        self.assertEqual(sorted(e["detail"]["claimed_subject"] for e in ev),
                         ["u0", "u1", "u2"])
        # the API shares the limiter: the address is refused there too
        st, _, _ = http_from(self.srv, src, "GET", "/v1/whoami", tok="guess")
        self.assertEqual(st, 429)

    def test_gateway_preauth_refusals_aggregated_then_refused(self):
        # refusals before the password (anyone can cause them by
        # connecting) are limited and aggregated like failed logins: not
        # one durable row per connection
        src = "127.0.0.6"
        codes = [pgwire.login(self.gwport, "mallory", "", database="orders-db@",
                              src=src).sqlstate for _ in range(LIMIT + 2)]
        # a replication request of another claimed user is refused by the
        # same limit (the address is spent)
        c = pgwire.Conn(self.gwport, src=src)
        try:
            c.send(pgwire.startup("eve", "orders-db", replication="database"))
            kind, body = c.read_msg()
            self.assertEqual(kind, b"E")
            codes.append(pgwire.parse_error(body)["C"])
        finally:
            c.close()
        codes += [pgwire.login(self.gwport, "mallory", "", database="orders-db@",
                               src=src).sqlstate for _ in range(40)]
        self.assertEqual(len(codes), LIMIT + 43)
        self.assertEqual(codes, ["3D000"] * LIMIT + ["53300"] * 43)
        # the address's failed logins share the limit: refused at once
        self.assertEqual(pgwire.login(self.gwport, "alice", "guess", src=src).sqlstate,
                         "53300")
        self.valid_login_served(src)
        # durable so far: the first refusal only
        wait_for(lambda: len(self.by_addr("check.denied", src)) >= 1, what="1 event")
        ev = self.by_addr("check.denied", src)
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual(ev[0]["actor"], "anonymous")
        self.assertNotIn("resource", ev[0])  # the dbname did not parse
        self.assertEqual(ev[0]["detail"]["reason"], "bad_dbname")
        self.assertEqual(ev[0]["detail"]["claimed_subject"], "mallory")
        self.assertEqual(ev[0]["detail"]["via"], "gateway")
        self.assertTrue(ev[0]["detail"]["client"].startswith(src + ":"), ev[0])
        # another address is not affected
        r = pgwire.login(self.gwport, "mallory", "", database="orders-db@",
                         src="127.0.0.7")
        self.assertEqual(r.sqlstate, "3D000")
        # stopping closes every minute: the counts are written, not lost
        self.srv.restart()
        ev = self.by_addr("check.denied", src)
        self.assertEqual(len(ev), 2, ev)
        self.assertEqual(ev[1]["detail"]["count"], LIMIT - 1)
        self.assertTrue(ev[1]["detail"]["aggregated"])
        self.assertEqual(ev[1]["detail"]["reason"], "bad_dbname")
        lim = [e for e in self.by_addr("auth.failed", src)
               if e["detail"].get("rate_limited")]
        self.assertEqual(len(lim), 1, lim)
        # refused past the limit: the 43 refusals and the failed login
        self.assertEqual(lim[0]["detail"]["count"], 43 + 1)

    def slack_click(self, src, secret, rid):
        """A Slack button click signed with secret, from address src."""
        body = urllib.parse.urlencode({"payload": json.dumps({
            "type": "block_actions", "user": {"id": "U0ALICE"},
            "actions": [{"action_id": "jitgate_deny", "value": str(rid)}]})}).encode()
        ts = str(int(time.time()))
        sig = "v0=" + hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body,
                               hashlib.sha256).hexdigest()
        return http_from(self.srv, src, "POST", "/v1/slack/interactions", body=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded",
                                  "X-Slack-Request-Timestamp": ts,
                                  "X-Slack-Signature": sig})

    def test_slack_bad_signatures_aggregated_then_refused(self):
        # a forged Slack signature is a failed credential like any other:
        # counted, aggregated and, past the limit, 429 with nothing written
        src = "127.0.0.8"
        statuses = []
        for _ in range(12):
            st, hdrs, body = self.slack_click(src, "forged-secret", 1)
            statuses.append(st)
            if st == 429:
                self.assertTrue(1 <= int(hdrs["Retry-After"]) <= 60, hdrs)
                self.assertIn("too_many_requests", body)
        self.assertEqual(statuses, [401] * LIMIT + [429] * (12 - LIMIT))
        # the limit is the address's: the API refuses it too
        st, _, _ = http_from(self.srv, src, "GET", "/v1/whoami", tok="guess")
        self.assertEqual(st, 429)
        # a click with the real signature from that address is still served
        st, req = self.srv.request("alice", "orders-db", "read", "30m")
        self.assertEqual(st, 201, req)
        st, _, body = self.slack_click(src, SLACK_SECRET, req["id"])
        self.assertEqual(st, 200, body)
        ev = self.by_addr("auth.failed", src)
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual((ev[0]["actor"], ev[0]["detail"]["via"]), ("anonymous", "slack"))
        self.assertEqual(ev[0]["detail"]["reason"], "bad Slack signature")
        self.srv.restart()
        ev = self.by_addr("auth.failed", src)
        self.assertEqual(len(ev), 3, ev)
        agg = [e for e in ev if e["detail"].get("aggregated")]
        lim = [e for e in ev if e["detail"].get("rate_limited")]
        self.assertEqual((len(agg), agg[0]["detail"]["count"]), (1, LIMIT - 1), ev)
        self.assertEqual(agg[0]["detail"]["via"], "slack")
        self.assertEqual((len(lim), lim[0]["detail"]["count"]), (1, 12 - LIMIT + 1), ev)
        self.assertNotIn(SLACK_SECRET, self.srv.export())

    # -- probes and /metrics ---------------------------------------------

    def test_probes_write_nothing(self):
        n = len(self.srv.audit_events())
        # "/" is the web UI's (public) page: a probe of it writes nothing
        st, _, _ = http_from(self.srv, "127.0.0.1", "GET", "/")
        self.assertLess(st, 500)
        st, hdrs, body = http_from(self.srv, "127.0.0.1", "HEAD", "/metrics")
        self.assertEqual((st, body), (200, ""))
        st, _, _ = http_from(self.srv, "127.0.0.1", "HEAD", "/healthz")
        self.assertEqual(st, 200)
        st, _, _ = http_from(self.srv, "127.0.0.1", "GET", "/v1/requests")
        self.assertEqual(st, 401)
        self.assertEqual(len(self.srv.audit_events()), n)
        self.assertEqual(self.events("auth.failed"), [])
        st, hdrs, body = http_from(self.srv, "127.0.0.1", "GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertEqual(hdrs["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        self.assertIn("jitgate_auth_failures_total 0", body)


if __name__ == "__main__":
    run(AuthHardeningTest)
