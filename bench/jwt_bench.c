/* Verifications per second of jwt_verify for RS256, PS256, ES256 and EdDSA
 * (full path: base64url, JSON, header rules, signature, claims), of the
 * bare primitive `openssl speed` times (raw-ALG), and of
 * oidc_authenticate's cached path.  Built by bench/jwt.sh against
 * build/libjitgate_lib.a.  Prints "ALG N/s" lines.
 *
 * Rates are per second of this thread's user CPU time, which is what
 * `openssl speed` divides by too (unless -elapsed): on a machine shared
 * with other work, wall time would charge us for the time others ran. */
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "identity/b64url.h"
#include "identity/jwk.h"
#include "identity/jwt.h"
#include "identity/oidc.h"
#include "util/log.h"

/* nothing listens there: oidc_new falls back to the stored key set */
#define ISS "http://127.0.0.1:1"

static char *stored_jwks;

static int load_jwks(void *ctx, const char *issuer, char **out)
{
	(void)ctx;
	(void)issuer;
	*out = strdup(stored_jwks);
	return 0;
}

static int save_jwks(void *ctx, const char *issuer, const char *json)
{
	(void)ctx;
	(void)issuer;
	(void)json;
	return 0;
}

static EVP_PKEY *keygen(const char *type)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *k = NULL;

	EVP_PKEY_keygen_init(ctx);
	if (strcmp(type, "RSA") == 0)
		EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048);
	if (strcmp(type, "EC") == 0)
		EVP_PKEY_CTX_set_group_name(ctx, "prime256v1");
	if (EVP_PKEY_keygen(ctx, &k) != 1)
		abort();
	EVP_PKEY_CTX_free(ctx);
	return k;
}

static char *b64bn(EVP_PKEY *k, const char *p)
{
	BIGNUM *bn = NULL;
	unsigned char buf[600];
	int n;

	EVP_PKEY_get_bn_param(k, p, &bn);
	n = BN_bn2bin(bn, buf);
	BN_free(bn);
	return b64url_encode(buf, (size_t)n);
}

static char *jwk_of(EVP_PKEY *k, const char *kid)
{
	char *out = malloc(2048), *a, *b;

	if (EVP_PKEY_is_a(k, "RSA")) {
		a = b64bn(k, OSSL_PKEY_PARAM_RSA_N);
		b = b64bn(k, OSSL_PKEY_PARAM_RSA_E);
		snprintf(out, 2048, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}", kid, a, b);
	} else if (EVP_PKEY_is_a(k, "EC")) {
		unsigned char pt[65];
		size_t l;

		EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, 65, &l);
		a = b64url_encode(pt + 1, 32);
		b = b64url_encode(pt + 33, 32);
		snprintf(out, 2048, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}", kid, a, b);
	} else {
		unsigned char pub[32];
		size_t l = 32;

		EVP_PKEY_get_raw_public_key(k, pub, &l);
		a = b64url_encode(pub, 32);
		b = NULL;
		snprintf(out, 2048, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"%s\",\"x\":\"%s\"}", kid, a);
	}
	free(a);
	free(b);
	return out;
}

static char *sign_token(EVP_PKEY *k, const char *alg, const char *kid)
{
	char hdr[128], pl[512], *h, *p, *input, *tok, *s;
	unsigned char sig[512], raw[64];
	size_t sl = sizeof(sig);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	bool ed = strcmp(alg, "EdDSA") == 0;

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"at+jwt\"}", alg, kid);
	snprintf(pl, sizeof(pl), "{\"iss\":\"" ISS "\",\"aud\":\"jitgate\","
		 "\"sub\":\"alice\",\"groups\":[\"engineering\",\"sre\"],\"exp\":%lld,"
		 "\"iat\":%lld,\"jti\":\"0123456789abcdef\",\"scope\":\"api\"}",
		 (long long)time(NULL) + 3600, (long long)time(NULL));
	h = b64url_encode((unsigned char *)hdr, strlen(hdr));
	p = b64url_encode((unsigned char *)pl, strlen(pl));
	input = malloc(strlen(h) + strlen(p) + 2);
	sprintf(input, "%s.%s", h, p);
	EVP_DigestSignInit_ex(m, &pc, ed ? NULL : "SHA256", NULL, NULL, k, NULL);
	if (strcmp(alg, "PS256") == 0) {
		EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32);
	}
	if (EVP_DigestSign(m, sig, &sl, (unsigned char *)input, strlen(input)) != 1)
		abort();
	EVP_MD_CTX_free(m);
	if (strcmp(alg, "ES256") == 0) {
		const unsigned char *q = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)sl);
		const BIGNUM *r, *ss;

		ECDSA_SIG_get0(es, &r, &ss);
		BN_bn2binpad(r, raw, 32);
		BN_bn2binpad(ss, raw + 32, 32);
		ECDSA_SIG_free(es);
		s = b64url_encode(raw, 64);
	} else {
		s = b64url_encode(sig, sl);
	}
	tok = malloc(strlen(input) + strlen(s) + 2);
	sprintf(tok, "%s.%s", input, s);
	free(h);
	free(p);
	free(input);
	free(s);
	return tok;
}

/* What `openssl speed` times for the same key: one prepared context, a
 * short message (36 bytes for RSA, 20 for ECDSA and EdDSA), the bare
 * primitive.  Run in this process next to jwt_verify as a second baseline
 * that the machine's load hits the same way. */
struct raw {
	EVP_PKEY_CTX *pctx;
	EVP_MD_CTX *mctx; /* EdDSA */
	unsigned char sig[512], msg[36];
	size_t siglen, msglen;
};

static void raw_setup(struct raw *w, EVP_PKEY *k)
{
	memset(w, 0, sizeof(*w));
	memset(w->msg, 0x5a, sizeof(w->msg));
	w->siglen = sizeof(w->sig);
	if (EVP_PKEY_is_a(k, "ED25519")) {
		EVP_MD_CTX *s = EVP_MD_CTX_new();

		w->msglen = 20;
		w->mctx = EVP_MD_CTX_new();
		if (EVP_DigestSignInit_ex(s, NULL, NULL, NULL, NULL, k, NULL) != 1 ||
		    EVP_DigestSign(s, w->sig, &w->siglen, w->msg, w->msglen) != 1 ||
		    EVP_DigestVerifyInit_ex(w->mctx, NULL, NULL, NULL, NULL, k, NULL) != 1)
			abort();
		EVP_MD_CTX_free(s);
		return;
	}
	{
		EVP_PKEY_CTX *s = EVP_PKEY_CTX_new(k, NULL);

		w->msglen = EVP_PKEY_is_a(k, "RSA") ? 36 : 20;
		w->pctx = EVP_PKEY_CTX_new(k, NULL);
		if (EVP_PKEY_sign_init(s) != 1 ||
		    EVP_PKEY_sign(s, w->sig, &w->siglen, w->msg, w->msglen) != 1 ||
		    EVP_PKEY_verify_init(w->pctx) != 1)
			abort();
		EVP_PKEY_CTX_free(s);
	}
}

__attribute__((noinline)) static void raw_verify(struct raw *w)
{
	int ok = w->mctx ? EVP_DigestVerify(w->mctx, w->sig, w->siglen, w->msg, w->msglen)
			 : EVP_PKEY_verify(w->pctx, w->sig, w->siglen, w->msg, w->msglen);

	if (ok != 1) {
		fprintf(stderr, "raw verify failed\n");
		exit(1);
	}
}

static void raw_clear(struct raw *w)
{
	EVP_PKEY_CTX_free(w->pctx);
	EVP_MD_CTX_free(w->mctx);
}

__attribute__((noinline)) static void verify_once(const char *tok, struct jwks *keys, int64_t t)
{
	static const char *const aud[] = {"jitgate"};
	struct jwt_rules r = {.algs = JWS_ALG_ALL, .issuer = ISS,
			      .audiences = aud, .naudiences = 1, .leeway_s = 60};
	struct jwt_result res;

	if (jwt_verify(tok, strlen(tok), keys, &r, t, &res) != 0) {
		fprintf(stderr, "verify failed: %s\n", res.reason);
		exit(1);
	}
	jwt_result_clear(&res);
}

/* User CPU seconds of this thread. */
static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

/* Verifications per second of tok (or of the raw primitive when w is set)
 * over about `seconds`. */
static double rate(const char *tok, struct jwks *keys, struct raw *w, double seconds)
{
	double start = cpu_s(), now;
	long n = 0;
	int64_t t = (int64_t)time(NULL);

	do {
		for (int i = 0; i < 64; i++) {
			if (w)
				raw_verify(w);
			else
				verify_once(tok, keys, t);
		}
		n += 64;
		now = cpu_s();
	} while (now - start < seconds);
	return (double)n / (now - start);
}

/* jwt_bench SECONDS [NAME...]    rates of jwt_verify and of the raw
 *                                primitive ("raw-ALG"), alternating, for
 *                                each ALG named, and of the cached path
 *                                when "cached" is named (all when none is)
 * jwt_bench --count N NAME       exactly N verifications of NAME (an ALG,
 *                                "raw-ALG"), no timing: for callgrind */
int main(int argc, char **argv)
{
	bool count_mode = argc > 3 && strcmp(argv[1], "--count") == 0;
	bool want_cached = !count_mode && argc <= 2;
	double secs = !count_mode && argc > 1 ? atof(argv[1]) : 3.0;
	EVP_PKEY *rsa = keygen("RSA"), *ec = keygen("EC"), *ed = keygen("ED25519");
	char *j1 = jwk_of(rsa, "r"), *j2 = jwk_of(ec, "e"), *j3 = jwk_of(ed, "d");
	char doc[8192];
	struct jwks *keys = NULL;
	const struct {
		const char *alg;
		EVP_PKEY *k;
		const char *kid;
	} cases[] = {{"RS256", rsa, "r"}, {"PS256", rsa, "r"}, {"ES256", ec, "e"}, {"EdDSA", ed, "d"}};

	snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s]}", j1, j2, j3);
	if (jwks_parse(doc, strlen(doc), false, NULL, NULL, &keys) != 0 || jwks_count(keys) != 3)
		abort();
	for (size_t i = 0; i < 4; i++) {
		const char *name = count_mode ? argv[3] : NULL;
		bool raw_only = false, wanted = !count_mode && argc <= 2;
		char *tok;
		struct raw w;

		if (name && strncmp(name, "raw-", 4) == 0) {
			raw_only = true;
			name += 4;
		}
		for (int j = 2; !count_mode && j < argc; j++)
			wanted = wanted || strcmp(argv[j], cases[i].alg) == 0;
		if (name ? strcmp(name, cases[i].alg) != 0 : !wanted)
			continue;
		tok = sign_token(cases[i].k, cases[i].alg, cases[i].kid);
		raw_setup(&w, cases[i].k);
		if (count_mode) {
			long n = atol(argv[2]);
			int64_t t = (int64_t)time(NULL);

			for (long k = 0; k < n; k++) {
				if (raw_only)
					raw_verify(&w);
				else
					verify_once(tok, keys, t);
			}
			printf("%s%s %ld verifications\n", raw_only ? "raw-" : "",
			       cases[i].alg, n);
		} else {
			printf("%s %.0f/s\n", cases[i].alg, rate(tok, keys, NULL, secs));
			printf("raw-%s %.0f/s\n", cases[i].alg, rate(NULL, NULL, &w, secs));
		}
		fflush(stdout);
		raw_clear(&w);
		free(tok);
	}
	for (int j = 2; !count_mode && j < argc; j++)
		want_cached = want_cached || strcmp(argv[j], "cached") == 0;
	if (!want_cached)
		return 0;
	{
		/* the cached path of oidc_authenticate: same token again */
		char *aud[] = {"jitgate"};
		struct oidc_cfg cfg = {.enabled = true, .issuer = ISS, .audiences = aud,
				       .naudiences = 1, .leeway_s = 60};
		struct oidc_store_hooks hooks = {NULL, load_jwks, save_jwks};
		struct oidc *o = NULL;
		char *tok = sign_token(rsa, "RS256", "r");
		double start, now;
		long n = 0;

		stored_jwks = doc;
		log_set_level(LOG_LVL_ERROR);
		if (oidc_new(&cfg, &hooks, &o) != 0)
			abort();
		start = cpu_s();
		do {
			for (int i = 0; i < 256; i++) {
				struct oidc_identity id;
				struct oidc_failure f;

				if (oidc_authenticate(o, tok, (int64_t)time(NULL), &id, &f) != 0) {
					fprintf(stderr, "cached: %s\n", f.reason);
					exit(1);
				}
				oidc_identity_clear(&id);
			}
			n += 256;
			now = cpu_s();
		} while (now - start < secs);
		printf("cached %.0f/s\n", (double)n / (now - start));
		free(tok);
		oidc_free(o);
	}
	return 0;
}
