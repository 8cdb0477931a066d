"""Config and grants for bench/check_http.sh (standard library only).

  mkgrants.py config DIR PORT N   writes DIR/jitgate.yaml, DIR/tokens.json
  mkgrants.py grants DIR PORT     each user-i asks for orders-db/read under
                                  a 0-approval policy; exits non-zero unless
                                  all N grants come back active

Tokens are random per run and only their SHA-256 goes into the config."""
import concurrent.futures
import hashlib
import http.client
import json
import os
import secrets
import sys


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def head_and_identities(d, port, role_line, names):
    """Random tokens for the subject role_line names and for names (group
    bench):
    the config's opening lines and its identities (also bench/gwconf.py)."""
    special = role_line.split("user:")[1].rstrip("]")
    tokens = {special: "bench-" + secrets.token_hex(16)}
    for name in names:
        tokens[name] = "bench-" + secrets.token_hex(16)
    out = ["listen: 127.0.0.1:%d" % port,
           "storage: sqlite:%s" % os.path.join(d, "jitgate.db"),
           "pending_ttl: 1h",
           role_line,
           "identities:"]
    for name, tok in tokens.items():
        out.append("  - subject: %s" % name)
        out.append("    groups: [%s]" % ("" if name == special else "bench"))
        out.append("    token_sha256: %s" % sha(tok))
    return tokens, out


def write_config(d, port, n):
    tokens, out = head_and_identities(d, port, "checkers: [user:checker]",
                                      ["user-%d" % i for i in range(n)])
    out += ["resources:",
            "  - name: orders-db",
            "    kind: generic",
            "    roles: {read: {}, write: {}}",
            "policies:",
            "  - name: bench-auto",
            "    requesters: [group:bench]",
            "    resources: [orders-db]",
            "    roles: [read]",
            "    max_duration: 4h",
            "    approvals: 0"]
    save(d, tokens, out)


def save(d, tokens, out):
    fd = os.open(os.path.join(d, "tokens.json"), os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(tokens, f)
    with open(os.path.join(d, "jitgate.yaml"), "w") as f:
        f.write("\n".join(out) + "\n")


def make_grants(d, port):
    with open(os.path.join(d, "tokens.json")) as f:
        tokens = json.load(f)
    users = [u for u in tokens if u != "checker"]
    body = json.dumps({"resource": "orders-db", "role": "read",
                       "duration": "2h", "reason": "bench"})

    def one(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        ok = 0
        for u in chunk:
            conn.request("POST", "/v1/requests", body,
                         {"Authorization": "Bearer " + tokens[u],
                          "Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            if r.status == 201 and json.loads(data).get("state") == "active":
                ok += 1
            else:
                sys.stderr.write("%s: %d %s\n" % (u, r.status, data[:200]))
        conn.close()
        return ok

    # 32 writers at once so the daemon's group commit batches them
    chunks = [users[i::32] for i in range(32)]
    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        ok = sum(ex.map(one, chunks))
    print("grants active: %d of %d" % (ok, len(users)))
    return 0 if ok == len(users) else 1


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "config":
        write_config(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) == 4 and sys.argv[1] == "grants":
        sys.exit(make_grants(sys.argv[2], int(sys.argv[3])))
    else:
        sys.exit(__doc__)
