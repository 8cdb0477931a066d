#include "server/slackpost.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/notify.h"
#include "server/slackblocks.h"
#include "util/log.h"
#include "util/timeutil.h"

/* A row waiting for the post looks again this long after the post's next
 * attempt (and at least this long from now). */
#define WAIT_AFTER_MS 1000

/* Keeps the first 4 KiB of an answer. */
struct answer {
	char buf[4096];
	size_t len;
};

static size_t keep(char *p, size_t s, size_t n, void *u)
{
	struct answer *a = u;
	size_t take = s * n;

	if (take > sizeof(a->buf) - 1 - a->len)
		take = sizeof(a->buf) - 1 - a->len;
	memcpy(a->buf + a->len, p, take);
	a->len += take;
	a->buf[a->len] = '\0';
	return s * n;
}

int64_t slackpost_retry_after_ms(int64_t seconds)
{
	if (seconds <= 0)
		seconds = SLACKPOST_RETRY_AFTER_DEFAULT_S;
	if (seconds > SLACKPOST_RETRY_AFTER_MAX_S)
		seconds = SLACKPOST_RETRY_AFTER_MAX_S;
	return seconds * 1000;
}

int slackpost_request(const char *api_url, const char *method, const char *token_env,
		      const char *ctype, const char *body, struct slackpost_answer *out,
		      char *err, size_t errlen)
{
	const char *tok = token_env ? getenv(token_env) : NULL;
	struct curl_slist *hdrs = NULL;
	struct answer ans = {.len = 0};
	char url[600], ctype_h[96], *auth = NULL;
	json_t *a = NULL;
	CURL *curl = NULL;
	CURLcode cc;
	long status = 0;
	int rc = JG_ERR_IO;

	if (out != NULL)
		*out = (struct slackpost_answer){.json = NULL};
	if (tok == NULL || *tok == '\0') {
		snprintf(err, errlen, "bot token variable %s is not set",
			 token_env ? token_env : "(none)");
		return JG_ERR_INVALID;
	}
	if (snprintf(url, sizeof(url), "%s/%s", api_url, method) >= (int)sizeof(url)) {
		snprintf(err, errlen, "slack.api_url too long");
		return JG_ERR_INVALID;
	}
	curl = curl_easy_init();
	if (curl == NULL || asprintf(&auth, "Authorization: Bearer %s", tok) < 0) {
		auth = NULL;
		snprintf(err, errlen, "out of memory");
		rc = JG_ERR_NOMEM;
		goto out;
	}
	snprintf(ctype_h, sizeof(ctype_h), "Content-Type: %s", ctype);
	hdrs = curl_slist_append(hdrs, ctype_h);
	hdrs = curl_slist_append(hdrs, auth);
	notify_curl_post(curl, url, body, hdrs);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ans);
	cc = curl_easy_perform(curl);
	if (cc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status == 429) {
		/* Slack's rate limit (per method and workspace): Retry-After
		 * seconds, read by curl (0: absent or not a number) */
		curl_off_t secs = 0;
		int64_t ms;

		if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &secs) != CURLE_OK)
			secs = 0;
		ms = slackpost_retry_after_ms(secs > SLACKPOST_RETRY_AFTER_MAX_S
					      ? SLACKPOST_RETRY_AFTER_MAX_S : (int64_t)secs);
		snprintf(err, errlen, "Slack rate limit on %s: retry after %lld s", method,
			 (long long)(ms / 1000));
		if (out != NULL)
			out->retry_after_ms = ms;
		rc = SLACKPOST_RATELIMITED;
		goto out;
	}
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		goto out;
	}
	if (status < 200 || status > 299) {
		snprintf(err, errlen, "HTTP %ld", status);
		goto out;
	}
	a = json_loads(ans.buf, 0, NULL);
	if (!json_is_true(json_object_get(a, "ok"))) {
		const char *e = json_string_value(json_object_get(a, "error"));
		char code[64] = "";

		/* Slack's error code is an identifier; keep it only if it is one */
		if (e != NULL && strlen(e) < sizeof(code) &&
		    strspn(e, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(e))
			snprintf(code, sizeof(code), "%s", e);
		snprintf(err, errlen, "Slack answered ok: false%s%s", *code ? ": " : "", code);
		if (out != NULL)
			snprintf(out->code, sizeof(out->code), "%s", code);
		rc = JG_ERR_UNAVAILABLE;
		goto out;
	}
	rc = JG_OK;
	if (out != NULL) {
		out->json = a;
		a = NULL;
	}
out:
	json_decref(a);
	curl_slist_free_all(hdrs);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	if (curl)
		curl_easy_cleanup(curl);
	return rc;
}

static int call(const char *api_url, const char *method, const char *token_env,
		const char *body, struct slackpost_answer *ans, char *err, size_t errlen)
{
	return slackpost_request(api_url, method, token_env,
				 "application/json; charset=utf-8", body, ans, err, errlen);
}

/* Slack's channel ids and message timestamps: short, [A-Za-z0-9.]. */
static bool slack_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= STORE_SLACK_ID_MAX &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.") == n;
}

/* Slack will never accept an update of this message: give it up. */
static bool update_hopeless(const char *err)
{
	static const char *const codes[] = {
		"message_not_found", "cant_update_message", "edit_window_closed",
		"channel_not_found", "is_archived", "msg_too_long", "invalid_blocks",
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *p = strstr(err, codes[i]);

		if (p != NULL && p[strlen(codes[i])] == '\0')
			return true;
	}
	return false;
}

/* The body: the message for the request as it is now. */
static char *body_for(struct store *st, int64_t rid, const json_t *target,
		      const json_t *event, const char *channel, const char *ts)
{
	struct request r;
	bool have = rid > 0 && store_request_get(st, rid, &r) == JG_OK;
	struct slackblocks_in in = {
		.req = have ? &r : NULL,
		.event = event,
		.interactive = json_is_true(json_object_get(target, "interactive")),
		.public_url = json_string_value(json_object_get(target, "public_url")),
	};
	json_t *msg = slackblocks_message(&in);
	char *body = NULL;

	if (have)
		request_clear(&r);
	if (msg == NULL)
		return NULL;
	json_object_set_new(msg, "channel", json_string(channel));
	if (ts != NULL)
		json_object_set_new(msg, "ts", json_string(ts));
	body = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	return body;
}

int slackpost_deliver(struct store *st, int64_t row_id, const json_t *target,
		      const json_t *event, bool superseded, int64_t now_ms,
		      int64_t *wait_until_ms, char *err, size_t errlen)
{
	const char *channel = json_string_value(json_object_get(target, "channel"));
	const char *api = json_string_value(json_object_get(target, "api_url"));
	const char *tok = json_string_value(json_object_get(target, "token_env"));
	bool post = !json_is_false(json_object_get(target, "post"));
	int64_t rid = json_integer_value(json_object_get(event, "request_id"));
	struct store_slackmsg m;
	struct slackpost_answer ans = {.json = NULL};
	char *body = NULL;
	int rc;

	*wait_until_ms = 0;
	if (channel == NULL || api == NULL || tok == NULL) {
		snprintf(err, errlen, "malformed outbox row");
		return JG_ERR_INVALID;
	}
	if (rid <= 0) {
		/* an event of no request: a message of its own, not tracked */
		body = body_for(st, 0, target, event, channel, NULL);
		rc = body ? call(api, "chat.postMessage", tok, body, &ans, err, errlen)
			  : JG_ERR_NOMEM;
		goto out;
	}
	rc = store_slackmsg_get(st, rid, channel, &m);
	if (rc == JG_ERR_NOTFOUND) {
		if (!post) {
			rc = SLACKPOST_SENT; /* no message of this request to update */
			goto out;
		}
		rc = store_slackmsg_claim(st, rid, channel, row_id);
		if (rc == JG_OK)
			rc = store_slackmsg_get(st, rid, channel, &m);
	}
	if (rc != JG_OK) {
		snprintf(err, errlen, "store: Slack message of request %lld not readable",
			 (long long)rid);
		rc = JG_ERR_STORE; /* retried, never taken for "undeliverable" */
		goto out;
	}
	if (!m.posted && m.post_row != row_id && m.post_done) {
		rc = SLACKPOST_SENT; /* posted without a usable ts: nothing to update */
		goto out;
	}
	if (!m.posted && m.post_row != row_id) {
		/* the post is still on its way: this row follows it */
		int64_t at = m.post_next_at_ms + WAIT_AFTER_MS;

		*wait_until_ms = at > now_ms + WAIT_AFTER_MS ? at : now_ms + WAIT_AFTER_MS;
		snprintf(err, errlen, "waiting for the message of request %lld to be posted",
			 (long long)rid);
		rc = SLACKPOST_WAIT;
		goto out;
	}
	if (m.posted && superseded) {
		rc = SLACKPOST_SENT; /* a later row updates it to the same state */
		goto out;
	}
	body = body_for(st, rid, target, event, m.posted ? m.channel_id : channel,
			m.posted ? m.ts : NULL);
	if (body == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = JG_ERR_NOMEM;
		goto out;
	}
	if (m.posted) {
		rc = call(api, "chat.update", tok, body, &ans, err, errlen);
		if (rc == JG_ERR_UNAVAILABLE && update_hopeless(err)) {
			log_warn(NULL, "Slack message of request %lld cannot be updated (%s): "
				 "given up", (long long)rid, err);
			rc = SLACKPOST_SENT;
		}
		goto out;
	}
	rc = call(api, "chat.postMessage", tok, body, &ans, err, errlen);
	if (rc != JG_OK)
		goto out;
	{
		const char *cid = json_string_value(json_object_get(ans.json, "channel"));
		const char *ts = json_string_value(json_object_get(ans.json, "ts"));

		if (!slack_id_ok(cid) || !slack_id_ok(ts)) {
			/* posted, but it cannot be updated: do not post it twice */
			log_warn(NULL, "Slack answered chat.postMessage for request %lld "
				 "without a usable channel and ts: the message will not be "
				 "updated", (long long)rid);
			rc = SLACKPOST_SENT;
			goto out;
		}
		rc = store_slackmsg_posted(st, rid, channel, row_id, cid, ts);
		if (rc != JG_OK) {
			snprintf(err, errlen, "posted, but its ts could not be stored");
			goto out;
		}
		rc = SLACKPOST_MARKED;
	}
out:
	if (rc == SLACKPOST_RATELIMITED) /* counted from Slack's answer, not the ask */
		*wait_until_ms = time_now_ms() + ans.retry_after_ms;
	json_decref(ans.json);
	free(body);
	return rc;
}
