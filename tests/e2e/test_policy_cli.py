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


class PolicyTestCommand(unittest.TestCase):
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


if __name__ == "__main__":
    run(PolicyTestCommand)
