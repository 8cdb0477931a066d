/* The Slack channel message of a request (design section 13), pure: the
 * request's current state and the event that changed it in, the
 * chat.postMessage / chat.update body out.  Every text that came from a
 * user (names, resource, reason, ticket, comments) is escaped for Slack
 * mrkdwn (&, <, >), so it cannot mention @channel or forge a link, and cut
 * to a bound, so no block exceeds Slack's limits. */
#ifndef JG_SERVER_SLACKBLOCKS_H
#define JG_SERVER_SLACKBLOCKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/request.h"

/* Bounds (bytes, after escaping) of the parts of a message. */
#define SLACKBLOCKS_FIELD_MAX 300   /* a name, resource, role, ticket */
#define SLACKBLOCKS_TEXT_MAX 1500   /* a reason or comment */

struct slackblocks_in {
	const struct request *req; /* current state; NULL: the event alone */
	const json_t *event;       /* the audit event that queued the message */
	bool interactive;          /* Approve / Deny while pending */
	const char *public_url;    /* web.public_url, NULL when not set */
};

/* {"text": FALLBACK, "blocks": [...]}: the caller adds channel (and ts for
 * chat.update).  NULL only when out of memory. */
json_t *slackblocks_message(const struct slackblocks_in *in);

/* src escaped for mrkdwn (& < > as entities, control characters but \n
 * as spaces), cut at a character boundary so the result is at most max
 * bytes (an ellipsis marks a cut).  Caller frees; NULL when out of
 * memory. */
char *slackblocks_escape(const char *src, size_t max);

#endif
