/* Internals shared by the session modules of the gateway (session.c: the
 * client side and the relay; upstream.c: the login upstream; closer.c:
 * connections flushing their last bytes; cancel.c: CancelRequest).  Not
 * for use outside src/gateway. */
#ifndef JG_GATEWAY_SESSION_INT_H
#define JG_GATEWAY_SESSION_INT_H

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/principal.h"
#include "gateway/pgproto.h"
#include "gateway/scram.h"
#include "gateway/session.h"

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
	SS_CLOSED,     /* closed: nothing runs on it, freed by session_reap */
};

struct session {
	struct gw_ctx *gw;
	struct session *next, *prev; /* gw->all */
	struct session *reap_next;   /* gw->reap, once closed */
	struct registry_link by_request, by_cancel;
	uint64_t id;
	char tag[24];
	enum session_state state; /* changed by session_set_state only */
	struct bufferevent *cbev, *ubev;
	bool c_tls, loopback, admitted;
	bool authenticated; /* the password verified as subject's */
	bool c_paused, u_paused;
	bool audit_wait;          /* client not read: the audit writer is behind */
	bool audit_failed;        /* an event could not be made: fail closed */
	bool preauth;             /* counted in gw->preauth_by_addr */
	bool ssl_seen, gssenc_seen; /* one of each per connection */
	bool fatal_sent;          /* the FATAL is queued: one per session */
	struct connlimit_addr addr;
	char peer[INET6_ADDRSTRLEN + 8];

	struct pgproto_startup startup;
	char subject[SUBJECT_NAME_MAX];
	char resource[NAME_MAX_LEN];
	char role[NAME_MAX_LEN];
	struct gateway_grant grant;

	/* copied from the config at admission (upstream_prepare): a reload
	 * may free it */
	char *up_host, *up_dbname, *up_user, *password_env;
	int up_port;
	bool up_tls, audit_queries;
	enum upstream_tls_mode up_tls_mode;
	char *up_server_name;  /* verify-full: the name to check */
	X509_STORE *up_ca;     /* verify-full: trust anchors (a reference) */
	unsigned up_auth;      /* UPSTREAM_AUTH_* this role may answer */

	/* upstream login progress (upstream.c) */
	struct scram *scram;
	struct kdf_job *kdf;   /* SCRAM key derivation on a worker */
	bool up_pw_sent;       /* md5 or cleartext answered */
	uint32_t up_pid, up_key, my_pid, my_key;
	struct pgproto_framer c2s, s2c;
	uint64_t bytes_in, bytes_out;
	int64_t started_ms;
	size_t expiry_pos;         /* in gw->expiry (1-based), 0: not in */
	struct event *timeout_ev;  /* login timeout, then cut grace */
	/* relay: reads of each side's socket (under the filter for TLS)
	 * done by us (session_relay_direct) */
	struct event *c_rd, *u_rd;
	/* the bytes of a plain side just read into direct_side's stack
	 * buffer and not yet relayed: valid only inside its callbacks */
	struct bufferevent *span_bev;
	const uint8_t *span;
	size_t span_len;
	char cut_sqlstate[6];
	char cut_msg[320];
	char cut_why[32];
};

/* session.c */
/* Audits an event of s; true when the audit writer is backed up. */
bool session_audit(struct session *s, const char *action, json_t *detail);
void session_fatal(struct session *s, const char *sqlstate, const char *msg, const char *why);
/* The one place a session changes state (and leaves the count of
 * connections not yet authenticated).  SS_CLOSED is final. */
void session_set_state(struct session *s, enum session_state st);
/* Closes s: session.ended when it was admitted, both connections handed
 * to closers, s unlinked from the registries and set SS_CLOSED.  The
 * memory is freed by session_reap after the current callback, so s stays
 * readable (and inert) until that callback returns. */
void session_close(struct session *s, const char *why);
void session_relay_write(struct bufferevent *bev, void *arg);
int session_set_nodelay(struct bufferevent *bev);
/* Admitted: relaying from here, client reads on.  0, or JG_ERR_NOMEM (s
 * closed). */
int session_start_relay(struct session *s) JG_WUR;
void session_upstream_event(struct bufferevent *bev, short what, void *arg);
void session_upstream_read(struct bufferevent *bev, void *arg);
/* Wraps under in a TLS filter owning ssl; on failure frees ssl and the
 * session and returns NULL. */
struct bufferevent *session_tls_filter(struct session *s, struct bufferevent *under,
				       SSL *ssl, enum bufferevent_ssl_state state);
/* upstream.c: the login to the upstream server */
/* Copies what the login needs from the config (0, or JG_ERR_NOMEM). */
int upstream_prepare(struct session *s, const struct resource_cfg *res,
		     const struct role_cfg *role) JG_WUR;
/* Frees what upstream_prepare and the login hold; cancels a pending key
 * derivation.  Called by session_free. */
void upstream_release(struct session *s);
/* An SSL for a connection to an upstream: SNI, and with verify-full the
 * chain against ca and the name (server_name, else host; an IP address
 * literal is checked against the certificate's IP entries).  The client
 * SSL_CTX verifies nothing by itself: mode require is encryption against
 * passive eavesdropping.  NULL on failure. */
SSL *upstream_ssl_new(struct gw_ctx *gw, enum upstream_tls_mode mode,
		      const char *host, const char *server_name,
		      X509_STORE *ca);
void upstream_connect(struct session *s);
void upstream_connected(struct session *s);
void upstream_fail(struct session *s, const char *what);
int upstream_login_msgs(struct session *s);
void upstream_start_tls(struct session *s);
/* The grants' expires_at has come for ss[0..n) (expiry.c): each is cut
 * unless another grant covers it.  ss is overwritten. */
void session_expired(struct session **ss, size_t n);
/* expiry.c: the sessions' grant deadlines, one timerfd for all */
int expiry_new(struct event_base *base, struct expiry **out) JG_WUR;
void expiry_free(struct expiry *x);
/* Puts s in (or moves it) at at_ms: session_expired(s) runs once the wall
 * clock reaches at_ms, unless expiry_remove comes first.  0, or
 * JG_ERR_NOMEM. */
int expiry_set(struct expiry *x, struct session *s, int64_t at_ms) JG_WUR;
void expiry_remove(struct expiry *x, struct session *s);
size_t expiry_count(const struct expiry *x);
/* closer.c: connections that outlive their session to flush */
void closer_after_flush(struct gw_ctx *gw, struct bufferevent *bev, bool defer);
/* bufferevent_free for every bufferevent of the gateway: frees bev (and
 * the socket bufferevent under a filter) at once, but closes the socket
 * only on the next loop turn.  The epoll changelist (gateway_base_new)
 * applies the removal of the socket's events only when the next turn
 * starts; a descriptor closed before that can already be another
 * thread's new socket under the same number, and the loop's epoll_ctl
 * would then act on a descriptor it does not own. */
void closer_bev_free(struct gw_ctx *gw, struct bufferevent *bev);
/* cancel.c: CancelRequest forwarding */
void cancel_send(struct gw_ctx *gw, const struct session *t);
void cancel_handle(struct session *s, uint32_t pid, uint32_t key);

#endif
