/* Test helpers shared by the identity unit tests: keys generated at test
 * time with OpenSSL, their public JWKs, and tokens signed here. */
#ifndef JG_TEST_JWT_UTIL_H
#define JG_TEST_JWT_UTIL_H

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "identity/b64url.h"
#include "identity/jwk.h"

#define TK_UNUSED __attribute__((unused))

static TK_UNUSED EVP_PKEY *tk_keygen(const char *type, int bits)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (!ctx || EVP_PKEY_keygen_init(ctx) != 1)
		abort();
	if (strcmp(type, "RSA") == 0 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) != 1)
		abort();
	if (strcmp(type, "EC") == 0 &&
	    EVP_PKEY_CTX_set_group_name(ctx, "prime256v1") != 1)
		abort();
	if (EVP_PKEY_keygen(ctx, &pkey) != 1)
		abort();
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static TK_UNUSED char *tk_b64_bn(EVP_PKEY *pkey, const char *param)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1100];
	int n;

	if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
		abort();
	n = BN_bn2bin(bn, buf);
	BN_free(bn);
	return b64url_encode(buf, (size_t)n);
}

/* The public JWK of pkey; alg may be NULL. */
static TK_UNUSED json_t *tk_jwk(EVP_PKEY *pkey, const char *kid, const char *alg)
{
	json_t *j = json_object();
	char *s;

	if (EVP_PKEY_is_a(pkey, "RSA")) {
		json_object_set_new(j, "kty", json_string("RSA"));
		s = tk_b64_bn(pkey, OSSL_PKEY_PARAM_RSA_N);
		json_object_set_new(j, "n", json_string(s));
		free(s);
		s = tk_b64_bn(pkey, OSSL_PKEY_PARAM_RSA_E);
		json_object_set_new(j, "e", json_string(s));
		free(s);
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		unsigned char pt[65];
		size_t len = 0;

		if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
						    pt, sizeof(pt), &len) != 1 || len != 65)
			abort();
		json_object_set_new(j, "kty", json_string("EC"));
		json_object_set_new(j, "crv", json_string("P-256"));
		s = b64url_encode(pt + 1, 32);
		json_object_set_new(j, "x", json_string(s));
		free(s);
		s = b64url_encode(pt + 33, 32);
		json_object_set_new(j, "y", json_string(s));
		free(s);
	} else {
		unsigned char pub[32];
		size_t len = sizeof(pub);

		if (EVP_PKEY_get_raw_public_key(pkey, pub, &len) != 1)
			abort();
		json_object_set_new(j, "kty", json_string("OKP"));
		json_object_set_new(j, "crv", json_string("Ed25519"));
		s = b64url_encode(pub, len);
		json_object_set_new(j, "x", json_string(s));
		free(s);
	}
	if (kid)
		json_object_set_new(j, "kid", json_string(kid));
	if (alg)
		json_object_set_new(j, "alg", json_string(alg));
	json_object_set_new(j, "use", json_string("sig"));
	return j;
}

/* Signs the JWS signing input with pkey as alg ("RS256", "PS256", "ES256",
 * "EdDSA") and returns the base64url signature. */
static TK_UNUSED char *tk_sig(EVP_PKEY *pkey, const char *alg, const char *input)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *p = NULL;
	unsigned char sig[1024], raw[64];
	size_t len = sizeof(sig);
	bool ed = strcmp(alg, "EdDSA") == 0;

	if (EVP_DigestSignInit_ex(m, &p, ed ? NULL : "SHA256", NULL, NULL, pkey, NULL) != 1)
		abort();
	if (strcmp(alg, "PS256") == 0 &&
	    (EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(p, 32) != 1))
		abort();
	if (EVP_DigestSign(m, sig, &len, (const unsigned char *)input, strlen(input)) != 1)
		abort();
	EVP_MD_CTX_free(m);
	if (strcmp(alg, "ES256") == 0) {
		const unsigned char *q = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)len);
		const BIGNUM *r, *s;

		ECDSA_SIG_get0(es, &r, &s);
		BN_bn2binpad(r, raw, 32);
		BN_bn2binpad(s, raw + 32, 32);
		ECDSA_SIG_free(es);
		return b64url_encode(raw, 64);
	}
	return b64url_encode(sig, len);
}

/* header.payload.signature from JSON texts; pkey NULL → sig_b64 used as is. */
static TK_UNUSED char *tk_token_raw(const char *header, const char *payload,
				    EVP_PKEY *pkey, const char *alg)
{
	char *h = b64url_encode((const unsigned char *)header, strlen(header));
	char *p = b64url_encode((const unsigned char *)payload, strlen(payload));
	char *input = malloc(strlen(h) + strlen(p) + 2), *sig, *tok;

	sprintf(input, "%s.%s", h, p);
	sig = pkey ? tk_sig(pkey, alg, input) : strdup("");
	tok = malloc(strlen(input) + strlen(sig) + 2);
	sprintf(tok, "%s.%s", input, sig);
	free(h);
	free(p);
	free(input);
	free(sig);
	return tok;
}

/* HS256 over header.payload with secret: what an attacker does with a
 * public key in "algorithm confusion". */
static TK_UNUSED char *tk_token_hs256(const char *header, const char *payload,
				      const unsigned char *secret, size_t slen)
{
	char *h = b64url_encode((const unsigned char *)header, strlen(header));
	char *p = b64url_encode((const unsigned char *)payload, strlen(payload));
	char *input = malloc(strlen(h) + strlen(p) + 2), *sig, *tok;
	unsigned char mac[32];
	unsigned int mlen = 32;

	sprintf(input, "%s.%s", h, p);
	HMAC(EVP_sha256(), secret, (int)slen, (unsigned char *)input, strlen(input), mac, &mlen);
	sig = b64url_encode(mac, mlen);
	tok = malloc(strlen(input) + strlen(sig) + 2);
	sprintf(tok, "%s.%s", input, sig);
	free(h);
	free(p);
	free(input);
	free(sig);
	return tok;
}

static TK_UNUSED struct jwks *tk_jwks(json_t *keys_array)
{
	json_t *doc = json_pack("{s:O}", "keys", keys_array);
	char *s = json_dumps(doc, 0);
	struct jwks *set = NULL;

	if (jwks_parse(s, strlen(s), false, NULL, NULL, &set) != 0)
		abort();
	free(s);
	json_decref(doc);
	return set;
}

#endif
