/* One client connection through the gateway: an explicit state machine
 * from the startup packet to the cut.  Everything here runs on the
 * gateway's loop thread; gw_ctx is shared with gateway.c. */
#ifndef JG_GATEWAY_SESSION_H
#define JG_GATEWAY_SESSION_H

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "gateway/gateway.h"
#include "gateway/registry.h"

#define SESSION_LOGIN_TIMEOUT_S 30 /* startup to ReadyForQuery */
#define SESSION_CUT_GRACE_MS 2000  /* wait for a message boundary */
#define SESSION_FLUSH_TIMEOUT_MS 5000
#define SESSION_UPSTREAM_DEFER_MS 100 /* upstream close after a cut */
#define SESSION_RELAY_HIGH (512 * 1024) /* per-direction buffered bytes */
#define SESSION_QUERY_TEXT_MAX 4096

struct session;
struct closer;

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
	struct session *all;         /* every open session */
	struct closer *closers;      /* connections flushing their last bytes */
	struct kdfpool *kdf;         /* SCRAM key derivation off the loop */
	uint64_t next_id;
	/* Tests only: treat every peer as non-loopback. */
	bool force_remote;
};

/* Takes ownership of fd (closed on any failure). */
void session_accept(struct gw_ctx *gw, evutil_socket_t fd,
		    const struct sockaddr *sa, int salen);
/* Re-checks every session admitted on request_id; cuts those that no
 * other active grant covers.  why: "expired", "revoked", … */
void session_grant_ended(struct gw_ctx *gw, int64_t request_id,
			 const char *why);
/* Closes every session at once (gateway shutdown). */
void session_close_all(struct gw_ctx *gw);
/* Frees connections still flushing (shutdown, after session_close_all). */
void session_free_closers(struct gw_ctx *gw);
/* 127.0.0.0/8, ::1 and v4-mapped loopback. */
bool session_addr_is_loopback(const struct sockaddr *sa);
/* Number of open sessions (tests, metrics). */
size_t session_count(const struct gw_ctx *gw);

#endif
