#include "identity/auth.h"

#include <stdbool.h>
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

/* Identities are sorted by digest: a binary search finds the one candidate
 * and a constant-time compare confirms it.  The search's timing can only
 * tell how SHA-256 of the presented token orders against stored digests,
 * which says nothing about any stored token (SHA-256 is preimage
 * resistant); the final equality, the part that matters, is constant-time. */
static const struct identity_cfg *find_digest(const struct config *cfg,
					      const uint8_t digest[SHA256_LEN])
{
	size_t lo = 0, hi = cfg->nidentities;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(cfg->identities[mid].token_sha256, digest, SHA256_LEN);

		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < cfg->nidentities &&
	    crypto_ct_equal(cfg->identities[lo].token_sha256, digest, SHA256_LEN))
		return &cfg->identities[lo];
	return NULL;
}

bool auth_static_subject(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nidentities; i++)
		if (strcmp(cfg->identities[i].subject, name) == 0)
			return true;
	return false;
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
	match = find_digest(cfg, digest);
	if (match != NULL)
		return from_identity(match, out);
	if (oidc != NULL && jwt_shaped(token)) {
		int rc = oidc(oidc_ctx, token, now_ms / 1000, out, fail);

		if (rc == JG_OK && auth_static_subject(cfg, out->name)) {
			/* the IdP must not speak for a static identity (a
			 * service's checker rights, say): refused, not merged */
			snprintf(fail->reason, sizeof(fail->reason),
				 "OIDC subject %.64s is the subject of a static identity; "
				 "jitgate refuses OIDC tokens for it", out->name);
			snprintf(fail->sub, sizeof(fail->sub), "%s", out->name);
			authn_clear(out);
			return JG_ERR_AUTH;
		}
		return rc;
	}
	snprintf(fail->reason, sizeof(fail->reason), "%s",
		 jwt_shaped(token) ? (oidc ? "invalid token" : "OIDC is not configured")
				   : "unknown static token");
	return JG_ERR_AUTH;
}

int authn_copy(struct authn *dst, const struct authn *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->name = strdup(src->name);
	dst->groups = calloc(src->ngroups ? src->ngroups : 1, sizeof(char *));
	if (dst->name == NULL || dst->groups == NULL)
		goto nomem;
	for (; dst->ngroups < src->ngroups; dst->ngroups++)
		if ((dst->groups[dst->ngroups] = strdup(src->groups[dst->ngroups])) == NULL)
			goto nomem;
	dst->method = src->method;
	authn_finish(dst);
	return JG_OK;
nomem:
	authn_clear(dst);
	return JG_ERR_NOMEM;
}
