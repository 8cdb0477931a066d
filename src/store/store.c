/* The store's public functions: choose a backend by URL scheme, then
 * dispatch every call through its operations table. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

struct scheme {
	const char *prefix;
	const struct store_ops *ops;
};

static const struct scheme schemes[] = {
	{"sqlite:", &store_sqlite_ops},
	{"postgresql://", &store_pg_ops},
	{"postgres://", &store_pg_ops},
};

static const struct store_ops *ops_for(const char *url)
{
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(url, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
			return schemes[i].ops;
	return NULL;
}

bool store_url_supported(const char *url)
{
	return url != NULL && ops_for(url) != NULL;
}

/* Appends n bytes of src to buf at *at, keeping room for the NUL. */
static void put(char *buf, size_t len, size_t *at, const char *src, size_t n)
{
	if (*at + 1 >= len)
		return;
	if (n > len - 1 - *at)
		n = len - 1 - *at;
	memcpy(buf + *at, src, n);
	*at += n;
	buf[*at] = '\0';
}

/* A query parameter whose value is a secret: password, sslpassword. */
static bool secret_param(const char *name, size_t n)
{
	return n >= 8 && strncmp(name + n - 8, "password", 8) == 0;
}

void store_url_redact(const char *url, char *buf, size_t len)
{
	const char *p = url, *sep = strstr(url, "://");
	size_t at = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (url == NULL)
		return;
	if (sep != NULL) {
		const char *auth = sep + 3;
		size_t alen = strcspn(auth, "/?#");
		const char *atsign = NULL, *colon;

		for (size_t i = 0; i < alen; i++)
			if (auth[i] == '@')
				atsign = auth + i;
		colon = atsign ? memchr(auth, ':', (size_t)(atsign - auth)) : NULL;
		if (colon) {
			put(buf, len, &at, url, (size_t)(colon + 1 - url));
			put(buf, len, &at, "***", 3);
			p = atsign;
		}
	}
	/* the rest, masking secret query parameters */
	while (*p) {
		size_t n = strcspn(p, "?&");

		put(buf, len, &at, p, n);
		p += n;
		if (*p == '\0')
			break;
		put(buf, len, &at, p, 1); /* '?' or '&' */
		p++;
		n = strcspn(p, "=&");
		if (p[n] == '=' && secret_param(p, n)) {
			put(buf, len, &at, p, n + 1);
			put(buf, len, &at, "***", 3);
			p += n + 1;
			p += strcspn(p, "&");
		}
	}
}

int store_open(const char *url, const struct store_options *opts,
	       struct store **out, char *err, size_t errlen)
{
	const struct store_ops *ops = url ? ops_for(url) : NULL;
	char shown[256];
	int rc;

	*out = NULL;
	if (ops == NULL) {
		store_url_redact(url ? url : "", shown, sizeof(shown));
		snprintf(err, errlen,
			 "storage %s: unknown scheme (sqlite:PATH or postgresql://...)",
			 shown);
		return JG_ERR_INVALID;
	}
	rc = ops->open(url, opts, out, err, errlen);
	if (rc == JG_OK)
		(*out)->ops = ops;
	return rc;
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

const char *store_backend(const struct store *s)
{
	return s->ops->name;
}

int store_begin(struct store *s)
{
	return s->ops->begin(s);
}

int store_commit(struct store *s)
{
	return s->ops->commit(s);
}

void store_rollback(struct store *s)
{
	s->ops->rollback(s);
}

int store_tx_request_insert(struct store *s, struct request *r)
{
	return s->ops->tx_request_insert(s, r);
}

int store_tx_request_update(struct store *s, const struct request *r)
{
	return s->ops->tx_request_update(s, r);
}

int store_tx_request_get(struct store *s, int64_t id, struct request *out)
{
	return s->ops->tx_request_get(s, id, out);
}

int store_tx_audit_append(struct store *s, const struct audit_row *row)
{
	return s->ops->tx_audit_append(s, row);
}

int store_tx_outbox_add(struct store *s, int64_t seq, const char *target,
			const char *payload)
{
	return s->ops->tx_outbox_add(s, seq, target, payload);
}

int store_tx_kv_put(struct store *s, const char *key, const char *value)
{
	return s->ops->tx_kv_put(s, key, value);
}

int store_tx_audit_head(struct store *s, int64_t *seq, char hash[65])
{
	return s->ops->tx_audit_head(s, seq, hash);
}

int store_tx_prefetch(struct store *s, const int64_t *ids, size_t n, size_t ncreates)
{
	return s->ops->tx_prefetch ? s->ops->tx_prefetch(s, ids, n, ncreates) : JG_OK;
}

int store_tx_requests_live(struct store *s, store_request_cb cb, void *ctx)
{
	return s->ops->tx_requests_live(s, cb, ctx);
}

int store_tx_changed_requests(struct store *s, int64_t after_seq, int64_t *upto_seq,
			      store_request_cb cb, void *ctx)
{
	return s->ops->tx_changed_requests(s, after_seq, upto_seq, cb, ctx);
}

int store_request_get(struct store *s, int64_t id, struct request *out)
{
	return s->ops->request_get(s, id, out);
}

int store_requests_scan(struct store *s, const struct request_filter *f,
			store_request_cb cb, void *ctx)
{
	return s->ops->requests_scan(s, f, cb, ctx);
}

int store_audit_scan(struct store *s, const struct audit_filter *f,
		     store_audit_cb cb, void *ctx)
{
	return s->ops->audit_scan(s, f, cb, ctx);
}

int store_kv_get(struct store *s, const char *key, char **value)
{
	return s->ops->kv_get(s, key, value);
}

int store_outbox_due(struct store *s, int64_t now_ms, int limit,
		     store_outbox_cb cb, void *ctx)
{
	return s->ops->outbox_due(s, now_ms, limit, cb, ctx);
}

int store_outbox_done(struct store *s, int64_t id)
{
	return s->ops->outbox_done(s, id);
}

int store_outbox_retry(struct store *s, int64_t id, int64_t next_at_ms,
		       const char *last_error)
{
	return s->ops->outbox_retry(s, id, next_at_ms, last_error);
}

int store_outbox_wait(struct store *s, int64_t id, int64_t next_at_ms, const char *why)
{
	return s->ops->outbox_wait(s, id, next_at_ms, why);
}

int store_slackmsg_get(struct store *s, int64_t request_id, const char *channel,
		       struct store_slackmsg *out)
{
	memset(out, 0, sizeof(*out));
	return s->ops->slackmsg_get(s, request_id, channel, out);
}

int store_slackmsg_claim(struct store *s, int64_t request_id, const char *channel,
			 int64_t post_row)
{
	return s->ops->slackmsg_claim(s, request_id, channel, post_row);
}

int store_slackmsg_posted(struct store *s, int64_t request_id, const char *channel,
			  int64_t post_row, const char *channel_id, const char *ts)
{
	return s->ops->slackmsg_posted(s, request_id, channel, post_row, channel_id, ts);
}

int store_slackmsg_scan(struct store *s, store_slackmsg_cb cb, void *ctx)
{
	return s->ops->slackmsg_scan(s, cb, ctx);
}

int store_tx_slackmsg_put(struct store *s, int64_t request_id, const char *channel,
			  const char *channel_id, const char *ts)
{
	return s->ops->tx_slackmsg_put(s, request_id, channel, channel_id, ts);
}

int store_count_by_state(struct store *s, int64_t *counts, size_t n)
{
	return s->ops->count_by_state(s, counts, n);
}

bool store_ping(struct store *s)
{
	return s->ops->ping(s);
}

bool store_shared(const struct store *s)
{
	return s->ops->watch_start != NULL;
}

int store_watch_start(struct store *s, const char *node_id, int64_t stale_after_ms,
		      const struct store_watch_hooks *hooks)
{
	return s->ops->watch_start ? s->ops->watch_start(s, node_id, stale_after_ms, hooks)
				   : JG_OK;
}

void store_watch_stop(struct store *s)
{
	if (s->ops->watch_stop)
		s->ops->watch_stop(s);
}

char *store_approvals_json(const struct request *r)
{
	json_t *a = json_array();
	char *out;

	for (size_t i = 0; a && i < r->napprovals; i++)
		json_array_append_new(a, json_pack("{s:s, s:I, s:s?}", "by",
						   r->approvals[i].by, "at",
						   (json_int_t)r->approvals[i].at_ms,
						   "comment", r->approvals[i].comment));
	out = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return out;
}

int store_approvals_parse(const char *text, struct request *r)
{
	json_t *a = json_loads(text ? text : "[]", JSON_REJECT_DUPLICATES, NULL);
	size_t i;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) > REQ_MAX_APPROVALS) {
		json_decref(a);
		return JG_ERR_STORE;
	}
	json_array_foreach(a, i, v) {
		const char *by = json_string_value(json_object_get(v, "by"));
		const char *c = json_string_value(json_object_get(v, "comment"));

		r->approvals[i].by = strdup(by ? by : "");
		r->approvals[i].comment = c ? strdup(c) : NULL;
		r->approvals[i].at_ms = json_integer_value(json_object_get(v, "at"));
		r->napprovals++;
	}
	json_decref(a);
	return JG_OK;
}

static char *cell_dup(const char *t, bool *ok)
{
	char *d;

	if (t == NULL)
		return NULL;
	d = strdup(t);
	if (d == NULL)
		*ok = false;
	return d;
}

static int64_t cell_int(const char *t)
{
	return t ? strtoll(t, NULL, 10) : 0;
}

/* Booleans: SQLite stores 0/1, PostgreSQL answers t/f. */
static bool cell_bool(const char *t)
{
	return t && (strcmp(t, "t") == 0 || strcmp(t, "1") == 0);
}

int store_request_from_cells(const char *const c[STORE_REQ_NCOLS], struct request *r)
{
	bool ok = true;

	memset(r, 0, sizeof(*r));
	r->id = cell_int(c[0]);
	if (c[1] == NULL || !req_state_parse(c[1], &r->state))
		return JG_ERR_STORE;
	r->requester = cell_dup(c[2], &ok);
	r->resource = cell_dup(c[3], &ok);
	r->role = cell_dup(c[4], &ok);
	r->duration_s = cell_int(c[5]);
	r->reason = cell_dup(c[6], &ok);
	r->ticket = cell_dup(c[7], &ok);
	r->policy = cell_dup(c[8], &ok);
	r->approvals_required = (int)cell_int(c[9]);
	r->created_at = cell_int(c[11]);
	r->pending_until = cell_int(c[12]);
	r->activated_at = cell_int(c[13]);
	r->expires_at = cell_int(c[14]);
	r->ended_at = cell_int(c[15]);
	r->ended_by = cell_dup(c[16], &ok);
	r->break_glass = cell_bool(c[17]);
	r->review_required = cell_bool(c[18]);
	r->reviewed_by = cell_dup(c[19], &ok);
	r->extends = cell_int(c[20]);
	r->end_comment = cell_dup(c[21], &ok);
	r->reminders = (int)cell_int(c[22]);
	r->escalated = cell_bool(c[23]);
	r->expiry_warned = cell_bool(c[24]);
	if (!ok || store_approvals_parse(c[10], r) != JG_OK || r->requester == NULL ||
	    r->resource == NULL || r->role == NULL || r->policy == NULL) {
		request_clear(r);
		return JG_ERR_STORE;
	}
	return JG_OK;
}

void store_pool_init(struct store_pool *p)
{
	memset(p->busy, 0, sizeof(p->busy));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
}

void store_pool_destroy(struct store_pool *p)
{
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
}

int store_pool_acquire(struct store_pool *p, int timeout_ms)
{
	struct timespec until;
	int slot = -1;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (slot < 0) {
		for (int i = 0; i < STORE_READERS && slot < 0; i++)
			if (!p->busy[i])
				slot = i;
		if (slot >= 0)
			break;
		if (timeout_ms <= 0)
			pthread_cond_wait(&p->cond, &p->lock);
		else if (pthread_cond_timedwait(&p->cond, &p->lock, &until) == ETIMEDOUT)
			break;
	}
	if (slot >= 0)
		p->busy[slot] = true;
	pthread_mutex_unlock(&p->lock);
	return slot;
}

void store_pool_release(struct store_pool *p, int slot)
{
	pthread_mutex_lock(&p->lock);
	p->busy[slot] = false;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}
