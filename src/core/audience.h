/* Who is told of an event as a person (design section 13,
 * docs/slack.md): pure, from the config, the request as it is after the
 * event, the actor and the time.
 *
 *   requester   request.activated (approved by someone else), denied (with
 *               the comment), expiring, expired, revoked (by someone else,
 *               with the reason), timed_out
 *   approver    request.created (pending), a new stage opened
 *               (request.approved), request.reminded: whoever may decide
 *               the request now (core_may_decide) and has not approved it
 *   escalation  request.escalated: escalate_to, as they may decide now
 *   everyone    request.break_glass: every approver of the policy (all
 *               stages, escalate_to), the admins and notify_people.everyone
 *
 * A principal names people: user:NAME is NAME; group:G is every static
 * identity of the config in G (jitgate knows no other members of a group:
 * an OIDC-only person is reached through a user: principal).  The actor
 * is never told of their own act, the requester never as an approver
 * (unless allow_self_approval). */
#ifndef JG_CORE_AUDIENCE_H
#define JG_CORE_AUDIENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "core/actions.h"
#include "core/request.h"

#define AUDIENCE_MAX 256

enum audience_role {
	AUD_REQUESTER,
	AUD_APPROVER,
	AUD_ESCALATION,
	AUD_EVERYONE,
};

struct audience_entry {
	const char *subject; /* borrowed from cfg or r */
	enum audience_role role;
};

struct audience {
	struct audience_entry v[AUDIENCE_MAX];
	size_t n;
	bool truncated; /* more people than AUDIENCE_MAX: the rest not told */
};

/* "requester", "approver", "escalation", "everyone". */
const char *audience_role_name(enum audience_role role);

/* Fills out with the people told of action on r (r as it is after it) by
 * actor at now_ms, each once, in a stable order. */
void audience_for(const struct config *cfg, enum audit_action action,
		  const struct request *r, const char *actor, int64_t now_ms,
		  struct audience *out);

#endif
