/* One client connection through the gateway: an explicit state machine
 * from the startup packet to the cut.  Everything here runs on the
 * gateway's loop thread; gw_ctx is shared with gateway.c. */
#ifndef JG_GATEWAY_SESSION_H
#define JG_GATEWAY_SESSION_H

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "gateway/connlimit.h"
#include "gateway/gateway.h"
#include "gateway/registry.h"

#define SESSION_CUT_GRACE_MS 2000  /* wait for a message boundary */
#define SESSION_FLUSH_TIMEOUT_MS 5000
#define SESSION_UPSTREAM_DEFER_MS 100 /* upstream close after a cut */
#define SESSION_RELAY_HIGH (512 * 1024) /* per-direction buffered bytes */
#define SESSION_LOGIN_OUT_MAX (1024 * 1024) /* to the client before relay */
#define SESSION_QUERY_TEXT_MAX 4096
#define SESSION_READ_SIZE 16384 /* most bytes one relay read takes */

struct session;
struct closer;
struct expiry;

/* Shared state of one gateway, owned by gateway.c. */
struct gw_ctx {
	struct event_base *base;
	struct evdns_base *dns;
	const struct config *cfg;
	struct gateway_hooks hooks;
	SSL_CTX *tls_server; /* NULL: SSLRequest answered 'N' */
	SSL_CTX *tls_client; /* for upstreams with upstream_tls */
	struct registry *by_request; /* admitted sessions by request_id */
	struct registry *by_cancel;  /* by the pid of our BackendKeyData */
	struct session *all;         /* every session not yet freed */
	struct session *reap;        /* closed sessions, freed by reap_ev */
	struct event *reap_ev;       /* runs after the callback that closed */
	struct closer *closers;      /* connections flushing their last bytes */
	/* sockets freed this loop turn, closed on the next (closer_bev_free) */
	struct event *grave_ev;
	evutil_socket_t *graves;
	size_t ngraves, graves_cap;
	struct kdfpool *kdf;         /* SCRAM key derivation off the loop */
	struct expiry *expiry;       /* grant deadlines of the sessions */
	struct connlimit *preauth_by_addr; /* not yet authenticated, per address */
	struct connlimit_ratelog refused_log;
	size_t nopen;                /* sessions not closed */
	size_t naudit_wait;          /* sessions paused for the audit writer */
	uint64_t next_id;
	/* Tests only: treat every peer as non-loopback (set from the test's
	 * thread while the loop runs, hence atomic). */
	atomic_bool force_remote;
};

/* Takes ownership of fd (closed on any failure, and at once with FATAL
 * 53300 when a connection limit of cfg->limits is reached). */
void session_accept(struct gw_ctx *gw, evutil_socket_t fd,
		    const struct sockaddr *sa, int salen);
/* Frees the sessions closed since the last call.  Runs from reap_ev (never
 * inside a callback of the session) and at shutdown. */
void session_reap(struct gw_ctx *gw);
/* The audit writer caught up: reads again from the clients paused for it. */
void session_audit_resume(struct gw_ctx *gw);
/* Writes a short FATAL to fd without blocking (a refusal before any
 * session exists for it). */
void session_refuse_fd(evutil_socket_t fd, const char *sqlstate,
		       const char *msg);
/* Re-checks every session admitted on request_id; cuts those that no
 * other active grant covers.  why: "expired", "revoked", … */
void session_grant_ended(struct gw_ctx *gw, int64_t request_id,
			 const char *why);
/* Closes every session at once (gateway shutdown; session_reap after). */
void session_close_all(struct gw_ctx *gw);
/* Frees connections still flushing (shutdown, after session_close_all),
 * then closes the sockets closer_bev_free left for the next turn. */
void session_free_closers(struct gw_ctx *gw);
/* grave_ev's callback: closes the sockets freed in the last turn. */
void closer_graves_close(struct gw_ctx *gw);
/* 127.0.0.0/8, ::1 and v4-mapped loopback. */
bool session_addr_is_loopback(const struct sockaddr *sa);
/* Number of open sessions (tests, metrics). */
size_t session_count(const struct gw_ctx *gw);

#endif
