#include "identity/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"

void authn_finish(struct authn *a)
{
	a->subject.name = a->name;
	a->subject.groups = (const char *const *)a->groups;
	a->subject.ngroups = a->ngroups;
}

void authn_clear(struct authn *a)
{
	free(a->name);
	for (size_t i = 0; i < a->ngroups; i++)
		free(a->groups[i]);
	free(a->groups);
	memset(a, 0, sizeof(*a));
}

static int from_identity(const struct identity_cfg *id, struct authn *out)
{
	out->name = strdup(id->subject);
	out->groups = calloc(id->ngroups ? id->ngroups : 1, sizeof(char *));
	if (out->name == NULL || out->groups == NULL)
		goto nomem;
	for (size_t i = 0; i < id->ngroups; i++) {
		out->groups[i] = strdup(id->groups[i]);
		if (out->groups[i] == NULL)
			goto nomem;
		out->ngroups++;
	}
	out->method = "static";
	authn_finish(out);
	return JG_OK;
nomem:
	authn_clear(out);
	return JG_ERR_NOMEM;
}

static int jwt_shaped(const char *t)
{
	const char *d1 = strchr(t, '.');

	return d1 != NULL && strchr(d1 + 1, '.') != NULL;
}

int auth_bearer(const struct config *cfg, auth_oidc_fn oidc, void *oidc_ctx,
		const char *token, int64_t now_ms, struct authn *out,
		struct auth_failure *fail)
{
	uint8_t digest[SHA256_LEN];
	const struct identity_cfg *match = NULL;
	size_t len;

	memset(out, 0, sizeof(*out));
	memset(fail, 0, sizeof(*fail));
	if (token == NULL || *token == '\0') {
		snprintf(fail->reason, sizeof(fail->reason), "no bearer token");
		return JG_ERR_AUTH;
	}
	len = strnlen(token, AUTH_TOKEN_MAX + 1);
	if (len > AUTH_TOKEN_MAX) {
		snprintf(fail->reason, sizeof(fail->reason),
			 "token longer than %d bytes", AUTH_TOKEN_MAX);
		return JG_ERR_AUTH;
	}
	crypto_sha256(token, len, digest);
	/* every identity is compared, whatever matched, so timing does not
	 * tell how far down the list a token's digest is */
	for (size_t i = 0; i < cfg->nidentities; i++)
		if (crypto_ct_equal(digest, cfg->identities[i].token_sha256, SHA256_LEN))
			match = &cfg->identities[i];
	if (match != NULL)
		return from_identity(match, out);
	if (oidc != NULL && jwt_shaped(token))
		return oidc(oidc_ctx, token, now_ms / 1000, out, fail);
	snprintf(fail->reason, sizeof(fail->reason), "%s",
		 jwt_shaped(token) ? (oidc ? "invalid token" : "OIDC is not configured")
				   : "unknown static token");
	return JG_ERR_AUTH;
}
