/* Compact JWS / JWT verification.  Pure: the key set, the rules and the
 * time come in as arguments; no I/O, no globals, so the server, the
 * `token verify` tool, the tests and the fuzzers all run the same code. */
#ifndef JG_IDENTITY_JWT_H
#define JG_IDENTITY_JWT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity/jwk.h"
#include "util/err.h"

#define JWT_TOKEN_MAX (16 * 1024) /* bytes of a compact token */
#define JWT_REASON_MAX 256

struct jwt_rules {
	unsigned algs;                 /* allowlist mask of enum jws_alg */
	const char *issuer;            /* exact iss; NULL: not checked */
	const char *const *audiences;  /* aud must contain one; n == 0: not checked */
	size_t naudiences;
	int64_t leeway_s;              /* for exp, nbf, iat */
	bool signature_only;           /* no claim checks, payload may be any bytes */
};

/* What could be read from a token, verified or not: for audit events and
 * messages.  Never the token or its signature. */
struct jwt_info {
	char alg[16];
	char kid[JWK_KID_MAX + 1];
	char iss[256];
	char sub[256];
};

struct jwt_result {
	json_t *header;  /* owned */
	json_t *claims;  /* owned; NULL with signature_only and a non-JSON payload */
	int64_t exp_s;   /* 0 with signature_only */
	/* the earliest now_s at which nbf and iat pass (INT64_MIN when the
	 * token has neither): with exp_s + leeway, the whole window in which
	 * the time rules accept this token, for a cache of verified tokens */
	int64_t valid_from_s;
	char reason[JWT_REASON_MAX]; /* why it was refused; "" on success */
	struct jwt_info info;
};

/* Verifies token (len bytes) against keys and rules at time now_s.
 * Returns 0 when every check passes; otherwise a negative code with
 * res->reason set: JG_ERR_NOTFOUND when no key has the token's kid (the
 * caller may refetch the key set), JG_ERR_TOOBIG over JWT_TOKEN_MAX,
 * JG_ERR_AUTH for every other refusal.  Always call jwt_result_clear. */
int jwt_verify(const char *token, size_t len, const struct jwks *keys,
	       const struct jwt_rules *rules, int64_t now_s,
	       struct jwt_result *res) JG_WUR;
void jwt_result_clear(struct jwt_result *res);

/* The signature primitive alone, as jwt_verify uses it: sig is the JWS
 * encoding (raw r||s for ES256).  0 when valid, JG_ERR_CRYPTO otherwise.
 * Exposed for the Wycheproof primitive vectors. */
int jwt_verify_signature(const struct jwk *key, enum jws_alg alg,
			 const uint8_t *msg, size_t msglen, const uint8_t *sig,
			 size_t siglen) JG_WUR;

#endif
