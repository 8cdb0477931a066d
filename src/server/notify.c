#include "server/notify.h"

#include <curl/curl.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/slackin.h"
#include "server/notify_people.h"
#include "server/slackblocks.h"
#include "server/slackpost.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"

#define POLL_MS 500
#define BACKOFF_MAX_S 3600
#define POST_TIMEOUT_MS 5000

/* Answers to Slack clicks (response_url), in memory: worth nothing after
 * the URL's 30 minutes, so not worth an outbox row either. */
#define RESPOND_MAX 64

struct respond {
	char url[SLACKIN_URL_MAX + 1];
	char text[NOTIFY_RESPOND_TEXT_MAX + 1];
};

struct notifier {
	struct store *st;
	struct metrics *m;
	struct people_sender *people; /* notifier thread only */
	struct respond *q; /* RESPOND_MAX, a ring guarded by lock */
	size_t qhead, qlen;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	/* Slack answered 429: no Slack call before this (notifier thread) */
	int64_t slack_until_ms;
	/* delivery health (notifier_health); guarded by lock */
	struct notifier_health health;
};

bool notifier_respond(struct notifier *n, const char *url, const char *text)
{
	struct respond *r;

	if (n == NULL || strlen(url) > SLACKIN_URL_MAX)
		return false;
	pthread_mutex_lock(&n->lock);
	if (n->qlen == RESPOND_MAX) {
		pthread_mutex_unlock(&n->lock);
		log_warn(NULL, "Slack click answer dropped: %d are waiting", RESPOND_MAX);
		return false;
	}
	r = &n->q[(n->qhead + n->qlen++) % RESPOND_MAX];
	snprintf(r->url, sizeof(r->url), "%s", url);
	snprintf(r->text, sizeof(r->text), "%s", text);
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	return true;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

/* POSTs one click answer (ephemeral: only the clicker sees it); one try. */
static void respond_one(const struct respond *r)
{
	char *text = slackblocks_escape(r->text, NOTIFY_RESPOND_TEXT_MAX * 5);
	json_t *msg = text ? json_pack("{s:s, s:b, s:s}", "response_type", "ephemeral",
				       "replace_original", 0, "text", text) : NULL;
	char *body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *curl = curl_easy_init();
	long status = 0;
	CURLcode cc = CURLE_OUT_OF_MEMORY;

	if (body != NULL && curl != NULL && hdrs != NULL) {
		notify_curl_post(curl, r->url, body, hdrs);
		curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
		cc = curl_easy_perform(curl);
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	}
	/* the URL is a capability: not logged */
	if (cc != CURLE_OK || status < 200 || status > 299)
		log_warn(NULL, "Slack click answer not delivered: %s",
			 cc != CURLE_OK ? curl_easy_strerror(cc) : "HTTP error");
	if (curl)
		curl_easy_cleanup(curl);
	curl_slist_free_all(hdrs);
	free(body);
	json_decref(msg);
	free(text);
}

/* Sends the queued click answers (called without the lock). */
static void respond_all(struct notifier *n)
{
	for (;;) {
		struct respond r;

		pthread_mutex_lock(&n->lock);
		if (n->qlen == 0) {
			pthread_mutex_unlock(&n->lock);
			return;
		}
		r = n->q[n->qhead];
		n->qhead = (n->qhead + 1) % RESPOND_MAX;
		n->qlen--;
		pthread_mutex_unlock(&n->lock);
		respond_one(&r);
	}
}

void notifier_health(struct notifier *n, struct notifier_health *out)
{
	pthread_mutex_lock(&n->lock);
	*out = n->health;
	pthread_mutex_unlock(&n->lock);
}

static void note_delivery(struct notifier *n, bool ok)
{
	int64_t now = time_now_ms();

	pthread_mutex_lock(&n->lock);
	if (ok) {
		n->health.failing = 0;
		n->health.last_ok_ms = now;
	} else {
		n->health.failing++;
		n->health.last_fail_ms = now;
	}
	pthread_mutex_unlock(&n->lock);
}

char *notify_slack_text(const json_t *event)
{
	const char *action = json_string_value(json_object_get(event, "action"));
	const char *actor = json_string_value(json_object_get(event, "actor"));
	const char *subject = json_string_value(json_object_get(event, "subject"));
	const char *resource = json_string_value(json_object_get(event, "resource"));
	const char *role = json_string_value(json_object_get(event, "role"));
	json_int_t id = json_integer_value(json_object_get(event, "request_id"));
	const char *reason = json_string_value(
		json_object_get(json_object_get(event, "detail"), "reason"));
	char *text = NULL;

	if (asprintf(&text, "%sjitgate: %s by %s%s%s%s%s%s%s (request %lld)%s%s",
		     action && strcmp(action, "request.break_glass") == 0 ? ":rotating_light: BREAK-GLASS " : "",
		     action ? action : "event", actor ? actor : "?",
		     subject ? " for " : "", subject ? subject : "",
		     resource ? " on " : "", resource ? resource : "", role ? " as " : "",
		     role ? role : "", (long long)id, reason ? ": " : "",
		     reason ? reason : "") < 0)
		return NULL;
	return text;
}

void notify_signature(const char *key, const char *body, char *out, size_t outlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];

	HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)body,
	     strlen(body), mac, &maclen);
	hex_encode(mac, maclen, hex);
	if (snprintf(out, outlen, "sha256=%s", hex) >= (int)outlen)
		out[0] = '\0'; /* a cut signature must not be sent as if whole */
}

void notify_curl_post(CURL *curl, const char *url, const char *body,
		      struct curl_slist *hdrs)
{
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)POST_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
}

int notify_curl_perform(CURL *curl, char *err, size_t errlen)
{
	CURLcode cc = curl_easy_perform(curl);
	long status = 0;

	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		return JG_ERR_IO;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		snprintf(err, errlen, "HTTP %ld", status);
		return JG_ERR_IO;
	}
	return JG_OK;
}

int notify_webhook_post(const char *url, const char *body, const char *secret_env,
			char *err, size_t errlen)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *curl = curl_easy_init();
	char sig[96], h[128];
	int rc = JG_ERR_IO;

	if (curl == NULL || hdrs == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = JG_ERR_NOMEM;
		goto out;
	}
	if (secret_env) {
		const char *key = getenv(secret_env);

		if (key == NULL || *key == '\0') {
			snprintf(err, errlen, "signing key variable %s is not set", secret_env);
			goto out;
		}
		notify_signature(key, body, sig, sizeof(sig));
		snprintf(h, sizeof(h), "X-Jitgate-Signature: %s", sig);
		hdrs = curl_slist_append(hdrs, h);
	}
	notify_curl_post(curl, url, body, hdrs);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	if (notify_curl_perform(curl, err, errlen) != JG_OK)
		goto out;
	rc = JG_OK;
out:
	curl_slist_free_all(hdrs);
	if (curl)
		curl_easy_cleanup(curl);
	return rc;
}

/* Posts one row; 0 on a 2xx answer.  err gets a reason without the URL
 * (Slack webhook URLs are secrets). */
static int deliver(const struct outbox_row *row, char *err, size_t errlen)
{
	json_t *target = json_loads(row->target, 0, NULL);
	json_t *event = json_loads(row->payload, 0, NULL);
	const char *kind = json_string_value(json_object_get(target, "kind"));
	const char *url = json_string_value(json_object_get(target, "url"));
	const char *secret_env = json_string_value(json_object_get(target, "secret_env"));
	char *body = NULL;
	int rc = JG_ERR_IO;

	if (target == NULL || event == NULL || kind == NULL || url == NULL) {
		snprintf(err, errlen, "malformed outbox row");
		goto out;
	}
	if (strcmp(kind, "slack") == 0) {
		char *text = notify_slack_text(event);
		json_t *msg = json_pack("{s:s}", "text", text ? text : "jitgate event");

		free(text);
		body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
		json_decref(msg);
	} else {
		body = strdup(row->payload);
	}
	if (body == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = notify_webhook_post(url, body, secret_env, err, errlen);
out:
	free(body);
	json_decref(target);
	json_decref(event);
	return rc;
}

/* A person row goes to notify_people, a Slack channel target's to
 * server/slackpost.c (chat.postMessage with the bot token, the message
 * then updated in place), the rest to deliver(). */
static int deliver_row(struct notifier *n, const struct outbox_row *row,
		       bool superseded, int64_t *wait_until_ms, char *err, size_t errlen)
{
	json_t *target = json_loads(row->target, 0, NULL), *event;
	bool person = notify_people_row(target);
	int rc;

	*wait_until_ms = 0;
	if (!person && !json_is_string(json_object_get(target, "channel"))) {
		json_decref(target);
		return deliver(row, err, errlen);
	}
	event = json_loads(row->payload, 0, NULL);
	if (person) {
		int64_t ra = 0;

		rc = event ? people_deliver(n->people, target, event, &ra, err, errlen)
			   : JG_ERR_NOTFOUND;
		if (rc == SLACKPOST_RATELIMITED)
			*wait_until_ms = time_now_ms() + ra;
	} else {
		rc = event ? slackpost_deliver(n->st, row->id, target, event, superseded,
					       time_now_ms(), wait_until_ms, err, errlen)
			   : JG_ERR_INVALID;
	}
	if (event == NULL)
		snprintf(err, errlen, "malformed outbox row");
	json_decref(event);
	json_decref(target);
	return rc;
}

/* Nobody to deliver to (no Slack user for the person, DMs refused): a
 * retry would not help, and must not hold the row forever.  Logged and
 * counted (jitgate_notify_undeliverable_total), then marked done. */
static void undeliverable(struct notifier *n, const struct outbox_row *row,
			  const char *err)
{
	json_t *t = json_loads(row->target, 0, NULL);
	const char *to = json_string_value(json_object_get(t, "to"));
	char shown[128];

	text_escape(shown, sizeof(shown), to ? to : "?", strlen(to ? to : "?"),
		    TEXT_ESC_CONTROL);
	log_warn(NULL, "notification %lld to %s undeliverable, dropped: %s",
		 (long long)row->id, shown, err);
	json_decref(t);
	pthread_mutex_lock(&n->lock);
	n->health.undeliverable++;
	pthread_mutex_unlock(&n->lock);
	if (n->m)
		atomic_fetch_add(&n->m->notify_undeliverable, 1);
	if (store_outbox_done(n->st, row->id) != JG_OK)
		log_warn(NULL, "outbox row %lld dropped but not marked", (long long)row->id);
}

struct due_row {
	int64_t id;
	int attempts;
	char *target, *payload;
	bool slack;  /* a Slack Web API row (channel message or DM) */
	char *msg;   /* a channel message's key (api_url, channel, request) */
};

struct due_list {
	struct due_row v[32];
	int n;
};

static int collect(void *ctx, const struct outbox_row *row)
{
	struct due_list *l = ctx;
	struct due_row *r = &l->v[l->n];

	r->id = row->id;
	r->attempts = row->attempts;
	r->target = strdup(row->target);
	r->payload = strdup(row->payload);
	r->slack = false;
	r->msg = NULL;
	{
		json_t *t = json_loads(row->target, 0, NULL);
		json_t *e = json_loads(row->payload, 0, NULL);
		const char *via = json_string_value(json_object_get(t, "via"));
		const char *ch = json_string_value(json_object_get(t, "channel"));
		const char *api = json_string_value(json_object_get(t, "api_url"));
		json_int_t rid = json_integer_value(json_object_get(e, "request_id"));

		if (notify_people_row(t))
			r->slack = via != NULL && strcmp(via, "slack") == 0;
		else if (ch != NULL)
			r->slack = true;
		if (!notify_people_row(t) && ch != NULL && api != NULL && rid > 0 &&
		    asprintf(&r->msg, "%s\n%s\n%lld", api, ch, (long long)rid) < 0)
			r->msg = NULL;
		json_decref(t);
		json_decref(e);
	}
	l->n++;
	return l->n >= 32 ? 1 : 0;
}

/* A later due row of the list updates the same channel message: row i's
 * update would show the same state, one call earlier. */
static bool superseded(const struct due_list *l, int i)
{
	for (int j = i + 1; l->v[i].msg != NULL && j < l->n; j++)
		if (l->v[j].msg != NULL && strcmp(l->v[i].msg, l->v[j].msg) == 0)
			return true;
	return false;
}

/* Slack answered 429: every Slack row waits until *until (Slack limits
 * per method and workspace; one wait for all keeps it simple and sure). */
static void slack_ratelimited(struct notifier *n, int64_t until, const char *err)
{
	if (n->m)
		atomic_fetch_add(&n->m->notify_slack_ratelimited, 1);
	if (until > n->slack_until_ms)
		n->slack_until_ms = until;
	log_warn(NULL, "%s; Slack rows wait", err);
}

static void *notifier_main(void *arg)
{
	struct notifier *n = arg;

	pthread_mutex_lock(&n->lock);
	while (!n->stop) {
		struct due_list l = {.n = 0};
		struct timespec ts;
		int64_t until;

		pthread_mutex_unlock(&n->lock);
		respond_all(n);
		/* rows are read on a reader connection and delivered without
		 * holding anything the engine needs */
		if (store_outbox_due(n->st, time_now_ms(), 32, collect, &l) < 0) {
			log_warn(NULL, "outbox not readable");
			pthread_mutex_lock(&n->lock);
			n->health.readable = false;
			pthread_mutex_unlock(&n->lock);
		} else {
			pthread_mutex_lock(&n->lock);
			n->health.readable = true;
			pthread_mutex_unlock(&n->lock);
		}
		for (int i = 0; i < l.n; i++) {
			struct outbox_row row = {.id = l.v[i].id, .target = l.v[i].target,
						 .payload = l.v[i].payload,
						 .attempts = l.v[i].attempts};
			char err[256] = "out of memory";
			int64_t wait_until = 0;
			int rc;
			bool ok;

			if (l.v[i].slack && time_now_ms() < n->slack_until_ms) {
				/* rate limited: not even tried, not an attempt */
				snprintf(err, sizeof(err), "Slack rate limit");
				wait_until = n->slack_until_ms;
				rc = SLACKPOST_WAIT;
			} else {
				rc = row.target && row.payload
				     ? deliver_row(n, &row, superseded(&l, i), &wait_until, err,
						   sizeof(err))
				     : JG_ERR_NOMEM;
			}
			ok = rc >= 0;
			if (rc == SLACKPOST_RATELIMITED) {
				slack_ratelimited(n, wait_until, err);
				rc = SLACKPOST_WAIT;
			}
			if (rc == JG_ERR_NOTFOUND) {
				undeliverable(n, &row, err);
			} else if (rc == SLACKPOST_WAIT) {
				if (store_outbox_wait(n->st, row.id, wait_until, err) != JG_OK)
					log_warn(NULL, "outbox row %lld not rescheduled",
						 (long long)row.id);
			} else if (rc == SLACKPOST_MARKED) {
				note_delivery(n, ok); /* marked done with what it stored */
			} else if (ok) {
				note_delivery(n, ok);
				if (store_outbox_done(n->st, row.id) != JG_OK)
					log_warn(NULL, "outbox row %lld delivered but not marked",
						 (long long)row.id);
			} else {
				int shift = row.attempts < 12 ? row.attempts : 12;

				note_delivery(n, ok);
				int64_t backoff = (int64_t)1 << shift;

				if (backoff > BACKOFF_MAX_S)
					backoff = BACKOFF_MAX_S;
				log_warn(NULL, "notification %lld failed (attempt %d): %s; retry in %llds",
					 (long long)row.id, row.attempts + 1, err, (long long)backoff);
				if (store_outbox_retry(n->st, row.id, time_now_ms() + backoff * 1000,
						       err) != JG_OK)
					log_warn(NULL, "outbox row %lld not rescheduled",
						 (long long)row.id);
			}
			free(l.v[i].target);
			free(l.v[i].payload);
			free(l.v[i].msg);
		}
		pthread_mutex_lock(&n->lock);
		if (l.n == 32)
			continue; /* more may be due */
		until = time_now_ms() + POLL_MS;
		ts.tv_sec = (time_t)(until / 1000);
		ts.tv_nsec = (long)(until % 1000) * 1000000L;
		if (!n->stop && n->qlen == 0)
			pthread_cond_timedwait(&n->cond, &n->lock, &ts);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int notifier_start(struct store *st, struct metrics *m, struct notifier **out)
{
	struct notifier *n = calloc(1, sizeof(*n));

	*out = NULL;
	if (n == NULL)
		return JG_ERR_NOMEM;
	if (people_sender_new(&n->people) != JG_OK) {
		free(n);
		return JG_ERR_NOMEM;
	}
	n->st = st;
	n->m = m;
	n->q = calloc(RESPOND_MAX, sizeof(*n->q));
	if (n->q == NULL) {
		people_sender_free(n->people);
		free(n);
		return JG_ERR_NOMEM;
	}
	n->health.readable = true;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	if (pthread_create(&n->thread, NULL, notifier_main, n) != 0) {
		people_sender_free(n->people);
		free(n->q);
		free(n);
		return JG_ERR_INTERNAL;
	}
	*out = n;
	return JG_OK;
}

void notifier_stop(struct notifier *n)
{
	if (n == NULL)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
	people_sender_free(n->people);
	free(n->q);
	free(n);
}
