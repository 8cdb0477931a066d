"""End-to-end harness: runs the real `jitgate serve` and the real CLI.

Every test gets its own temporary directory, config, SQLite file and port.
With JITGATE_TEST_STORAGE=postgresql every Server stores in a fresh
database of one PostgreSQL cluster that the test process starts (and stops
at exit) instead; the password reaches the daemon through PGPASSWORD.
Only the Python standard library is used, so the suite needs nothing from
PyPI.  Typical use:

    from harness import Server, base_config
    srv = Server(base_config())
    st, body = srv.http("POST", "/v1/requests", "alice", {...})
    srv.stop()
"""
import atexit
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

JITGATE = os.environ.get("JITGATE_BIN") or os.path.join(
    os.environ.get("JG_BUILD_DIR", "build"), "jitgate")
SOURCE_DIR = os.environ.get(
    "JG_SOURCE_DIR",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

# Static test identities: name -> (token, groups)
USERS = {
    "alice": ("tok-alice-0123456789", ["engineering"]),
    "erik": ("tok-erik-0123456789", ["engineering"]),
    "bob": ("tok-bob-0123456789", ["sre"]),
    "carol": ("tok-carol-0123456789", ["sre"]),
    "sam": ("tok-sam-0123456789", ["sre", "engineering"]),
    "dave": ("tok-dave-0123456789", ["security"]),
    "erin": ("tok-erin-0123456789", ["audit"]),
    "svc": ("tok-svc-0123456789", []),
    "mallory": ("tok-mallory-0123456789", ["contractors"]),
}


def sha256_hex(s):
    return hashlib.sha256(s.encode()).hexdigest()


def token(name):
    return USERS[name][0]


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A port for a listener, below the ephemeral range: a port the kernel
    hands out for bind(0) is also where client sockets of tests running in
    parallel get their local ports, and a daemon binding it a moment later
    (0.0.0.0 in particular) found it taken ("Address already in use")."""
    low = _ephemeral_low()
    for _ in range(1000):
        port = random.randint(10000, low - 1) if low > 10001 else 0
        try:
            with socket.socket() as s:
                s.bind(("0.0.0.0", port))
                return s.getsockname()[1]
        except OSError:
            continue
    raise RuntimeError("no free port")


STORAGE = os.environ.get("JITGATE_TEST_STORAGE", "sqlite")
if STORAGE not in ("sqlite", "postgresql"):
    raise SystemExit("JITGATE_TEST_STORAGE must be sqlite or postgresql")
_store_cluster = None


def store_cluster():
    """The PostgreSQL cluster of this test process (started on first use)."""
    global _store_cluster
    if _store_cluster is None:
        from pgcluster import PgCluster
        _store_cluster = PgCluster(free_port())
        _store_cluster.start()
        atexit.register(_store_cluster.stop)
    return _store_cluster


def fresh_storage(workdir):
    """(storage URL, PostgreSQL database name or None) of a new, empty
    store: a SQLite file in workdir, or a fresh database of this process's
    cluster."""
    if STORAGE == "postgresql":
        pg = store_cluster()
        db = pg.new_store_db()
        return pg.store_url(db, password=False), db
    return "sqlite:" + os.path.join(workdir, "jitgate.db"), None


class StoreLock:
    """Another session holds the store's write lock until release(): every
    transition's commit waits for it and fails after the store's wait
    (SQLite: its 5 s busy timeout on the whole file; PostgreSQL: half of
    stale_after, 2-10 s, on the audit chain, which every transition and
    every audited check appends to).  Reads go on."""

    def __init__(self, server):
        self.db = None
        self.psql = None
        if server.store_db is None:
            import sqlite3
            self.db = sqlite3.connect(server.db, isolation_level=None, timeout=10)
            self.db.execute("BEGIN EXCLUSIVE")
            return
        self.psql = store_cluster().session(server.store_db)
        self.psql.stdin.write("BEGIN;\nLOCK TABLE audit, audit_head IN EXCLUSIVE MODE;\n"
                              "\\echo locked\n")
        line = self.psql.stdout.readline()
        if line.strip() != "locked":
            raise AssertionError("could not lock the store: " + line +
                                 self.psql.communicate(timeout=10)[0])

    def release(self):
        if self.db is not None:
            self.db.rollback()
            self.db.close()
            self.db = None
        if self.psql is not None:
            out = self.psql.communicate("ROLLBACK;\n", timeout=30)[0]
            if self.psql.returncode != 0:
                raise AssertionError("psql holding the lock failed: " + out)
            self.psql = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def identities_yaml(users=USERS):
    out = ["identities:"]
    for name, (tok, groups) in users.items():
        out.append("  - subject: %s" % name)
        out.append("    groups: [%s]" % ", ".join(groups))
        out.append("    token_sha256: %s" % sha256_hex(tok))
    return "\n".join(out) + "\n"


DEFAULT_RESOURCES = """\
resources:
  - name: orders-db
    kind: generic
    roles: {read: {}, write: {}, admin: {}}
  - name: billing-api
    kind: generic
    roles: {read: {}, admin: {}}
  - name: prod-payments
    kind: generic
    roles: {read: {}, write: {}}
"""

DEFAULT_POLICIES = """\
policies:
  - name: engineers-read
    requesters: [group:engineering]
    resources: [orders-db, billing-api]
    roles: [read]
    max_duration: 4h
    approvals: 0
  - name: prod-write
    requesters: [group:engineering]
    resources: ["*"]
    roles: [write, admin]
    max_duration: 1h
    approvals: 2
    approvers: [group:sre, user:carol]
    allow_self_approval: false
    require_reason: true
    ticket_pattern: "^OPS-[0-9]+$"
    break_glass: {max_duration: 30m}
  - name: prod-read-selfapprove
    requesters: [group:sre]
    resources: ["prod-*"]
    roles: [read]
    max_duration: 2h
    approvals: 1
    approvers: [group:sre]
    allow_self_approval: true
"""


# A policy the default config lacks (mallory, in contractors, may request
# orders-db read), for tests that reload into it.
CONTRACTORS_READ = """\
policies:
  - name: contractors-read
    requesters: [group:contractors]
    resources: [orders-db]
    roles: [read]
    max_duration: 10m
    approvals: 0
"""


def base_config(pending_ttl="1h", resources=DEFAULT_RESOURCES,
                policies=DEFAULT_POLICIES, extra="", users=USERS, checkers="user:svc"):
    """The config text most tests use; LISTEN and STORAGE are filled in by
    Server.  users: the static identities (name -> (token, groups))."""
    return ("listen: {LISTEN}\nstorage: {STORAGE}\npending_ttl: %s\n"
            "admins: [group:security]\nauditors: [group:audit]\n"
            "checkers: [%s]\n" % (pending_ttl, checkers)
            + identities_yaml(users) + resources + policies + extra)


def gateway_config(pgport, gwport, listen_host="127.0.0.1", tls=None, limits=""):
    """A daemon with the PostgreSQL gateway in front of the test cluster
    (tests/e2e/pgcluster.py) with query audit on; tls is (cert, key),
    limits the body of a limits: section."""
    tls_line = ("  tls: {cert: %s, key: %s}\n" % tls) if tls else ""
    limits = ("limits:\n" + limits) if limits else ""
    return ("listen: {LISTEN}\nstorage: {STORAGE}\npending_ttl: 1h\n"
            "admins: [group:security]\nauditors: [group:audit]\n"
            "checkers: [user:svc]\n" + identities_yaml() + f"""
gateway:
  postgres_listen: {listen_host}:{gwport}
{tls_line}resources:
  - name: orders-db
    kind: postgres
    upstream: {{host: 127.0.0.1, port: {pgport}, dbname: orders}}
    audit_queries: true
    roles:
      read:  {{user: jit_read,  password_env: ORDERS_READ_PASSWORD}}
      write: {{user: jit_write, password_env: ORDERS_WRITE_PASSWORD}}
  - name: billing-api
    kind: generic
    roles: {{read: {{}}}}
policies:
  - name: gw-tests
    requesters: [group:engineering]
    resources: [orders-db, billing-api]
    roles: [read, write]
    max_duration: 4h
    approvals: 0
""" + limits)


# What ASan, LeakSanitizer, UBSan and ThreadSanitizer print when they find
# something.  A daemon's report goes to its log, not to the test's exit
# status: every Server.stop() reads the log for them (the sanitizer tiers of
# scripts/test.sh would otherwise pass a leak or a race at shutdown).
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "WARNING: ThreadSanitizer", ": runtime error: ")


def check_sanitizers(text, who):
    for mark in SANITIZER_REPORTS:
        i = text.find(mark)
        if i >= 0:
            raise AssertionError("%s: sanitizer report:\n%s" %
                                 (who, text[max(0, i - 200):i + 4000]))


class Server:
    """One `jitgate serve` process with its own directory."""

    def __init__(self, config_text, workdir=None, env=None, start=True):
        self.dir = workdir or tempfile.mkdtemp(prefix="jg-e2e-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.db = os.path.join(self.dir, "jitgate.db")  # SQLite only
        self.storage, self.store_db = fresh_storage(self.dir)
        self.config_path = os.path.join(self.dir, "jitgate.yaml")
        self.log_path = os.path.join(self.dir, "serve.log")
        self.env = dict(os.environ)
        if STORAGE == "postgresql":
            from pgcluster import PASSWORDS, STORE_USER
            self.env["PGPASSWORD"] = PASSWORDS[STORE_USER]
        self.env.update(env or {})
        self.proc = None
        self.preexec_fn = None  # e.g. to lower RLIMIT_NOFILE of the daemon
        self.write_config(config_text)
        if start:
            self.start()

    def render(self, text):
        return (text.replace("{LISTEN}", "127.0.0.1:%d" % self.port)
                .replace("{STORAGE}", self.storage)
                .replace("{DIR}", self.dir))

    def write_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(self.render(text))

    def start(self, timeout=15):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([JITGATE, "serve", "-c", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, cwd=self.dir,
                                     preexec_fn=self.preexec_fn)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("jitgate exited with %s:\n%s" %
                                   (self.proc.returncode, self.logs()))
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError("jitgate did not become ready:\n" + self.logs())

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        check_sanitizers(self.logs(), "jitgate serve in " + self.dir)
        return rc

    def restart(self):
        self.stop()
        self.start()

    def sighup(self):
        self.proc.send_signal(signal.SIGHUP)

    def logs(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def http(self, method, path, who=None, body=None, raw=None, headers=None,
             bearer=None):
        """Returns (status, parsed JSON or text).  who is a USERS name;
        bearer a literal token."""
        data = raw if raw is not None else (
            json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        tok = bearer if bearer is not None else (token(who) if who else None)
        if tok is not None:
            req.add_header("Authorization", "Bearer " + tok)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def cli(self, args, who=None, bearer=None, input=None, timeout=30):
        env = dict(self.env)
        env["JITGATE_ADDR"] = self.url
        tok = bearer if bearer is not None else (token(who) if who else None)
        if tok is not None:
            env["JITGATE_TOKEN"] = tok
        else:
            env.pop("JITGATE_TOKEN", None)
        p = subprocess.run([JITGATE] + list(args), capture_output=True, text=True,
                           env=env, input=input, timeout=timeout, cwd=self.dir)
        check_sanitizers(p.stderr, "jitgate " + " ".join(args[:2]))
        return p.returncode, p.stdout, p.stderr

    # the store itself, behind the daemon's back (either backend)
    def store_rows(self, sql):
        """Rows of a query run directly on the store, each value as text
        (as `psql -At` prints it; NULL is '')."""
        if self.store_db is None:
            import sqlite3
            con = sqlite3.connect(self.db)
            try:
                return [tuple("" if v is None else str(v) for v in row)
                        for row in con.execute(sql).fetchall()]
            finally:
                con.close()
        out = store_cluster().sql(sql, db=self.store_db)
        return [tuple(line.split("|")) for line in out.splitlines()]

    def tamper_store(self, sql):
        """What someone with write access to the store's files or its
        superuser can do: run sql past the audit table's append-only
        triggers (SQLite: dropped from the file; PostgreSQL: disabled for
        the session with session_replication_role = replica)."""
        if self.store_db is None:
            import sqlite3
            con = sqlite3.connect(self.db, isolation_level=None)
            try:
                names = [r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                    " AND tbl_name = 'audit'")]
                for n in names:
                    con.execute("DROP TRIGGER %s" % n)
                con.executescript(sql)
            finally:
                con.close()
            return
        store_cluster().sql("SET session_replication_role = replica;" + sql,
                            db=self.store_db)

    def lock_store(self):
        """A StoreLock on this server's store (use with `with`)."""
        return StoreLock(self)

    def store_exists(self):
        """Whether anything has created the store (a file, or tables)."""
        if self.store_db is None:
            return os.path.exists(self.db)
        return store_cluster().sql(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            db=self.store_db).strip() != "0"

    def make_store_unopenable(self, unopenable=True):
        """SQLite: a directory where the file goes; PostgreSQL: the
        database refuses connections."""
        if self.store_db is None:
            (os.mkdir if unopenable else os.rmdir)(self.db)
            return
        store_cluster().sql("ALTER DATABASE %s ALLOW_CONNECTIONS %s" %
                            (self.store_db, "false" if unopenable else "true"),
                            db="postgres")

    def backup_store(self, path):
        """An online backup while the daemon writes, the documented way
        (docs/operations.md): SQLite's backup API in several steps;
        PostgreSQL: pg_dump."""
        if self.store_db is None:
            import sqlite3
            src, dst = sqlite3.connect(self.db), sqlite3.connect(path)
            try:
                src.backup(dst, pages=4)  # several steps, writes in between
            finally:
                src.close()
                dst.close()
            return
        pg = store_cluster()
        with open(path, "wb") as f:
            args = ["pg_dump", "--no-owner", "--no-privileges", "-h", pg.sockdir,
                    "-p", str(pg.port), "-U", "postgres", "-d", self.store_db]
            if os.geteuid() == 0:
                args = ["runuser", "-u", "postgres", "--"] + args
            subprocess.run(args, stdout=f, check=True)

    def restore_store(self, path):
        """Loads a backup_store() backup into this server's (unstarted,
        empty) store."""
        if self.store_db is None:
            import shutil
            shutil.copy(path, self.db)
            return
        # the objects are owned by the store role, as after a first start
        from pgcluster import STORE_USER
        with open(path) as f:
            dump = "SET ROLE %s;\n%s" % (STORE_USER, f.read())
        subprocess.run(store_cluster().psql_args(self.store_db), input=dump,
                       text=True, check=True, capture_output=True)

    # conveniences
    def request(self, who, resource, role, duration="30m", **kw):
        body = {"resource": resource, "role": role, "duration": duration}
        body.update(kw)
        return self.http("POST", "/v1/requests", who, body)

    def act(self, who, rid, verb, body=None):
        return self.http("POST", "/v1/requests/%d/%s" % (rid, verb), who, body)

    def check(self, subject, resource, role, who="svc"):
        return self.http("POST", "/v1/check", who,
                         {"subject": subject, "resource": resource, "role": role})

    def audit_events(self, who="erin", **filters):
        events, after = [], 0
        while True:
            q = "&".join(["after=%d" % after, "limit=1000"] +
                         ["%s=%s" % kv for kv in filters.items()])
            st, body = self.http("GET", "/v1/audit?" + q, who)
            assert st == 200, (st, body)
            events += body["events"]
            if not body["events"]:
                return events
            after = body["next_after"]

    def export(self, who="erin"):
        st, text = self.http("GET", "/v1/audit/export", who)
        assert st == 200, (st, text)
        return text


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def run(*test_case_classes):
    """unittest main that exits non-zero on failure and prints a summary."""
    import unittest
    import sys
    suite = unittest.TestSuite(
        unittest.defaultTestLoader.loadTestsFromTestCase(c)
        for c in test_case_classes)
    res = unittest.TextTestRunner(verbosity=2).run(suite)
    # a skipped test is not a pass: it fails the run, loudly
    for case, why in res.skipped:
        print("SKIPPED (counted as failure): %s: %s" % (case.id(), why))
    ok = res.wasSuccessful() and res.testsRun > 0 and not res.skipped
    sys.exit(0 if ok else 1)
