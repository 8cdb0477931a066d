/* Audit actions (design section 5). */
#ifndef JG_CORE_ACTIONS_H
#define JG_CORE_ACTIONS_H

#include <stdbool.h>

enum audit_action {
	ACT_REQUEST_CREATED,
	ACT_REQUEST_APPROVED,
	ACT_REQUEST_DENIED,
	ACT_REQUEST_CANCELED,
	ACT_REQUEST_ACTIVATED,
	ACT_REQUEST_EXPIRED,
	ACT_REQUEST_REVOKED,
	ACT_REQUEST_TIMED_OUT,
	ACT_REQUEST_BREAK_GLASS,
	ACT_REQUEST_REVIEWED,
	ACT_CHECK_DENIED,
	ACT_SESSION_STARTED,
	ACT_SESSION_ENDED,
	ACT_SESSION_QUERY,
	ACT_AUTH_FAILED,
	ACT_CONFIG_LOADED,
	ACT_AUTH_SIGNED_IN,  /* a browser session began (design section 10) */
	ACT_AUTH_SIGNED_OUT, /* and was ended by its holder */
	ACT_REQUEST_REMINDED,  /* remind_after passed: approvers reminded */
	ACT_REQUEST_ESCALATED, /* escalate_after passed: escalate_to told */
	ACT_REQUEST_EXPIRING,  /* the grant ends within expiring_before */
	ACT_COUNT
};

/* "request.created" etc.; never NULL for a valid action. */
const char *action_name(enum audit_action a);
/* Looks an action up by name; false when unknown. */
bool action_parse(const char *name, enum audit_action *out);

#endif
