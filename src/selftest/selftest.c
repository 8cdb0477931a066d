/* The selftest's checks; see selftest.h and docs/policy-testing.md. */
#include "selftest/selftest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "selftest/selftest_int.h"
#include "util/timeutil.h"

#define POLL_MS 10

void st_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int64_t st_mono_us(void)
{
	return time_mono_ns() / 1000;
}

void st_expect(struct st *x, int64_t id, const char *action)
{
	if (x->nexp < MAX_EXPECT)
		x->exp[x->nexp++] = (struct expect){id, action};
}

/* "HTTP 503 unavailable: store or audit not writable" from an answer. */
static void describe(long status, const json_t *body, const char *ioerr,
		     char *buf, size_t len)
{
	const json_t *e = json_object_get(body, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (ioerr != NULL)
		snprintf(buf, len, "%s", ioerr);
	else if (code != NULL)
		snprintf(buf, len, "HTTP %ld %s: %s", status, code, msg ? msg : "");
	else
		snprintf(buf, len, "HTTP %ld", status);
}

/* One API call.  body is borrowed.  *status 0 when nothing answered, with
 * why in text (also filled for non-2xx answers). */
json_t *st_call(struct st *x, const char *method, const char *path,
		    const json_t *body, long *status, char *text, size_t len)
{
	json_t *out = NULL;
	char err[512];

	*status = 0;
	if (cli_http_json(x->h, method, path, body, status, &out, err,
			  sizeof(err)) != JG_OK) {
		*status = 0;
		describe(0, NULL, err, text, len);
		return NULL;
	}
	if (*status < 200 || *status >= 300)
		describe(*status, out, NULL, text, len);
	else if (len > 0)
		text[0] = '\0';
	return out;
}

const char *st_jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* POST /v1/check for subject on resource/role: 1 allowed, 0 denied, -1
 * no answer (text says why). */
static int check(struct st *x, const char *subject, const char *resource,
		 const char *role, long *status, char *text, size_t len)
{
	json_t *body = json_pack("{s:s, s:s, s:s}", "subject", subject,
				 "resource", resource, "role", role);
	json_t *res = st_call(x, "POST", "/v1/check", body, status, text, len);
	int allowed = -1;

	json_decref(body);
	if (*status == 200 && json_is_boolean(json_object_get(res, "allowed")))
		allowed = json_is_true(json_object_get(res, "allowed"));
	if (allowed == 0 && strcmp(subject, x->subject) == 0)
		x->denied_checks++;
	json_decref(res);
	return allowed;
}

/* Asks for a grant that must be active at once; its request object, or
 * NULL with why in text. */
json_t *st_grant(struct st *x, const char *resource, const char *role,
		     const char *duration, char *text, size_t len)
{
	json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "resource", resource,
				 "role", role, "duration", duration, "reason", REASON);
	json_t *req;
	long status;

	req = st_call(x, "POST", "/v1/requests", body, &status, text, len);
	json_decref(body);
	if (status != 201) {
		if (status == 503)
			snprintf(text + strlen(text), len - strlen(text),
				 " (the store refuses writes)");
		json_decref(req);
		return NULL;
	}
	st_expect(x, json_integer_value(json_object_get(req, "id")), "request.created");
	if (strcmp(st_jstr(req, "state"), "active") != 0) {
		snprintf(text, len, "request %lld is %s, not active: policy %s must grant "
			 "%s on %s to the selftest identity without approval",
			 (long long)json_integer_value(json_object_get(req, "id")),
			 st_jstr(req, "state"), st_jstr(req, "policy"), role, resource);
		json_decref(req);
		return NULL;
	}
	st_expect(x, json_integer_value(json_object_get(req, "id")), "request.activated");
	return req;
}

int st_revoke(struct st *x, int64_t id, char *text, size_t len)
{
	json_t *body = json_pack("{s:s}", "reason", REASON), *res;
	char path[64];
	long status;

	snprintf(path, sizeof(path), "/v1/requests/%lld/revoke", (long long)id);
	res = st_call(x, "POST", path, body, &status, text, len);
	json_decref(body);
	json_decref(res);
	if (status != 200)
		return JG_ERR_INVALID;
	st_expect(x, id, "request.revoked");
	return JG_OK;
}

/* ---- set-up and fail-safe ------------------------------------------- */

void st_refresh_info(struct st *x)
{
	x->subject = st_jstr(x->info, "subject");
	x->resource = st_jstr(x->info, "resource");
	x->role = st_jstr(x->info, "role");
	x->pg_resource = json_string_value(json_object_get(x->info, "postgres_resource"));
	x->pg_role = json_string_value(json_object_get(x->info, "postgres_role"));
}

static bool setup(struct st *x)
{
	char text[512];
	json_t *who;
	long status;

	who = st_call(x, "GET", "/v1/whoami", NULL, &status, text, sizeof(text));
	if (status != 200) {
		st_add(x->rep, ST_FAILSAFE, ST_FAIL, "the server answers as this identity",
		       "GET /v1/whoami: %s", text);
		json_decref(who);
		return false;
	}
	x->info = st_call(x, "GET", "/v1/selftest", NULL, &status, text, sizeof(text));
	if (status != 200) {
		st_add(x->rep, ST_BOUNDARIES, ST_FAIL, "the token is the selftest identity's",
		       "GET /v1/selftest: %s%s", text, status == 404 ? " (add selftest: to "
		       "the config)" : status == 403 ? " (use the token of the subject "
		       "named in selftest:)" : "");
		json_decref(who);
		return false;
	}
	st_refresh_info(x);
	if (strcmp(st_jstr(who, "subject"), x->subject) != 0) {
		st_add(x->rep, ST_BOUNDARIES, ST_FAIL, "the token is the selftest identity's",
		       "it is %s's; the selftest acts only as %s", st_jstr(who, "subject"),
		       x->subject);
		json_decref(who);
		return false;
	}
	json_decref(who);
	return true;
}

static void readiness(struct st *x)
{
	const json_t *outbox, *oidc;
	char text[512];
	long status;
	json_t *r;

	r = st_call(x, "GET", "/readyz?verbose=1", NULL, &status, text, sizeof(text));
	if (!json_is_object(r)) {
		st_add(x->rep, ST_FAILSAFE, ST_FAIL, "readiness", "GET /readyz?verbose=1: %s",
		       status ? "not JSON (server before this version?)" : text);
		json_decref(r);
		return;
	}
	st_add(x->rep, ST_FAILSAFE, json_is_true(json_object_get(r, "store")) ? ST_PASS
	       : ST_FAIL, "store answers", "/readyz store: %s",
	       json_is_true(json_object_get(r, "store")) ? "ok"
	       : json_is_string(json_object_get(r, "why")) ? st_jstr(r, "why")
	       : "not answering");
	st_add(x->rep, ST_FAILSAFE, json_is_true(json_object_get(r, "engine")) ? ST_PASS
	       : ST_FAIL, "audit writer ready", "/readyz engine: %s",
	       json_is_true(json_object_get(r, "engine")) ? "ok" : "not started");
	outbox = json_object_get(r, "outbox");
	if (json_is_true(json_object_get(outbox, "ok")))
		st_add(x->rep, ST_FAILSAFE, ST_PASS, "outbox delivers",
		       "no failing delivery (last delivered %s)",
		       json_is_string(json_object_get(outbox, "last_delivered"))
		       ? st_jstr(outbox, "last_delivered") : "never: nothing to send");
	else
		st_add(x->rep, ST_FAILSAFE, ST_FAIL, "outbox delivers",
		       "%s; %lld deliveries failed since the last success (last failure %s)",
		       json_is_false(json_object_get(outbox, "readable"))
		       ? "outbox not readable" : "notifications are not getting through",
		       (long long)json_integer_value(json_object_get(outbox, "failing")),
		       st_jstr(outbox, "last_failed"));
	oidc = json_object_get(r, "oidc");
	if (json_is_true(json_object_get(oidc, "enabled")))
		st_add(x->rep, ST_INTEGRATION, json_is_true(json_object_get(oidc, "ok"))
		       ? ST_PASS : ST_FAIL, "the daemon holds IdP keys", "%lld usable keys",
		       (long long)json_integer_value(json_object_get(oidc, "keys")));
	json_decref(r);
}

/* Ends grants a previous, interrupted selftest left active. */
static void cleanup(struct st *x)
{
	char text[256];
	json_t *l, *r;
	long status;
	size_t i;

	l = st_call(x, "GET", "/v1/requests?mine=1&state=active&limit=100", NULL, &status,
		 text, sizeof(text));
	json_array_foreach(json_object_get(l, "requests"), i, r) {
		char path[64];
		json_t *res;

		snprintf(path, sizeof(path), "/v1/requests/%lld/revoke",
			 (long long)json_integer_value(json_object_get(r, "id")));
		res = st_call(x, "POST", path, NULL, &status, text, sizeof(text));
		json_decref(res);
	}
	json_decref(l);
}

/* ---- permission boundaries --------------------------------------------- */

static void boundaries(struct st *x)
{
	char text[512];
	long status;
	int allowed;
	json_t *r;

	allowed = check(x, x->subject, x->resource, x->role, &status, text, sizeof(text));
	if (allowed == 0)
		st_add(x->rep, ST_BOUNDARIES, ST_PASS, "deny by default",
		       "no grant: check for %s on %s denied", x->role, x->resource);
	else
		st_add(x->rep, ST_BOUNDARIES, ST_FAIL, "deny by default", "%s",
		       allowed == 1 ? "allowed without a grant" : text);
	allowed = check(x, "jitgate-selftest-nobody", x->resource, x->role, &status,
			text, sizeof(text));
	st_add(x->rep, ST_BOUNDARIES, status == 403 ? ST_PASS : ST_FAIL,
	       "asking about another subject is refused", "%s",
	       status == 403 ? "403" : status == 200
	       ? "answered: the selftest identity is a checker (it should not be)" : text);
	r = st_call(x, "GET", "/v1/audit/export", NULL, &status, text, sizeof(text));
	json_decref(r);
	st_add(x->rep, ST_BOUNDARIES, status == 403 ? ST_PASS : ST_FAIL,
	       "reading the whole audit log is refused", "%s",
	       status == 403 ? "403" : status == 200
	       ? "allowed: the selftest identity is an admin or auditor (it should not be)"
	       : text);
}

/* ---- timeout and revocation -------------------------------------------- */

static void revocation(struct st *x)
{
	char text[512], path[64];
	int64_t id, t0;
	json_t *req, *r;
	long status;
	int allowed;

	req = st_grant(x, x->resource, x->role, "5m", text, sizeof(text));
	if (req == NULL) {
		st_add(x->rep, ST_TIMEOUT, ST_FAIL, "a grant is live at once", "%s", text);
		return;
	}
	id = json_integer_value(json_object_get(req, "id"));
	json_decref(req);
	allowed = check(x, x->subject, x->resource, x->role, &status, text, sizeof(text));
	st_add(x->rep, ST_TIMEOUT, allowed == 1 ? ST_PASS : ST_FAIL,
	       "a grant is live at once", "request %lld: check %s", (long long)id,
	       allowed == 1 ? "allowed" : "not allowed");
	snprintf(path, sizeof(path), "/v1/requests/%lld/approve", (long long)id);
	r = st_call(x, "POST", path, NULL, &status, text, sizeof(text));
	json_decref(r);
	st_add(x->rep, ST_BOUNDARIES, status == 403 || status == 409 ? ST_PASS : ST_FAIL,
	       "approving its own grant is refused", "%s", status == 200 ? "approved" : text);
	t0 = st_mono_us();
	if (st_revoke(x, id, text, sizeof(text)) != JG_OK) {
		st_add(x->rep, ST_TIMEOUT, ST_FAIL, "a revoke denies the next check",
		       "revoke of request %lld: %s", (long long)id, text);
		return;
	}
	allowed = check(x, x->subject, x->resource, x->role, &status, text, sizeof(text));
	if (allowed == 0) {
		x->rep->latency_us[STL_DENY_AFTER_REVOKE] = st_mono_us() - t0;
		st_add(x->rep, ST_TIMEOUT, ST_PASS, "a revoke denies the next check",
		       "denied %.3f ms after the revoke was sent",
		       (double)x->rep->latency_us[STL_DENY_AFTER_REVOKE] / 1000.0);
	} else {
		st_add(x->rep, ST_TIMEOUT, ST_FAIL, "a revoke denies the next check", "%s",
		       allowed == 1 ? "still allowed after the revoke" : text);
	}
}

static void expiry(struct st *x)
{
	int64_t expires_ms = 0, now, late;
	char text[512];
	json_t *req;
	long status;
	int allowed = 1;

	req = st_grant(x, x->resource, x->role, "2s", text, sizeof(text));
	if (req == NULL ||
	    time_parse(st_jstr(req, "expires_at"), &expires_ms) != JG_OK) {
		st_add(x->rep, ST_TIMEOUT, ST_FAIL, "a short grant expires on time", "%s",
		       req ? "no expires_at in the answer" : text);
		json_decref(req);
		return;
	}
	x->expired_id = json_integer_value(json_object_get(req, "id"));
	st_expect(x, x->expired_id, "request.expired");
	json_decref(req);
	/* poll until denied, or give up well past the slack */
	while ((now = time_now_ms()) < expires_ms + SELFTEST_EXPIRY_SLACK_MS + 3000) {
		allowed = check(x, x->subject, x->resource, x->role, &status, text,
				sizeof(text));
		if (allowed != 1)
			break;
		st_sleep_ms(now < expires_ms - 50 ? 20 : POLL_MS);
	}
	now = time_now_ms();
	late = now - expires_ms;
	if (allowed == 0 && late >= 0)
		x->rep->latency_us[STL_EXPIRY_CHECK] = late * 1000;
	if (allowed == 0 && late < 0)
		st_add(x->rep, ST_TIMEOUT, ST_FAIL, "a short grant expires on time",
		       "denied %lld ms before expires_at", (long long)-late);
	else if (allowed == 0 && late <= SELFTEST_EXPIRY_SLACK_MS)
		st_add(x->rep, ST_TIMEOUT, ST_PASS, "a short grant expires on time",
		       "2s grant denied %lld ms after expires_at (this machine's clock)",
		       (long long)late);
	else
		st_add(x->rep, ST_TIMEOUT, ST_FAIL, "a short grant expires on time",
		       "%s %lld ms after expires_at", allowed == 1 ? "still allowed"
		       : text, (long long)late);
}

/* ---- audit -------------------------------------------------------------- */

static void audit_begin(struct st *x)
{
	char text[512];
	long status;
	json_t *r = st_call(x, "GET", "/v1/audit/verify", NULL, &status, text, sizeof(text));

	x->audit_readable = status == 200;
	x->audit_start = json_integer_value(json_object_get(r, "count"));
	if (!x->audit_readable)
		st_add(x->rep, ST_AUDIT, ST_FAIL, "the chain verifies",
		       "GET /v1/audit/verify: %s", text);
	json_decref(r);
}

static bool has_event(const json_t *events, int64_t id, const char *action,
		      const json_t **found)
{
	size_t i;
	json_t *ev;

	json_array_foreach(events, i, ev) {
		if (json_integer_value(json_object_get(ev, "request_id")) == id &&
		    strcmp(st_jstr(ev, "action"), action) == 0) {
			if (found)
				*found = ev;
			return true;
		}
	}
	return false;
}

static bool all_expected(const struct st *x, const json_t *events)
{
	for (size_t i = 0; i < x->nexp; i++)
		if (!has_event(events, x->exp[i].id, x->exp[i].action, NULL))
			return false;
	return true;
}

static int count_action(const json_t *events, const char *action)
{
	size_t i;
	json_t *ev;
	int n = 0;

	json_array_foreach(events, i, ev)
		n += strcmp(st_jstr(ev, "action"), action) == 0;
	return n;
}

/* The selftest's own events since it began (the daemon narrows the
 * listing to them). */
static json_t *own_events(struct st *x, char *text, size_t len)
{
	json_t *all = json_array(), *page;
	int64_t after = x->audit_start;
	char path[96];
	long status;

	for (int pages = 0; all && pages < 100; pages++) {
		snprintf(path, sizeof(path), "/v1/audit?after=%lld&limit=1000",
			 (long long)after);
		page = st_call(x, "GET", path, NULL, &status, text, len);
		if (status != 200) {
			json_decref(page);
			json_decref(all);
			return NULL;
		}
		if (json_array_size(json_object_get(page, "events")) == 0) {
			json_decref(page);
			break;
		}
		json_array_extend(all, json_object_get(page, "events"));
		after = json_integer_value(json_object_get(page, "next_after"));
		json_decref(page);
	}
	return all;
}

static void audit_end(struct st *x)
{
	const json_t *ev = NULL;
	json_t *events, *v;
	char text[512], missing[256] = "";
	int64_t t = 0, exp_ms = 0;
	long status;
	size_t i;

	if (!x->audit_readable)
		return;
	/* expiries are written by the daemon's timer, just after expires_at:
	 * give them a moment */
	for (int tries = 0; tries < 100; tries++) {
		events = own_events(x, text, sizeof(text));
		if (events == NULL || all_expected(x, events))
			break;
		json_decref(events);
		events = NULL;
		st_sleep_ms(50);
	}
	if (events == NULL && text[0] == '\0')
		events = own_events(x, text, sizeof(text));
	if (events == NULL) {
		st_add(x->rep, ST_AUDIT, ST_FAIL, "every action is in the log",
		       "GET /v1/audit: %s", text);
		return;
	}
	json_array_foreach(events, i, v)
		if (strcmp(st_jstr(v, "subject"), x->subject) != 0)
			snprintf(missing, sizeof(missing), "the listing shows another "
				 "subject's event (seq %lld)",
				 (long long)json_integer_value(json_object_get(v, "seq")));
	for (i = 0; i < x->nexp && !missing[0]; i++)
		if (!has_event(events, x->exp[i].id, x->exp[i].action, NULL))
			snprintf(missing, sizeof(missing), "no %s for request %lld",
				 x->exp[i].action, (long long)x->exp[i].id);
	if (!missing[0] && count_action(events, "check.denied") < x->denied_checks)
		snprintf(missing, sizeof(missing), "%d check.denied events for %d denied checks",
			 count_action(events, "check.denied"), x->denied_checks);
	if (!missing[0] && count_action(events, "session.started") < x->sessions)
		snprintf(missing, sizeof(missing), "%d session.started events for %d sessions",
			 count_action(events, "session.started"), x->sessions);
	if (missing[0])
		st_add(x->rep, ST_AUDIT, ST_FAIL, "every action is in the log", "%s", missing);
	else
		st_add(x->rep, ST_AUDIT, ST_PASS, "every action is in the log",
		       "%zu events: %zu request transitions, %d denied checks, %d sessions",
		       json_array_size(events), x->nexp, x->denied_checks, x->sessions);
	if (x->expired_id && has_event(events, x->expired_id, "request.expired", &ev) &&
	    time_parse(st_jstr(ev, "time"), &t) == JG_OK &&
	    time_parse(st_jstr(json_object_get(ev, "detail"), "expires_at"), &exp_ms) == JG_OK &&
	    t >= exp_ms)
		x->rep->latency_us[STL_EXPIRY_EVENT] = (t - exp_ms) * 1000;
	json_decref(events);

	v = st_call(x, "GET", "/v1/audit/verify", NULL, &status, text, sizeof(text));
	if (status != 200)
		st_add(x->rep, ST_AUDIT, ST_FAIL, "the chain verifies", "%s", text);
	else
		st_add(x->rep, ST_AUDIT, json_is_true(json_object_get(v, "ok")) ? ST_PASS
		       : ST_FAIL, "the chain verifies", "%lld events, head %.16s...",
		       (long long)json_integer_value(json_object_get(v, "count")),
		       st_jstr(v, "head"));
	json_decref(v);
}

void selftest_run(struct cli_http *h, const char *token, struct st_report *rep)
{
	struct st x = {.h = h, .token = token, .rep = rep};

	if (!setup(&x)) {
		readiness(&x);
		json_decref(x.info);
		return;
	}
	readiness(&x);
	audit_begin(&x);
	cleanup(&x);
	boundaries(&x);
	revocation(&x);
	expiry(&x);
	st_gateway(&x);
	st_idp(&x);
	st_upstreams(&x);
	audit_end(&x);
	json_decref(x.info);
}
