/* The browser's doors (design section 10): the session cookie as a
 * credential of the API, the CSRF and same-origin rules for calls it
 * authenticates, static-token sign-in and logout.  The IdP sign-in
 * (/auth/login, /auth/callback) is in weblogin.c. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_internal.h"
#include "api/render.h"
#include "api/weblogin.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

#define CSRF_HEADER "X-Jitgate-CSRF"

static const char *header(struct conn *c, const char *name)
{
	return MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND, name);
}

static const char *cookie_value(struct conn *c)
{
	return MHD_lookup_connection_value(c->mhd, MHD_COOKIE_KIND, WEBSESSION_COOKIE);
}

bool webauth_has_cookie(struct conn *c)
{
	return cookie_value(c) != NULL;
}

static bool safe_method(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* Origin of the page a browser sent this from must be ours.  Ours is
 * web.public_url; without it, the origin naming the Host this request was
 * sent to (a browser sets Host itself; a page cannot choose it).  Requests
 * without Origin and Sec-Fetch-Site (non-browser clients) pass: the CSRF
 * token still binds them to the session. */
static bool same_origin(struct conn *c)
{
	const char *sfs = header(c, "Sec-Fetch-Site");
	const char *origin = header(c, "Origin");
	const char *host, *rest;

	if (sfs != NULL && strcmp(sfs, "same-origin") != 0)
		return false;
	if (origin == NULL)
		return true;
	if (c->cfg->web.public_url != NULL)
		return strcmp(origin, c->cfg->web.public_url) == 0;
	host = header(c, MHD_HTTP_HEADER_HOST);
	if (host == NULL || *host == '\0')
		return false;
	if (strncmp(origin, "http://", 7) == 0)
		rest = origin + 7;
	else if (strncmp(origin, "https://", 8) == 0)
		rest = origin + 8;
	else
		return false;
	return strcasecmp(rest, host) == 0;
}

/* The CSRF rules for a state-changing call that a cookie authenticates;
 * false: answered 403. */
static bool csrf_ok(struct conn *c, const char *method, const char *csrf)
{
	const char *h = header(c, CSRF_HEADER);

	if (safe_method(method))
		return true;
	if (!same_origin(c)) {
		conn_error(c, 403, "forbidden", "cross-site request refused");
		return false;
	}
	if (h == NULL || strlen(h) != WEBSESSION_CSRF_LEN ||
	    !crypto_ct_equal(h, csrf, WEBSESSION_CSRF_LEN)) {
		conn_error(c, 403, "forbidden",
			   "missing or wrong " CSRF_HEADER " header (GET /v1/whoami gives it)");
		return false;
	}
	return true;
}

static int set_cookie(struct conn *c, const char *value, int64_t max_age_s)
{
	free(c->set_cookie);
	c->set_cookie = NULL;
	if (asprintf(&c->set_cookie, "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Lax%s",
		     WEBSESSION_COOKIE, value, (long long)max_age_s,
		     c->cfg->web.secure_cookie ? "; Secure" : "") < 0) {
		c->set_cookie = NULL;
		return JG_ERR_NOMEM;
	}
	return JG_OK;
}

static void clear_cookie(struct conn *c)
{
	if (set_cookie(c, "", 0) != JG_OK)
		log_warn(NULL, "out of memory clearing a session cookie");
}

/* A static-token session lasts only while the config still has that
 * subject among its identities (a removed identity ends its sessions at
 * the next call, as it would end its token). */
static bool identity_still_there(const struct config *cfg, const struct authn *who)
{
	if (who->method == NULL || strcmp(who->method, "static") != 0)
		return true;
	for (size_t i = 0; i < cfg->nidentities; i++)
		if (strcmp(cfg->identities[i].subject, who->name) == 0)
			return true;
	return false;
}

bool webauth_authenticate(struct conn *c, const char *method)
{
	struct websession_view v;
	const char *cookie = cookie_value(c);

	if (websession_lookup(c->sessions, cookie, time_now_ms(), &v) != JG_OK) {
		/* not audited: after a restart every open page would fill the
		 * log, and a forged id is a guess at a 256-bit number */
		clear_cookie(c);
		conn_error(c, 401, "unauthenticated",
			   "no live session (signed out or expired): sign in again");
		return false;
	}
	if (!identity_still_there(c->cfg, &v.who)) {
		(void)websession_end(c->sessions, cookie);
		authn_clear(&v.who);
		clear_cookie(c);
		conn_error(c, 401, "unauthenticated",
			   "the identity of this session is no longer configured");
		return false;
	}
	c->who = v.who;
	c->authed = true;
	c->by_session = true;
	memcpy(c->csrf, v.csrf, sizeof(c->csrf));
	c->session_expires_ms = v.expires_ms;
	OPENSSL_cleanse(v.csrf, sizeof(v.csrf));
	return csrf_ok(c, method, c->csrf);
}

/* ---- sign-in, shared with the IdP callback ---- */

/* The answer stands unless the sign-in could not be audited: then the
 * session is ended again and the browser told (fail closed). */
static void after_signin_audit(struct conn *c)
{
	const char *v;

	if (c->cmd.err == JG_OK)
		return;
	v = c->set_cookie ? strchr(c->set_cookie, '=') : NULL;
	if (v != NULL) {
		char id[WEBSESSION_ID_LEN + 1];

		snprintf(id, sizeof(id), "%s", v + 1);
		(void)websession_end(c->sessions, id);
		OPENSSL_cleanse(id, sizeof(id));
	}
	clear_cookie(c);
	conn_fail(c, c->cmd.err, c->cmd.res.message);
}

int webauth_sign_in(struct conn *c, struct authn *who, int status, json_t *resp)
{
	char id[WEBSESSION_ID_LEN + 1], csrf[WEBSESSION_CSRF_LEN + 1], addr[64];
	char exp[TIME_RFC3339_LEN];
	int64_t now = time_now_ms(), expires = 0;
	json_t *ev;
	int rc;

	rc = websession_create(c->sessions, who, now, c->cfg->web.session_ttl_s * 1000, id,
			       csrf, &expires);
	if (rc != JG_OK) {
		json_decref(resp);
		return rc;
	}
	rc = set_cookie(c, id, c->cfg->web.session_ttl_s);
	OPENSSL_cleanse(id, sizeof(id));
	time_format(expires, exp);
	conn_remote_addr(c, addr, sizeof(addr));
	ev = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "action",
		       "auth.signed_in", "actor", who->name, "subject", who->name,
		       "detail", "method", who->method ? who->method : "static", "via",
		       "web", "remote_addr", addr, "session_expires_at", exp);
	if (rc == JG_OK && ev == NULL)
		rc = JG_ERR_NOMEM;
	if (rc == JG_OK && json_is_object(resp)) {
		json_object_set_new(resp, "csrf", json_string(csrf));
		json_object_set_new(resp, "session_expires_at", json_string(exp));
	}
	OPENSSL_cleanse(csrf, sizeof(csrf));
	if (rc != JG_OK) {
		json_decref(ev);
		json_decref(resp);
		return rc;
	}
	conn_audit_then_reply(c, ev, status, resp);
	c->after = after_signin_audit;
	return JG_OK;
}

/* POST /auth/token {token}: sign in with a bearer token (a static token
 * for setups without OIDC; a JWT the API would accept works too). */
static void handle_token(struct conn *c)
{
	static const struct field_spec spec[] = {{"token", FIELD_STRING, true}};
	const char *ct = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
	struct auth_attempt at = {.via = "web"};
	struct authn who;
	char msg[256];
	const char *field;
	json_t *groups;
	int rc;

	/* a cross-site form cannot send application/json without a CORS
	 * preflight, which jitgate never grants: no login CSRF */
	if (!same_origin(c)) {
		conn_error(c, 403, "forbidden", "cross-site request refused");
		return;
	}
	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0) {
		conn_error(c, 400, "bad_request", "Content-Type must be application/json");
		return;
	}
	rc = body_parse(c->body, c->len, spec, 1, &c->args, msg, sizeof(msg), &field);
	if (rc != JG_OK) {
		conn_fail(c, rc, msg);
		return;
	}
	at.credential = body_str(c->args, "token");
	if (!conn_verify(c, &at, &who))
		return;
	groups = json_array();
	for (size_t i = 0; groups && i < who.ngroups; i++)
		json_array_append_new(groups, json_string(who.groups[i]));
	rc = webauth_sign_in(c, &who, 200,
			     json_pack("{s:s, s:o, s:s}", "subject", who.name, "groups",
				       groups ? groups : json_array(), "method",
				       who.method ? who.method : "static"));
	authn_clear(&who);
	if (rc != JG_OK)
		conn_fail(c, rc, rc == JG_ERR_UNAVAILABLE ? "too many sessions; try again later"
							  : NULL);
}

/* POST /auth/logout: ends the session server side (the cookie alone would
 * stay valid until it expired) and clears the cookie. */
static void handle_logout(struct conn *c)
{
	const char *cookie = cookie_value(c);
	struct websession_view v;
	json_t *ev;

	if (cookie == NULL ||
	    websession_lookup(c->sessions, cookie, time_now_ms(), &v) != JG_OK) {
		clear_cookie(c);
		conn_reply(c, 200, json_pack("{s:b}", "signed_out", 0));
		return;
	}
	if (!csrf_ok(c, "POST", v.csrf)) {
		OPENSSL_cleanse(v.csrf, sizeof(v.csrf));
		authn_clear(&v.who);
		return;
	}
	OPENSSL_cleanse(v.csrf, sizeof(v.csrf));
	(void)websession_end(c->sessions, cookie);
	if (c->deps->events) {
		/* and the pages it has open stop receiving */
		uint8_t key[SHA256_LEN];

		crypto_sha256(cookie, strlen(cookie), key);
		eventhub_end_session(c->deps->events, key);
	}
	clear_cookie(c);
	ev = json_pack("{s:s, s:s, s:s, s:{s:s}}", "action", "auth.signed_out", "actor",
		       v.who.name, "subject", v.who.name, "detail", "via", "web");
	authn_clear(&v.who);
	if (ev == NULL) {
		conn_fail(c, JG_ERR_NOMEM, NULL);
		return;
	}
	conn_audit_then_reply(c, ev, 200, json_pack("{s:b}", "signed_out", 1));
}

/* GET /auth/config: where to sign in, for `jitgate login` (nothing
 * secret: the issuer and the public client id). */
static void handle_config(struct conn *c)
{
	const struct config *cfg = c->cfg;

	if (!cfg->oidc.enabled || cfg->web.oidc_client_id == NULL) {
		conn_reply(c, 200, json_pack("{s:n}", "oidc"));
		return;
	}
	conn_reply(c, 200, json_pack("{s:{s:s, s:s}}", "oidc", "issuer", cfg->oidc.issuer,
				     "client_id", cfg->web.oidc_client_id));
}

void webauth_route(struct conn *c, const char *method, const char *url)
{
	static const struct {
		const char *path, *method;
	} routes[] = {
		{"/auth/token", "POST"},
		{"/auth/logout", "POST"},
		{"/auth/login", "GET"},
		{"/auth/callback", "GET"},
		{"/auth/config", "GET"},
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(url, routes[i].path) != 0)
			continue;
		if (strcmp(method, routes[i].method) != 0) {
			conn_error(c, 405, "method_not_allowed", "use %s", routes[i].method);
			return;
		}
		switch (i) {
		case 0:
			handle_token(c);
			return;
		case 1:
			handle_logout(c);
			return;
		case 2:
			weblogin_start(c);
			return;
		case 3:
			weblogin_callback(c, url);
			return;
		default:
			handle_config(c);
			return;
		}
	}
	conn_error(c, 404, "not_found", "no such path");
}
