#!/usr/bin/env python3
"""Unknown JWT key ids while the IdP hangs (design section 9, "nothing
blocks a loop"), measured against the real daemon, a real PostgreSQL and
a small IdP on loopback that answers discovery and its first key-set
request, then accepts every later key-set request and never answers.

Two phases on one daemon, one after the other:

  quiet   no attack
  attack  every 20 ms a JWT naming a made-up kid arrives at the API and one
          at the gateway (as a login password), from other addresses

In each phase one grant ends with N live sessions through the gateway, and /healthz is polled every 50 ms.  Printed
per phase: how late after expires_at each client saw its FATAL (p50, max),
/healthz latency (p50, max), the unknown-kid answers (count, max latency)
and how many key-set fetches the IdP was left holding.  The target: cuts
within 50 ms of expires_at and /healthz answering under attack as when
quiet (the ratio is printed).

Usage: bench/idp_hang.py [JITGATE_BINARY [BASELINE_BINARY]]   env: N (20)
With a baseline binary (e.g. a build of the commit before a change) both
are measured in this run, one after the other.  Not a test: it asserts
nothing."""
import base64
import http.client
import http.server
import json
import os
import random
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
BINARIES = []
while len(sys.argv) > 1 and os.path.isfile(sys.argv[1]):
    BINARIES.append(os.path.abspath(sys.argv.pop(1)))

import harness  # noqa: E402
import pgwire  # noqa: E402
from harness import Server, free_port, gateway_config, token  # noqa: E402
from pgcluster import PgCluster  # noqa: E402

N = int(os.environ.get("N", "20"))


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def ed25519_jwk(workdir):
    """A real public key for the IdP's key set (openssl, no Python
    crypto package needed)."""
    key = os.path.join(workdir, "ed.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key],
                   check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return {"kty": "OKP", "crv": "Ed25519", "x": b64u(der[-32:]), "kid": "k1",
            "use": "sig", "alg": "EdDSA"}


class HangingIdp:
    """Discovery always; the key set once; later key-set requests are held
    open and never answered (a hung IdP)."""

    def __init__(self, jwk):
        self.port = free_port()
        self.issuer = "http://127.0.0.1:%d" % self.port
        self.jwks = json.dumps({"keys": [jwk]}).encode()
        self.served = 0
        self.held = 0
        self.release = threading.Event()
        idp = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = json.dumps({"issuer": idp.issuer,
                                       "jwks_uri": idp.issuer + "/jwks"}).encode()
                elif self.path == "/jwks" and idp.served == 0:
                    idp.served += 1
                    body = idp.jwks
                elif self.path == "/jwks":
                    idp.held += 1
                    idp.release.wait()
                    return
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.httpd = S(("127.0.0.1", self.port), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.httpd.shutdown()


def unknown_kid_jwt(issuer):
    kid = "made-up-%08x" % random.getrandbits(32)
    head = b64u(json.dumps({"alg": "EdDSA", "kid": kid, "typ": "JWT"}).encode())
    claims = b64u(json.dumps({"iss": issuer, "aud": "jitgate", "sub": "mallory",
                              "exp": int(time.time()) + 600}).encode())
    return "%s.%s.%s" % (head, claims, b64u(os.urandom(64)))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def parse_ms(rfc3339):
    t = time.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S")
    frac = rfc3339[19:-1]
    return (time.mktime(t) - time.timezone) * 1000 + (float(frac) * 1000 if frac else 0)


class Attack:
    """Unknown-kid tokens at the API and the gateway every 20 ms each."""

    def __init__(self, srv, gwport, issuer):
        self.stop_ev = threading.Event()
        self.api_lat, self.gw_lat = [], []
        self.threads = [threading.Thread(target=self.api, args=(srv, issuer), daemon=True),
                        threading.Thread(target=self.gw, args=(gwport, issuer), daemon=True)]
        for t in self.threads:
            t.start()

    def api(self, srv, issuer):
        while not self.stop_ev.wait(0.02):
            t0 = time.monotonic()
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60,
                                           source_address=("127.0.0.9", 0))
            c.request("GET", "/v1/whoami",
                      headers={"Authorization": "Bearer " + unknown_kid_jwt(issuer)})
            c.getresponse().read()
            c.close()
            self.api_lat.append((time.monotonic() - t0) * 1000)

    def gw(self, gwport, issuer):
        while not self.stop_ev.wait(0.02):
            t0 = time.monotonic()
            pgwire.login(gwport, "mallory", unknown_kid_jwt(issuer), src="127.0.0.10")
            self.gw_lat.append((time.monotonic() - t0) * 1000)

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join()


def phase(srv, gwport, issuer, attack):
    """One grant with N live sessions; returns the figures."""
    st, body = srv.request("alice", "orders-db", "read", "10s", reason="bench")
    assert st == 201, body
    expires_ms = parse_ms(body["expires_at"])
    sessions = []
    for _ in range(N):
        r = pgwire.login(gwport, "alice", token("alice"), database="orders-db@read")
        assert r.ready, (r.sqlstate, r.message)
        sessions.append(r.conn)
    lateness, health = [], []
    done = threading.Event()

    def wait_cut(conn, expires_ms):
        conn.sock.settimeout(60)
        f = conn.read_fatal()
        if f is not None:
            lateness.append(time.time() * 1000 - expires_ms)

    def poll_health():
        while not done.is_set():
            t0 = time.monotonic()
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
            c.request("GET", "/healthz")
            c.getresponse().read()
            c.close()
            health.append((time.monotonic() - t0) * 1000)
            done.wait(0.05)

    waiters = [threading.Thread(target=wait_cut, args=(s, expires_ms)) for s in sessions]
    hp = threading.Thread(target=poll_health)
    hp.start()
    atk = Attack(srv, gwport, issuer) if attack else None
    for w in waiters:
        w.start()
    for w in waiters:
        w.join(timeout=120)
    done.set()
    hp.join()
    if atk:
        atk.stop()
    for s in sessions:
        s.close()
    return lateness, health, atk


def run_binary(binary, pg, workdir):
    harness.JITGATE = binary
    jwk = ed25519_jwk(workdir)
    idp = HangingIdp(jwk)
    gwport = free_port()
    cfg = gateway_config(pg.port, gwport, limits="  auth_failures_per_ip_per_min: 1000000\n")
    cfg += "oidc:\n  issuer: %s\n  audience: jitgate\n" % idp.issuer
    srv = Server(cfg, env={"ORDERS_READ_PASSWORD": "read-pw",
                           "ORDERS_WRITE_PASSWORD": "write-pw"})
    try:
        out = {}
        for name, attack in (("quiet", False), ("attack", True)):
            lat, health, atk = phase(srv, gwport, idp.issuer, attack)
            out[name] = (lat, health)
            line = ("%-8s %-6s cuts=%d/%d late_p50_ms=%.1f late_max_ms=%.1f "
                    "healthz_p50_ms=%.1f healthz_max_ms=%.1f" %
                    (os.path.basename(os.path.dirname(binary)) or binary, name, len(lat), N,
                     pct(lat, 0.5), max(lat or [float("nan")]), pct(health, 0.5),
                     max(health or [float("nan")])))
            if atk:
                line += (" unknown_kid_api=%d api_max_ms=%.1f unknown_kid_gw=%d gw_max_ms=%.1f"
                         " idp_fetches_held=%d" %
                         (len(atk.api_lat), max(atk.api_lat or [float("nan")]),
                          len(atk.gw_lat), max(atk.gw_lat or [float("nan")]), idp.held))
            print(line, flush=True)
            # machine-readable (bench/all.sh): the same fields
            print("RESULT idp_hang binary=%s phase=%s cuts=%d of=%d late_p50_ms=%.1f "
                  "late_max_ms=%.1f healthz_p50_ms=%.1f healthz_max_ms=%.1f%s"
                  % (os.path.basename(os.path.dirname(binary)) or "jitgate", name, len(lat), N,
                     pct(lat, 0.5), max(lat or [float("nan")]), pct(health, 0.5),
                     max(health or [float("nan")]),
                     (" unknown_kid_api=%d api_max_ms=%.1f unknown_kid_gw=%d gw_max_ms=%.1f"
                      % (len(atk.api_lat), max(atk.api_lat or [float("nan")]),
                         len(atk.gw_lat), max(atk.gw_lat or [float("nan")]))) if atk else ""),
                  flush=True)
        q, a = out["quiet"], out["attack"]
        if q[1] and a[1] and q[0] and a[0]:
            print("%-8s ratio attack/quiet: late_max %.2f, healthz_max %.2f" %
                  (os.path.basename(os.path.dirname(binary)) or binary,
                   max(a[0]) / max(max(q[0]), 0.1), max(a[1]) / max(max(q[1]), 0.1)),
                  flush=True)
    finally:
        srv.stop()
        idp.stop()


def main():
    workdir = tempfile.mkdtemp(prefix="jg-idphang-")
    pg = PgCluster(free_port(), max_connections=4 * N + 20)
    pg.start()
    try:
        for binary in BINARIES or [os.path.abspath(harness.JITGATE)]:
            run_binary(binary, pg, workdir)
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
