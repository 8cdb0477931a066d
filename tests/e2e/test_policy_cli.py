"""The offline policy tools of design section 11, run as a user runs them:
`jitgate policy test|explain|matrix|diff|lint` and `jitgate audit replay`.
Exit codes and outputs on good and broken inputs: a failing case, a bad
test file with its line, a diff that adds access, a lint warning with its
line.  No server is needed for any of them; where a test compares with the
daemon it starts the real one."""
import json
import os
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET

from harness import JITGATE, SOURCE_DIR, Server, base_config, run

DEMO = os.path.join(SOURCE_DIR, "examples", "demo.yaml")
DEMO_TESTS = os.path.join(SOURCE_DIR, "examples", "demo.tests.yaml")


def jg(*args, cwd=None):
    p = subprocess.run([JITGATE] + list(args), capture_output=True, text=True,
                       timeout=60, cwd=cwd, env={k: v for k, v in os.environ.items()
                                                 if k != "JITGATE_TOKEN"})
    return p.returncode, p.stdout, p.stderr


class Files:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="jg-policy-")

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path


CASE = """\
  - name: {name}
    as: {{subject: alice, groups: [engineering]}}
    request: {{resource: {resource}, role: {role}, duration: {duration}}}
    expect: {{{expect}}}
"""


def cases(*items):
    return "cases:\n" + "".join(CASE.format(**i) for i in items)


class PolicyCli(unittest.TestCase):
    def setUp(self):
        self.f = Files()

    def test_demo_suite_passes(self):
        rc, out, err = jg("policy", "test", "-c", DEMO, DEMO_TESTS)
        self.assertEqual(rc, 0, out + err)
        last = out.rstrip("\n").split("\n")[-1]
        self.assertRegex(last, r"^\d+ passed, 0 failed$")
        self.assertIn("coverage: 2 of 2 policies reached", out)

    def test_failing_case_exit_1_with_reason(self):
        t = self.f.write("t.yaml", cases(
            dict(name="reads are free", resource="orders-db", role="read",
                 duration="1h", expect="outcome: granted, policy: engineers-read"),
            dict(name="wrongly expects pending", resource="orders-db", role="read",
                 duration="1h", expect="outcome: pending, approvals: 2")))
        rc, out, err = jg("policy", "test", "-c", DEMO, t)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("FAIL  %s:6  wrongly expects pending: expected pending "
                      "(2 approvals), got granted via engineers-read" % t, out)
        self.assertEqual(out.rstrip("\n").split("\n")[-1], "1 passed, 1 failed")

    def test_bad_test_file_exit_2_with_line(self):
        for expect, line, msg in [
                ("outcome: maybe", 5, "outcome: 'maybe' is not granted, pending or refused"),
                ("outcome: granted, colour: red", 5, "unknown key 'colour' in expect")]:
            t = self.f.write("bad.yaml", cases(dict(
                name="x", resource="orders-db", role="read", duration="1h",
                expect=expect)))
            rc, out, err = jg("policy", "test", "-c", DEMO, t)
            self.assertEqual(rc, 2, out + err)
            self.assertEqual(out, "")
            self.assertIn("%s:%d: %s" % (t, line, msg), err)
        t = self.f.write("bad.yaml", cases(dict(
            name="x", resource="orders-db", role="drop", duration="1h",
            expect="outcome: granted")))
        rc, out, err = jg("policy", "test", "-c", DEMO, t)
        self.assertEqual(rc, 2)
        self.assertIn("%s:4: role: resource orders-db has no role 'drop'" % t, err)
        # one bad file among good ones: nothing runs
        rc, out, err = jg("policy", "test", "-c", DEMO, DEMO_TESTS, t)
        self.assertEqual((rc, out), (2, ""))

    def test_bad_config_exit_2(self):
        c = self.f.write("c.yaml", "resources: []\npolicies:\n  - name: x\n    colour: red\n")
        rc, out, err = jg("policy", "test", "-c", c, DEMO_TESTS)
        self.assertEqual(rc, 2)
        self.assertIn("%s:4: unknown key 'colour' in policy" % c, err)
        rc, out, err = jg("policy", "test", DEMO_TESTS)
        self.assertEqual(rc, 2)
        rc, out, err = jg("policy", "test", "-c", DEMO)
        self.assertEqual(rc, 2)
        rc, out, err = jg("policy", "test", "-c", DEMO, "/nonexistent.yaml")
        self.assertEqual(rc, 2)
        self.assertIn("/nonexistent.yaml: cannot open", err)

    def test_coverage(self):
        t = self.f.write("t.yaml", cases(dict(
            name="reads", resource="orders-db", role="read", duration="1h",
            expect="outcome: granted")))
        rc, out, _ = jg("policy", "test", "-c", DEMO, t)
        self.assertEqual(rc, 0)
        self.assertIn("coverage: 1 of 2 policies reached by a case; not reached:\n"
                      "  prod-write (%s:69)\n" % DEMO, out)
        rc, out, _ = jg("policy", "test", "-c", DEMO, t, "--require-coverage")
        self.assertEqual(rc, 1)
        self.assertEqual(out.rstrip("\n").split("\n")[-1], "1 passed, 0 failed")

    def test_json_and_junit(self):
        t = self.f.write("t.yaml", cases(
            dict(name="ok <&>", resource="orders-db", role="read", duration="1h",
                 expect="outcome: granted"),
            dict(name="too long", resource="orders-db", role="read", duration="9h",
                 expect="outcome: refused, status: 403")))
        junit = os.path.join(self.f.dir, "junit.xml")
        rc, out, _ = jg("policy", "test", "-c", DEMO, t, "--json", "--junit", junit)
        self.assertEqual(rc, 1)
        doc = json.loads(out)
        self.assertEqual((doc["passed"], doc["failed"]), (1, 1))
        bad = doc["cases"][1]
        self.assertEqual(bad["got"]["status"], 400)
        self.assertEqual(bad["got"]["field"], "duration")
        self.assertEqual(doc["coverage"]["unreached"], [{"policy": "prod-write", "line": 69}])
        root = ET.parse(junit).getroot()
        tcs = root.findall(".//testcase")
        self.assertEqual([tc.get("name") for tc in tcs], ["ok <&>", "too long"])
        self.assertIsNone(tcs[0].find("failure"))
        self.assertIn("got refused 400 (duration)", tcs[1].find("failure").get("message"))
        self.assertEqual(root.get("failures"), "1")


    # ---- explain ----------------------------------------------------------

    def test_explain(self):
        rc, out, err = jg("policy", "explain", "-c", DEMO, "--as", "alice",
                          "orders-db", "write", "--reason", "fix", "--ticket", "OPS-7")
        self.assertEqual(rc, 0, err)
        self.assertIn("subject alice, groups [engineering] asks for write on orders-db", out)
        self.assertIn("1. engineers-read (%s:62): no match\n" % DEMO, out)
        self.assertIn("role:      no, not in [read]", out)
        self.assertIn("2. prod-write (%s:69): MATCH" % DEMO, out)
        self.assertIn("decision for 1h: pending by prod-write, 2 approvals needed", out)
        rc, out, _ = jg("policy", "explain", "-c", DEMO, "--as", "mallory,group:contractors",
                        "orders-db", "read", "--duration", "1h")
        self.assertEqual(rc, 0)
        self.assertIn("requester: no, not in [group:engineering]", out)
        self.assertIn("decision for 1h: refused 403: no policy lets mallory", out)
        rc, out, _ = jg("policy", "explain", "-c", DEMO, "--as", "alice", "orders-db",
                        "read", "--duration", "9h")
        self.assertIn("refused 400: duration: above the maximum 4h", out)
        for bad in (["--as", "alice", "orders-db", "drop"],
                    ["--as", "alice,sre", "orders-db", "read"],
                    ["--as", "alice", "orders-db", "read", "--duration", "forever"],
                    ["orders-db", "read"]):
            rc, out, err = jg("policy", "explain", "-c", DEMO, *bad)
            self.assertEqual(rc, 2, (bad, out, err))

    # ---- matrix -----------------------------------------------------------

    def test_matrix(self):
        rc, out, err = jg("policy", "matrix", "-c", DEMO)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"user:alice +orders-db +write +2 of group:sre,user:carol +1h +30m +prod-write")
        self.assertRegex(out, r"group:engineering +billing-api +read +granted +4h +- +engineers-read")
        self.assertNotIn("user:bob", out)  # an approver reaches nothing himself
        rc, out, _ = jg("policy", "matrix", "-c", DEMO, "--json")
        rows = json.loads(out)["rows"]
        row = [r for r in rows if (r["principal"], r["resource"], r["role"]) ==
               ("user:alice", "orders-db", "write")][0]
        self.assertEqual(row, {
            "principal": "user:alice", "resource": "orders-db", "role": "write",
            "policy": "prod-write", "outcome": "pending", "approvals": 2,
            "approvers": ["group:sre", "user:carol"], "max_duration_s": 3600,
            "break_glass_max_duration_s": 1800, "allow_self_approval": False,
            "require_reason": True, "ticket_pattern": "^OPS-[0-9]+$"})
        self.assertEqual(len(rows), 8)

    def test_matrix_matches_the_daemon(self):
        """Each matrix row of a user principal is what the real daemon does
        with that user's token."""
        srv = Server(base_config())
        try:
            rc, out, _ = jg("policy", "matrix", "-c", srv.config_path, "--json")
            self.assertEqual(rc, 0)
            rows = {(r["principal"], r["resource"], r["role"]): r
                    for r in json.loads(out)["rows"]}
            for user in ("alice", "bob", "mallory", "sam"):
                for res, roles in (("orders-db", ["read", "write", "admin"]),
                                   ("billing-api", ["read", "admin"]),
                                   ("prod-payments", ["read", "write"])):
                    for role in roles:
                        st, body = srv.request(user, res, role, "1m", reason="r",
                                               ticket="OPS-1")
                        row = rows.get(("user:" + user, res, role))
                        if row is None:
                            self.assertEqual(st, 403, (user, res, role, body))
                        else:
                            self.assertEqual(st, 201, (user, res, role, body))
                            self.assertEqual(body["policy"], row["policy"])
                            self.assertEqual(body["state"], "active" if row["outcome"]
                                             == "granted" else "pending")
        finally:
            srv.stop()

    # ---- diff -------------------------------------------------------------

    def test_diff(self):
        with open(DEMO) as f:
            demo = f.read()
        same = self.f.write("same.yaml", demo)
        rc, out, _ = jg("policy", "diff", DEMO, same)
        self.assertEqual((rc, out), (0, "0 added, 0 removed, 0 loosened, 0 tightened, 0 changed\n"))
        wider = self.f.write("wider.yaml", demo.replace(
            "    requesters: [group:engineering]\n    resources: [orders-db, billing-api]",
            "    requesters: [group:engineering, user:erin]\n    resources: [orders-db, billing-api]"))
        rc, out, _ = jg("policy", "diff", DEMO, wider)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"\+ user:erin +orders-db +read +granted +4h")
        self.assertTrue(out.endswith("2 added, 0 removed, 0 loosened, 0 tightened, 0 changed\n"))
        # the reverse removes access: nothing to gate
        rc, out, _ = jg("policy", "diff", wider, DEMO)
        self.assertEqual(rc, 0, out)
        self.assertIn("0 added, 2 removed", out)
        looser = self.f.write("looser.yaml", demo.replace("approvals: 2", "approvals: 1")
                              .replace("allow_self_approval: false", "allow_self_approval: true"))
        rc, out, _ = jg("policy", "diff", DEMO, looser, "--json")
        self.assertEqual(rc, 1)
        doc = json.loads(out)
        self.assertTrue(doc["adds_or_loosens"])
        lo = [d for d in doc["loosened"] if d["after"]["principal"] == "user:alice"
              and d["after"]["resource"] == "orders-db"][0]
        self.assertEqual(lo["before"]["approvals"], 2)
        self.assertEqual(lo["after"]["approvals"], 1)
        self.assertIn("approvals 2 -> 1", lo["what"])
        self.assertIn("self-approval newly allowed", lo["what"])
        tighter = self.f.write("tighter.yaml", demo.replace("max_duration: 4h", "max_duration: 2h"))
        rc, out, _ = jg("policy", "diff", DEMO, tighter)
        self.assertEqual(rc, 0)
        self.assertIn("~ user:alice  orders-db  read  max 4h -> 2h", out)
        rc, out, err = jg("policy", "diff", DEMO, self.f.write("bad.yaml", "policies: 3\n"))
        self.assertEqual(rc, 2)
        self.assertIn("bad.yaml:1: policies: ", err)

    # ---- lint -------------------------------------------------------------

    def test_lint(self):
        rc, out, _ = jg("policy", "lint", "-c", DEMO, "--strict")
        self.assertEqual((rc, out), (0, "0 warnings\n"))
        with open(DEMO) as f:
            demo = f.read()
        shadow = self.f.write("shadow.yaml", demo + """
  - name: late-read
    requesters: [group:engineering]
    resources: [orders-db]
    roles: [read]
    max_duration: 8h
    approvals: 0
""")
        nlines = demo.count("\n")
        rc, out, _ = jg("policy", "lint", "-c", shadow)
        self.assertEqual(rc, 0)
        self.assertIn("%s:%d: warning: policy 'late-read' is shadowed" % (shadow, nlines + 2), out)
        rc, out, _ = jg("policy", "lint", "-c", shadow, "--strict")
        self.assertEqual(rc, 1)
        self.assertTrue(out.endswith("1 warning\n"))
        rc, out, _ = jg("policy", "lint", "-c", shadow, "--json")
        w = json.loads(out)["warnings"]
        self.assertEqual((w[0]["file"], w[0]["line"]), (shadow, nlines + 2))

    # ---- audit replay -------------------------------------------------------

    def test_audit_replay(self):
        from harness import DEFAULT_POLICIES
        srv = Server(base_config())
        try:
            self.assertEqual(srv.request("alice", "orders-db", "read", "3h")[0], 201)
            self.assertEqual(srv.request("sam", "billing-api", "read", "1h")[0], 201)
            self.assertEqual(srv.request("alice", "orders-db", "write", "30m",
                                         reason="r", ticket="OPS-1")[0], 201)
            self.assertEqual(srv.request("bob", "prod-payments", "read", "1h")[0], 201)
            export = srv.export()
        finally:
            srv.stop()
        created = [json.loads(l) for l in export.splitlines()
                   if json.loads(l)["action"] == "request.created"]
        self.assertEqual(created[0]["detail"]["groups"], ["engineering"])
        self.assertEqual(created[1]["detail"]["groups"], ["sre", "engineering"])
        exp = self.f.write("export.jsonl", export)
        same = self.f.write("same.yaml", srv.render(base_config()))
        rc, out, err = jg("audit", "replay", "-c", same, exp)
        self.assertEqual((rc, out), (0, "4 replayed, 0 would differ\n"), err)
        # reads now need approval and last at most 2h; sre lose prod read
        new = self.f.write("new.yaml", srv.render(base_config(policies=DEFAULT_POLICIES
            .replace("    max_duration: 4h\n    approvals: 0\n",
                     "    max_duration: 2h\n    approvals: 1\n    approvers: [group:sre]\n")
            .replace("requesters: [group:sre]", "requesters: [group:security]"))))
        rc, out, err = jg("audit", "replay", "-c", new, exp)
        self.assertEqual(rc, 1, out + err)
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^request 1 at \S+: alice orders-db read 3h: was granted "
                         r"via engineers-read, now refused 400 \(duration\): duration: above "
                         r"the maximum 2h of policy engineers-read$")
        self.assertRegex(lines[1], r"^request 2 at \S+: sam billing-api read 1h: was granted "
                         r"via engineers-read, now pending via engineers-read \(1 approval\)$")
        self.assertRegex(lines[2], r"^request 4 .* bob prod-payments read 1h: was pending via "
                         r"prod-read-selfapprove \(1 approval\), now refused 403")
        self.assertEqual(lines[-1], "4 replayed, 3 would differ")
        rc, out, _ = jg("audit", "replay", "-c", new, exp, "--json")
        doc = json.loads(out)
        self.assertEqual((doc["replayed"], doc["differing"]), (4, 3))
        self.assertEqual(doc["differ"][1]["groups_from"], "event")
        self.assertEqual(doc["differ"][1]["now"], {"outcome": "pending",
                         "policy": "engineers-read", "approvals": 1})
        # a tampered export is not replayed
        lines = export.splitlines()
        ev = json.loads(lines[0])
        ev["detail"]["duration_s"] = 60
        bad = self.f.write("bad.jsonl", "\n".join([json.dumps(ev)] + lines[1:]) + "\n")
        rc, out, err = jg("audit", "replay", "-c", new, bad)
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("does not verify, not replayed: FAIL at line 1", err)
        rc, out, err = jg("audit", "replay", "-c", new, "/nonexistent.jsonl")
        self.assertEqual(rc, 2)
        # a line over 1 MiB is refused without being held, as are bytes
        # that are not an event
        huge = self.f.write("huge.jsonl", lines[0] + "\n" + "x" * (1 << 21) + "\n")
        rc, out, err = jg("audit", "replay", "-c", new, huge)
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("huge.jsonl:2: line longer than 1048576 bytes", err)
        junk = self.f.write("junk.jsonl", "\x00\xff{]\n")
        rc, out, err = jg("audit", "replay", "-c", new, junk)
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("does not verify, not replayed: FAIL at line 1", err)


if __name__ == "__main__":
    run(PolicyCli)
