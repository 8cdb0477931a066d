#!/usr/bin/env bash
# Installs what jitgate needs to build and test on Debian 12, only what is
# missing (safe to run again).  Runs as root, or uses sudo when available.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev llvm-14
  libmicrohttpd-dev libevent-dev libjansson-dev libyaml-dev
  libcurl4-openssl-dev libsqlite3-dev libpq-dev libssl-dev libcmocka-dev
  python3 curl ca-certificates openssl iproute2
  postgresql postgresql-client pgbouncer nginx-light wrk
  chromium
)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js: the machine's own if it has one (oidc-provider wants >= 20),
# Debian's otherwise.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packaged services must not hold the ports tests use.
  for svc in postgresql pgbouncer nginx; do
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
  done
else
  echo "deps: all Debian packages present"
fi
