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
	size_t n = 0;

	for (const struct session *s = gw->all; s; s = s->next)
		n++;
	return n;
}

/* --- closing ------------------------------------------------------------ */

void session_audit(struct session *s, const char *action, json_t *detail)
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
void session_free(struct session *s, const char *why)
{
	struct gw_ctx *gw = s->gw;

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
	if (s->prev)
		s->prev->next = s->next;
	else
		gw->all = s->next;
	if (s->next)
		s->next->prev = s->prev;
	closer_after_flush(gw, s->cbev, false);
	closer_after_flush(gw, s->ubev, s->admitted);
	if (s->deadline_ev)
		event_free(s->deadline_ev);
	if (s->timeout_ev)
		event_free(s->timeout_ev);
	upstream_release(s);
	pgproto_startup_clear(&s->startup);
	free(s);
}

/* Writes what is queued for a plain-socket peer at once instead of on the
 * next loop turn: one loop iteration less latency per relayed message, and
 * when many sessions are cut together every FATAL is on its socket before
 * any upstream backend wakes up to exit. */
static void session_flush_now(struct bufferevent *bev, bool tls)
{
	struct evbuffer *out;

	if (!bev || tls)
		return;
	out = bufferevent_get_output(bev);
	if (evbuffer_get_length(out) > 0)
		(void)evbuffer_write(out, bufferevent_getfd(bev));
}

/* Sends the client a FATAL and closes both sides.  Only valid where the
 * client stream sits on a message boundary (everything before relay, or
 * relay with the s2c framer at a boundary). */
void session_fatal(struct session *s, const char *sqlstate,
			  const char *msg, const char *why)
{
	if (s->cbev &&
	    pgproto_put_error(bufferevent_get_output(s->cbev), false, "FATAL",
			      sqlstate, msg) != 0)
		log_warn(s->tag, "cannot queue FATAL");
	session_flush_now(s->cbev, s->c_tls);
	/* A statement still running upstream would go on after the cut (the
	 * backend reads no Terminate while it executes): cancel it. */
	if (s->state >= SS_RELAY && s->c2s.ncounted > s->s2c.ncounted)
		cancel_send(s->gw, s);
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

/* --- client startup ----------------------------------------------------- */

int session_set_nodelay(struct bufferevent *bev)
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
		session_free(s, "out of memory");
		return NULL;
	}
	/* peers (psql, PostgreSQL) often close without close_notify */
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	return tls;
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
	if (upstream_prepare(s, res, rc) != 0) {
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

void session_start_relay(struct session *s)
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
	session_audit(s, "session.started",
	      json_pack("{s:s, s:I, s:b, s:s}", "client", s->peer,
			"request_id", (json_int_t)s->grant.request_id, "tls",
			s->c_tls, "application_name", app ? app : ""));
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
	session_audit(s, "session.query",
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

void session_relay_write(struct bufferevent *bev, void *arg)
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
	session_flush_now(s->ubev, s->up_tls);
	if (evbuffer_get_length(bufferevent_get_output(s->ubev)) >=
	    SESSION_RELAY_HIGH) {
		s->c_paused = true;
		bufferevent_disable(s->cbev, EV_READ);
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
	session_flush_now(s->cbev, s->c_tls);
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
		session_free(s, s->cut_why);
		return;
	}
	/* whatever it sent before closing is already queued to the client */
	session_free(s, (what & BEV_EVENT_EOF) ? "upstream closed" :
		     "upstream error");
}

/* --- cancel ----------------------------------------------------------- */

