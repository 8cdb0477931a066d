/* Policy test cases run through the core; see pteval.h. */
#include "policytest/pteval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audience.h"
#include "core/notices.h"
#include "core/policy.h"
#include "core/request.h"

int pteval_status(int err)
{
	switch (err) {
	case JG_ERR_INVALID:
	case JG_ERR_PARSE:
		return 400;
	case JG_ERR_FORBIDDEN:
		return 403;
	case JG_ERR_NOTFOUND:
		return 404;
	case JG_ERR_CONFLICT:
		return 409;
	case JG_ERR_TOOBIG:
		return 413;
	default:
		return 500;
	}
}

static void as_subject(const struct pt_who *w, struct subject *s)
{
	s->name = w->subject;
	s->groups = (const char *const *)w->groups;
	s->ngroups = w->ngroups;
}

static void set_refused(struct pt_got *got, int err,
			const struct core_result *res)
{
	got->outcome = PT_REFUSED;
	got->status = pteval_status(err);
	got->field = res->field;
	snprintf(got->message, sizeof(got->message), "%s", res->message);
}

/* The notices of pending r after it waited c->waited_s without a decision
 * (at most until just before it times out): as the engine sends them,
 * missed ones are one, so firing once at the end leaves the same marks. */
static void eval_notices(const struct config *cfg, const struct pt_case *c,
			 struct request *r, int64_t now_ms, struct pt_got *got)
{
	struct core_result res;
	struct audience *a = malloc(sizeof(*a));
	int64_t at = now_ms + c->waited_s * 1000;

	if (at >= r->pending_until)
		at = r->pending_until - 1;
	if (notices_fire(cfg, r, at, &res) != JG_OK)
		memset(&res, 0, sizeof(res)); /* none due: nothing changed */
	got->reminders = r->reminders;
	got->escalated = r->escalated;
	if (a == NULL)
		return;
	audience_for(cfg, ACT_REQUEST_REMINDED, r, NULL, at, a);
	for (size_t i = 0; i < a->n && i <= PT_REMINDED_MAX; i++)
		got->reminded[got->nreminded++] = a->v[i].subject;
	free(a);
}

static int eval_request(const struct config *cfg, const struct pt_case *c,
			int64_t now_ms, struct pt_got *got)
{
	struct create_input in = {
		.resource = c->resource, .role = c->role,
		.duration_s = c->duration_s, .reason = c->reason,
		.ticket = c->ticket, .break_glass = c->break_glass,
	};
	struct core_result res;
	struct request r;
	struct subject who;
	int rc;

	as_subject(&c->as, &who);
	if (c->at_ms != 0)
		now_ms = c->at_ms;
	got->reached = policy_match(cfg, &who, c->resource, c->role);
	rc = core_request_create(cfg, &who, &in, now_ms, &r, &res);
	if (rc == JG_ERR_NOMEM)
		return rc;
	if (rc != JG_OK) {
		set_refused(got, rc, &res);
		return JG_OK;
	}
	got->outcome = r.state == REQ_ACTIVE ? PT_GRANTED : PT_PENDING;
	got->policy = got->reached ? got->reached->name : NULL;
	got->approvals = r.approvals_required;
	got->rule = res.rule;
	if (r.state == REQ_PENDING)
		eval_notices(cfg, c, &r, now_ms, got);
	request_clear(&r);
	return JG_OK;
}

/* The request the requester would have made, as the core leaves it: pending
 * when its policy wants approvals, active at once otherwise. */
static int hypothetical_request(const struct config *cfg,
				const struct pt_case *c,
				const struct policy_cfg *pol, int64_t now_ms,
				struct request *r)
{
	memset(r, 0, sizeof(*r));
	r->id = 1;
	r->requester = strdup(c->as.subject);
	r->resource = strdup(c->resource);
	r->role = strdup(c->role);
	r->policy = strdup(pol->name);
	if (!r->requester || !r->resource || !r->role || !r->policy) {
		request_clear(r);
		return JG_ERR_NOMEM;
	}
	r->duration_s = pol->max_duration_s;
	r->approvals_required = pol->approvals;
	r->created_at = now_ms;
	if (pol->approvals > 0) {
		r->state = REQ_PENDING;
		r->pending_until = now_ms + cfg->pending_ttl_s * 1000;
	} else {
		r->state = REQ_ACTIVE;
		r->activated_at = now_ms;
		r->expires_at = now_ms + r->duration_s * 1000;
	}
	return JG_OK;
}

static int eval_approve(const struct config *cfg, const struct pt_case *c,
			int64_t now_ms, struct pt_got *got)
{
	struct core_result res;
	struct subject req, by;
	struct request r;
	int64_t at;
	int rc;

	if (c->at_ms != 0)
		now_ms = c->at_ms;
	at = now_ms + c->waited_s * 1000;
	as_subject(&c->as, &req);
	as_subject(&c->by, &by);
	got->reached = policy_match(cfg, &req, c->resource, c->role);
	if (got->reached == NULL) {
		got->outcome = PT_REFUSED;
		got->status = 403;
		snprintf(got->message, sizeof(got->message),
			 "no policy lets %.64s request %.64s on %.64s: there is "
			 "nothing to approve", req.name, c->role, c->resource);
		return JG_OK;
	}
	got->policy = got->reached->name;
	if ((rc = hypothetical_request(cfg, c, got->reached, now_ms, &r)) != JG_OK)
		return rc;
	/* the approvals given before this one (earlier stages) */
	for (size_t i = 0; i < c->nafter; i++) {
		struct subject prior;

		as_subject(&c->after[i], &prior);
		rc = core_request_approve(cfg, &r, &prior, NULL, at, &res);
		if (rc != JG_OK) {
			request_clear(&r);
			if (rc == JG_ERR_NOMEM)
				return rc;
			set_refused(got, rc, &res);
			snprintf(got->message, sizeof(got->message),
				 "after: the approval by %.40s was refused: %.150s",
				 prior.name, res.message);
			return JG_OK;
		}
	}
	rc = core_request_approve(cfg, &r, &by, NULL, at, &res);
	request_clear(&r);
	got->rule = rc == JG_OK ? res.rule : NULL;
	if (rc == JG_ERR_NOMEM)
		return rc;
	if (rc != JG_OK)
		set_refused(got, rc, &res);
	else
		got->outcome = PT_ALLOWED;
	return JG_OK;
}

int pteval_case(const struct config *cfg, const struct pt_case *c,
		int64_t now_ms, struct pt_got *got)
{
	memset(got, 0, sizeof(*got));
	return c->kind == PT_REQUEST ? eval_request(cfg, c, now_ms, got)
				     : eval_approve(cfg, c, now_ms, got);
}

void pteval_describe(const struct pt_got *got, char *buf, size_t len)
{
	switch (got->outcome) {
	case PT_GRANTED:
		snprintf(buf, len, "granted via %s", got->policy ? got->policy : "?");
		break;
	case PT_PENDING:
		snprintf(buf, len, "pending via %s (%d approval%s)",
			 got->policy ? got->policy : "?", got->approvals,
			 got->approvals == 1 ? "" : "s");
		break;
	case PT_ALLOWED:
		snprintf(buf, len, "allowed (policy %s)", got->policy ? got->policy : "?");
		break;
	case PT_REFUSED:
		snprintf(buf, len, "refused %d%s%s%s: %s", got->status,
			 got->field ? " (" : "", got->field ? got->field : "",
			 got->field ? ")" : "", got->message);
		return;
	}
	if (got->rule != NULL) {
		size_t n = strlen(buf);

		if (n < len)
			snprintf(buf + n, len - n, " by rule %s", got->rule);
	}
}

static void describe_expect(const struct pt_expect *e, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s", pt_outcome_name(e->outcome));

	if (n < 0 || (size_t)n >= len)
		return;
	if (e->policy)
		n += snprintf(buf + n, len - (size_t)n, " via %s", e->policy);
	if (e->approvals >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " (%d approval%s)",
			      e->approvals, e->approvals == 1 ? "" : "s");
	if (e->status && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " %d", e->status);
	if (e->field && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " (%s)", e->field);
	if (e->rule && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " by rule %s", e->rule);
}

static bool str_eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* expect.reminded and who was reminded, as sets. */
static bool same_names(const struct pt_expect *e, const struct pt_got *got)
{
	if (e->nreminded != got->nreminded)
		return false;
	for (size_t i = 0; i < e->nreminded; i++) {
		bool found = false;

		for (size_t k = 0; k < got->nreminded && !found; k++)
			found = strcmp(e->reminded[i], got->reminded[k]) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* ", 2 reminders, escalated, reminded [a, b]" for a case that asks. */
static void describe_notices(const struct pt_expect *e, int reminders, int escalated,
			     const char *const *names, size_t n, char *buf, size_t len)
{
	size_t used = strlen(buf);

	if (e->reminders >= 0 && used < len)
		used += (size_t)snprintf(buf + used, len - used, ", %d reminder%s",
					 reminders, reminders == 1 ? "" : "s");
	if (e->escalated >= 0 && used < len)
		used += (size_t)snprintf(buf + used, len - used, ", %sescalated",
					 escalated ? "" : "not ");
	if (e->has_reminded && used < len) {
		used += (size_t)snprintf(buf + used, len - used, ", reminded [");
		for (size_t i = 0; i < n && used < len; i++)
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
						 i ? ", " : "", names[i]);
		if (used < len)
			snprintf(buf + used, len - used, "]");
	}
}

bool pteval_check(const struct pt_case *c, const struct pt_got *got,
		  char *why, size_t len)
{
	const struct pt_expect *e = &c->expect;
	char want[256], have[512];
	bool ok = got->outcome == e->outcome;

	if (ok && e->policy)
		ok = str_eq(e->policy, got->policy);
	if (ok && e->approvals >= 0)
		ok = e->approvals == got->approvals;
	if (ok && e->status)
		ok = e->status == got->status;
	if (ok && e->field)
		ok = str_eq(e->field, got->field);
	if (ok && e->rule)
		ok = str_eq(e->rule, got->rule);
	if (ok && e->reminders >= 0)
		ok = e->reminders == got->reminders;
	if (ok && e->escalated >= 0)
		ok = e->escalated == (int)got->escalated;
	if (ok && e->has_reminded)
		ok = same_names(e, got);
	if (ok) {
		if (len > 0)
			why[0] = '\0';
		return true;
	}
	describe_expect(e, want, sizeof(want));
	pteval_describe(got, have, sizeof(have));
	describe_notices(e, e->reminders, e->escalated, (const char *const *)e->reminded,
			 e->nreminded, want, sizeof(want));
	describe_notices(e, got->reminders, got->escalated, got->reminded,
			 got->nreminded, have, sizeof(have));
	snprintf(why, len, "expected %s, got %s", want, have);
	return false;
}
