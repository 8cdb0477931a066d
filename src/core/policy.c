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

long policy_resource_index(const struct policy_cfg *p, const char *resource)
{
	for (size_t i = 0; i < p->nresources; i++)
		if (policy_glob_match(p->resources[i], resource))
			return (long)i;
	return -1;
}

long policy_role_index(const struct policy_cfg *p, const char *role)
{
	for (size_t i = 0; i < p->nroles; i++)
		if (strcmp(p->roles[i], role) == 0)
			return (long)i;
	return -1;
}

bool policy_applies(const struct policy_cfg *p, const struct subject *who,
		    const char *resource, const char *role)
{
	return principal_list_matches(&p->requesters, who) &&
	       policy_resource_index(p, resource) >= 0 &&
	       policy_role_index(p, role) >= 0;
}

void policy_why(const struct policy_cfg *p, const struct subject *who,
		const char *resource, const char *role, struct policy_why *out)
{
	out->requester = principal_list_find(&p->requesters, who);
	out->resource = policy_resource_index(p, resource);
	out->role = policy_role_index(p, role);
}

const struct policy_cfg *policy_match(const struct config *cfg,
				      const struct subject *who,
				      const char *resource, const char *role)
{
	for (size_t i = 0; i < cfg->npolicies; i++) {
		const struct policy_cfg *p = &cfg->policies[i];

		if (policy_applies(p, who, resource, role))
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
