#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running jitgate: installs
# what is missing, builds, and serves the demo config on SQLite.
#   scripts/demo.sh                   the API only
#   scripts/demo.sh --with-postgres   also a throwaway PostgreSQL 15 on
#                                     127.0.0.1:5432 (database "orders",
#                                     roles jit_read / jit_write) behind the
#                                     gateway on 127.0.0.1:6432; it is
#                                     stopped and removed when the demo ends
set -euo pipefail
cd "$(dirname "$0")/.."
with_pg=0
case "${1:-}" in
  --with-postgres) with_pg=1 ;;
  "") ;;
  -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/demo.sh [--with-postgres]" >&2; exit 2 ;;
esac
scripts/deps.sh
scripts/build.sh build
cat <<TXT

jitgate demo: http://127.0.0.1:8700   (database ./jitgate-demo.db)
Demo tokens (see examples/demo.yaml):
  alice        demo-alice-token        engineering: requests access
  bob, carol   demo-bob-token / demo-carol-token   sre: approvers
  dave         demo-dave-token         security: admin
  erin         demo-erin-token         audit: auditor
  billing-svc  demo-billing-svc-token  may call /v1/check for others
Try, in another shell:
  export JITGATE_TOKEN=demo-alice-token
  build/jitgate request orders-db read --for 30m --reason "look at orders"
  build/jitgate list
Stop with Ctrl-C.

TXT
if [ $with_pg -eq 0 ]; then
  exec build/jitgate serve -c examples/demo.yaml
fi

# The same throwaway cluster the tests use (tests/e2e/pgcluster.py):
# initdb, database "orders" with a table "items", roles jit_read and
# jit_write with the passwords below.
pgdir=$(mktemp -d /tmp/jitgate-demo-pg.XXXXXX)
if ss -ltn 2>/dev/null | grep -q '127.0.0.1:5432 \|\*:5432 \|0.0.0.0:5432 '; then
  echo "demo: something already listens on port 5432 (a packaged PostgreSQL?);" \
       "stop it first: service postgresql stop" >&2
  exit 1
fi
python3 tests/e2e/pgcluster.py start "$pgdir" 5432
trap 'python3 tests/e2e/pgcluster.py stop "$pgdir"' EXIT
export ORDERS_READ_PASSWORD=read-pw ORDERS_WRITE_PASSWORD=write-pw
cat <<TXT
PostgreSQL demo cluster: 127.0.0.1:5432 (removed when the demo stops)
Through the gateway, once alice holds orders-db read:
  psql "host=127.0.0.1 port=6432 user=alice password=demo-alice-token dbname=orders-db@read" \\
       -c 'select count(*) from items'

TXT
build/jitgate serve -c examples/demo.yaml
