/* `jitgate policy lint`: things a config loads with but that are probably
 * not what its author meant (design section 11).  The loader already
 * refuses what can never work (an unknown resource, a role no covered
 * resource has, approvals without approvers, break-glass without
 * approvers, a quorum larger than its user: approvers); lint reports what
 * it takes a look across policies or at the identities to see. */
#ifndef JG_POLICYTEST_LINT_H
#define JG_POLICYTEST_LINT_H

#include <stddef.h>

#include "config/config.h"
#include "util/err.h"

struct lint_warning {
	int line;
	char msg[512];
};

/* Lints cfg, which was loaded from text (len bytes; used for the lines of
 * list items).  *out is sorted by line, owned by the caller (free). */
int lint_config(const struct config *cfg, const char *text, size_t len,
		struct lint_warning **out, size_t *n) JG_WUR;

#endif
