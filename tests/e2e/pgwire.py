"""A minimal PostgreSQL v3 wire client for hostile-client tests: it sends
exactly the bytes a test asks for (floods, repeated SSLRequests, messages
psql never sends) and reads the answers.  Standard library only."""
import socket
import ssl
import struct

SSL_REQUEST = struct.pack("!II", 8, 80877103)
GSSENC_REQUEST = struct.pack("!II", 8, 80877104)


def msg(kind, body=b""):
    """One protocol message: type byte, length (counting itself), body."""
    return kind + struct.pack("!I", len(body) + 4) + body


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def startup(user, database, **params):
    body = struct.pack("!I", 196608) + cstr("user") + cstr(user)
    body += cstr("database") + cstr(database)
    for k, v in params.items():
        body += cstr(k) + cstr(v)
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def query(sql):
    return msg(b"Q", cstr(sql))


def parse(name, sql, ntypes=0):
    return msg(b"P", cstr(name) + cstr(sql) + struct.pack("!H", ntypes))


def bind(portal="", stmt=""):
    return msg(b"B", cstr(portal) + cstr(stmt) + struct.pack("!HHH", 0, 0, 0))


def execute(portal="", maxrows=0):
    return msg(b"E", cstr(portal) + struct.pack("!I", maxrows))


def describe(kind=b"S", name=""):
    return msg(b"D", kind + cstr(name))


def close(kind=b"S", name=""):
    return msg(b"C", kind + cstr(name))


SYNC = msg(b"S")
FLUSH = msg(b"H")
TERMINATE = msg(b"X")


def function_call(oid, *args):
    """FunctionCall with text arguments and a text result."""
    body = struct.pack("!IH", oid, 0) + struct.pack("!H", len(args))
    for a in args:
        a = a.encode()
        body += struct.pack("!i", len(a)) + a
    body += struct.pack("!H", 0)
    return msg(b"F", body)


class PgError(Exception):
    def __init__(self, fields):
        self.fields = fields
        super().__init__("%s %s" % (fields.get("C"), fields.get("M")))


def parse_error(body):
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return fields


class Conn:
    """One raw connection.  login() does the startup and the cleartext
    password exchange of the gateway and reads up to ReadyForQuery."""

    def __init__(self, port, host="127.0.0.1", timeout=30, src=None):
        """src: a loopback source address (127.0.0.2...), to be another
        client address."""
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(src, 0) if src else None)
        self.buf = b""

    def start_tls(self):
        """SSLRequest, then TLS without verification (a test peer)."""
        self.send(SSL_REQUEST)
        if self.recv_exact(1) != b"S":
            raise ConnectionError("TLS refused")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock)

    def read_fatal(self):
        """Reads to the end of the stream; returns the fields of the first
        ErrorResponse (None when the peer closed without one)."""
        try:
            while True:
                kind, body = self.read_msg()
                if kind == b"E":
                    return parse_error(body)
        except (ConnectionError, OSError):
            return None

    def closed(self):
        """True when the peer closed (EOF or reset) with nothing more to
        read; blocks up to the socket timeout."""
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except ConnectionResetError:
            return True
        except (socket.timeout, TimeoutError):
            return False

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by peer")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_msg(self):
        hdr = self.recv_exact(5)
        kind, length = hdr[:1], struct.unpack("!I", hdr[1:])[0]
        return kind, self.recv_exact(length - 4)

    def login(self, user, database, password, **params):
        self.send(startup(user, database, **params))
        kind, body = self.read_msg()
        if kind == b"E":
            raise PgError(parse_error(body))
        assert kind == b"R" and struct.unpack("!I", body[:4])[0] == 3, (kind, body)
        self.send(msg(b"p", cstr(password)))
        self.until_ready()

    def until_ready(self):
        """Reads to ReadyForQuery; returns the messages before it.  Raises
        PgError on a FATAL (an ERROR is returned with the rest)."""
        out = []
        while True:
            kind, body = self.read_msg()
            if kind == b"E":
                f = parse_error(body)
                if f.get("S") == "FATAL":
                    raise PgError(f)
            if kind == b"Z":
                return out
            out.append((kind, body))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Result:
    """What login() saw: the FATAL's SQLSTATE and message, whether the
    gateway asked for the password, and whether the session opened (conn
    is then left open for the caller)."""

    def __init__(self):
        self.sqlstate = self.message = None
        self.asked_password = self.ready = False
        self.conn = None


def login(port, user, password, database="orders-db", app=None, src="127.0.0.1"):
    """Logs in with any bytes as user, database and application_name (what
    libpq will not send) from loopback address src."""
    params = {"application_name": app} if app is not None else {}
    r = Result()
    c = Conn(port, src=src)
    try:
        c.send(startup(user, database, **params))
        kind, body = c.read_msg()
        if kind == b"R" and struct.unpack("!I", body[:4])[0] == 3:
            r.asked_password = True
            c.send(msg(b"p", cstr(password)))
            c.until_ready()
            r.ready, r.conn = True, c
        elif kind == b"E":
            raise PgError(parse_error(body))
    except PgError as e:
        r.sqlstate, r.message = e.fields.get("C"), e.fields.get("M")
    except (ConnectionError, OSError):
        pass
    if not r.ready:
        c.close()
    return r
