/* GET /v1/events (design section 10): Server-Sent Events of request
 * changes.  The stream is an MHD response read through a content reader
 * that suspends the connection while there is nothing to send, so open
 * streams cost no HTTP thread (the hub wakes them: api/eventhub.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/api_internal.h"
#include "api/eventhub.h"
#include "api/render.h"
#include "core/request.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/netaddr.h"
#include "util/vec.h"

#define REPLAY_EVENTS_MAX 10000  /* audit events looked at for a resume */
#define REPLAY_REQUESTS_MAX 1000 /* requests sent again by a resume */
#define STREAM_SNDBUF (64 * 1024)
#define RETRY_MS 3000

struct seen {
	int64_t id, seq;
};

struct replay {
	struct seen *v;
	size_t n, cap;
	int64_t last;   /* highest seq looked at */
	size_t events;
	bool too_far;
};

static int replay_one(void *arg, int64_t seq, const char *event)
{
	struct replay *rp = arg;
	json_t *ev, *rid;
	int64_t id;

	rp->last = seq;
	if (++rp->events > REPLAY_EVENTS_MAX) {
		rp->too_far = true;
		return 1;
	}
	ev = json_loads(event, 0, NULL);
	rid = json_object_get(ev, "request_id");
	id = json_is_integer(rid) ? json_integer_value(rid) : 0;
	json_decref(ev);
	if (id <= 0)
		return 0;
	for (size_t i = 0; i < rp->n; i++) {
		if (rp->v[i].id == id) {
			/* newest first later: move it to the end */
			memmove(&rp->v[i], &rp->v[i + 1], (rp->n - i - 1) * sizeof(rp->v[0]));
			rp->v[rp->n - 1] = (struct seen){id, seq};
			return 0;
		}
	}
	if (rp->n == REPLAY_REQUESTS_MAX) {
		rp->too_far = true;
		return 1;
	}
	if (rp->n == rp->cap) {
		struct seen *v = vec_grow(rp->v, &rp->cap, sizeof(*v), 64);

		if (v == NULL)
			return JG_ERR_NOMEM;
		rp->v = v;
	}
	rp->v[rp->n++] = (struct seen){id, seq};
	return 0;
}

/* Appends the stream text of request id (as it is now, with id seq) to f
 * when c's subject may see it. */
static int replay_request(struct conn *c, FILE *f, int64_t id, int64_t seq)
{
	struct request r;
	json_t *o;
	char *data;
	int rc = store_request_get(c->deps->store, id, &r);

	if (rc == JG_ERR_NOTFOUND)
		return JG_OK;
	if (rc != JG_OK)
		return rc;
	if (core_may_view(c->cfg, &r, &c->who.subject)) {
		o = render_request(&r);
		data = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (data == NULL)
			rc = JG_ERR_NOMEM;
		else
			fprintf(f, "event: request\nid: %lld\ndata: %s\n\n", (long long)seq, data);
		free(data);
	}
	request_clear(&r);
	return rc;
}

/* What a stream resuming after seq `after` must be sent first: the
 * requests it may see that changed since, each once, as they are now, in
 * the order of their last change; or `event: reset` (reload everything)
 * when that is too far back.  *upto is the seq it is current to. */
static int replay(struct conn *c, int64_t after, int64_t head, FILE *f, int64_t *upto)
{
	struct audit_filter af = {.after_seq = after};
	struct replay rp = {.last = after};
	int rc = store_audit_scan(c->deps->store, &af, replay_one, &rp);

	*upto = rp.last > head ? rp.last : head;
	if (rc < 0)
		goto out;
	rc = JG_OK;
	if (rp.too_far) {
		fprintf(f, "event: reset\ndata: {}\n\n");
		goto out;
	}
	for (size_t i = 0; rc == JG_OK && i < rp.n; i++)
		rc = replay_request(c, f, rp.v[i].id, rp.v[i].seq);
out:
	free(rp.v);
	return rc;
}

static void wake_conn(void *arg)
{
	MHD_resume_connection(arg);
}

static void suspend_conn(void *arg)
{
	MHD_suspend_connection(arg);
}

/* The resume point: Last-Event-ID (what EventSource sends when it
 * reconnects), or ?last_event_id= for a first connection.  -1 when none;
 * false (answered 400) when malformed. */
static bool resume_point(struct conn *c, int64_t *out)
{
	const char *v = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND, "Last-Event-ID");
	uint64_t n;

	*out = -1;
	if (v == NULL)
		v = conn_arg(c, "last_event_id");
	if (v == NULL || *v == '\0')
		return true;
	if (num_parse_u64(v, strlen(v), 0, INT64_MAX, &n) != JG_OK) {
		conn_error(c, 400, "bad_request", "Last-Event-ID: must be an event id (an integer)");
		return false;
	}
	*out = (int64_t)n;
	return true;
}

void handle_events(struct conn *c)
{
	const union MHD_ConnectionInfo *ci;
	struct eventhub_sub *sub = NULL;
	char *text = NULL;
	size_t len = 0;
	int64_t after, head, upto;
	FILE *f;
	int rc;

	if (!resume_point(c, &after))
		return;
	if (c->deps->events == NULL) {
		conn_error(c, 503, "unavailable", "live events are not available");
		return;
	}
	rc = eventhub_subscribe(c->deps->events, &c->who, after < 0 ? 0 : after, wake_conn,
				c->mhd, &sub);
	if (rc != JG_OK) {
		conn_error(c, 503, "unavailable", "too many event streams; try again later");
		return;
	}
	if (c->by_session) {
		/* a browser's stream lives no longer than its session */
		const char *cookie = MHD_lookup_connection_value(c->mhd, MHD_COOKIE_KIND,
								 WEBSESSION_COOKIE);
		uint8_t key[SHA256_LEN];

		if (cookie != NULL) {
			crypto_sha256(cookie, strlen(cookie), key);
			eventhub_bind_session(sub, key, c->session_expires_ms);
		}
	}
	/* subscribed first: every change after head reaches the queue */
	head = engine_audit_head(c->deps->engine);
	f = open_memstream(&text, &len);
	rc = f ? JG_OK : JG_ERR_NOMEM;
	if (rc == JG_OK) {
		fprintf(f, "retry: %d\n\n", RETRY_MS);
		upto = head;
		if (after >= 0 && after < head)
			rc = replay(c, after, head, f, &upto);
		else if (after > head)
			upto = after; /* from the future (another node, a restore): keep it */
		fprintf(f, "event: ready\nid: %lld\ndata: {\"seq\":%lld}\n\n", (long long)upto,
			(long long)upto);
		fclose(f);
	}
	if (rc == JG_OK)
		rc = eventhub_prepend(sub, text, upto);
	free(text);
	if (rc != JG_OK) {
		eventhub_unsubscribe(sub);
		conn_fail(c, rc == JG_ERR_NOMEM ? JG_ERR_NOMEM : JG_ERR_STORE,
			  "the store is not readable");
		return;
	}
	/* a stream needs no deep kernel buffer: what a client does not read
	 * piles up in its bounded queue, where it is noticed */
	ci = MHD_get_connection_info(c->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL) {
		int sz = STREAM_SNDBUF;

		(void)setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	c->stream = sub;
}

struct stream {
	struct eventhub_sub *sub;
	struct MHD_Connection *mhd;
};

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	ssize_t n;

	(void)pos;
	n = eventhub_read(st->sub, buf, max, suspend_conn, st->mhd);
	if (n < 0) {
		/* MHD marks the connection closed but, in its epoll mode, may
		 * not get round to closing the socket until the connection
		 * timeout; shut it down here (this thread owns it now) so the
		 * client sees the end at once and epoll reports the socket */
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(st->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);

		if (ci != NULL)
			(void)shutdown(ci->connect_fd, SHUT_RDWR);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	return n;
}

static void free_stream(void *cls)
{
	struct stream *st = cls;

	eventhub_unsubscribe(st->sub);
	free(st);
}

struct MHD_Response *events_response(struct conn *c)
{
	struct stream *st = calloc(1, sizeof(*st));
	struct MHD_Response *r;

	if (st == NULL)
		return NULL;
	st->sub = c->stream;
	st->mhd = c->mhd;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, read_stream, st,
					      free_stream);
	if (r == NULL) {
		free(st);
		return NULL;
	}
	c->stream = NULL; /* the response owns it now */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	return r;
}
