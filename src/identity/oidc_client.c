#include "identity/oidc_client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/b64url.h"
#include "identity/oidc_fetch.h"
#include "util/crypto.h"

void oidc_endpoints_clear(struct oidc_endpoints *e)
{
	free(e->issuer);
	free(e->authorization_endpoint);
	free(e->token_endpoint);
	free(e->device_authorization_endpoint);
	free(e->scopes_supported);
	memset(e, 0, sizeof(*e));
}

bool oidc_endpoints_has_scope(const struct oidc_endpoints *e, const char *scope)
{
	char want[130];

	if (e->scopes_supported == NULL || strlen(scope) > 120 || strchr(scope, ' '))
		return false;
	snprintf(want, sizeof(want), " %s ", scope);
	return strstr(e->scopes_supported, want) != NULL;
}

/* A URL member of the discovery document; NULL when absent (and allowed
 * to be), otherwise it must be https or loopback http. */
static int endpoint(json_t *doc, const char *name, bool required, char **out,
		    char *err, size_t errlen)
{
	json_t *v = json_object_get(doc, name);

	*out = NULL;
	if (v == NULL && !required)
		return JG_OK;
	if (!json_is_string(v) || !oidc_url_allowed(json_string_value(v))) {
		snprintf(err, errlen, "discovery: %s missing, or neither https nor loopback http",
			 name);
		return JG_ERR_INVALID;
	}
	*out = strdup(json_string_value(v));
	return *out ? JG_OK : JG_ERR_NOMEM;
}

static int scopes(json_t *doc, char **out)
{
	json_t *a = json_object_get(doc, "scopes_supported"), *s;
	size_t i, n = 2;
	char *p;

	*out = NULL;
	if (!json_is_array(a))
		return JG_OK;
	json_array_foreach(a, i, s)
		if (json_is_string(s))
			n += json_string_length(s) + 1;
	p = *out = calloc(1, n);
	if (p == NULL)
		return JG_ERR_NOMEM;
	*p++ = ' ';
	json_array_foreach(a, i, s) {
		if (!json_is_string(s) || strchr(json_string_value(s), ' '))
			continue;
		p += sprintf(p, "%s ", json_string_value(s));
	}
	return JG_OK;
}

int oidc_client_discover(const char *issuer, const atomic_bool *abort_flag,
			 struct oidc_endpoints *out, char *err, size_t errlen)
{
	char url[2048];
	char *body = NULL;
	size_t len, ilen = strlen(issuer);
	int64_t max_age;
	json_t *doc = NULL, *iss;
	int rc;

	memset(out, 0, sizeof(*out));
	if (ilen > 0 && issuer[ilen - 1] == '/')
		ilen--;
	if ((size_t)snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration",
			     (int)ilen, issuer) >= sizeof(url)) {
		snprintf(err, errlen, "issuer URL too long");
		return JG_ERR_INVALID;
	}
	rc = oidc_http_get(url, OIDC_DISCOVERY_MAX, abort_flag, &body, &len, &max_age, err,
			   errlen);
	if (rc != JG_OK)
		return rc;
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	iss = json_object_get(doc, "issuer");
	if (!json_is_object(doc) || !json_is_string(iss) ||
	    strcmp(json_string_value(iss), issuer) != 0) {
		snprintf(err, errlen, "%s: not the discovery document of this issuer", url);
		rc = JG_ERR_INVALID;
		goto out;
	}
	out->issuer = strdup(issuer);
	rc = out->issuer ? JG_OK : JG_ERR_NOMEM;
	if (rc == JG_OK)
		rc = endpoint(doc, "authorization_endpoint", true, &out->authorization_endpoint,
			      err, errlen);
	if (rc == JG_OK)
		rc = endpoint(doc, "token_endpoint", true, &out->token_endpoint, err, errlen);
	if (rc == JG_OK)
		rc = endpoint(doc, "device_authorization_endpoint", false,
			      &out->device_authorization_endpoint, err, errlen);
	if (rc == JG_OK)
		rc = scopes(doc, &out->scopes_supported);
out:
	if (rc != JG_OK)
		oidc_endpoints_clear(out);
	json_decref(doc);
	free(body);
	return rc;
}

int oidc_client_post(const char *url, const char *form, const char *client_id,
		     const char *secret, const atomic_bool *abort_flag, long *status,
		     char **body, size_t *len, char *err, size_t errlen)
{
	char *u = NULL, *p = NULL;
	int rc;

	if (client_id != NULL && secret != NULL) {
		/* RFC 6749 §2.3.1: both parts form-encoded before Basic */
		u = curl_easy_escape(NULL, client_id, 0);
		p = curl_easy_escape(NULL, secret, 0);
		if (u == NULL || p == NULL) {
			curl_free(u);
			curl_free(p);
			return JG_ERR_NOMEM;
		}
	}
	rc = oidc_http_post(url, form, u, p, OIDC_TOKEN_RESPONSE_MAX, abort_flag, status, body,
			    len, err, errlen);
	if (p)
		OPENSSL_cleanse(p, strlen(p));
	curl_free(u);
	curl_free(p);
	return rc;
}

int oidc_form_add(char **form, const char *name, const char *value)
{
	char *v = curl_easy_escape(NULL, value, 0);
	char *n = NULL;
	int r;

	if (v == NULL)
		return JG_ERR_NOMEM;
	r = asprintf(&n, "%s%s%s=%s", *form ? *form : "", *form && **form ? "&" : "", name, v);
	OPENSSL_cleanse(v, strlen(v));
	curl_free(v);
	if (r < 0)
		return JG_ERR_NOMEM;
	if (*form) {
		OPENSSL_cleanse(*form, strlen(*form));
		free(*form);
	}
	*form = n;
	return JG_OK;
}

int oidc_random_token(char out[OIDC_PKCE_LEN + 1])
{
	uint8_t raw[32];
	char *t;

	out[0] = '\0';
	if (crypto_random(raw, sizeof(raw)) != JG_OK)
		return JG_ERR_INTERNAL;
	t = b64url_encode(raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	if (t == NULL)
		return JG_ERR_NOMEM;
	memcpy(out, t, OIDC_PKCE_LEN + 1);
	OPENSSL_cleanse(t, OIDC_PKCE_LEN);
	free(t);
	return JG_OK;
}

void oidc_pkce_challenge(const char *verifier, char out[OIDC_PKCE_LEN + 1])
{
	uint8_t d[SHA256_LEN];
	char *t;

	crypto_sha256(verifier, strlen(verifier), d);
	t = b64url_encode(d, sizeof(d));
	snprintf(out, OIDC_PKCE_LEN + 1, "%s", t ? t : "");
	free(t);
}
