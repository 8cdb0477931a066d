#!/bin/sh
# JWT verification throughput vs. raw OpenSSL, same machine, same run.
#   bench/jwt.sh [BUILD_DIR] [SECONDS] [ROUNDS]
# Builds bench/jwt_bench.c against BUILD_DIR/libjitgate_lib.a (default
# build/), then for each round and algorithm runs jwt_verify (the whole
# verification: base64url, JSON, header rules, key lookup, signature,
# claims), the bare primitive in the same process (raw: what `openssl
# speed` times, same key) and `openssl speed` itself for the matching key,
# one right after the other.  Every rate is per second of user CPU time
# (openssl speed's divisor), so other people's load on a shared machine
# does not count against either side.  Prints each round and the median
# ratio per algorithm against openssl speed (target >= 0.8, design 14) and
# against the in-process primitive.  Single-threaded on both sides.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=${1:-$src/build}
secs=${2:-3}
rounds=${3:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cc -std=c17 -O2 -D_GNU_SOURCE -I"$src/src" -o "$out/jwt_bench" "$here/jwt_bench.c" \
	"$build/libjitgate_lib.a" \
	$(pkg-config --libs libmicrohttpd libevent libevent_pthreads libevent_openssl \
		jansson openssl yaml-0.1 libcurl sqlite3 libpq) -lpthread -lm

speed_of() { # ALG -> openssl speed's verify/s for its key type
	case $1 in
	RS256 | PS256)
		openssl speed -seconds "$secs" rsa2048 2>/dev/null |
			awk '/^rsa  *2048 bits/ {print $NF}' ;;
	ES256)
		openssl speed -seconds "$secs" ecdsap256 2>/dev/null |
			awk '/256 bits ecdsa \(nistp256\)/ {print $NF}' ;;
	EdDSA)
		openssl speed -seconds "$secs" ed25519 2>/dev/null |
			awk '/253 bits EdDSA \(Ed25519\)/ {print $NF}' ;;
	esac
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '%-6s %-6s %12s %12s %12s %7s %7s\n' round alg jitgate/s raw/s openssl/s vs-ossl vs-raw
: >"$out/rounds"
for r in $(seq 1 "$rounds"); do
	for alg in RS256 PS256 ES256 EdDSA; do
		"$out/jwt_bench" "$secs" "$alg" >"$out/ours.txt"
		o=$(awk -v a="$alg" '$1 == a {sub("/s", "", $2); print $2}' "$out/ours.txt")
		w=$(awk -v a="raw-$alg" '$1 == a {sub("/s", "", $2); print $2}' "$out/ours.txt")
		s=$(speed_of "$alg")
		echo "$alg $o $w $s" >>"$out/rounds"
		awk -v r="$r" -v a="$alg" -v o="$o" -v w="$w" -v s="$s" 'BEGIN {
			printf "%-6s %-6s %12.0f %12.0f %12.0f %7.2f %7.2f\n", r, a, o, w, s, o / s, o / w }'
	done
done
echo
echo "median over $rounds rounds (target: >= 0.80 of openssl speed, design 14)"
for alg in RS256 PS256 ES256 EdDSA; do
	vs=$(awk -v a="$alg" '$1 == a { print $2 / $4 }' "$out/rounds" | sort -g |
		sed -n "$(((rounds + 1) / 2))p")
	vr=$(awk -v a="$alg" '$1 == a { print $2 / $3 }' "$out/rounds" | sort -g |
		sed -n "$(((rounds + 1) / 2))p")
	mo=$(awk -v a="$alg" '$1 == a { print $2 }' "$out/rounds" | sort -g |
		sed -n "$(((rounds + 1) / 2))p")
	ms=$(awk -v a="$alg" '$1 == a { print $4 }' "$out/rounds" | sort -g |
		sed -n "$(((rounds + 1) / 2))p")
	awk -v a="$alg" -v vs="$vs" -v vr="$vr" 'BEGIN {
		printf "%-6s vs openssl speed %.2f  vs raw primitive %.2f  %s\n", a, vs, vr,
			(vs >= 0.8 ? "met" : "NOT MET") }'
	# machine-readable (bench/all.sh): median ratio, median rates
	echo "RESULT jwt alg=$alg rounds=$rounds seconds=$secs vs_openssl=$vs vs_raw=$vr jitgate_per_s=$mo openssl_per_s=$ms"
done
"$out/jwt_bench" "$secs" cached >"$out/all.txt" 2>/dev/null
printf '%-6s %12s   (oidc_authenticate, same token again: the verified-token cache)\n' cached \
	"$(awk '$1 == "cached" {sub("/s", "", $2); print $2}' "$out/all.txt")"
