#include "gateway/session.h"
#include "gateway/session_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/canon.h"
#include "core/principal.h"
#include "gateway/kdfpool.h"
#include "gateway/pgproto.h"
#include "gateway/scram.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

static void client_read(struct bufferevent *bev, void *arg);
static void client_event(struct bufferevent *bev, short what, void *arg);

bool session_addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return sa->sa_family == AF_UNIX;
}

size_t session_count(const struct gw_ctx *gw)
{
	return gw->nopen;
}

/* --- state and closing --------------------------------------------------- */

bool session_audit(struct session *s, const char *action, json_t *detail)
{
	const struct gateway_hooks *h = &s->gw->hooks;

	if (!h->audit) {
		json_decref(detail);
		return false;
	}
	/* before authentication the user name is only a claim: never an
	 * actor (design section 9) */
	if (!s->authenticated) {
		if (s->subject[0] && (detail || (detail = json_object())))
			json_object_set_new(detail, "claimed_subject",
					    canon_string(s->subject));
		return h->audit(h->ctx, action, NULL,
				s->resource[0] ? s->resource : NULL,
				s->role[0] ? s->role : NULL, s->grant.request_id,
				detail);
	}
	return h->audit(h->ctx, action, s->subject[0] ? s->subject : NULL,
			s->resource[0] ? s->resource : NULL,
			s->role[0] ? s->role : NULL, s->grant.request_id,
			detail);
}

/* Not yet authenticated: what gateway_preauth_per_ip counts. */
static bool state_is_preauth(enum session_state st)
{
	return st == SS_STARTUP || st == SS_PASSWORD;
}

void session_set_state(struct session *s, enum session_state st)
{
	if (s->state == SS_CLOSED)
		return;
	if (s->preauth && !state_is_preauth(st)) {
		s->preauth = false;
		connlimit_release(s->gw->preauth_by_addr, &s->addr);
	}
	if (st == SS_CLOSED) {
		s->gw->nopen--;
		if (s->audit_wait) {
			s->audit_wait = false;
			s->gw->naudit_wait--;
		}
	}
	s->state = st;
}

/* --- relay reads -------------------------------------------------------- */

/* A socket's bufferevent calls ioctl(FIONREAD) before every read to size
 * it (libevent 2.1's evbuffer_read): in the relay, session.c reads each
 * side's socket itself, one recv of up to SESSION_READ_SIZE per wake-up,
 * into the input buffer the bufferevent would have filled, and calls the
 * callbacks it would have called.  For a plain side those are the
 * session's own; for a TLS side the socket is the one under the OpenSSL
 * filter, whose callbacks decrypt (into the filter's input, then the
 * session's callbacks) and turn its EOF into the filter's event. */

/* The socket bufferevent of a side: under the filter for TLS. */
static struct bufferevent *side_sock(struct bufferevent *bev, bool tls)
{
	struct bufferevent *u = tls ? bufferevent_get_underlying(bev) : NULL;

	return u ? u : bev;
}

/* Appends n bytes to the input of sock, as its own read would have. */
static int input_add(struct bufferevent *sock, const uint8_t *p, size_t n)
{
	struct evbuffer *in = bufferevent_get_input(sock);
	int rc;

	/* the bufferevent keeps its input's end frozen but while it reads
	 * itself (bufferevent_sock.c): do the same */
	evbuffer_unfreeze(in, 0);
	rc = evbuffer_add(in, p, n);
	evbuffer_freeze(in, 0);
	return rc;
}

/* A side of the relay is readable: read its socket, then what the socket
 * bufferevent would have called: for a TLS side the filter's callbacks;
 * for a plain side the session's own, which relay the bytes straight
 * from here (s->span, relay_move): no buffer chain is allocated, filled
 * and freed for a message relayed at once.  Whatever they leave (a
 * statement held for its audit event, a paused side) goes to the input
 * buffer, behind what was there. */
static void direct_side(struct session *s, evutil_socket_t fd,
			struct bufferevent *sock, bool client, bool tls)
{
	uint8_t buf[SESSION_READ_SIZE];
	bufferevent_data_cb rcb = NULL;
	bufferevent_event_cb ecb = NULL;
	void *cbarg = NULL;
	short ev = BEV_EVENT_READING;
	ssize_t n = recv(fd, buf, sizeof(buf), 0);

	if (n > 0 && tls) {
		if (input_add(sock, buf, (size_t)n) != 0) {
			session_close(s, "out of memory");
			return;
		}
		bufferevent_getcb(sock, &rcb, NULL, NULL, &cbarg);
		if (rcb)
			rcb(sock, cbarg);
		return;
	}
	if (n > 0) {
		s->span_bev = sock;
		s->span = buf;
		s->span_len = (size_t)n;
		if (client)
			client_read(sock, s);
		else
			session_upstream_read(sock, s);
		s->span_bev = NULL;
		/* a side closed meanwhile is a closer's now: drop the rest */
		if (s->span_len > 0 && s->state != SS_CLOSED &&
		    (client ? s->cbev : s->ubev) == sock &&
		    input_add(sock, s->span, s->span_len) != 0)
			session_close(s, "out of memory");
		s->span_len = 0;
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	ev |= n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR;
	if (!tls) {
		if (client)
			client_event(sock, ev, s);
		else
			session_upstream_event(sock, ev, s);
		return;
	}
	bufferevent_getcb(sock, NULL, NULL, &ecb, &cbarg);
	if (ecb)
		ecb(sock, ev, cbarg);
}

static void direct_client_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)what;
	direct_side(s, fd, side_sock(s->cbev, s->c_tls), true, s->c_tls);
}

static void direct_upstream_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)what;
	direct_side(s, fd, side_sock(s->ubev, s->up_tls), false, s->up_tls);
}

/* Reading from the peer of bev on or off: by the direct read event when
 * that side has one (and, for TLS, the filter's decrypting with it),
 * else by the bufferevent. */
static void relay_read(struct session *s, struct bufferevent *bev, bool on)
{
	bool client = bev == s->cbev;
	struct event *ev = client ? s->c_rd : s->u_rd;

	if (!bev)
		return;
	if (ev && on)
		event_add(ev, NULL);
	else if (ev)
		event_del(ev);
	/* a plain side's bufferevent stays off once its event reads */
	if (ev && !(client ? s->c_tls : s->up_tls))
		return;
	if (on)
		bufferevent_enable(bev, EV_READ);
	else
		bufferevent_disable(bev, EV_READ);
}

/* Takes over reading the socket of bev (under the filter for TLS) with a
 * new event in *ev, reading now when bev was.  The event is added before
 * the socket bufferevent stops: the descriptor stays registered with
 * epoll throughout.  The filter of a TLS side still decides whether it
 * decrypts (its EV_READ), the socket is read only by *ev from here. */
static int direct_take(struct session *s, struct bufferevent *bev, bool tls,
		       bool client, struct event **ev)
{
	struct bufferevent *sock = side_sock(bev, tls);
	bool reading = (bufferevent_get_enabled(bev) & EV_READ) != 0;

	*ev = event_new(s->gw->base, bufferevent_getfd(sock),
			EV_READ | EV_PERSIST,
			client ? direct_client_cb : direct_upstream_cb, s);
	if (!*ev)
		return JG_ERR_NOMEM;
	if (reading)
		event_add(*ev, NULL);
	bufferevent_disable(sock, EV_READ);
	return 0;
}

/* The relay's sides read by us from here on.  0, or JG_ERR_NOMEM. */
static int session_relay_direct(struct session *s)
{
	if (s->cbev && !s->c_rd &&
	    direct_take(s, s->cbev, s->c_tls, true, &s->c_rd) != 0)
		return JG_ERR_NOMEM;
	if (s->ubev && !s->u_rd &&
	    direct_take(s, s->ubev, s->up_tls, false, &s->u_rd) != 0)
		return JG_ERR_NOMEM;
	return 0;
}

/* Frees the direct read events; a TLS side's socket bufferevent reads
 * again (a closer's filter may need its peer's bytes: close_notify). */
static void relay_direct_free(struct session *s)
{
	if (s->c_rd) {
		event_free(s->c_rd);
		if (s->c_tls && s->cbev)
			bufferevent_enable(side_sock(s->cbev, true), EV_READ);
	}
	if (s->u_rd) {
		event_free(s->u_rd);
		if (s->up_tls && s->ubev)
			bufferevent_enable(side_sock(s->ubev, true), EV_READ);
	}
	s->c_rd = s->u_rd = NULL;
}

/* Bytes already queued to either side are still delivered by the
 * closers. */
void session_close(struct session *s, const char *why)
{
	struct gw_ctx *gw = s->gw;

	if (s->state == SS_CLOSED)
		return;
	if (s->admitted) {
		session_audit(s, "session.ended",
		      json_pack("{s:s, s:I, s:I, s:I, s:s}", "why", why,
				"duration_ms",
				(json_int_t)(time_now_ms() - s->started_ms),
				"bytes_in", (json_int_t)s->bytes_in,
				"bytes_out", (json_int_t)s->bytes_out,
				"client", s->peer));
		log_info(s->tag, "session ended: %s (in %llu, out %llu bytes)",
			 why, (unsigned long long)s->bytes_in,
			 (unsigned long long)s->bytes_out);
	} else {
		log_debug(s->tag, "connection closed: %s", why);
	}
	registry_remove(&s->by_request);
	registry_remove(&s->by_cancel);
	/* our read events go first: the closers free the sockets */
	relay_direct_free(s);
	closer_after_flush(gw, s->cbev, false);
	closer_after_flush(gw, s->ubev, s->admitted);
	s->cbev = s->ubev = NULL;
	/* a key derivation finishing later must not call back into s */
	kdfpool_cancel(s->kdf);
	s->kdf = NULL;
	expiry_remove(gw->expiry, s);
	if (s->timeout_ev)
		event_del(s->timeout_ev);
	session_set_state(s, SS_CLOSED);
	s->reap_next = gw->reap;
	gw->reap = s;
	if (gw->reap_ev)
		event_active(gw->reap_ev, EV_TIMEOUT, 0);
}

static void session_release(struct session *s)
{
	struct gw_ctx *gw = s->gw;

	if (s->prev)
		s->prev->next = s->next;
	else
		gw->all = s->next;
	if (s->next)
		s->next->prev = s->prev;
	relay_direct_free(s);
	expiry_remove(gw->expiry, s);
	if (s->timeout_ev)
		event_free(s->timeout_ev);
	upstream_release(s);
	pgproto_startup_clear(&s->startup);
	free(s);
}

void session_reap(struct gw_ctx *gw)
{
	while (gw->reap) {
		struct session *s = gw->reap;

		gw->reap = s->reap_next;
		session_release(s);
	}
}

/* Writes what is queued for a peer at once instead of on the next loop
 * turn: one loop iteration less latency per relayed message, and when
 * many sessions are cut together every FATAL is on its socket before any
 * upstream backend wakes up to exit.  For a TLS side that is the socket
 * under the filter, whose output the filter has just filled with
 * records, arming its write event: once that output is written, the
 * event is disarmed in the same loop turn, which the epoll changelist
 * (gateway_base_new) turns into no system call at all, and the filter
 * is told its socket drained, as libevent would have on the next turn
 * (it moves what it held back, if anything). */
static void session_flush_now(struct bufferevent *bev, bool tls)
{
	struct bufferevent *sock;
	struct evbuffer *out;
	bufferevent_data_cb wcb = NULL;
	void *cbarg = NULL;
	int w;

	if (!bev)
		return;
	sock = side_sock(bev, tls);
	out = bufferevent_get_output(sock);
	if (evbuffer_get_length(out) == 0)
		return;
	/* a socket bufferevent keeps its output's start frozen but while it
	 * writes itself (bufferevent_sock.c): evbuffer_write fails on it
	 * otherwise */
	evbuffer_unfreeze(out, 1);
	w = evbuffer_write(out, bufferevent_getfd(sock));
	evbuffer_freeze(out, 1);
	if (w <= 0 || !tls || evbuffer_get_length(out) != 0)
		return; /* the rest, if any, on the socket's write event */
	event_del(&sock->ev_write);
	bufferevent_getcb(sock, NULL, &wcb, NULL, &cbarg);
	if (wcb && sock != bev)
		wcb(sock, cbarg);
}

/* Sends the client a FATAL and closes both sides.  Only valid where the
 * client stream sits on a message boundary (everything before relay, or
 * relay with the s2c framer at a boundary). */
/* Queues the FATAL (once) and writes it at once to a plain socket. */
static void fatal_send(struct session *s, const char *sqlstate,
		       const char *msg)
{
	if (s->fatal_sent)
		return;
	s->fatal_sent = true;
	if (s->cbev &&
	    pgproto_put_error(bufferevent_get_output(s->cbev), false, "FATAL",
			      sqlstate, msg) != 0)
		log_warn(s->tag, "cannot queue FATAL");
	session_flush_now(s->cbev, s->c_tls);
}

void session_fatal(struct session *s, const char *sqlstate,
			  const char *msg, const char *why)
{
	if (s->state == SS_CLOSED)
		return;
	fatal_send(s, sqlstate, msg);
	/* A statement still running upstream would go on after the cut (the
	 * backend reads no Terminate while it executes): cancel it. */
	if (s->state >= SS_RELAY && s->c2s.ncounted > s->s2c.ncounted)
		cancel_send(s->gw, s);
	/* A Terminate is only well-formed between two client messages. */
	if (s->ubev && s->state >= SS_RELAY &&
	    pgproto_framer_at_boundary(&s->c2s) &&
	    pgproto_put_msg(bufferevent_get_output(s->ubev), 'X', NULL, 0) != 0)
		log_warn(s->tag, "cannot queue Terminate");
	session_close(s, why);
}

/* Refuses a login: FATAL to the client plus an audit event.  Before
 * authentication the refuse_preauth hook audits it (aggregated, and past
 * the address's limit refused with 53300 instead). */
static void session_refuse(struct session *s, const char *sqlstate,
			   const char *action, const char *reason,
			   const char *msg)
{
	const struct gateway_hooks *h = &s->gw->hooks;
	char why[256], limited[300];

	log_info(s->tag, "refused %s from %s: %s", s->subject[0] ?
		 s->subject : "-", s->peer, reason);
	if (!s->authenticated && h->refuse_preauth) {
		why[0] = '\0';
		if (h->refuse_preauth(h->ctx, s->subject, s->resource, s->role,
				      s->peer, reason, why, sizeof(why)) ==
		    JG_ERR_LIMIT) {
			snprintf(limited, sizeof(limited), "jitgate: %s", why);
			session_fatal(s, "53300", limited,
				      "too many failed logins");
			return;
		}
		session_fatal(s, sqlstate, msg, reason);
		return;
	}
	session_audit(s, action, json_pack("{s:s, s:s, s:s}", "via", "gateway",
				   "reason", reason, "client", s->peer));
	session_fatal(s, sqlstate, msg, reason);
}

/* --- cut ------------------------------------------------------------------ */

static void cut_now(struct session *s)
{
	session_fatal(s, s->cut_sqlstate, s->cut_msg, s->cut_why);
}

static void timeout_fired(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	switch (s->state) {
	case SS_CUTTING:
		/* the upstream stalled inside a message: a FATAL now would be
		 * read as part of it, so close without one */
		session_close(s, s->cut_why);
		return;
	case SS_STARTUP:
		/* no startup packet yet (maybe a TLS handshake half done):
		 * nothing the client could read, as PostgreSQL does */
		session_close(s, "login_timeout");
		return;
	case SS_PASSWORD:
		/* not authenticated: no durable event for what anyone can
		 * cause by connecting and waiting */
		log_info(s->tag, "login timeout from %s before authentication",
			 s->peer);
		session_fatal(s, "08006", "jitgate: login did not complete in "
			      "time", "login_timeout");
		return;
	case SS_UP_CONNECT:
	case SS_UP_SSL:
	case SS_UP_AUTH:
	case SS_UP_PARAMS:
		session_refuse(s, "08006", "check.denied", "login_timeout",
			       "jitgate: login did not complete in time");
		return;
	case SS_RELAY:
	case SS_CLOSED:
		return;
	}
}

/* A FATAL now would not land inside a server message. */
static bool cut_at_boundary(const struct session *s)
{
	return s->state != SS_RELAY || pgproto_framer_at_boundary(&s->s2c);
}

/* The cut that cut_begin prepared: the FATAL (unless sent already) and the
 * close, or, mid server message, the rest of that message first. */
static void session_cut(struct session *s)
{
	struct timeval tv = {SESSION_CUT_GRACE_MS / 1000,
			     (SESSION_CUT_GRACE_MS % 1000) * 1000};

	log_info(s->tag, "cutting session of %s on %s as %s: %s", s->subject,
		 s->resource, s->role, s->cut_why);
	if (cut_at_boundary(s)) {
		cut_now(s);
		return;
	}
	/* mid server message: let the rest of it through, then cut */
	session_set_state(s, SS_CUTTING);
	relay_read(s, s->cbev, false);
	relay_read(s, s->ubev, true);
	s->u_paused = false;
	evtimer_add(s->timeout_ev, &tv);
	session_upstream_read(s->ubev, s);
}

static void format_cut(struct session *s, const char *why, char *buf,
		       size_t len)
{
	char when[TIME_RFC3339_LEN];
	int n;

	/* the message is cut to len on purpose: a long name must not stop the
	 * FATAL from going out */

	if (strcmp(why, "expired") == 0) {
		time_format(s->grant.expires_at_ms, when);
		n = snprintf(buf, len,
			 "jitgate: your grant %lld for %s as %s expired at %s",
			 (long long)s->grant.request_id, s->resource, s->role,
			 when);
	} else if (strcmp(why, "revoked") == 0) {
		n = snprintf(buf, len,
			 "jitgate: your grant %lld for %s as %s was revoked",
			 (long long)s->grant.request_id, s->resource, s->role);
	} else {
		n = snprintf(buf, len,
			 "jitgate: your grant %lld for %s as %s ended (%s)",
			 (long long)s->grant.request_id, s->resource, s->role,
			 why);
	}
	if (n < 0)
		buf[0] = '\0';
}

/* The session's cut at its grant's expires_at (expiry.c). */
static int arm_deadline(struct session *s)
{
	return expiry_set(s->gw->expiry, s, s->grant.expires_at_ms);
}

/* Looks for a grant that still covers the session.  True (and the session
 * moved onto it) when one does. */
static bool regrant(struct session *s, int64_t ended_id)
{
	const struct gateway_hooks *h = &s->gw->hooks;
	struct gateway_grant g;
	int64_t now = time_now_ms();

	memset(&g, 0, sizeof(g));
	if (h->find_grant(h->ctx, s->subject, s->resource, s->role, &g) != 0)
		return false;
	if (g.request_id == ended_id || g.expires_at_ms <= now)
		return false;
	log_info(s->tag, "grant %lld ended; session continues on grant %lld",
		 (long long)ended_id, (long long)g.request_id);
	s->grant = g;
	snprintf(s->grant.role, sizeof(s->grant.role), "%s", s->role);
	registry_insert(s->gw->by_request, &s->by_request, g.request_id);
	/* no deadline, no session: cut rather than outlive the grant */
	return arm_deadline(s) == 0;
}

/* The grant of s ended: false when s goes on (another grant covers it,
 * or it is being cut already).  Else the cut is prepared and, when it can
 * go at once (a plain client at a message boundary), the FATAL is on the
 * client's socket before this returns. */
static bool cut_begin(struct session *s, const char *why)
{
	if (s->state == SS_CUTTING || s->state == SS_CLOSED ||
	    regrant(s, s->grant.request_id))
		return false;
	snprintf(s->cut_sqlstate, sizeof(s->cut_sqlstate), "57P01");
	snprintf(s->cut_why, sizeof(s->cut_why), "%s", why);
	format_cut(s, why, s->cut_msg, sizeof(s->cut_msg));
	if (!s->c_tls && cut_at_boundary(s))
		fatal_send(s, s->cut_sqlstate, s->cut_msg);
	return true;
}

/* Ends the grant of each of ss[0..n), in two passes: every FATAL that can
 * go at once is on its socket before any session's bookkeeping (the
 * session.ended event, log lines, closing both connections), so that the
 * last of many sessions cut together does not wait for the bookkeeping
 * of all the others. */
static void end_of_grants(struct session **ss, size_t n, const char *why)
{
	for (size_t i = 0; i < n; i++)
		if (!cut_begin(ss[i], why))
			ss[i] = NULL;
	for (size_t i = 0; i < n; i++)
		if (ss[i])
			session_cut(ss[i]);
}

void session_expired(struct session **ss, size_t n)
{
	/* the engine's expiry may not have reached the index yet: a grant
	 * past its expires_at no longer counts, whatever find_grant says */
	end_of_grants(ss, n, "expired");
}

void session_grant_ended(struct gw_ctx *gw, int64_t request_id,
			 const char *why)
{
	struct registry_link *links[256];
	struct session *ss[256];
	size_t n;

	/* cutting unlinks, so take batches until none is left; sessions that
	 * moved to another grant are relinked under another key */
	do {
		size_t m = 0;

		n = registry_find(gw->by_request, request_id, links, 256);
		for (size_t i = 0; i < n && i < 256; i++) {
			struct session *s = (struct session *)(void *)
				((char *)links[i] -
				 offsetof(struct session, by_request));

			if (s->state == SS_CUTTING)
				registry_remove(&s->by_request);
			else
				ss[m++] = s;
		}
		end_of_grants(ss, m, why);
	} while (n > 256);
}

void session_close_all(struct gw_ctx *gw)
{
	/* closed sessions stay linked until reaped: s->next stays valid */
	for (struct session *s = gw->all; s; s = s->next)
		session_fatal(s, "57P01", "jitgate: the gateway is shutting down",
			      "shutdown");
}

/* --- client startup ----------------------------------------------------- */

int session_set_nodelay(struct bufferevent *bev)
{
	int one = 1;
	evutil_socket_t fd = bufferevent_getfd(bev);

	if (fd < 0)
		return 0;
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void session_refuse_fd(evutil_socket_t fd, const char *sqlstate,
		       const char *msg)
{
	struct evbuffer *b = evbuffer_new();
	char scratch[512];

	if (b && pgproto_put_error(b, false, "FATAL", sqlstate, msg) == 0) {
		size_t n = evbuffer_get_length(b);
		uint8_t *p = evbuffer_pullup(b, -1);

		/* a fresh socket's send buffer takes ~100 bytes at once */
		if (p && send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_debug("gateway", "refusal not sent: %s",
				  strerror(errno));
	}
	evbuffer_free(b);
	/* read what already came so that close sends FIN, not RST (an RST
	 * could discard the FATAL before the client reads it) */
	while (recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) > 0)
		;
	shutdown(fd, SHUT_WR);
	evutil_closesocket(fd);
}

/* Refuses a connection over a limit of cfg->limits; true when refused
 * (fd closed). */
static bool over_limits(struct gw_ctx *gw, evutil_socket_t fd,
			const struct connlimit_addr *a, const char *peer)
{
	const struct limits_cfg *l = &gw->cfg->limits;
	const char *which = NULL;
	uint64_t n;

	if ((int64_t)gw->nopen >= l->gateway_connections)
		which = "gateway_connections";
	else if ((int64_t)connlimit_count(gw->preauth_by_addr, a) >=
		 l->gateway_preauth_per_ip)
		which = "gateway_preauth_per_ip";
	if (!which)
		return false;
	/* one line per 10 s however many: a flood must not flood the log */
	if (connlimit_log_due(&gw->refused_log, time_now_ms(), &n))
		log_warn("gateway", "refused connection from %s: limits.%s "
			 "reached (%llu refused in the last %d s)", peer, which,
			 (unsigned long long)n, CONNLIMIT_LOG_EVERY_MS / 1000);
	session_refuse_fd(fd, "53300", "sorry, too many clients already");
	return true;
}

static void format_peer(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "";
	int port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof(host));
		port = ntohs(in->sin6_port);
	}
	snprintf(out, len, "%s:%d", host, port);
}

void session_accept(struct gw_ctx *gw, evutil_socket_t fd,
		    const struct sockaddr *sa, int salen)
{
	struct timeval tv = {gw->cfg->limits.login_timeout_s, 0};
	struct connlimit_addr addr;
	char peer[INET6_ADDRSTRLEN + 8];
	struct session *s;

	(void)salen;
	format_peer(sa, peer, sizeof(peer));
	connlimit_addr(sa, &addr);
	if (over_limits(gw, fd, &addr, peer))
		return;
	s = calloc(1, sizeof(*s));
	if (!s || connlimit_acquire(gw->preauth_by_addr, &addr) != 0) {
		free(s);
		evutil_closesocket(fd);
		return;
	}
	s->gw = gw;
	s->id = ++gw->next_id;
	s->addr = addr;
	s->preauth = true;
	gw->nopen++;
	snprintf(s->tag, sizeof(s->tag), "gw-%llu", (unsigned long long)s->id);
	s->loopback = session_addr_is_loopback(sa) && !atomic_load(&gw->force_remote);
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	s->cbev = bufferevent_socket_new(gw->base, fd, BEV_OPT_CLOSE_ON_FREE);
	s->timeout_ev = evtimer_new(gw->base, timeout_fired, s);
	s->next = gw->all;
	if (gw->all)
		gw->all->prev = s;
	gw->all = s;
	if (!s->cbev || !s->timeout_ev) {
		if (!s->cbev)
			evutil_closesocket(fd);
		session_close(s, "out of memory");
		return;
	}
	if (session_set_nodelay(s->cbev) != 0)
		log_debug(s->tag, "TCP_NODELAY: %s", strerror(errno));
	bufferevent_setcb(s->cbev, client_read, session_relay_write, client_event, s);
	bufferevent_enable(s->cbev, EV_READ);
	evtimer_add(s->timeout_ev, &tv);
}

struct bufferevent *session_tls_filter(struct session *s, struct bufferevent *under,
				       SSL *ssl, enum bufferevent_ssl_state state)
{
	struct bufferevent *tls = bufferevent_openssl_filter_new(
		s->gw->base, under, ssl, state, BEV_OPT_CLOSE_ON_FREE);

	if (!tls) {
		SSL_free(ssl);
		session_close(s, "out of memory");
		return NULL;
	}
	/* peers (psql, PostgreSQL) often close without close_notify */
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	/* the filter moves data into under's output only up to this mark, so
	 * a peer that reads nothing backs up the filter's own output, which
	 * the relay watches (otherwise it would grow without bound here) */
	bufferevent_setwatermark(under, EV_WRITE, 0, SESSION_RELAY_HIGH);
	return tls;
}

static void start_client_tls(struct session *s)
{
	struct bufferevent *tls;
	SSL *ssl;

	/* bytes after the SSLRequest would be read as if they had come over
	 * TLS (CVE-2021-23214): refuse rather than trust them */
	if (evbuffer_get_length(bufferevent_get_input(s->cbev)) != 0) {
		session_close(s, "data after SSLRequest");
		return;
	}
	ssl = SSL_new(s->gw->tls_server);
	if (!ssl || bufferevent_write(s->cbev, "S", 1) != 0) {
		SSL_free(ssl);
		session_close(s, "out of memory");
		return;
	}
	tls = session_tls_filter(s, s->cbev, ssl, BUFFEREVENT_SSL_ACCEPTING);
	if (!tls)
		return;
	s->cbev = tls;
	s->c_tls = true;
	bufferevent_setcb(tls, client_read, session_relay_write, client_event, s);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
}

static int parse_dbname(struct session *s, const char *db)
{
	const char *at = strrchr(db, '@');
	size_t rl = at ? (size_t)(at - db) : strlen(db);

	if (rl == 0 || rl >= sizeof(s->resource))
		return JG_ERR_INVALID;
	memcpy(s->resource, db, rl);
	s->resource[rl] = '\0';
	if (at) {
		if (at[1] == '\0' || strlen(at + 1) >= sizeof(s->role))
			return JG_ERR_INVALID;
		snprintf(s->role, sizeof(s->role), "%s", at + 1);
	}
	return 0;
}

static void client_startup(struct session *s, struct pgproto_startup *st)
{
	const char *user = pgproto_startup_get(st, "user");
	const char *db = pgproto_startup_get(st, "database");
	const char *repl = pgproto_startup_get(st, "replication");
	struct evbuffer *out = bufferevent_get_output(s->cbev);

	s->startup = *st;
	memset(st, 0, sizeof(*st));
	if (!user || !user[0] || strlen(user) >= sizeof(s->subject)) {
		session_fatal(s, "28000", "jitgate: no or bad user name given",
			      "bad startup");
		return;
	}
	snprintf(s->subject, sizeof(s->subject), "%s", user);
	if (!db || !db[0])
		db = user; /* what PostgreSQL does */
	if (parse_dbname(s, db) != 0) {
		s->resource[0] = '\0';
		session_refuse(s, "3D000", "check.denied", "bad_dbname",
			       "jitgate: connect with dbname=RESOURCE or "
			       "dbname=RESOURCE@ROLE");
		return;
	}
	if (repl && strcmp(repl, "false") != 0 && strcmp(repl, "0") != 0 &&
	    strcmp(repl, "off") != 0 && strcmp(repl, "no") != 0) {
		session_refuse(s, "28000", "check.denied", "replication",
			       "jitgate: replication connections are not "
			       "supported through the gateway");
		return;
	}
	/* the password is a bearer token: never in cleartext off this host */
	if (!s->c_tls && !s->loopback) {
		session_refuse(s, "28000", "check.denied", "tls_required",
			       "jitgate: TLS is required for clients not on "
			       "loopback (use sslmode=require)");
		return;
	}
	if (pgproto_put_auth(out, 3, NULL, 0) != 0) {
		session_close(s, "out of memory");
		return;
	}
	session_set_state(s, SS_PASSWORD);
}

static void client_read_startup(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->cbev);

	while (s->state == SS_STARTUP) {
		struct pgproto_startup st;
		uint8_t *p;
		uint32_t len;
		int rc;

		p = evbuffer_pullup(in, 4);
		if (!p)
			return;
		rc = pgproto_startup_len(p, 4, &len);
		if (rc < 0) {
			session_close(s, "bad startup packet length");
			return;
		}
		if (evbuffer_get_length(in) < len)
			return;
		p = evbuffer_pullup(in, len);
		rc = pgproto_startup_parse(p, len, &st);
		evbuffer_drain(in, len);
		if (rc != 0) {
			session_fatal(s, "08P01", "jitgate: malformed startup "
				      "packet", "bad startup packet");
			return;
		}
		switch (st.kind) {
		case PGPROTO_SSL_REQUEST:
			/* one per connection: repeats would only make us queue
			 * answers for a peer that may read none of them */
			if (s->c_tls || s->ssl_seen) {
				session_close(s, "repeated SSLRequest");
				return;
			}
			s->ssl_seen = true;
			if (!s->gw->tls_server) {
				if (bufferevent_write(s->cbev, "N", 1) != 0) {
					session_close(s, "write failed");
					return;
				}
				continue;
			}
			start_client_tls(s);
			return;
		case PGPROTO_GSSENC_REQUEST:
			if (s->c_tls || s->gssenc_seen) {
				session_close(s, "repeated GSSENCRequest");
				return;
			}
			s->gssenc_seen = true;
			if (bufferevent_write(s->cbev, "N", 1) != 0) {
				session_close(s, "write failed");
				return;
			}
			continue;
		case PGPROTO_CANCEL_REQUEST:
			cancel_handle(s, st.cancel_pid, st.cancel_key);
			return;
		case PGPROTO_STARTUP:
			client_startup(s, &st);
			return;
		}
	}
}

/* --- admission ----------------------------------------------------------- */

static void admit(struct session *s, const char *password)
{
	const struct gateway_hooks *h = &s->gw->hooks;
	const struct resource_cfg *res;
	const struct role_cfg *rc;
	char reason[256], msg[1024];
	int err;

	reason[0] = '\0';
	err = h->authenticate(h->ctx, s->subject, password, s->peer, reason,
			      sizeof(reason));
	if (err == JG_ERR_LIMIT) {
		snprintf(msg, sizeof(msg), "jitgate: %s", reason);
		log_info(s->tag, "login refused for %s from %s: %s", s->subject,
			 s->peer, reason);
		session_fatal(s, "53300", msg, "too many failed logins");
		return;
	}
	if (err != 0) {
		snprintf(msg, sizeof(msg),
			 "jitgate: password authentication failed for user "
			 "\"%s\"%s%s", s->subject, reason[0] ? ": " : "",
			 reason);
		/* the authenticate hook audits auth.failed itself, with
		 * what it knows of the credential (issuer, key id) */
		log_info(s->tag, "authentication failed for %s from %s: %s",
			 s->subject, s->peer, reason);
		session_fatal(s, "28P01", msg, "authentication failed");
		return;
	}
	s->authenticated = true;
	res = config_resource(s->gw->cfg, s->resource);
	if (!res || res->kind != RESOURCE_POSTGRES) {
		snprintf(msg, sizeof(msg),
			 "jitgate: no PostgreSQL resource named \"%s\"",
			 s->resource);
		session_refuse(s, "3D000", "check.denied", "unknown_resource",
			       msg);
		return;
	}
	if (s->role[0] && !config_role(res, s->role)) {
		snprintf(msg, sizeof(msg),
			 "jitgate: resource %s has no role \"%s\"",
			 s->resource, s->role);
		session_refuse(s, "28000", "check.denied", "unknown_role", msg);
		return;
	}
	memset(&s->grant, 0, sizeof(s->grant));
	err = h->find_grant(h->ctx, s->subject, s->resource,
			    s->role[0] ? s->role : NULL, &s->grant);
	if (err == JG_ERR_CONFLICT) {
		snprintf(msg, sizeof(msg),
			 "jitgate: you hold several roles on %s; connect with "
			 "dbname=%s@ROLE", s->resource, s->resource);
		session_refuse(s, "28000", "check.denied", "ambiguous_role",
			       msg);
		return;
	}
	if (err != 0 || s->grant.expires_at_ms <= time_now_ms()) {
		const char *r = s->role[0] ? s->role : "ROLE";

		s->grant.request_id = 0;
		snprintf(msg, sizeof(msg),
			 "jitgate: no active grant for %s as %s; request one "
			 "with: jitgate request %s %s --for 30m --reason ...",
			 s->resource, r, s->resource, r);
		session_refuse(s, "28000", "check.denied", "no_grant", msg);
		return;
	}
	if (!s->role[0])
		snprintf(s->role, sizeof(s->role), "%s", s->grant.role);
	rc = config_role(res, s->role);
	if (!rc || !rc->user || !res->host) {
		snprintf(msg, sizeof(msg),
			 "jitgate: role %s of %s has no upstream credentials",
			 s->role, s->resource);
		session_refuse(s, "28000", "check.denied", "no_credentials",
			       msg);
		return;
	}
	if (upstream_prepare(s, res, rc) != 0) {
		session_close(s, "out of memory");
		return;
	}
	registry_insert(s->gw->by_request, &s->by_request,
			s->grant.request_id);
	if (arm_deadline(s) != 0) {
		session_close(s, "out of memory");
		return;
	}
	upstream_connect(s);
}

static void client_read_password(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->cbev);
	char password[PGPROTO_PASSWORD_MAX + 1];
	uint8_t *p, type;
	uint32_t len;
	int rc;

	p = evbuffer_pullup(in, 5);
	if (!p)
		return;
	rc = pgproto_msg_header(p, 5, PGPROTO_PASSWORD_MAX, &type, &len);
	if (rc < 0 || type != 'p') {
		session_fatal(s, "08P01", "jitgate: expected a password message",
			      "protocol violation");
		return;
	}
	if (evbuffer_get_length(in) < 5 + (size_t)len)
		return;
	evbuffer_drain(in, 5);
	if (evbuffer_remove(in, password, len) != (int)len) {
		session_close(s, "read failed");
		return;
	}
	password[len] = '\0';
	if (len == 0 || password[len - 1] != '\0' ||
	    strlen(password) != len - 1) {
		OPENSSL_cleanse(password, sizeof(password));
		session_fatal(s, "08P01", "jitgate: malformed password message",
			      "protocol violation");
		return;
	}
	/* no more client bytes until the upstream is ready */
	bufferevent_disable(s->cbev, EV_READ);
	admit(s, password);
	OPENSSL_cleanse(password, sizeof(password));
}

/* --- upstream login ------------------------------------------------------- */

int session_start_relay(struct session *s)
{
	const char *app = pgproto_startup_get(&s->startup, "application_name");

	session_set_state(s, SS_RELAY);
	s->admitted = true;
	s->started_ms = time_now_ms();
	evtimer_del(s->timeout_ev);
	memset(&s->c2s, 0, sizeof(s->c2s));
	memset(&s->s2c, 0, sizeof(s->s2c));
	/* every Query, Sync and FunctionCall is answered by one ReadyForQuery:
	 * more of the former than the latter means the upstream is busy */
	s->c2s.count_types = "QSF";
	s->s2c.count_types = "Z";
	log_info(s->tag, "session started: %s on %s as %s (grant %lld) from %s",
		 s->subject, s->resource, s->role,
		 (long long)s->grant.request_id, s->peer);
	session_audit(s, "session.started",
	      json_pack("{s:s, s:I, s:b, s:o}", "client", s->peer,
			"request_id", (json_int_t)s->grant.request_id, "tls",
			s->c_tls, "application_name", canon_string(app ? app : "")));
	if (session_relay_direct(s) != 0) {
		session_close(s, "out of memory");
		return JG_ERR_NOMEM;
	}
	relay_read(s, s->cbev, true);
	return 0;
}

/* --- relay ------------------------------------------------------------- */

/* JSON text of n bytes that may not be UTF-8 (client_encoding): bytes of
 * an invalid sequence become '?'.  NULL only when out of memory. */
static json_t *text_json(const uint8_t *p, size_t n)
{
	json_t *j = json_stringn((const char *)p, n);
	char *copy;

	if (j)
		return j;
	copy = malloc(n + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i < n; i++)
		copy[i] = p[i] < 0x80 && p[i] != 0 ? (char)p[i] : '?';
	j = json_stringn(copy, n);
	free(copy);
	return j;
}

/* Length of the longest prefix of p[0..n) that does not end inside a
 * UTF-8 sequence (for a cut made by length). */
static size_t utf8_cut(const uint8_t *p, size_t n)
{
	size_t lead = n, need;

	/* back over up to 3 continuation bytes to the last lead byte */
	while (lead > 0 && n - lead < 3 && (p[lead - 1] & 0xc0) == 0x80)
		lead--;
	if (lead == 0)
		return n;
	lead--;
	if (p[lead] < 0x80)
		return n;
	need = (p[lead] & 0xe0) == 0xc0 ? 2 : (p[lead] & 0xf0) == 0xe0 ? 3 :
	       (p[lead] & 0xf8) == 0xf0 ? 4 : 1;
	return n - lead >= need ? n : lead;
}

/* detail of a Query or Parse: the statement text (cut at
 * SESSION_QUERY_TEXT_MAX), the statement name of a Parse (cut at
 * PGPROTO_CAPTURE_NAME_MAX by the framer). */
static json_t *statement_detail(uint8_t type, const uint8_t *cap,
				size_t caplen)
{
	const uint8_t *text = cap, *name = NULL;
	size_t avail = caplen, tl, nl = 0;
	bool truncated;

	if (type == 'P') {
		nl = strnlen((const char *)cap, caplen);
		name = cap;
		text = nl < caplen ? cap + nl + 1 : cap + caplen;
		avail = nl < caplen ? caplen - nl - 1 : 0;
	}
	tl = strnlen((const char *)text, avail);
	/* a whole statement ends with its NUL inside the capture */
	truncated = tl == avail;
	if (tl > SESSION_QUERY_TEXT_MAX) {
		tl = SESSION_QUERY_TEXT_MAX;
		truncated = true;
	}
	if (truncated)
		tl = utf8_cut(text, tl);
	return json_pack("{s:o*, s:b, s:s, s:o*}", "statement",
			 text_json(text, tl), "truncated", truncated,
			 "protocol", type == 'Q' ? "simple" : "extended",
			 "name", name ? text_json(name, utf8_cut(name, nl)) :
			 json_string(""));
}

/* The framer's report of one complete statement message (Query, Parse,
 * FunctionCall): exactly one session.query each.  When the writer is
 * behind, the event is queued all the same and the framer holds right
 * after this message: nothing more is relayed until the writer caught up
 * (session_audit_resume). */
static void record_statement(void *arg, uint8_t type, const uint8_t *cap,
			     size_t caplen, uint32_t bodylen)
{
	struct session *s = arg;
	json_t *detail;

	(void)bodylen;
	if (type == 'F')
		detail = caplen >= 4 ?
			 json_pack("{s:I, s:s}", "function_oid",
				   (json_int_t)pgproto_be32(cap), "protocol",
				   "function") :
			 json_pack("{s:n, s:s}", "function_oid", "protocol",
				   "function");
	else
		detail = statement_detail(type, cap, caplen);
	if (!detail) {
		/* no event, so the statement must not run: stop here */
		s->audit_failed = true;
		s->c2s.hold = true;
		return;
	}
	if (session_audit(s, "session.query", detail))
		s->c2s.hold = true;
}

/* The descriptor relayed bytes may be written to straight, or -1 (a TLS
 * side: they go through its filter). */
static evutil_socket_t plain_fd(struct bufferevent *bev, struct event *rd,
				bool tls)
{
	if (tls || !bev)
		return -1;
	return rd ? event_get_fd(rd) : bufferevent_getfd(bev);
}

/* Writes up to n bytes of in straight to to_fd when nothing is queued in
 * out yet (plain sockets only), draining what was written; returns how
 * many.  Queuing in the output buffer first would make libevent arm a
 * write event, wake once more to find it empty and disarm it: two
 * epoll_ctl calls and a loop turn for every relayed message. */
static size_t write_through(struct evbuffer *in, struct evbuffer *out,
			    evutil_socket_t to_fd, size_t n)
{
	int w;

	if (to_fd < 0 || n == 0 || evbuffer_get_length(out) != 0)
		return 0;
	w = evbuffer_write_atmost(in, to_fd, (ev_ssize_t)n);
	return w > 0 ? (size_t)w : 0;
}

/* relay_move's part for the bytes just read (s->span, direct_side): the
 * framer walks them, what it passes is sent straight to to_fd when
 * nothing is queued there, else (or what the socket did not take)
 * queued in out; the rest stays in the span. */
static int relay_span(struct session *s, struct evbuffer *out,
		      evutil_socket_t to_fd, struct pgproto_framer *f,
		      bool stop_at_boundary, uint64_t *count)
{
	long c = pgproto_framer_feed(f, s->span, s->span_len, stop_at_boundary);
	size_t total, direct = 0;

	if (c < 0)
		return (int)c;
	total = (size_t)c;
	if (to_fd >= 0 && total > 0 && evbuffer_get_length(out) == 0) {
		ssize_t w = send(to_fd, s->span, total, MSG_NOSIGNAL);

		direct = w > 0 ? (size_t)w : 0;
	}
	if (total > direct &&
	    evbuffer_add(out, s->span + direct, total - direct) != 0)
		return JG_ERR_NOMEM;
	s->span += total;
	s->span_len -= total;
	*count += total;
	return (stop_at_boundary || f->hold) && pgproto_framer_at_boundary(f) ?
	       1 : 0;
}

/* Moves whole input of from to to, walking message boundaries with f:
 * first what waits in from's input buffer, then the bytes just read when
 * they are from's (s->span).  With stop_at_boundary moves only up to the
 * first boundary and returns 1 when it got there; the same (without
 * stop_at_boundary) when the framer's on_msg held it.  Negative on a
 * malformed stream. */
static int relay_move(struct session *s, struct bufferevent *from,
		      struct bufferevent *to, evutil_socket_t to_fd,
		      struct pgproto_framer *f, bool stop_at_boundary,
		      uint64_t *count)
{
	struct evbuffer *in = bufferevent_get_input(from);
	struct evbuffer *out = bufferevent_get_output(to);

	if ((stop_at_boundary || f->hold) && pgproto_framer_at_boundary(f))
		return 1;
	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v[8];
		size_t total = 0;
		bool stopped = false;
		int n = evbuffer_peek(in, -1, NULL, v, 8);

		if (n > 8)
			n = 8;
		for (int i = 0; i < n; i++) {
			long c = pgproto_framer_feed(f, v[i].iov_base,
						     v[i].iov_len,
						     stop_at_boundary);

			if (c < 0)
				return (int)c;
			total += (size_t)c;
			if ((stop_at_boundary || f->hold) &&
			    pgproto_framer_at_boundary(f)) {
				stopped = true;
				break;
			}
		}
		{
			size_t direct = write_through(in, out, to_fd, total);

			*count += direct;
			total -= direct;
		}
		if (total > 0 && evbuffer_remove_buffer(in, out, total) != (int)total)
			return JG_ERR_NOMEM;
		*count += total;
		if (stopped)
			return 1;
	}
	if (s->span_bev == from && s->span_len > 0)
		return relay_span(s, out, to_fd, f, stop_at_boundary, count);
	return 0;
}

void session_relay_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->state != SS_RELAY)
		return;
	/* the side we write to drained: resume reading its peer */
	if (bev == s->cbev && s->u_paused) {
		s->u_paused = false;
		relay_read(s, s->ubev, true);
	} else if (bev == s->ubev && s->c_paused) {
		s->c_paused = false;
		if (!s->audit_wait)
			relay_read(s, s->cbev, true);
	}
}

/* Relays what the client sent, up to a statement whose audit event made
 * the framer hold. */
static void client_relay(struct session *s)
{
	int rc;

	if (s->audit_queries && !s->c2s.on_msg) {
		/* the messages that submit a statement (design section 9);
		 * Bind, Execute, Describe, Sync, Flush, Close, CopyData do not */
		s->c2s.capture_types = "QPF";
		s->c2s.on_msg = record_statement;
		s->c2s.arg = s;
	}
	rc = relay_move(s, s->cbev, s->ubev, plain_fd(s->ubev, s->u_rd, s->up_tls),
			&s->c2s, false, &s->bytes_in);
	if (rc < 0) {
		session_fatal(s, "08P01", "jitgate: malformed message",
			      "protocol violation");
		return;
	}
	session_flush_now(s->ubev, s->up_tls);
	if (s->audit_failed) {
		/* the statement that could not be audited was not relayed */
		session_fatal(s, "53200", "jitgate: cannot audit the statement",
			      "audit failed");
		return;
	}
	if (rc == 1 && s->c2s.hold) {
		/* the audit writer is behind: read nothing more from this
		 * client until it has caught up */
		if (!s->audit_wait) {
			s->audit_wait = true;
			s->gw->naudit_wait++;
		}
		relay_read(s, s->cbev, false);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(s->ubev)) >=
	    SESSION_RELAY_HIGH) {
		s->c_paused = true;
		relay_read(s, s->cbev, false);
	}
}

void session_audit_resume(struct gw_ctx *gw)
{
	/* closed sessions stay linked until reaped, so s->next stays valid
	 * whatever client_relay closes */
	for (struct session *s = gw->all; s && gw->naudit_wait > 0; s = s->next) {
		if (!s->audit_wait)
			continue;
		s->audit_wait = false;
		gw->naudit_wait--;
		if (s->state != SS_RELAY)
			continue;
		s->c2s.hold = false;
		client_relay(s);
		if (s->state == SS_RELAY && !s->audit_wait && !s->c_paused)
			relay_read(s, s->cbev, true);
	}
}

static void client_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	switch (s->state) {
	case SS_STARTUP:
		client_read_startup(s);
		/* a client may send its password right behind the startup
		 * packet: it is already read, no new event will come for it */
		if (s->state == SS_PASSWORD)
			client_read_password(s);
		return;
	case SS_PASSWORD:
		client_read_password(s);
		return;
	case SS_RELAY:
		if (!s->audit_wait)
			client_relay(s);
		return;
	default:
		return; /* leave it buffered */
	}
}

void session_upstream_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	int rc;
	uint8_t c;

	(void)bev;
	switch (s->state) {
	case SS_UP_SSL:
		if (bufferevent_read(s->ubev, &c, 1) != 1)
			return;
		if (c == 'S')
			upstream_start_tls(s);
		else
			upstream_fail(s, "upstream does not offer TLS");
		return;
	case SS_UP_AUTH:
	case SS_UP_PARAMS:
		if (upstream_login_msgs(s) != 0)
			return;
		if (s->state == SS_RELAY)
			break;
		/* ParameterStatus and notices go on to the client during the
		 * login: an upstream that sends them without end to a client
		 * that reads nothing must not fill our memory */
		if (s->cbev && evbuffer_get_length(bufferevent_get_output(s->cbev)) >
		    SESSION_LOGIN_OUT_MAX)
			upstream_fail(s, "upstream sent too much during the login");
		return;
	case SS_RELAY:
		break;
	case SS_CUTTING:
		rc = relay_move(s, s->ubev, s->cbev,
				plain_fd(s->cbev, s->c_rd, s->c_tls), &s->s2c, true,
				&s->bytes_out);
		if (rc < 0)
			session_close(s, s->cut_why);
		else if (rc == 1)
			cut_now(s);
		return;
	default:
		return;
	}
	rc = relay_move(s, s->ubev, s->cbev, plain_fd(s->cbev, s->c_rd, s->c_tls),
			&s->s2c, false, &s->bytes_out);
	if (rc < 0) {
		session_close(s, "malformed upstream stream");
		return;
	}
	session_flush_now(s->cbev, s->c_tls);
	if (evbuffer_get_length(bufferevent_get_output(s->cbev)) >=
	    SESSION_RELAY_HIGH) {
		s->u_paused = true;
		relay_read(s, s->ubev, false);
	}
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(s->cbev);

		if (e)
			log_info(s->tag, "client TLS: %s",
				 ERR_reason_error_string(e));
	}
	session_close(s, (what & BEV_EVENT_EOF) ? "client closed" :
		     "client error");
}

void session_upstream_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (s->state == SS_UP_CONNECT)
			upstream_connected(s);
		return;
	}
	if (s->state < SS_RELAY) {
		upstream_fail(s, (what & BEV_EVENT_EOF) ?
			      "upstream closed the connection" :
			      "cannot reach upstream");
		return;
	}
	if (s->state == SS_CUTTING) {
		session_close(s, s->cut_why);
		return;
	}
	/* The client's Terminate went up and the backend exited on it before
	 * the client's own close reached us: the client ended the session. */
	if (s->c2s.nmsgs > 0 && pgproto_framer_at_boundary(&s->c2s) &&
	    s->c2s.type == 'X') {
		session_close(s, "client closed");
		return;
	}
	/* whatever it sent before closing is already queued to the client */
	session_close(s, (what & BEV_EVENT_EOF) ? "upstream closed" :
		     "upstream error");
}

/* --- cancel ----------------------------------------------------------- */

