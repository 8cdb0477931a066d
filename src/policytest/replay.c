/* audit replay; see replay.h. */
#include "policytest/replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/chain.h"
#include "core/policy.h"
#include "core/request.h"
#include "util/duration.h"
#include "util/timeutil.h"
#include "util/vec.h"

#define REPLAY_GROUPS_MAX SUBJECT_GROUPS_MAX

struct replay {
	const struct config *cfg;
	struct audit_verifier *v;
	size_t replayed;
	struct replay_item *differ;
	size_t ndiffer, cap;
};

int replay_new(const struct config *cfg, struct replay **out)
{
	struct replay *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (r == NULL)
		return JG_ERR_NOMEM;
	r->cfg = cfg;
	if (audit_verifier_new(&r->v) != JG_OK) {
		free(r);
		return JG_ERR_NOMEM;
	}
	*out = r;
	return JG_OK;
}

static void item_clear(struct replay_item *it)
{
	free(it->subject);
	free(it->resource);
	free(it->role);
	free(it->was_policy);
}

void replay_free(struct replay *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->ndiffer; i++)
		item_clear(&r->differ[i]);
	free(r->differ);
	audit_verifier_free(r->v);
	free(r);
}

static const char *str_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool same_outcome(const struct replay_item *it)
{
	if (it->now.outcome != it->was)
		return false;
	return it->was != PT_PENDING || it->now.approvals == it->was_approvals;
}

/* The groups the requester had: from the event, else the new config's
 * identity, else none (unknown). */
static enum replay_groups groups_of(const struct config *cfg, const json_t *detail,
				    const char *subject, const char **groups,
				    size_t *n)
{
	const json_t *g = json_object_get(detail, "groups");
	size_t i;
	json_t *x;

	*n = 0;
	if (json_is_array(g)) {
		json_array_foreach(g, i, x) {
			if (json_is_string(x) && *n < REPLAY_GROUPS_MAX)
				groups[(*n)++] = json_string_value(x);
		}
		return RG_EVENT;
	}
	for (i = 0; i < cfg->nidentities; i++) {
		if (strcmp(cfg->identities[i].subject, subject) == 0) {
			for (size_t k = 0; k < cfg->identities[i].ngroups &&
			     k < REPLAY_GROUPS_MAX; k++)
				groups[(*n)++] = cfg->identities[i].groups[k];
			return RG_IDENTITY;
		}
	}
	return RG_UNKNOWN;
}

static int keep(struct replay *r, struct replay_item *it)
{
	if (r->ndiffer == r->cap) {
		struct replay_item *nv = vec_grow(r->differ, &r->cap, sizeof(*nv), 32);

		if (nv == NULL)
			return JG_ERR_NOMEM;
		r->differ = nv;
	}
	r->differ[r->ndiffer++] = *it;
	return JG_OK;
}

/* Judges one request.created event again.  Events that lack what the
 * judgement needs are skipped (they cannot come from jitgate: the chain
 * verified). */
static int replay_created(struct replay *r, const json_t *ev)
{
	const json_t *d = json_object_get(ev, "detail");
	const char *subject = str_of(ev, "subject"), *resource = str_of(ev, "resource");
	const char *role = str_of(ev, "role"), *time = str_of(ev, "time");
	const char *groups[REPLAY_GROUPS_MAX];
	struct create_input in = {0};
	struct request ext = {0}, out;
	struct core_result res;
	struct replay_item it = {0};
	struct subject who;
	int64_t now_ms;
	int rc;

	if (!subject || !resource || !role || !time || !json_is_object(d) ||
	    !json_is_integer(json_object_get(d, "duration_s")) ||
	    time_parse(time, &now_ms) != JG_OK)
		return JG_OK;
	r->replayed++;
	it.groups_from = groups_of(r->cfg, d, subject, groups, &who.ngroups);
	who.name = subject;
	who.groups = groups;
	in.resource = resource;
	in.role = role;
	in.duration_s = json_integer_value(json_object_get(d, "duration_s"));
	in.reason = str_of(d, "reason");
	in.ticket = str_of(d, "ticket");
	in.break_glass = json_is_true(json_object_get(d, "break_glass"));
	in.extends = json_integer_value(json_object_get(d, "extends"));
	if (in.extends > 0) {
		/* it was accepted then, so it extended a live grant of the
		 * same subject: judge the policy, not the extension */
		ext = (struct request){.id = in.extends, .state = REQ_ACTIVE,
			.requester = (char *)subject, .resource = (char *)resource,
			.role = (char *)role, .expires_at = now_ms + 1};
		in.extended = &ext;
	}
	it.was = json_integer_value(json_object_get(d, "approvals_required")) > 0
		? PT_PENDING : PT_GRANTED;
	it.was_approvals = (int)json_integer_value(json_object_get(d, "approvals_required"));
	memset(&it.now, 0, sizeof(it.now));
	it.now.reached = policy_match(r->cfg, &who, resource, role);
	rc = core_request_create(r->cfg, &who, &in, now_ms, &out, &res);
	if (rc == JG_ERR_NOMEM)
		return rc;
	if (rc != JG_OK) {
		it.now.outcome = PT_REFUSED;
		it.now.status = pteval_status(rc);
		it.now.field = res.field;
		snprintf(it.now.message, sizeof(it.now.message), "%s", res.message);
	} else {
		it.now.outcome = out.state == REQ_ACTIVE ? PT_GRANTED : PT_PENDING;
		it.now.approvals = out.approvals_required;
		it.now.policy = it.now.reached ? it.now.reached->name : NULL;
		request_clear(&out);
	}
	if (same_outcome(&it))
		return JG_OK;
	it.request_id = json_integer_value(json_object_get(ev, "request_id"));
	snprintf(it.time, sizeof(it.time), "%s", time);
	it.duration_s = in.duration_s;
	it.break_glass = in.break_glass;
	it.subject = strdup(subject);
	it.resource = strdup(resource);
	it.role = strdup(role);
	it.was_policy = str_of(d, "policy") ? strdup(str_of(d, "policy")) : NULL;
	if (!it.subject || !it.resource || !it.role ||
	    (str_of(d, "policy") && !it.was_policy) || keep(r, &it) != JG_OK) {
		item_clear(&it);
		return JG_ERR_NOMEM;
	}
	return JG_OK;
}

int replay_feed_line(struct replay *r, const char *line, size_t len,
		     char *err, size_t errlen)
{
	struct audit_verify_result vr;
	const char *action;
	json_t *ev;
	int rc;

	if (audit_verifier_feed_line(r->v, line, len) != JG_OK) {
		audit_verifier_result(r->v, &vr);
		audit_verify_result_format(&vr, err, errlen);
		return JG_ERR_INVALID;
	}
	ev = json_loadb(line, len, 0, NULL);
	if (ev == NULL)
		return JG_ERR_NOMEM; /* it verified, so it is JSON */
	action = str_of(ev, "action");
	rc = action && strcmp(action, "request.created") == 0
		? replay_created(r, ev) : JG_OK;
	json_decref(ev);
	return rc;
}

void replay_results(const struct replay *r, size_t *replayed,
		    const struct replay_item **differ, size_t *ndiffer)
{
	*replayed = r->replayed;
	*differ = r->differ;
	*ndiffer = r->ndiffer;
}

static const char *const groups_names[] = {
	[RG_EVENT] = "event", [RG_IDENTITY] = "identity", [RG_UNKNOWN] = "unknown",
};

json_t *replay_item_json(const struct replay_item *it)
{
	json_t *now = json_pack("{s:s, s:o}", "outcome", pt_outcome_name(it->now.outcome),
				"policy", it->now.policy ? json_string(it->now.policy)
							 : json_null());

	if (now == NULL)
		return NULL;
	if (it->now.outcome == PT_PENDING)
		json_object_set_new(now, "approvals", json_integer(it->now.approvals));
	if (it->now.outcome == PT_REFUSED) {
		json_object_set_new(now, "status", json_integer(it->now.status));
		json_object_set_new(now, "field", it->now.field ? json_string(it->now.field)
							       : json_null());
		json_object_set_new(now, "message", json_string(it->now.message));
	}
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:b, s:s, s:{s:s, s:o, s:i}, s:o}",
			 "request_id", (json_int_t)it->request_id, "time", it->time,
			 "subject", it->subject, "resource", it->resource, "role",
			 it->role, "duration_s", (json_int_t)it->duration_s,
			 "break_glass", it->break_glass, "groups_from",
			 groups_names[it->groups_from], "was", "outcome",
			 pt_outcome_name(it->was), "policy",
			 it->was_policy ? json_string(it->was_policy) : json_null(),
			 "approvals", it->was_approvals, "now", now);
}

void replay_item_text(const struct replay_item *it, char *buf, size_t len)
{
	char d[32], now[400], was[160];

	duration_format(it->duration_s, d, sizeof(d));
	if (it->was == PT_PENDING)
		snprintf(was, sizeof(was), "pending via %s (%d approval%s)",
			 it->was_policy ? it->was_policy : "?", it->was_approvals,
			 it->was_approvals == 1 ? "" : "s");
	else
		snprintf(was, sizeof(was), "granted via %s",
			 it->was_policy ? it->was_policy : "?");
	pteval_describe(&it->now, now, sizeof(now));
	snprintf(buf, len, "request %lld at %s: %s %s %s %s%s: was %s, now %s%s",
		 (long long)it->request_id, it->time, it->subject, it->resource,
		 it->role, d, it->break_glass ? " break-glass" : "", was, now,
		 it->groups_from == RG_UNKNOWN ? " (groups unknown: judged without groups)" : "");
}
