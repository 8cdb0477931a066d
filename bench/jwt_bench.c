/* Verifications per second of jwt_verify for RS256, PS256, ES256 and EdDSA
 * (full path: base64url, JSON, header rules, signature, claims), and of
 * oidc_authenticate's cached path.  Built by bench/jwt.sh against
 * build/libjitgate_lib.a.  Prints "ALG N/s" lines. */
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity/b64url.h"
#include "identity/jwk.h"
#include "identity/jwt.h"
#include "identity/oidc.h"
#include "util/log.h"
#include "util/timeutil.h"

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

static double rate(const char *tok, struct jwks *keys, double seconds)
{
	static const char *const aud[] = {"jitgate"};
	struct jwt_rules r = {.algs = JWS_ALG_ALL, .issuer = ISS,
			      .audiences = aud, .naudiences = 1, .leeway_s = 60};
	int64_t start = time_mono_ns(), end = start + (int64_t)(seconds * 1e9), now;
	long n = 0;
	int64_t t = (int64_t)time(NULL);

	do {
		for (int i = 0; i < 64; i++) {
			struct jwt_result res;

			if (jwt_verify(tok, strlen(tok), keys, &r, t, &res) != 0) {
				fprintf(stderr, "verify failed: %s\n", res.reason);
				exit(1);
			}
			jwt_result_clear(&res);
		}
		n += 64;
		now = time_mono_ns();
	} while (now < end);
	return (double)n / ((double)(now - start) / 1e9);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3.0;
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
		char *tok = sign_token(cases[i].k, cases[i].alg, cases[i].kid);

		printf("%s %.0f/s\n", cases[i].alg, rate(tok, keys, secs));
		fflush(stdout);
		free(tok);
	}
	{
		/* the cached path of oidc_authenticate: same token again */
		char *aud[] = {"jitgate"};
		struct oidc_cfg cfg = {.enabled = true, .issuer = ISS, .audiences = aud,
				       .naudiences = 1, .leeway_s = 60};
		struct oidc_store_hooks hooks = {NULL, load_jwks, save_jwks};
		struct oidc *o = NULL;
		char *tok = sign_token(rsa, "RS256", "r");
		int64_t start, end, now;
		long n = 0;

		stored_jwks = doc;
		log_set_level(LOG_LVL_ERROR);
		if (oidc_new(&cfg, &hooks, &o) != 0)
			abort();
		start = time_mono_ns();
		end = start + (int64_t)(secs * 1e9);
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
			now = time_mono_ns();
		} while (now < end);
		printf("cached %.0f/s\n", (double)n / ((double)(now - start) / 1e9));
		free(tok);
		oidc_free(o);
	}
	return 0;
}
