/* Delivers the outbox: notification rows written in the same transaction
 * as the audit event they announce.  A worker thread posts each to its
 * target (Slack incoming webhook, or a generic webhook signed with
 * HMAC-SHA256) and retries with exponential backoff, so neither a target
 * outage nor a restart loses an event. */
#ifndef JG_SERVER_NOTIFY_H
#define JG_SERVER_NOTIFY_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/metrics.h"
#include "store/store.h"

struct notifier;

/* m (may be NULL) counts notices to people that could not be delivered. */
int notifier_start(struct store *st, struct metrics *m, struct notifier **out) JG_WUR;

/* How delivery goes, for /readyz?verbose=1 and `jitgate selftest`. */
struct notifier_health {
	bool readable;      /* the last read of the outbox worked */
	int64_t failing;    /* failed deliveries since the last success */
	int64_t last_ok_ms, last_fail_ms; /* 0: never */
	int64_t undeliverable; /* person rows dropped: nobody to deliver to */
};
void notifier_health(struct notifier *n, struct notifier_health *out);
void notifier_stop(struct notifier *n);

/* Answers a Slack click privately: POSTs {"response_type": "ephemeral",
 * "replace_original": false, "text": TEXT (escaped for mrkdwn)} to url
 * from the notifier thread, once.  Never blocks the caller: false when
 * the queue is full (the answer is dropped and logged).  url must have
 * passed slackin_response_url_ok. */
#define NOTIFY_RESPOND_TEXT_MAX 400
bool notifier_respond(struct notifier *n, const char *url, const char *text);

/* The Slack message text for an audit event (caller frees). */
char *notify_slack_text(const json_t *event);
/* Sets curl up to POST body to url with hdrs: a bounded wait (5 s), no
 * redirect followed, http and https only. */
void notify_curl_post(CURL *curl, const char *url, const char *body,
		      struct curl_slist *hdrs);
/* Performs curl's request: 0 on a 2xx answer; err gets curl's reason or
 * "HTTP N". */
int notify_curl_perform(CURL *curl, char *err, size_t errlen) JG_WUR;
/* POSTs body (JSON) to url, signed X-Jitgate-Signature with the key in
 * secret_env when not NULL.  0 on a 2xx answer; err gets a reason without
 * the URL (webhook URLs may hold a secret path). */
int notify_webhook_post(const char *url, const char *body, const char *secret_env,
			char *err, size_t errlen) JG_WUR;
/* "sha256=<hex HMAC-SHA256(key, body)>" into out (>= 72 bytes). */
void notify_signature(const char *key, const char *body, char *out, size_t outlen);

#endif
