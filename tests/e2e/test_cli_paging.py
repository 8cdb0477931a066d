"""The `jitgate` client against the real daemon: every subcommand, its
output, its exit code, paging, --json, audit export and offline verify."""
import json
import os
import signal
import subprocess
import time
import unittest

from harness import JITGATE, Server, USERS, base_config, run


class CliTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(base_config())

    def tearDown(self):
        self.srv.stop()

    def cli(self, who, *args, **kw):
        return self.srv.cli(list(args), who=who, **kw)

    def new_request(self, who, *args):
        rc, out, err = self.cli(who, "--json", "request", *args)
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def test_request_approve_check_revoke_with_exit_codes(self):
        r = self.new_request("alice", "orders-db", "write", "--for", "30m",
                             "--reason", "hotfix", "--ticket", "OPS-7")
        self.assertEqual(r["state"], "pending")
        rid = str(r["id"])
        # a policy refusal names the field and exits 8
        rc, out, err = self.cli("alice", "request", "orders-db", "write",
                                "--for", "9h", "--reason", "x", "--ticket", "OPS-1")
        self.assertEqual(rc, 8)
        self.assertIn("duration", err)
        self.assertIn("HTTP 400", err)
        self.assertEqual(self.cli("alice", "approve", rid)[0], 5)   # self
        self.assertEqual(self.cli("bob", "approve", rid, "--comment", "ok")[0], 0)
        self.assertEqual(self.cli("bob", "approve", rid)[0], 7)     # twice
        self.assertEqual(self.cli("alice", "check", "alice", "orders-db", "write")[0], 1)
        rc, out, _ = self.cli("carol", "approve", rid)
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"(?m)^state:\s+active$")
        self.assertRegex(out, r"(?m)^approvals:\s+2 of 2$")
        self.assertRegex(out, r"(?m)^  - bob at \S+Z: ok$")
        rc, out, _ = self.cli("alice", "check", "alice", "orders-db", "write")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("allowed (request %s, expires " % rid), out)
        rc, out, _ = self.cli("svc", "--json", "check", "alice", "orders-db", "write")
        self.assertEqual((rc, json.loads(out)["allowed"]), (0, True))
        self.assertEqual(self.cli("alice", "check", "bob", "orders-db", "write")[0], 5)
        rc, out, _ = self.cli("alice", "revoke", rid, "--reason", "done")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"(?m)^state:\s+revoked$")
        rc, out, _ = self.cli("alice", "check", "alice", "orders-db", "write")
        self.assertEqual((rc, out), (1, "denied\n"))
        self.assertEqual(self.cli("bob", "approve", rid)[0], 7)
        self.assertEqual(self.cli("alice", "show", "999999")[0], 6)

    def test_deny_cancel_review_extends(self):
        a = self.new_request("alice", "orders-db", "write", "--for", "30m",
                             "--reason", "a", "--ticket", "OPS-1")
        b = self.new_request("alice", "orders-db", "write", "--for", "30m",
                             "--reason", "b", "--ticket", "OPS-2")
        rc, out, _ = self.cli("carol", "--json", "deny", str(a["id"]), "--comment", "no")
        self.assertEqual((rc, json.loads(out)["state"]), (0, "denied"))
        rc, out, _ = self.cli("alice", "--json", "cancel", str(b["id"]))
        self.assertEqual((rc, json.loads(out)["state"]), (0, "canceled"))
        bg = self.new_request("alice", "orders-db", "write", "--for", "20m",
                              "--reason", "outage", "--break-glass")
        self.assertEqual((bg["state"], bg["review_required"]), ("active", True))
        rc, out, _ = self.cli("alice", "list", "--active")
        self.assertIn("active+bg!", out)
        rc, out, _ = self.cli("bob", "--json", "review", str(bg["id"]))
        self.assertEqual((rc, json.loads(out)["review_required"]), (0, False))
        base = self.new_request("alice", "orders-db", "read", "--for", "10m")
        ext = self.new_request("alice", "orders-db", "read", "--for", "10m",
                               "--extends", str(base["id"]))
        self.assertEqual(ext["extends"], base["id"])

    def test_list_pages_to_the_end_and_limit(self):
        for i in range(120):   # more than the server's default page of 50
            st, _ = self.srv.request("alice", "billing-api", "read", "5m",
                                     reason="r%d" % i)
            self.assertEqual(st, 201)
        rc, out, err = self.cli("alice", "list")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^ID +STATE +REQUESTER +RESOURCE +ROLE +DURATION +EXPIRES/PENDING-UNTIL +REASON$")
        self.assertEqual(len(lines), 121)
        ids = [int(l.split()[0]) for l in lines[1:]]
        self.assertEqual(ids, sorted(set(ids), reverse=True))
        rc, out, _ = self.cli("alice", "--json", "list", "--mine")
        doc = json.loads(out)
        self.assertEqual(len(doc["requests"]), 120)
        rc, out, _ = self.cli("alice", "list", "--limit", "7")
        self.assertEqual(len(out.splitlines()), 8)
        rc, out, _ = self.cli("bob", "list", "--approvable")
        self.assertEqual(len(out.splitlines()), 1)     # header only

    def test_audit_paging_export_and_offline_verify(self):
        for i in range(60):
            self.srv.request("alice", "billing-api", "read", "5m", reason="x")
        self.assertEqual(self.cli("alice", "audit")[0], 5)
        rc, out, _ = self.cli("erin", "audit")
        self.assertEqual(rc, 0)
        seqs = [int(l.split()[0]) for l in out.splitlines()]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
        self.assertGreater(len(seqs), 100)   # several server pages
        rc, out, _ = self.cli("erin", "--json", "audit", "--action", "request.created")
        evs = json.loads(out)["events"]
        self.assertEqual(len(evs), 60)
        rc, out, _ = self.cli("erin", "audit", "verify")
        self.assertEqual(rc, 0)
        count, head = out.split()[1], out.split()[-1]
        self.assertEqual(int(count), len(seqs))
        rc, export, _ = self.cli("erin", "audit", "export")
        self.assertEqual(rc, 0)
        path = os.path.join(self.srv.dir, "export.jsonl")
        with open(path, "w") as f:
            f.write(export)
        # offline: no token, no server
        rc, out, _ = self.srv.cli(["audit", "verify", path, "--head",
                                   "%s:%s" % (count, head)])
        self.assertEqual((rc, out), (0, "ok: %s events, head %s\n" % (count, head)))
        lines = export.splitlines(True)
        with open(path, "w") as f:
            f.write("".join(lines[:-1]))
        rc, out, _ = self.srv.cli(["audit", "verify", path, "--head",
                                   "%s:%s" % (count, head)])
        self.assertEqual(rc, 1)
        self.assertTrue(out.startswith("FAIL"), out)
        lines[2] = lines[2].replace('"alice"', '"mallory"', 1)
        rc, out, _ = self.srv.cli(["audit", "verify", "-"], input="".join(lines))
        self.assertEqual(rc, 1)
        self.assertTrue(out.startswith("FAIL at line 3 (seq 3)"), out)

    def test_audit_follow_sees_new_events(self):
        env = dict(os.environ, JITGATE_ADDR=self.srv.url,
                   JITGATE_TOKEN=USERS["erin"][0])
        p = subprocess.Popen([JITGATE, "audit", "--follow", "--action",
                              "request.created"], stdout=subprocess.PIPE,
                             text=True, env=env)
        try:
            st, r = self.srv.request("alice", "billing-api", "read", "5m")
            self.assertEqual(st, 201)
            line = p.stdout.readline()
            self.assertIn("request.created", line)
            self.assertIn("request_id=%d" % r["id"], line)
        finally:
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(timeout=10), 0)

    def test_errors_and_usage(self):
        rc, out, err = self.srv.cli(["whoami"])
        self.assertEqual(rc, 2)
        self.assertIn("JITGATE_TOKEN", err)
        rc, out, err = self.srv.cli(["whoami"], bearer="not-a-known-token")
        self.assertEqual(rc, 4)
        self.assertNotIn("not-a-known-token", out + err)
        rc, out, _ = self.cli("alice", "whoami")
        self.assertEqual(out, "subject:          alice\ngroups:           engineering\n")
        for args in (["list", "--bogus"], ["approve", "0"], ["request", "a", "b"],
                     ["request", "a", "b", "--for"], ["show"], ["frob"]):
            self.assertEqual(self.cli("alice", *args)[0], 2, args)
        self.srv.stop()
        self.assertEqual(self.cli("alice", "whoami")[0], 3)

    def test_token_new_is_accepted_by_the_server(self):
        rc, out, _ = self.srv.cli(["token", "new"])
        self.assertEqual(rc, 0)
        tok, line = out.splitlines()
        self.assertTrue(line.startswith("token_sha256: "))
        self.srv.stop()
        text = base_config().replace(
            "identities:\n",
            "identities:\n  - subject: newsvc\n    groups: []\n    %s\n" % line, 1)
        self.srv = Server(text)
        rc, out, _ = self.srv.cli(["whoami"], bearer=tok)
        self.assertEqual(rc, 0)
        self.assertIn("newsvc", out)


if __name__ == "__main__":
    run(CliTest)
