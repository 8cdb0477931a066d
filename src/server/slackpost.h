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
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* What slackpost_deliver did, beyond failing (negative JG_ERR_*). */
enum slackpost_outcome {
	SLACKPOST_SENT = 0,   /* delivered: the caller marks the row done */
	SLACKPOST_MARKED = 1, /* delivered and already marked done */
	SLACKPOST_WAIT = 2,   /* the post is not known yet: try again at *wait_until_ms */
};

/* Delivers outbox row row_id of a channel target (target: kind, channel,
 * api_url, token_env, interactive, post, public_url; event: the audit
 * event).  err gets a reason without secrets on failure. */
int slackpost_deliver(struct store *st, int64_t row_id, const json_t *target,
		      const json_t *event, int64_t now_ms, int64_t *wait_until_ms,
		      char *err, size_t errlen);

/* One Slack Web API call: POST api_url/method with the JSON body and the
 * bot token read from token_env (never logged).  0 when Slack answered
 * 2xx with {"ok": true}; *answer (may be NULL) gets the answer (caller
 * decrefs).  err gets Slack's error code or the transport's reason. */
int slackpost_call(const char *api_url, const char *method, const char *token_env,
		   const char *body, json_t **answer, char *err, size_t errlen) JG_WUR;
/* The same with the body's content type (ctype: "application/json;
 * charset=utf-8", "application/x-www-form-urlencoded") and, when Slack
 * answers ok: false (JG_ERR_UNAVAILABLE), its error code (an identifier,
 * "" when none) into code (may be NULL). */
int slackpost_request(const char *api_url, const char *method, const char *token_env,
		      const char *ctype, const char *body, json_t **answer, char *code,
		      size_t codelen, char *err, size_t errlen) JG_WUR;

#endif
