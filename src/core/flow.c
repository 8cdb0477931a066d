#include "core/flow.h"

#include <string.h>

#include "core/policy.h"
#include "util/tzrule.h"

int flow_stage(const struct policy_cfg *p, const struct request *r)
{
	size_t left = r->napprovals;

	for (size_t i = 0; i < p->nstages; i++) {
		if (left < (size_t)p->stages[i].approvals)
			return (int)i;
		left -= (size_t)p->stages[i].approvals;
	}
	return p->nstages > 0 ? (int)p->nstages - 1 : 0;
}

int64_t flow_escalates_at(const struct policy_cfg *p, const struct request *r)
{
	if (p->escalate_after_s == 0)
		return 0;
	return r->created_at + p->escalate_after_s * 1000;
}

const char *flow_approver_rule(const struct policy_cfg *p,
			       const struct request *r,
			       const struct subject *who, int64_t now_ms)
{
	int64_t esc;

	if (p == NULL)
		return NULL;
	if (p->nstages > 0) {
		if (principal_list_matches(&p->stages[flow_stage(p, r)].approvers, who))
			return FLOW_RULE_STAGES;
	} else if (policy_is_approver(p, who)) {
		return FLOW_RULE_APPROVALS;
	}
	esc = flow_escalates_at(p, r);
	if (esc != 0 && now_ms >= esc && principal_list_matches(&p->escalate_to, who))
		return FLOW_RULE_ESCALATE;
	return NULL;
}

bool flow_involved(const struct policy_cfg *p, const struct subject *who)
{
	return p != NULL && (policy_is_approver(p, who) ||
			     principal_list_matches(&p->escalate_to, who));
}

bool flow_in_window(const struct auto_approve_cfg *a, int64_t now_ms)
{
	int wday, minute;
	int64_t s = now_ms / 1000 - (now_ms % 1000 < 0);

	if (!a->has_window)
		return false;
	tzrule_local(a->tz, s, &wday, &minute);
	return (a->days & (1u << wday)) != 0 && minute >= a->from_min &&
	       minute < a->to_min;
}

bool flow_on_call(const struct auto_approve_cfg *a, const char *subject,
		  int64_t now_ms)
{
	for (size_t i = 0; i < a->nshifts; i++)
		if (now_ms >= a->shifts[i].start_ms && now_ms < a->shifts[i].end_ms &&
		    strcmp(a->shifts[i].subject, subject) == 0)
			return true;
	return false;
}

const char *flow_auto_rule(const struct policy_cfg *p,
			   const struct subject *who, int64_t now_ms)
{
	if (flow_in_window(&p->auto_approve, now_ms))
		return FLOW_RULE_WINDOW;
	if (flow_on_call(&p->auto_approve, who->name, now_ms))
		return FLOW_RULE_ONCALL;
	return NULL;
}

int64_t flow_reminders_due(const struct policy_cfg *p, const struct request *r,
			   int64_t now_ms)
{
	int64_t step;

	if (p == NULL || p->remind_after_s == 0 || r->state != REQ_PENDING ||
	    now_ms < r->created_at)
		return 0;
	step = p->remind_after_s * 1000;
	return (now_ms - r->created_at) / step;
}
