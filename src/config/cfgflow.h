/* The approval-flow keys of a policy (design section 13): stages,
 * remind_after, escalate_after / escalate_to, auto_approve (a time window
 * in a named zone, an on-call schedule file) and approve_in.  Read with
 * the config's typed getters, every error naming its file:line; the
 * on-call file is read once, here, and is itself checked line by line. */
#ifndef JG_CONFIG_CFGFLOW_H
#define JG_CONFIG_CFGFLOW_H

#include "config/cfgval.h"
#include "config/config.h"
#include "config/ytree.h"

/* The policy keys read here, in the order of the vals passed in. */
enum {
	CFGFLOW_STAGES, CFGFLOW_REMIND, CFGFLOW_ESCALATE_AFTER,
	CFGFLOW_ESCALATE_TO, CFGFLOW_AUTO, CFGFLOW_APPROVE_IN, CFGFLOW_NKEYS
};
#define CFGFLOW_KEY_NAMES "stages", "remind_after", "escalate_after", \
	"escalate_to", "auto_approve", "approve_in"

/* Largest on-call schedule file (bytes) and number of shifts. */
#define CFGFLOW_ONCALL_MAX (1024 * 1024)
#define CFGFLOW_SHIFTS_MAX 10000
#define CFGFLOW_STAGES_MAX 8

/* Reads vals[0..CFGFLOW_NKEYS) (NULL when absent) into p.  m is the
 * policy mapping; approvals_v / approvers_v are the policy's own keys
 * (stages exclude them).  With stages, p->approvals and p->approvers are
 * set to the stages' sum and union. */
int cfgflow_read(struct cfgval_ctx *c, const struct ytree *m,
		 const struct ytree *const *vals,
		 const struct ytree *approvals_v,
		 const struct ytree *approvers_v, struct policy_cfg *p) JG_WUR;

/* Parses an on-call schedule (YAML: a list of {subject, start, end}, times
 * RFC 3339 UTC) from text; name is used in messages. */
int cfgflow_parse_oncall(struct cfgval_ctx *c, const char *text, size_t len,
			 struct auto_approve_cfg *out) JG_WUR;

void cfgflow_free(struct policy_cfg *p);

#endif
