/* Policy evaluation: who may request what, and who may approve it.  Pure:
 * the config and subject come in, a decision goes out. */
#ifndef JG_CORE_POLICY_H
#define JG_CORE_POLICY_H

#include <stdbool.h>

#include "core/model.h"
#include "core/principal.h"

/* Shell-style glob with '*' (any run) and '?' (one character). */
bool policy_glob_match(const char *pattern, const char *name);

/* The parts of a policy's match, each the index of what matched (-1:
 * nothing did): which requester principal names who, which resource
 * pattern covers resource, where role is in the policy's roles.  These are
 * the predicates policy_match uses; `jitgate policy explain`, matrix and
 * lint call them so that every tool judges exactly as the daemon does. */
long policy_resource_index(const struct policy_cfg *p, const char *resource);
long policy_role_index(const struct policy_cfg *p, const char *role);
/* All three parts match: p lets who request role on resource. */
bool policy_applies(const struct policy_cfg *p, const struct subject *who,
		    const char *resource, const char *role);

struct policy_why {
	long requester; /* index into p->requesters.v */
	long resource;  /* index into p->resources */
	long role;      /* index into p->roles */
};
void policy_why(const struct policy_cfg *p, const struct subject *who,
		const char *resource, const char *role, struct policy_why *out);

/* The first policy in file order whose requesters include who, whose
 * resources match resource and whose roles include role; NULL when none
 * (deny by default).  The result points into cfg. */
const struct policy_cfg *policy_match(const struct config *cfg,
				      const struct subject *who,
				      const char *resource, const char *role);

/* True when who is among pol's approvers.  Self-approval is judged by the
 * caller, which knows the requester. */
bool policy_is_approver(const struct policy_cfg *pol, const struct subject *who);

bool policy_is_admin(const struct config *cfg, const struct subject *who);
bool policy_is_auditor(const struct config *cfg, const struct subject *who);
bool policy_is_checker(const struct config *cfg, const struct subject *who);

#endif
