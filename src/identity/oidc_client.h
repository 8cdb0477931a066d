/* jitgate as an OIDC client of the IdP (design section 10): the browser's
 * sign-in (authorization code + PKCE, on the server's login worker) and
 * `jitgate login` (device grant or loopback redirect) share the discovery
 * of the IdP's endpoints, PKCE and the token-endpoint POST.  Blocking
 * network calls: never on an HTTP worker thread or an event loop. */
#ifndef JG_IDENTITY_OIDC_CLIENT_H
#define JG_IDENTITY_OIDC_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define OIDC_TOKEN_RESPONSE_MAX (64 * 1024)
#define OIDC_PKCE_LEN 43 /* base64url of 32 random bytes: verifier, state, nonce */

struct oidc_endpoints {
	char *issuer;
	char *authorization_endpoint;
	char *token_endpoint;
	char *device_authorization_endpoint; /* NULL when the IdP has none */
	char *scopes_supported;              /* " a b c " (spaces around each), or NULL */
};

/* Reads ISSUER/.well-known/openid-configuration (issuer must match
 * exactly; every endpoint https or loopback http). */
int oidc_client_discover(const char *issuer, const atomic_bool *abort_flag,
			 struct oidc_endpoints *out, char *err, size_t errlen) JG_WUR;
void oidc_endpoints_clear(struct oidc_endpoints *e);
/* True when the discovery document lists scope in scopes_supported. */
bool oidc_endpoints_has_scope(const struct oidc_endpoints *e, const char *scope);

/* POSTs an application/x-www-form-urlencoded body to url (https or
 * loopback http, no redirects, bounded answer).  With client_id and
 * secret, authenticates as the client with HTTP Basic.  Any HTTP status
 * is returned with its body (caller frees). */
int oidc_client_post(const char *url, const char *form, const char *client_id,
		     const char *secret, const atomic_bool *abort_flag, long *status,
		     char **body, size_t *len, char *err, size_t errlen) JG_WUR;

/* Appends "&name=value" (value form-encoded; no "&" when *form is empty)
 * to the malloc'd string *form. */
int oidc_form_add(char **form, const char *name, const char *value) JG_WUR;

/* A fresh random value for a PKCE verifier, state or nonce. */
int oidc_random_token(char out[OIDC_PKCE_LEN + 1]) JG_WUR;
/* The S256 challenge of verifier. */
void oidc_pkce_challenge(const char *verifier, char out[OIDC_PKCE_LEN + 1]);

#endif
