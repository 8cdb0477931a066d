/* policy lint; see lint.h.  Every match is judged with the core's own
 * predicates (core/policy.h), so "reaches" means what the daemon does. */
#include "policytest/lint.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/ytree.h"
#include "core/policy.h"
#include "util/vec.h"

struct lint {
	const struct config *cfg;
	const struct ytree *policies; /* the policies: list, or NULL */
	struct lint_warning *v;
	size_t n, cap;
	int rc;
};

static void warn(struct lint *l, int line, const char *fmt, ...) JG_PRINTF(3, 4);

static void warn(struct lint *l, int line, const char *fmt, ...)
{
	va_list ap;

	if (l->rc != JG_OK)
		return;
	if (l->n == l->cap) {
		struct lint_warning *nv = vec_grow(l->v, &l->cap, sizeof(*nv), 16);

		if (nv == NULL) {
			l->rc = JG_ERR_NOMEM;
			return;
		}
		l->v = nv;
	}
	l->v[l->n].line = line;
	va_start(ap, fmt);
	vsnprintf(l->v[l->n].msg, sizeof(l->v[l->n].msg), fmt, ap);
	va_end(ap);
	l->n++;
}

/* The value node of key in mapping m, NULL when absent. */
static const struct ytree *get(const struct ytree *m, const char *key)
{
	if (m == NULL || m->type != YTREE_MAP)
		return NULL;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->kids[2 * i]->str, key) == 0)
			return m->kids[2 * i + 1];
	return NULL;
}

/* Line of policies[i].key (its i-th item when item >= 0), falling back
 * to the policy's own line. */
static int pline(const struct lint *l, size_t i, const char *key, long item)
{
	const struct ytree *p, *v;

	if (l->policies == NULL || i >= l->policies->n)
		return l->cfg->policies[i].line;
	p = l->policies->kids[i];
	v = get(p, key);
	if (v == NULL)
		return p->line;
	if (item >= 0 && v->type == YTREE_SEQ && (size_t)item < v->n)
		return v->kids[item]->line;
	return v->line;
}

static bool is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static bool same_principal(const struct principal *a, const struct principal *b)
{
	return a->kind == b->kind && strcmp(a->name, b->name) == 0;
}

static bool lists_principal(const struct principal_list *l, const struct principal *p)
{
	for (size_t i = 0; i < l->n; i++)
		if (same_principal(&l->v[i], p))
			return true;
	return false;
}

/* Policy j can never decide when, for each of its requester principals and
 * each (resource, role) it covers, an earlier policy naming that same
 * principal covers it too.  Judged by principal, not by person, so it is
 * never wrong when it warns (it may miss shadowing through groups). */
static void check_shadowed(struct lint *l, size_t j)
{
	const struct config *cfg = l->cfg;
	const struct policy_cfg *p = &cfg->policies[j];
	size_t covered = 0, first = j;

	for (size_t r = 0; r < cfg->nresources; r++) {
		const struct resource_cfg *res = &cfg->resources[r];

		if (policy_resource_index(p, res->name) < 0)
			continue;
		for (size_t k = 0; k < res->nroles; k++) {
			if (policy_role_index(p, res->roles[k].name) < 0)
				continue;
			covered++;
			for (size_t q = 0; q < p->requesters.n; q++) {
				size_t i;

				for (i = 0; i < j; i++) {
					const struct policy_cfg *e = &cfg->policies[i];

					if (lists_principal(&e->requesters, &p->requesters.v[q]) &&
					    policy_resource_index(e, res->name) >= 0 &&
					    policy_role_index(e, res->roles[k].name) >= 0)
						break;
				}
				if (i == j)
					return; /* this one reaches p */
				if (i < first)
					first = i;
			}
		}
	}
	if (covered == 0)
		warn(l, p->line, "policy '%s' covers no (resource, role) as the daemon "
		     "matches names (only * and ? are wildcards)", p->name);
	else
		warn(l, p->line, "policy '%s' is shadowed: earlier policies (from '%s', "
		     "line %d) decide everything it covers, so it never applies",
		     p->name, cfg->policies[first].name, cfg->policies[first].line);
}

/* A named (non-glob) resource that lacks some of the policy's roles: the
 * loader accepts it as long as another resource of the policy has them. */
static void check_roles(struct lint *l, size_t j)
{
	const struct policy_cfg *p = &l->cfg->policies[j];

	for (size_t i = 0; i < p->nresources; i++) {
		const struct resource_cfg *res;

		if (is_glob(p->resources[i]))
			continue;
		res = config_resource(l->cfg, p->resources[i]);
		for (size_t k = 0; res && k < p->nroles; k++)
			if (config_role(res, p->roles[k]) == NULL)
				warn(l, pline(l, j, "resources", (long)i),
				     "policy '%s': resource %s has no role '%s'",
				     p->name, res->name, p->roles[k]);
	}
	for (size_t i = 0; i < p->nresources; i++) {
		bool any = false;

		for (size_t r = 0; r < l->cfg->nresources && !any; r++)
			any = policy_glob_match(p->resources[i], l->cfg->resources[r].name);
		if (!any)
			warn(l, pline(l, j, "resources", (long)i),
			     "policy '%s': pattern '%.64s' matches no resource as the daemon "
			     "matches names (only * and ? are wildcards)",
			     p->name, p->resources[i]);
	}
}

static bool identity_matches(const struct identity_cfg *id,
			     const struct principal_list *l)
{
	struct subject s = {id->subject, (const char *const *)id->groups, id->ngroups};

	return principal_list_matches(l, &s);
}

/* Without OIDC the static identities are every subject there is, so who
 * can approve (and review break-glass) is knowable. */
static void check_quorum(struct lint *l, size_t j)
{
	const struct config *cfg = l->cfg;
	const struct policy_cfg *p = &cfg->policies[j];
	size_t approvers = 0;

	if (cfg->oidc.enabled || (p->approvals == 0 && !p->break_glass))
		return;
	for (size_t i = 0; i < cfg->nidentities; i++)
		approvers += identity_matches(&cfg->identities[i], &p->approvers);
	if (p->approvals > 0 && (size_t)p->approvals > approvers) {
		warn(l, pline(l, j, "approvals", -1),
		     "policy '%s': %d approvals needed but only %zu identities are "
		     "approvers (without oidc: the identities are all the subjects "
		     "there are)", p->name, p->approvals, approvers);
		return;
	}
	for (size_t i = 0; i < cfg->nidentities; i++) {
		const struct identity_cfg *id = &cfg->identities[i];
		bool self = identity_matches(id, &p->approvers);
		size_t others = approvers - (self ? 1 : 0);

		if (!identity_matches(id, &p->requesters))
			continue;
		if (p->approvals > 0 && !p->allow_self_approval &&
		    (size_t)p->approvals > others) {
			warn(l, pline(l, j, "approvals", -1),
			     "policy '%s': requester %s can never get %d approvals: only "
			     "%zu other identities are approvers", p->name, id->subject,
			     p->approvals, others);
			return;
		}
		if (p->break_glass && others == 0) {
			warn(l, pline(l, j, "break_glass", -1),
			     "policy '%s': nobody but %s could review a break-glass grant "
			     "of %s (the review needs a second person)", p->name,
			     id->subject, id->subject);
			return;
		}
	}
}

/* Resource roles that no policy lets anyone request. */
static void check_reached(struct lint *l)
{
	const struct config *cfg = l->cfg;

	for (size_t r = 0; r < cfg->nresources; r++) {
		const struct resource_cfg *res = &cfg->resources[r];
		size_t missing = 0;
		char names[256] = "";

		for (size_t k = 0; k < res->nroles; k++) {
			bool any = false;

			for (size_t i = 0; i < cfg->npolicies && !any; i++)
				any = policy_resource_index(&cfg->policies[i], res->name) >= 0 &&
				      policy_role_index(&cfg->policies[i], res->roles[k].name) >= 0;
			if (any)
				continue;
			missing++;
			if (strlen(names) + strlen(res->roles[k].name) + 3 < sizeof(names)) {
				if (names[0])
					strcat(names, ", ");
				strcat(names, res->roles[k].name);
			}
		}
		if (missing == res->nroles)
			warn(l, res->line, "resource %s: no policy reaches it", res->name);
		else if (missing > 0)
			warn(l, res->line, "resource %s: no policy reaches role%s %s",
			     res->name, missing > 1 ? "s" : "", names);
	}
}

/* The selftest needs a grant at once, long enough for its 5m grants, on
 * each of its resources; and powers it checks it does not have. */
static void check_selftest_grant(struct lint *l, const struct subject *who,
				 const char *resource, const char *role)
{
	const struct policy_cfg *p = policy_match(l->cfg, who, resource, role);

	if (p == NULL)
		warn(l, l->cfg->selftest.line, "selftest: no policy lets %s request %s on %s",
		     who->name, role, resource);
	else if (p->approvals > 0 || p->max_duration_s < 300)
		warn(l, l->cfg->selftest.line, "selftest: policy '%s' decides %s on %s for "
		     "%s, but the selftest needs approvals: 0 and max_duration of at least 5m",
		     p->name, role, resource, who->name);
}

static void check_selftest(struct lint *l)
{
	const struct selftest_cfg *st = &l->cfg->selftest;
	struct subject who = {st->subject, NULL, 0};

	if (!st->enabled)
		return;
	for (size_t i = 0; i < l->cfg->nidentities; i++) {
		if (strcmp(l->cfg->identities[i].subject, st->subject) == 0) {
			who.groups = (const char *const *)l->cfg->identities[i].groups;
			who.ngroups = l->cfg->identities[i].ngroups;
		}
	}
	check_selftest_grant(l, &who, st->resource, st->role);
	if (st->postgres_resource)
		check_selftest_grant(l, &who, st->postgres_resource, st->postgres_role);
	if (policy_is_auditor(l->cfg, &who) || policy_is_checker(l->cfg, &who))
		warn(l, st->line, "selftest: %s is an admin, auditor or checker; the selftest "
		     "checks that its identity is refused what those may do", st->subject);
}

static int by_line(const void *a, const void *b)
{
	const struct lint_warning *x = a, *y = b;

	if (x->line != y->line)
		return (x->line > y->line) - (x->line < y->line);
	return strcmp(x->msg, y->msg);
}

int lint_config(const struct config *cfg, const char *text, size_t len,
		struct lint_warning **out, size_t *n)
{
	struct lint l = {.cfg = cfg};
	struct ytree *root = NULL;
	char err[256];

	*out = NULL;
	*n = 0;
	/* the config parsed, so its text does too; without it lines fall back
	 * to the policy's own */
	if (text != NULL &&
	    ytree_parse(cfg->path, text, len, &root, err, sizeof(err)) == JG_OK)
		l.policies = get(root, "policies");
	for (size_t j = 0; j < cfg->npolicies; j++) {
		check_shadowed(&l, j);
		check_roles(&l, j);
		check_quorum(&l, j);
	}
	check_reached(&l);
	check_selftest(&l);
	ytree_free(root);
	if (l.rc != JG_OK) {
		free(l.v);
		return l.rc;
	}
	if (l.n > 0)
		qsort(l.v, l.n, sizeof(*l.v), by_line);
	*out = l.v;
	*n = l.n;
	return JG_OK;
}
