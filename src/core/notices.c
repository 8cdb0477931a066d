#include "core/notices.h"

#include <string.h>

#include "core/flow.h"

static int64_t warn_at(const struct config *cfg, const struct request *r)
{
	int64_t before = cfg->people.enabled ? cfg->people.expiring_before_s * 1000 : 0;

	/* a grant no longer than the warning time is not warned about: its
	 * holder has just been told when it ends */
	if (before <= 0 || r->expiry_warned || r->expires_at - before <= r->activated_at)
		return 0;
	return r->expires_at - before;
}

static int64_t remind_at(const struct policy_cfg *p, const struct request *r)
{
	if (p == NULL || p->remind_after_s == 0)
		return 0;
	return r->created_at + (int64_t)(r->reminders + 1) * p->remind_after_s * 1000;
}

static int64_t escalate_at(const struct policy_cfg *p, const struct request *r)
{
	return p != NULL && !r->escalated ? flow_escalates_at(p, r) : 0;
}

/* The earlier of two times where 0 is "never". */
static int64_t earlier(int64_t a, int64_t b)
{
	return a == 0 ? b : (b == 0 || a < b ? a : b);
}

/* Only notices before the request's own deadline count. */
static int64_t before_end(int64_t at, int64_t end)
{
	return at != 0 && (end == 0 || at < end) ? at : 0;
}

int64_t notices_next_at(const struct config *cfg, const struct request *r)
{
	const struct policy_cfg *p;

	if (r->state == REQ_ACTIVE)
		return before_end(warn_at(cfg, r), r->expires_at);
	if (r->state != REQ_PENDING)
		return 0;
	p = config_policy(cfg, r->policy);
	return before_end(earlier(remind_at(p, r), escalate_at(p, r)), r->pending_until);
}

static void emit(struct core_result *res, enum audit_action a, const char *rule)
{
	if (res->nactions < sizeof(res->actions) / sizeof(res->actions[0]))
		res->actions[res->nactions++] = a;
	res->rule = rule;
}

int notices_fire(const struct config *cfg, struct request *r, int64_t now_ms,
		 struct core_result *res)
{
	const struct policy_cfg *p;
	int64_t at;

	memset(res, 0, sizeof(*res));
	if (r->state == REQ_ACTIVE) {
		at = before_end(warn_at(cfg, r), r->expires_at);
		if (at == 0 || now_ms < at || now_ms >= r->expires_at)
			return JG_ERR_CONFLICT;
		r->expiry_warned = true;
		emit(res, ACT_REQUEST_EXPIRING, NOTICE_RULE_EXPIRING);
		return JG_OK;
	}
	if (r->state != REQ_PENDING || now_ms >= r->pending_until)
		return JG_ERR_CONFLICT;
	p = config_policy(cfg, r->policy);
	at = escalate_at(p, r);
	if (at != 0 && now_ms >= at) {
		r->escalated = true;
		emit(res, ACT_REQUEST_ESCALATED, NOTICE_RULE_ESCALATE);
	}
	at = remind_at(p, r);
	if (at != 0 && now_ms >= at) {
		/* missed ones (downtime) are one reminder, counted as sent */
		r->reminders = (int)flow_reminders_due(p, r, now_ms);
		emit(res, ACT_REQUEST_REMINDED, NOTICE_RULE_REMIND);
	}
	if (res->nactions == 0)
		return JG_ERR_CONFLICT;
	return JG_OK;
}
