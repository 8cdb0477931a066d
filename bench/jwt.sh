#!/bin/sh
# JWT verification throughput vs. raw OpenSSL, same machine, same run.
#   bench/jwt.sh [BUILD_DIR] [SECONDS]
# Builds bench/jwt_bench.c against BUILD_DIR/libjitgate_lib.a (default
# build/), runs it and `openssl speed` for the matching primitives, and
# prints each ratio (target >= 0.8).  Single-threaded on both sides.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=${1:-$src/build}
secs=${2:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cc -std=c17 -O2 -D_GNU_SOURCE -I"$src/src" -o "$out/jwt_bench" "$here/jwt_bench.c" \
	"$build/libjitgate_lib.a" \
	$(pkg-config --libs libmicrohttpd libevent libevent_pthreads libevent_openssl \
		jansson openssl yaml-0.1 libcurl sqlite3 libpq) -lpthread -lm

"$out/jwt_bench" "$secs" > "$out/ours.txt"
openssl speed -seconds "$secs" rsa2048 ecdsap256 ed25519 > "$out/speed.txt" 2>/dev/null

# verify/s columns of `openssl speed`
rsa=$(awk '/^rsa  *2048 bits/ {print $NF}' "$out/speed.txt")
ecdsa=$(awk '/256 bits ecdsa \(nistp256\)/ {print $NF}' "$out/speed.txt")
ed=$(awk '/253 bits EdDSA \(Ed25519\)/ {print $NF}' "$out/speed.txt")

ours() { awk -v a="$1" '$1 == a {sub("/s", "", $2); print $2}' "$out/ours.txt"; }
printf '%-8s %14s %14s %7s\n' alg jitgate/s openssl/s ratio
for pair in "RS256 $rsa" "PS256 $rsa" "ES256 $ecdsa" "EdDSA $ed"; do
	set -- $pair
	o=$(ours "$1")
	printf '%-8s %14s %14s %7s\n' "$1" "$o" "$2" \
		"$(awk -v o="$o" -v r="$2" 'BEGIN { printf "%.2f", o / r }')"
done
printf '%-8s %14s\n' cached "$(ours cached)"
