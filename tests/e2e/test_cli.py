"""The CLI against the real daemon: every command, --json, exit codes,
audit follow/export/verify, and token new producing a working identity."""
import json
import os
import re
import subprocess
import time
import unittest

from harness import JITGATE, Server, base_config, run, wait_for


class CliTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(base_config())

    def tearDown(self):
        self.srv.stop()

    def cli(self, who, *args):
        return self.srv.cli(list(args), who=who)

    def test_request_approve_flow(self):
        rc, out, err = self.cli("sam", "request", "orders-db", "write", "--for", "30m",
                                "--reason", "fix orders", "--ticket", "OPS-42", "--json")
        self.assertEqual(rc, 0, err)
        r = json.loads(out)
        rid = str(r["id"])
        self.assertEqual(r["state"], "pending")
        rc, out, err = self.cli("alice", "approve", rid)
        self.assertEqual(rc, 5, err)  # not an approver: 403
        rc, out, err = self.cli("sam", "approve", rid)
        self.assertEqual(rc, 5, err)  # self-approval: 403
        self.assertIn("own request", err)
        rc, out, err = self.cli("bob", "approve", rid, "--comment", "ok")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.cli("bob", "approve", rid)
        self.assertEqual(rc, 7, err)  # twice: 409
        rc, out, err = self.cli("carol", "approve", rid)
        self.assertEqual(rc, 0, err)
        self.assertIn("active", out)
        rc, out, err = self.cli("svc", "check", "sam", "orders-db", "write")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("allowed", out)
        rc, out, err = self.cli("sam", "show", rid, "--json")
        self.assertEqual(json.loads(out)["approvals"][0]["comment"], "ok")
        rc, out, err = self.cli("dave", "revoke", rid, "--reason", "done")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.cli("svc", "check", "sam", "orders-db", "write")
        self.assertEqual(rc, 1)
        self.assertIn("denied", out)

    def test_list_filters(self):
        s = self.srv
        s.request("alice", "orders-db", "read", "1h")
        _, p = s.request("alice", "orders-db", "write", "30m", reason="x", ticket="OPS-1")
        rc, out, err = self.cli("alice", "list", "--pending", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual([r["id"] for r in json.loads(out)["requests"]], [p["id"]])
        rc, out, err = self.cli("alice", "list", "--active")
        self.assertEqual(rc, 0, err)
        self.assertIn("orders-db", out)
        self.assertNotIn("pending", out.split("\n", 1)[1])
        rc, out, err = self.cli("bob", "list", "--approvable")
        self.assertIn(str(p["id"]), out)
        rc, out, err = self.cli("alice", "list", "--mine")
        self.assertEqual(len([l for l in out.strip().split("\n")[1:] if l]), 2)

    def test_deny_cancel_review(self):
        s = self.srv
        _, a = s.request("alice", "orders-db", "write", "30m", reason="x", ticket="OPS-2")
        _, b = s.request("alice", "orders-db", "write", "30m", reason="x", ticket="OPS-3")
        rc, out, err = self.cli("bob", "deny", str(a["id"]), "--comment", "no")
        self.assertEqual(rc, 0, err)
        self.assertIn("denied", out)
        rc, out, err = self.cli("bob", "cancel", str(b["id"]))
        self.assertEqual(rc, 5)
        rc, out, err = self.cli("alice", "cancel", str(b["id"]))
        self.assertEqual(rc, 0, err)
        rc, out, err = self.cli("alice", "request", "orders-db", "write", "--for", "10m",
                                "--reason", "db down", "--break-glass", "--json")
        self.assertEqual(rc, 0, err)
        bg = json.loads(out)
        self.assertTrue(bg["review_required"])
        rc, out, err = self.cli("carol", "review", str(bg["id"]), "--json")
        self.assertEqual(rc, 0, err)
        self.assertFalse(json.loads(out)["review_required"])

    def test_exit_codes(self):
        s = self.srv
        rc, _, err = self.srv.cli(["whoami"], bearer="wrong-token")
        self.assertEqual(rc, 4, err)
        rc, _, err = self.cli("mallory", "request", "orders-db", "read", "--for", "1h")
        self.assertEqual(rc, 5, err)
        rc, _, err = self.cli("dave", "show", "424242")
        self.assertEqual(rc, 6, err)
        rc, _, err = self.cli("alice", "request", "orders-db", "read", "--for", "9h")
        self.assertEqual(rc, 8, err)
        self.assertIn("duration", err)
        rc, _, err = self.cli("alice", "request", "orders-db")
        self.assertEqual(rc, 2)
        rc, _, err = self.cli("alice", "frobnicate")
        self.assertEqual(rc, 2)
        rc, _, err = self.srv.cli(["whoami"])  # no token
        self.assertEqual(rc, 2)
        env = dict(os.environ, JITGATE_ADDR="http://127.0.0.1:1", JITGATE_TOKEN="x")
        p = subprocess.run([JITGATE, "whoami"], capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 3)
        # the token never appears in what the CLI prints
        self.assertNotIn("wrong-token", err)

    def test_check_config(self):
        rc, out, err = self.srv.cli(["check-config", "-c", self.srv.config_path])
        self.assertEqual(rc, 0, err)
        self.assertIn("ok (3 resources, 3 policies", out)
        import os
        bad = os.path.join(self.srv.dir, "bad.yaml")
        with open(self.srv.config_path) as f:
            text = f.read()
        # an unknown role in a policy is an error naming its file and line
        text = text.replace("roles: [read]\n    max_duration: 4h",
                            "roles: [reed]\n    max_duration: 4h", 1)
        with open(bad, "w") as f:
            f.write(text)
        line = text.split("\n").index("    roles: [reed]") + 1
        rc, out, err = self.srv.cli(["check-config", "-c", bad])
        self.assertEqual(rc, 1)
        self.assertIn("%s:%d:" % (bad, line), err)
        self.assertIn("reed", err)
        rc, out, err = self.srv.cli(["check-config"])
        self.assertEqual(rc, 2)
        # the daemon refuses to start on it, with the same message
        import subprocess
        from harness import JITGATE
        p = subprocess.run([JITGATE, "serve", "-c", bad], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("%s:%d:" % (bad, line), p.stderr)

    def test_whoami(self):
        rc, out, err = self.cli("bob", "whoami", "--json")
        self.assertEqual(rc, 0, err)
        w = json.loads(out)
        self.assertEqual((w["subject"], w["groups"]), ("bob", ["sre"]))

    def test_audit_commands(self):
        s = self.srv
        s.request("alice", "orders-db", "read", "1h")
        rc, out, err = self.cli("erin", "audit")
        self.assertEqual(rc, 0, err)
        self.assertIn("request.activated", out)
        rc, out, err = self.cli("alice", "audit")
        self.assertEqual(rc, 5)
        rc, out, err = self.cli("erin", "audit", "verify")
        self.assertEqual(rc, 0, err)
        self.assertIn("ok", out)
        rc, out, err = self.cli("erin", "audit", "export")
        self.assertEqual(rc, 0, err)
        lines = out.strip().split("\n")
        self.assertEqual([json.loads(l)["seq"] for l in lines], list(range(1, len(lines) + 1)))
        path = os.path.join(s.dir, "x.jsonl")
        with open(path, "w") as f:
            f.write(out)
        rc, vout, verr = s.cli(["audit", "verify", path])  # offline: no token
        self.assertEqual(rc, 0, verr)
        with open(path, "w") as f:
            f.write("\n".join(lines[:-2] + [lines[-1]]) + "\n")
        rc, vout, verr = s.cli(["audit", "verify", path])
        self.assertEqual(rc, 1)
        self.assertIn("line %d" % (len(lines) - 1), vout + verr)

    def test_audit_follow(self):
        s = self.srv
        env = dict(s.env, JITGATE_ADDR=s.url, JITGATE_TOKEN="tok-erin-0123456789")
        p = subprocess.Popen([JITGATE, "audit", "--follow", "--json"], stdout=subprocess.PIPE,
                             text=True, env=env)
        try:
            time.sleep(0.5)
            _, r = s.request("alice", "orders-db", "read", "1h")
            seen = []
            deadline = time.time() + 10
            while time.time() < deadline:
                line = p.stdout.readline()
                if not line:
                    break
                seen.append(line)
                if "request.activated" in line:
                    break
            self.assertTrue(any("request.activated" in l and '"request_id":%d' % r["id"]
                                in l.replace(" ", "") for l in seen), seen)
        finally:
            p.kill()
            p.wait()

    def test_token_new_works(self):
        rc, out, err = self.srv.cli(["token", "new"])
        self.assertEqual(rc, 0, err)
        tok = re.search(r"\b(jg_[A-Za-z0-9_-]{20,})", out).group(1)
        digest = re.search(r"token_sha256: ([0-9a-f]{64})", out).group(1)
        import hashlib
        self.assertEqual(hashlib.sha256(tok.encode()).hexdigest(), digest)
        cfg = base_config().replace(
            "identities:\n",
            "identities:\n  - subject: newbie\n    groups: [engineering]\n"
            "    token_sha256: %s\n" % digest)
        self.srv.write_config(cfg)
        self.srv.sighup()
        wait_for(lambda: self.srv.cli(["whoami"], bearer=tok)[0] == 0, what="new token")
        rc, out2, _ = self.srv.cli(["token", "new"])
        self.assertNotEqual(out, out2)


if __name__ == "__main__":
    run(CliTest)
