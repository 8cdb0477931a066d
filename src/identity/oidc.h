/* OIDC bearer tokens: the verifier the API and the gateway share.  Holds
 * the issuer's key set (fetched at start, refreshed on a schedule by an
 * internal thread, which also refetches it when a token names an unknown
 * kid, at most once per OIDC_KID_REFETCH_WINDOW_S; persisted through store
 * hooks) and a bounded cache of verified tokens.  Only oidc_new and the
 * refresh thread ever talk to the IdP. */
#ifndef JG_IDENTITY_OIDC_H
#define JG_IDENTITY_OIDC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/err.h"

#define OIDC_REFRESH_MIN_S 60          /* never refetch more often on schedule */
#define OIDC_REFRESH_MAX_S (24 * 3600) /* never keep a key set longer unchecked */
#define OIDC_REFRESH_DEFAULT_S 900     /* when the IdP sends no max-age */
#define OIDC_RETRY_MIN_S 5             /* first retry after a failed fetch */
#define OIDC_RETRY_MAX_S 300
#define OIDC_KID_REFETCH_WINDOW_S 10   /* unknown-kid refetches: one per window */
#define OIDC_CACHE_SLOTS 4096          /* verified-token cache entries */

/* Opaque: verifier + JWKS cache; oidc_authenticate is thread-safe. */
struct oidc;

/* Persistence of the last good JWKS (text), provided by the store.  Called
 * from oidc_new and from the refresh thread, never concurrently. */
struct oidc_store_hooks {
	void *ctx;
	/* JG_ERR_NOTFOUND when none; caller frees *jwks_json_out */
	int (*load)(void *ctx, const char *issuer, char **jwks_json_out);
	int (*save)(void *ctx, const char *issuer, const char *jwks_json);
};

/* A verified subject.  Owned; oidc_identity_clear frees.  groups are bare
 * names (policies write them group:NAME). */
struct oidc_identity {
	char *subject;
	char **groups;
	size_t ngroups;
	int64_t exp_s;
};

/* Why a token was refused, for the auth.failed audit event: the reason
 * and what the token claimed, when readable.  Never the token itself. */
struct oidc_failure {
	char reason[256];
	char iss[256];
	char kid[128];
	char sub[256];
};

/* Builds the verifier from cfg (copied) and hooks (copied; may be NULL).
 * Fetches discovery and the JWKS now.  When the IdP cannot be reached it
 * starts with the key set saved through hooks->load; when there is none
 * either it still starts (logging an error: OIDC tokens are refused until
 * the IdP answers, static tokens keep working) and the refresh thread keeps
 * retrying.  Fails only on an invalid configuration (JG_ERR_INVALID) or
 * out of memory.  Caller owns *out (oidc_free). */
int oidc_new(const struct oidc_cfg *cfg, const struct oidc_store_hooks *hooks,
	     struct oidc **out) JG_WUR;

/* Verifies token (NUL-terminated) at now_s and maps it to out.  0 on
 * success (caller clears out); JG_ERR_AUTH (or JG_ERR_TOOBIG) on refusal
 * with fail filled.  Never blocks on the network: a token that names an
 * unknown kid is refused at once and wakes the refresh thread, so a later
 * token with that kid verifies once the new key set is installed.  Safe to
 * call from an event loop or an HTTP worker (it takes short mutexes and
 * does CPU work only). */
int oidc_authenticate(struct oidc *o, const char *token, int64_t now_s,
		      struct oidc_identity *out, struct oidc_failure *fail) JG_WUR;

/* The verified-token cache slot token would occupy (for tests that make
 * two tokens share one: a slot is only served to the token whose whole
 * SHA-256 it holds, compared in constant time). */
size_t oidc_cache_slot(const char *token);

/* Verifies the ID token of a browser sign-in (design section 10): signed
 * by the issuer's keys, aud holding client_id, nonce equal to the one the
 * sign-in sent; subject and groups mapped as for API tokens.  May fetch
 * the key set once (a new kid): call it off the HTTP threads. */
int oidc_verify_id_token(struct oidc *o, const char *token, int64_t now_s,
			 const char *client_id, const char *nonce,
			 struct oidc_identity *out, struct oidc_failure *fail) JG_WUR;

void oidc_identity_clear(struct oidc_identity *id);
/* Stops the refresh thread and frees everything. */
void oidc_free(struct oidc *o);

/* The kids of the usable keys right now, as a new JSON array (null for a
 * key without kid); NULL on no memory.  For `jitgate selftest`, which
 * compares them with what the IdP publishes. */
json_t *oidc_key_ids(struct oidc *o);
/* Usable keys right now (for /readyz and tests). */
size_t oidc_key_count(struct oidc *o);
/* Refetches the JWKS now, ignoring the schedule (tests, SIGHUP). */
int oidc_refresh_now(struct oidc *o) JG_WUR;

#endif
