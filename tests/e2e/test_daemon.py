"""Running jitgate as a daemon: systemd's readiness protocol (a real
NOTIFY_SOCKET datagram socket, as systemd provides), `jitgate version`, and
`cmake --install` (binary, example config that validates, a systemd unit
that systemd-analyze accepts, the sysusers entry, docs)."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import unittest
import urllib.request

from harness import JITGATE, SOURCE_DIR, Server, base_config, free_port, run, wait_for

BUILD_DIR = os.environ.get("JG_BUILD_DIR") or os.path.dirname(JITGATE)


class Notify:
    """The systemd side: a datagram socket whose address goes into
    NOTIFY_SOCKET (a path, or '@name' in the abstract namespace)."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "jg-notify-%d-%d" % (os.getpid(), free_port())
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            self.dir = tempfile.mkdtemp(prefix="jg-notify-")
            self.env = os.path.join(self.dir, "notify")
            self.sock.bind(self.env)
        self.sock.settimeout(60)  # only catches a hang

    def next(self):
        return self.sock.recv(4096).decode()

    def close(self):
        self.sock.close()


class SdNotifyTest(unittest.TestCase):
    def run_daemon(self, abstract):
        gw = free_port()
        n = Notify(abstract)
        srv = Server(base_config(extra="gateway:\n  postgres_listen: 127.0.0.1:%d\n" % gw),
                     env={"NOTIFY_SOCKET": n.env}, start=False)
        srv.log = open(srv.log_path, "ab")
        srv.proc = subprocess.Popen([JITGATE, "serve", "-c", srv.config_path],
                                    stdout=srv.log, stderr=subprocess.STDOUT,
                                    env=srv.env, cwd=srv.dir)
        try:
            self.assertEqual(n.next(), "READY=1")
            # READY=1 means every listener is up: no retry, no polling
            with urllib.request.urlopen(srv.url + "/readyz", timeout=10) as r:
                self.assertEqual(r.status, 200)
            socket.create_connection(("127.0.0.1", gw), timeout=10).close()
            srv.sighup()
            self.assertEqual(n.next(), "RELOADING=1")
            self.assertEqual(n.next(), "READY=1")
            srv.proc.send_signal(signal.SIGTERM)
            self.assertEqual(n.next(), "STOPPING=1")
            self.assertEqual(srv.proc.wait(timeout=60), 0)
        finally:
            srv.stop()
            n.close()

    def test_ready_reload_stopping_path_socket(self):
        self.run_daemon(abstract=False)

    def test_ready_reload_stopping_abstract_socket(self):
        self.run_daemon(abstract=True)

    def test_failed_start_never_says_ready(self):
        n = Notify()
        hold = socket.socket()
        hold.bind(("127.0.0.1", 0))
        hold.listen(1)
        srv = Server(base_config(), env={"NOTIFY_SOCKET": n.env}, start=False)
        srv.write_config(base_config().replace("{LISTEN}", "127.0.0.1:%d" %
                                               hold.getsockname()[1]))
        try:
            p = subprocess.run([JITGATE, "serve", "-c", srv.config_path], env=srv.env,
                               cwd=srv.dir, capture_output=True, text=True, timeout=60)
            self.assertNotEqual(p.returncode, 0)
            n.sock.setblocking(False)
            with self.assertRaises(BlockingIOError):
                n.sock.recv(4096)
        finally:
            hold.close()
            n.close()

    def test_no_notify_socket_is_fine(self):
        srv = Server(base_config(), env={"NOTIFY_SOCKET": ""})
        self.assertEqual(srv.stop(), 0)


class VersionTest(unittest.TestCase):
    def test_version(self):
        p = subprocess.run([JITGATE, "version"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        m = re.fullmatch(r"jitgate (\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}(-dirty)?|unknown), "
                         r"(\w+) build\)\n", p.stdout)
        self.assertIsNotNone(m, p.stdout)
        with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
            want = re.search(r"project\(jitgate VERSION (\S+)", f.read()).group(1)
        self.assertEqual(m.group(1), want)
        # the commit the binary was built from is one of this repository's
        # (HEAD itself only if nothing was committed since the build)
        if m.group(2) != "unknown":
            known = subprocess.run(["git", "-C", SOURCE_DIR, "cat-file", "-e",
                                    m.group(2)[:12] + "^{commit}"], capture_output=True)
            self.assertEqual(known.returncode, 0, m.group(2))
        p = subprocess.run([JITGATE, "--version"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith("jitgate "))


class InstallTest(unittest.TestCase):
    def test_install_tree(self):
        prefix = tempfile.mkdtemp(prefix="jg-install-")
        try:
            subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", prefix],
                           check=True, capture_output=True)
            binary = os.path.join(prefix, "bin", "jitgate")
            example = os.path.join(prefix, "etc", "jitgate", "jitgate.yaml.example")
            unit = os.path.join(prefix, "lib", "systemd", "system", "jitgate.service")
            sysusers = os.path.join(prefix, "lib", "sysusers.d", "jitgate.conf")
            docs = os.path.join(prefix, "share", "doc", "jitgate")
            for path in (binary, example, unit, sysusers,
                         os.path.join(docs, "operations.md"),
                         os.path.join(docs, "configuration.md")):
                self.assertTrue(os.path.exists(path), path)
            self.assertTrue(os.access(binary, os.X_OK))
            p = subprocess.run([binary, "check-config", "-c", example],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            with open(unit) as f:
                text = f.read()
            # the unit names the configured prefix (--prefix only stages)
            with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
                configured = re.search(r"(?m)^CMAKE_INSTALL_PREFIX:PATH=(.*)$",
                                       f.read()).group(1)
            for line in ("Type=notify", "ProtectSystem=strict", "NoNewPrivileges=yes",
                         "User=jitgate", "StateDirectory=jitgate",
                         "ExecStart=%s/bin/jitgate serve -c /etc/jitgate/jitgate.yaml"
                         % configured,
                         "ExecReload=/bin/kill -HUP $MAINPID"):
                self.assertIn("\n" + line + "\n", text)
            self.assertNotRegex(text, r"@[A-Z_]+@")  # all substituted
            with open(sysusers) as f:
                self.assertRegex(f.read(), r"(?m)^u jitgate ")
            if shutil.which("systemd-analyze"):
                # the unit as systemd reads it, pointed at the staged binary
                staged = os.path.join(prefix, "jitgate.service")
                with open(staged, "w") as f:
                    f.write(text.replace(configured + "/bin/jitgate", binary))
                v = subprocess.run(["systemd-analyze", "verify", staged],
                                   capture_output=True, text=True)
                out = v.stdout + v.stderr
                errors = [l for l in out.splitlines() if "jitgate.service" in l]
                self.assertEqual(errors, [], out)
        finally:
            shutil.rmtree(prefix)


class BackupTest(unittest.TestCase):
    """docs/operations.md: an online backup while jitgate writes, checked
    offline and served.  SQLite: its backup API (what `sqlite3 DB .backup
    FILE` does), in several steps with writes in between; PostgreSQL:
    pg_dump, loaded into an empty database (harness backup_store /
    restore_store)."""

    def test_online_backup_verifies_and_serves(self):
        srv = Server(base_config())
        stop = threading.Event()
        errors = []

        def write():
            while not stop.is_set():
                st, body = srv.request("alice", "orders-db", "read", "1h")
                if st != 201:
                    errors.append((st, body))

        t = threading.Thread(target=write)
        t.start()
        try:
            wait_for(lambda: len(srv.audit_events()) >= 20, timeout=60,
                     what="20 events written")
            backup = os.path.join(srv.dir, "backup")
            srv.backup_store(backup)
        finally:
            stop.set()
            t.join()
        self.assertEqual(errors, [])
        srv.stop()
        # the restored copy, checked without a daemon: its chain verifies
        restored = Server(base_config(), start=False)
        restored.restore_store(backup)
        rows = restored.store_rows("SELECT event FROM audit ORDER BY seq")
        self.assertGreaterEqual(len(rows), 20)
        v = subprocess.run([JITGATE, "audit", "verify", "-"], capture_output=True, text=True,
                           input="".join(r[0] + "\n" for r in rows))
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertIn("%d events" % len(rows), v.stdout + v.stderr)
        # and it serves, with the chain it had
        restored.start()
        try:
            events = restored.audit_events()
            self.assertEqual(len(events), len(rows) + 1)  # + config.loaded
            self.assertEqual(events[-1]["action"], "config.loaded")
            st, body = restored.http("GET", "/v1/audit/verify", "erin")
            self.assertEqual(st, 200, body)
            self.assertTrue(body["ok"], body)
            # new writes go on after the restored ones
            st, r = restored.request("erik", "orders-db", "read", "1h")
            self.assertEqual(st, 201, r)
        finally:
            restored.stop()


if __name__ == "__main__":
    run(SdNotifyTest, VersionTest, InstallTest, BackupTest)
