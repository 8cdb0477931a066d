#include "gateway/session.h"

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

#define NAME_MAX_LEN 128

enum session_state {
	SS_STARTUP,    /* reading SSLRequest / startup packet from the client */
	SS_PASSWORD,   /* asked for the cleartext password (the token) */
	SS_UP_CONNECT, /* admitted; TCP connect to the upstream */
	SS_UP_SSL,     /* sent SSLRequest upstream, awaiting 'S' or 'N' */
	SS_UP_AUTH,    /* startup sent upstream, answering its auth requests */
	SS_UP_PARAMS,  /* upstream said AuthenticationOk; relaying its
			  ParameterStatus/BackendKeyData up to ReadyForQuery */
	SS_RELAY,      /* byte relay in both directions */
	SS_CUTTING,    /* grant ended mid server message: finish that message */
};

struct session {
	struct gw_ctx *gw;
	struct session *next, *prev; /* gw->all */
	struct registry_link by_request, by_cancel;
	uint64_t id;
	char tag[24];
	enum session_state state;
	struct bufferevent *cbev, *ubev;
	bool c_tls, loopback, admitted;
	bool c_paused, u_paused;
	char peer[INET6_ADDRSTRLEN + 8];

	struct pgproto_startup startup;
	char subject[SUBJECT_NAME_MAX];
	char resource[NAME_MAX_LEN];
	char role[NAME_MAX_LEN];
	struct gateway_grant grant;

	/* copied from the config at admission: a reload may free it */
	char *up_host, *up_dbname, *up_user, *password_env;
	int up_port;
	bool up_tls, audit_queries;

	struct scram *scram;
	uint32_t up_pid, up_key, my_pid, my_key;
	struct pgproto_framer c2s, s2c;
	uint64_t bytes_in, bytes_out;
	int64_t started_ms;
	struct event *deadline_ev; /* grant expiry */
	struct event *timeout_ev;  /* login timeout, then cut grace */
	char cut_sqlstate[6];
	char cut_msg[320];
	char cut_why[32];
};

static void session_free(struct session *s, const char *why);
static void client_read(struct bufferevent *bev, void *arg);
static void client_event(struct bufferevent *bev, short what, void *arg);
static void upstream_read(struct bufferevent *bev, void *arg);
static void upstream_event(struct bufferevent *bev, short what, void *arg);
static void relay_write(struct bufferevent *bev, void *arg);

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
	size_t n = 0;

	for (const struct session *s = gw->all; s; s = s->next)
		n++;
	return n;
}

/* --- closing ------------------------------------------------------------ */

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

static void closer_start(evutil_socket_t fd, short what, void *arg)
{
	struct closer *c = arg;
	struct timeval tv = {SESSION_FLUSH_TIMEOUT_MS / 1000, 0};

	(void)fd;
	(void)what;
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Hands bev over to be freed once its output is written (bounded).  With
 * defer, writing starts only after SESSION_UPSTREAM_DEFER_MS: when many
 * sessions are cut at once, the upstream backends that a Terminate makes
 * exit would otherwise compete for the CPU with the clients reading their
 * FATAL.  The client is already gone, so nothing reaches the upstream
 * session in the meantime. */
static void bev_close_after_flush(struct gw_ctx *gw, struct bufferevent *bev,
				  bool defer)
{
	struct timeval tv = {SESSION_FLUSH_TIMEOUT_MS / 1000, 0};
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
	bufferevent_setcb(bev, closer_read, closer_write, closer_event, c);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	if (defer) {
		bufferevent_disable(bev, EV_READ | EV_WRITE);
		c->start = evtimer_new(bufferevent_get_base(bev), closer_start, c);
		if (c->start && evtimer_add(c->start, &later) == 0)
			return;
	}
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void audit(struct session *s, const char *action, json_t *detail)
{
	const struct gateway_hooks *h = &s->gw->hooks;

	if (!h->audit) {
		json_decref(detail);
		return;
	}
	h->audit(h->ctx, action, s->subject[0] ? s->subject : NULL,
		 s->resource[0] ? s->resource : NULL,
		 s->role[0] ? s->role : NULL, s->grant.request_id, detail);
}

/* Frees the session at once; bytes already queued to either side are still
 * delivered by the closers. */
static void session_free(struct session *s, const char *why)
{
	struct gw_ctx *gw = s->gw;

	if (s->admitted) {
		audit(s, "session.ended",
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
	if (s->prev)
		s->prev->next = s->next;
	else
		gw->all = s->next;
	if (s->next)
		s->next->prev = s->prev;
	bev_close_after_flush(gw, s->cbev, false);
	bev_close_after_flush(gw, s->ubev, s->admitted);
	if (s->deadline_ev)
		event_free(s->deadline_ev);
	if (s->timeout_ev)
		event_free(s->timeout_ev);
	scram_free(s->scram);
	pgproto_startup_clear(&s->startup);
	free(s->up_host);
	free(s->up_dbname);
	free(s->up_user);
	free(s->password_env);
	free(s);
}

/* Writes what is queued for a plain-socket peer at once instead of on the
 * next loop turn: one loop iteration less latency per relayed message, and
 * when many sessions are cut together every FATAL is on its socket before
 * any upstream backend wakes up to exit. */
static void flush_now(struct bufferevent *bev, bool tls)
{
	struct evbuffer *out;

	if (!bev || tls)
		return;
	out = bufferevent_get_output(bev);
	if (evbuffer_get_length(out) > 0)
		(void)evbuffer_write(out, bufferevent_getfd(bev));
}

static void send_cancel(struct gw_ctx *gw, const struct session *t);

/* Sends the client a FATAL and closes both sides.  Only valid where the
 * client stream sits on a message boundary (everything before relay, or
 * relay with the s2c framer at a boundary). */
static void session_fatal(struct session *s, const char *sqlstate,
			  const char *msg, const char *why)
{
	if (s->cbev &&
	    pgproto_put_error(bufferevent_get_output(s->cbev), false, "FATAL",
			      sqlstate, msg) != 0)
		log_warn(s->tag, "cannot queue FATAL");
	flush_now(s->cbev, s->c_tls);
	/* A statement still running upstream would go on after the cut (the
	 * backend reads no Terminate while it executes): cancel it. */
	if (s->state >= SS_RELAY && s->c2s.ncounted > s->s2c.ncounted)
		send_cancel(s->gw, s);
	/* A Terminate is only well-formed between two client messages. */
	if (s->ubev && s->state >= SS_RELAY &&
	    pgproto_framer_at_boundary(&s->c2s) &&
	    pgproto_put_msg(bufferevent_get_output(s->ubev), 'X', NULL, 0) != 0)
		log_warn(s->tag, "cannot queue Terminate");
	session_free(s, why);
}

/* Refuses a login: FATAL to the client plus an audit event. */
static void session_refuse(struct session *s, const char *sqlstate,
			   const char *action, const char *reason,
			   const char *msg)
{
	log_info(s->tag, "refused %s from %s: %s", s->subject[0] ?
		 s->subject : "-", s->peer, reason);
	audit(s, action, json_pack("{s:s, s:s, s:s}", "via", "gateway",
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
	if (s->state == SS_CUTTING) {
		/* the upstream stalled inside a message: a FATAL now would be
		 * read as part of it, so close without one */
		session_free(s, s->cut_why);
		return;
	}
	if (s->state < SS_RELAY)
		session_refuse(s, "08006", "check.denied", "login_timeout",
			       "jitgate: login did not complete in time");
}

static void session_cut(struct session *s, const char *why, const char *msg)
{
	struct timeval tv = {SESSION_CUT_GRACE_MS / 1000,
			     (SESSION_CUT_GRACE_MS % 1000) * 1000};

	snprintf(s->cut_sqlstate, sizeof(s->cut_sqlstate), "57P01");
	snprintf(s->cut_why, sizeof(s->cut_why), "%s", why);
	snprintf(s->cut_msg, sizeof(s->cut_msg), "%s", msg);
	log_info(s->tag, "cutting session of %s on %s as %s: %s", s->subject,
		 s->resource, s->role, why);
	if (s->state != SS_RELAY || pgproto_framer_at_boundary(&s->s2c)) {
		cut_now(s);
		return;
	}
	/* mid server message: let the rest of it through, then cut */
	s->state = SS_CUTTING;
	bufferevent_disable(s->cbev, EV_READ);
	bufferevent_enable(s->ubev, EV_READ);
	s->u_paused = false;
	evtimer_add(s->timeout_ev, &tv);
	upstream_read(s->ubev, s);
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

static void arm_deadline(struct session *s)
{
	int64_t ms = s->grant.expires_at_ms - time_now_ms();
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	/* The kernel lets a long epoll_wait oversleep by 0.1% of its timeout
	 * (up to 100 ms): wake a second early and re-arm for the rest, so the
	 * last sleep is short and the cut lands within a millisecond or two. */
	if (ms > 2000)
		ms -= 1000;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(s->deadline_ev, &tv);
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
	arm_deadline(s);
	return true;
}

static void end_of_grant(struct session *s, const char *why)
{
	char msg[320];

	if (s->state == SS_CUTTING || regrant(s, s->grant.request_id))
		return;
	format_cut(s, why, msg, sizeof(msg));
	session_cut(s, why, msg);
}

static void deadline_fired(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (time_now_ms() < s->grant.expires_at_ms) {
		arm_deadline(s); /* the early wake-up above, or clock skew */
		return;
	}
	/* the engine's expiry may not have reached the index yet: a grant
	 * past its expires_at no longer counts, whatever find_grant says */
	end_of_grant(s, "expired");
}

void session_grant_ended(struct gw_ctx *gw, int64_t request_id,
			 const char *why)
{
	struct registry_link *links[256];
	size_t n;

	/* cutting unlinks, so take batches until none is left; sessions that
	 * moved to another grant are relinked under another key */
	do {
		n = registry_find(gw->by_request, request_id, links, 256);
		for (size_t i = 0; i < n && i < 256; i++) {
			struct session *s = (struct session *)(void *)
				((char *)links[i] -
				 offsetof(struct session, by_request));

			if (s->state == SS_CUTTING) {
				registry_remove(&s->by_request);
				continue;
			}
			end_of_grant(s, why);
		}
	} while (n > 256);
}

void session_close_all(struct gw_ctx *gw)
{
	while (gw->all)
		session_fatal(gw->all, "57P01",
			      "jitgate: the gateway is shutting down",
			      "shutdown");
}

void session_free_closers(struct gw_ctx *gw)
{
	while (gw->closers)
		closer_done(gw->closers);
}

/* --- client startup ----------------------------------------------------- */

static int set_nodelay(struct bufferevent *bev)
{
	int one = 1;
	evutil_socket_t fd = bufferevent_getfd(bev);

	if (fd < 0)
		return 0;
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void session_accept(struct gw_ctx *gw, evutil_socket_t fd,
		    const struct sockaddr *sa, int salen)
{
	struct session *s = calloc(1, sizeof(*s));
	struct timeval tv = {SESSION_LOGIN_TIMEOUT_S, 0};
	char host[INET6_ADDRSTRLEN];
	int port = 0;

	(void)salen;
	if (!s) {
		evutil_closesocket(fd);
		return;
	}
	s->gw = gw;
	s->id = ++gw->next_id;
	snprintf(s->tag, sizeof(s->tag), "gw-%llu", (unsigned long long)s->id);
	s->loopback = session_addr_is_loopback(sa) && !gw->force_remote;
	host[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof(host));
		port = ntohs(in->sin6_port);
	}
	snprintf(s->peer, sizeof(s->peer), "%s:%d", host, port);
	s->cbev = bufferevent_socket_new(gw->base, fd, BEV_OPT_CLOSE_ON_FREE);
	s->deadline_ev = evtimer_new(gw->base, deadline_fired, s);
	s->timeout_ev = evtimer_new(gw->base, timeout_fired, s);
	s->next = gw->all;
	if (gw->all)
		gw->all->prev = s;
	gw->all = s;
	if (!s->cbev || !s->deadline_ev || !s->timeout_ev) {
		if (!s->cbev)
			evutil_closesocket(fd);
		session_free(s, "out of memory");
		return;
	}
	if (set_nodelay(s->cbev) != 0)
		log_debug(s->tag, "TCP_NODELAY: %s", strerror(errno));
	bufferevent_setcb(s->cbev, client_read, relay_write, client_event, s);
	bufferevent_enable(s->cbev, EV_READ);
	evtimer_add(s->timeout_ev, &tv);
}

static void start_client_tls(struct session *s)
{
	struct bufferevent *tls;
	SSL *ssl;

	/* bytes after the SSLRequest would be read as if they had come over
	 * TLS (CVE-2021-23214): refuse rather than trust them */
	if (evbuffer_get_length(bufferevent_get_input(s->cbev)) != 0) {
		session_free(s, "data after SSLRequest");
		return;
	}
	ssl = SSL_new(s->gw->tls_server);
	if (!ssl || bufferevent_write(s->cbev, "S", 1) != 0) {
		SSL_free(ssl);
		session_free(s, "out of memory");
		return;
	}
	tls = bufferevent_openssl_filter_new(s->gw->base, s->cbev, ssl,
					     BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (!tls) {
		SSL_free(ssl);
		session_free(s, "out of memory");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	s->cbev = tls;
	s->c_tls = true;
	bufferevent_setcb(tls, client_read, relay_write, client_event, s);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
}

static void handle_cancel(struct session *s, uint32_t pid, uint32_t key);

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
		session_free(s, "out of memory");
		return;
	}
	s->state = SS_PASSWORD;
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
			session_free(s, "bad startup packet length");
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
			if (s->c_tls) {
				session_free(s, "SSLRequest inside TLS");
				return;
			}
			if (!s->gw->tls_server) {
				if (bufferevent_write(s->cbev, "N", 1) != 0)
					session_free(s, "write failed");
				continue;
			}
			start_client_tls(s);
			return;
		case PGPROTO_GSSENC_REQUEST:
			if (bufferevent_write(s->cbev, "N", 1) != 0) {
				session_free(s, "write failed");
				return;
			}
			continue;
		case PGPROTO_CANCEL_REQUEST:
			handle_cancel(s, st.cancel_pid, st.cancel_key);
			return;
		case PGPROTO_STARTUP:
			client_startup(s, &st);
			return;
		}
	}
}

/* --- admission ----------------------------------------------------------- */

static void upstream_connect(struct session *s);

static void admit(struct session *s, const char *password)
{
	const struct gateway_hooks *h = &s->gw->hooks;
	const struct resource_cfg *res;
	const struct role_cfg *rc;
	char reason[256], msg[1024];
	int err;

	reason[0] = '\0';
	err = h->authenticate(h->ctx, s->subject, password, reason,
			      sizeof(reason));
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
	s->up_host = strdup(res->host);
	s->up_dbname = strdup(res->dbname ? res->dbname : s->resource);
	s->up_user = strdup(rc->user);
	s->password_env = rc->password_env ? strdup(rc->password_env) : NULL;
	s->up_port = res->port ? res->port : 5432;
	s->up_tls = res->upstream_tls;
	s->audit_queries = res->audit_queries;
	if (!s->up_host || !s->up_dbname || !s->up_user ||
	    (rc->password_env && !s->password_env)) {
		session_free(s, "out of memory");
		return;
	}
	registry_insert(s->gw->by_request, &s->by_request,
			s->grant.request_id);
	arm_deadline(s);
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
		session_free(s, "read failed");
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

static void upstream_fail(struct session *s, const char *what)
{
	char msg[512];

	log_warn(s->tag, "upstream %s:%d for %s as %s: %s", s->up_host,
		 s->up_port, s->resource, s->role, what);
	snprintf(msg, sizeof(msg), "jitgate: cannot log in to %s as %s: %s",
		 s->resource, s->role, what);
	audit(s, "check.denied", json_pack("{s:s, s:s, s:s}", "via", "gateway",
					   "reason", "upstream_failed",
					   "client", s->peer));
	session_fatal(s, "08006", msg, "upstream login failed");
}

static int send_upstream_startup(struct session *s)
{
	const char *names[PGPROTO_STARTUP_PARAMS_MAX + 2];
	const char *values[PGPROTO_STARTUP_PARAMS_MAX + 2];
	size_t n = 0;

	names[n] = "user";
	values[n++] = s->up_user;
	names[n] = "database";
	values[n++] = s->up_dbname;
	for (size_t i = 0; i < s->startup.nparams; i++) {
		const char *k = s->startup.params[i].name;

		/* identity and protocol options are ours to set */
		if (strcmp(k, "user") == 0 || strcmp(k, "database") == 0 ||
		    strcmp(k, "replication") == 0 ||
		    strncmp(k, "_pq_.", 5) == 0)
			continue;
		names[n] = k;
		values[n++] = s->startup.params[i].value;
	}
	return pgproto_put_startup(bufferevent_get_output(s->ubev), names,
				   values, n);
}

static void upstream_connect(struct session *s)
{
	s->state = SS_UP_CONNECT;
	s->ubev = bufferevent_socket_new(s->gw->base, -1,
					 BEV_OPT_CLOSE_ON_FREE);
	if (!s->ubev) {
		session_free(s, "out of memory");
		return;
	}
	bufferevent_setcb(s->ubev, upstream_read, relay_write, upstream_event,
			  s);
	bufferevent_enable(s->ubev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect_hostname(s->ubev, s->gw->dns, AF_UNSPEC,
						s->up_host, s->up_port) != 0)
		upstream_fail(s, "cannot connect");
}

static void upstream_connected(struct session *s)
{
	uint8_t req[8];

	if (set_nodelay(s->ubev) != 0)
		log_debug(s->tag, "TCP_NODELAY: %s", strerror(errno));
	if (s->up_tls) {
		pgproto_put_be32(req, 8);
		pgproto_put_be32(req + 4, PGPROTO_SSL_CODE);
		if (bufferevent_write(s->ubev, req, sizeof(req)) != 0) {
			session_free(s, "out of memory");
			return;
		}
		s->state = SS_UP_SSL;
		return;
	}
	if (send_upstream_startup(s) != 0) {
		session_free(s, "out of memory");
		return;
	}
	s->state = SS_UP_AUTH;
}

static void upstream_start_tls(struct session *s)
{
	struct bufferevent *tls;
	struct in6_addr tmp;
	SSL *ssl;

	if (evbuffer_get_length(bufferevent_get_input(s->ubev)) != 0) {
		upstream_fail(s, "unexpected data after SSLRequest");
		return;
	}
	ssl = SSL_new(s->gw->tls_client);
	if (!ssl) {
		session_free(s, "out of memory");
		return;
	}
	if (inet_pton(AF_INET, s->up_host, &tmp) != 1 &&
	    inet_pton(AF_INET6, s->up_host, &tmp) != 1)
		SSL_set_tlsext_host_name(ssl, s->up_host);
	tls = bufferevent_openssl_filter_new(s->gw->base, s->ubev, ssl,
					     BUFFEREVENT_SSL_CONNECTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (!tls) {
		SSL_free(ssl);
		session_free(s, "out of memory");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	s->ubev = tls;
	bufferevent_setcb(tls, upstream_read, relay_write, upstream_event, s);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	if (send_upstream_startup(s) != 0) {
		session_free(s, "out of memory");
		return;
	}
	s->state = SS_UP_AUTH;
}

static int send_password_msg(struct session *s, const void *body, size_t len)
{
	return pgproto_put_msg(bufferevent_get_output(s->ubev), 'p', body, len);
}

/* Handles one AuthenticationRequest from the upstream. */
static int upstream_auth(struct session *s, const uint8_t *body, uint32_t len)
{
	const char *password;
	char buf[SCRAM_MSG_MAX + 64];
	size_t n;
	uint32_t code;
	int rc;

	if (len < 4)
		return JG_ERR_PARSE;
	code = pgproto_be32(body);
	if (code == 0)
		return 1; /* AuthenticationOk */
	if (code == 12) { /* SASLFinal */
		if (!s->scram ||
		    scram_verify_final(s->scram, (const char *)body + 4,
				       len - 4) != 0)
			return JG_ERR_AUTH;
		return 0;
	}
	password = s->password_env ? getenv(s->password_env) : NULL;
	if (!password) {
		log_error(s->tag, "upstream wants a password for role %s of "
			  "%s but $%s is not set", s->role, s->resource,
			  s->password_env ? s->password_env : "(none)");
		return JG_ERR_NOTFOUND;
	}
	switch (code) {
	case 3: /* cleartext */
		return send_password_msg(s, password, strlen(password) + 1);
	case 5: { /* md5 */
		char md5[36];

		if (len != 8)
			return JG_ERR_PARSE;
		scram_md5_password(s->up_user, password, body + 4, md5);
		rc = send_password_msg(s, md5, strlen(md5) + 1);
		OPENSSL_cleanse(md5, sizeof(md5));
		return rc;
	}
	case 10: { /* SASL: list of mechanisms */
		bool found = false;
		size_t i = 4;

		while (i < len && body[i]) {
			size_t l = strnlen((const char *)body + i, len - i);

			if (l == 13 && memcmp(body + i, "SCRAM-SHA-256", 13) == 0)
				found = true;
			i += l + 1;
		}
		if (!found || s->scram)
			return JG_ERR_AUTH;
		rc = scram_new(password, &s->scram);
		if (rc != 0)
			return rc;
		memcpy(buf, "SCRAM-SHA-256", 14);
		rc = scram_client_first(s->scram, buf + 18, sizeof(buf) - 18,
					&n);
		if (rc != 0)
			return rc;
		pgproto_put_be32((uint8_t *)buf + 14, (uint32_t)n);
		return send_password_msg(s, buf, 18 + n);
	}
	case 11: /* SASLContinue */
		if (!s->scram)
			return JG_ERR_AUTH;
		rc = scram_client_final(s->scram, (const char *)body + 4,
					len - 4, buf, sizeof(buf), &n);
		if (rc != 0)
			return rc;
		rc = send_password_msg(s, buf, n);
		OPENSSL_cleanse(buf, sizeof(buf));
		return rc;
	default:
		return JG_ERR_AUTH; /* GSS, SSPI, Kerberos: not supported */
	}
}

static void start_relay(struct session *s)
{
	const char *app = pgproto_startup_get(&s->startup, "application_name");

	s->state = SS_RELAY;
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
	audit(s, "session.started",
	      json_pack("{s:s, s:I, s:b, s:s}", "client", s->peer,
			"request_id", (json_int_t)s->grant.request_id, "tls",
			s->c_tls, "application_name", app ? app : ""));
}

/* Runs the login-phase messages the upstream sent.  Returns once the
 * input is exhausted, the relay started, or the session is gone (1). */
static int upstream_login_msgs(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->ubev);
	struct evbuffer *cout = bufferevent_get_output(s->cbev);

	while (s->state == SS_UP_AUTH || s->state == SS_UP_PARAMS) {
		uint8_t *p, type;
		uint32_t len;
		int rc;

		p = evbuffer_pullup(in, 5);
		if (!p)
			return 0;
		rc = pgproto_msg_header(p, 5, PGPROTO_LOGIN_MSG_MAX, &type,
					&len);
		if (rc < 0) {
			upstream_fail(s, "malformed message from upstream");
			return 1;
		}
		if (evbuffer_get_length(in) < 5 + (size_t)len)
			return 0;
		p = evbuffer_pullup(in, 5 + (ssize_t)len);
		if (type == 'E') {
			char code[8], m[256], msg[400];

			pgproto_error_field(p + 5, len, 'C', code, sizeof(code));
			pgproto_error_field(p + 5, len, 'M', m, sizeof(m));
			snprintf(msg, sizeof(msg), "upstream refused (%s): %s",
				 code, m);
			upstream_fail(s, msg);
			return 1;
		}
		if (s->state == SS_UP_AUTH) {
			if (type == 'R') {
				rc = upstream_auth(s, p + 5, len);
				if (rc < 0) {
					upstream_fail(s, rc == JG_ERR_NOTFOUND ?
						      "no upstream password configured" :
						      "upstream authentication failed");
					return 1;
				}
				if (rc == 1) {
					if (pgproto_put_auth(cout, 0, NULL, 0)) {
						session_free(s, "out of memory");
						return 1;
					}
					s->state = SS_UP_PARAMS;
				}
			} else if (type != 'N' && type != 'v') {
				upstream_fail(s, "unexpected message from upstream");
				return 1;
			}
			evbuffer_drain(in, 5 + len);
			continue;
		}
		/* SS_UP_PARAMS */
		if (type == 'K' && len == 8) {
			s->up_pid = pgproto_be32(p + 5);
			s->up_key = pgproto_be32(p + 9);
			evbuffer_drain(in, 5 + len);
			if (crypto_random(&s->my_pid, 4) != 0 ||
			    crypto_random(&s->my_key, 4) != 0) {
				session_free(s, "no randomness");
				return 1;
			}
			s->my_pid &= 0x7fffffff; /* looks like a pid to libpq */
			registry_insert(s->gw->by_cancel, &s->by_cancel,
					s->my_pid);
			if (pgproto_put_backend_key(cout, s->my_pid, s->my_key)) {
				session_free(s, "out of memory");
				return 1;
			}
			continue;
		}
		if (evbuffer_remove_buffer(in, cout, 5 + len) != (int)(5 + len)) {
			session_free(s, "out of memory");
			return 1;
		}
		if (type == 'Z') {
			start_relay(s);
			bufferevent_enable(s->cbev, EV_READ);
		}
	}
	return 0;
}

/* --- relay ------------------------------------------------------------- */

static void record_query(void *arg, uint8_t type, const uint8_t *prefix,
			 size_t plen, uint32_t bodylen)
{
	struct session *s = arg;
	const uint8_t *text = prefix;
	size_t avail = plen, tl;
	bool truncated;
	char name[64] = "";
	json_t *j;

	if (type == 'P') {
		size_t nl = strnlen((const char *)prefix, plen);

		if (nl == plen)
			return; /* a statement name over our capture: skip */
		snprintf(name, sizeof(name), "%.*s", (int)nl, prefix);
		text = prefix + nl + 1;
		avail = plen - nl - 1;
	}
	tl = strnlen((const char *)text, avail);
	truncated = tl == avail && plen < bodylen;
	if (tl > SESSION_QUERY_TEXT_MAX) {
		tl = SESSION_QUERY_TEXT_MAX;
		truncated = true;
	}
	/* do not split a UTF-8 sequence at the cut */
	if (truncated)
		while (tl > 0 && (text[tl] & 0xc0) == 0x80)
			tl--;
	j = json_stringn((const char *)text, tl);
	if (!j) { /* not UTF-8 (client_encoding): keep it readable */
		char *copy = malloc(tl + 1);

		if (!copy)
			return;
		for (size_t i = 0; i < tl; i++)
			copy[i] = text[i] < 0x80 ? (char)text[i] : '?';
		j = json_stringn(copy, tl);
		free(copy);
	}
	audit(s, "session.query",
	      json_pack("{s:o, s:b, s:s, s:s}", "statement", j, "truncated",
			truncated, "protocol", type == 'Q' ? "simple" :
			"extended", "name", name));
}

/* Writes up to n bytes of in straight to to's socket when nothing is queued
 * there yet (plain sockets only), draining what was written; returns how
 * many.  Queuing in the output buffer first would make libevent arm a write
 * event, wake once more to find it empty and disarm it: two epoll_ctl calls
 * and a loop turn for every relayed message. */
static size_t write_through(struct evbuffer *in, struct bufferevent *to,
			    bool to_plain, size_t n)
{
	int w;

	if (!to_plain || n == 0 ||
	    evbuffer_get_length(bufferevent_get_output(to)) != 0)
		return 0;
	w = evbuffer_write_atmost(in, bufferevent_getfd(to), (ev_ssize_t)n);
	return w > 0 ? (size_t)w : 0;
}

/* Moves whole input of from to to, walking message boundaries with f.
 * With stop_at_boundary moves only up to the first boundary and returns
 * 1 when it got there.  Negative on a malformed stream. */
static int relay_move(struct bufferevent *from, struct bufferevent *to,
		      bool to_plain, struct pgproto_framer *f,
		      bool stop_at_boundary, uint64_t *count)
{
	struct evbuffer *in = bufferevent_get_input(from);
	struct evbuffer *out = bufferevent_get_output(to);

	if (stop_at_boundary && pgproto_framer_at_boundary(f))
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
			if (stop_at_boundary && pgproto_framer_at_boundary(f)) {
				stopped = true;
				break;
			}
		}
		{
			size_t direct = write_through(in, to, to_plain, total);

			*count += direct;
			total -= direct;
		}
		if (total > 0 && evbuffer_remove_buffer(in, out, total) != (int)total)
			return JG_ERR_NOMEM;
		*count += total;
		if (stopped)
			return 1;
	}
	return 0;
}

static void relay_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->state != SS_RELAY)
		return;
	/* the side we write to drained: resume reading its peer */
	if (bev == s->cbev && s->u_paused) {
		s->u_paused = false;
		bufferevent_enable(s->ubev, EV_READ);
	} else if (bev == s->ubev && s->c_paused) {
		s->c_paused = false;
		bufferevent_enable(s->cbev, EV_READ);
	}
}

static void client_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	int rc;

	(void)bev;
	switch (s->state) {
	case SS_STARTUP:
		client_read_startup(s);
		return;
	case SS_PASSWORD:
		client_read_password(s);
		return;
	case SS_RELAY:
		break;
	default:
		return; /* leave it buffered */
	}
	if (s->audit_queries && !s->c2s.on_msg) {
		s->c2s.capture_types = "QP";
		s->c2s.on_msg = record_query;
		s->c2s.arg = s;
	}
	rc = relay_move(s->cbev, s->ubev, !s->up_tls, &s->c2s, false, &s->bytes_in);
	if (rc < 0) {
		session_fatal(s, "08P01", "jitgate: malformed message",
			      "protocol violation");
		return;
	}
	flush_now(s->ubev, s->up_tls);
	if (evbuffer_get_length(bufferevent_get_output(s->ubev)) >=
	    SESSION_RELAY_HIGH) {
		s->c_paused = true;
		bufferevent_disable(s->cbev, EV_READ);
	}
}

static void upstream_read(struct bufferevent *bev, void *arg)
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
		if (upstream_login_msgs(s) != 0 || s->state != SS_RELAY)
			return;
		break;
	case SS_RELAY:
		break;
	case SS_CUTTING:
		rc = relay_move(s->ubev, s->cbev, !s->c_tls, &s->s2c, true,
				&s->bytes_out);
		if (rc < 0)
			session_free(s, s->cut_why);
		else if (rc == 1)
			cut_now(s);
		return;
	default:
		return;
	}
	rc = relay_move(s->ubev, s->cbev, !s->c_tls, &s->s2c, false, &s->bytes_out);
	if (rc < 0) {
		session_free(s, "malformed upstream stream");
		return;
	}
	flush_now(s->cbev, s->c_tls);
	if (evbuffer_get_length(bufferevent_get_output(s->cbev)) >=
	    SESSION_RELAY_HIGH) {
		s->u_paused = true;
		bufferevent_disable(s->ubev, EV_READ);
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
	session_free(s, (what & BEV_EVENT_EOF) ? "client closed" :
		     "client error");
}

static void upstream_event(struct bufferevent *bev, short what, void *arg)
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
		session_free(s, s->cut_why);
		return;
	}
	/* whatever it sent before closing is already queued to the client */
	session_free(s, (what & BEV_EVENT_EOF) ? "upstream closed" :
		     "upstream error");
}

/* --- cancel ----------------------------------------------------------- */

struct cancel_req {
	struct gw_ctx *gw;
	uint8_t msg[16];
};

static void cancel_event(struct bufferevent *bev, short what, void *arg)
{
	struct cancel_req *req = arg;
	struct gw_ctx *gw = req->gw;

	if ((what & BEV_EVENT_CONNECTED) &&
	    bufferevent_write(bev, req->msg, 16) == 0) {
		free(req);
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		bev_close_after_flush(gw, bev, false);
		return;
	}
	free(req);
	bufferevent_free(bev);
}

/* Opens a connection to t's upstream and sends it a CancelRequest with
 * the upstream's own key (best effort: failures are only logged). */
static void send_cancel(struct gw_ctx *gw, const struct session *t)
{
	struct timeval tv = {5, 0};
	struct cancel_req *req = calloc(1, sizeof(*req));
	struct bufferevent *bev = bufferevent_socket_new(gw->base, -1, BEV_OPT_CLOSE_ON_FREE);

	if (!req || !bev) {
		free(req);
		if (bev)
			bufferevent_free(bev);
		log_warn(t->tag, "cannot send a cancel upstream: out of memory");
		return;
	}
	req->gw = gw;
	pgproto_put_be32(req->msg, 16);
	pgproto_put_be32(req->msg + 4, PGPROTO_CANCEL_CODE);
	pgproto_put_be32(req->msg + 8, t->up_pid);
	pgproto_put_be32(req->msg + 12, t->up_key);
	bufferevent_setcb(bev, NULL, NULL, cancel_event, req);
	bufferevent_set_timeouts(bev, &tv, &tv);
	if (bufferevent_socket_connect_hostname(bev, gw->dns, AF_UNSPEC, t->up_host,
						t->up_port) != 0) {
		free(req);
		bufferevent_free(bev);
		log_warn(t->tag, "cannot send a cancel upstream");
	}
}

static void handle_cancel(struct session *s, uint32_t pid, uint32_t key)
{
	struct registry_link *l[4];
	struct session *t = NULL;
	size_t n = registry_find(s->gw->by_cancel, (int64_t)pid, l, 4);

	for (size_t i = 0; i < n && i < 4; i++) {
		struct session *c = (struct session *)(void *)
			((char *)l[i] - offsetof(struct session, by_cancel));

		if (crypto_ct_equal(&c->my_key, &key, sizeof(key)))
			t = c;
	}
	/* like PostgreSQL: the canceller learns nothing either way */
	if (!t || t->state != SS_RELAY) {
		session_free(s, "cancel request with unknown key");
		return;
	}
	log_info(t->tag, "cancel request from %s", s->peer);
	send_cancel(s->gw, t);
	session_free(s, "cancel request forwarded");
}
