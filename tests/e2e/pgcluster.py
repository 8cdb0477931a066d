#!/usr/bin/env python3
"""Throwaway PostgreSQL cluster for gateway tests and benchmarks.

initdb + pg_ctl as the unprivileged `postgres` user (tests run as root),
listening on 127.0.0.1:PORT with its socket in the data directory's parent.
Roles, all with LOGIN on database `orders`:

  jit_read   SCRAM-SHA-256, password $PG_READ_PASSWORD  (default read-pw)
  jit_write  SCRAM-SHA-256, password write-pw
  jit_md5    md5,           password md5-pw
  jit_trust  trust (pg_hba), no password
  jit_tls    SCRAM-SHA-256, password tls-pw, hostssl only
  jitgate    SCRAM-SHA-256, password jitgate-pw, owns database `jitgate`
             (jitgate's own store; pg.new_store_db() makes more)

TLS is on with a self-signed certificate (CN=localhost), or with the
certificate and key given as ssl_cert / ssl_key (PEM files, copied in).

Library:  with PgCluster(port) as pg: pg.sql("select 1")
CLI:      pgcluster.py start DIR PORT [max_connections] | newdb DIR | stop DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

PGBIN = "/usr/lib/postgresql/15/bin"
PASSWORDS = {"jit_read": "read-pw", "jit_write": "write-pw",
             "jit_md5": "md5-pw", "jit_tls": "tls-pw", "jitgate": "jitgate-pw"}
STORE_USER = "jitgate"


def _as_postgres(args, **kw):
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, check=True, **kw)


class PgCluster:
    def __init__(self, port, base=None, max_connections=200, ssl_cert=None,
                 ssl_key=None):
        self.port = port
        self.own_base = base is None
        self.base = base or tempfile.mkdtemp(prefix="jg-pg-")
        self.data = os.path.join(self.base, "data")
        self.sockdir = self.base
        self.max_connections = max_connections
        self.ssl_cert, self.ssl_key = ssl_cert, ssl_key
        self.started = False

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        os.makedirs(self.base, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        os.chmod(self.base, 0o755)
        _as_postgres([PGBIN + "/initdb", "-D", self.data, "-U", "postgres",
                      "--auth-local=trust", "--auth-host=reject",
                      "--no-sync", "-E", "UTF8", "--locale=C"],
                     stdout=subprocess.DEVNULL)
        key = os.path.join(self.data, "server.key")
        crt = os.path.join(self.data, "server.crt")
        if self.ssl_cert:
            shutil.copyfile(self.ssl_cert, crt)
            shutil.copyfile(self.ssl_key, key)
            if os.geteuid() == 0:
                shutil.chown(crt, "postgres", "postgres")
                shutil.chown(key, "postgres", "postgres")
        else:
            _as_postgres(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                          "-nodes", "-days", "2", "-subj", "/CN=localhost",
                          "-keyout", key, "-out", crt],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(key, 0o600)
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write(f"""
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.sockdir}'
max_connections = {self.max_connections}
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
ssl = on
log_min_messages = warning
""")
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("""local all all trust
host all jit_trust 127.0.0.1/32 trust
host all jit_md5 127.0.0.1/32 md5
hostssl all jit_tls 127.0.0.1/32 scram-sha-256
host all jit_tls 127.0.0.1/32 reject
host all all 127.0.0.1/32 scram-sha-256
""")
        _as_postgres([PGBIN + "/pg_ctl", "-D", self.data, "-w", "-l",
                      os.path.join(self.data, "log"), "start"],
                     stdout=subprocess.DEVNULL)
        self.started = True
        self.sql("""
CREATE DATABASE orders;
""", db="postgres")
        self.store_dbs = 0
        roles = "".join(
            f"SET password_encryption = '{'md5' if r == 'jit_md5' else 'scram-sha-256'}';"
            f"CREATE ROLE {r} LOGIN PASSWORD '{p}';"
            for r, p in PASSWORDS.items())
        self.sql(roles + """
CREATE ROLE jit_trust LOGIN;
CREATE TABLE items (id int PRIMARY KEY, name text);
INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO jit_read, jit_md5, jit_trust, jit_tls;
GRANT ALL ON SCHEMA public TO jit_write;
GRANT ALL ON ALL TABLES IN SCHEMA public TO jit_write;
""", db="orders")

    def new_store_db(self):
        """A fresh empty database owned by the jitgate role; returns its
        name."""
        self.store_dbs = getattr(self, "store_dbs", 0) + 1
        name = "jitgate_%d" % self.store_dbs
        self.sql("CREATE DATABASE %s OWNER %s" % (name, STORE_USER), db="postgres")
        return name

    def store_url(self, db, password=True, **params):
        """postgresql:// URL of db as the jitgate role over TCP."""
        q = "&".join("%s=%s" % kv for kv in params.items())
        return "postgresql://%s%s@127.0.0.1:%d/%s%s" % (
            STORE_USER, ":" + PASSWORDS[STORE_USER] if password else "",
            self.port, db, "?" + q if q else "")

    def sql(self, text, db="orders"):
        """Runs SQL as the superuser over the unix socket; returns stdout."""
        r = subprocess.run(self.psql_args(db) + ["-c", text], check=True,
                           capture_output=True, text=True)
        return r.stdout

    def psql_args(self, db, user="postgres"):
        """psql over the unix socket as user (the superuser unless told),
        run as the postgres OS user when the tests run as root."""
        args = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.sockdir,
                "-p", str(self.port), "-U", user, "-d", db]
        if os.geteuid() == 0:
            args = ["runuser", "-u", "postgres", "--"] + args
        return args

    def session(self, db):
        """An open psql session as the superuser on db (stdin and stdout
        are pipes, text): for a test that holds a lock or a transaction
        open while the daemon works."""
        return subprocess.Popen(self.psql_args(db), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)

    def restart(self):
        """Stops (fast: sessions are closed) and starts the server again."""
        _as_postgres([PGBIN + "/pg_ctl", "-D", self.data, "-m", "fast", "-w",
                      "-l", os.path.join(self.data, "log"), "restart"],
                     stdout=subprocess.DEVNULL)

    def stop(self):
        if self.started:
            _as_postgres([PGBIN + "/pg_ctl", "-D", self.data, "-m", "immediate",
                          "-w", "stop"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
            self.started = False
        if self.own_base:
            shutil.rmtree(self.base, ignore_errors=True)


class ClusterTestCase(unittest.TestCase):
    """A test case class with one cluster for all its tests (cls.pg on
    cls.pgport)."""

    @classmethod
    def setUpClass(cls):
        from harness import free_port
        cls.pgport = free_port()
        cls.pg = PgCluster(cls.pgport)
        cls.pg.start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()


def main(argv):
    if len(argv) >= 4 and argv[1] == "start":
        mc = int(argv[4]) if len(argv) > 4 else 200
        shutil.rmtree(argv[2], ignore_errors=True)
        PgCluster(int(argv[3]), base=argv[2], max_connections=mc).start()
        return 0
    if len(argv) == 3 and argv[1] == "newdb":
        c = PgCluster(0, base=argv[2])
        c.port = int(open(os.path.join(c.data, "postgresql.auto.conf")).read()
                     .split("\nport = ")[1].split()[0])
        c.store_dbs = int(c.sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'jitgate_%'",
                                db="postgres"))
        print(c.new_store_db())
        return 0
    if len(argv) == 3 and argv[1] == "stop":
        c = PgCluster(0, base=argv[2])
        c.started = True
        c.stop()
        shutil.rmtree(argv[2], ignore_errors=True)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
