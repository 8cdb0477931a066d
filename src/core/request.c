#include "core/request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/flow.h"
#include "core/policy.h"
#include "util/duration.h"

static const char *const state_names[REQ_STATE_COUNT] = {
	[REQ_PENDING] = "pending",   [REQ_ACTIVE] = "active",
	[REQ_DENIED] = "denied",     [REQ_CANCELED] = "canceled",
	[REQ_EXPIRED] = "expired",   [REQ_REVOKED] = "revoked",
	[REQ_TIMED_OUT] = "timed_out",
};

const char *req_state_name(enum req_state s)
{
	return (unsigned)s < REQ_STATE_COUNT ? state_names[s] : "unknown";
}

bool req_state_parse(const char *name, enum req_state *out)
{
	for (int i = 0; i < REQ_STATE_COUNT; i++) {
		if (strcmp(state_names[i], name) == 0) {
			*out = (enum req_state)i;
			return true;
		}
	}
	return false;
}

bool req_state_terminal(enum req_state s)
{
	return s != REQ_PENDING && s != REQ_ACTIVE;
}

void request_clear(struct request *r)
{
	free(r->requester);
	free(r->resource);
	free(r->role);
	free(r->reason);
	free(r->ticket);
	free(r->policy);
	free(r->ended_by);
	free(r->reviewed_by);
	free(r->end_comment);
	for (size_t i = 0; i < r->napprovals; i++) {
		free(r->approvals[i].by);
		free(r->approvals[i].comment);
	}
	memset(r, 0, sizeof(*r));
}

/* strdup that maps NULL to NULL and reports failure through *ok. */
static char *dup_opt(const char *s, bool *ok)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*ok = false;
	return d;
}

int request_copy(struct request *dst, const struct request *src)
{
	bool ok = true;

	*dst = *src;
	dst->requester = dup_opt(src->requester, &ok);
	dst->resource = dup_opt(src->resource, &ok);
	dst->role = dup_opt(src->role, &ok);
	dst->reason = dup_opt(src->reason, &ok);
	dst->ticket = dup_opt(src->ticket, &ok);
	dst->policy = dup_opt(src->policy, &ok);
	dst->ended_by = dup_opt(src->ended_by, &ok);
	dst->reviewed_by = dup_opt(src->reviewed_by, &ok);
	dst->end_comment = dup_opt(src->end_comment, &ok);
	for (size_t i = 0; i < src->napprovals; i++) {
		dst->approvals[i].by = dup_opt(src->approvals[i].by, &ok);
		dst->approvals[i].comment = dup_opt(src->approvals[i].comment, &ok);
	}
	if (!ok) {
		request_clear(dst);
		return JG_ERR_NOMEM;
	}
	return JG_OK;
}

static int refuse(struct core_result *res, int err, const char *field,
		  const char *fmt, ...) JG_PRINTF(4, 5);

static int refuse(struct core_result *res, int err, const char *field,
		  const char *fmt, ...)
{
	va_list ap;

	res->err = err;
	res->field = field;
	res->nactions = 0;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	return err;
}

static void emit(struct core_result *res, enum audit_action a)
{
	if (res->nactions < sizeof(res->actions) / sizeof(res->actions[0]))
		res->actions[res->nactions++] = a;
}

static void result_init(struct core_result *res)
{
	memset(res, 0, sizeof(*res));
}

static bool empty(const char *s)
{
	return s == NULL || *s == '\0';
}

static void activate(struct request *r, int64_t now_ms, struct core_result *res)
{
	r->state = REQ_ACTIVE;
	r->activated_at = now_ms;
	/* rule 1: the clock starts at activation */
	r->expires_at = now_ms + r->duration_s * 1000;
	r->pending_until = 0;
	emit(res, ACT_REQUEST_ACTIVATED);
}

static void end(struct request *r, enum req_state s, int64_t at_ms,
		const char *by, struct core_result *res, enum audit_action a)
{
	r->state = s;
	r->ended_at = at_ms;
	free(r->ended_by);
	r->ended_by = strdup(by);
	emit(res, a);
}

/* Why the request ended, for the requester to read (design section 10):
 * the last change before the transition, so a refusal leaves r as it was. */
static int set_end_comment(struct request *r, const char *text,
			   struct core_result *res)
{
	char *d = NULL;

	if (!empty(text) && (d = strdup(text)) == NULL)
		return refuse(res, JG_ERR_NOMEM, NULL, "out of memory");
	free(r->end_comment);
	r->end_comment = d;
	return JG_OK;
}

/* Validation of create input against the config and the matched policy;
 * nothing is allocated until all of it passes. */
static int check_create(const struct config *cfg, const struct subject *who,
			const struct create_input *in, int64_t now_ms,
			const struct policy_cfg **polp, struct core_result *res)
{
	const struct resource_cfg *rc;
	const struct policy_cfg *pol;
	char want[32];

	*polp = NULL;
	rc = config_resource(cfg, in->resource);
	if (rc == NULL)
		return refuse(res, JG_ERR_INVALID, "resource",
			      "resource: unknown resource \"%.64s\"", in->resource);
	if (config_role(rc, in->role) == NULL)
		return refuse(res, JG_ERR_INVALID, "role",
			      "role: resource %s has no role \"%.64s\"",
			      rc->name, in->role);
	if (in->duration_s <= 0)
		return refuse(res, JG_ERR_INVALID, "duration",
			      "duration: must be positive");
	if (in->reason && strlen(in->reason) > REQ_REASON_MAX)
		return refuse(res, JG_ERR_INVALID, "reason",
			      "reason: longer than %d bytes", REQ_REASON_MAX);
	if (in->ticket && strlen(in->ticket) > REQ_TICKET_MAX)
		return refuse(res, JG_ERR_INVALID, "ticket",
			      "ticket: longer than %d bytes", REQ_TICKET_MAX);

	pol = policy_match(cfg, who, in->resource, in->role);
	if (pol == NULL)
		return refuse(res, JG_ERR_FORBIDDEN, NULL,
			      "no policy lets %.64s request %.64s on %.64s",
			      who->name, in->role, in->resource);

	if (in->break_glass) {
		if (!pol->break_glass)
			return refuse(res, JG_ERR_FORBIDDEN, "break_glass",
				      "break_glass: policy %s does not allow break-glass",
				      pol->name);
		if (empty(in->reason))
			return refuse(res, JG_ERR_INVALID, "reason",
				      "reason: required for break-glass");
		if (in->duration_s > pol->break_glass_max_s) {
			duration_format(pol->break_glass_max_s, want, sizeof(want));
			return refuse(res, JG_ERR_INVALID, "duration",
				      "duration: above the break-glass maximum %s of policy %s",
				      want, pol->name);
		}
	} else if (in->duration_s > pol->max_duration_s) {
		/* rule 2: refuse, never clamp */
		duration_format(pol->max_duration_s, want, sizeof(want));
		return refuse(res, JG_ERR_INVALID, "duration",
			      "duration: above the maximum %s of policy %s",
			      want, pol->name);
	}
	if (pol->require_reason && empty(in->reason))
		return refuse(res, JG_ERR_INVALID, "reason",
			      "reason: required by policy %s", pol->name);
	/* Break-glass is for when the ticket system may be the thing that is
	 * down: a ticket is optional then, but must still fit if given. */
	if (pol->ticket_pattern != NULL &&
	    !(in->break_glass && empty(in->ticket))) {
		if (empty(in->ticket))
			return refuse(res, JG_ERR_INVALID, "ticket",
				      "ticket: required by policy %s (pattern %.64s)",
				      pol->name, pol->ticket_pattern);
		if (regexec(&pol->ticket_re, in->ticket, 0, NULL, 0) != 0)
			return refuse(res, JG_ERR_INVALID, "ticket",
				      "ticket: does not match %.64s", pol->ticket_pattern);
	}
	if (in->extends != 0) {
		const struct request *x = in->extended;

		if (x == NULL)
			return refuse(res, JG_ERR_INVALID, "extends",
				      "extends: no request %lld", (long long)in->extends);
		if (strcmp(x->requester, who->name) != 0)
			return refuse(res, JG_ERR_FORBIDDEN, "extends",
				      "extends: request %lld is not yours",
				      (long long)x->id);
		if (strcmp(x->resource, in->resource) != 0 ||
		    strcmp(x->role, in->role) != 0)
			return refuse(res, JG_ERR_INVALID, "extends",
				      "extends: request %lld is for another resource or role",
				      (long long)x->id);
		/* a grant past its expiry is over even if its timer has not
		 * fired yet (as for revoke) */
		if (x->state != REQ_ACTIVE || now_ms >= x->expires_at)
			return refuse(res, JG_ERR_CONFLICT, "extends",
				      "extends: request %lld is %s, not active",
				      (long long)x->id,
				      x->state == REQ_ACTIVE ? "expired"
							     : req_state_name(x->state));
	}
	*polp = pol;
	return JG_OK;
}

int core_request_create(const struct config *cfg, const struct subject *who,
			const struct create_input *in, int64_t now_ms,
			struct request *out, struct core_result *res)
{
	const struct policy_cfg *pol;
	bool ok = true;
	int rc;

	memset(out, 0, sizeof(*out));
	result_init(res);
	rc = check_create(cfg, who, in, now_ms, &pol, res);
	if (rc != JG_OK)
		return rc;

	out->state = REQ_PENDING;
	out->requester = dup_opt(who->name, &ok);
	out->resource = dup_opt(in->resource, &ok);
	out->role = dup_opt(in->role, &ok);
	out->reason = empty(in->reason) ? NULL : dup_opt(in->reason, &ok);
	out->ticket = empty(in->ticket) ? NULL : dup_opt(in->ticket, &ok);
	out->policy = dup_opt(pol->name, &ok);
	if (!ok) {
		request_clear(out);
		return refuse(res, JG_ERR_NOMEM, NULL, "out of memory");
	}
	out->duration_s = in->duration_s;
	out->approvals_required = in->break_glass ? 0 : pol->approvals;
	res->rule = in->break_glass ? FLOW_RULE_BREAK_GLASS
		: pol->approvals == 0 ? FLOW_RULE_NONE_NEEDED
				      : flow_auto_rule(pol, who, now_ms);
	out->created_at = now_ms;
	out->break_glass = in->break_glass;
	out->extends = in->extends;
	emit(res, ACT_REQUEST_CREATED);

	if (in->break_glass) {
		/* rule 7: active at once, flagged until reviewed */
		out->review_required = true;
		emit(res, ACT_REQUEST_BREAK_GLASS);
		activate(out, now_ms, res);
	} else if (res->rule != NULL) {
		/* no approval needed, or auto_approve (audited with its rule) */
		activate(out, now_ms, res);
	} else {
		out->pending_until = now_ms + cfg->pending_ttl_s * 1000;
	}
	return JG_OK;
}

static bool is_requester(const struct request *r, const struct subject *who)
{
	return strcmp(r->requester, who->name) == 0;
}

bool core_may_decide(const struct config *cfg, const struct request *r,
		     const struct subject *who, int64_t now_ms)
{
	const struct policy_cfg *pol = config_policy(cfg, r->policy);

	/* the approver list of the policy as it is now: removing someone from
	 * approvers takes effect on pending requests too */
	if (flow_approver_rule(pol, r, who, now_ms) == NULL)
		return false;
	return !is_requester(r, who) || pol->allow_self_approval;
}

bool core_may_view(const struct config *cfg, const struct request *r,
		   const struct subject *who)
{
	return is_requester(r, who) || policy_is_admin(cfg, who) ||
	       flow_involved(config_policy(cfg, r->policy), who);
}

bool core_may_revoke(const struct config *cfg, const struct request *r,
		     const struct subject *who)
{
	return core_may_view(cfg, r, who);
}

/* A pending request whose time has run out is no longer open to decisions
 * even if its timer has not fired yet. */
static int check_pending(const struct request *r, int64_t now_ms,
			 struct core_result *res)
{
	if (r->state != REQ_PENDING)
		return refuse(res, JG_ERR_CONFLICT, NULL, "request %lld is %s, not pending",
			      (long long)r->id, req_state_name(r->state));
	if (r->pending_until != 0 && now_ms >= r->pending_until)
		return refuse(res, JG_ERR_CONFLICT, NULL,
			      "request %lld timed out waiting for approval",
			      (long long)r->id);
	return JG_OK;
}

static int check_decider(const struct config *cfg, const struct request *r,
			 const struct subject *who, const char *verb,
			 int64_t now_ms, struct core_result *res)
{
	const struct policy_cfg *pol = config_policy(cfg, r->policy);

	if (core_may_decide(cfg, r, who, now_ms))
		return JG_OK;
	if (is_requester(r, who) && flow_approver_rule(pol, r, who, now_ms))
		return refuse(res, JG_ERR_FORBIDDEN, NULL,
			      "you cannot %s your own request (policy %s)", verb,
			      r->policy);
	if (pol != NULL && pol->nstages > 0 && r->state == REQ_PENDING &&
	    policy_is_approver(pol, who))
		return refuse(res, JG_ERR_FORBIDDEN, NULL,
			      "%.64s is not an approver of stage %d of policy %s",
			      who->name, flow_stage(pol, r) + 1, r->policy);
	return refuse(res, JG_ERR_FORBIDDEN, NULL,
		      "%.64s is not an approver of policy %s", who->name, r->policy);
}

/* What approve and deny both need: an eligible decider (403 first), a
 * pending request (409), a comment within bounds (400). */
static int check_decision(const struct config *cfg, const struct request *r,
			  const struct subject *who, const char *verb,
			  const char *comment, int64_t now_ms,
			  struct core_result *res)
{
	int rc;

	if ((rc = check_decider(cfg, r, who, verb, now_ms, res)) != JG_OK)
		return rc;
	if ((rc = check_pending(r, now_ms, res)) != JG_OK)
		return rc;
	if (comment && strlen(comment) > REQ_COMMENT_MAX)
		return refuse(res, JG_ERR_INVALID, "comment",
			      "comment: longer than %d bytes", REQ_COMMENT_MAX);
	return JG_OK;
}

int core_request_approve(const struct config *cfg, struct request *r,
			 const struct subject *who, const char *comment,
			 int64_t now_ms, struct core_result *res)
{
	const struct policy_cfg *pol = config_policy(cfg, r->policy);
	struct approval *a;
	bool ok = true;
	int rc, stage;

	result_init(res);
	if ((rc = check_decision(cfg, r, who, "approve", comment, now_ms, res)) != JG_OK)
		return rc;
	stage = flow_stage(pol, r);
	for (size_t i = 0; i < r->napprovals; i++)
		if (strcmp(r->approvals[i].by, who->name) == 0)
			return refuse(res, JG_ERR_CONFLICT, NULL,
				      "%.64s already approved request %lld", who->name,
				      (long long)r->id);
	if (r->napprovals >= REQ_MAX_APPROVALS)
		return refuse(res, JG_ERR_CONFLICT, NULL, "too many approvals");

	a = &r->approvals[r->napprovals];
	a->by = dup_opt(who->name, &ok);
	a->comment = empty(comment) ? NULL : dup_opt(comment, &ok);
	if (!ok) {
		free(a->by);
		free(a->comment);
		memset(a, 0, sizeof(*a));
		return refuse(res, JG_ERR_NOMEM, NULL, "out of memory");
	}
	a->at_ms = now_ms;
	res->rule = flow_approver_rule(pol, r, who, now_ms);
	res->stage = pol->nstages > 0 ? stage + 1 : 0;
	r->napprovals++;
	emit(res, ACT_REQUEST_APPROVED);
	if ((int)r->napprovals >= r->approvals_required)
		activate(r, now_ms, res);
	return JG_OK;
}

int core_request_deny(const struct config *cfg, struct request *r,
		      const struct subject *who, const char *comment,
		      int64_t now_ms, struct core_result *res)
{
	int rc;

	result_init(res);
	if ((rc = check_decision(cfg, r, who, "deny", comment, now_ms, res)) != JG_OK)
		return rc;
	if ((rc = set_end_comment(r, comment, res)) != JG_OK)
		return rc;
	r->pending_until = 0;
	end(r, REQ_DENIED, now_ms, who->name, res, ACT_REQUEST_DENIED);
	return JG_OK;
}

int core_request_cancel(struct request *r, const struct subject *who,
			int64_t now_ms, struct core_result *res)
{
	int rc;

	result_init(res);
	if (!is_requester(r, who))
		return refuse(res, JG_ERR_FORBIDDEN, NULL,
			      "only the requester may cancel request %lld",
			      (long long)r->id);
	if ((rc = check_pending(r, now_ms, res)) != JG_OK)
		return rc;
	r->pending_until = 0;
	end(r, REQ_CANCELED, now_ms, who->name, res, ACT_REQUEST_CANCELED);
	return JG_OK;
}

int core_request_revoke(const struct config *cfg, struct request *r,
			const struct subject *who, const char *reason,
			int64_t now_ms, struct core_result *res)
{
	int rc;

	result_init(res);
	if (!core_may_revoke(cfg, r, who))
		return refuse(res, JG_ERR_FORBIDDEN, NULL,
			      "%.64s may not revoke request %lld", who->name,
			      (long long)r->id);
	if (r->state != REQ_ACTIVE || now_ms >= r->expires_at)
		return refuse(res, JG_ERR_CONFLICT, NULL,
			      "request %lld is %s, not active", (long long)r->id,
			      r->state == REQ_ACTIVE ? "expired"
						     : req_state_name(r->state));
	if (reason && strlen(reason) > REQ_COMMENT_MAX)
		return refuse(res, JG_ERR_INVALID, "reason",
			      "reason: longer than %d bytes", REQ_COMMENT_MAX);
	if ((rc = set_end_comment(r, reason, res)) != JG_OK)
		return rc;
	end(r, REQ_REVOKED, now_ms, who->name, res, ACT_REQUEST_REVOKED);
	return JG_OK;
}

int core_request_review(const struct config *cfg, struct request *r,
			const struct subject *who, int64_t now_ms,
			struct core_result *res)
{
	int rc;

	result_init(res);
	if ((rc = check_decider(cfg, r, who, "review", now_ms, res)) != JG_OK)
		return rc;
	/* the after-the-fact review needs a second person, whatever the
	 * policy says about self-approval */
	if (is_requester(r, who))
		return refuse(res, JG_ERR_FORBIDDEN, NULL,
			      "you cannot review your own request %lld", (long long)r->id);
	if (!r->break_glass || !r->review_required)
		return refuse(res, JG_ERR_CONFLICT, NULL,
			      "request %lld has no pending break-glass review",
			      (long long)r->id);
	r->reviewed_by = strdup(who->name);
	if (r->reviewed_by == NULL)
		return refuse(res, JG_ERR_NOMEM, NULL, "out of memory");
	r->review_required = false;
	(void)now_ms;
	emit(res, ACT_REQUEST_REVIEWED);
	return JG_OK;
}

int core_request_expire(struct request *r, int64_t now_ms,
			struct core_result *res)
{
	result_init(res);
	if (r->state != REQ_ACTIVE || now_ms < r->expires_at)
		return refuse(res, JG_ERR_CONFLICT, NULL, "not due");
	/* the real end time, also when jitgate was down at that moment */
	end(r, REQ_EXPIRED, r->expires_at, REQ_SYSTEM_ACTOR, res,
	    ACT_REQUEST_EXPIRED);
	return JG_OK;
}

int core_request_timeout(struct request *r, int64_t now_ms,
			 struct core_result *res)
{
	result_init(res);
	if (r->state != REQ_PENDING || r->pending_until == 0 ||
	    now_ms < r->pending_until)
		return refuse(res, JG_ERR_CONFLICT, NULL, "not due");
	end(r, REQ_TIMED_OUT, r->pending_until, REQ_SYSTEM_ACTOR, res,
	    ACT_REQUEST_TIMED_OUT);
	return JG_OK;
}

int64_t core_request_deadline(const struct request *r)
{
	if (r->state == REQ_ACTIVE)
		return r->expires_at;
	if (r->state == REQ_PENDING)
		return r->pending_until;
	return 0;
}
