"""Core behaviour through the real daemon over HTTP: every rule of design
section 1, every error status of section 4, deadlines, restart and reload."""
import json
import os
import time
import unittest

from harness import CONTRACTORS_READ, USERS, Server, base_config, wait_for, run, token


def active(body):
    return body["state"] == "active"


class CoreTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(base_config())

    def tearDown(self):
        self.srv.stop()

    # ---- rule 1: the clock starts at activation ----
    def test_clock_starts_at_activation(self):
        s = self.srv
        st, r = s.request("alice", "orders-db", "write", "10m", reason="fix",
                          ticket="OPS-1")
        self.assertEqual(st, 201)
        self.assertEqual(r["state"], "pending")
        self.assertIsNone(r["expires_at"])
        time.sleep(1.2)
        s.act("bob", r["id"], "approve")
        st, r2 = s.act("carol", r["id"], "approve")
        self.assertEqual(st, 200)
        self.assertEqual(r2["state"], "active")
        self.assertGreater(r2["activated_at"], r["created_at"])
        act = _ms(r2["activated_at"])
        self.assertEqual(_ms(r2["expires_at"]) - act, 600 * 1000)

    # ---- rule 2: above max_duration is refused, never clamped ----
    def test_over_max_duration_refused(self):
        st, r = self.srv.request("alice", "orders-db", "read", "4h1s")
        self.assertEqual(st, 400)
        self.assertIn("duration", r["error"]["message"])
        st, r = self.srv.request("alice", "orders-db", "read", "4h")
        self.assertEqual(st, 201)
        self.assertEqual(r["duration_s"], 4 * 3600)

    # ---- rule 3: distinct eligible approvers, no self-approval ----
    def test_approval_rules(self):
        s = self.srv
        st, r = s.request("sam", "orders-db", "write", "30m", reason="x", ticket="OPS-7")
        self.assertEqual(st, 201)
        rid = r["id"]
        # requester is in sre but self-approval is off
        st, e = s.act("sam", rid, "approve")
        self.assertEqual(st, 403)
        # not an approver
        st, e = s.act("alice", rid, "approve")
        self.assertEqual(st, 403)
        st, e = s.act("dave", rid, "approve")
        self.assertEqual(st, 403)
        st, r = s.act("bob", rid, "approve")
        self.assertEqual((st, r["state"], len(r["approvals"])), (200, "pending", 1))
        # a second approval by the same subject: 409, nothing changes
        st, e = s.act("bob", rid, "approve")
        self.assertEqual(st, 409)
        st, r = s.http("GET", "/v1/requests/%d" % rid, "bob")
        self.assertEqual(len(r["approvals"]), 1)
        self.assertEqual(r["state"], "pending")
        st, r = s.act("carol", rid, "approve", {"comment": "lgtm"})
        self.assertEqual(r["state"], "active")
        self.assertEqual([a["by"] for a in r["approvals"]], ["bob", "carol"])
        self.assertEqual(r["approvals"][1]["comment"], "lgtm")
        # approving an active request: 409
        st, e = s.act("sam", rid, "approve")
        self.assertIn(st, (403, 409))

    def test_self_approval_when_allowed(self):
        s = self.srv
        st, r = s.request("bob", "prod-payments", "read", "1h")
        self.assertEqual((st, r["state"], r["approvals_required"]), (201, "pending", 1))
        st, r = s.act("bob", r["id"], "approve")
        self.assertEqual((st, r["state"]), (200, "active"))

    def test_refused_approval_changes_nothing(self):
        s = self.srv
        st, r = s.request("alice", "orders-db", "write", "30m", reason="x", ticket="OPS-2")
        before = s.audit_events()
        for who in ("alice", "erin", "mallory"):
            st, _ = s.act(who, r["id"], "approve")
            self.assertEqual(st, 403)
        after = s.audit_events()
        self.assertEqual(len(before), len(after))

    # ---- rule 4: one deny ends it ----
    def test_one_deny_ends(self):
        s = self.srv
        st, r = s.request("alice", "orders-db", "write", "30m", reason="x", ticket="OPS-3")
        s.act("bob", r["id"], "approve")
        st, r = s.act("carol", r["id"], "deny", {"comment": "no"})
        self.assertEqual((st, r["state"], r["ended_by"]), (200, "denied", "carol"))
        st, e = s.act("bob", r["id"], "approve")
        self.assertEqual(st, 409)
        st, c = s.check("alice", "orders-db", "write")
        self.assertFalse(c["allowed"])

    # ---- rule 5: overlapping grants are independent; extends ----
    def test_overlapping_grants(self):
        s = self.srv
        _, a = s.request("alice", "orders-db", "read", "1h")
        _, b = s.request("alice", "orders-db", "read", "2h")
        self.assertTrue(active(a) and active(b))
        st, r = s.act("alice", a["id"], "revoke")
        self.assertEqual(r["state"], "revoked")
        st, c = s.check("alice", "orders-db", "read")
        self.assertTrue(c["allowed"])
        self.assertEqual(c["request_id"], b["id"])
        s.act("alice", b["id"], "revoke")
        st, c = s.check("alice", "orders-db", "read")
        self.assertFalse(c["allowed"])

    def test_extends(self):
        s = self.srv
        _, a = s.request("alice", "orders-db", "read", "2s")
        st, b = s.request("alice", "orders-db", "read", "1h", extends=a["id"])
        self.assertEqual((st, b["extends"]), (201, a["id"]))
        # others may not extend alice's grant
        st, e = s.request("erik", "orders-db", "read", "1h", extends=a["id"])
        self.assertEqual(st, 403)
        # wrong role
        st, e = s.request("alice", "billing-api", "read", "1h", extends=a["id"])
        self.assertEqual(st, 400)
        st, e = s.request("alice", "orders-db", "read", "1h", extends=999999)
        self.assertEqual(st, 400)
        wait_for(lambda: s.http("GET", "/v1/requests/%d" % a["id"], "alice")[1]["state"]
                 == "expired", what="expiry")
        st, c = s.check("alice", "orders-db", "read")
        self.assertTrue(c["allowed"])
        self.assertEqual(c["request_id"], b["id"])
        # extending an ended grant: 409
        st, e = s.request("alice", "orders-db", "read", "1h", extends=a["id"])
        self.assertEqual(st, 409)

    # ---- rule 6: revocation at once ----
    def test_revocation(self):
        s = self.srv
        _, a = s.request("alice", "orders-db", "read", "1h")
        st, c = s.check("alice", "orders-db", "read")
        self.assertTrue(c["allowed"])
        # another engineer may not revoke it
        st, e = s.act("erik", a["id"], "revoke")
        self.assertEqual(st, 403)
        st, r = s.act("dave", a["id"], "revoke", {"reason": "incident"})
        self.assertEqual((st, r["state"], r["ended_by"]), (200, "revoked", "dave"))
        st, c = s.check("alice", "orders-db", "read")
        self.assertFalse(c["allowed"])
        st, e = s.act("dave", a["id"], "revoke")
        self.assertEqual(st, 409)
        ev = s.audit_events(action="request.revoked")
        self.assertEqual(ev[-1]["detail"]["reason"], "incident")

    # ---- rule 7: break-glass ----
    def test_break_glass(self):
        s = self.srv
        st, e = s.request("alice", "orders-db", "write", "10m", break_glass=True)
        self.assertEqual(st, 400)  # reason required
        self.assertIn("reason", e["error"]["message"])
        st, e = s.request("alice", "orders-db", "write", "31m", break_glass=True,
                          reason="outage")
        self.assertEqual(st, 400)  # above break-glass max 30m
        st, e = s.request("alice", "orders-db", "read", "10m", break_glass=True,
                          reason="outage")
        self.assertEqual(st, 403)  # engineers-read has no break-glass
        st, r = s.request("alice", "orders-db", "write", "30m", break_glass=True,
                          reason="outage")
        self.assertEqual((st, r["state"], r["break_glass"], r["review_required"]),
                         (201, "active", True, True))
        st, c = s.check("alice", "orders-db", "write")
        self.assertTrue(c["allowed"])
        actions = [e["action"] for e in s.audit_events() if e.get("request_id") == r["id"]]
        self.assertEqual(actions, ["request.created", "request.break_glass",
                                   "request.activated"])
        st, e = s.act("alice", r["id"], "review")
        self.assertEqual(st, 403)
        st, e = s.act("dave", r["id"], "review")
        self.assertEqual(st, 403)
        st, r2 = s.act("bob", r["id"], "review", {"comment": "ok"})
        self.assertEqual((st, r2["review_required"], r2["reviewed_by"]), (200, False, "bob"))
        self.assertEqual(r2["state"], "active")
        st, e = s.act("carol", r["id"], "review")
        self.assertEqual(st, 409)

    # ---- rule 8 and input validation ----
    def test_unknown_resource_role(self):
        s = self.srv
        st, e = s.request("alice", "nope-db", "read")
        self.assertEqual(st, 400)
        self.assertIn("resource", e["error"]["message"])
        st, e = s.request("alice", "orders-db", "superuser")
        self.assertEqual(st, 400)
        self.assertIn("role", e["error"]["message"])
        st, e = s.check("alice", "nope-db", "read")
        self.assertEqual(st, 400)

    def test_deny_by_default(self):
        st, e = self.srv.request("mallory", "orders-db", "read")
        self.assertEqual(st, 403)
        self.assertEqual(e["error"]["code"], "forbidden")

    def test_policy_requirements(self):
        s = self.srv
        st, e = s.request("alice", "orders-db", "write", "30m", ticket="OPS-1")
        self.assertEqual(st, 400)
        self.assertIn("reason", e["error"]["message"])
        st, e = s.request("alice", "orders-db", "write", "30m", reason="x")
        self.assertEqual(st, 400)
        self.assertIn("ticket", e["error"]["message"])
        st, e = s.request("alice", "orders-db", "write", "30m", reason="x",
                          ticket="JIRA-1")
        self.assertEqual(st, 400)
        self.assertIn("ticket", e["error"]["message"])

    def test_strict_json(self):
        s = self.srv
        cases = [
            (b'{"resource":"orders-db","role":"read","duration":"1h","color":"red"}', "color"),
            (b'{"resource":"orders-db","role":"read","duration":3600}', "duration"),
            (b'{"resource":"orders-db","resource":"x","role":"read","duration":"1h"}', None),
            (b'{"resource":"orders-db","role":"read"}', "duration"),
            (b'{"resource":"orders-db","role":"read","duration":"1h","break_glass":"yes"}',
             "break_glass"),
            (b'[1,2]', None),
            (b'{"resource":', None),
            (b'{"resource":"orders-db","role":"read","duration":"1 hour"}', "duration"),
            (b'{"resource":"orders-db","role":"read","duration":"-5m"}', "duration"),
        ]
        n = len(s.audit_events())
        for raw, field in cases:
            st, e = s.http("POST", "/v1/requests", "alice", raw=raw)
            self.assertEqual(st, 400, raw)
            self.assertEqual(e["error"]["code"], "bad_request")
            if field:
                self.assertIn(field, e["error"]["message"], raw)
        self.assertEqual(len(s.audit_events()), n)
        st, body = s.http("GET", "/v1/requests?mine=1", "alice")
        self.assertEqual(body["requests"], [])

    def test_body_limit(self):
        s = self.srv
        big = b'{"resource":"orders-db","role":"read","duration":"1h","reason":"' + \
            b"x" * (70 * 1024) + b'"}'
        st, e = s.http("POST", "/v1/requests", "alice", raw=big)
        self.assertEqual(st, 413)
        self.assertEqual(e["error"]["code"], "too_large")

    def test_auth_errors(self):
        s = self.srv
        st, e = s.http("GET", "/v1/whoami")
        self.assertEqual(st, 401)
        st, e = s.http("GET", "/v1/whoami", bearer="tok-alice-012345678")
        self.assertEqual(st, 401)
        st, e = s.http("GET", "/v1/whoami", headers={"Authorization": "Basic eDp5"})
        self.assertEqual(st, 401)
        st, w = s.http("GET", "/v1/whoami", "alice")
        self.assertEqual((st, w["subject"], w["groups"]), (200, "alice", ["engineering"]))
        # no credentials is not a failed authentication (nothing written);
        # the two failures share (address, no claimed subject): the first
        # is written at once, the second counted into a later event
        fails = s.audit_events(action="auth.failed")
        self.assertEqual(len(fails), 1, fails)
        self.assertEqual(fails[0]["actor"], "anonymous")
        self.assertEqual(fails[0]["detail"]["remote_addr"], "127.0.0.1")
        self.assertNotIn("claimed_subject", fails[0]["detail"])
        export = s.export()
        self.assertNotIn("tok-alice", export)

    def test_visibility(self):
        s = self.srv
        _, r = s.request("alice", "orders-db", "write", "30m", reason="x", ticket="OPS-4")
        rid = r["id"]
        for who, expect in (("alice", 200), ("bob", 200), ("dave", 200),
                            ("erik", 403), ("mallory", 403)):
            st, _ = s.http("GET", "/v1/requests/%d" % rid, who)
            self.assertEqual(st, expect, who)
        st, e = s.http("GET", "/v1/requests/999999", "dave")
        self.assertEqual(st, 404)
        _, lst = s.http("GET", "/v1/requests", "erik")
        self.assertEqual(lst["requests"], [])
        _, lst = s.http("GET", "/v1/requests?approvable=1", "bob")
        self.assertEqual([x["id"] for x in lst["requests"]], [rid])
        s.act("bob", rid, "approve")
        _, lst = s.http("GET", "/v1/requests?approvable=1", "bob")
        self.assertEqual(lst["requests"], [])
        _, lst = s.http("GET", "/v1/requests?approvable=1", "carol")
        self.assertEqual([x["id"] for x in lst["requests"]], [rid])
        st, e = s.http("GET", "/v1/requests?state=bogus", "bob")
        self.assertEqual(st, 400)

    def test_list_paging(self):
        s = self.srv
        ids = [s.request("alice", "orders-db", "read", "1h")[1]["id"] for _ in range(7)]
        seen, after = [], None
        while True:
            q = "/v1/requests?mine=1&limit=3" + ("&after=%d" % after if after else "")
            st, body = s.http("GET", q, "alice")
            self.assertEqual(st, 200)
            seen += [r["id"] for r in body["requests"]]
            after = body["next_after"]
            if after is None:
                break
        self.assertEqual(seen, sorted(ids, reverse=True))

    def test_numbers_in_urls(self):
        """Every number in a URL has one grammar (util num_parse_u64):
        plain digits, no sign, space or leading zero, in range; anything
        else is 400 (or 404 for a path id) and changes nothing."""
        s = self.srv
        rid = s.request("alice", "orders-db", "read", "1h")[1]["id"]
        before = s.http("GET", "/v1/requests/%d" % rid, "alice")
        for bad in ("+3", "-1", "%203", "3%20", "03", "3x", "0", "1e2",
                    "99999999999999999999", "%00", "%C3%A9", "%FF"):
            st, body = s.http("GET", "/v1/requests?mine=1&limit=" + bad, "alice")
            self.assertEqual(st, 400, (bad, body))
            self.assertIn("limit", body["error"]["message"])
            st, _ = s.http("GET", "/v1/audit?after=" + bad, "erin")
            self.assertEqual(st, 400 if bad != "0" else 200, bad)
            st, _ = s.http("GET", "/v1/requests/%s" % bad, "alice")
            self.assertIn(st, (400, 404), bad)
        for bad in ("0%d" % rid, "+%d" % rid, "%d0000000000000000000000" % rid):
            st, _ = s.http("POST", "/v1/requests/%s/cancel" % bad, "alice", body={})
            self.assertIn(st, (400, 404), bad)
        self.assertEqual(s.http("GET", "/v1/requests/%d" % rid, "alice"), before)

    def test_cancel(self):
        s = self.srv
        _, r = s.request("alice", "orders-db", "write", "30m", reason="x", ticket="OPS-5")
        st, e = s.act("bob", r["id"], "cancel")
        self.assertEqual(st, 403)
        st, r2 = s.act("alice", r["id"], "cancel")
        self.assertEqual((st, r2["state"]), (200, "canceled"))
        st, e = s.act("alice", r["id"], "cancel")
        self.assertEqual(st, 409)

    def test_check_permissions(self):
        s = self.srv
        s.request("alice", "orders-db", "read", "1h")
        st, c = s.check("alice", "orders-db", "read", who="alice")
        self.assertTrue(c["allowed"])
        self.assertGreater(c["remaining_s"], 3500)
        st, e = s.check("alice", "orders-db", "read", who="erik")
        self.assertEqual(st, 403)
        st, c = s.check("erik", "orders-db", "read", who="svc")
        self.assertFalse(c["allowed"])
        denied = s.audit_events(action="check.denied")
        self.assertEqual(denied[-1]["subject"], "erik")
        self.assertEqual(denied[-1]["actor"], "svc")

    def test_check_answer_and_hostile_bodies(self):
        """The allowed answer's exact shape (formatted without jansson) and
        check bodies on both sides of the plain-JSON fast path: equal
        meaning gives equal answers, and every malformed body is a 400
        that names the problem and audits nothing."""
        s = self.srv
        _, r = s.request("alice", "orders-db", "read", "1h")
        self.assertEqual(r["state"], "active")
        st, text = s.http("POST", "/v1/check", "svc",
                          raw=b'{"subject":"alice","resource":"orders-db","role":"read"}')
        self.assertEqual(st, 200)
        self.assertEqual(list(text), ["allowed", "request_id", "expires_at", "remaining_s"])
        self.assertIs(text["allowed"], True)
        self.assertEqual(text["request_id"], r["id"])
        self.assertEqual(text["expires_at"], r["expires_at"])
        self.assertRegex(text["expires_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertTrue(3500 < text["remaining_s"] <= 3600, text)
        # the same question spelled with escapes and whitespace (the general
        # parser) gets the same answer
        st, same = s.http("POST", "/v1/check", "svc",
                          raw=b' { "subject" : "alic\\u0065", "resource":"orders-db",'
                              b' "role":"re\\u0061d" } ')
        self.assertEqual((st, same), (200, text))
        before = len(s.audit_events(action="check.denied"))
        bad = [
            (b'{"subject":"alice","subject":"erik","resource":"orders-db","role":"read"}',
             "duplicate"),
            (b'{"subject":"alice","resource":"orders-db","role":"read"} x', "not valid JSON"),
            (b'{"subject":"alice","resource":"orders-db","role":"read",}', "not valid JSON"),
            (b'{"subject":"al\xffice","resource":"orders-db","role":"read"}', "not valid JSON"),
            (b'{"subject":"al\x00ice","resource":"orders-db","role":"read"}', "not valid JSON"),
            (b'{"subject":"alice","resource":"orders-db","role":"read"\x00}', "not valid JSON"),
            (b'{"subject":1,"resource":"orders-db","role":"read"}', "subject: must be a string"),
            (b'{"subject":["alice"],"resource":"orders-db","role":"read"}',
             "subject: must be a string"),
            (b'{"subject":"alice","resource":"orders-db","role":"read","x":"y"}',
             "x: unknown field"),
            (b'{"resource":"orders-db","role":"read"}', "subject: required"),
            (b'["alice","orders-db","read"]', "must be a JSON object"),
            (b'[' * 5000 + b']' * 5000, "not valid JSON"),
        ]
        for body, why in bad:
            st, e = s.http("POST", "/v1/check", "svc", raw=body)
            self.assertEqual(st, 400, (body[:80], e))
            self.assertIn(why, e["error"]["message"], body[:80])
        self.assertEqual(len(s.audit_events(action="check.denied")), before)

    def test_bearer_token_of_16_kib(self):
        """docs/api.md: a bearer token may be 16 KiB.  With it, the headers
        a client usually sends and a 2 KiB cookie, the request head still
        fits libmicrohttpd's per-connection memory (24 KiB, src/api/http.c);
        a head far past it is refused (431) and nothing else suffers."""
        self.srv.stop()
        users = dict(USERS)
        big = ("big-" + os.urandom(8192).hex())[:16 * 1024]
        users["big"] = (big, ["engineering"])
        self.srv = s = Server(base_config(users=users))
        usual = {"User-Agent": "Mozilla/5.0 " + "x" * 200, "Accept": "application/json",
                 "Accept-Language": "en-GB,en;q=0.9", "Cookie": "other=" + "c" * 2048}
        st, me = s.http("GET", "/v1/whoami", bearer=big, headers=usual)
        self.assertEqual(st, 200, me)
        self.assertEqual(me["subject"], "big")
        s.request("alice", "orders-db", "read", "1h")
        st, c = s.http("POST", "/v1/check", bearer=big, headers=usual,
                       body={"subject": "big", "resource": "orders-db", "role": "read"})
        self.assertEqual((st, c), (200, {"allowed": False}))
        st, _ = s.http("GET", "/v1/whoami", bearer=big + "x" * 30000)
        self.assertIn(st, (400, 431))
        st, me = s.http("GET", "/v1/whoami", bearer=big)
        self.assertEqual((st, me["subject"]), (200, "big"))

    def test_audit_permissions(self):
        s = self.srv
        for who, expect in (("erin", 200), ("dave", 200), ("alice", 403), ("bob", 403)):
            for path in ("/v1/audit", "/v1/audit/export", "/v1/audit/verify"):
                st, _ = s.http("GET", path, who)
                self.assertEqual(st, expect, (who, path))

    def test_audit_one_event_per_transition(self):
        s = self.srv
        _, r = s.request("alice", "orders-db", "write", "30m", reason="x", ticket="OPS-6")
        s.act("bob", r["id"], "approve")
        s.act("carol", r["id"], "approve")
        s.act("dave", r["id"], "revoke")
        ev = [e for e in s.audit_events() if e.get("request_id") == r["id"]]
        self.assertEqual([e["action"] for e in ev],
                         ["request.created", "request.approved", "request.approved",
                          "request.activated", "request.revoked"])
        self.assertEqual([e["actor"] for e in ev], ["alice", "bob", "carol", "carol", "dave"])
        for e in ev:
            self.assertEqual((e["subject"], e["resource"], e["role"]),
                             ("alice", "orders-db", "write"))
        st, v = s.http("GET", "/v1/audit/verify", "erin")
        self.assertEqual((st, v["ok"]), (200, True))
        self.assertEqual(v["count"], len(s.audit_events()))
        seqs = [e["seq"] for e in s.audit_events()]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))

    def test_audit_filters(self):
        s = self.srv
        s.request("alice", "orders-db", "read", "1h")
        s.request("erik", "billing-api", "read", "1h")
        ev = s.audit_events(subject="erik")
        self.assertTrue(ev and all(e["subject"] == "erik" for e in ev))
        ev = s.audit_events(resource="orders-db")
        self.assertTrue(ev and all(e["resource"] == "orders-db" for e in ev))
        ev = s.audit_events(action="request.activated")
        self.assertEqual(len(ev), 2)

    # ---- deadlines ----
    def test_expiry(self):
        s = self.srv
        _, r = s.request("alice", "orders-db", "read", "1s")
        st, c = s.check("alice", "orders-db", "read")
        self.assertTrue(c["allowed"])
        wait_for(lambda: s.http("GET", "/v1/requests/%d" % r["id"], "alice")[1]["state"]
                 == "expired", timeout=5, what="expiry")
        st, c = s.check("alice", "orders-db", "read")
        self.assertFalse(c["allowed"])
        _, r2 = s.http("GET", "/v1/requests/%d" % r["id"], "alice")
        self.assertEqual(r2["ended_at"], r2["expires_at"])
        self.assertEqual(r2["ended_by"], "jitgate")
        ev = s.audit_events(action="request.expired")
        self.assertEqual(ev[-1]["request_id"], r["id"])

    def test_pending_timeout(self):
        self.srv.stop()
        self.srv = Server(base_config(pending_ttl="1s"))
        s = self.srv
        _, r = s.request("alice", "orders-db", "write", "30m", reason="x", ticket="OPS-8")
        self.assertEqual(r["state"], "pending")
        wait_for(lambda: s.http("GET", "/v1/requests/%d" % r["id"], "alice")[1]["state"]
                 == "timed_out", timeout=5, what="pending timeout")
        st, e = s.act("bob", r["id"], "approve")
        self.assertEqual(st, 409)
        self.assertEqual(len(s.audit_events(action="request.timed_out")), 1)

    # ---- persistence ----
    def test_restart_persistence_and_expiry_while_down(self):
        s = self.srv
        _, long_ = s.request("alice", "orders-db", "read", "1h")
        _, short = s.request("erik", "orders-db", "read", "1s")
        _, pend = s.request("alice", "orders-db", "write", "30m", reason="x", ticket="OPS-9")
        s.act("bob", pend["id"], "approve")
        head_before = s.http("GET", "/v1/audit/verify", "erin")[1]
        s.stop()
        time.sleep(1.5)  # the short grant ends while jitgate is down
        s.start()
        st, c = s.check("alice", "orders-db", "read")
        self.assertTrue(c["allowed"])
        self.assertEqual(c["request_id"], long_["id"])
        st, c = s.check("erik", "orders-db", "read")
        self.assertFalse(c["allowed"])
        _, r = s.http("GET", "/v1/requests/%d" % short["id"], "erik")
        self.assertEqual(r["state"], "expired")
        self.assertEqual(r["ended_at"], r["expires_at"])  # the real end time
        exp = [e for e in s.audit_events(action="request.expired")
               if e["request_id"] == short["id"]]
        self.assertEqual(len(exp), 1)
        self.assertEqual(exp[0]["detail"]["expires_at"], r["expires_at"])
        # the pending request keeps its approval and completes
        st, r = s.act("carol", pend["id"], "approve")
        self.assertEqual((st, r["state"]), (200, "active"))
        v = s.http("GET", "/v1/audit/verify", "erin")[1]
        self.assertTrue(v["ok"])
        self.assertGreater(v["count"], head_before["count"])
        events = s.audit_events()
        self.assertEqual(events[head_before["count"] - 1]["hash"], head_before["head"])
        self.assertEqual(len([e for e in events if e["action"] == "config.loaded"]), 2)

    # ---- reload ----
    def test_sighup_reload(self):
        s = self.srv
        st, e = s.request("mallory", "orders-db", "read")
        self.assertEqual(st, 403)
        good = base_config(policies=CONTRACTORS_READ)
        s.write_config(good)
        s.sighup()
        wait_for(lambda: s.request("mallory", "orders-db", "read", "5m")[0] == 201,
                 what="reloaded policy")
        # the new config takes effect only after its config.loaded is
        # durable: exactly two, read as soon as the new policy answers
        self.assertEqual(len(s.audit_events(action="config.loaded")), 2)
        # a bad file keeps the old config running and says why
        s.write_config(good + "bogus_key: 1\n")
        s.sighup()
        wait_for(lambda: "reload refused" in s.logs(), what="reload refusal in log")
        self.assertIn("bogus_key", s.logs())
        st, r = s.request("mallory", "orders-db", "read", "5m")
        self.assertEqual(st, 201)
        self.assertEqual(len(s.audit_events(action="config.loaded")), 2)

    # ---- tamper detection ----
    def test_tampered_export_detected(self):
        s = self.srv
        for _ in range(3):
            s.request("alice", "orders-db", "read", "1h")
        text = s.export()
        lines = text.strip().split("\n")
        path = os.path.join(s.dir, "export.jsonl")

        def verify(ls):
            with open(path, "w") as f:
                f.write("\n".join(ls) + "\n")
            return s.cli(["audit", "verify", path])

        rc, out, err = verify(lines)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("ok: %d events" % len(lines), out)
        # edit
        ev = json.loads(lines[2])
        ev["actor"] = "mallory"
        edited = lines[:2] + [json.dumps(ev, separators=(",", ":"), sort_keys=True)] + lines[3:]
        rc, out, err = verify(edited)
        self.assertEqual(rc, 1)
        self.assertIn("line 3", out + err)
        # deletion
        rc, out, err = verify(lines[:1] + lines[2:])
        self.assertEqual(rc, 1)
        self.assertIn("line 2", out + err)
        # reorder
        rc, out, err = verify([lines[0], lines[2], lines[1]] + lines[3:])
        self.assertEqual(rc, 1)
        self.assertIn("line 2", out + err)

    def test_tampered_store_detected(self):
        """Someone who can write the store past its append-only triggers
        (the SQLite file's owner, the PostgreSQL superuser): the live
        chain's verification finds the edit and the deletion, at their
        seq, and verifies again once the edit is undone."""
        s = self.srv
        for _ in range(3):
            s.request("alice", "orders-db", "read", "1h")

        def verify():
            st, body = s.http("GET", "/v1/audit/verify", "erin")
            self.assertEqual(st, 200, body)
            return body

        self.assertTrue(verify()["ok"])
        # seq 1 config.loaded, then request.created / request.activated each
        original = s.store_rows("SELECT event FROM audit WHERE seq = 4")[0][0]
        self.assertIn('"actor":"alice"', original)
        s.tamper_store("UPDATE audit SET event = replace(event, '\"actor\":\"alice\"',"
                       " '\"actor\":\"mallory\"') WHERE seq = 4")
        body = verify()
        self.assertEqual((body["ok"], body["bad_seq"]), (False, 4), body)
        rc, out, err = s.cli(["audit", "verify"], who="erin")
        self.assertEqual(rc, 1, out + err)
        s.tamper_store("UPDATE audit SET event = '%s' WHERE seq = 4" % original)
        self.assertTrue(verify()["ok"])
        s.tamper_store("DELETE FROM audit WHERE seq = 5")
        body = verify()
        self.assertEqual((body["ok"], body["bad_seq"]), (False, 6), body)

    def test_metrics_and_health(self):
        s = self.srv
        s.request("alice", "orders-db", "read", "1h")
        s.check("alice", "orders-db", "read")
        st, m = s.http("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertIn('jitgate_requests{state="active"} 1', m)
        self.assertIn('jitgate_checks_total{result="allowed"} 1', m)
        self.assertIn("jitgate_check_duration_seconds_count 1", m)
        self.assertIn("jitgate_audit_commit_duration_seconds_bucket", m)
        self.assertEqual(s.http("GET", "/healthz")[0], 200)
        self.assertEqual(s.http("GET", "/readyz")[0], 200)

    def test_status_codes(self):
        s = self.srv
        self.assertEqual(s.http("GET", "/v1/nothing", "alice")[0], 404)
        self.assertEqual(s.http("DELETE", "/v1/requests", "alice")[0], 405)
        self.assertEqual(s.http("POST", "/v1/requests/abc/approve", "alice")[0], 404)
        self.assertEqual(s.http("POST", "/v1/requests/1/explode", "alice", {})[0], 404)


def _ms(t):
    import datetime
    d = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(d.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


if __name__ == "__main__":
    run(CoreTest)
