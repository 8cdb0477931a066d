#include "server/authsvc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/canon.h"
#include "identity/authlimit.h"
#include "util/log.h"
#include "util/timeutil.h"

#define FLUSH_INTERVAL_MS 1000 /* a closed minute is written within this */
#define AUTH_FAILED_ACTION "auth.failed"

struct authsvc {
	struct engine *engine;
	struct metrics *metrics;
	struct oidc *oidc;
	struct authlimit *lim;
	pthread_mutex_t mu; /* guards stop */
	pthread_cond_t wake;
	bool stop;
	pthread_t thread;
	bool thread_started;
};

/* ---- events ---- */

/* detail members from outside text go through canon_string: a name that
 * is not UTF-8 is escaped, never a reason for the event to vanish. */
static void set_text(json_t *obj, const char *key, const char *text)
{
	if (text && *text)
		json_object_set_new(obj, key, canon_string(text));
}

static json_t *failure_event(const char *action, const char *actor, const char *via,
			     const char *addr, const char *claimed, const char *reason)
{
	json_t *ev = json_object(), *detail = json_object();

	if (!ev || !detail) {
		json_decref(ev);
		json_decref(detail);
		return NULL;
	}
	json_object_set_new(ev, "action", json_string(action));
	json_object_set_new(ev, "actor", canon_string(actor));
	set_text(detail, "reason", reason);
	set_text(detail, "remote_addr", addr);
	set_text(detail, "via", via);
	set_text(detail, "claimed_subject", claimed);
	json_object_set_new(ev, "detail", detail);
	return ev;
}

/* The limiter closed a minute: one event for all it counted. */
static void emit_report(void *ctx, const struct authlimit_report *r)
{
	struct authsvc *a = ctx;
	char since[TIME_RFC3339_LEN];
	json_t *ev, *detail;

	if (r->refused) {
		ev = failure_event(AUTH_FAILED_ACTION, "anonymous", r->via, r->addr, NULL,
				   "too many failed authentications from this address: "
				   "requests without valid credentials were refused");
		log_warn(NULL, "%llu request(s) from %s refused in a minute: too many failed "
			       "authentications", (unsigned long long)r->count, r->addr);
	} else {
		ev = failure_event(r->action, "anonymous", r->via, r->addr, r->claimed,
				   r->reason);
	}
	if (!ev) {
		atomic_fetch_add(&a->metrics->audit_dropped, 1);
		return;
	}
	detail = json_object_get(ev, "detail");
	time_format(r->start_ms, since);
	json_object_set_new(detail, "count", json_integer((json_int_t)r->count));
	json_object_set_new(detail, "since", json_string(since));
	json_object_set_new(detail, r->refused ? "rate_limited" : "aggregated", json_true());
	engine_audit_async(a->engine, ev);
}

/* ---- the flush thread: writes the minutes that closed ---- */

static void *flush_main(void *arg)
{
	struct authsvc *a = arg;
	struct timespec ts;

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += FLUSH_INTERVAL_MS / 1000;
		pthread_cond_timedwait(&a->wake, &a->mu, &ts);
		pthread_mutex_unlock(&a->mu);
		authlimit_flush(a->lim, time_now_ms());
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* ---- OIDC glue ---- */

static int oidc_verify(void *ctx, const char *token, int64_t now_s, struct authn *out,
		       struct auth_failure *fail)
{
	struct authsvc *a = ctx;
	struct oidc_identity id = {0};
	struct oidc_failure of = {0};

	if (oidc_authenticate(a->oidc, token, now_s, &id, &of) != JG_OK) {
		snprintf(fail->reason, sizeof(fail->reason), "%s", of.reason);
		snprintf(fail->iss, sizeof(fail->iss), "%s", of.iss);
		snprintf(fail->kid, sizeof(fail->kid), "%s", of.kid);
		snprintf(fail->sub, sizeof(fail->sub), "%s", of.sub);
		return JG_ERR_AUTH;
	}
	/* hand the strings over */
	out->name = id.subject;
	out->groups = id.groups;
	out->ngroups = id.ngroups;
	out->method = "oidc";
	authn_finish(out);
	return JG_OK;
}

int authsvc_new(struct engine *engine, struct metrics *metrics, struct oidc *oidc,
		struct authsvc **out)
{
	struct authsvc *a;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return JG_ERR_NOMEM;
	a->engine = engine;
	a->metrics = metrics;
	a->oidc = oidc;
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wake, &ca);
	pthread_condattr_destroy(&ca);
	rc = authlimit_new(0, emit_report, a, &a->lim);
	if (rc != JG_OK)
		goto fail;
	if (pthread_create(&a->thread, NULL, flush_main, a) != 0) {
		rc = JG_ERR_INTERNAL;
		goto fail;
	}
	a->thread_started = true;
	*out = a;
	return JG_OK;
fail:
	authsvc_free(a);
	return rc;
}

void authsvc_free(struct authsvc *a)
{
	if (!a)
		return;
	if (a->thread_started) {
		pthread_mutex_lock(&a->mu);
		a->stop = true;
		pthread_cond_signal(&a->wake);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->thread, NULL);
	}
	/* what was counted is written, not lost at a restart */
	if (a->lim)
		authlimit_flush(a->lim, INT64_MAX);
	authlimit_free(a->lim);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->wake);
	free(a);
}

void authsvc_client_addr(const char *peer, char *out, size_t outlen)
{
	const char *colon = strrchr(peer, ':');
	size_t n = colon ? (size_t)(colon - peer) : strlen(peer);

	if (n > 0 && peer[0] == '[' && peer[n - 1] == ']') {
		peer++;
		n -= 2;
	}
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, peer, n);
	out[n] = '\0';
}

static void limited(struct authsvc *a, struct auth_result *res, int64_t retry_after_s)
{
	atomic_fetch_add_explicit(&a->metrics->auth_refused, 1, memory_order_relaxed);
	res->outcome = AUTH_LIMITED;
	res->retry_after_s = retry_after_s;
	snprintf(res->reason, sizeof(res->reason),
		 "too many failed authentications from this address; retry in %lld s",
		 (long long)retry_after_s);
}

/* A presented credential failed (action auth.failed), or a login was
 * refused before one was asked for (the caller's action): the limiter
 * decides between auditing it now, counting it, or refusing the address. */
static enum auth_outcome failed(struct authsvc *a, const struct config *cfg,
				const struct auth_attempt *at, const struct auth_failure *fail,
				const char *action, const char *actor, int64_t now_ms,
				struct auth_result *res)
{
	const int64_t limit = cfg->limits.auth_failures_per_ip_per_min;
	const char *claimed = at->user ? at->user : fail->sub;
	const bool auth = strcmp(action, AUTH_FAILED_ACTION) == 0;
	int64_t retry;

	if (auth)
		atomic_fetch_add_explicit(&a->metrics->auth_failures, 1, memory_order_relaxed);
	switch (authlimit_failure(a->lim, at->client, claimed, action, at->via, fail->reason,
				  limit, now_ms, &retry)) {
	case AUTHLIMIT_REFUSED:
		limited(a, res, retry);
		return AUTH_LIMITED;
	case AUTHLIMIT_RECORD:
		if (auth)
			log_info(NULL, "auth failed via %s from %s for %s: %s", at->via,
				 at->client, claimed[0] ? claimed : "-", fail->reason);
		res->event = failure_event(action, actor, at->via, at->client, claimed,
					   fail->reason);
		if (res->event) {
			json_t *d = json_object_get(res->event, "detail");

			set_text(d, "iss", fail->iss);
			set_text(d, "kid", fail->kid);
			/* at the gateway the claim is the user; say what the
			 * token claimed too when it differs */
			if (at->user && fail->sub[0] && strcmp(fail->sub, at->user) != 0 &&
			    actor != fail->sub)
				set_text(d, "token_subject", fail->sub);
		} else {
			atomic_fetch_add(&a->metrics->audit_dropped, 1);
		}
		break;
	case AUTHLIMIT_COUNTED:
		break;
	}
	res->outcome = AUTH_FAILED;
	snprintf(res->reason, sizeof(res->reason), "%s", fail->reason);
	return AUTH_FAILED;
}

enum auth_outcome authsvc_authenticate(struct authsvc *a, const struct config *cfg,
				       const struct auth_attempt *at, int64_t now_ms,
				       struct authn *who, struct auth_result *res)
{
	const int64_t limit = cfg->limits.auth_failures_per_ip_per_min;
	struct auth_failure fail;
	const char *actor = "anonymous";
	int64_t retry;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(who, 0, sizeof(*who));
	if (at->unusable == NULL && (at->credential == NULL || at->credential[0] == '\0')) {
		/* a probe, not a failed authentication: nothing durable */
		if (authlimit_over(a->lim, at->client, at->via, limit, now_ms, &retry)) {
			limited(a, res, retry);
		} else {
			res->outcome = AUTH_NONE;
			snprintf(res->reason, sizeof(res->reason), "%s",
				 at->why_absent ? at->why_absent : "no credentials");
		}
		return res->outcome;
	}
	if (at->unusable) {
		memset(&fail, 0, sizeof(fail));
		snprintf(fail.reason, sizeof(fail.reason), "%s", at->unusable);
		rc = JG_ERR_AUTH;
	} else {
		rc = auth_bearer(cfg, a->oidc ? oidc_verify : NULL, a, at->credential,
				 now_ms, who, &fail);
	}
	if (rc == JG_OK && (at->user == NULL || strcmp(who->name, at->user) == 0)) {
		res->outcome = AUTH_OK;
		return AUTH_OK;
	}
	if (rc == JG_OK) {
		/* a valid token used to log in as someone else: the token's
		 * subject is verified, so it is the actor */
		snprintf(fail.reason, sizeof(fail.reason),
			 "the token belongs to another subject than the user logging in");
		fail.iss[0] = fail.kid[0] = fail.sub[0] = '\0';
		snprintf(fail.sub, sizeof(fail.sub), "%s", who->name);
		actor = fail.sub;
		authn_clear(who);
	}
	return failed(a, cfg, at, &fail, AUTH_FAILED_ACTION, actor, now_ms, res);
}

enum auth_outcome authsvc_record_failure(struct authsvc *a, const struct config *cfg,
					 const struct auth_attempt *at,
					 const struct auth_failure *fail, int64_t now_ms,
					 struct auth_result *res)
{
	memset(res, 0, sizeof(*res));
	return failed(a, cfg, at, fail, AUTH_FAILED_ACTION, "anonymous", now_ms, res);
}

enum auth_outcome authsvc_record_refusal(struct authsvc *a, const struct config *cfg,
					 const struct auth_attempt *at, const char *action,
					 const char *reason, int64_t now_ms,
					 struct auth_result *res)
{
	struct auth_failure fail;

	memset(res, 0, sizeof(*res));
	memset(&fail, 0, sizeof(fail));
	snprintf(fail.reason, sizeof(fail.reason), "%s", reason);
	return failed(a, cfg, at, &fail, action, "anonymous", now_ms, res);
}
