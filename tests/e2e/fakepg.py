"""A fake PostgreSQL server for tests and benchmarks of the gateway's
upstream login: it follows one scripted (often hostile) behaviour and
records every byte it is sent.  Standard library only.

Scripts: "slow" (never answers the startup packet), "cleartext", "md5",
"gss" (asks for that method), "plus-only" (offers
only SCRAM-SHA-256-PLUS, which needs TLS), "trust" (lets the role in at once),
"trust-param-flood" (lets it in, then sends ParameterStatus without end), and the
SCRAM ones: "scram-good" (plays SCRAM-SHA-256 right, then answers every
query with 1), "scram-bad-signature", "scram-no-final", "scram-error",
"scram-replay" (a server-first whose nonce does not extend the
client's), "scram-wait" (takes client-final unchecked and stops: no PBKDF2 on this
side, so a benchmark can make the client derive keys cheaply), and any
other "scram-*" name (stops after checking the client's proof).  An SSLRequest is always answered "N".
"""
import base64
import hashlib
import hmac
import socket
import struct
import threading

SSL_REQUEST = 80877103
STARTUP_V3 = 196608


def backend(kind, body=b""):
    return kind + struct.pack("!I", 4 + len(body)) + body


def auth(code, data=b""):
    return backend(b"R", struct.pack("!I", code) + data)


def ready():
    params = b"".join(backend(b"S", k + b"\0" + v + b"\0") for k, v in (
        (b"server_version", b"15.0"), (b"client_encoding", b"UTF8"),
        (b"standard_conforming_strings", b"on"),
        (b"integer_datetimes", b"on"), (b"DateStyle", b"ISO, MDY")))
    return (auth(0) + params + backend(b"K", struct.pack("!II", 4242, 77))
            + backend(b"Z", b"I"))


def select_one():
    row_desc = struct.pack("!H", 1) + b"?column?\0" + struct.pack(
        "!IhIhih", 0, 0, 23, 4, -1, 0)
    return (backend(b"T", row_desc) +
            backend(b"D", struct.pack("!Hi", 1, 1) + b"1") +
            backend(b"C", b"SELECT 1\0") + backend(b"Z", b"I"))


class FakeUpstream:
    """A PostgreSQL server that follows one script and records every
    byte it is sent.  password is the role's password, for SCRAM."""

    def __init__(self, script, password, iterations=4096):
        self.script, self.iterations = script, iterations
        self.password = password
        self.received = bytearray()
        self.lock = threading.Lock()
        self.startup_seen = threading.Event()
        self.server_first_sent = threading.Event()
        self.client_final_seen = threading.Event()
        self.closed = threading.Event()
        self.proof_ok = None
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def frontend_messages(self):
        """What was received after the startup packet, as (type, body)."""
        with self.lock:
            data = bytes(self.received)
        if struct.unpack("!I", data[4:8])[0] == SSL_REQUEST:
            data = data[8:]
        data = data[struct.unpack("!I", data[:4])[0]:] if data else b""
        out = []
        while len(data) >= 5:
            n = struct.unpack("!I", data[1:5])[0]
            out.append((data[:1], data[5:1 + n]))
            data = data[1 + n:]
        return out

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _read(self, conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
            with self.lock:
                self.received += chunk
        return buf

    def _message(self, conn):
        head = self._read(conn, 5)
        return head[:1], self._read(conn, struct.unpack("!I", head[1:])[0] - 4)

    def _serve(self, conn):
        conn.settimeout(60)
        spoke = False
        try:
            first = conn.recv(1, socket.MSG_PEEK)
            spoke = bool(first)
            self._script(conn)
            while True:  # whatever else comes is recorded too, until close
                chunk = conn.recv(65536)
                if not chunk:
                    break
                with self.lock:
                    self.received += chunk
        except (EOFError, OSError):
            pass
        finally:
            conn.close()
            # a connection that sent nothing (the daemon's reachability
            # probe) is not a login
            if spoke:
                self.closed.set()

    def _script(self, conn):
        n = struct.unpack("!I", self._read(conn, 4))[0]
        code = struct.unpack("!I", self._read(conn, n - 4)[:4])[0]
        if code == SSL_REQUEST:
            conn.sendall(b"N")  # "no TLS here": the gateway must stop
            n = struct.unpack("!I", self._read(conn, 4))[0]
            code = struct.unpack("!I", self._read(conn, n - 4)[:4])[0]
        assert code == STARTUP_V3, code
        self.startup_seen.set()
        s = self.script
        if s == "slow":
            return  # never answers
        if s == "cleartext":
            conn.sendall(auth(3))
        elif s == "md5":
            conn.sendall(auth(5, b"salt"))
        elif s == "gss":
            conn.sendall(auth(7))
        elif s == "plus-only":
            conn.sendall(auth(10, b"SCRAM-SHA-256-PLUS\0\0"))
        elif s == "trust":
            conn.sendall(ready())
        elif s == "trust-param-flood":  # AuthenticationOk, then no end of
            conn.sendall(auth(0))        # ParameterStatus
            status = backend(b"S", b"jg_flood\0" + b"x" * 1000 + b"\0") * 64
            while True:
                conn.sendall(status)
        elif s.startswith("scram"):
            self._scram(conn)

    def _scram(self, conn):
        conn.sendall(auth(10, b"SCRAM-SHA-256\0\0"))
        kind, body = self._message(conn)
        assert kind == b"p" and body.startswith(b"SCRAM-SHA-256\0"), body
        client_first = body[18:].decode()
        assert client_first.startswith("n,,n=,r="), client_first
        bare = client_first[3:]
        nonce = bare[5:] + "fakeServerNonce"
        if self.script == "scram-replay":  # a nonce from another exchange
            nonce = "r3pl4y3dN0nc3fromAnotherLogin"
        salt = b"0123456789abcdef"
        server_first = "r=%s,s=%s,i=%d" % (
            nonce, base64.b64encode(salt).decode(), self.iterations)
        conn.sendall(auth(11, server_first.encode()))
        self.server_first_sent.set()
        kind, body = self._message(conn)
        self.client_final_seen.set()
        if self.script == "scram-wait":
            conn.shutdown(socket.SHUT_RDWR)  # no proof check, no PBKDF2
            return
        final = body.decode()
        without_proof, proof = final.rsplit(",p=", 1)
        assert without_proof == "c=biws,r=" + nonce, final
        msg = ("%s,%s,%s" % (bare, server_first, without_proof)).encode()
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt,
                                     self.iterations)
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        stored = hashlib.sha256(client_key).digest()
        sig = hmac.new(stored, msg, "sha256").digest()
        got = bytes(a ^ b for a, b in zip(base64.b64decode(proof), sig))
        self.proof_ok = hashlib.sha256(got).digest() == stored
        server_key = hmac.new(salted, b"Server Key", "sha256").digest()
        good = base64.b64encode(hmac.new(server_key, msg, "sha256").digest())
        if self.script == "scram-good":
            conn.sendall(auth(12, b"v=" + good) + ready())
            while True:
                kind, body = self._message(conn)
                if kind == b"X":
                    return
                if kind == b"Q":
                    conn.sendall(select_one())
        elif self.script == "scram-bad-signature":
            wrong = base64.b64encode(hashlib.sha256(good).digest())
            conn.sendall(auth(12, b"v=" + wrong) + ready())
        elif self.script == "scram-no-final":
            conn.sendall(ready())
        elif self.script == "scram-error":
            conn.sendall(auth(12, b"e=invalid-proof") + ready())

    def close(self):
        self.sock.close()
