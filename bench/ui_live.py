"""Runs bench/ui_live.mjs against a fresh daemon (SQLite, the e2e
identities plus 80 admin identities for the fan-out clients: a subject
may hold 16 streams).  Usage (from bench/ui_live.sh):
    ui_live.py [RUNS] [CLIENTS]"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import harness  # noqa: E402


def main(runs, clients):
    bench = {"bench%02d" % i: ("tok-bench-%02d-0123456789" % i, ["security"])
             for i in range(80)}
    users = dict(harness.USERS, **bench)
    cfg = ("listen: {LISTEN}\nstorage: {STORAGE}\npending_ttl: 1h\n"
           "admins: [group:security]\nauditors: [group:audit]\n"
           "checkers: [user:svc]\n"
           "limits: {http_connections: 4000, http_connections_per_ip: 4000}\n"
           + harness.identities_yaml(users) + harness.DEFAULT_RESOURCES
           + harness.DEFAULT_POLICIES)
    srv = harness.Server(cfg)
    try:
        env_file = os.path.join(srv.dir, "ui-env.json")
        with open(env_file, "w") as f:
            json.dump({"tokens": {n: t for n, (t, _) in harness.USERS.items()},
                       "bench_tokens": [t for t, _ in bench.values()],
                       "pid": srv.proc.pid, "dir": srv.dir}, f)
        env = dict(os.environ, JG_UI_URL=srv.url, JG_UI_ENV=env_file,
                   JG_BENCH_RUNS=str(runs), JG_BENCH_CLIENTS=str(clients))
        return subprocess.run(["node", os.path.join(HERE, "ui_live.mjs")],
                              cwd=os.path.join(HERE, "..", "tests", "ui"),
                              env=env).returncode
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50,
                  int(sys.argv[2]) if len(sys.argv) > 2 else 1000))
