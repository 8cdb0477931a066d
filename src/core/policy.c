#include "core/policy.h"

#include <string.h>

bool policy_glob_match(const char *pattern, const char *name)
{
	const char *star = NULL, *resume = NULL;

	/* iterative matcher with single-star backtracking: linear in practice,
	 * never exponential on hostile patterns */
	while (*name) {
		if (*pattern == '*') {
			star = pattern++;
			resume = name;
		} else if (*pattern == '?' || *pattern == *name) {
			pattern++;
			name++;
		} else if (star) {
			pattern = star + 1;
			name = ++resume;
		} else {
			return false;
		}
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

static bool list_has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static bool resources_match(const struct policy_cfg *p, const char *resource)
{
	for (size_t i = 0; i < p->nresources; i++)
		if (policy_glob_match(p->resources[i], resource))
			return true;
	return false;
}

const struct policy_cfg *policy_match(const struct config *cfg,
				      const struct subject *who,
				      const char *resource, const char *role)
{
	for (size_t i = 0; i < cfg->npolicies; i++) {
		const struct policy_cfg *p = &cfg->policies[i];

		if (principal_list_matches(&p->requesters, who) &&
		    resources_match(p, resource) &&
		    list_has(p->roles, p->nroles, role))
			return p;
	}
	return NULL;
}

bool policy_is_approver(const struct policy_cfg *pol, const struct subject *who)
{
	return pol != NULL && principal_list_matches(&pol->approvers, who);
}

bool policy_is_admin(const struct config *cfg, const struct subject *who)
{
	return principal_list_matches(&cfg->admins, who);
}

bool policy_is_auditor(const struct config *cfg, const struct subject *who)
{
	return principal_list_matches(&cfg->auditors, who) ||
	       policy_is_admin(cfg, who);
}

bool policy_is_checker(const struct config *cfg, const struct subject *who)
{
	return principal_list_matches(&cfg->checkers, who);
}
