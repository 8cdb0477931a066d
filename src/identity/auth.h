/* Bearer-token authentication shared by the API and the gateway: static
 * tokens from the config (compared by SHA-256 digest in constant time) and,
 * when configured, OIDC JWTs verified by identity/oidc. */
#ifndef JG_IDENTITY_AUTH_H
#define JG_IDENTITY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/principal.h"
#include "util/err.h"

#define AUTH_TOKEN_MAX (16 * 1024)

/* An authenticated subject; owns its strings (authn_clear frees them). */
struct authn {
	char *name;
	char **groups;
	size_t ngroups;
	const char *method; /* "static" or "oidc" */
	struct subject subject; /* view over name/groups for the core */
};

/* Why a token was refused: for the auth.failed audit event and the log.
 * Never holds the token or anything derived from it that could replay. */
struct auth_failure {
	char reason[256];
	char iss[256], kid[128], sub[256];
};

/* Optional OIDC verifier: 0 and *out filled, or negative and *fail. */
typedef int (*auth_oidc_fn)(void *ctx, const char *token, int64_t now_s,
			    struct authn *out, struct auth_failure *fail);

/* Authenticates token against cfg's identities, then (for a token that
 * looks like a JWT) the OIDC verifier if one is given.  A verified OIDC
 * subject that is a static identity's subject is refused. */
int auth_bearer(const struct config *cfg, auth_oidc_fn oidc, void *oidc_ctx,
		const char *token, int64_t now_ms, struct authn *out,
		struct auth_failure *fail) JG_WUR;
/* True when name is the subject of a static identity of cfg: an OIDC
 * token (or sign-in) for that subject is refused (docs/identity.md,
 * subject namespaces). */
bool auth_static_subject(const struct config *cfg, const char *name);
/* Fills out->subject from name/groups (after filling those by hand). */
void authn_finish(struct authn *out);
void authn_clear(struct authn *a);
/* Deep copy of src into dst (finished); JG_ERR_NOMEM leaves dst cleared. */
int authn_copy(struct authn *dst, const struct authn *src) JG_WUR;

#endif
