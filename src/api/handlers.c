/* The request, check and whoami endpoints. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/render.h"
#include "core/policy.h"
#include "util/duration.h"
#include "util/timeutil.h"

#define LIST_DEFAULT 50
#define LIST_MAX 500

/* Parses the body against spec; on failure answers 400/413 and returns
 * false. */
static bool parse_body(struct conn *c, const struct field_spec *spec, size_t n)
{
	char msg[256];
	const char *field;
	int rc = body_parse(c->body, c->len, spec, n, &c->args, msg, sizeof(msg), &field);

	if (rc != JG_OK) {
		conn_fail(c, rc, msg);
		return false;
	}
	return true;
}

/* Answers with the request the engine produced, or why it refused. */
static void reply_request(struct conn *c)
{
	if (c->cmd.err != JG_OK) {
		conn_fail(c, c->cmd.err, c->cmd.res.message);
		return;
	}
	conn_reply(c, c->cmd.op == ENG_CREATE ? 201 : 200, render_request(&c->cmd.out));
}

void handle_create(struct conn *c)
{
	static const struct field_spec spec[] = {
		{"resource", FIELD_STRING, true}, {"role", FIELD_STRING, true},
		{"duration", FIELD_STRING, true}, {"reason", FIELD_STRING, false},
		{"ticket", FIELD_STRING, false},  {"break_glass", FIELD_BOOL, false},
		{"extends", FIELD_INT, false},
	};
	int64_t secs;

	if (!parse_body(c, spec, sizeof(spec) / sizeof(spec[0])))
		return;
	if (duration_parse(body_str(c->args, "duration"), &secs) != JG_OK) {
		conn_error(c, 400, "bad_request",
			   "duration: not a duration like 90s, 30m, 4h or 1h30m");
		return;
	}
	if (json_object_get(c->args, "extends") && !json_is_null(json_object_get(c->args, "extends")) &&
	    body_int(c->args, "extends") <= 0) {
		conn_error(c, 400, "bad_request", "extends: must be a request id");
		return;
	}
	memset(&c->cmd, 0, sizeof(c->cmd));
	c->cmd.op = ENG_CREATE;
	c->cmd.who = &c->who.subject;
	c->cmd.create.resource = body_str(c->args, "resource");
	c->cmd.create.role = body_str(c->args, "role");
	c->cmd.create.duration_s = secs;
	c->cmd.create.reason = body_str(c->args, "reason");
	c->cmd.create.ticket = body_str(c->args, "ticket");
	c->cmd.create.break_glass = body_bool(c->args, "break_glass");
	c->cmd.create.extends = body_int(c->args, "extends");
	conn_submit(c, reply_request);
}

void handle_action(struct conn *c, int64_t id, const char *verb)
{
	static const struct field_spec comment_spec[] = {{"comment", FIELD_STRING, false}};
	static const struct field_spec reason_spec[] = {{"reason", FIELD_STRING, false}};
	static const struct {
		const char *verb;
		enum engine_op op;
		const struct field_spec *spec;
		size_t nspec;
		const char *text; /* body member carried to the engine */
	} verbs[] = {
		{"approve", ENG_APPROVE, comment_spec, 1, "comment"},
		{"deny", ENG_DENY, comment_spec, 1, "comment"},
		{"cancel", ENG_CANCEL, NULL, 0, NULL},
		{"revoke", ENG_REVOKE, reason_spec, 1, "reason"},
		{"review", ENG_REVIEW, comment_spec, 1, "comment"},
	};

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verbs[i].verb, verb) != 0)
			continue;
		if (!parse_body(c, verbs[i].spec, verbs[i].nspec))
			return;
		memset(&c->cmd, 0, sizeof(c->cmd));
		c->cmd.op = verbs[i].op;
		c->cmd.who = &c->who.subject;
		c->cmd.id = id;
		c->cmd.comment = verbs[i].text ? body_str(c->args, verbs[i].text) : NULL;
		conn_submit(c, reply_request);
		return;
	}
	conn_error(c, 404, "not_found", "no such action: %.32s", verb);
}

void handle_get_request(struct conn *c, int64_t id)
{
	struct request r;
	int rc = store_request_get(c->deps->store, id, &r);

	/* ids are sequential, so existence is no secret; contents are */
	if (rc == JG_ERR_NOTFOUND) {
		conn_error(c, 404, "not_found", "no request %lld", (long long)id);
	} else if (rc == JG_OK && !core_may_view(c->cfg, &r, &c->who.subject)) {
		conn_error(c, 403, "forbidden", "%s may not see request %lld", c->who.name,
			   (long long)id);
	} else if (rc != JG_OK) {
		conn_fail(c, JG_ERR_STORE, "the store is not readable");
	} else {
		conn_reply(c, 200, render_request(&r));
	}
	if (rc == JG_OK)
		request_clear(&r);
}

struct list_ctx {
	struct conn *c;
	bool approvable;
	long limit;
	json_t *out;
	int64_t last_id;
	int64_t now_ms; /* who may decide depends on time (escalation) */
};

static bool approved_by(const struct request *r, const char *name)
{
	for (size_t i = 0; i < r->napprovals; i++)
		if (strcmp(r->approvals[i].by, name) == 0)
			return true;
	return false;
}

static int list_one(void *arg, const struct request *r)
{
	struct list_ctx *l = arg;
	const struct subject *who = &l->c->who.subject;

	if (l->approvable) {
		if (r->state != REQ_PENDING || !core_may_decide(l->c->cfg, r, who, l->now_ms) ||
		    approved_by(r, who->name))
			return 0;
	} else if (!core_may_view(l->c->cfg, r, who)) {
		return 0;
	}
	json_array_append_new(l->out, render_request(r));
	l->last_id = r->id;
	return (long)json_array_size(l->out) >= l->limit ? 1 : 0;
}

void handle_list(struct conn *c)
{
	struct request_filter f = {.state = -1};
	struct list_ctx l = {.c = c, .limit = LIST_DEFAULT,
			      .now_ms = time_now_ms()};
	const char *state = conn_arg(c, "state");
	const char *mine = conn_arg(c, "mine");
	const char *appr = conn_arg(c, "approvable");
	long after = 0;
	int rc;

	if (!conn_arg_long(c, "limit", 1, LIST_MAX, &l.limit) ||
	    !conn_arg_long(c, "after", 1, LONG_MAX, &after))
		return;
	if (state && *state) {
		enum req_state s;

		if (!req_state_parse(state, &s)) {
			conn_error(c, 400, "bad_request", "state: unknown state \"%.32s\"", state);
			return;
		}
		f.state = (int)s;
	}
	if (mine && strcmp(mine, "1") == 0)
		f.requester = c->who.name;
	l.approvable = appr && strcmp(appr, "1") == 0;
	if (l.approvable)
		f.state = REQ_PENDING;
	f.before_id = after;
	l.out = json_array();
	if (l.out == NULL) {
		conn_fail(c, JG_ERR_NOMEM, NULL);
		return;
	}
	rc = store_requests_scan(c->deps->store, &f, list_one, &l);
	if (rc < 0) {
		json_decref(l.out);
		conn_fail(c, JG_ERR_STORE, "the store is not readable");
		return;
	}
	conn_reply(c, 200, json_pack("{s:o, s:o}", "requests", l.out, "next_after",
				     (long)json_array_size(l.out) >= l.limit
					     ? json_integer(l.last_id)
					     : json_null()));
}

static char *put_text(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

static char *put_i64(char *p, long long v)
{
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	char t[24];
	size_t n = 0;

	do {
		t[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*p++ = '-';
	while (n > 0)
		*p++ = t[--n];
	return p;
}

#define CHECK_ALLOWED_MAX 192 /* the texts below, two int64s and a time */

/* The allowed answer, the bytes json_dumps(JSON_COMPACT) gives for
 * {allowed, request_id, expires_at, remaining_s}: numbers and our own
 * timestamp only, nothing to escape, so it is formatted directly, without
 * printf (the decision API's hot path; building a json_t to dump it cost
 * more than the grant lookup, and asprintf 1.8k instructions). */
static void check_allowed(struct conn *c, const struct grant_hit *hit, int64_t now)
{
	char *text = malloc(CHECK_ALLOWED_MAX), *p = text;

	if (text != NULL) {
		p = put_text(p, "{\"allowed\":true,\"request_id\":");
		p = put_i64(p, (long long)hit->request_id);
		p = put_text(p, ",\"expires_at\":");
		if (hit->expires_at_ms != 0) {
			*p++ = '"';
			time_format(hit->expires_at_ms, p);
			p += strlen(p);
			*p++ = '"';
		} else {
			p = put_text(p, "null"); /* render_time's null for 0 */
		}
		p = put_text(p, ",\"remaining_s\":");
		p = put_i64(p, (long long)((hit->expires_at_ms - now + 999) / 1000));
		*p++ = '}';
		*p = '\0';
	}
	conn_reply_text(c, 200, text);
}

static const struct field_spec check_spec[] = {
	{"subject", FIELD_STRING, true},
	{"resource", FIELD_STRING, true},
	{"role", FIELD_STRING, true},
};

void check_prefetch(struct conn *c)
{
	_Static_assert(sizeof(check_spec) / sizeof(check_spec[0]) ==
			       sizeof(c->check_vals) / sizeof(c->check_vals[0]),
		       "check_vals holds the fields");
	/* a plain body is read in place; anything else, and every error,
	 * is body_parse's in handle_check */
	c->check_read = body_strings(c->body, c->len, check_spec, 3, c->check_vals);
	if (c->check_read)
		c->check_hint = grant_index_hint(c->deps->gi, c->check_vals[0],
						 c->check_vals[1], c->check_vals[2]);
}

void handle_check(struct conn *c)
{
	const char *subject, *resource, *role;
	const struct resource_cfg *rc;
	struct grant_hit hit;
	int64_t t0 = time_mono_ns(), now;
	bool allowed;
	json_t *ev;

	if (c->check_read) {
		subject = c->check_vals[0];
		resource = c->check_vals[1];
		role = c->check_vals[2];
	} else {
		if (!parse_body(c, check_spec, sizeof(check_spec) / sizeof(check_spec[0])))
			return;
		subject = body_str(c->args, "subject");
		resource = body_str(c->args, "resource");
		role = body_str(c->args, "role");
		c->check_hint = grant_index_hint(c->deps->gi, subject, resource, role);
	}
	if (strcmp(subject, c->who.name) != 0 && !policy_is_checker(c->cfg, &c->who.subject)) {
		conn_error(c, 403, "forbidden",
			   "only checkers may ask about another subject");
		return;
	}
	rc = config_resource(c->cfg, resource);
	if (rc == NULL) {
		conn_error(c, 400, "bad_request", "resource: unknown resource \"%.64s\"", resource);
		return;
	}
	if (config_role(rc, role) == NULL) {
		conn_error(c, 400, "bad_request", "role: resource %s has no role \"%.64s\"",
			   rc->name, role);
		return;
	}
	now = time_now_ms();
	allowed = grant_index_check_hinted(c->deps->gi, subject, resource, role, c->check_hint,
					   now, &hit);
	metrics_observe(&c->deps->metrics->check_latency, time_mono_ns() - t0);
	if (allowed) {
		atomic_fetch_add_explicit(&c->deps->metrics->checks_allowed, 1,
					  memory_order_relaxed);
		check_allowed(c, &hit, now);
		return;
	}
	atomic_fetch_add_explicit(&c->deps->metrics->checks_denied, 1, memory_order_relaxed);
	ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "action", "check.denied",
		       "actor", c->who.name, "subject", subject, "resource", resource,
		       "role", role, "detail", "reason", "no active grant", "via", "api");
	if (ev == NULL) {
		conn_fail(c, JG_ERR_NOMEM, NULL);
		return;
	}
	conn_audit_then_reply(c, ev, 200, json_pack("{s:b}", "allowed", 0));
}

void handle_whoami(struct conn *c)
{
	json_t *groups = json_array();

	for (size_t i = 0; groups && i < c->who.ngroups; i++)
		json_array_append_new(groups, json_string(c->who.groups[i]));
	conn_reply(c, 200, json_pack("{s:s, s:o, s:s, s:b, s:b, s:b, s:o, s:o}", "subject",
				     c->who.name, "groups", groups ? groups : json_array(),
				     "method", c->who.method ? c->who.method : "static",
				     "admin", policy_is_admin(c->cfg, &c->who.subject),
				     "auditor", policy_is_auditor(c->cfg, &c->who.subject),
				     "checker", policy_is_checker(c->cfg, &c->who.subject),
				     /* the browser's CSRF token (design section 10) */
				     "csrf", c->by_session ? json_string(c->csrf) : json_null(),
				     "session_expires_at",
				     c->by_session ? render_time(c->session_expires_ms)
						   : json_null()));
}
