"""The life of a request's Slack channel message (design section 13), with
the real daemon and a local fake of the Slack Web API (fakeslack.py):
posted once with chat.postMessage, its channel id and ts stored, then
updated in place with chat.update on every later transition (approved by
whom and until when, denied with the comment, cancelled, expired, revoked
with the reason), the buttons gone once the request is no longer pending.
Slack down (HTTP 500, refused connections) and a daemon restart in between
lose nothing: the post and every update arrive, the post first, and the
message ends in the final state.  User text is escaped for mrkdwn.  A
refused click is answered privately through response_url, which must be a
Slack URL (or the configured api_url's origin): any other is not
fetched."""
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from fakeslack import FakeSlack, all_text, buttons
from harness import JITGATE, Server, base_config, free_port, run, store_cluster, wait_for

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-message-test-token"

POLICIES = """\
policies:
  - name: prod-write
    requesters: [group:engineering]
    resources: ["*"]
    roles: [write, read]
    max_duration: 1h
    approvals: 1
    approvers: [group:sre]
    break_glass: {max_duration: 30m}
  - name: web-only
    requesters: [group:engineering]
    resources: [billing-api]
    roles: [admin]
    max_duration: 1h
    approvals: 1
    approvers: [group:sre]
    approve_in: web
  - name: two-keys
    requesters: [group:engineering]
    resources: ["*"]
    roles: [admin]
    max_duration: 1h
    approvals: 2
    approvers: [group:sre, user:carol]
"""


def config(port, events="[request.created]", extra=""):
    return base_config(policies=POLICIES, extra="""\
slack:
  signing_secret_env: JG_SLACK_SECRET
  bot_token_env: JG_SLACK_TOKEN
  api_url: http://127.0.0.1:%d/api
  users: {U0BOB: bob, U0CAROL: carol, U0ALICE: alice, U0MAL: mallory}
notify:
  - {kind: slack, channel: "#access", interactive: true, events: %s}
""" % (port, events) + extra)


def signed_click(srv, user, action, rid, response_url):
    p = {"type": "block_actions", "user": {"id": user}, "api_app_id": "A0",
         "trigger_id": "1.2.3", "response_url": response_url,
         "actions": [{"action_id": action, "block_id": "jitgate_decide",
                      "type": "button", "value": str(rid), "action_ts": "1"}]}
    body = urllib.parse.urlencode({"payload": json.dumps(p)}).encode()
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body,
                   hashlib.sha256).hexdigest()
    req = urllib.request.Request(srv.url + "/v1/slack/interactions", data=body,
                                 method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    req.add_header("X-Slack-Request-Timestamp", ts)
    req.add_header("X-Slack-Signature", "v0=" + mac)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read().decode())


class Recorder:
    """Any HTTP server a forged response_url might point at."""

    def __init__(self):
        hits = self.hits = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *a):
                pass

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Base(unittest.TestCase):
    EVENTS = "[request.created]"
    EXTRA = ""

    @classmethod
    def setUpClass(cls):
        cls.slack_port = free_port()
        cls.fake = FakeSlack(cls.slack_port)
        cls.srv = Server(config(cls.slack_port, cls.EVENTS, cls.EXTRA),
                         env={"JG_SLACK_SECRET": SECRET, "JG_SLACK_TOKEN": TOKEN})

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.fake.stop()

    def pending(self, who="alice", role="write", **kw):
        st, r = self.srv.request(who, "orders-db", role, kw.pop("duration", "30m"), **kw)
        self.assertEqual((st, r["state"]), (201, "pending"), r)
        return r["id"]

    def posted(self, rid):
        return wait_for(lambda: self.fake.message(rid), timeout=60,
                        what="the message of request %d" % rid)

    def shows(self, rid, *parts, timeout=60):
        """Waits until the message of rid contains every part; returns it."""
        def ok():
            m = self.fake.message(rid)
            return m if m and all(p in all_text(m) for p in parts) else None
        try:
            return wait_for(ok, timeout=timeout, what="%r in the message" % (parts,))
        except AssertionError:
            m = self.fake.message(rid)
            raise AssertionError("message of %d is %s" % (
                rid, all_text(m) if m else None)) from None


class MessageLife(Base):
    def test_post_has_fields_buttons_and_is_not_logged(self):
        rid = self.pending(reason="rotate the keys", ticket="OPS-7")
        m = self.posted(rid)
        posts = self.fake.posts(rid)
        self.assertEqual(len(posts), 1)
        self.assertEqual(posts[0]["channel"], "#access")
        text = all_text(m)
        for part in ["*Request %d*" % rid, "alice", "`orders-db`", "`write`",
                     "30m", "rotate the keys", "OPS-7", "0 of 1",
                     "Waiting for approval"]:
            self.assertIn(part, text)
        self.assertEqual(buttons(m), [("jitgate_approve", str(rid)),
                                      ("jitgate_deny", str(rid))])
        with self.fake.lock:
            auths = {a for _, a, _ in self.fake.calls}
        self.assertEqual(auths, {"Bearer " + TOKEN})
        self.assertNotIn(TOKEN, self.srv.logs())

    def test_approve_by_click_updates_in_place(self):
        rid = self.pending()
        self.posted(rid)
        st, body = signed_click(self.srv, "U0BOB", "jitgate_approve", rid,
                                "https://hooks.slack.com/actions/T0/1/a")
        self.assertEqual(st, 200, body)
        st, r = self.srv.http("GET", "/v1/requests/%d" % rid, "alice")
        self.assertEqual(r["state"], "active")
        m = self.shows(rid, "*Approved* by bob", "active until", r["expires_at"])
        self.assertEqual(buttons(m), [])
        ups = self.fake.updates(rid)
        self.assertTrue(ups)
        ts = [t for t, msg in self.fake.messages.items() if msg is m][0]
        self.assertTrue(all(u["channel"] == FakeSlack.CHANNEL_ID and u["ts"] == ts
                            for u in ups), ups)
        self.assertEqual(len(self.fake.posts(rid)), 1)

    def test_approvals_so_far_then_deny_with_comment(self):
        rid = self.pending(role="admin")
        self.shows(rid, "0 of 2")
        self.assertEqual(self.srv.act("bob", rid, "approve")[0], 200)
        m = self.shows(rid, "1 of 2", "bob")
        self.assertEqual(len(buttons(m)), 2)  # still pending: still decidable
        st, _ = self.srv.act("carol", rid, "deny", {"comment": "not during the freeze"})
        self.assertEqual(st, 200)
        m = self.shows(rid, "*Denied* by carol", "not during the freeze")
        self.assertEqual(buttons(m), [])

    def test_cancel(self):
        rid = self.pending()
        self.posted(rid)
        self.assertEqual(self.srv.act("alice", rid, "cancel")[0], 200)
        self.assertEqual(buttons(self.shows(rid, "*Cancelled* by alice")), [])

    def test_expire(self):
        rid = self.pending(duration="2s")
        self.posted(rid)
        self.assertEqual(self.srv.act("bob", rid, "approve")[0], 200)
        self.shows(rid, "*Expired* at")

    def test_revoke_with_reason(self):
        rid = self.pending()
        self.posted(rid)
        self.assertEqual(self.srv.act("bob", rid, "approve")[0], 200)
        self.shows(rid, "*Approved* by bob")
        st, _ = self.srv.act("bob", rid, "revoke", {"reason": "incident over"})
        self.assertEqual(st, 200)
        self.shows(rid, "*Revoked* by bob", "incident over")
        self.assertEqual(len(self.fake.posts(rid)), 1)

    def test_break_glass_marked(self):
        st, r = self.srv.request("alice", "orders-db", "write", "10m", break_glass=True,
                                 reason="pager at 3am")
        self.assertEqual((st, r["state"]), (201, "active"), r)
        m = self.shows(r["id"], "BREAK-GLASS", "Break-glass: active", "Awaiting review")
        self.assertEqual(buttons(m), [])
        self.assertEqual(len(self.fake.posts(r["id"])), 1)

    def test_approve_in_web_has_no_buttons(self):
        st, r = self.srv.request("alice", "billing-api", "admin", "30m")
        self.assertEqual((st, r["state"]), (201, "pending"), r)
        m = self.shows(r["id"], "Waiting for approval", "0 of 1")
        self.assertEqual(buttons(m), [])

    def test_hostile_text_is_escaped(self):
        evil = "<!channel> <https://evil.example/x|click here> & <@U0BOSS> *b*"
        rid = self.pending(reason=evil, ticket="<!here>&T-1")
        m = self.shows(rid, "&lt;!channel&gt;", "&lt;!here&gt;&amp;T-1")
        raw = json.dumps(m)
        for bad in ["<!channel>", "<!here>", "<https://evil", "<@U0BOSS>"]:
            self.assertNotIn(bad, raw)
        # and in the update too
        self.assertEqual(self.srv.act("bob", rid, "deny", {"comment": evil})[0], 200)
        m = self.shows(rid, "*Denied* by bob")
        self.assertNotIn("<!channel>", json.dumps(m))

    def test_long_reason_is_bounded(self):
        rid = self.pending(reason="&" * 1000)  # 5 000 bytes once escaped
        m = self.posted(rid)
        for b in m["blocks"]:
            if "text" in b:
                self.assertLessEqual(len(b["text"]["text"]), 3000)
        self.assertIn("\u2026", all_text(m))


class RefusedClick(Base):
    def test_refusal_answered_through_response_url(self):
        rid = self.pending()
        self.posted(rid)
        url = "http://127.0.0.1:%d/actions/T0/1/own" % self.slack_port
        before = len(self.fake.responses())
        st, body = signed_click(self.srv, "U0ALICE", "jitgate_approve", rid, url)
        self.assertEqual((st, body["response_type"]), (200, "ephemeral"))
        got = wait_for(lambda: self.fake.responses()[before:], timeout=30,
                       what="response_url post")
        path, msg = got[0]
        self.assertEqual(path, "/actions/T0/1/own")
        self.assertEqual(msg["response_type"], "ephemeral")
        self.assertFalse(msg["replace_original"])
        self.assertIn("jitgate refused: alice is not an approver", msg["text"])

    def test_forged_response_url_not_fetched(self):
        rid = self.pending()
        self.posted(rid)
        rec = Recorder()
        try:
            for url in ["http://127.0.0.1:%d/actions/x" % rec.port,
                        "https://hooks.slack.com.evil.example/actions/x",
                        "http://127.0.0.1:%d@127.0.0.1:%d/actions/x" % (self.slack_port, rec.port),
                        "file:///etc/passwd"]:
                st, body = signed_click(self.srv, "U0MAL", "jitgate_approve", rid, url)
                self.assertEqual(st, 200, body)
                self.assertIn("not an approver", body["text"])
            # a good one after them: the notifier answers in order, so once
            # it has arrived the forged ones would have been fetched already
            before = len(self.fake.responses())
            signed_click(self.srv, "U0MAL", "jitgate_approve", rid,
                         "http://127.0.0.1:%d/actions/T0/2/ok" % self.slack_port)
            wait_for(lambda: len(self.fake.responses()) > before, timeout=30,
                     what="the allowed response_url post")
            self.assertEqual(rec.hits, [])
            self.assertEqual([p for p, _ in self.fake.responses()][before:],
                             ["/actions/T0/2/ok"])
        finally:
            rec.stop()


class SlackDown(Base):
    """Slack answers 500, then refuses connections across a daemon restart;
    afterwards every message arrives and ends in its final state."""

    def test_outage_and_restart_lose_nothing(self):
        self.fake.mode = "500"
        a = self.pending()
        b = self.pending(role="admin")
        wait_for(lambda: len(self.fake.refused) >= 2, timeout=30, what="failed posts")
        self.assertEqual(self.srv.act("bob", a, "approve")[0], 200)
        self.assertEqual(self.srv.act("bob", b, "approve")[0], 200)
        # connections refused, and the daemon restarted meanwhile
        self.fake.stop()
        self.assertEqual(self.srv.act("bob", a, "revoke", {"reason": "done early"})[0], 200)
        self.srv.restart()
        self.assertEqual(self.srv.act("carol", b, "deny", {"comment": "no"})[0], 200)
        c = self.pending()
        self.fake.mode = "ok"
        self.fake.start()
        self.shows(a, "*Revoked* by bob", "done early", timeout=120)
        self.shows(b, "*Denied* by carol", "1 of 2", timeout=120)
        self.shows(c, "Waiting for approval", timeout=120)
        for rid in (a, b, c):
            seq = self.fake.methods(rid)
            # posted once, first: no update before the post's ts was known
            self.assertEqual(seq[0], "chat.postMessage", seq)
            self.assertEqual(seq.count("chat.postMessage"), 1, seq)
        with self.fake.lock:
            stray = [b for p, _, b in self.fake.calls if p.endswith("chat.update")
                     and b["ts"] not in self.fake.messages]
        self.assertEqual(stray, [])
        self.assertEqual(buttons(self.fake.message(a)), [])
        self.assertEqual(len(buttons(self.fake.message(c))), 2)


class RateLimited(Base):
    """Slack answers 429 with Retry-After: no Slack call at all before the
    wait has passed, nothing lost, the message ends right."""

    def test_retry_after_is_honoured(self):
        self.fake.limit(3, "2")
        a = self.pending()
        wait_for(lambda: sum(1 for r in self.fake.received if r[2] == 429) >= 1,
                 timeout=30, what="a first 429")
        self.assertEqual(self.srv.act("bob", a, "approve")[0], 200)
        b = self.pending()
        self.shows(a, "*Approved* by bob", timeout=120)
        self.shows(b, "Waiting for approval", timeout=120)
        got = list(self.fake.received)
        limited = [i for i, r in enumerate(got) if r[2] == 429]
        self.assertEqual(len(limited), 3, got)
        for i in limited:
            self.assertLess(i + 1, len(got), got)
            # the next call of any Slack row comes at least Retry-After later
            self.assertGreaterEqual(got[i + 1][0] - got[i][0], 2.0, got)
        self.assertEqual(len(self.fake.posts(a)), 1)
        self.assertEqual(len(self.fake.posts(b)), 1)
        self.assertEqual(buttons(self.fake.message(a)), [])
        st, text = self.srv.http("GET", "/metrics")
        self.assertIn("jitgate_notify_slack_ratelimited_total 3\n", text)
        self.assertEqual(self.srv.logs().count("Slack rate limit on "), 3)



class RateLimitHostile(Base):
    """Retry-After values Slack would never send: unreadable ones wait the
    default 30 s, long ones at most an hour."""

    def test_hostile_retry_after_is_clamped(self):
        for value, secs in (("soon", 30), ("-5", 30), ("86400", 3600),
                            ("99999999999999999999", 30), ("\u00e9t\u00e9\xff", 30),
                            ("Fri, 01 Jan 2100 00:00:00 GMT", 3600)):
            before = self.srv.logs().count("Slack rate limit on ")
            self.fake.limit(1, value)
            # a fresh daemon per value: it starts with no wait
            self.srv.restart()
            self.pending()
            wait_for(lambda: self.srv.logs().count("Slack rate limit on ") > before,
                     timeout=60, what="the rate limit log line for %r" % value)
            line = [l for l in self.srv.logs().splitlines()
                    if "Slack rate limit on " in l][-1]
            self.assertIn("retry after %d s" % secs, line, value)


class SupersededUpdates(Base):
    """Slack down during four transitions of one request: when it is back,
    one post and one update (not one per transition) bring the message to
    its final state."""

    def test_one_post_one_update(self):
        self.fake.stop()
        rid = self.pending(role="admin")
        self.assertEqual(self.srv.act("bob", rid, "approve")[0], 200)
        self.assertEqual(self.srv.act("carol", rid, "approve")[0], 200)
        self.assertEqual(self.srv.act("bob", rid, "revoke", {"reason": "over"})[0], 200)
        self.fake.start()
        self.shows(rid, "*Revoked* by bob", "over", timeout=120)
        # a later request's post: the outbox has moved past rid's rows
        other = self.pending()
        self.posted(other)
        self.assertEqual(self.fake.methods(rid), ["chat.postMessage", "chat.update"])
        self.assertEqual(buttons(self.fake.message(rid)), [])
        # nothing left in the outbox (either backend; a row is marked done
        # after Slack answered, so maybe a moment after the fake saw it)
        wait_for(lambda: self.srv.store_rows("SELECT count(*) FROM outbox WHERE NOT done")
                 == [("0",)], timeout=60, what="an empty outbox")


class StoreCopy(unittest.TestCase):
    """`jitgate store copy` from SQLite to PostgreSQL takes the posted
    messages along: after the move the same message is updated in place."""

    def test_message_survives_store_copy(self):
        from pgcluster import PASSWORDS, STORE_USER
        port = free_port()
        fake = FakeSlack(port)
        env = {"JG_SLACK_SECRET": SECRET, "JG_SLACK_TOKEN": TOKEN,
               "PGPASSWORD": PASSWORDS[STORE_USER]}
        srv = Server(config(port), env=env, start=False)
        srv.storage = "sqlite:" + os.path.join(srv.dir, "before.db")
        srv.write_config(config(port))
        try:
            srv.start()
            st, r = srv.request("alice", "orders-db", "write", "30m")
            rid = r["id"]
            wait_for(lambda: fake.message(rid), timeout=60, what="the post")
            srv.stop()
            pg = store_cluster()
            url = pg.store_url(pg.new_store_db(), password=False)
            p = subprocess.run([JITGATE, "store", "copy", srv.storage, url],
                               capture_output=True, text=True, timeout=120,
                               env=dict(os.environ, **env))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("1 Slack messages", p.stdout)
            srv.storage = url
            srv.write_config(config(port))
            srv.start()
            self.assertEqual(srv.act("bob", rid, "approve")[0], 200)
            wait_for(lambda: "*Approved* by bob" in all_text(fake.message(rid)),
                     timeout=60, what="the update after the copy")
            self.assertEqual(fake.methods(rid)[0], "chat.postMessage")
            self.assertEqual(fake.methods(rid).count("chat.postMessage"), 1)
        finally:
            srv.stop()
            fake.stop()


if __name__ == "__main__":
    run(MessageLife, RefusedClick, SlackDown, StoreCopy)
