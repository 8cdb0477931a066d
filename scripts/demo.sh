#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running jitgate: installs
# what is missing, builds, and serves the demo config on SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
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
exec build/jitgate serve -c examples/demo.yaml
