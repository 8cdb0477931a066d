/* Connections that outlive their session just long enough to deliver
 * their last bytes (a FATAL, a Terminate), bounded in time. */
#include "gateway/session.h"
#include "gateway/session_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/principal.h"
#include "gateway/pgproto.h"
#include "gateway/scram.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

/* A bufferevent that outlives its session to deliver the last bytes. */
struct closer {
	struct closer *next, *prev;
	struct bufferevent *bev;
	struct gw_ctx *gw;
	struct event *start; /* deferred start (upstream side of a cut) */
};

static void closer_done(struct closer *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->gw->closers = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	if (c->start)
		event_free(c->start);
	free(c);
}

static void closer_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	/* keep reading so that close() sends FIN, not RST, and the peer
	 * gets to read our last message */
	evbuffer_drain(bufferevent_get_input(bev),
		       evbuffer_get_length(bufferevent_get_input(bev)));
}

static void closer_write(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		closer_done(arg);
}

static void closer_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	closer_done(arg);
}

/* Starts flushing c: done at once when nothing is left to write.  The
 * watermarks and timeouts are set before the callbacks, because a
 * bufferevent (the TLS filter in particular) may run a callback from
 * inside those calls, and that callback may free c. */
static void closer_arm(struct closer *c)
{
	struct timeval tv = {SESSION_FLUSH_TIMEOUT_MS / 1000, 0};
	struct bufferevent *bev = c->bev;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		closer_done(c);
		return;
	}
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_setcb(bev, closer_read, closer_write, closer_event, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void closer_start(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	closer_arm(arg);
}

/* Hands bev over to be freed once its output is written (bounded).  With
 * defer, writing starts only after SESSION_UPSTREAM_DEFER_MS: when many
 * sessions are cut at once, the upstream backends that a Terminate makes
 * exit would otherwise compete for the CPU with the clients reading their
 * FATAL.  The client is already gone, so nothing reaches the upstream
 * session in the meantime. */
void closer_after_flush(struct gw_ctx *gw, struct bufferevent *bev, bool defer)
{
	struct timeval later = {0, SESSION_UPSTREAM_DEFER_MS * 1000};
	struct closer *c;

	if (!bev)
		return;
	if ((!defer && evbuffer_get_length(bufferevent_get_output(bev)) == 0) ||
	    !(c = calloc(1, sizeof(*c)))) {
		bufferevent_free(bev);
		return;
	}
	c->bev = bev;
	c->gw = gw;
	c->next = gw->closers;
	if (gw->closers)
		gw->closers->prev = c;
	gw->closers = c;
	/* quiet until it starts: no callback may run on the old session */
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	if (defer) {
		c->start = evtimer_new(bufferevent_get_base(bev), closer_start, c);
		if (c->start && evtimer_add(c->start, &later) == 0)
			return;
	}
	closer_arm(c);
}

void session_free_closers(struct gw_ctx *gw)
{
	while (gw->closers)
		closer_done(gw->closers);
}
