#include "api/eventhub.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/render.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

#define HEARTBEAT ": keepalive\n\n"

/* One piece of stream text; seq 0 for text that is never skipped. */
struct qent {
	struct qent *next;
	int64_t seq;
	size_t len, off;
	bool counted; /* in the stream's bytes (the replay is not) */
	char text[];
};

struct eventhub_sub {
	struct eventhub *h;
	pthread_mutex_t mu;
	atomic_int refs;
	struct authn who;
	struct qent *head, *tail;
	size_t bytes;       /* live text queued (the replay is not counted) */
	int64_t after_seq;  /* live changes up to this are not sent */
	bool armed;         /* the reader suspended: wake it */
	bool dropped;       /* did not keep up, or closed by shutdown */
	bool closed;        /* the connection is gone: never wake */
	bool bound;         /* to a browser session: */
	uint8_t session[32];
	int64_t until_ms;
	void (*wake)(void *arg);
	void *arg;
	struct eventhub_sub *prev, *next; /* h->subs (h->mu) */
};

struct change {
	struct change *next;
	int64_t seq;
	struct request r;
};

struct eventhub {
	struct cfgholder *cfg;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stop;
	struct change *in_head, *in_tail;
	size_t in_n;
	struct eventhub_sub *subs;
	size_t nsubs, max;
	atomic_uint_fast64_t dropped;
};

static void *hub_main(void *arg);

int eventhub_new(struct cfgholder *cfg, size_t max_streams, struct eventhub **out)
{
	struct eventhub *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;

	*out = NULL;
	if (h == NULL)
		return JG_ERR_NOMEM;
	h->cfg = cfg;
	h->max = max_streams;
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&h->thread, NULL, hub_main, h) != 0) {
		eventhub_free(h);
		return JG_ERR_INTERNAL;
	}
	h->started = true;
	*out = h;
	return JG_OK;
}

static void change_free(struct change *c)
{
	request_clear(&c->r);
	free(c);
}

void eventhub_free(struct eventhub *h)
{
	if (h == NULL)
		return;
	if (h->started) {
		pthread_mutex_lock(&h->mu);
		h->stop = true;
		pthread_cond_signal(&h->cond);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->thread, NULL);
	}
	for (struct change *c = h->in_head, *n; c; c = n) {
		n = c->next;
		change_free(c);
	}
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cond);
	free(h);
}

void eventhub_publish(void *hub, const struct request *r, int64_t seq)
{
	struct eventhub *h = hub;
	struct change *c = calloc(1, sizeof(*c));

	if (c == NULL || request_copy(&c->r, r) != JG_OK) {
		free(c);
		log_warn(NULL, "event stream: out of memory; request %lld not announced",
			 (long long)r->id);
		return;
	}
	c->seq = seq;
	pthread_mutex_lock(&h->mu);
	/* nobody listens, or the hub is hopelessly behind: skip (streams
	 * that missed a change catch up by reconnecting with Last-Event-ID) */
	if (h->nsubs == 0 || h->in_n >= EVENTHUB_INBOX_MAX) {
		if (h->nsubs != 0)
			log_warn(NULL, "event stream: inbox full; request %lld not announced",
				 (long long)r->id);
		pthread_mutex_unlock(&h->mu);
		change_free(c);
		return;
	}
	if (h->in_tail)
		h->in_tail->next = c;
	else
		h->in_head = c;
	h->in_tail = c;
	h->in_n++;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->mu);
}

/* ---- streams ---- */

static void sub_unref(struct eventhub_sub *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (struct qent *q = s->head, *n; q; q = n) {
		n = q->next;
		free(q);
	}
	authn_clear(&s->who);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static struct qent *qent_new(int64_t seq, const char *text, size_t len)
{
	struct qent *q = malloc(sizeof(*q) + len);

	if (q == NULL)
		return NULL;
	q->next = NULL;
	q->seq = seq;
	q->len = len;
	q->off = 0;
	q->counted = false;
	memcpy(q->text, text, len);
	return q;
}

static void queue_clear(struct eventhub_sub *s)
{
	for (struct qent *q = s->head, *n; q; q = n) {
		n = q->next;
		free(q);
	}
	s->head = s->tail = NULL;
	s->bytes = 0;
}

/* Marks s dropped (s->mu held); true when its reader must be woken. */
static bool drop_locked(struct eventhub_sub *s)
{
	s->dropped = true;
	queue_clear(s);
	return s->armed;
}

/* Queues text for s (s->mu held); true when the reader must be woken. */
static bool sub_push(struct eventhub_sub *s, int64_t seq, const char *text, size_t len)
{
	struct qent *q;

	if (s->dropped || s->closed || (seq > 0 && seq <= s->after_seq))
		return false;
	if (seq == 0 && s->head != NULL)
		return false; /* a heartbeat only where nothing else is going out */
	if (s->bytes + len > EVENTHUB_QUEUE_MAX || (q = qent_new(seq, text, len)) == NULL) {
		/* a client that does not keep up is cut off: its reader ends
		 * the stream at once */
		atomic_fetch_add(&s->h->dropped, 1);
		log_info(NULL, "event stream of %s dropped: its client does not keep up",
			 s->who.name);
		return drop_locked(s);
	}
	q->counted = true;
	if (s->tail)
		s->tail->next = q;
	else
		s->head = q;
	s->tail = q;
	s->bytes += len;
	return s->armed;
}

/* Wakes the readers of subs[0..n) (references held, dropped here). */
static void wake_all(struct eventhub_sub **subs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct eventhub_sub *s = subs[i];

		pthread_mutex_lock(&s->mu);
		if (s->armed && !s->closed) {
			s->armed = false;
			s->wake(s->arg);
		}
		pthread_mutex_unlock(&s->mu);
		sub_unref(s);
	}
}

/* Offers text to every stream for which want() holds; wakes readers with
 * h->mu released (the wake reaches into MHD). */
static void fan_out(struct eventhub *h, int64_t seq, const char *text, size_t len,
		    bool (*want)(struct eventhub_sub *s, void *ctx), void *ctx)
{
	struct eventhub_sub **wake = NULL;
	size_t n = 0;

	pthread_mutex_lock(&h->mu);
	if (h->nsubs > 0)
		wake = calloc(h->nsubs, sizeof(*wake));
	for (struct eventhub_sub *s = h->subs; s; s = s->next) {
		bool w;

		if (!want(s, ctx))
			continue;
		pthread_mutex_lock(&s->mu);
		w = sub_push(s, seq, text, len);
		pthread_mutex_unlock(&s->mu);
		if (w && wake) {
			atomic_fetch_add(&s->refs, 1);
			wake[n++] = s;
		}
	}
	pthread_mutex_unlock(&h->mu);
	wake_all(wake, n);
	free(wake);
}

struct view_ctx {
	const struct config *cfg;
	const struct request *r;
};

static bool may_view(struct eventhub_sub *s, void *ctx)
{
	struct view_ctx *v = ctx;

	return core_may_view(v->cfg, v->r, &s->who.subject);
}

static bool any(struct eventhub_sub *s, void *ctx)
{
	(void)s;
	(void)ctx;
	return true;
}

/* Ends the streams for which pred holds; wakes their readers. */
static void drop_where(struct eventhub *h, bool (*pred)(struct eventhub_sub *s, void *ctx),
		       void *ctx)
{
	struct eventhub_sub **subs;
	size_t n = 0;

	pthread_mutex_lock(&h->mu);
	subs = calloc(h->nsubs ? h->nsubs : 1, sizeof(*subs));
	for (struct eventhub_sub *s = h->subs; s && subs; s = s->next) {
		bool w;

		pthread_mutex_lock(&s->mu);
		w = pred(s, ctx) && drop_locked(s);
		pthread_mutex_unlock(&s->mu);
		if (w) {
			atomic_fetch_add(&s->refs, 1);
			subs[n++] = s;
		}
	}
	pthread_mutex_unlock(&h->mu);
	wake_all(subs, n);
	free(subs);
}

static bool session_is(struct eventhub_sub *s, void *ctx)
{
	return s->bound && crypto_ct_equal(s->session, ctx, sizeof(s->session));
}

static bool session_over(struct eventhub_sub *s, void *ctx)
{
	return s->bound && s->until_ms <= *(const int64_t *)ctx;
}

void eventhub_bind_session(struct eventhub_sub *s, const uint8_t key[32], int64_t until_ms)
{
	pthread_mutex_lock(&s->mu);
	s->bound = true;
	memcpy(s->session, key, sizeof(s->session));
	s->until_ms = until_ms;
	pthread_mutex_unlock(&s->mu);
}

void eventhub_end_session(struct eventhub *h, const uint8_t key[32])
{
	drop_where(h, session_is, (void *)key);
}

static void deliver(struct eventhub *h, const struct change *c)
{
	json_t *o = render_request(&c->r);
	char *data = o ? json_dumps(o, JSON_COMPACT) : NULL;
	char *text = NULL;
	int len;
	struct cfgref *ref;
	struct view_ctx v = {.r = &c->r};

	json_decref(o);
	if (data == NULL)
		return;
	len = asprintf(&text, "event: request\nid: %lld\ndata: %s\n\n", (long long)c->seq, data);
	free(data);
	if (len < 0)
		return;
	ref = cfgholder_get(h->cfg);
	v.cfg = cfgref_config(ref);
	fan_out(h, c->seq, text, (size_t)len, may_view, &v);
	cfgref_put(ref);
	free(text);
}

static void *hub_main(void *arg)
{
	struct eventhub *h = arg;
	int64_t next_hb = time_mono_ns() + EVENTHUB_HEARTBEAT_S * 1000000000LL;

	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		struct change *batch;

		if (h->in_head == NULL) {
			struct timespec ts = {.tv_sec = (time_t)(next_hb / 1000000000LL),
					      .tv_nsec = (long)(next_hb % 1000000000LL)};

			if (pthread_cond_timedwait(&h->cond, &h->mu, &ts) == ETIMEDOUT ||
			    time_mono_ns() >= next_hb) {
				int64_t now = time_now_ms();

				pthread_mutex_unlock(&h->mu);
				drop_where(h, session_over, &now);
				fan_out(h, 0, HEARTBEAT, sizeof(HEARTBEAT) - 1, any, NULL);
				next_hb = time_mono_ns() + EVENTHUB_HEARTBEAT_S * 1000000000LL;
				pthread_mutex_lock(&h->mu);
			}
			continue;
		}
		batch = h->in_head;
		h->in_head = h->in_tail = NULL;
		h->in_n = 0;
		pthread_mutex_unlock(&h->mu);
		for (struct change *c = batch, *n; c; c = n) {
			n = c->next;
			deliver(h, c);
			change_free(c);
		}
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

int eventhub_subscribe(struct eventhub *h, const struct authn *who, int64_t after_seq,
		       void (*wake)(void *arg), void *arg, struct eventhub_sub **out)
{
	struct eventhub_sub *s = calloc(1, sizeof(*s)), *oldest = NULL;
	size_t mine = 0;
	bool wake_oldest = false;

	*out = NULL;
	if (s == NULL || authn_copy(&s->who, who) != JG_OK) {
		free(s);
		return JG_ERR_NOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	atomic_init(&s->refs, 1);
	s->h = h;
	s->after_seq = after_seq;
	s->wake = wake;
	s->arg = arg;
	pthread_mutex_lock(&h->mu);
	/* the list is newest first: the last live one of who's is the oldest */
	for (struct eventhub_sub *o = h->subs; o; o = o->next) {
		bool live;

		if (strcmp(o->who.name, who->name) != 0)
			continue;
		pthread_mutex_lock(&o->mu);
		live = !o->dropped;
		pthread_mutex_unlock(&o->mu);
		if (live) {
			mine++;
			oldest = o;
		}
	}
	if (h->nsubs >= h->max) {
		pthread_mutex_unlock(&h->mu);
		sub_unref(s);
		return JG_ERR_UNAVAILABLE;
	}
	if (mine >= EVENTHUB_PER_SUBJECT && oldest != NULL) {
		/* a subject over its share (pages reloaded faster than closed
		 * streams are noticed) loses its oldest stream, never others' */
		pthread_mutex_lock(&oldest->mu);
		wake_oldest = drop_locked(oldest);
		pthread_mutex_unlock(&oldest->mu);
		if (wake_oldest)
			atomic_fetch_add(&oldest->refs, 1);
	}
	s->next = h->subs;
	if (h->subs)
		h->subs->prev = s;
	h->subs = s;
	h->nsubs++;
	pthread_mutex_unlock(&h->mu);
	if (wake_oldest)
		wake_all(&oldest, 1);
	*out = s;
	return JG_OK;
}

int eventhub_prepend(struct eventhub_sub *s, const char *text, int64_t upto)
{
	struct qent *q = qent_new(0, text, strlen(text)), **pp;

	if (q == NULL)
		return JG_ERR_NOMEM;
	pthread_mutex_lock(&s->mu);
	if (upto > s->after_seq)
		s->after_seq = upto;
	for (pp = &s->head; *pp;) {
		struct qent *e = *pp;

		if (e->seq > 0 && e->seq <= s->after_seq) {
			*pp = e->next;
			if (e->counted)
				s->bytes -= e->len;
			free(e);
		} else {
			pp = &e->next;
		}
	}
	s->tail = NULL;
	for (struct qent *e = s->head; e; e = e->next)
		s->tail = e;
	q->next = s->head;
	s->head = q;
	if (s->tail == NULL)
		s->tail = q;
	pthread_mutex_unlock(&s->mu);
	return JG_OK;
}

ssize_t eventhub_read(struct eventhub_sub *s, char *buf, size_t max,
		      void (*suspend)(void *arg), void *arg)
{
	size_t n = 0;

	pthread_mutex_lock(&s->mu);
	if (s->dropped) {
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	if (s->head == NULL) {
		s->armed = true;
		suspend(arg);
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	while (s->head && n < max) {
		struct qent *q = s->head;
		size_t k = q->len - q->off;

		if (k > max - n)
			k = max - n;
		memcpy(buf + n, q->text + q->off, k);
		n += k;
		q->off += k;
		if (q->off == q->len) {
			s->head = q->next;
			if (s->head == NULL)
				s->tail = NULL;
			if (q->counted)
				s->bytes -= q->len;
			free(q);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return (ssize_t)n;
}

void eventhub_unsubscribe(struct eventhub_sub *s)
{
	struct eventhub *h;

	if (s == NULL)
		return;
	h = s->h;
	pthread_mutex_lock(&h->mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		h->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	h->nsubs--;
	pthread_mutex_unlock(&h->mu);
	pthread_mutex_lock(&s->mu);
	s->closed = true;
	pthread_mutex_unlock(&s->mu);
	sub_unref(s);
}

void eventhub_close_all(struct eventhub *h)
{
	/* every stream ends: its reader, woken if suspended, sees dropped */
	drop_where(h, any, NULL);
}

size_t eventhub_streams(struct eventhub *h)
{
	size_t n;

	pthread_mutex_lock(&h->mu);
	n = h->nsubs;
	pthread_mutex_unlock(&h->mu);
	return n;
}

uint64_t eventhub_dropped(struct eventhub *h)
{
	return atomic_load(&h->dropped);
}
