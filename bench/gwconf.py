"""Config and grants for the gateway benchmarks on the real daemon
(bench/gateway.sh, bench/gw_hold.c); standard library only.

  gwconf.py config DIR HTTP GW PG RESP NCUT [CERT KEY]
      writes DIR/jitgate.yaml and DIR/tokens.json: identities admin,
      bench and cut-0..NCUT-1; resources bench-db (PostgreSQL on PG,
      SCRAM as jit_read), bench-db-audit (the same with audit_queries),
      resp-db (the bench responder on RESP, trust); a 0-approval policy.
  gwconf.py grant DIR HTTP SUBJECT RESOURCE ROLE   prints the request id
  gwconf.py revoke DIR HTTP ID                     as admin

Tokens are random per run; only their SHA-256 goes into the config."""
import http.client
import json
import os
import sys

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
    elif len(a) == 5 and a[1] == "revoke":
        call(a[2], int(a[3]), "admin", "/v1/requests/%s/revoke" % a[4],
             {"reason": "bench"})
    else:
        sys.exit(__doc__)
