"""POST /v1/slack/interactions (design section 13), driven exactly as
Slack drives it: a form-encoded `payload` JSON of a block_actions click,
signed v0=HMAC-SHA256("v0:TS:BODY") with the signing secret.  Approve and
deny by click run the same core as the API (no self-approval, eligibility),
audited with detail.via "slack"; forged signatures and replayed timestamps
are refused 401 and audited as auth.failed; hostile bodies (non-UTF-8,
oversized, malformed) change nothing."""
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import unittest

from fakeslack import FakeSlack, buttons
from harness import Server, base_config, free_port, run, wait_for

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"

SLACK = """\
slack:
  signing_secret_env: JG_SLACK_SECRET
  bot_token_env: JG_SLACK_TOKEN
  api_url: http://127.0.0.1:9/api
  users: {U0BOB: bob, U0CAROL: carol, U0ALICE: alice, U0MAL: mallory, U0DAVE: dave, U0SAM: sam}
"""

POLICIES = """\
policies:
  - name: prod-write
    requesters: [group:engineering]
    resources: ["*"]
    roles: [write]
    max_duration: 1h
    approvals: 1
    approvers: [group:sre]
  - name: admin-web-only
    requesters: [group:engineering]
    resources: ["*"]
    roles: [admin]
    max_duration: 1h
    approvals: 1
    approvers: [group:sre]
    approve_in: web
"""


def payload(user, action, rid):
    return {"type": "block_actions", "user": {"id": user, "username": user.lower()},
            "api_app_id": "A0", "token": "legacy", "trigger_id": "1.2.3",
            "response_url": "https://hooks.slack.com/actions/T0/1/xyz",
            "actions": [{"action_id": action, "block_id": "b", "type": "button",
                         "value": str(rid), "action_ts": "1"}]}


def form(p):
    return urllib.parse.urlencode({"payload": json.dumps(p)}).encode()


class Slack(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(base_config(policies=POLICIES, extra=SLACK),
                         env={"JG_SLACK_SECRET": SECRET, "JG_SLACK_TOKEN": "xoxb-not-logged"})

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def post(self, body, ts=None, secret=SECRET, sig=None):
        ts = str(int(time.time())) if ts is None else ts
        if sig is None:
            mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body,
                           hashlib.sha256).hexdigest()
            sig = "v0=" + mac
        req = urllib.request.Request(self.srv.url + "/v1/slack/interactions",
                                     data=body, method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        req.add_header("X-Slack-Request-Timestamp", ts)
        req.add_header("X-Slack-Signature", sig)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read().decode())
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                return e.code, json.loads(text)
            except ValueError:
                return e.code, text

    def pending(self, role="write"):
        st, r = self.srv.request("alice", "orders-db", role, "30m")
        self.assertEqual((st, r["state"]), (201, "pending"), r)
        return r["id"]

    def state(self, rid):
        st, r = self.srv.http("GET", "/v1/requests/%d" % rid, "erin")
        return r["state"] if st == 200 else self.srv.http(
            "GET", "/v1/requests/%d" % rid, "bob")[1]["state"]

    def events(self, rid, action):
        return [e for e in self.srv.audit_events()
                if e.get("request_id") == rid and e["action"] == action]

    def test_approve_by_click(self):
        rid = self.pending()
        st, body = self.post(form(payload("U0BOB", "jitgate_approve", rid)))
        self.assertEqual((st, body["text"]), (200, "jitgate: approved"), body)
        self.assertEqual(self.state(rid), "active")
        ev = self.events(rid, "request.approved")
        self.assertEqual((ev[0]["actor"], ev[0]["detail"]["via"]), ("bob", "slack"))

    def test_deny_by_click(self):
        rid = self.pending()
        st, body = self.post(form(payload("U0CAROL", "jitgate_deny", rid)))
        self.assertEqual((st, body["text"]), (200, "jitgate: denied"), body)
        self.assertEqual(self.state(rid), "denied")
        self.assertEqual(self.events(rid, "request.denied")[0]["detail"]["via"], "slack")

    def test_requester_and_non_approver_refused_privately(self):
        rid = self.pending()
        for user, why in [("U0ALICE", "alice is not an approver"),
                          ("U0MAL", "mallory is not an approver"),
                          ("U0DAVE", "dave is not an approver"),
                          ("U0NOBODY", "not mapped to a jitgate subject")]:
            st, body = self.post(form(payload(user, "jitgate_approve", rid)))
            self.assertEqual(st, 200, body)
            self.assertEqual(body["response_type"], "ephemeral")
            self.assertIn(why, body["text"])
        self.assertEqual(self.state(rid), "pending")
        self.assertEqual(self.events(rid, "request.approved"), [])

    def test_requester_who_is_an_approver_refused(self):
        # sam is sre and engineering: an approver, but not of his own request
        st, r = self.srv.request("sam", "orders-db", "write", "30m")
        self.assertEqual((st, r["state"]), (201, "pending"), r)
        st, body = self.post(form(payload("U0SAM", "jitgate_approve", r["id"])))
        self.assertEqual((st, body["response_type"]), (200, "ephemeral"), body)
        self.assertIn("you cannot approve your own request", body["text"])
        self.assertEqual(self.state(r["id"]), "pending")
        st, body = self.post(form(payload("U0BOB", "jitgate_approve", r["id"])))
        self.assertEqual(self.state(r["id"]), "active")

    def test_forged_and_replayed_refused_401_audited(self):
        rid = self.pending()
        body = form(payload("U0BOB", "jitgate_approve", rid))
        before = len([e for e in self.srv.audit_events() if e["action"] == "auth.failed"])
        for kw in [dict(secret="wrong-secret"),
                   dict(sig="v0=" + "0" * 64),
                   dict(sig="v1=abc"),
                   dict(ts=str(int(time.time()) - 301)),
                   dict(ts=str(int(time.time()) + 3600)),
                   dict(ts="12x")]:
            st, resp = self.post(body, **kw)
            self.assertEqual(st, 401, (kw, resp))
        # the signature covers the body: a changed request id is forged
        ts = str(int(time.time()))
        mac = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body,
                       hashlib.sha256).hexdigest()
        other = form(payload("U0BOB", "jitgate_approve", rid + 1000))
        st, _ = self.post(other, ts=ts, sig="v0=" + mac)
        self.assertEqual(st, 401)
        self.assertEqual(self.state(rid), "pending")
        failed = [e for e in self.srv.audit_events() if e["action"] == "auth.failed"]
        self.assertGreater(len(failed), before)
        self.assertEqual((failed[-1]["actor"], failed[-1]["detail"]["via"]),
                         ("anonymous", "slack"))
        self.assertNotIn(SECRET, json.dumps(failed))
        self.assertNotIn("xoxb-not-logged", self.srv.logs())

    def test_hostile_bodies(self):
        rid = self.pending()
        raw = json.dumps(payload("U0BOB", "jitgate_approve", rid)).encode()
        for body, code in [
                (b"payload=" + urllib.parse.quote_from_bytes(raw.replace(b"U0BOB", b"U0\xff\xfe")).encode(), 400),
                (b"payload=%7B%zz", 400),
                (b"nothing=here", 400),
                (b"payload=" + urllib.parse.quote(json.dumps({"type": "view_submission"})).encode(), 400),
                (form(payload("U0BOB", "jitgate_approve", "1; drop")), 400),
                (form(payload("U0BOB", "launch_missiles", rid)), 400),
                (b"payload=" + b"A" * (70 * 1024), 413)]:
            st, resp = self.post(body)
            self.assertEqual(st, code, (body[:60], resp))
        self.assertEqual(self.state(rid), "pending")

    def test_approve_in_web_links_instead(self):
        rid = self.pending("admin")
        st, body = self.post(form(payload("U0BOB", "jitgate_approve", rid)))
        self.assertEqual(st, 200)
        self.assertIn("must be approved in the web UI", body["text"])
        self.assertEqual(self.state(rid), "pending")

    def test_get_is_405(self):
        st, _ = self.srv.http("GET", "/v1/slack/interactions")
        self.assertEqual(st, 405)


class SlackPost(unittest.TestCase):
    def test_post_with_buttons_survives_an_outage(self):
        port = free_port()
        cfg = base_config(policies=POLICIES, extra=SLACK.replace(
            "http://127.0.0.1:9/api", "http://127.0.0.1:%d/api" % port) +
            'notify:\n  - {kind: slack, channel: "#access", interactive: true, '
            'events: [request.created]}\n')
        srv = Server(cfg, env={"JG_SLACK_SECRET": SECRET, "JG_SLACK_TOKEN": "xoxb-test-token"})
        fake = None
        try:
            # Slack is down: the request is made, the post waits in the outbox
            st, r = srv.request("alice", "orders-db", "write", "30m")
            self.assertEqual(st, 201, r)
            wait_for(lambda: "notification" in srv.logs(), timeout=30,
                     what="a failed delivery")
            fake = FakeSlack(port)
            wait_for(lambda: fake.calls, timeout=60, what="chat.postMessage")
            path, auth, msg = fake.calls[0]
            self.assertEqual(path, "/api/chat.postMessage")
            self.assertEqual(auth, "Bearer xoxb-test-token")
            self.assertEqual(msg["channel"], "#access")
            self.assertIn("jitgate request %d: alice" % r["id"], msg["text"])
            self.assertEqual(buttons(msg), [("jitgate_approve", str(r["id"])),
                                            ("jitgate_deny", str(r["id"]))])
            self.assertNotIn("xoxb-test-token", srv.logs())
            self.assertEqual(len(fake.calls), 1)
        finally:
            srv.stop()
            if fake:
                fake.stop()


if __name__ == "__main__":
    run(Slack, SlackPost)
