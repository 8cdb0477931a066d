#include "core/audience.h"

#include <string.h>

#include "core/flow.h"
#include "core/policy.h"

const char *audience_role_name(enum audience_role role)
{
	switch (role) {
	case AUD_REQUESTER:
		return "requester";
	case AUD_APPROVER:
		return "approver";
	case AUD_ESCALATION:
		return "escalation";
	case AUD_EVERYONE:
		return "everyone";
	}
	return "unknown";
}

struct ctx {
	const struct config *cfg;
	const struct request *r;
	const char *actor;
	int64_t now_ms;
	struct audience *out;
	enum audience_role role;
	bool deciders; /* only those who may decide r now, not yet approved */
};

static bool has_approved(const struct request *r, const char *name)
{
	for (size_t i = 0; i < r->napprovals; i++)
		if (strcmp(r->approvals[i].by, name) == 0)
			return true;
	return false;
}

static void add(struct ctx *c, const char *name, const char *const *groups,
		size_t ngroups)
{
	struct audience *a = c->out;
	struct subject who = {.name = name, .groups = groups, .ngroups = ngroups};

	if (c->actor != NULL && strcmp(name, c->actor) == 0)
		return;
	if (c->role != AUD_REQUESTER && strcmp(name, c->r->requester) == 0 &&
	    c->deciders == false)
		return;
	if (c->deciders && (has_approved(c->r, name) ||
			    !core_may_decide(c->cfg, c->r, &who, c->now_ms)))
		return;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].subject, name) == 0)
			return;
	if (a->n == AUDIENCE_MAX) {
		a->truncated = true;
		return;
	}
	a->v[a->n].subject = name;
	a->v[a->n].role = c->role;
	a->n++;
}

/* The people a principal list names (see audience.h). */
static void add_list(struct ctx *c, const struct principal_list *pl)
{
	for (size_t i = 0; i < pl->n; i++) {
		const struct principal *p = &pl->v[i];

		if (p->kind == PRINCIPAL_USER) {
			const struct identity_cfg *id = NULL;

			/* the static identity's groups, where there is one */
			for (size_t k = 0; k < c->cfg->nidentities; k++)
				if (strcmp(c->cfg->identities[k].subject, p->name) == 0)
					id = &c->cfg->identities[k];
			add(c, p->name, id ? (const char *const *)id->groups : NULL,
			    id ? id->ngroups : 0);
			continue;
		}
		for (size_t k = 0; k < c->cfg->nidentities; k++) {
			const struct identity_cfg *id = &c->cfg->identities[k];

			for (size_t g = 0; g < id->ngroups; g++)
				if (strcmp(id->groups[g], p->name) == 0) {
					add(c, id->subject, (const char *const *)id->groups,
					    id->ngroups);
					break;
				}
		}
	}
}

/* Whoever may decide r now (open stage or approvers, escalate_to once
 * due), not the requester unless the policy allows self-approval
 * (core_may_decide judges). */
static void add_deciders(struct ctx *c, const struct policy_cfg *p)
{
	c->deciders = true;
	if (p->nstages > 0)
		add_list(c, &p->stages[flow_stage(p, c->r)].approvers);
	else
		add_list(c, &p->approvers);
	add_list(c, &p->escalate_to);
	c->deciders = false;
}

/* True when r's last approval completed a stage and opened the next. */
static bool stage_opened(const struct policy_cfg *p, const struct request *r)
{
	size_t need = 0;
	int k = flow_stage(p, r);

	if (p->nstages == 0 || k == 0)
		return false;
	for (int i = 0; i < k; i++)
		need += (size_t)p->stages[i].approvals;
	return r->napprovals == need;
}

static void add_requester(struct ctx *c)
{
	c->role = AUD_REQUESTER;
	add(c, c->r->requester, NULL, 0);
}

void audience_for(const struct config *cfg, enum audit_action action,
		  const struct request *r, const char *actor, int64_t now_ms,
		  struct audience *out)
{
	const struct policy_cfg *p = config_policy(cfg, r->policy);
	struct ctx c = {.cfg = cfg, .r = r, .actor = actor, .now_ms = now_ms,
			.out = out, .role = AUD_APPROVER};

	out->n = 0;
	out->truncated = false;
	switch (action) {
	case ACT_REQUEST_ACTIVATED:
	case ACT_REQUEST_DENIED:
	case ACT_REQUEST_REVOKED:
		add_requester(&c); /* not when the requester did it */
		break;
	case ACT_REQUEST_EXPIRING:
	case ACT_REQUEST_EXPIRED:
	case ACT_REQUEST_TIMED_OUT:
		c.actor = NULL; /* jitgate's own doing */
		add_requester(&c);
		break;
	case ACT_REQUEST_CREATED:
		if (p != NULL && r->state == REQ_PENDING)
			add_deciders(&c, p);
		break;
	case ACT_REQUEST_APPROVED:
		if (p != NULL && r->state == REQ_PENDING && stage_opened(p, r))
			add_deciders(&c, p);
		break;
	case ACT_REQUEST_REMINDED:
		c.actor = NULL;
		if (p != NULL && r->state == REQ_PENDING)
			add_deciders(&c, p);
		break;
	case ACT_REQUEST_ESCALATED:
		c.actor = NULL;
		c.role = AUD_ESCALATION;
		if (p != NULL && r->state == REQ_PENDING) {
			c.deciders = true;
			add_list(&c, &p->escalate_to);
		}
		break;
	case ACT_REQUEST_BREAK_GLASS:
		c.role = AUD_EVERYONE;
		if (p != NULL) {
			for (size_t i = 0; i < p->nstages; i++)
				add_list(&c, &p->stages[i].approvers);
			add_list(&c, &p->approvers);
			add_list(&c, &p->escalate_to);
		}
		add_list(&c, &cfg->admins);
		add_list(&c, &cfg->people.everyone);
		break;
	default:
		break;
	}
}
