/* Policy evaluation: who may request what, and who may approve it.  Pure:
 * the config and subject come in, a decision goes out. */
#ifndef JG_CORE_POLICY_H
#define JG_CORE_POLICY_H

#include <stdbool.h>

#include "config/config.h"
#include "core/principal.h"

/* Shell-style glob with '*' (any run) and '?' (one character). */
bool policy_glob_match(const char *pattern, const char *name);

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
