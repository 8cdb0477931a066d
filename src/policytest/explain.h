/* `jitgate policy explain`: every policy in file order, whether it matched
 * a request and why (which requester, resource pattern and role did or did
 * not), and the decision the core reaches.  The match is judged with the
 * core's own predicates (policy_why) and the decision by
 * core_request_create. */
#ifndef JG_POLICYTEST_EXPLAIN_H
#define JG_POLICYTEST_EXPLAIN_H

#include <stdio.h>

#include "config/config.h"
#include "core/request.h"

/* in->duration_s 0: the matching policy's maximum.  Writes the report to
 * f; returns the outcome: 0 granted, 1 pending, 2 refused (or
 * JG_ERR_NOMEM). */
int explain_write(const struct config *cfg, const struct subject *who,
		  const struct create_input *in, int64_t now_ms, FILE *f) JG_WUR;

#endif
