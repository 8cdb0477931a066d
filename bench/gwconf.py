"""Config and grants for the gateway benchmarks on the real daemon
(bench/gateway.sh, bench/gw_hold.c); standard library only.

  gwconf.py config DIR HTTP GW PG RESP NCUT [CERT KEY]
      writes DIR/jitgate.yaml and DIR/tokens.json: identities admin,
      bench and cut-0..NCUT-1; resources bench-db (PostgreSQL on PG,
      SCRAM as jit_read), bench-db-audit (the same with audit_queries),
      resp-db (the bench responder on RESP, trust); a 0-approval policy.
  gwconf.py grant DIR HTTP SUBJECT RESOURCE ROLE   prints the request id
  gwconf.py revoke DIR HTTP ID                     as admin
  gwconf.py grants DIR HTTP N RESOURCE ROLE DURATION
      cut-0..N-1 each request RESOURCE/ROLE for DURATION, 32 at a time
      (so that the daemon's group commit activates many in one batch,
      with the same activated_at); prints "SUBJECT TOKEN ID EXPIRES_MS"
      per grant, EXPIRES_MS the expires_at of the answer in ms

Tokens are random per run; only their SHA-256 goes into the config."""
import calendar
import concurrent.futures
import http.client
import json
import os
import sys
import time

import mkgrants


def write_config(d, http_port, gw, pg, resp, ncut, tls):
    tokens, out = mkgrants.head_and_identities(
        d, http_port, "admins: [user:admin]",
        ["bench"] + ["cut-%d" % i for i in range(ncut)])
    out += ["limits:",
            "  gateway_connections: 1000000",
            "  gateway_preauth_per_ip: 1000000",
            "  login_timeout: 1h",
            "gateway:",
            "  postgres_listen: 127.0.0.1:%d" % gw]
    if tls:
        out.append("  tls: {cert: %s, key: %s}" % tls)
    out += ["resources:"]
    for name, audit in (("bench-db", False), ("bench-db-audit", True)):
        out += ["  - name: %s" % name,
                "    kind: postgres",
                "    upstream: {host: 127.0.0.1, port: %d, dbname: orders}" % pg,
                "    audit_queries: %s" % ("true" if audit else "false"),
                "    roles:",
                "      read: {user: jit_read, password_env: JG_BENCH_READ_PW}"]
    out += ["  - name: resp-db",
            "    kind: postgres",
            "    upstream: {host: 127.0.0.1, port: %d, dbname: bench, auth: [trust]}" % resp,
            "    roles:",
            "      read: {user: bench}",
            "policies:",
            "  - name: bench-auto",
            "    requesters: [group:bench]",
            "    resources: [bench-db, bench-db-audit, resp-db]",
            "    roles: [read]",
            "    max_duration: 4h",
            "    approvals: 0"]
    mkgrants.save(d, tokens, out)


def call(d, port, who, path, body):
    with open(os.path.join(d, "tokens.json")) as f:
        tok = json.load(f)[who]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", path, json.dumps(body),
                 {"Authorization": "Bearer " + tok,
                  "Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status not in (200, 201):
        sys.exit("%s: %d %s" % (path, r.status, data[:300]))
    return json.loads(data)


def rfc3339_ms(t):
    """2026-11-29T11:47:35.123Z -> ms since the epoch."""
    whole, frac = t.rstrip("Z").split(".")
    secs = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return secs * 1000 + int(frac[:3].ljust(3, "0"))


def grants(d, port, n, resource, role, duration):
    with open(os.path.join(d, "tokens.json")) as f:
        toks = json.load(f)
    body = json.dumps({"resource": resource, "role": role,
                       "duration": duration, "reason": "bench"})

    def chunk(k):
        # one keep-alive connection per writer: limits.http_connections_per_ip
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        out = []
        for i in range(k, n, 32):
            conn.request("POST", "/v1/requests", body,
                         {"Authorization": "Bearer " + toks["cut-%d" % i],
                          "Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            g = json.loads(data) if r.status == 201 else {}
            if g.get("state") != "active":
                sys.exit("cut-%d: %d %s" % (i, r.status, data[:300]))
            out.append("cut-%d %s %s %d" % (i, toks["cut-%d" % i], g["id"],
                                            rfc3339_ms(g["expires_at"])))
        conn.close()
        return out

    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        for lines in ex.map(chunk, range(32)):
            print("\n".join(lines))


if __name__ == "__main__":
    a = sys.argv
    if len(a) in (8, 10) and a[1] == "config":
        write_config(a[2], int(a[3]), int(a[4]), int(a[5]), int(a[6]),
                     int(a[7]), (a[8], a[9]) if len(a) == 10 else None)
    elif len(a) == 7 and a[1] == "grant":
        r = call(a[2], int(a[3]), a[4], "/v1/requests",
                 {"resource": a[5], "role": a[6], "duration": "2h",
                  "reason": "bench"})
        if r.get("state") != "active":
            sys.exit("grant not active: %r" % r)
        print(r["id"])
    elif len(a) == 8 and a[1] == "grants":
        grants(a[2], int(a[3]), int(a[4]), a[5], a[6], a[7])
    elif len(a) == 5 and a[1] == "revoke":
        call(a[2], int(a[3]), "admin", "/v1/requests/%s/revoke" % a[4],
             {"reason": "bench"})
    else:
        sys.exit(__doc__)
