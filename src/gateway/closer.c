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
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/principal.h"
#include "gateway/pgproto.h"
#include "gateway/scram.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/vec.h"

/* A connection that outlives its session to deliver its last bytes.
 * bev is what the session wrote to; for a TLS side that is a filter
 * whose ciphertext sits in the socket bufferevent under it (sock), and
 * freeing the filter frees sock with whatever it has not written yet.
 * So a closer goes through three steps, all within one deadline:
 *   1. bev's own output is written (into sock, for a filter);
 *   2. a TLS side queues close_notify; sock's output reaches the kernel;
 *   3. shutdown(SHUT_WR) sends FIN after the data, and the input is read
 *      and dropped until the peer closes: a close() with unread input
 *      sends RST, and an RST can destroy our last message before the
 *      peer has read it (a client still sending when it is cut). */
struct closer {
	struct closer *next, *prev;
	struct bufferevent *bev;
	struct bufferevent *sock; /* NULL until step 2 */
	struct gw_ctx *gw;
	struct event *timer; /* deferred start, then the deadline */
	bool started;
};

static void closer_done(struct closer *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->gw->closers = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->sock && c->sock != c->bev)
		bufferevent_setcb(c->sock, NULL, NULL, NULL, NULL);
	closer_bev_free(c->gw, c->bev); /* a filter frees sock with it */
	event_free(c->timer);
	free(c);
}

void closer_graves_close(struct gw_ctx *gw)
{
	for (size_t i = 0; i < gw->ngraves; i++)
		evutil_closesocket(gw->graves[i]);
	gw->ngraves = 0;
}

/* Keeps fd open until the next loop turn: a timer due at once fires only
 * after the next dispatch, which applies the changelist first. */
static void grave_add(struct gw_ctx *gw, evutil_socket_t fd)
{
	static const struct timeval now = {0, 0};

	if (gw->ngraves == gw->graves_cap) {
		evutil_socket_t *g = vec_grow(gw->graves, &gw->graves_cap,
					      sizeof(*g), 64);

		if (!g) {
			/* out of memory: close now; the worst is an epoll_ctl
			 * of ours failing on a number another thread reused */
			evutil_closesocket(fd);
			return;
		}
		gw->graves = g;
	}
	gw->graves[gw->ngraves++] = fd;
	if (!gw->grave_ev || evtimer_add(gw->grave_ev, &now) != 0)
		closer_graves_close(gw); /* no loop turn to wait for */
}

void closer_bev_free(struct gw_ctx *gw, struct bufferevent *bev)
{
	struct bufferevent *sock = bev, *under;
	evutil_socket_t fd;

	while ((under = bufferevent_get_underlying(sock)) != NULL)
		sock = under;
	fd = bufferevent_getfd(sock);
	/* sock's events are deleted and its descriptor forgotten: freeing
	 * it closes nothing */
	if (fd >= 0 && bufferevent_setfd(sock, -1) != 0) {
		bufferevent_free(bev);
		return;
	}
	bufferevent_free(bev);
	if (fd >= 0)
		grave_add(gw, fd);
}

/* keeps reading, so that close() sends FIN, not RST */
static void closer_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev),
		       evbuffer_get_length(bufferevent_get_input(bev)));
}

static void closer_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	closer_done(arg); /* EOF, error: the peer is gone or has closed */
}

/* Step 3 once sock's output is in the kernel. */
static void closer_sock_write(struct bufferevent *sock, void *arg)
{
	struct closer *c = arg;

	if (evbuffer_get_length(bufferevent_get_output(sock)) != 0)
		return;
	bufferevent_disable(sock, EV_WRITE);
	if (shutdown(bufferevent_getfd(sock), SHUT_WR) != 0)
		closer_done(c); /* not connected any more: nothing to deliver */
}

/* Step 2: bev has nothing left of its own.  sock's callbacks become
 * ours; a filter is not told of sock any more, and needs not be. */
static void closer_to_sock(struct closer *c)
{
	struct bufferevent *sock = bufferevent_get_underlying(c->bev);
	SSL *ssl = sock ? bufferevent_openssl_get_ssl(c->bev) : NULL;

	if (!sock)
		sock = c->bev;
	c->sock = sock;
	if (sock != c->bev) {
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		/* a filter not reading keeps sock's reading suspended */
		bufferevent_enable(c->bev, EV_READ);
	}
	/* close_notify, written through the filter's BIO into sock: best
	 * effort (peers need not wait for it, ours allow its absence) */
	if (ssl && SSL_is_init_finished(ssl) && SSL_shutdown(ssl) < 0)
		ERR_clear_error();
	bufferevent_set_timeouts(sock, NULL, NULL);
	bufferevent_setwatermark(sock, EV_WRITE, 0, 0);
	bufferevent_setwatermark(sock, EV_READ, 0, 0);
	bufferevent_setcb(sock, closer_read, closer_sock_write, closer_event, c);
	bufferevent_enable(sock, EV_READ | EV_WRITE);
	closer_sock_write(sock, c);
}

/* Step 1 done when bev's output is empty (a filter's write callback). */
static void closer_write(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		closer_to_sock(arg);
}

/* Starts flushing c under its deadline.  The watermarks and timeouts are
 * set before the callbacks, because a bufferevent (the TLS filter in
 * particular) may run a callback from inside those calls, and that
 * callback may free c. */
static void closer_arm(struct closer *c)
{
	struct timeval deadline = {SESSION_FLUSH_TIMEOUT_MS / 1000,
				   (SESSION_FLUSH_TIMEOUT_MS % 1000) * 1000};
	struct bufferevent *bev = c->bev;

	c->started = true;
	if (evtimer_add(c->timer, &deadline) != 0) {
		closer_done(c);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		closer_to_sock(c);
		return;
	}
	bufferevent_set_timeouts(bev, NULL, NULL);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_setcb(bev, closer_read, closer_write, closer_event, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void closer_timer(evutil_socket_t fd, short what, void *arg)
{
	struct closer *c = arg;

	(void)fd;
	(void)what;
	if (c->started)
		closer_done(c); /* the deadline */
	else
		closer_arm(c);
}

/* Hands bev over to be freed once its output has reached the peer and
 * the peer has closed, or SESSION_FLUSH_TIMEOUT_MS has passed.  With
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
	if (!(c = calloc(1, sizeof(*c))) ||
	    !(c->timer = evtimer_new(bufferevent_get_base(bev), closer_timer, c))) {
		free(c);
		closer_bev_free(gw, bev);
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
	if (defer && evtimer_add(c->timer, &later) == 0)
		return;
	closer_arm(c);
}

void session_free_closers(struct gw_ctx *gw)
{
	while (gw->closers)
		closer_done(gw->closers);
	closer_graves_close(gw);
}
