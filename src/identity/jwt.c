#include "identity/jwt.h"

#include <math.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "identity/b64url.h"
#include "util/crypto.h"
#include "util/jsonfast.h"
#include "util/text.h"

#define JWT_HEADER_MAX 4096 /* decoded bytes of the protected header */
#define NUMERICDATE_MAX 253402300799LL /* 9999-12-31T23:59:59Z */
#define ECDSA_DER_MAX (2 + 2 * (3 + 32)) /* P-256: SEQUENCE of two INTEGERs */

/* Header members that bring their own key or point at one: keys only ever
 * come from the configured JWKS. */
static const char *const key_bearing_members[] = {"jwk", "jku", "x5u", "x5c"};

static int refuse(struct jwt_result *res, int rc, const char *fmt, ...)
	JG_PRINTF(3, 4);

static int refuse(struct jwt_result *res, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	return rc;
}

static void info_from(char *dst, size_t cap, json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);

	if (json_is_string(v))
		text_copy_printable(dst, cap, json_string_value(v));
}

/* One DER INTEGER (minimal: leading zero bytes dropped, one 0x00 added
 * when the top bit is set) of the big-endian n bytes at v; returns the
 * bytes written to out (at most n + 3). */
static size_t der_integer(const uint8_t *v, size_t n, uint8_t *out)
{
	size_t o = 0;

	while (n > 1 && v[0] == 0) {
		v++;
		n--;
	}
	out[o++] = 0x02;
	out[o++] = (uint8_t)(n + (v[0] & 0x80 ? 1 : 0));
	if (v[0] & 0x80)
		out[o++] = 0x00;
	memcpy(out + o, v, n);
	return o + n;
}

/* ES256 signatures are raw r||s (64 bytes); OpenSSL verifies the DER
 * ECDSA-Sig-Value.  Written here directly (a SEQUENCE of two INTEGERs,
 * at most 72 bytes, so every length is short-form) instead of through
 * ECDSA_SIG and two BIGNUMs, which cost four allocations per token. */
static size_t ecdsa_raw_to_der(const uint8_t *sig, size_t siglen,
			       uint8_t der[ECDSA_DER_MAX])
{
	size_t half = siglen / 2, o = 2;

	o += der_integer(sig, half, der + o);
	o += der_integer(sig + half, half, der + o);
	der[0] = 0x30;
	der[1] = (uint8_t)(o - 2);
	return o;
}

/* Verifies digest with one of the key's prepared contexts for alg index
 * vi: a free one of the pool (claimed and released through its vbusy
 * flag), or a duplicate of the first when every one is in use. */
static int verify_prepared(const struct jwk *key, int vi, const uint8_t *sig,
			   size_t siglen, const uint8_t *digest, unsigned int dlen)
{
	/* the flags are the one mutable part of a parsed key (jwk.h); the
	 * key itself lives in a heap-allocated set, never in const storage */
	atomic_bool *busy = (atomic_bool *)key->vbusy[vi];
	EVP_PKEY_CTX *pctx;
	int ok;

	for (int j = 0; j < JWK_VCTX_POOL; j++) {
		if (!key->vctx[vi][j] ||
		    atomic_exchange_explicit(&busy[j], true, memory_order_acquire))
			continue;
		ok = EVP_PKEY_verify(key->vctx[vi][j], sig, siglen, digest, dlen) == 1;
		atomic_store_explicit(&busy[j], false, memory_order_release);
		return ok ? JG_OK : JG_ERR_CRYPTO;
	}
	pctx = EVP_PKEY_CTX_dup(key->vctx[vi][0]);
	ok = pctx && EVP_PKEY_verify(pctx, sig, siglen, digest, dlen) == 1;
	EVP_PKEY_CTX_free(pctx);
	return ok ? JG_OK : JG_ERR_CRYPTO;
}

int jwt_verify_signature(const struct jwk *key, enum jws_alg alg,
			 const uint8_t *msg, size_t msglen, const uint8_t *sig,
			 size_t siglen)
{
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t der[ECDSA_DER_MAX];
	int rc = JG_ERR_CRYPTO;
	const EVP_MD *md = NULL;

	if (!key || !(key->algs & (unsigned)alg) || siglen != key->sig_len)
		return JG_ERR_CRYPTO;
	if (alg == JWS_ES256) {
		if (siglen != 64)
			return JG_ERR_CRYPTO;
		siglen = ecdsa_raw_to_der(sig, siglen, der);
		sig = der;
	}
	if (alg != JWS_EDDSA) {
		md = crypto_sha256_md(); /* fetched once, not per token */
		if (!md)
			goto out;
	}
	if (jwk_vctx_index(alg) >= 0 && key->vctx[jwk_vctx_index(alg)][0]) {
		uint8_t digest[EVP_MAX_MD_SIZE];
		unsigned int dlen = 0;

		if (EVP_Digest(msg, msglen, digest, &dlen, md, NULL) != 1)
			goto out;
		rc = verify_prepared(key, jwk_vctx_index(alg), sig, siglen, digest, dlen);
		goto out;
	}
	mctx = EVP_MD_CTX_new();
	if (!mctx || EVP_DigestVerifyInit(mctx, &pctx, md, NULL, key->pkey) != 1)
		goto out;
	if (alg == JWS_RS256 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	if (alg == JWS_PS256 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) != 1))
		goto out;
	if (EVP_DigestVerify(mctx, sig, siglen, msg, msglen) == 1)
		rc = JG_OK;
out:
	EVP_MD_CTX_free(mctx);
	return rc;
}

/* Reads a NumericDate claim; 1 when present and valid, 0 when absent,
 * negative when malformed. */
static int numeric_date(json_t *claims, const char *name, int64_t *out)
{
	json_t *v = json_object_get(claims, name);
	double d;

	if (!v)
		return 0;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < 0 || i > NUMERICDATE_MAX)
			return -1;
		*out = (int64_t)i;
		return 1;
	}
	if (!json_is_real(v))
		return -1;
	d = json_real_value(v);
	if (!isfinite(d) || d < 0 || d > (double)NUMERICDATE_MAX)
		return -1;
	*out = (int64_t)floor(d);
	return 1;
}

static int check_audience(json_t *claims, const struct jwt_rules *rules,
			  struct jwt_result *res)
{
	json_t *aud = json_object_get(claims, "aud"), *v;
	size_t i;

	if (!aud)
		return refuse(res, JG_ERR_AUTH, "aud missing");
	if (json_is_string(aud)) {
		for (size_t k = 0; k < rules->naudiences; k++)
			if (strcmp(json_string_value(aud), rules->audiences[k]) == 0)
				return JG_OK;
		return refuse(res, JG_ERR_AUTH, "aud does not name this service");
	}
	if (!json_is_array(aud) || json_array_size(aud) == 0)
		return refuse(res, JG_ERR_AUTH, "aud is not a string or array of strings");
	json_array_foreach(aud, i, v)
		if (!json_is_string(v))
			return refuse(res, JG_ERR_AUTH, "aud entry is not a string");
	json_array_foreach(aud, i, v)
		for (size_t k = 0; k < rules->naudiences; k++)
			if (strcmp(json_string_value(v), rules->audiences[k]) == 0)
				return JG_OK;
	return refuse(res, JG_ERR_AUTH, "aud does not name this service");
}

static int check_claims(json_t *claims, const struct jwt_rules *rules,
			int64_t now_s, struct jwt_result *res)
{
	int64_t exp = 0, nbf, iat;
	int r;

	r = numeric_date(claims, "exp", &exp);
	if (r == 0)
		return refuse(res, JG_ERR_AUTH, "exp missing");
	if (r < 0)
		return refuse(res, JG_ERR_AUTH, "exp is not a valid NumericDate");
	if (now_s >= exp + rules->leeway_s)
		return refuse(res, JG_ERR_AUTH, "token expired (exp %lld, now %lld)",
			      (long long)exp, (long long)now_s);
	/* refused while now_s + leeway < nbf or iat > now_s + leeway */
	res->valid_from_s = INT64_MIN;
	r = numeric_date(claims, "nbf", &nbf);
	if (r < 0)
		return refuse(res, JG_ERR_AUTH, "nbf is not a valid NumericDate");
	if (r > 0)
		res->valid_from_s = nbf - rules->leeway_s;
	if (r > 0 && now_s + rules->leeway_s < nbf)
		return refuse(res, JG_ERR_AUTH, "token not valid yet (nbf %lld, now %lld)",
			      (long long)nbf, (long long)now_s);
	r = numeric_date(claims, "iat", &iat);
	if (r < 0)
		return refuse(res, JG_ERR_AUTH, "iat is not a valid NumericDate");
	if (r > 0 && iat - rules->leeway_s > res->valid_from_s)
		res->valid_from_s = iat - rules->leeway_s;
	if (r > 0 && iat > now_s + rules->leeway_s)
		return refuse(res, JG_ERR_AUTH, "token issued in the future (iat %lld, now %lld)",
			      (long long)iat, (long long)now_s);
	if (rules->issuer) {
		json_t *iss = json_object_get(claims, "iss");

		if (!json_is_string(iss))
			return refuse(res, JG_ERR_AUTH, "iss missing");
		if (strcmp(json_string_value(iss), rules->issuer) != 0)
			return refuse(res, JG_ERR_AUTH, "iss is not the configured issuer");
	}
	if (rules->naudiences > 0) {
		r = check_audience(claims, rules, res);
		if (r != JG_OK)
			return r;
	}
	res->exp_s = exp;
	return JG_OK;
}

/* Checks the protected header; returns the algorithm through *alg. */
static int check_header(json_t *hdr, const struct jwt_rules *rules,
			enum jws_alg *alg, struct jwt_result *res)
{
	json_t *a = json_object_get(hdr, "alg");
	json_t *crit = json_object_get(hdr, "crit");
	json_t *typ = json_object_get(hdr, "typ");
	json_t *kid = json_object_get(hdr, "kid");
	const char *name;

	if (!json_is_string(a))
		return refuse(res, JG_ERR_AUTH, "alg missing or not a string");
	name = json_string_value(a);
	if (strcasecmp(name, "none") == 0)
		return refuse(res, JG_ERR_AUTH, "alg none is never accepted");
	if (strncasecmp(name, "HS", 2) == 0)
		return refuse(res, JG_ERR_AUTH, "symmetric alg %s is never accepted",
			      res->info.alg);
	*alg = jws_alg_from_name(name);
	if (*alg == JWS_ALG_INVALID)
		return refuse(res, JG_ERR_AUTH, "alg %s is not supported", res->info.alg);
	if (!(rules->algs & (unsigned)*alg))
		return refuse(res, JG_ERR_AUTH, "alg %s is not in the allowed algorithms",
			      res->info.alg);
	for (size_t i = 0;
	     i < sizeof(key_bearing_members) / sizeof(key_bearing_members[0]); i++)
		if (json_object_get(hdr, key_bearing_members[i]))
			return refuse(res, JG_ERR_AUTH,
				      "token carries its own key reference (%s)",
				      key_bearing_members[i]);
	/* We implement no JWS extension, so any critical one is unknown. */
	if (crit)
		return refuse(res, JG_ERR_AUTH, "unknown critical header (crit)");
	if (typ) {
		static const char *const ok_types[] = {"JWT", "at+jwt",
						       "application/jwt",
						       "application/at+jwt"};
		bool ok = false;

		for (size_t i = 0; json_is_string(typ) &&
				   i < sizeof(ok_types) / sizeof(ok_types[0]); i++)
			ok = ok || strcasecmp(json_string_value(typ), ok_types[i]) == 0;
		if (!ok)
			return refuse(res, JG_ERR_AUTH, "typ is not a JWT access or ID token");
	}
	if (kid && (!json_is_string(kid) || json_string_length(kid) == 0 ||
		    json_string_length(kid) > JWK_KID_MAX))
		return refuse(res, JG_ERR_AUTH, "kid is not a string of 1..127 characters");
	return JG_OK;
}

int jwt_verify(const char *token, size_t len, const struct jwks *keys,
	       const struct jwt_rules *rules, int64_t now_s,
	       struct jwt_result *res)
{
	const char *dot1, *dot2;
	uint8_t *hbuf = NULL, *pbuf = NULL, *sig = NULL;
	size_t hlen, plen, siglen;
	json_t *kid;
	json_error_t jerr;
	const struct jwk *key;
	enum jws_alg alg = JWS_ALG_INVALID;
	int rc;

	memset(res, 0, sizeof(*res));
	if (len > JWT_TOKEN_MAX)
		return refuse(res, JG_ERR_TOOBIG, "token larger than 16 KiB");
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return refuse(res, JG_ERR_AUTH, "not a compact JWS (three parts)");
	if (dot1 == token)
		return refuse(res, JG_ERR_AUTH, "empty header");
	rc = b64url_decode_alloc(token, (size_t)(dot1 - token), JWT_HEADER_MAX,
				 &hbuf, &hlen);
	if (rc != JG_OK) {
		rc = refuse(res, JG_ERR_AUTH, "header is not strict base64url");
		goto out;
	}
	res->header = jsonfast_load((const char *)hbuf, hlen, &jerr);
	if (!json_is_object(res->header)) {
		rc = refuse(res, JG_ERR_AUTH,
			    "header is not a JSON object without duplicate keys");
		goto out;
	}
	info_from(res->info.alg, sizeof(res->info.alg), res->header, "alg");
	info_from(res->info.kid, sizeof(res->info.kid), res->header, "kid");
	rc = check_header(res->header, rules, &alg, res);
	if (rc != JG_OK)
		goto out;
	rc = b64url_decode_alloc(dot1 + 1, (size_t)(dot2 - dot1 - 1), JWT_TOKEN_MAX,
				 &pbuf, &plen);
	if (rc != JG_OK) {
		rc = refuse(res, JG_ERR_AUTH, "payload is not strict base64url");
		goto out;
	}
	res->claims = jsonfast_load((const char *)pbuf, plen, &jerr);
	if (!json_is_object(res->claims)) {
		json_decref(res->claims);
		res->claims = NULL;
		if (!rules->signature_only) {
			rc = refuse(res, JG_ERR_AUTH,
				    "claims are not a JSON object without duplicate keys");
			goto out;
		}
	}
	info_from(res->info.iss, sizeof(res->info.iss), res->claims, "iss");
	info_from(res->info.sub, sizeof(res->info.sub), res->claims, "sub");
	rc = b64url_decode_alloc(dot2 + 1, len - (size_t)(dot2 + 1 - token),
				 JWT_TOKEN_MAX, &sig, &siglen);
	if (rc == JG_OK && siglen == 0) {
		rc = refuse(res, JG_ERR_AUTH, "signature missing");
		goto out;
	}
	if (rc != JG_OK) {
		rc = refuse(res, JG_ERR_AUTH, "signature is not strict base64url");
		goto out;
	}
	kid = json_object_get(res->header, "kid");
	key = jwks_find(keys, kid ? json_string_value(kid) : NULL, alg);
	if (!key) {
		rc = kid ? refuse(res, JG_ERR_NOTFOUND, "no key with kid \"%s\"",
				  res->info.kid)
			 : refuse(res, JG_ERR_NOTFOUND,
				  "token has no kid and no single key fits %s",
				  res->info.alg);
		goto out;
	}
	if (!(key->algs & (unsigned)alg)) {
		rc = refuse(res, JG_ERR_AUTH, "alg %s does not fit key \"%s\"",
			    res->info.alg, res->info.kid);
		goto out;
	}
	/* The signature covers the encoded header and payload as sent. */
	if (jwt_verify_signature(key, alg, (const uint8_t *)token,
				 (size_t)(dot2 - token), sig, siglen) != JG_OK) {
		rc = refuse(res, JG_ERR_AUTH, "signature does not verify");
		goto out;
	}
	rc = rules->signature_only ? JG_OK : check_claims(res->claims, rules, now_s, res);
out:
	free(hbuf);
	free(pbuf);
	free(sig);
	return rc;
}

void jwt_result_clear(struct jwt_result *res)
{
	json_decref(res->header);
	json_decref(res->claims);
	res->header = NULL;
	res->claims = NULL;
}
