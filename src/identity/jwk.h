/* JSON Web Keys (RFC 7517/7518) → OpenSSL public keys, for signature
 * verification only.  A key is either fully validated or skipped with a
 * reason; nothing is ever half-used. */
#ifndef JG_IDENTITY_JWK_H
#define JG_IDENTITY_JWK_H

#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define JWKS_JSON_MAX (256 * 1024) /* bytes of a JWKS document */
#define JWKS_KEYS_MAX 64           /* keys in one set */
#define JWK_KID_MAX 127            /* characters of a kid */
#define JWK_RSA_MIN_BITS 2048
#define JWK_RSA_MAX_BITS 8192      /* bounds the cost of one verification */
#define JWK_VCTX_POOL 4            /* verify contexts per key and algorithm */

/* The signature algorithms jitgate can verify; a bit mask of them is an
 * allowlist.  HS* and none have no value here on purpose. */
enum jws_alg {
	JWS_ALG_INVALID = 0,
	JWS_RS256 = 1 << 0,
	JWS_PS256 = 1 << 1,
	JWS_ES256 = 1 << 2,
	JWS_EDDSA = 1 << 3,
};
#define JWS_ALG_ALL (JWS_RS256 | JWS_PS256 | JWS_ES256 | JWS_EDDSA)

enum jwk_kty { JWK_KTY_RSA, JWK_KTY_EC_P256, JWK_KTY_ED25519 };

/* Exact, case-sensitive name → alg; JWS_ALG_INVALID for anything else. */
enum jws_alg jws_alg_from_name(const char *name);
const char *jws_alg_name(enum jws_alg alg);

struct jwk {
	char *kid;          /* NULL when the key has none */
	enum jwk_kty kty;
	unsigned algs;      /* algorithms this key may verify (mask) */
	size_t sig_len;     /* exact signature length in bytes */
	EVP_PKEY *pkey;
	/* Verify contexts set up once per key for RS256, PS256 and ES256 (NULL
	 * where the key may not use that algorithm), JWK_VCTX_POOL of each:
	 * setting one up per token cost about as much as half an RSA-2048
	 * verification.  A verification claims a free one by setting its
	 * vbusy flag (EVP_PKEY_verify may be called again and again on a
	 * context with the same parameters) and releases it after; when all
	 * are taken it verifies with a duplicate of the first.  The flags are
	 * the only part of a parsed key that changes (jwt.c). */
	EVP_PKEY_CTX *vctx[3][JWK_VCTX_POOL];
	atomic_bool vbusy[3][JWK_VCTX_POOL];
};

/* Index into jwk.vctx for alg, or -1 for algorithms verified without one
 * (EdDSA signs the message itself, not a digest). */
int jwk_vctx_index(enum jws_alg alg);

/* A parsed key set.  Immutable once built, so many threads may verify with
 * it at once; reference-counted so a refresh can swap it under readers. */
struct jwks;

/* Called once per skipped key: index in "keys", its kid when readable (else
 * NULL) and why.  Used to log skips; never receives key material. */
typedef void (*jwks_skip_fn)(void *ctx, size_t index, const char *kid,
			     const char *reason);

/* Parses a JWKS ({"keys":[...]}) or, when single_ok, also a lone JWK.  Keys
 * that are malformed, symmetric, private, too small, meant for encryption,
 * with an algorithm that does not fit, or sharing a kid with another key are
 * skipped (reported through skip, which may be NULL).  Fails with
 * JG_ERR_PARSE only when the document itself is not a key set; a set with
 * zero usable keys is returned (check jwks_count).  Caller owns *out
 * (jwks_unref). */
int jwks_parse(const char *json, size_t len, bool single_ok, jwks_skip_fn skip,
	       void *skip_ctx, struct jwks **out) JG_WUR;
/* Usable keys in the set. */
size_t jwks_count(const struct jwks *set);
const struct jwk *jwks_at(const struct jwks *set, size_t i);
/* The key a token names: with a kid, the key with exactly that kid (which
 * may still not fit alg: the caller checks); without one, the only key
 * that fits alg, or NULL when there are several or none. */
const struct jwk *jwks_find(const struct jwks *set, const char *kid,
			    enum jws_alg alg);
struct jwks *jwks_ref(struct jwks *set);
void jwks_unref(struct jwks *set);

#endif
