/* Evaluating policy test cases with the daemon's own pure core: a request
 * case runs core_request_create, an approve case runs core_request_approve
 * on the request the requester would have made.  Nothing here has a rule
 * of its own. */
#ifndef JG_POLICYTEST_PTEVAL_H
#define JG_POLICYTEST_PTEVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "policytest/ptfile.h"

/* What the core decided for one case. */
struct pt_got {
	enum pt_outcome outcome;
	const char *policy;  /* the policy that decided (points into cfg), or NULL */
	int approvals;       /* pending: approvals the request waits for */
	int status;          /* refused: 400, 403, 409 */
	const char *field;   /* refused 400: the offending field, or NULL */
	char message[256];   /* refused: the core's message */
	const char *rule;    /* the rule the core decided by, or NULL */
	/* the policy the request matched, refused or not (coverage) */
	const struct policy_cfg *reached;
	/* a pending request after waited_s: its notices (core/notices.h) and
	 * who a reminder then goes to (names point into the config) */
	int reminders;
	bool escalated;
	const char *reminded[PT_REMINDED_MAX + 1]; /* one more: "too many" */
	size_t nreminded;
};

/* The HTTP status the API answers for a core refusal (JG_ERR_*). */
int pteval_status(int err);

/* Evaluates c against cfg at now_ms.  0, or JG_ERR_NOMEM. */
int pteval_case(const struct config *cfg, const struct pt_case *c,
		int64_t now_ms, struct pt_got *got) JG_WUR;

/* True when got meets c's expectations; otherwise why (one line) says
 * what was expected and what came instead. */
bool pteval_check(const struct pt_case *c, const struct pt_got *got,
		  char *why, size_t len);

/* got as one line: "pending via prod-write (2 approvals)",
 * "refused 400 (duration): duration: above the maximum 4h of policy x". */
void pteval_describe(const struct pt_got *got, char *buf, size_t len);

#endif
