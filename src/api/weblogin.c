#include "api/weblogin.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/webpage.h"
#include "identity/oidc_client.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"

#define LOGIN_COOKIE "jitgate_login"
#define CODE_MAX 2048
#define URL_MAX 4096

/* A sign-in between /auth/login and /auth/callback. */
struct pending {
	bool used;
	char state[OIDC_PKCE_LEN + 1];
	char nonce[OIDC_PKCE_LEN + 1];
	char verifier[OIDC_PKCE_LEN + 1];
	char next[WEBLOGIN_NEXT_MAX + 1];
	int64_t created_ms;
};

enum job_kind { JOB_DISCOVER, JOB_EXCHANGE };

struct weblogin_job {
	enum job_kind kind;
	struct weblogin *wl;
	struct MHD_Connection *mhd;
	struct pending p;     /* the sign-in being completed */
	int64_t queued_ms;    /* when it was handed to the workers */
	char *issuer, *code, *redirect_uri, *client_id, *secret;
	/* results */
	int err;
	struct authn who;
	struct auth_failure fail;
	struct weblogin_job *next_job;
};

struct weblogin {
	struct oidc *idp;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	pthread_t threads[WEBLOGIN_WORKERS];
	size_t nthreads;
	atomic_bool stop; /* read by curl callbacks on other threads */
	struct weblogin_job *head, *tail;
	size_t queued;
	struct pending pend[WEBLOGIN_PENDING_MAX];
	/* the IdP's endpoints once discovered (mu) */
	struct oidc_endpoints ep;
	bool have_ep;
};

bool weblogin_next_ok(const char *next)
{
	size_t n;

	if (next == NULL || next[0] != '/' || next[1] == '/' || next[1] == '\\')
		return false;
	n = strnlen(next, WEBLOGIN_NEXT_MAX + 1);
	if (n > WEBLOGIN_NEXT_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)next[i] <= 0x20 || (unsigned char)next[i] >= 0x7f ||
		    next[i] == '\\')
			return false;
	return true;
}

void weblogin_job_free(struct weblogin_job *job)
{
	if (job == NULL)
		return;
	if (job->secret) {
		OPENSSL_cleanse(job->secret, strlen(job->secret));
		free(job->secret);
	}
	if (job->code) {
		OPENSSL_cleanse(job->code, strlen(job->code));
		free(job->code);
	}
	free(job->issuer);
	free(job->redirect_uri);
	free(job->client_id);
	authn_clear(&job->who);
	OPENSSL_cleanse(&job->p, sizeof(job->p));
	free(job);
}

/* ---- the worker ---- */

/* Discovers the endpoints unless known; mu not held.  0 when known. */
static int ensure_endpoints(struct weblogin *wl, const char *issuer, char *err, size_t errlen)
{
	struct oidc_endpoints ep;
	int rc;

	pthread_mutex_lock(&wl->mu);
	rc = wl->have_ep ? JG_OK : JG_ERR_NOTFOUND;
	pthread_mutex_unlock(&wl->mu);
	if (rc == JG_OK)
		return JG_OK;
	rc = oidc_client_discover(issuer, &wl->stop, &ep, err, errlen);
	if (rc != JG_OK)
		return rc;
	pthread_mutex_lock(&wl->mu);
	if (!wl->have_ep) {
		wl->ep = ep;
		wl->have_ep = true;
		memset(&ep, 0, sizeof(ep));
	}
	pthread_mutex_unlock(&wl->mu);
	oidc_endpoints_clear(&ep);
	return JG_OK;
}

/* Records why: what (ours) followed by detail (the IdP's, made printable). */
static void job_fail(struct weblogin_job *j, int err, const char *what, const char *detail)
{
	char safe[200];

	text_copy_printable(safe, sizeof(safe), detail);
	j->err = err;
	snprintf(j->fail.reason, sizeof(j->fail.reason), "%s%s", what, safe);
}

static char *token_url(struct weblogin *wl)
{
	char *u;

	pthread_mutex_lock(&wl->mu);
	u = wl->have_ep ? strdup(wl->ep.token_endpoint) : NULL;
	pthread_mutex_unlock(&wl->mu);
	return u;
}

/* code -> tokens at the IdP -> a verified ID token -> who. */
static void run_exchange(struct weblogin *wl, struct weblogin_job *j)
{
	char *form = NULL, *body = NULL, *url = token_url(wl), err[256] = "";
	long status = 0;
	size_t len;
	json_t *doc = NULL, *idt;
	struct oidc_identity id;
	struct oidc_failure of;
	int rc;

	if (url == NULL) {
		job_fail(j, JG_ERR_UNAVAILABLE, "the IdP's endpoints are not known", "");
		return;
	}
	rc = oidc_form_add(&form, "grant_type", "authorization_code");
	if (rc == JG_OK)
		rc = oidc_form_add(&form, "code", j->code);
	if (rc == JG_OK)
		rc = oidc_form_add(&form, "redirect_uri", j->redirect_uri);
	if (rc == JG_OK)
		rc = oidc_form_add(&form, "client_id", j->client_id);
	if (rc == JG_OK)
		rc = oidc_form_add(&form, "code_verifier", j->p.verifier);
	if (rc == JG_OK)
		rc = oidc_client_post(url, form, j->secret ? j->client_id : NULL, j->secret,
				      &wl->stop, &status, &body, &len, err, sizeof(err));
	if (form) {
		OPENSSL_cleanse(form, strlen(form));
		free(form);
	}
	free(url);
	if (rc != JG_OK) {
		job_fail(j, JG_ERR_UNAVAILABLE, "", err);
		return;
	}
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	idt = json_object_get(doc, "id_token");
	if (status != 200 || !json_is_string(idt)) {
		const char *e = json_string_value(json_object_get(doc, "error"));
		char msg[64];

		snprintf(msg, sizeof(msg), "HTTP %ld", status);
		job_fail(j, JG_ERR_AUTH, "the IdP refused the code: ", e ? e : msg);
		goto out;
	}
	rc = oidc_verify_id_token(wl->idp, json_string_value(idt), time_now_ms() / 1000,
				  j->client_id, j->p.nonce, &id, &of);
	if (rc != JG_OK) {
		j->err = JG_ERR_AUTH;
		snprintf(j->fail.reason, sizeof(j->fail.reason), "ID token refused: %.200s",
			 of.reason);
		snprintf(j->fail.iss, sizeof(j->fail.iss), "%s", of.iss);
		snprintf(j->fail.kid, sizeof(j->fail.kid), "%s", of.kid);
		snprintf(j->fail.sub, sizeof(j->fail.sub), "%s", of.sub);
		goto out;
	}
	j->who.name = id.subject;
	j->who.groups = id.groups;
	j->who.ngroups = id.ngroups;
	j->who.method = "oidc";
	authn_finish(&j->who);
	j->err = JG_OK;
out:
	json_decref(doc);
	if (body) {
		OPENSSL_cleanse(body, len);
		free(body);
	}
}

static void *worker(void *arg)
{
	struct weblogin *wl = arg;

	pthread_mutex_lock(&wl->mu);
	for (;;) {
		struct weblogin_job *j;
		char err[256];

		while (wl->head == NULL && !wl->stop)
			pthread_cond_wait(&wl->wake, &wl->mu);
		j = wl->head;
		if (j == NULL)
			break;
		wl->head = j->next_job;
		if (wl->head == NULL)
			wl->tail = NULL;
		wl->queued--;
		pthread_mutex_unlock(&wl->mu);
		if (wl->stop) {
			job_fail(j, JG_ERR_UNAVAILABLE, "jitgate is shutting down", "");
		} else if (time_now_ms() - j->queued_ms > WEBLOGIN_QUEUE_WAIT_MS) {
			/* every worker was held by a slow IdP for longer than
			 * this browser should wait: answer it now rather than
			 * start a call that would make it wait as long again */
			job_fail(j, JG_ERR_UNAVAILABLE,
				 "the IdP is answering too slowly; try again", "");
		} else if (ensure_endpoints(wl, j->issuer, err, sizeof(err)) != JG_OK) {
			log_warn(NULL, "sign-in: %s", err);
			job_fail(j, JG_ERR_UNAVAILABLE, "the IdP cannot be reached: ", err);
		} else if (j->kind == JOB_EXCHANGE) {
			run_exchange(wl, j);
		} else {
			j->err = JG_OK;
		}
		MHD_resume_connection(j->mhd);
		pthread_mutex_lock(&wl->mu);
	}
	pthread_mutex_unlock(&wl->mu);
	return NULL;
}

int weblogin_new(struct oidc *idp, struct weblogin **out)
{
	struct weblogin *wl = calloc(1, sizeof(*wl));

	*out = NULL;
	if (wl == NULL)
		return JG_ERR_NOMEM;
	wl->idp = idp;
	pthread_mutex_init(&wl->mu, NULL);
	pthread_cond_init(&wl->wake, NULL);
	for (size_t i = 0; idp != NULL && i < WEBLOGIN_WORKERS; i++) {
		if (pthread_create(&wl->threads[i], NULL, worker, wl) != 0) {
			weblogin_free(wl);
			return JG_ERR_INTERNAL;
		}
		wl->nthreads++;
	}
	*out = wl;
	return JG_OK;
}

void weblogin_stop(struct weblogin *wl)
{
	if (wl == NULL)
		return;
	pthread_mutex_lock(&wl->mu);
	wl->stop = true;
	pthread_cond_broadcast(&wl->wake);
	pthread_mutex_unlock(&wl->mu);
	for (size_t i = 0; i < wl->nthreads; i++)
		pthread_join(wl->threads[i], NULL);
	wl->nthreads = 0;
}

void weblogin_free(struct weblogin *wl)
{
	if (wl == NULL)
		return;
	weblogin_stop(wl);
	oidc_endpoints_clear(&wl->ep);
	OPENSSL_cleanse(wl->pend, sizeof(wl->pend));
	pthread_mutex_destroy(&wl->mu);
	pthread_cond_destroy(&wl->wake);
	free(wl);
}

/* ---- pending sign-ins ---- */

/* Keeps p; an expired or, when full, the oldest entry makes room (a flood
 * of /auth/login can only delay sign-ins that take longer than the flood
 * needs to cycle the table). */
static void pending_put(struct weblogin *wl, const struct pending *p)
{
	struct pending *slot = NULL;

	pthread_mutex_lock(&wl->mu);
	for (size_t i = 0; i < WEBLOGIN_PENDING_MAX; i++) {
		struct pending *e = &wl->pend[i];

		if (!e->used || e->created_ms + WEBLOGIN_PENDING_TTL_S * 1000 <= p->created_ms) {
			slot = e;
			break;
		}
		if (slot == NULL || e->created_ms < slot->created_ms)
			slot = e;
	}
	*slot = *p;
	slot->used = true;
	pthread_mutex_unlock(&wl->mu);
}

/* Takes (and forgets: a state works once) the live sign-in of state. */
static bool pending_take(struct weblogin *wl, const char *state, int64_t now_ms,
			 struct pending *out)
{
	bool found = false;

	if (strlen(state) != OIDC_PKCE_LEN)
		return false;
	pthread_mutex_lock(&wl->mu);
	for (size_t i = 0; i < WEBLOGIN_PENDING_MAX; i++) {
		struct pending *e = &wl->pend[i];

		if (!e->used || !crypto_ct_equal(e->state, state, OIDC_PKCE_LEN))
			continue;
		found = e->created_ms + WEBLOGIN_PENDING_TTL_S * 1000 > now_ms;
		if (found)
			*out = *e;
		OPENSSL_cleanse(e, sizeof(*e));
		break;
	}
	pthread_mutex_unlock(&wl->mu);
	return found;
}

/* ---- the HTTP side ---- */

static int submit(struct conn *c, struct weblogin_job *j, void (*after)(struct conn *c))
{
	struct weblogin *wl = c->login;

	j->wl = wl;
	j->mhd = c->mhd;
	c->job = j;
	c->after = after;
	c->state = CONN_SUSPENDED;
	MHD_suspend_connection(c->mhd);
	pthread_mutex_lock(&wl->mu);
	if (wl->stop || wl->queued >= WEBLOGIN_JOBS_MAX) {
		pthread_mutex_unlock(&wl->mu);
		job_fail(j, JG_ERR_UNAVAILABLE, "too many sign-ins in progress; try again", "");
		MHD_resume_connection(c->mhd);
		return JG_OK;
	}
	j->queued_ms = time_now_ms();
	if (wl->tail)
		wl->tail->next_job = j;
	else
		wl->head = j;
	wl->tail = j;
	wl->queued++;
	pthread_cond_signal(&wl->wake);
	pthread_mutex_unlock(&wl->mu);
	return JG_OK;
}

static char *redirect_uri(const struct config *cfg)
{
	char *u = NULL;

	if (asprintf(&u, "%s/auth/callback", cfg->web.public_url) < 0)
		return NULL;
	return u;
}

/* The URL of the IdP's authorization endpoint for p; NULL while the
 * endpoints are not known or out of memory. */
static char *authorize_url(struct conn *c, const struct pending *p)
{
	struct weblogin *wl = c->login;
	char challenge[OIDC_PKCE_LEN + 1], scope[300];
	char *form = NULL, *url = NULL, *ru = redirect_uri(c->cfg), *ep = NULL;
	bool groups;
	int rc;

	pthread_mutex_lock(&wl->mu);
	if (wl->have_ep) {
		ep = strdup(wl->ep.authorization_endpoint);
		groups = oidc_endpoints_has_scope(&wl->ep, c->cfg->oidc.groups_claim);
	}
	pthread_mutex_unlock(&wl->mu);
	if (ep == NULL || ru == NULL)
		goto out;
	/* ask for the groups claim where the IdP names a scope after it */
	snprintf(scope, sizeof(scope), "openid%s%.256s", groups ? " " : "",
		 groups ? c->cfg->oidc.groups_claim : "");
	oidc_pkce_challenge(p->verifier, challenge);
	rc = oidc_form_add(&form, "response_type", "code");
	if (rc == JG_OK)
		rc = oidc_form_add(&form, "client_id", c->cfg->web.oidc_client_id);
	if (rc == JG_OK)
		rc = oidc_form_add(&form, "redirect_uri", ru);
	if (rc == JG_OK)
		rc = oidc_form_add(&form, "scope", scope);
	if (rc == JG_OK)
		rc = oidc_form_add(&form, "state", p->state);
	if (rc == JG_OK)
		rc = oidc_form_add(&form, "nonce", p->nonce);
	if (rc == JG_OK)
		rc = oidc_form_add(&form, "code_challenge", challenge);
	if (rc == JG_OK)
		rc = oidc_form_add(&form, "code_challenge_method", "S256");
	if (rc == JG_OK && asprintf(&url, "%s%c%s", ep, strchr(ep, '?') ? '&' : '?', form) < 0)
		url = NULL;
out:
	free(form);
	free(ru);
	free(ep);
	return url;
}

static void redirect_to(struct conn *c, const char *url)
{
	free(c->location);
	c->location = strdup(url);
	if (c->location == NULL) {
		conn_fail(c, JG_ERR_NOMEM, NULL);
		return;
	}
	conn_reply(c, 302, json_pack("{s:s}", "location", url));
}

/* 302 to the IdP, with the browser bound to this sign-in by a cookie that
 * only /auth/callback sees. */
static void send_to_idp(struct conn *c)
{
	struct weblogin_job *j = c->job;
	char *url = authorize_url(c, &j->p);

	if (url == NULL) {
		conn_error(c, 503, "unavailable", "the IdP cannot be reached; try again later");
		return;
	}
	free(c->set_cookie);
	if (asprintf(&c->set_cookie, "%s=%s; Path=/auth/callback; Max-Age=%d; HttpOnly; SameSite=Lax%s",
		     LOGIN_COOKIE, j->p.state, WEBLOGIN_PENDING_TTL_S,
		     c->cfg->web.secure_cookie ? "; Secure" : "") < 0)
		c->set_cookie = NULL;
	pending_put(c->login, &j->p);
	redirect_to(c, url);
	free(url);
}

static bool configured(struct conn *c)
{
	if (c->cfg->web.oidc_client_id != NULL && c->login != NULL && c->login->idp != NULL)
		return true;
	conn_error(c, 404, "not_found",
		   "sign-in at the IdP is not configured (web.oidc_client_id)");
	return false;
}

static struct weblogin_job *job_new(struct conn *c, enum job_kind kind)
{
	struct weblogin_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->kind = kind;
	j->issuer = strdup(c->cfg->oidc.issuer);
	if (j->issuer == NULL) {
		free(j);
		return NULL;
	}
	return j;
}

static void after_discover(struct conn *c)
{
	send_to_idp(c);
}

void weblogin_start(struct conn *c)
{
	const char *next = NULL;
	size_t nlen = 0;
	struct weblogin_job *j;
	bool known;

	c->html_page = true; /* the sign-in button is a link: errors are a page */
	if (!configured(c))
		return;
	if (MHD_lookup_connection_value_n(c->mhd, MHD_GET_ARGUMENT_KIND, "next", 4, &next,
					  &nlen) != MHD_YES || next == NULL || nlen == 0) {
		next = "/";
		nlen = 1;
	}
	/* a NUL inside would cut the path short of what was asked for */
	if (!weblogin_next_ok(next) || strlen(next) != nlen) {
		conn_error(c, 400, "bad_request",
			   "next: must be a path on this site (\"/...\"), not another site");
		return;
	}
	j = job_new(c, JOB_DISCOVER);
	if (j == NULL || oidc_random_token(j->p.state) != JG_OK ||
	    oidc_random_token(j->p.nonce) != JG_OK ||
	    oidc_random_token(j->p.verifier) != JG_OK) {
		weblogin_job_free(j);
		conn_fail(c, JG_ERR_NOMEM, NULL);
		return;
	}
	snprintf(j->p.next, sizeof(j->p.next), "%s", next);
	j->p.created_ms = time_now_ms();
	pthread_mutex_lock(&c->login->mu);
	known = c->login->have_ep;
	pthread_mutex_unlock(&c->login->mu);
	if (known) {
		c->job = j;
		send_to_idp(c);
		return;
	}
	(void)submit(c, j, after_discover);
}

static void after_exchange(struct conn *c)
{
	struct weblogin_job *j = c->job;

	if (j->err == JG_OK && auth_static_subject(c->cfg, j->who.name)) {
		/* subject namespaces (docs/identity.md): the IdP may not sign
		 * in as a static identity */
		j->err = JG_ERR_AUTH;
		snprintf(j->fail.reason, sizeof(j->fail.reason),
			 "OIDC subject %.64s is the subject of a static identity; "
			 "jitgate refuses OIDC tokens for it", j->who.name);
		snprintf(j->fail.sub, sizeof(j->fail.sub), "%s", j->who.name);
	}
	if (j->err == JG_ERR_AUTH) {
		conn_refuse_auth(c, "web", &j->fail);
		return;
	}
	if (j->err != JG_OK) {
		conn_error(c, 503, "unavailable", "%s", j->fail.reason);
		return;
	}
	free(c->location);
	c->location = strdup(j->p.next);
	if (c->location == NULL ||
	    webauth_sign_in(c, &j->who, 302, json_pack("{s:s}", "location", j->p.next)) != JG_OK)
		conn_error(c, 503, "unavailable", "cannot start a session now; try again later");
}

static void refuse(struct conn *c, const char *url, const char *reason)
{
	struct auth_failure fail = {0};

	text_copy_printable(fail.reason, sizeof(fail.reason), reason);
	(void)url;
	conn_refuse_auth(c, "web", &fail);
}

void weblogin_callback(struct conn *c, const char *url)
{
	const char *code = conn_arg(c, "code"), *state = conn_arg(c, "state");
	const char *error = conn_arg(c, "error");
	const char *bound = MHD_lookup_connection_value(c->mhd, MHD_COOKIE_KIND, LOGIN_COOKIE);
	const char *secret_env = c->cfg->web.oidc_client_secret_env;
	struct weblogin_job *j;
	char why[160];

	c->html_page = true; /* a browser lands here: errors are a page */
	if (!configured(c))
		return;
	if (error != NULL) {
		char e[64];

		text_copy_printable(e, sizeof(e), error);
		snprintf(why, sizeof(why), "the IdP refused the sign-in: %s", e);
		refuse(c, url, why);
		return;
	}
	if (code == NULL || state == NULL || *code == '\0' || strlen(code) > CODE_MAX ||
	    strlen(state) != OIDC_PKCE_LEN) {
		conn_error(c, 400, "bad_request", "code and state: missing or malformed");
		return;
	}
	/* the browser that comes back must be the one that left: otherwise
	 * someone could sign a victim in with their own code (login CSRF) */
	if (bound == NULL || strlen(bound) != OIDC_PKCE_LEN ||
	    !crypto_ct_equal(bound, state, OIDC_PKCE_LEN)) {
		refuse(c, url, "sign-in state does not belong to this browser");
		return;
	}
	j = job_new(c, JOB_EXCHANGE);
	if (j == NULL) {
		conn_fail(c, JG_ERR_NOMEM, NULL);
		return;
	}
	if (!pending_take(c->login, state, time_now_ms(), &j->p)) {
		weblogin_job_free(j);
		refuse(c, url, "unknown, used or expired sign-in state");
		return;
	}
	j->code = strdup(code);
	j->redirect_uri = redirect_uri(c->cfg);
	j->client_id = strdup(c->cfg->web.oidc_client_id);
	if (secret_env != NULL) {
		const char *s = getenv(secret_env);

		if (s == NULL || *s == '\0') {
			log_error(NULL, "web.oidc_client_secret_env: %s is not set", secret_env);
			weblogin_job_free(j);
			conn_error(c, 503, "unavailable",
				   "sign-in is misconfigured (client secret missing)");
			return;
		}
		j->secret = strdup(s);
	}
	if (j->code == NULL || j->redirect_uri == NULL || j->client_id == NULL ||
	    (secret_env != NULL && j->secret == NULL)) {
		weblogin_job_free(j);
		conn_fail(c, JG_ERR_NOMEM, NULL);
		return;
	}
	(void)submit(c, j, after_exchange);
}

/* The path of next as a query value: unreserved bytes as they are, the
 * rest %XX (next is printable ASCII, weblogin_next_ok). */
static void query_escape(char *dst, size_t cap, const char *src)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *src && o + 4 <= cap; src++) {
		unsigned char ch = (unsigned char)*src;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~/", ch) != NULL) {
			dst[o++] = (char)ch;
		} else {
			dst[o++] = '%';
			dst[o++] = hex[ch >> 4];
			dst[o++] = hex[ch & 15];
		}
	}
	dst[o] = '\0';
}

struct MHD_Response *weblogin_error_response(struct conn *c)
{
	const char *msg = json_string_value(
		json_object_get(json_object_get(c->resp, "error"), "message"));
	const char *hint, *title = "Sign-in failed";
	char href[sizeof("/auth/login?next=") + 3 * WEBLOGIN_NEXT_MAX];
	char next[3 * WEBLOGIN_NEXT_MAX + 1];

	switch (c->status) {
	case 400:
		hint = "This sign-in link is incomplete or damaged. Start again from jitgate.";
		break;
	case 401:
		hint = "You are not signed in. Sign in again; if it keeps failing, ask "
		       "your administrator.";
		break;
	case 404:
		hint = NULL;
		break;
	case 429:
		hint = "Too many failed sign-ins came from your address. Wait a minute, "
		       "then sign in again.";
		break;
	default:
		title = "Sign-in unavailable";
		hint = "jitgate could not complete the sign-in with your identity "
		       "provider. Try again in a moment.";
	}
	if (c->status == 404) {
		snprintf(href, sizeof(href), "/");
	} else if (c->job != NULL && weblogin_next_ok(c->job->p.next)) {
		query_escape(next, sizeof(next), c->job->p.next);
		snprintf(href, sizeof(href), "/auth/login?next=%s", next);
	} else {
		snprintf(href, sizeof(href), "/auth/login");
	}
	return webpage_response(webpage_error_html(title, msg ? msg : "the sign-in failed", hint,
						   c->status == 404 ? "Go to jitgate"
								    : "Sign in again",
						   href));
}
