/* Notices to people (design section 13, docs/slack.md): the requester,
 * the approvers who may act, everyone for break-glass (core/audience.h
 * decides who).  The engine writes one outbox row per person and way
 * (Slack DM, webhook) in the transaction of the event; the notifier
 * thread delivers them: a Slack DM is chat.postMessage with channel = the
 * person's Slack user id, found through slack.users (inverse) or else
 * users.lookupByEmail (cached), never on an HTTP worker or the gateway
 * loop. */
#ifndef JG_SERVER_NOTIFY_PEOPLE_H
#define JG_SERVER_NOTIFY_PEOPLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/actions.h"
#include "core/request.h"
#include "store/store.h"

/* Engine thread, inside the transaction: one outbox row per person told of
 * action (audit event event_text of seq) on r by actor, and per way
 * (notify_people.slack, each of notify_people.webhooks).  Nothing without
 * notify_people:. */
int notify_people_outbox(struct store *st, const struct config *cfg,
			 enum audit_action action, int64_t seq,
			 const char *event_text, const struct request *r,
			 const char *actor, int64_t now_ms) JG_WUR;

/* The email a subject is looked up by in Slack: the subject itself when it
 * has an '@', else subject@email_domain, else NULL.  Into buf. */
const char *notify_people_email(const char *subject, const char *email_domain,
				char *buf, size_t len);

/* The message to a person about an audit event, in the words of their
 * audience ("requester", "approver", "escalation", "everyone").  With
 * slack, text from outside (names, reasons, comments) is escaped for
 * Slack's mrkdwn (&, <, > as entities: no mention, link or channel ping can
 * be smuggled in) and cut to a bounded length.  web_url: the web UI's
 * origin or NULL.  Caller frees. */
char *notify_people_text(const json_t *event, const char *audience,
			 const char *web_url, bool slack);

/* The notifier thread's side: delivers person rows, with its cache of
 * Slack user ids found by email.  Not thread-safe (one notifier thread). */
struct people_sender;

int people_sender_new(struct people_sender **out) JG_WUR;
void people_sender_free(struct people_sender *ps);
/* True when an outbox row's target is a person row. */
bool notify_people_row(const json_t *target);
/* Delivers one person row.  JG_OK delivered; JG_ERR_NOTFOUND the person
 * cannot be reached (no Slack user, unknown to Slack, DMs refused): not
 * worth retrying; SLACKPOST_RATELIMITED: Slack answered 429, no Slack call
 * for *retry_after_ms; anything else: retry later.  err gets the reason
 * (never a token or a webhook URL). */
int people_deliver(struct people_sender *ps, const json_t *target,
		   const json_t *event, int64_t *retry_after_ms, char *err,
		   size_t errlen) JG_WUR;

#endif
