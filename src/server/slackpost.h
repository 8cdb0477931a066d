/* The life of a request's Slack channel message (design section 13), on
 * the notifier thread: the first outbox row that wants a post claims the
 * message and posts it with chat.postMessage; the channel id and ts Slack
 * answers are stored with the row's done flag in one transaction; every
 * later row of the request updates that message in place with chat.update
 * (the request's state as it is now: buttons gone once it is no longer
 * pending).  A row that comes before the post is known waits for it. */
#ifndef JG_SERVER_SLACKPOST_H
#define JG_SERVER_SLACKPOST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* What slackpost_deliver did, beyond failing (negative JG_ERR_*). */
enum slackpost_outcome {
	SLACKPOST_SENT = 0,   /* delivered: the caller marks the row done */
	SLACKPOST_MARKED = 1, /* delivered and already marked done */
	SLACKPOST_WAIT = 2,   /* the post is not known yet: try again at *wait_until_ms */
	SLACKPOST_RATELIMITED = 3, /* Slack answered 429: no Slack call before *wait_until_ms */
};

/* The wait a 429's Retry-After asks for, in ms: seconds as curl parsed
 * them (CURLINFO_RETRY_AFTER: 0 when absent or not a number), clamped to
 * 1 s .. SLACKPOST_RETRY_AFTER_MAX_S; absent or unreadable is
 * SLACKPOST_RETRY_AFTER_DEFAULT_S. */
#define SLACKPOST_RETRY_AFTER_DEFAULT_S 30
#define SLACKPOST_RETRY_AFTER_MAX_S 3600
int64_t slackpost_retry_after_ms(int64_t seconds);

/* Delivers outbox row row_id of a channel target (target: kind, channel,
 * api_url, token_env, interactive, post, public_url; event: the audit
 * event).  superseded: a later row of the same message is being delivered
 * now, so an update (which renders the request as it is now) is skipped
 * and the row counts as sent.  err gets a reason without secrets on
 * failure. */
int slackpost_deliver(struct store *st, int64_t row_id, const json_t *target,
		      const json_t *event, bool superseded, int64_t now_ms,
		      int64_t *wait_until_ms, char *err, size_t errlen);

/* One Slack Web API call: POST api_url/method with the body and the bot
 * token read from token_env (never logged).  0 when Slack answered 2xx
 * with {"ok": true}.  err gets Slack's error code or the transport's
 * reason. */
/* What Slack answered a call beyond ok: true. */
struct slackpost_answer {
	json_t *json;          /* the answer when ok (caller decrefs), else NULL */
	char code[64];         /* Slack's error code on ok: false ("" when none) */
	int64_t retry_after_ms; /* > 0: HTTP 429, wait this long (clamped) */
};
/* The same with the body's content type (ctype: "application/json;
 * charset=utf-8", "application/x-www-form-urlencoded") and the answer
 * (may be NULL).  HTTP 429 is SLACKPOST_RATELIMITED (positive) with
 * ans->retry_after_ms set; ok: false is JG_ERR_UNAVAILABLE with ans->code. */
int slackpost_request(const char *api_url, const char *method, const char *token_env,
		      const char *ctype, const char *body, struct slackpost_answer *ans,
		      char *err, size_t errlen) JG_WUR;

#endif
