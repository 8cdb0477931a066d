"""Notices to people (design section 13, docs/slack.md): the requester
(approved, denied with the comment, expiring, expired, revoked with the
reason, timed out), the approvers who may act (new request, reminder after
remind_after, escalation to escalate_to) and everyone for break-glass get
Slack DMs (chat.postMessage with channel = their Slack user id, found by
slack.users or users.lookupByEmail, cached) through the durable outbox,
each exactly once; Slack down then back, with a restart in between, delivers
late but delivers; hostile text is escaped; an unknown person's DM fails
visibly (log, metric) without holding up anyone else's, while a hostile
answer to a lookup (an id too long to be one, not JSON) is retried, not
taken for a verdict.  The same notices
go to a signed webhook for setups without Slack.

"Exactly once" is checked against a marker: notices are delivered in the
order of their outbox rows, so once a later notice has arrived every
earlier one has too, and the counts are final."""
import hashlib
import hmac
import http.server
import json
import threading
import time
import unittest
import urllib.parse

import fakeslack
from harness import Server, base_config, free_port, run, wait_for

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-people-token"
ENV = {"JG_SLACK_SECRET": SECRET, "JG_SLACK_TOKEN": TOKEN, "JG_HOOK_KEY": "hook-key-1"}

# Slack users the fake workspace has; dave is found only by email
IDS = {"U0BOB": "bob", "U0CAROL": "carol", "U0ALICE": "alice", "U0SAM": "sam"}
EMAILS = {"dave@corp.example": "U0DAVE"}

POLICIES = """\
policies:
  - name: engineers-read
    requesters: [group:engineering]
    resources: [orders-db]
    roles: [read]
    max_duration: 4h
    approvals: 0
  - name: prod-write
    requesters: [group:engineering]
    resources: ["*"]
    roles: [write]
    max_duration: 1h
    approvals: 1
    approvers: [group:sre]
    break_glass: {max_duration: 30m}
  - name: slow-admin
    requesters: [group:engineering]
    resources: ["*"]
    roles: [admin]
    max_duration: 1h
    approvals: 1
    approvers: [user:bob]
    remind_after: 2s
    escalate_after: 3s
    escalate_to: [user:dave]
"""


def slack_section(port):
    return ("slack:\n  signing_secret_env: JG_SLACK_SECRET\n  bot_token_env: JG_SLACK_TOKEN\n"
            "  api_url: http://127.0.0.1:%d/api\n"
            "  users: {U0BOB: bob, U0CAROL: carol, U0ALICE: alice, U0SAM: sam}\n" % port)


PEOPLE = """\
notify_people:
  slack: true
  email_domain: corp.example
  expiring_before: 4s
  everyone: [user:frank, user:weird, user:odd]
"""


class FakeSlack:
    """A local Slack Web API: chat.postMessage answers channel_not_found
    for a user the workspace does not have; users.lookupByEmail finds
    EMAILS.  Every call is recorded.  limited[method] = n answers the next
    n calls of method 429 with Retry-After: 2, as Slack's rate limit does;
    received holds (time.monotonic(), method, status) of every call."""

    def __init__(self, port):
        self.posts, self.lookups = [], []
        self.limited, self.received = {}, []
        self.httpd = fakeslack.serve(port, self._answer)

    def _answer(self, path, headers, body):
        method = path.rsplit("/", 1)[1]
        if self.limited.get(method, 0) > 0:
            self.limited[method] -= 1
            self.received.append((time.monotonic(), method, 429))
            return 429, None, {"Retry-After": "2"}
        self.received.append((time.monotonic(), method, 200))
        if headers.get("Authorization") != "Bearer " + TOKEN:
            out = {"ok": False, "error": "invalid_auth"}
        elif path == "/api/users.lookupByEmail":
            email = urllib.parse.parse_qs(body.decode())["email"][0]
            self.lookups.append(email)
            out = ({"ok": True, "user": {"id": EMAILS[email]}} if email in EMAILS
                   else {"ok": False, "error": "users_not_found"})
            # hostile answers: an id too long to be one, not JSON at all
            if email == "weird@corp.example":
                out = {"ok": True, "user": {"id": "U" * 200}}
            elif email == "odd@corp.example":
                out = "<html>\x00\xff not json"
        elif path == "/api/chat.postMessage":
            msg = json.loads(body)
            known = msg["channel"] in IDS or msg["channel"] in EMAILS.values()
            if known:
                self.posts.append(msg)
            out = ({"ok": True, "ts": "1.%d" % len(self.posts)} if known
                   else {"ok": False, "error": "channel_not_found"})
        else:
            out = {"ok": False, "error": "unknown_method"}
        return 200, out, {}

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def to(self, user, needle=""):
        return [m for m in self.posts if m["channel"] == user and needle in m["text"]]


class People(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.fake = FakeSlack(self.port)
        self.srv = Server(base_config(policies=POLICIES, extra=slack_section(self.port) + PEOPLE),
                          env=ENV)

    def tearDown(self):
        self.srv.stop()
        self.fake.stop()

    def wait_dm(self, user, needle, what=None):
        return wait_for(lambda: self.fake.to(user, needle), timeout=60,
                        what=what or "a DM to %s with %r" % (user, needle))

    def test_request_approve_revoke_deny(self):
        st, r = self.srv.request("alice", "orders-db", "write", "30m",
                                 reason="deploy <!channel> & <https://evil.example|fix>")
        self.assertEqual(st, 201, r)
        rid = r["id"]
        # the approvers who may act: bob, carol, sam (sre); not alice
        for u in ("U0BOB", "U0CAROL", "U0SAM"):
            dm = self.wait_dm(u, "request %d" % rid)[0]
            self.assertIn("alice asks for write on orders-db for 30m", dm["text"])
            # hostile text escaped: no mention, no smuggled link
            self.assertIn("deploy &lt;!channel&gt; &amp; &lt;https://evil.example|fix&gt;",
                          dm["text"])
            self.assertNotIn("<!channel>", json.dumps(dm))
            self.assertEqual([b["action_id"] for b in dm["blocks"][1]["elements"]],
                             ["jitgate_approve", "jitgate_deny"])
        st, _ = self.srv.act("bob", rid, "approve")
        self.assertEqual(st, 200)
        self.wait_dm("U0ALICE", "was approved by bob")
        st, _ = self.srv.act("carol", rid, "revoke", {"reason": "done <@U0BOB>"})
        self.assertEqual(st, 200)
        dm = self.wait_dm("U0ALICE", "was revoked by carol")[0]
        self.assertIn("done &lt;@U0BOB&gt;", dm["text"])
        st, r2 = self.srv.request("alice", "orders-db", "write", "10m")
        self.assertEqual(st, 201, r2)
        st, _ = self.srv.act("carol", r2["id"], "deny", {"comment": "not today"})
        self.assertEqual(st, 200)
        self.wait_dm("U0ALICE", "was denied by carol: not today", what="the marker")
        # exactly once each: the marker came after all of them
        for u in ("U0BOB", "U0CAROL", "U0SAM"):
            self.assertEqual(len(self.fake.to(u, "request %d)" % rid)), 1, u)
            self.assertEqual(len(self.fake.to(u, "request %d)" % r2["id"])), 1, u)
        self.assertEqual(len(self.fake.to("U0ALICE")), 3, self.fake.to("U0ALICE"))
        self.assertEqual(self.fake.lookups, [])  # every one of them is in slack.users
        self.assertNotIn(TOKEN, self.srv.logs())

    def test_reminder_escalation_and_email_lookup(self):
        st, r = self.srv.request("alice", "orders-db", "admin", "30m")
        self.assertEqual(st, 201, r)
        rid = r["id"]
        self.wait_dm("U0BOB", "asks for admin")
        self.wait_dm("U0BOB", "Reminder: request %d" % rid)
        # escalation to dave, found by email (dave@corp.example)
        dm = self.wait_dm("U0DAVE", "Escalated to you: request %d" % rid)[0]
        self.assertEqual([b["action_id"] for b in dm["blocks"][1]["elements"]],
                         ["jitgate_approve", "jitgate_deny"])
        # once escalated, dave is reminded too
        self.wait_dm("U0DAVE", "Reminder: request %d" % rid)
        st, _ = self.srv.act("dave", rid, "approve")
        self.assertEqual(st, 200)
        self.wait_dm("U0ALICE", "was approved by dave", what="the marker")
        ev = self.srv.audit_events(action="request.reminded")
        esc = self.srv.audit_events(action="request.escalated")
        self.assertTrue(ev)
        self.assertEqual([e["detail"]["rule"] for e in ev], ["remind_after"] * len(ev))
        self.assertEqual([e["detail"]["reminder"] for e in ev], sorted(
            e["detail"]["reminder"] for e in ev))
        self.assertEqual(len(esc), 1)
        self.assertEqual(esc[0]["detail"]["rule"], "escalate_after")
        self.assertEqual(esc[0]["actor"], "jitgate")
        # one DM per audited reminder, one escalation
        self.assertEqual(len(self.fake.to("U0BOB", "Reminder: request %d" % rid)), len(ev))
        self.assertEqual(len(self.fake.to("U0DAVE", "Escalated")), 1)
        # the lookup is cached: one, for several DMs to dave
        self.assertGreaterEqual(len(self.fake.to("U0DAVE")), 2)
        self.assertEqual(self.fake.lookups, ["dave@corp.example"])
        # no reminder after the decision
        n = len(self.srv.audit_events(action="request.reminded"))
        st, r3 = self.srv.request("erik", "orders-db", "write", "10m")
        self.srv.act("bob", r3["id"], "deny", {"comment": "marker"})
        self.wait_dm("U0CAROL", "request %d" % r3["id"])
        self.assertEqual(len(self.srv.audit_events(action="request.reminded")), n)

    def test_break_glass_to_everyone_unknown_person_visible(self):
        st, r = self.srv.request("alice", "orders-db", "write", "10m",
                                 reason="outage", break_glass=True)
        self.assertEqual(st, 201, r)
        self.assertEqual(r["state"], "active")
        rid = r["id"]
        # approvers of the policy, the admins (group:security: dave, by
        # email) and notify_people.everyone (frank: unknown to Slack)
        for u in ("U0BOB", "U0CAROL", "U0SAM", "U0DAVE"):
            dm = self.wait_dm(u, "BREAK-GLASS")[0]
            self.assertIn("alice took write on orders-db for 10m (request %d)" % rid,
                          dm["text"])
        wait_for(lambda: "frank undeliverable" in self.srv.logs(), timeout=60,
                 what="the undeliverable log line")
        st, text = self.srv.http("GET", "/metrics")
        self.assertIn("jitgate_notify_undeliverable_total 1\n", text)
        self.assertIn("frank@corp.example", self.fake.lookups)
        # frank's failure held up nobody: a later notice still arrives
        st, r2 = self.srv.request("alice", "orders-db", "write", "10m")
        self.wait_dm("U0BOB", "request %d" % r2["id"])
        self.assertEqual(len(self.fake.to("U0BOB", "BREAK-GLASS")), 1)
        # and frank is not retried: still one lookup, one drop
        st, text = self.srv.http("GET", "/metrics")
        self.assertIn("jitgate_notify_undeliverable_total 1\n", text)
        self.assertEqual(self.fake.lookups.count("frank@corp.example"), 1)
        # hostile answers to a lookup are not a verdict on the person: their
        # notices are retried (not dropped), and nobody else waits for them
        wait_for(lambda: self.fake.lookups.count("weird@corp.example") >= 2 and
                 self.fake.lookups.count("odd@corp.example") >= 2, timeout=60,
                 what="the retried lookups")
        self.assertIn("users.lookupByEmail answered no user id", self.srv.logs())
        self.assertEqual([m for m in self.fake.posts if m["channel"].startswith("UUUU")], [])

    def test_rate_limited_lookup_and_dm_wait_then_deliver(self):
        # Slack answers 429 + Retry-After: 2 to a lookup and to a DM: no
        # Slack call of any row before 2 s, and every notice still arrives
        self.fake.limited = {"users.lookupByEmail": 1, "chat.postMessage": 1}
        st, r = self.srv.request("alice", "orders-db", "write", "10m",
                                 reason="outage", break_glass=True)
        self.assertEqual(st, 201, r)
        for u in ("U0BOB", "U0CAROL", "U0SAM", "U0DAVE"):
            self.wait_dm(u, "BREAK-GLASS")
        wait_for(lambda: "frank undeliverable" in self.srv.logs(), timeout=60,
                 what="frank's lookup, retried after the limit, then dropped")
        got = list(self.fake.received)
        limited = [i for i, c in enumerate(got) if c[2] == 429]
        self.assertEqual(sorted(got[i][1] for i in limited),
                         ["chat.postMessage", "users.lookupByEmail"], got)
        for i in limited:
            self.assertLess(i + 1, len(got), got)
            self.assertGreaterEqual(got[i + 1][0] - got[i][0], 2.0, got)
        for u in ("U0BOB", "U0CAROL", "U0SAM", "U0DAVE"):
            self.assertEqual(len(self.fake.to(u, "BREAK-GLASS")), 1, u)
        st, text = self.srv.http("GET", "/metrics")
        self.assertIn("jitgate_notify_slack_ratelimited_total 2\n", text)

    def test_expiring_then_expired(self):
        st, r = self.srv.request("alice", "orders-db", "write", "8s")
        self.assertEqual(st, 201, r)
        self.srv.act("bob", r["id"], "approve")
        self.wait_dm("U0ALICE", "was approved by bob")
        dm = self.wait_dm("U0ALICE", "(request %d) ends at" % r["id"])[0]
        self.assertIn("Ask for an extension", dm["text"])
        self.wait_dm("U0ALICE", "(request %d) has expired" % r["id"])
        exp = self.srv.audit_events(action="request.expiring")
        self.assertEqual(len(exp), 1)
        self.assertEqual(exp[0]["detail"]["rule"], "expiring_before")
        self.assertEqual(len(self.fake.to("U0ALICE", "ends at")), 1)
        # a grant no longer than expiring_before gets no warning
        st, r2 = self.srv.request("alice", "orders-db", "read", "3s")
        self.assertEqual(r2["state"], "active")
        wait_for(lambda: self.srv.http("GET", "/v1/requests/%d" % r2["id"], "alice")[1]
                 ["state"] == "expired", timeout=60, what="the short grant to expire")
        self.wait_dm("U0ALICE", "(request %d) has expired" % r2["id"])
        self.assertEqual(len(self.srv.audit_events(action="request.expiring")), 1)


class SlackDown(unittest.TestCase):
    def test_down_restart_then_back_delivers_once(self):
        port = free_port()
        srv = Server(base_config(policies=POLICIES, extra=slack_section(port) + PEOPLE),
                     env=ENV)
        fake = None
        try:
            st, r = srv.request("alice", "orders-db", "write", "30m", reason="late")
            self.assertEqual(st, 201, r)
            wait_for(lambda: "notification" in srv.logs(), timeout=30,
                     what="a failed delivery")
            # a restart while Slack is still down loses nothing
            srv.restart()
            st, _ = srv.act("bob", r["id"], "approve")
            self.assertEqual(st, 200)
            fake = FakeSlack(port)
            for u in ("U0CAROL", "U0SAM"):
                wait_for(lambda u=u: fake.to(u, "request %d" % r["id"]), timeout=120,
                         what="the late DM to %s" % u)
            wait_for(lambda: fake.to("U0ALICE", "was approved by bob"), timeout=120,
                     what="the late approval DM")
            # bob's DM of the new request came, though he has acted on it since
            wait_for(lambda: fake.to("U0BOB", "request %d" % r["id"]), timeout=120,
                     what="bob's DM")
            st, r2 = srv.request("alice", "orders-db", "write", "5m")
            srv.act("carol", r2["id"], "deny", {"comment": "marker"})
            wait_for(lambda: fake.to("U0ALICE", "marker"), timeout=120, what="the marker")
            for u in ("U0BOB", "U0CAROL", "U0SAM"):
                self.assertEqual(len(fake.to(u, "request %d)" % r["id"])), 1, u)
            self.assertEqual(len(fake.to("U0ALICE", "was approved by bob")), 1)
        finally:
            srv.stop()
            if fake:
                fake.stop()


class Webhook(unittest.TestCase):
    def test_signed_notice_per_person(self):
        got = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                got.append((self.headers.get("X-Jitgate-Signature"), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        port = free_port()
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        cfg = base_config(policies=POLICIES, extra=(
            "notify_people:\n  webhooks:\n"
            "    - {url: http://127.0.0.1:%d/in/SECRETPATH, secret_env: JG_HOOK_KEY}\n"
            % port))
        srv = Server(cfg, env=ENV)
        try:
            st, r = srv.request("alice", "orders-db", "write", "30m", reason="<b>x</b>")
            self.assertEqual(st, 201, r)
            wait_for(lambda: len(got) >= 3, timeout=60, what="three notices")
            srv.act("bob", r["id"], "approve")
            wait_for(lambda: len(got) >= 4, timeout=60, what="the approval notice")
            notices = []
            for sig, body in got:
                want = "sha256=" + hmac.new(b"hook-key-1", body, hashlib.sha256).hexdigest()
                self.assertEqual(sig, want)
                notices.append(json.loads(body))
            self.assertEqual(sorted((n["to"], n["audience"]) for n in notices[:3]),
                             [("bob", "approver"), ("carol", "approver"), ("sam", "approver")])
            self.assertEqual(notices[0]["type"], "jitgate.notice")
            self.assertEqual(notices[0]["event"]["action"], "request.created")
            # a webhook gets the words unescaped: its receiver escapes for its medium
            self.assertIn("<b>x</b>", notices[0]["text"])
            self.assertEqual((notices[3]["to"], notices[3]["audience"]), ("alice", "requester"))
            self.assertIn("was approved by bob", notices[3]["text"])
            self.assertNotIn("SECRETPATH", srv.logs())
        finally:
            srv.stop()
            httpd.shutdown()
            httpd.server_close()


if __name__ == "__main__":
    run(People, SlackDown, Webhook)
