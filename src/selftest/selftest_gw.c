/* The selftest's checks of the gateway (a live session cut by revoke and
 * by expiry, refused without a grant, the upstream reachable) and of the
 * IdP (the daemon holds the keys the IdP signs with). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selftest/selftest_int.h"
#include "selftest/stpg.h"
#include "util/timeutil.h"

/* ---- the gateway ------------------------------------------------------- */

/* Where to reach the gateway: its listen address, with a wildcard host
 * replaced by the API's host. */
static bool gateway_addr(struct st *x, char *host, size_t hlen, char *port,
			 size_t plen)
{
	const char *listen = json_string_value(json_object_get(x->info, "gateway_listen"));
	const char *colon, *base = cli_http_base(x->h), *h, *e;

	if (listen == NULL || (colon = strrchr(listen, ':')) == NULL)
		return false;
	snprintf(port, plen, "%s", colon + 1);
	h = listen[0] == '[' ? listen + 1 : listen;
	e = listen[0] == '[' ? colon - 1 : colon;
	snprintf(host, hlen, "%.*s", (int)(e - h), h);
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || host[0] == '\0') {
		h = strstr(base, "://");
		h = h ? h + 3 : base;
		if (*h == '[') {
			e = strchr(++h, ']');
		} else {
			e = h + strcspn(h, ":/");
		}
		snprintf(host, hlen, "%.*s", e ? (int)(e - h) : 0, h);
	}
	return true;
}

static struct stpg *session(struct st *x, const char *host, const char *port,
			    char *text, size_t len)
{
	char db[300];
	struct stpg *p = NULL;

	snprintf(db, sizeof(db), "%s@%s", x->pg_resource, x->pg_role);
	if (stpg_open(host, port, x->subject, x->token, db, &p, text, len) != JG_OK)
		return NULL;
	x->sessions++;
	if (stpg_select1(p, text, len) != JG_OK) {
		stpg_close(p);
		return NULL;
	}
	return p;
}

static void gateway_revoke(struct st *x, const char *host, const char *port)
{
	char text[512], msg[512];
	struct stpg *p;
	int64_t id, t0;
	json_t *req;

	req = st_grant(x, x->pg_resource, x->pg_role, "5m", text, sizeof(text));
	if (req == NULL) {
		st_add(x->rep, ST_INTEGRATION, ST_FAIL, "upstream reachable through the gateway",
		       "%s", text);
		return;
	}
	id = json_integer_value(json_object_get(req, "id"));
	json_decref(req);
	p = session(x, host, port, text, sizeof(text));
	if (p != NULL)
		st_add(x->rep, ST_INTEGRATION, ST_PASS, "upstream reachable through the gateway",
		       "SELECT 1 on %s via %s:%s", x->pg_resource, host, port);
	else
		st_add(x->rep, ST_INTEGRATION, ST_FAIL, "upstream reachable through the gateway",
		       "%s", text);
	t0 = st_mono_us();
	if (st_revoke(x, id, text, sizeof(text)) != JG_OK) {
		st_add(x->rep, ST_TIMEOUT, ST_FAIL, "a revoke cuts the live session", "%s", text);
	} else if (p != NULL) {
		if (stpg_wait_cut(p, SELFTEST_CUT_WAIT_MS, msg, sizeof(msg)) == JG_OK) {
			x->rep->latency_us[STL_CUT_AFTER_REVOKE] = st_mono_us() - t0;
			st_add(x->rep, ST_TIMEOUT, ST_PASS, "a revoke cuts the live session",
			       "cut %.3f ms after the revoke was sent: %s",
			       (double)x->rep->latency_us[STL_CUT_AFTER_REVOKE] / 1000.0, msg);
		} else {
			st_add(x->rep, ST_TIMEOUT, ST_FAIL, "a revoke cuts the live session",
			       "still open %d ms after the revoke", SELFTEST_CUT_WAIT_MS);
		}
	}
	stpg_close(p);
	/* and without a grant the gateway refuses the login */
	p = session(x, host, port, text, sizeof(text));
	st_add(x->rep, ST_BOUNDARIES, p ? ST_FAIL : ST_PASS,
	       "the gateway refuses a subject without a grant", "%s",
	       p ? "logged in after the revoke" : text);
	stpg_close(p);
}

static void gateway_expiry(struct st *x, const char *host, const char *port)
{
	int64_t expires_ms = 0, late;
	char text[512], msg[512];
	struct stpg *p;
	json_t *req;

	req = st_grant(x, x->pg_resource, x->pg_role, "2s", text, sizeof(text));
	if (req == NULL || time_parse(st_jstr(req, "expires_at"), &expires_ms) != JG_OK) {
		st_add(x->rep, ST_TIMEOUT, ST_FAIL, "expiry cuts the live session", "%s",
		       req ? "no expires_at" : text);
		json_decref(req);
		return;
	}
	st_expect(x, json_integer_value(json_object_get(req, "id")), "request.expired");
	json_decref(req);
	p = session(x, host, port, text, sizeof(text));
	if (p == NULL) {
		st_add(x->rep, ST_TIMEOUT, ST_FAIL, "expiry cuts the live session",
		       "no session: %s", text);
		return;
	}
	if (stpg_wait_cut(p, (int)(expires_ms - time_now_ms()) + SELFTEST_EXPIRY_SLACK_MS +
			  3000, msg, sizeof(msg)) != JG_OK) {
		st_add(x->rep, ST_TIMEOUT, ST_FAIL, "expiry cuts the live session",
		       "still open %d ms after expires_at", SELFTEST_EXPIRY_SLACK_MS + 3000);
	} else {
		late = time_now_ms() - expires_ms;
		if (late >= 0)
			x->rep->latency_us[STL_EXPIRY_CUT] = late * 1000;
		st_add(x->rep, ST_TIMEOUT, late >= 0 && late <= SELFTEST_EXPIRY_SLACK_MS
		       ? ST_PASS : ST_FAIL, "expiry cuts the live session",
		       "cut %lld ms %s expires_at: %s", (long long)(late < 0 ? -late : late),
		       late < 0 ? "before" : "after", msg);
	}
	stpg_close(p);
}

void st_gateway(struct st *x)
{
	char host[256], port[16];

	if (x->pg_resource == NULL) {
		st_add(x->rep, ST_INTEGRATION, ST_SKIP, "upstream reachable through the gateway",
		       "no postgres_resource in selftest:");
		return;
	}
	if (!gateway_addr(x, host, sizeof(host), port, sizeof(port))) {
		st_add(x->rep, ST_INTEGRATION, ST_FAIL, "upstream reachable through the gateway",
		       "postgres_resource is set but the daemon runs no gateway");
		return;
	}
	gateway_revoke(x, host, port);
	gateway_expiry(x, host, port);
}

/* ---- integration: the IdP ----------------------------------------------- */

static bool kid_known(const json_t *kids, const char *kid)
{
	size_t i;
	json_t *k;

	json_array_foreach(kids, i, k)
		if (json_is_string(k) && strcmp(json_string_value(k), kid) == 0)
			return true;
	return false;
}

/* GET url (absolute) as JSON, without credentials. */
static json_t *fetch(const char *url, char *text, size_t len)
{
	const char *scheme = strstr(url, "://");
	const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
	struct cli_http *h = NULL;
	char base[1024], err[512];
	const char *path = slash ? slash : "/";
	json_t *out = NULL;
	long status = 0;

	snprintf(base, sizeof(base), "%.*s", slash ? (int)(slash - url) : (int)strlen(url), url);
	text[0] = '\0';
	if (cli_http_new(base, NULL, &h, err, sizeof(err)) != JG_OK) {
		snprintf(text, len, "%s", err);
		return NULL;
	}
	if (cli_http_json(h, "GET", path, NULL, &status, &out, err, sizeof(err)) != JG_OK)
		snprintf(text, len, "%s", err);
	else if (status != 200 || !json_is_object(out))
		snprintf(text, len, "%s answered HTTP %ld", url, status);
	if (status != 200) {
		json_decref(out);
		out = NULL;
	}
	cli_http_free(h);
	return out;
}

void st_idp(struct st *x)
{
	const char *issuer = json_string_value(json_object_get(x->info, "oidc_issuer"));
	const json_t *kids = json_object_get(json_object_get(x->info, "oidc"), "kids");
	json_t *disc, *jwks = NULL, *k;
	char text[600], url[2200];
	size_t i, n = 0;

	if (issuer == NULL) {
		st_add(x->rep, ST_INTEGRATION, ST_SKIP, "IdP keys fresh", "no oidc: in the config");
		return;
	}
	/* OIDC Discovery 1.0 section 4: issuer without its trailing '/' */
	snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration",
		 (int)(strlen(issuer) - (issuer[0] && issuer[strlen(issuer) - 1] == '/')),
		 issuer);
	disc = fetch(url, text, sizeof(text));
	if (disc != NULL && json_is_string(json_object_get(disc, "jwks_uri")))
		jwks = fetch(st_jstr(disc, "jwks_uri"), text, sizeof(text));
	else if (disc != NULL)
		snprintf(text, sizeof(text), "the discovery document has no jwks_uri");
	if (jwks == NULL) {
		st_add(x->rep, ST_INTEGRATION, ST_FAIL, "IdP keys fresh",
		       "the IdP does not answer: %s", text);
		json_decref(disc);
		return;
	}
	json_array_foreach(json_object_get(jwks, "keys"), i, k) {
		const char *kid = json_string_value(json_object_get(k, "kid"));
		const char *use = json_string_value(json_object_get(k, "use"));

		if (kid == NULL || (use != NULL && strcmp(use, "sig") != 0))
			continue;
		n++;
		if (!kid_known(kids, kid)) {
			st_add(x->rep, ST_INTEGRATION, ST_FAIL, "IdP keys fresh",
			       "the IdP signs with key %s, which the daemon does not hold", kid);
			goto out;
		}
	}
	st_add(x->rep, ST_INTEGRATION, ST_PASS, "IdP keys fresh",
	       "the daemon holds all %zu signing keys the IdP publishes", n);
out:
	json_decref(disc);
	json_decref(jwks);
}


/* ---- integration: every upstream --------------------------------------- */

void st_upstreams(struct st *x)
{
	const json_t *ups = json_object_get(x->info, "upstreams"), *u;
	char text[512], bad[512] = "";
	size_t i, nbad = 0;
	long status;

	/* the daemon probes at start; a selftest right after may be first */
	for (int tries = 0; json_is_null(ups) && tries < 50; tries++) {
		json_t *info;

		st_sleep_ms(100);
		info = st_call(x, "GET", "/v1/selftest", NULL, &status, text, sizeof(text));
		if (status == 200) {
			json_decref(x->info);
			x->info = info;
			st_refresh_info(x);
			ups = json_object_get(x->info, "upstreams");
		} else {
			json_decref(info);
		}
	}
	if (!json_is_array(ups) || json_array_size(ups) == 0) {
		st_add(x->rep, ST_INTEGRATION, json_is_array(ups) ? ST_SKIP : ST_FAIL,
		       "every upstream reachable from the daemon", "%s",
		       json_is_array(ups) ? "no postgres resources"
		       : "the daemon has not probed its upstreams");
		return;
	}
	json_array_foreach(ups, i, u) {
		size_t used = strlen(bad);

		if (json_is_true(json_object_get(u, "reachable")))
			continue;
		nbad++;
		snprintf(bad + used, sizeof(bad) - used, "%s%s (%s:%lld): %s", used ? "; " : "",
			 st_jstr(u, "resource"), st_jstr(u, "host"),
			 (long long)json_integer_value(json_object_get(u, "port")),
			 st_jstr(u, "error"));
	}
	if (nbad > 0)
		st_add(x->rep, ST_INTEGRATION, ST_FAIL, "every upstream reachable from the daemon",
		       "%zu of %zu unreachable: %s", nbad, json_array_size(ups), bad);
	else
		st_add(x->rep, ST_INTEGRATION, ST_PASS, "every upstream reachable from the daemon",
		       "%zu upstreams answer TCP (checked by the daemon at %s)",
		       json_array_size(ups), st_jstr(json_array_get(ups, 0), "checked_at"));
}
