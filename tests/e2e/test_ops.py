"""Operations against the real daemon: one daemon per store and per
address, failed starts that exit at once and write nothing, the one
validation check-config and serve share (IPv6 listeners, host names
refused, secrets in URLs never echoed), and restarts."""
import json
import os
import signal
import socket
import subprocess
import threading
import unittest

from harness import JITGATE, Server, base_config, free_port, run

GATEWAY = "gateway:\n  postgres_listen: 127.0.0.1:{GWPORT}\n"


def serve(config_path, cwd, env=None, timeout=60):
    """Runs a `jitgate serve` that is expected to fail; returns
    (exit code, output).  env: a Server's (the PostgreSQL store's password
    is in it).  The timeout only catches a hang."""
    p = subprocess.run([JITGATE, "serve", "-c", config_path], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def check_config(config_path):
    p = subprocess.run([JITGATE, "check-config", "-c", config_path],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def file_state(path):
    try:
        st = os.stat(path)
        with open(path, "rb") as f:
            return st.st_size, f.read()
    except FileNotFoundError:
        return None


class SingleInstanceTest(unittest.TestCase):
    def setUp(self):
        self.gwport = free_port()
        self.srv = Server(base_config(extra=GATEWAY.replace("{GWPORT}", str(self.gwport))))

    def tearDown(self):
        self.srv.stop()

    def chain(self):
        return self.srv.audit_events()

    def test_second_daemon_on_the_same_config_exits_and_writes_nothing(self):
        before = self.chain()
        self.assertEqual([e["action"] for e in before].count("config.loaded"), 1)
        db_before = file_state(self.srv.db)
        rc, out = serve(self.srv.config_path, self.srv.dir, self.srv.env)
        self.assertNotEqual(rc, 0, out)
        if self.srv.store_db is None:
            self.assertIn(self.srv.db + ".lock", out)
            self.assertIn("locked by another jitgate (pid %d)" % self.srv.proc.pid, out)
        else:
            # PostgreSQL: nodes share a store (design section 12), so it
            # has no lock; the second stops at the address the first holds
            self.assertIn("cannot listen on 127.0.0.1:%d: bind: Address already in use"
                          % self.srv.port, out)
        # nothing appended to the live chain, the file (SQLite) untouched
        self.assertEqual(self.chain(), before)
        self.assertEqual(file_state(self.srv.db), db_before)
        # the first daemon still serves, and alone
        st, body = self.srv.check("alice", "orders-db", "read")
        self.assertEqual(st, 200, body)

    def second(self, listen_port, gwport, name):
        """A second daemon's config (not started) on a store of its own."""
        d = os.path.join(self.srv.dir, name)
        os.mkdir(d)
        s = Server(base_config(), workdir=d, start=False)
        s.port = listen_port
        s.write_config(base_config(extra=GATEWAY.replace("{GWPORT}", str(gwport))))
        return s

    def test_http_address_taken_names_it_and_creates_no_store(self):
        s = self.second(self.srv.port, free_port(), "b")
        rc, out = serve(s.config_path, s.dir, s.env)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("cannot listen on 127.0.0.1:%d: bind: Address already in use"
                      % self.srv.port, out)
        self.assertFalse(s.store_exists())

    def test_gateway_address_taken_names_it_and_creates_no_store(self):
        s = self.second(free_port(), self.gwport, "c")
        rc, out = serve(s.config_path, s.dir, s.env)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("postgres_listen cannot listen on 127.0.0.1:%d: bind: "
                      "Address already in use" % self.gwport, out)
        self.assertFalse(s.store_exists())

    def test_port_held_by_another_program(self):
        """Any program's socket, not only a jitgate, keeps us from binding
        (before this change MHD set SO_REUSEPORT and a second listener
        started)."""
        hold = socket.socket()
        hold.bind(("127.0.0.1", 0))
        hold.listen(1)
        try:
            s = self.second(hold.getsockname()[1], free_port(), "d")
            rc, out = serve(s.config_path, s.dir, s.env)
        finally:
            hold.close()
        self.assertNotEqual(rc, 0, out)
        self.assertIn("Address already in use", out)

    def test_restart_right_after_stop_with_clients_connected(self):
        """The old daemon closed its clients' connections (TIME_WAIT on
        our side): SO_REUSEADDR lets the new one bind at once, which
        SO_REUSEPORT-free binding still allows."""
        c1 = socket.create_connection(("127.0.0.1", self.srv.port))
        c2 = socket.create_connection(("127.0.0.1", self.gwport))
        c1.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        c1.recv(4096)
        self.assertEqual(self.srv.stop(), 0)
        c1.close()
        c2.close()
        self.srv.start()
        st, _ = self.srv.http("GET", "/healthz")
        self.assertEqual(st, 200)


class FailedStartTest(unittest.TestCase):
    def test_every_failed_start_exits_nonzero(self):
        srv = Server(base_config(), start=False)
        # a store that cannot be opened (harness: a directory where the
        # SQLite file goes; a PostgreSQL database refusing connections)
        srv.make_store_unopenable()
        rc, out = serve(srv.config_path, srv.dir, srv.env)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("cannot open the store", out)
        srv.make_store_unopenable(False)
        # the gateway configured and the HTTP port taken (this used to hang)
        hold = socket.socket()
        hold.bind(("127.0.0.1", srv.port))
        hold.listen(1)
        try:
            srv.write_config(base_config(extra=GATEWAY.replace("{GWPORT}",
                                                               str(free_port()))))
            rc, out = serve(srv.config_path, srv.dir, srv.env)
        finally:
            hold.close()
        self.assertNotEqual(rc, 0, out)
        self.assertIn("cannot listen on 127.0.0.1:%d" % srv.port, out)
        self.assertFalse(srv.store_exists())

    def test_help_exits_zero(self):
        for cmd in (["serve", "--help"], ["check-config", "--help"], ["serve", "-h"],
                    ["--help"]):
            p = subprocess.run([JITGATE] + cmd, capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, (cmd, p.stderr))
            self.assertIn("usage: jitgate", p.stdout)
        p = subprocess.run([JITGATE, "serve", "-c", "x", "--bogus"], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--bogus", p.stderr)


class OneValidationTest(unittest.TestCase):
    """check-config accepts exactly what serve accepts."""

    def verdicts(self, extra_top, extra=""):
        srv = Server(base_config(extra=extra), start=False)
        with open(srv.config_path) as f:
            text = f.read()
        write(srv.config_path, extra_top + text)
        crc, cout = check_config(srv.config_path)
        try:
            srv.start()
            started, sout = True, srv.logs()
        except RuntimeError as e:
            started, sout = False, str(e)
        finally:
            srv.stop()
        return srv, crc, cout, started, sout

    def test_refused_by_both(self):
        cases = [
            # host names where an address is needed
            ("", "gateway:\n  postgres_listen: db.example:6432\n", "is not ADDRESS:PORT"),
            ("", "gateway:\n  postgres_listen: localhost:6432\n", "is not ADDRESS:PORT"),
            # an IdP URL the daemon would never fetch
            ("", "oidc:\n  issuer: http://idp.example\n  audience: jitgate\n",
             "oidc.issuer must be an https:// URL"),
            # a gateway certificate that does not load
            ("", "gateway:\n  postgres_listen: 127.0.0.1:%d\n  tls: {cert: /nonexistent.pem,"
             " key: /nonexistent.key}\n" % free_port(), "gateway.tls"),
        ]
        for top, extra, want in cases:
            with self.subTest(want=want, extra=extra):
                srv, crc, cout, started, sout = self.verdicts(top, extra)
                self.assertEqual(crc, 1, cout)
                self.assertFalse(started, sout)
                self.assertIn(want, cout)
                self.assertIn(want, sout)

    def test_storage_url_password_never_echoed(self):
        """A postgresql:// storage whose server cannot be reached (port 1):
        serve fails; neither it nor check-config prints the password, and
        when check-config refuses the URL (a build without that backend)
        serve refuses it with the same words."""
        srv = Server(base_config(), start=False)
        with open(srv.config_path) as f:
            text = f.read()
        text = "\n".join(l for l in text.splitlines() if not l.startswith("storage:"))
        write(srv.config_path, text + "\nstorage: postgresql://jit:SECRETPW@127.0.0.1:1/jg"
              "?password=SECRETPW\n")
        crc, cout = check_config(srv.config_path)
        src, sout = serve(srv.config_path, srv.dir)
        self.assertNotEqual(src, 0, sout)
        self.assertNotIn("SECRETPW", cout + sout)
        if crc != 0:
            self.assertIn("storage", cout)
            self.assertIn(cout.strip().split(": ", 1)[1], sout)

    def test_listen_and_gateway_on_one_port(self):
        srv = Server(base_config(), start=False)
        with open(srv.config_path) as f:
            text = f.read()
        write(srv.config_path, text + "gateway:\n  postgres_listen: 0.0.0.0:%d\n" % srv.port)
        crc, cout = check_config(srv.config_path)
        src, sout = serve(srv.config_path, srv.dir)
        self.assertEqual(crc, 1, cout)
        self.assertNotEqual(src, 0, sout)
        self.assertIn("takes the port of listen", cout)
        self.assertIn("takes the port of listen", sout)

    def test_ipv6_listeners_accepted_by_both_and_served(self):
        port, gwport = free_port(), free_port()
        srv = Server(base_config(extra="gateway:\n  postgres_listen: '[::1]:%d'\n" % gwport),
                     start=False)
        with open(srv.config_path) as f:
            text = f.read()
        write(srv.config_path, text.replace("listen: 127.0.0.1:%d" % srv.port,
                                            "listen: '[::1]:%d'" % port, 1))
        crc, cout = check_config(srv.config_path)
        self.assertEqual(crc, 0, cout)
        srv.url = "http://[::1]:%d" % port
        srv.start()
        try:
            st, body = srv.http("GET", "/healthz")
            self.assertEqual(st, 200, body)
            socket.create_connection(("::1", gwport)).close()
            # IPV6_V6ONLY: nothing listens on the IPv4 side of that port
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port)).close()
        finally:
            srv.stop()


class CliOpsTest(unittest.TestCase):
    """What an operator trips on with the CLI."""

    def setUp(self):
        self.srv = Server(base_config())

    def tearDown(self):
        self.srv.stop()

    def test_help_exits_zero_for_every_subcommand(self):
        subs = ["serve", "check-config", "version", "login", "logout", "catalog",
                "request", "approve", "deny", "cancel", "revoke", "review", "show",
                "list", "check", "whoami", "audit", "audit export", "audit verify",
                "audit replay", "token", "token new", "token verify", "policy",
                "policy test", "policy explain", "policy matrix", "policy diff",
                "policy lint", "selftest"]
        for sub in subs:
            with self.subTest(sub=sub):
                p = subprocess.run([JITGATE] + sub.split() + ["--help"],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("usage", (p.stdout + p.stderr).lower())

    def test_unknown_audit_action_is_a_usage_error(self):
        rc, out, err = self.srv.cli(["audit", "--action", "request.creatd"], who="erin")
        self.assertEqual(rc, 2, err)
        self.assertEqual(out, "")
        self.assertIn("unknown action", err)
        for a in ("request.created", "session.query", "config.loaded"):
            self.assertIn(a, err)
        rc, out, err = self.srv.cli(["audit", "--action", "config.loaded", "--json"],
                                    who="erin")
        self.assertEqual(rc, 0, err)
        self.assertEqual([e["action"] for e in json.loads(out)["events"]],
                         ["config.loaded"])

    def test_verify_json_same_shape_offline_and_online(self):
        self.srv.request("alice", "orders-db", "read", "1h")
        rc, online, err = self.srv.cli(["audit", "verify", "--json"], who="erin")
        self.assertEqual(rc, 0, err)
        export = self.srv.cli(["audit", "export"], who="erin")[1]
        rc, offline, err = self.srv.cli(["audit", "verify", "-", "--json"], input=export)
        self.assertEqual(rc, 0, err)
        on, off = json.loads(online), json.loads(offline)
        self.assertEqual(list(on), ["ok", "count", "head_seq", "head", "bad_seq",
                                    "bad_line", "reason"])
        self.assertEqual(on, off)
        self.assertEqual(on["count"], len(export.splitlines()))
        self.assertEqual(on["count"], 3)  # config.loaded, created, activated
        self.assertIsNone(on["reason"])
        # a broken export: the failure members are filled in, same keys
        lines = export.splitlines()
        bad = "\n".join([lines[0].replace("config.loaded", "config.loadex")] +
                        lines[1:]) + "\n"
        rc, broken, err = self.srv.cli(["audit", "verify", "-", "--json"], input=bad)
        self.assertEqual(rc, 1, err)
        b = json.loads(broken)
        self.assertEqual(list(b), list(on))
        self.assertEqual((b["ok"], b["bad_seq"], b["bad_line"]), (False, 1, 1))
        self.assertIsInstance(b["reason"], str)

    def test_follow_survives_a_restart(self):
        env = dict(self.srv.env, JITGATE_ADDR=self.srv.url,
                   JITGATE_TOKEN="tok-erin-0123456789")
        p = subprocess.Popen([JITGATE, "audit", "--follow", "--json"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        got = threading.Condition()

        def read():
            for line in p.stdout:
                with got:
                    lines.append(json.loads(line))
                    got.notify_all()

        errs = []

        def read_err():
            for line in p.stderr:
                with got:
                    errs.append(line)
                    got.notify_all()

        t = threading.Thread(target=read)
        t.start()
        te = threading.Thread(target=read_err)
        te.start()

        def wait_actions(n):
            with got:
                self.assertTrue(got.wait_for(lambda: len(lines) >= n, timeout=60),
                                lines)

        try:
            wait_actions(1)                     # config.loaded
            self.srv.request("alice", "orders-db", "read", "1h")
            wait_actions(3)
            self.srv.stop()
            with got:                           # it noticed: now come back
                self.assertTrue(got.wait_for(
                    lambda: any("lost the server" in e for e in errs), timeout=60), errs)
            self.srv.start()                    # same port, same store
            self.srv.request("alice", "billing-api", "read", "1h")
            wait_actions(6)                     # config.loaded, created, activated
            self.assertIsNone(p.poll())
        finally:
            p.send_signal(signal.SIGINT)
            rc = p.wait(timeout=60)
            t.join()
            te.join()
        err = "".join(errs)
        self.assertEqual(rc, 0, err)
        self.assertIn("lost the server; retrying", err)
        self.assertIn("reconnected", err)
        seqs = [e["seq"] for e in lines]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))  # no gap, no repeat
        self.assertEqual([e["action"] for e in lines[:6]],
                         ["config.loaded", "request.created", "request.activated"] * 2)

    def test_password_in_jitgate_addr_never_echoed(self):
        env = dict(self.srv.env, JITGATE_ADDR="http://user:SECRETPW@127.0.0.1:1",
                   JITGATE_TOKEN="x")
        p = subprocess.run([JITGATE, "whoami"], env=env, capture_output=True, text=True)
        self.assertEqual(p.returncode, 3)
        self.assertIn("cannot reach http://127.0.0.1:1", p.stderr)
        self.assertNotIn("SECRETPW", p.stdout + p.stderr)


if __name__ == "__main__":
    run(SingleInstanceTest, FailedStartTest, OneValidationTest, CliOpsTest)
