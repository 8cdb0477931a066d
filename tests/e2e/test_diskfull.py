"""A restart while the store's disk is full (design §9, issue 7 item 7):
a real tmpfs of 4 MiB holding the SQLite store, filled to the last byte
with a file.  jitgate must start degraded — grants recovered from the
store, checks answered, writes 503, /readyz 503 with the reason — and
recover by itself when the file is removed: config.loaded and the expiry
that came due while it was down are written then, with the real end
time.  Needs root (mount), like the gateway tests' network namespace."""
import datetime
import os
import subprocess
import tempfile
import unittest

from harness import JITGATE, Server, base_config, run, wait_for


class DiskFullTest(unittest.TestCase):
    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="jg-full-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", self.mnt],
                       check=True)
        self.fill = os.path.join(self.mnt, "fill")
        self.srv = None

    def tearDown(self):
        if self.srv:
            self.srv.stop()
        subprocess.run(["umount", self.mnt], check=False)
        os.rmdir(self.mnt)

    def fill_disk(self):
        fd = os.open(self.fill, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        self.assertEqual(os.statvfs(self.mnt).f_bavail, 0)

    def start_without_waiting_for_ready(self):
        s = self.srv
        s.log = open(s.log_path, "ab")
        s.proc = subprocess.Popen([JITGATE, "serve", "-c", s.config_path], stdout=s.log,
                                  stderr=subprocess.STDOUT, env=s.env, cwd=s.dir)
        wait_for(lambda: s.proc.poll() is not None or self.healthz() == 200,
                 timeout=30, what="healthz")
        self.assertIsNone(s.proc.poll(), s.logs())

    def healthz(self):
        try:
            return self.srv.http("GET", "/healthz")[0]
        except OSError:
            return None

    def test_restart_on_a_full_disk_starts_degraded_and_recovers(self):
        d = os.path.join(self.mnt, "jg")
        os.mkdir(d)
        s = self.srv = Server(base_config(), workdir=d)
        st, long_grant = s.request("alice", "orders-db", "read", "1h")
        self.assertEqual(st, 201)
        st, short = s.request("alice", "billing-api", "read", "1s")
        self.assertEqual((st, short["state"]), (201, "active"))
        st, pending = s.request("alice", "orders-db", "write", "30m", reason="x",
                                ticket="OPS-1")
        self.assertEqual((st, pending["state"]), (201, "pending"))
        before = s.audit_events()
        self.assertEqual(s.stop(), 0)
        # the short grant ends while jitgate is down
        end = datetime.datetime.fromisoformat(short["expires_at"].replace("Z", "+00:00"))
        wait_for(lambda: datetime.datetime.now(datetime.timezone.utc) > end,
                 timeout=30, what="the short grant's end")
        self.fill_disk()

        self.start_without_waiting_for_ready()
        st, text = s.http("GET", "/readyz")
        self.assertEqual(st, 503)
        self.assertIn("not ready: the store is not writable", text)
        # checks from the recovered state
        st, c = s.check("alice", "orders-db", "read")
        self.assertEqual(st, 200, c)
        self.assertTrue(c["allowed"])
        self.assertEqual(c["request_id"], long_grant["id"])
        # the expired one is not allowed (the denial cannot be audited: 503)
        st, c = s.check("alice", "billing-api", "read")
        self.assertNotEqual((st, c.get("allowed") if isinstance(c, dict) else None),
                            (200, True))
        # reads work; writes are refused and change nothing
        st, r = s.http("GET", "/v1/requests/%d" % pending["id"], "alice")
        self.assertEqual((st, r["state"]), (200, "pending"))
        st, e = s.request("erik", "orders-db", "read", "1h")
        self.assertEqual(st, 503, e)
        st, e = s.act("bob", pending["id"], "approve")
        self.assertEqual(st, 503, e)
        self.assertEqual(s.audit_events(), before)
        self.assertIn("started degraded", s.logs())

        # space returns: it recovers by itself
        os.unlink(self.fill)
        wait_for(lambda: s.http("GET", "/readyz")[0] == 200, timeout=30,
                 what="ready after space returned")
        after = s.audit_events()
        self.assertEqual(after[:len(before)], before)
        new = after[len(before):]
        self.assertEqual([e["action"] for e in new], ["config.loaded", "request.expired"])
        self.assertEqual(new[1]["request_id"], short["id"])
        st, r = s.http("GET", "/v1/requests/%d" % short["id"], "alice")
        # ended at its real deadline, not when the store came back
        self.assertEqual((r["state"], r["ended_at"]), ("expired", short["expires_at"]))
        st, r = s.request("erik", "orders-db", "read", "1h")
        self.assertEqual(st, 201, r)
        st, v = s.http("GET", "/v1/audit/verify", "erin")
        self.assertTrue(v["ok"], v)
        self.assertEqual(s.stop(), 0, s.logs())  # clean exit (sanitizers too)

    def test_first_start_on_a_full_disk_fails(self):
        """No store yet: nothing to recover from, so no degraded start."""
        d = os.path.join(self.mnt, "jg")
        os.mkdir(d)
        s = self.srv = Server(base_config(), workdir=d, start=False)
        self.fill_disk()
        p = subprocess.run([JITGATE, "serve", "-c", s.config_path], cwd=d,
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot open the store", p.stdout + p.stderr)


if __name__ == "__main__":
    run(DiskFullTest)
