/* PostgreSQL wire-protocol gateway (design section 6).
 *
 * The gateway runs on one libevent loop thread that owns all session state.
 * It knows nothing of the store or the engine: the daemon hands it hooks.
 * Hooks are called on the loop thread and must not block for long. */
#ifndef JG_GATEWAY_GATEWAY_H
#define JG_GATEWAY_GATEWAY_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/err.h"

struct gateway;

struct gateway_grant {
	int64_t request_id;
	int64_t expires_at_ms;
	char role[128];
};

struct gateway_hooks {
	void *ctx;
	/* Authenticates a login.  0 when password is a valid credential whose
	 * subject is exactly user; otherwise JG_ERR_AUTH (FATAL 28P01), or
	 * JG_ERR_LIMIT when client ("host:port") has had too many failures
	 * (FATAL 53300), and a reason fit for the client (never containing
	 * the password).  The hook audits auth.failed itself; the gateway
	 * does not.  Never blocks (no network, no disk). */
	int (*authenticate)(void *ctx, const char *user, const char *password,
			    const char *client, char *reason, size_t reasonlen);
	/* Finds an active grant of subject on resource.  role NULL means "the
	 * one role the subject holds there": JG_ERR_CONFLICT when it holds
	 * several, JG_ERR_NOTFOUND when none.  Fills out on success. */
	int (*find_grant)(void *ctx, const char *subject, const char *resource,
			  const char *role, struct gateway_grant *out);
	/* Appends an audit event (session.started, session.ended,
	 * session.query, check.denied).  subject is NULL before the login
	 * is authenticated (the event's actor is then "anonymous" and the
	 * claimed user is in detail.claimed_subject).  detail is stolen (may
	 * be NULL).  Does not block and does not drop: the event is queued
	 * for the store.  Returns true when the writer is backed up; the
	 * gateway then stops reading statements from that client until
	 * gateway_audit_resume is called. */
	bool (*audit)(void *ctx, const char *action, const char *subject,
		      const char *resource, const char *role,
		      int64_t request_id, json_t *detail);
	/* A login refused before its password was asked for (why:
	 * bad_dbname, replication, tls_required).  Anyone can cause one by
	 * connecting, so the hook audits it (check.denied) aggregated and
	 * limited like a failed authentication, not once per connection.
	 * user, resource and role are only what the client claimed
	 * (resource and role may be "").  0: refuse as the gateway says;
	 * JG_ERR_LIMIT: client ("host:port") has had too many failures
	 * (FATAL 53300) and reason says so.  May be NULL: the refusal is
	 * then handed to audit.  Never blocks. */
	int (*refuse_preauth)(void *ctx, const char *user, const char *resource,
			      const char *role, const char *client, const char *why,
			      char *reason, size_t reasonlen);
};

/* The event base the gateway wants to run on: epoll with its changelist
 * (EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST), so that an event armed and
 * disarmed within one loop turn costs no system call (a TLS record
 * written at once after the filter armed its socket's write event), and
 * without EVENT_BASE_FLAG_PRECISE_TIMER, which in libevent 2.1 re-arms a
 * timerfd on every loop turn (the grant cuts have their own timerfd,
 * src/gateway/expiry.c).  NULL when out of memory.  The process must
 * ignore SIGPIPE (jitgate serve does): relayed bytes are written with
 * writev and send to peers that may have gone. */
struct event_base *gateway_base_new(void);
/* Starts the gateway on base, accepting on listen_fd: a socket already
 * bound and listening (taken over, also on failure), or -1 to bind
 * cfg->gateway.postgres_listen here.  The config must outlive the gateway
 * (or be replaced with gateway_set_config). */
int gateway_start(struct event_base *base, const struct config *cfg,
		  const struct gateway_hooks *hooks, int listen_fd,
		  struct gateway **out) JG_WUR;
/* Loads gateway.tls (certificate and key) as gateway_start would, without
 * starting anything: check-config and serve refuse the same files.  On
 * failure err says which file and why. */
int gateway_tls_check(const struct config *cfg, char *err, size_t errlen) JG_WUR;
/* Swaps the config after a reload (loop thread only). */
void gateway_set_config(struct gateway *gw, const struct config *cfg);
/* Thread-safe: tells the gateway a grant ended (expired or revoked).  Every
 * session admitted on request_id is re-checked with find_grant and, unless
 * another active grant covers it, sent FATAL and closed on both sides. */
void gateway_grant_ended(struct gateway *gw, int64_t request_id,
			 const char *why);
/* Thread-safe: the audit writer caught up after the audit hook returned
 * true; clients paused for it are read again. */
void gateway_audit_resume(struct gateway *gw);
/* The port actually bound (useful with postgres_listen port 0), or -1. */
int gateway_port(const struct gateway *gw);
/* Open client connections (loop thread only; tests, metrics). */
size_t gateway_session_count(const struct gateway *gw);
/* Tests only: treat every client as non-loopback, to exercise the rule
 * that cleartext passwords need TLS off loopback. */
void gateway_test_force_remote(struct gateway *gw, bool on);
/* Tests only: hold (or release) the SCRAM key derivation workers, to show
 * that a login waiting for one stalls no other session. */
void gateway_test_hold_kdf(struct gateway *gw, bool hold);
/* Closes every session (FATAL 57P01 to each client) and the listener.
 * Loop thread only; call before freeing the event_base. */
void gateway_free(struct gateway *gw);

#endif
