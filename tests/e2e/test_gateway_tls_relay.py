"""The TLS relay of the gateway through the real daemon: the client's TLS
socket is read by the session's own event (one recv, then OpenSSL through
the filter) and the records the filter makes are written at once after a
relay step.  A client here drives TLS itself over memory BIOs, so the test
decides where records and TCP segments begin and end: records cut into
single-byte segments, a message spread over many records, many messages
in one record, a close_notify in the middle of a message; and a large
result is compared byte for byte with the same query run directly."""
import hashlib
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgwire  # noqa: E402
from harness import Server, free_port, gateway_config, run, token, wait_for  # noqa: E402
from pgcluster import ClusterTestCase  # noqa: E402

ENV = {"ORDERS_READ_PASSWORD": "read-pw", "ORDERS_WRITE_PASSWORD": "write-pw"}


class RecordClient:
    """A PostgreSQL client whose TLS runs over memory BIOs: what goes on
    the wire, and in which pieces, is up to the caller."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(pgwire.SSL_REQUEST)
        if self.sock.recv(1) != b"S":
            raise ConnectionError("TLS refused")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out)
        self.plain = b""
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.sock.sendall(self.out.read())
                self._feed()
        self.sock.sendall(self.out.read())

    def _feed(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed by peer")
        self.inc.write(data)

    def records(self, data, size):
        """The TLS records of data, one per size bytes."""
        for i in range(0, len(data), size):
            self.tls.write(data[i:i + size])
        return self.out.read()

    def send(self, wire, segment=None):
        """Sends wire bytes, in TCP segments of segment bytes."""
        if segment is None:
            self.sock.sendall(wire)
            return
        for i in range(0, len(wire), segment):
            self.sock.sendall(wire[i:i + segment])

    def recv_exact(self, n):
        while len(self.plain) < n:
            try:
                self.plain += self.tls.read(65536)
            except ssl.SSLWantReadError:
                self._feed()
            except ssl.SSLZeroReturnError:
                raise ConnectionError("close_notify")
        out, self.plain = self.plain[:n], self.plain[n:]
        return out

    def read_msg(self):
        hdr = self.recv_exact(5)
        return hdr[:1], self.recv_exact(struct.unpack("!I", hdr[1:])[0] - 4)

    def until_ready(self):
        out = []
        while True:
            kind, body = self.read_msg()
            if kind == b"E":
                raise pgwire.PgError(pgwire.parse_error(body))
            if kind == b"Z":
                return out
            out.append((kind, body))

    def login(self, user, database, password):
        self.send(self.records(pgwire.startup(user, database), 16384))
        kind, body = self.read_msg()
        assert kind == b"R", (kind, body)
        self.send(self.records(pgwire.msg(b"p", pgwire.cstr(password)), 16384))
        self.until_ready()

    def eof(self):
        """True when the gateway closed the connection (its close_notify
        or EOF), false when it said anything else first."""
        try:
            while True:
                try:
                    if self.tls.read(65536):
                        return False
                except ssl.SSLWantReadError:
                    self._feed()
        except (ssl.SSLZeroReturnError, ConnectionError, ssl.SSLEOFError):
            return True


def rows(msgs):
    """The text of every column of every DataRow."""
    out = []
    for kind, body in msgs:
        if kind != b"D":
            continue
        n, off, row = struct.unpack("!H", body[:2])[0], 2, []
        for _ in range(n):
            ln = struct.unpack("!i", body[off:off + 4])[0]
            off += 4
            row.append(body[off:off + ln].decode())
            off += ln
        out.append(row)
    return out


class GatewayTlsRelayTest(ClusterTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        d = tempfile.mkdtemp(prefix="jg-gw-tlsrelay-")
        cert, key = os.path.join(d, "gw.crt"), os.path.join(d, "gw.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-subj", "/CN=jitgate-gateway-test", "-days", "1",
                        "-keyout", key, "-out", cert], check=True,
                       capture_output=True)
        cls.gwport = free_port()
        cls.srv = Server(gateway_config(cls.pgport, cls.gwport, tls=(cert, key)),
                         env=ENV)
        st, body = cls.srv.request("alice", "orders-db", "read", "1h",
                                   reason="tls relay test")
        assert st == 201, body

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        super().tearDownClass()

    def client(self):
        c = RecordClient(self.gwport)
        self.addCleanup(c.sock.close)
        c.login("alice", "orders-db@read", token("alice"))
        return c

    def test_records_cut_into_single_bytes(self):
        """Each TLS record arrives one byte per TCP segment: every read
        of the gateway holds part of a record, never a whole one."""
        c = self.client()
        wire = c.records(pgwire.query("select 'jg-' || 6 * 7"), 16384)
        c.send(wire, segment=1)
        self.assertEqual(rows(c.until_ready()), [["jg-42"]])

    def test_one_message_in_many_records(self):
        """A Query spread over one-byte records (a record per byte), sent
        in segments that cut records in the middle."""
        c = self.client()
        sql = "select string_agg(g::text, ',') from generate_series(1, 300) g"
        c.send(c.records(pgwire.query(sql), 1), segment=7)
        self.assertEqual(rows(c.until_ready()),
                         [[",".join(str(g) for g in range(1, 301))]])

    def test_many_messages_in_one_record(self):
        """200 pipelined queries in one record: 200 answers, in order."""
        c = self.client()
        c.send(c.records(b"".join(pgwire.query("select %d" % i)
                                  for i in range(200)), 16384))
        for i in range(200):
            self.assertEqual(rows(c.until_ready()), [[str(i)]])

    def test_large_result_byte_for_byte(self):
        """8 MB of result over TLS (many records, more than a socket buffer
        at once): the same bytes as psql gets from PostgreSQL directly."""
        sql = ("select g, repeat(md5(g::text), 50) from "
               "generate_series(1, 5000) g")
        via = subprocess.run(
            ["psql", "-X", "-At", "-c", sql,
             f"host=127.0.0.1 port={self.gwport} user=alice "
             "dbname=orders-db@read sslmode=require connect_timeout=10"],
            capture_output=True, timeout=120,
            env=dict(os.environ, PGPASSWORD=token("alice")))
        self.assertEqual(via.returncode, 0, via.stderr)
        direct = self.pg.sql(sql)
        self.assertGreater(len(via.stdout), 8 * 1000 * 1000)
        self.assertEqual(hashlib.sha256(via.stdout).hexdigest(),
                         hashlib.sha256(direct.encode()).hexdigest())

    def test_close_notify_in_the_middle_of_a_message(self):
        """The client sends half a Query, then close_notify: the session
        ends as closed by the client, its upstream backend goes away
        without running anything, and the gateway serves the next one."""
        before = len([e for e in self.srv.audit_events()
                      if e["action"] == "session.ended"])
        c = self.client()
        q = pgwire.query("select 'jg-half-message'")
        c.send(c.records(q[:len(q) // 2], 16384))
        try:
            c.tls.unwrap()
        except ssl.SSLWantReadError:
            pass
        c.send(c.out.read())
        self.assertTrue(c.eof())
        c.sock.close()
        ended = wait_for(lambda: [e for e in self.srv.audit_events()
                                  if e["action"] == "session.ended"][before:],
                         timeout=30, what="session.ended")
        self.assertEqual(ended[0]["detail"]["why"], "client closed")
        wait_for(lambda: self.pg.sql(
            "select count(*) from pg_stat_activity where usename = "
            "'jit_read'").strip() == "0", timeout=30,
            what="the upstream backend gone")
        self.assertNotIn("jg-half-message", self.pg.sql(
            "select string_agg(query, ' ') from pg_stat_activity"))
        again = self.client()
        again.send(again.records(pgwire.query("select 1"), 16384))
        self.assertEqual(rows(again.until_ready()), [["1"]])


if __name__ == "__main__":
    run(GatewayTlsRelayTest)
