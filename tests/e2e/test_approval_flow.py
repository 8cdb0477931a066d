"""Approval flows of design section 13 as users meet them: the example
policy tests (stages, escalation, office hours across a daylight-saving
change, on-call shifts) pass and fail for the right reasons under
`jitgate policy test`; config and schedule errors name their file:line;
and the daemon runs the same core: two stages through the API, an on-call
requester granted at once, each decision audited with detail.rule and
detail.stage."""
import datetime
import json
import os
import shutil
import unittest

from harness import SOURCE_DIR, Server, base_config, run
from test_policy_cli import Files, jg

FLOW = os.path.join(SOURCE_DIR, "examples", "approval-flow.yaml")
FLOW_TESTS = os.path.join(SOURCE_DIR, "examples", "approval-flow.tests.yaml")

POLICIES = """\
policies:
  - name: admin-two-stage
    requesters: [group:engineering]
    resources: [orders-db]
    roles: [admin]
    max_duration: 1h
    stages:
      - {approvals: 1, approvers: [group:sre]}
      - {approvals: 1, approvers: [group:security]}
  - name: oncall-write
    requesters: [group:engineering]
    resources: [orders-db]
    roles: [write]
    max_duration: 1h
    approvals: 1
    approvers: [group:sre]
    auto_approve: {oncall: oncall.yaml}
"""


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class PolicyTests(unittest.TestCase):
    def setUp(self):
        self.f = Files()
        shutil.copy(FLOW, os.path.join(self.f.dir, "flow.yaml"))
        shutil.copy(os.path.join(SOURCE_DIR, "examples", "oncall.yaml"),
                    os.path.join(self.f.dir, "oncall.yaml"))
        self.cfg = os.path.join(self.f.dir, "flow.yaml")

    def test_examples_pass(self):
        rc, out, err = jg("policy", "test", "-c", FLOW, FLOW_TESTS)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(out.splitlines()[-1], "18 passed, 0 failed")

    def test_wrong_clock_fails_with_the_rule(self):
        text = open(FLOW_TESTS).read().replace(
            'at: "2026-11-30T09:00:00Z"', 'at: "2026-11-30T17:00:00Z"')
        t = self.f.write("t.yaml", text)
        rc, out, err = jg("policy", "test", "-c", self.cfg, t)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("reads in Berlin office hours are granted (10:00 CET): "
                      "expected granted by rule auto_approve.when, got pending "
                      "via office-hours-read (1 approval)", out)
        # a rule that is not one jitgate decides by is a test-file error
        t = self.f.write("t2.yaml", text.replace("rule: stages", "rule: vibes", 1))
        rc, out, err = jg("policy", "test", "-c", self.cfg, t)
        self.assertEqual(rc, 2, out + err)
        self.assertIn(":12: rule: 'vibes' is not a rule", err)
        t = self.f.write("t3.yaml", text.replace('"2026-11-30T17:00:00Z"', "tomorrow"))
        rc, out, err = jg("policy", "test", "-c", self.cfg, t)
        self.assertEqual(rc, 2, out + err)
        self.assertIn(":26: at: not an RFC 3339 UTC time", err)

    def test_reminders_and_escalation_under_policy_test(self):
        # a wrong count, a wrong escalation and a wrong audience each fail
        text = open(FLOW_TESTS).read()
        for old, new, words in [
                ("reminders: 3, escalated: false", "reminders: 2, escalated: false",
                 "expected pending, 2 reminders, not escalated, reminded [lena, liam], got "
                 "pending via admin-two-stage (2 approvals), 3 reminders, not escalated, "
                 "reminded [lena, liam]"),
                ("reminders: 4, escalated: true", "reminders: 4, escalated: false",
                 "4 reminders, escalated, reminded [lena, liam, cora]"),
                ("reminded: [liam]}", "reminded: [liam, lena]}",
                 "a lead's own request reminds only the other lead: expected pending, "
                 "1 reminder, reminded [liam, lena]")]:
            t = self.f.write("t.yaml", text.replace(old, new))
            rc, out, err = jg("policy", "test", "-c", self.cfg, t)
            self.assertEqual(rc, 1, out + err)
            self.assertIn(words, out)
            self.assertEqual(out.splitlines()[-1], "17 passed, 1 failed")
        rc, out, err = jg("policy", "test", "-c", FLOW, FLOW_TESTS, "--json")
        self.assertEqual(rc, 0, out + err)
        got = {c["name"]: c["got"] for c in json.loads(out)["cases"]}
        self.assertEqual(got["after an hour the cto is told and reminded too"]["reminded"],
                         ["lena", "liam", "cora"])
        self.assertIs(got["after an hour the cto is told and reminded too"]["escalated"], True)
        # only a pending request is reminded: a test-file error, exit 2
        t = self.f.write("t4.yaml", text.replace(
            "expect: {outcome: pending, reminders: 0, escalated: false}",
            "expect: {outcome: granted, reminders: 0}"))
        rc, out, err = jg("policy", "test", "-c", self.cfg, t)
        self.assertEqual(rc, 2, out + err)
        self.assertIn("reminders: only a pending request is reminded or escalated", err)

    def test_schedule_errors_name_the_schedule_line(self):
        for body, want in [
                ("- {subject: a, start: \"2026-11-30T08:00:00Z\", end: \"2026-11-30T20:00:00Z\"}\n"
                 "- {subject: b, start: \"2026-11-30T20:00:00Z\", end: \"2026-11-30T19:00:00Z\"}\n",
                 "oncall.yaml:2: end: not after start"),
                ("- {subject: a, start: now, end: \"2026-11-30T20:00:00Z\"}\n",
                 "oncall.yaml:1: start: not an RFC 3339 UTC time"),
                (b"- {subject: \xff\xfe, start: x, end: y}\n", "oncall.yaml:1:"),
                ("", "oncall.yaml:1: on-call schedule is empty")]:
            mode = "wb" if isinstance(body, bytes) else "w"
            with open(os.path.join(self.f.dir, "oncall.yaml"), mode) as f:
                f.write(body)
            rc, out, err = jg("policy", "test", "-c", self.cfg, FLOW_TESTS)
            self.assertEqual(rc, 2, out + err)
            self.assertIn(want, err)
        os.unlink(os.path.join(self.f.dir, "oncall.yaml"))
        rc, out, err = jg("policy", "test", "-c", self.cfg, FLOW_TESTS)
        self.assertEqual(rc, 2, out + err)
        self.assertIn("flow.yaml:43: oncall: cannot read", err)

    def test_config_errors_name_their_line(self):
        text = open(FLOW).read()
        for old, new, want in [
                ("    remind_after: 15m\n", "    remind_after: 15m\n    approvals: 1\n",
                 "flow.yaml:25: approvals: a policy has either 'stages'"),
                ("tz: Europe/Berlin", "tz: Europe/Atlantis",
                 "flow.yaml:35: tz: 'Europe/Atlantis': no such time zone"),
                ("days: [mon-fri]", "days: [mon-fry]",
                 "flow.yaml:35: days: 'mon-fry' is not a day"),
                ("    escalate_to: [group:cto]\n", "",
                 "flow.yaml:25: escalate_after: needs 'escalate_to' too")]:
            self.assertIn(old, text)
            with open(self.cfg, "w") as f:
                f.write(text.replace(old, new))
            rc, out, err = jg("policy", "test", "-c", self.cfg, FLOW_TESTS)
            self.assertEqual(rc, 2, out + err)
            self.assertIn(want, err)


class Daemon(unittest.TestCase):
    def test_stages_and_oncall_audited_with_their_rule(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        srv = Server(base_config(policies=POLICIES), start=False)
        with open(os.path.join(srv.dir, "oncall.yaml"), "w") as f:
            f.write("- {subject: alice, start: \"%s\", end: \"%s\"}\n" % (
                iso(now - datetime.timedelta(hours=1)),
                iso(now + datetime.timedelta(days=1))))
        srv.start()
        try:
            st, r = srv.request("alice", "orders-db", "admin", "30m")
            self.assertEqual((st, r["state"], r["approvals_required"]),
                             (201, "pending", 2))
            rid = r["id"]
            # stage 2 (security) is not open before stage 1 (sre)
            st, body = srv.act("dave", rid, "approve")
            self.assertEqual(st, 403, body)
            self.assertIn("not an approver of stage 1", body["error"]["message"])
            st, body = srv.act("bob", rid, "approve")
            self.assertEqual((st, body["state"]), (200, "pending"), body)
            # stage 1 is met: another sre cannot add to it
            st, body = srv.act("carol", rid, "approve")
            self.assertEqual(st, 403, body)
            st, body = srv.act("dave", rid, "approve")
            self.assertEqual((st, body["state"]), (200, "active"), body)
            ev = [e for e in srv.audit_events()
                  if e["action"] == "request.approved" and e["request_id"] == rid]
            self.assertEqual([(e["actor"], e["detail"]["stage"], e["detail"]["rule"])
                              for e in ev], [("bob", 1, "stages"), ("dave", 2, "stages")])
            # alice is on call: her write is granted at once, by that rule
            st, r = srv.request("alice", "orders-db", "write", "30m")
            self.assertEqual((st, r["state"]), (201, "active"), r)
            act = [e for e in srv.audit_events()
                   if e["action"] == "request.activated" and e["request_id"] == r["id"]]
            self.assertEqual(act[0]["detail"]["rule"], "auto_approve.oncall")
            st, r = srv.request("erik", "orders-db", "write", "30m")
            self.assertEqual((st, r["state"]), (201, "pending"), r)
        finally:
            srv.stop()


if __name__ == "__main__":
    run(PolicyTests, Daemon)
