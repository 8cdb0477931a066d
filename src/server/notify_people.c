#include "server/notify_people.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audience.h"
#include "server/notify.h"
#include "server/slackpost.h"
#include "util/duration.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"

#define FIELD_MAX 300          /* bytes of one outside text in a message */
#define CACHE_MAX 512          /* Slack user ids found by email */
#define CACHE_FOUND_MS (3600 * 1000LL)
#define CACHE_MISSING_MS (600 * 1000LL)
#define EMAIL_MAX 320

/* ---- rows (engine thread) ---- */

const char *notify_people_email(const char *subject, const char *email_domain,
				char *buf, size_t len)
{
	int n;

	if (strchr(subject, '@') != NULL)
		n = snprintf(buf, len, "%s", subject);
	else if (email_domain != NULL)
		n = snprintf(buf, len, "%s@%s", subject, email_domain);
	else
		return NULL;
	return n > 0 && (size_t)n < len ? buf : NULL;
}

/* The Slack user id of subject by slack.users (inverse), or NULL. */
static const char *slack_id_of(const struct config *cfg, const char *subject)
{
	for (size_t i = 0; i < cfg->slack.nusers; i++)
		if (strcmp(cfg->slack.users[i].subject, subject) == 0)
			return cfg->slack.users[i].id;
	return NULL;
}

static int add_row(struct store *st, int64_t seq, json_t *t, const char *event_text)
{
	char *target = t ? json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rc;

	json_decref(t);
	if (target == NULL)
		return JG_ERR_NOMEM;
	rc = store_tx_outbox_add(st, seq, target, event_text);
	free(target);
	return rc;
}

int notify_people_outbox(struct store *st, const struct config *cfg,
			 enum audit_action action, int64_t seq,
			 const char *event_text, const struct request *r,
			 const char *actor, int64_t now_ms)
{
	const struct people_cfg *pc = &cfg->people;
	const struct policy_cfg *pol;
	struct audience *a;
	bool buttons;
	int rc = JG_OK;

	if (!pc->enabled)
		return JG_OK;
	a = malloc(sizeof(*a));
	if (a == NULL)
		return JG_ERR_NOMEM;
	audience_for(cfg, action, r, actor, now_ms, a);
	if (a->truncated)
		log_warn(NULL, "%s of request %lld: more than %d people to tell; the rest "
			 "are not told", action_name(action), (long long)r->id, AUDIENCE_MAX);
	pol = config_policy(cfg, r->policy);
	/* Approve / Deny in an approver's DM, unless the policy wants the web */
	buttons = r->state == REQ_PENDING && (pol == NULL || !pol->approve_in_web);
	for (size_t i = 0; rc == JG_OK && i < a->n; i++) {
		const char *who = a->v[i].subject, *role = audience_role_name(a->v[i].role);
		char ebuf[EMAIL_MAX + 1];

		if (pc->slack) {
			const char *id = slack_id_of(cfg, who);
			const char *email = id ? NULL
					       : notify_people_email(who, pc->email_domain,
								     ebuf, sizeof(ebuf));
			/* names of variables and ids, never the token */
			json_t *t = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:s, s:s?, s:b}",
					      "kind", "person", "via", "slack", "to", who,
					      "audience", role, "user", id, "email", email,
					      "api_url", cfg->slack.api_url, "token_env",
					      cfg->slack.bot_token_env, "web_url",
					      cfg->web.public_url, "buttons",
					      buttons && (a->v[i].role == AUD_APPROVER ||
							  a->v[i].role == AUD_ESCALATION));

			rc = add_row(st, seq, t, event_text);
		}
		for (size_t k = 0; rc == JG_OK && k < pc->nwebhooks; k++)
			rc = add_row(st, seq, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?}",
							"kind", "person", "via", "webhook",
							"to", who, "audience", role,
							"url", pc->webhooks[k].url, "secret_env",
							pc->webhooks[k].secret_env, "web_url",
							cfg->web.public_url),
				     event_text);
	}
	free(a);
	return rc;
}

/* ---- the message ---- */

/* Appends s (from outside), cut to FIELD_MAX bytes at a character
 * boundary; for Slack with &, <, > as entities. */
static void put(FILE *f, const char *s, bool slack)
{
	size_t len = s ? strlen(s) : 0, i = 0, used = 0;

	if (s == NULL) {
		fputs("?", f);
		return;
	}
	while (i < len) {
		size_t start = i;
		uint32_t cp;

		if (!text_utf8_next((const unsigned char *)s, len, &i, &cp))
			cp = 0xFFFD; /* not from the audit log: it is valid UTF-8 */
		if (used + (i - start) > FIELD_MAX) {
			fputs("…", f);
			return;
		}
		used += i - start;
		if (cp < 0x20 || cp == 0x7F)
			fputc(' ', f);
		else if (slack && cp == '&')
			fputs("&amp;", f);
		else if (slack && cp == '<')
			fputs("&lt;", f);
		else if (slack && cp == '>')
			fputs("&gt;", f);
		else if (cp == 0xFFFD && i - start == 1)
			fputs("\xEF\xBF\xBD", f);
		else
			fwrite(s + start, 1, i - start, f);
	}
}

static const char *str_at(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The words of each notice.  {name} is a value of the event (escaped by
 * put); a `group` is left out whole when a value in it is missing. */
static const struct {
	const char *action, *words;
} WORDS[] = {
	{"request.created", "{subject} asks for {role} on {resource}` for {dur}` (request "
	 "{id})`: {reason}`` [{ticket}]`. You may approve or deny it."},
	{"request.approved", "{subject} asks for {role} on {resource}` for {dur}` (request "
	 "{id})`: {reason}`` [{ticket}]`. The previous stage approved it; it waits for yours."},
	{"request.reminded", "Reminder: request {id} by {subject} for {role} on {resource} "
	 "still waits for a decision ({approvals} of {approvals_required} approvals)."},
	{"request.escalated", "Escalated to you: request {id} by {subject} for {role} on "
	 "{resource} has had no decision in time. You may approve or deny it."},
	{"request.activated", "Your request {id} for {role} on {resource} was approved by "
	 "{actor}: active until {expires_at}."},
	{"request.denied", "Your request {id} for {role} on {resource} was denied by "
	 "{actor}`: {comment}`."},
	{"request.expiring", "Your access to {role} on {resource} (request {id}) ends at "
	 "{expires_at}. Ask for an extension now if you need more time."},
	{"request.expired", "Your access to {role} on {resource} (request {id}) has expired."},
	{"request.revoked", "Your access to {role} on {resource} (request {id}) was revoked "
	 "by {actor}`: {reason}`."},
	{"request.timed_out", "Your request {id} for {role} on {resource} timed out: nobody "
	 "decided in time."},
	{"request.break_glass", "`{alarm}`BREAK-GLASS: {subject} took {role} on {resource}` "
	 "for {dur}` (request {id}) without approval`: {reason}`. It needs a review after "
	 "the fact."},
};

struct words_ctx {
	const json_t *event, *detail;
	bool slack;
	char num[3][32]; /* id, dur, a number of the detail */
};

/* The value of {name} (name[0..len)), NULL when the event has none. */
static const char *value_of(struct words_ctx *w, const char *name, size_t len)
{
	char key[32];
	const json_t *v;

	if (len == 0 || len >= sizeof(key))
		return NULL;
	memcpy(key, name, len);
	key[len] = '\0';
	if (strcmp(key, "id") == 0) {
		snprintf(w->num[0], sizeof(w->num[0]), "%lld", (long long)json_integer_value(
				 json_object_get(w->event, "request_id")));
		return w->num[0];
	}
	if (strcmp(key, "dur") == 0) {
		v = json_object_get(w->detail, "duration_s");
		if (!json_is_integer(v))
			return NULL;
		duration_format(json_integer_value(v), w->num[1], sizeof(w->num[1]));
		return w->num[1];
	}
	if (strcmp(key, "alarm") == 0)
		return w->slack ? ":rotating_light: " : NULL;
	v = json_object_get(w->event, key);
	if (v == NULL)
		v = json_object_get(w->detail, key);
	if (json_is_integer(v)) {
		snprintf(w->num[2], sizeof(w->num[2]), "%lld", (long long)json_integer_value(v));
		return w->num[2];
	}
	return json_string_value(v);
}

/* Writes words[0..len) (no groups inside) to f, or with f NULL only says
 * whether every value is there. */
static bool render(struct words_ctx *w, const char *words, size_t len, FILE *f)
{
	bool all = true;

	for (size_t i = 0; i < len; i++) {
		const char *close;
		const char *val;

		if (words[i] != '{' || (close = memchr(words + i, '}', len - i)) == NULL) {
			if (f)
				fputc(words[i], f);
			continue;
		}
		val = value_of(w, words + i + 1, (size_t)(close - words) - i - 1);
		all = all && val != NULL;
		if (f)
			put(f, val, w->slack);
		i = (size_t)(close - words);
	}
	return all;
}

char *notify_people_text(const json_t *event, const char *audience,
			 const char *web_url, bool slack)
{
	const char *action = str_at(event, "action"), *words = NULL;
	struct words_ctx w = {.event = event, .detail = json_object_get(event, "detail"),
			      .slack = slack};
	long long id = (long long)json_integer_value(json_object_get(event, "request_id"));
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)audience; /* the action says it all today; kept for the wording */
	if (action == NULL || (f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(WORDS) / sizeof(WORDS[0]); i++)
		if (strcmp(WORDS[i].action, action) == 0)
			words = WORDS[i].words;
	if (words == NULL) {
		put(f, action, slack);
		fprintf(f, " (request %lld)", id);
	}
	while (words != NULL && *words) {
		const char *tick = strchr(words, '`'), *end;

		if (tick == NULL) {
			render(&w, words, strlen(words), f);
			break;
		}
		render(&w, words, (size_t)(tick - words), f);
		end = strchr(tick + 1, '`');
		if (end == NULL)
			break; /* an unclosed group: a bug of WORDS, cut there */
		if (render(&w, tick + 1, (size_t)(end - tick - 1), NULL))
			render(&w, tick + 1, (size_t)(end - tick - 1), f);
		words = end + 1;
	}
	if (web_url != NULL && id > 0) {
		if (slack)
			fputs(" <", f), put(f, web_url, true),
				fprintf(f, "/ui/requests/%lld|Open in jitgate>", id);
		else
			fprintf(f, " %s/ui/requests/%lld", web_url, id);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- delivery (notifier thread) ---- */

struct cache_entry {
	char email[EMAIL_MAX + 1];
	char user[40];  /* "" when Slack said users_not_found */
	int64_t until_ms;
};

struct people_sender {
	struct cache_entry cache[CACHE_MAX];
	size_t n, next; /* filled, and the slot to replace next when full */
};

int people_sender_new(struct people_sender **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? JG_OK : JG_ERR_NOMEM;
}

void people_sender_free(struct people_sender *ps)
{
	free(ps);
}

bool notify_people_row(const json_t *target)
{
	const char *kind = json_string_value(json_object_get(target, "kind"));

	return kind != NULL && strcmp(kind, "person") == 0;
}

/* Slack's answer to a call (slackpost_request): JG_OK; JG_ERR_NOTFOUND
 * for an error code that says this person cannot be reached; else the
 * call's own error (retried). */
static int classify(int rc, const char *code)
{
	static const char *const gone[] = {"users_not_found", "user_not_found",
					   "channel_not_found", "user_disabled",
					   "cannot_dm_bot", "user_is_restricted", NULL};

	for (int i = 0; rc == JG_ERR_UNAVAILABLE && gone[i]; i++)
		if (strcmp(code, gone[i]) == 0)
			return JG_ERR_NOTFOUND;
	return rc;
}

static struct cache_entry *cache_find(struct people_sender *ps, const char *email,
				      int64_t now)
{
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->cache[i].email, email) == 0)
			return ps->cache[i].until_ms > now ? &ps->cache[i] : NULL;
	return NULL;
}

static void cache_put(struct people_sender *ps, const char *email, const char *user,
		      int64_t now)
{
	struct cache_entry *c = NULL;

	for (size_t i = 0; i < ps->n && c == NULL; i++)
		if (strcmp(ps->cache[i].email, email) == 0)
			c = &ps->cache[i];
	if (c == NULL && ps->n < CACHE_MAX)
		c = &ps->cache[ps->n++];
	if (c == NULL) {
		c = &ps->cache[ps->next];
		ps->next = (ps->next + 1) % CACHE_MAX;
	}
	snprintf(c->email, sizeof(c->email), "%s", email);
	snprintf(c->user, sizeof(c->user), "%s", user);
	c->until_ms = now + (user[0] ? CACHE_FOUND_MS : CACHE_MISSING_MS);
}

/* The Slack user id of email, from the cache or users.lookupByEmail. */
static int lookup_email(struct people_sender *ps, const json_t *target,
			const char *email, char *user, size_t ulen, int64_t *retry_after_ms,
			char *err, size_t errlen)
{
	const char *api = json_string_value(json_object_get(target, "api_url"));
	const char *tok = json_string_value(json_object_get(target, "token_env"));
	int64_t now = time_now_ms();
	struct cache_entry *c = cache_find(ps, email, now);
	struct slackpost_answer a = {.json = NULL};
	char *esc = NULL, *body = NULL;
	const char *id;
	int rc;

	if (c != NULL) {
		if (c->user[0] == '\0') {
			snprintf(err, errlen, "no Slack user has the email of this subject "
				 "(cached users_not_found)");
			return JG_ERR_NOTFOUND;
		}
		snprintf(user, ulen, "%s", c->user);
		return JG_OK;
	}
	if (api == NULL || tok == NULL) {
		snprintf(err, errlen, "malformed outbox row");
		return JG_ERR_NOTFOUND;
	}
	/* a read method: form-encoded, as Slack takes it */
	esc = curl_easy_escape(NULL, email, 0);
	if (esc == NULL || asprintf(&body, "email=%s", esc) < 0) {
		curl_free(esc);
		snprintf(err, errlen, "out of memory");
		return JG_ERR_NOMEM;
	}
	curl_free(esc);
	rc = classify(slackpost_request(api, "users.lookupByEmail", tok,
					"application/x-www-form-urlencoded", body, &a, err,
					errlen), a.code);
	free(body);
	*retry_after_ms = a.retry_after_ms;
	id = json_string_value(json_object_get(json_object_get(a.json, "user"), "id"));
	if (rc == JG_OK && (id == NULL || strlen(id) >= ulen ||
			    strlen(id) >= sizeof(c->user))) {
		snprintf(err, errlen, "users.lookupByEmail answered no user id");
		rc = JG_ERR_IO;
	}
	if (rc == JG_OK) {
		snprintf(user, ulen, "%s", id);
		cache_put(ps, email, id, now);
	} else if (rc == JG_ERR_NOTFOUND) {
		cache_put(ps, email, "", now);
	}
	json_decref(a.json);
	return rc;
}

static json_t *buttons_block(long long id)
{
	char v[24];

	snprintf(v, sizeof(v), "%lld", id);
	return json_pack("{s:s, s:[{s:s, s:s, s:s, s:s, s:{s:s, s:s}}, "
			 "{s:s, s:s, s:s, s:s, s:{s:s, s:s}}]}",
			 "type", "actions", "elements",
			 "type", "button", "action_id", "jitgate_approve", "value", v,
			 "style", "primary", "text", "type", "plain_text", "text", "Approve",
			 "type", "button", "action_id", "jitgate_deny", "value", v,
			 "style", "danger", "text", "type", "plain_text", "text", "Deny");
}

/* msg (stolen) as compact JSON, or NULL with err set. */
static char *dump(json_t *msg, char *err, size_t errlen)
{
	char *body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;

	json_decref(msg);
	if (body == NULL)
		snprintf(err, errlen, "out of memory");
	return body;
}

static int deliver_slack(struct people_sender *ps, const json_t *target,
			 const json_t *event, int64_t *retry_after_ms, char *err,
			 size_t errlen)
{
	const char *to = json_string_value(json_object_get(target, "to"));
	const char *user = json_string_value(json_object_get(target, "user"));
	const char *email = json_string_value(json_object_get(target, "email"));
	const char *api = json_string_value(json_object_get(target, "api_url"));
	const char *tok = json_string_value(json_object_get(target, "token_env"));
	const char *aud = json_string_value(json_object_get(target, "audience"));
	const char *web = json_string_value(json_object_get(target, "web_url"));
	long long id = (long long)json_integer_value(json_object_get(event, "request_id"));
	struct slackpost_answer a = {.json = NULL};
	char found[40], *text = NULL, *body = NULL;
	json_t *msg = NULL, *blocks;
	int rc;

	if (to == NULL || api == NULL || tok == NULL) {
		snprintf(err, errlen, "malformed outbox row");
		return JG_ERR_NOTFOUND;
	}
	if (user == NULL && email == NULL) {
		snprintf(err, errlen, "no Slack user for this subject (not in slack.users, "
			 "no email to look up: set notify_people.email_domain)");
		return JG_ERR_NOTFOUND;
	}
	if (user == NULL) {
		rc = lookup_email(ps, target, email, found, sizeof(found), retry_after_ms,
				  err, errlen);
		if (rc != JG_OK)
			return rc;
		user = found;
	}
	text = notify_people_text(event, aud ? aud : "", web, true);
	if (text == NULL) {
		snprintf(err, errlen, "out of memory");
		return JG_ERR_NOMEM;
	}
	blocks = json_pack("[{s:s, s:{s:s, s:s}}]", "type", "section", "text", "type",
			   "mrkdwn", "text", text);
	if (blocks != NULL && json_is_true(json_object_get(target, "buttons")) && id > 0)
		json_array_append_new(blocks, buttons_block(id));
	msg = json_pack("{s:s, s:s, s:o*}", "channel", user, "text", text, "blocks", blocks);
	free(text);
	if ((body = dump(msg, err, errlen)) == NULL)
		return JG_ERR_NOMEM;
	rc = classify(slackpost_request(api, "chat.postMessage", tok,
					"application/json; charset=utf-8", body, &a, err, errlen),
		      a.code);
	free(body);
	json_decref(a.json);
	*retry_after_ms = a.retry_after_ms;
	return rc;
}

static int deliver_webhook(const json_t *target, const json_t *event, char *err,
			   size_t errlen)
{
	const char *url = json_string_value(json_object_get(target, "url"));
	const char *secret_env = json_string_value(json_object_get(target, "secret_env"));
	const char *aud = json_string_value(json_object_get(target, "audience"));
	const char *web = json_string_value(json_object_get(target, "web_url"));
	char *text, *body;
	json_t *msg;
	int rc;

	if (url == NULL || aud == NULL) {
		snprintf(err, errlen, "malformed outbox row");
		return JG_ERR_NOTFOUND;
	}
	text = notify_people_text(event, aud, web, false);
	msg = json_pack("{s:s, s:O, s:s, s:s?, s:O}", "type", "jitgate.notice", "to",
			json_object_get(target, "to"), "audience", aud, "text", text,
			"event", event);
	free(text);
	if ((body = dump(msg, err, errlen)) == NULL)
		return JG_ERR_NOMEM;
	rc = notify_webhook_post(url, body, secret_env, err, errlen);
	free(body);
	return rc;
}

int people_deliver(struct people_sender *ps, const json_t *target,
		   const json_t *event, int64_t *retry_after_ms, char *err, size_t errlen)
{
	const char *via = json_string_value(json_object_get(target, "via"));

	*retry_after_ms = 0;
	if (via != NULL && strcmp(via, "slack") == 0)
		return deliver_slack(ps, target, event, retry_after_ms, err, errlen);
	if (via != NULL && strcmp(via, "webhook") == 0)
		return deliver_webhook(target, event, err, errlen);
	snprintf(err, errlen, "malformed outbox row");
	return JG_ERR_NOTFOUND;
}
