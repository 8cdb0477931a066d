#include "server/slackpost.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/notify.h"
#include "server/slackblocks.h"
#include "util/log.h"

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

int slackpost_call(const char *api_url, const char *method, const char *token_env,
		   const char *body, json_t **answer, char *err, size_t errlen)
{
	return slackpost_request(api_url, method, token_env,
				 "application/json; charset=utf-8", body, answer, NULL, 0,
				 err, errlen);
}

int slackpost_request(const char *api_url, const char *method, const char *token_env,
		      const char *ctype, const char *body, json_t **answer, char *code_out,
		      size_t codelen, char *err, size_t errlen)
{
	const char *tok = token_env ? getenv(token_env) : NULL;
	struct curl_slist *hdrs = NULL;
	struct answer ans = {.len = 0};
	char url[600], ctype_h[96], *auth = NULL;
	json_t *a = NULL;
	CURL *curl = NULL;
	int rc = JG_ERR_IO;

	if (answer)
		*answer = NULL;
	if (code_out != NULL && codelen > 0)
		code_out[0] = '\0';
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
	if (notify_curl_perform(curl, err, errlen) != JG_OK)
		goto out;
	a = json_loads(ans.buf, 0, NULL);
	if (!json_is_true(json_object_get(a, "ok"))) {
		const char *e = json_string_value(json_object_get(a, "error"));
		char code[64] = "";

		/* Slack's error code is an identifier; keep it only if it is one */
		if (e != NULL && strlen(e) < sizeof(code) &&
		    strspn(e, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(e))
			snprintf(code, sizeof(code), "%s", e);
		snprintf(err, errlen, "Slack answered ok: false%s%s", *code ? ": " : "", code);
		if (code_out != NULL && codelen > 0)
			snprintf(code_out, codelen, "%s", code);
		rc = JG_ERR_UNAVAILABLE;
		goto out;
	}
	rc = JG_OK;
	if (answer) {
		*answer = a;
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
		      const json_t *event, int64_t now_ms, int64_t *wait_until_ms,
		      char *err, size_t errlen)
{
	const char *channel = json_string_value(json_object_get(target, "channel"));
	const char *api = json_string_value(json_object_get(target, "api_url"));
	const char *tok = json_string_value(json_object_get(target, "token_env"));
	bool post = !json_is_false(json_object_get(target, "post"));
	int64_t rid = json_integer_value(json_object_get(event, "request_id"));
	struct store_slackmsg m;
	json_t *ans = NULL;
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
		rc = body ? slackpost_call(api, "chat.postMessage", tok, body, NULL, err, errlen)
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
	body = body_for(st, rid, target, event, m.posted ? m.channel_id : channel,
			m.posted ? m.ts : NULL);
	if (body == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = JG_ERR_NOMEM;
		goto out;
	}
	if (m.posted) {
		rc = slackpost_call(api, "chat.update", tok, body, NULL, err, errlen);
		if (rc == JG_ERR_UNAVAILABLE && update_hopeless(err)) {
			log_warn(NULL, "Slack message of request %lld cannot be updated (%s): "
				 "given up", (long long)rid, err);
			rc = SLACKPOST_SENT;
		}
		goto out;
	}
	rc = slackpost_call(api, "chat.postMessage", tok, body, &ans, err, errlen);
	if (rc != JG_OK)
		goto out;
	{
		const char *cid = json_string_value(json_object_get(ans, "channel"));
		const char *ts = json_string_value(json_object_get(ans, "ts"));

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
	json_decref(ans);
	free(body);
	return rc;
}
