#include "core/actions.h"

#include <string.h>

static const char *const names[ACT_COUNT] = {
	[ACT_REQUEST_CREATED] = "request.created",
	[ACT_REQUEST_APPROVED] = "request.approved",
	[ACT_REQUEST_DENIED] = "request.denied",
	[ACT_REQUEST_CANCELED] = "request.canceled",
	[ACT_REQUEST_ACTIVATED] = "request.activated",
	[ACT_REQUEST_EXPIRED] = "request.expired",
	[ACT_REQUEST_REVOKED] = "request.revoked",
	[ACT_REQUEST_TIMED_OUT] = "request.timed_out",
	[ACT_REQUEST_BREAK_GLASS] = "request.break_glass",
	[ACT_REQUEST_REVIEWED] = "request.reviewed",
	[ACT_CHECK_DENIED] = "check.denied",
	[ACT_SESSION_STARTED] = "session.started",
	[ACT_SESSION_ENDED] = "session.ended",
	[ACT_SESSION_QUERY] = "session.query",
	[ACT_AUTH_FAILED] = "auth.failed",
	[ACT_CONFIG_LOADED] = "config.loaded",
	[ACT_AUTH_SIGNED_IN] = "auth.signed_in",
	[ACT_AUTH_SIGNED_OUT] = "auth.signed_out",
	[ACT_REQUEST_REMINDED] = "request.reminded",
	[ACT_REQUEST_ESCALATED] = "request.escalated",
	[ACT_REQUEST_EXPIRING] = "request.expiring",
};

const char *action_name(enum audit_action a)
{
	return (unsigned)a < ACT_COUNT ? names[a] : "unknown";
}

bool action_parse(const char *name, enum audit_action *out)
{
	for (int i = 0; i < ACT_COUNT; i++) {
		if (strcmp(names[i], name) == 0) {
			*out = (enum audit_action)i;
			return true;
		}
	}
	return false;
}
