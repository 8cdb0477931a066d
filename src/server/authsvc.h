/* Authentication of every client, for the HTTP API and the gateway alike:
 * verifies the credential (identity/auth: static tokens, OIDC), applies
 * the failed-authentication limiter (identity/authlimit) and builds the
 * auth.failed events of design section 9:
 *
 * - the actor of a failure is "anonymous" (or the verified subject when a
 *   valid token was used for another user); what the client claimed goes
 *   into detail.claimed_subject, escaped when it is not UTF-8;
 * - the first failure of a (client address, claimed subject) in a minute
 *   is returned as an event to write now; further ones are counted and
 *   written as one event with detail.count when the minute closes (by this
 *   module's own thread, asynchronously);
 * - past limits.auth_failures_per_ip_per_min, an address without valid
 *   credentials is refused (AUTH_LIMITED) and nothing is written for it.
 *
 * Never blocks: it takes short locks and does CPU work only (the OIDC
 * verifier never fetches on the caller's thread), so it may run on an HTTP
 * worker or the gateway loop. */
#ifndef JG_SERVER_AUTHSVC_H
#define JG_SERVER_AUTHSVC_H

#include <jansson.h>
#include <stdint.h>

#include "config/config.h"
#include "identity/auth.h"
#include "identity/oidc.h"
#include "server/engine.h"
#include "server/metrics.h"

struct authsvc;

/* oidc may be NULL (no OIDC).  engine and metrics must outlive it. */
int authsvc_new(struct engine *engine, struct metrics *metrics, struct oidc *oidc,
		struct authsvc **out) JG_WUR;
/* Writes the pending aggregate events and stops the flush thread. */
void authsvc_free(struct authsvc *a);

enum auth_outcome {
	AUTH_OK,      /* *who is the verified subject */
	AUTH_NONE,    /* no credential presented: 401, nothing audited */
	AUTH_FAILED,  /* 401 / 28P01; write res.event when it is not NULL */
	AUTH_LIMITED, /* 429 + Retry-After / 53300; nothing is written */
};

struct auth_attempt {
	const char *via;        /* "api" or "gateway" */
	const char *client;     /* client address, without the port */
	const char *credential; /* bearer token or password; NULL: none presented */
	const char *unusable;   /* set instead when something unusable was
				   presented (e.g. not a bearer token): the
				   failure's reason */
	const char *user;       /* gateway: the user it logs in as; API: NULL */
	const char *why_absent; /* API, no credential: e.g. "no bearer token" */
};

struct auth_result {
	enum auth_outcome outcome;
	char reason[256];      /* for the client and the log; never a secret */
	int64_t retry_after_s; /* AUTH_LIMITED */
	json_t *event;         /* AUTH_FAILED: auth.failed to write now, or NULL
				  (counted into a later one); caller owns it */
};

/* Authenticates at against cfg at now_ms.  Returns the outcome (also in
 * res->outcome); on AUTH_OK the caller clears *who. */
enum auth_outcome authsvc_authenticate(struct authsvc *a, const struct config *cfg,
				       const struct auth_attempt *at, int64_t now_ms,
				       struct authn *who, struct auth_result *res);

/* A failure found elsewhere (a browser sign-in whose ID token the IdP
 * flow refused): counted, limited and audited like one found here.
 * Returns AUTH_FAILED (write res->event when not NULL) or AUTH_LIMITED. */
enum auth_outcome authsvc_record_failure(struct authsvc *a, const struct config *cfg,
					 const struct auth_attempt *at,
					 const struct auth_failure *fail, int64_t now_ms,
					 struct auth_result *res);

/* A login refused before any credential was asked for (the gateway's
 * bad_dbname, replication, tls_required: anyone can cause them by
 * connecting): counted against at->client's limit like a failed
 * authentication and audited as action (e.g. "check.denied", actor
 * "anonymous", at->user as detail.claimed_subject, reason as
 * detail.reason) the same way: the first of a (client address, claimed
 * subject, action) in a minute now (res->event when not NULL), the rest
 * counted into one event with detail.count when the minute closes.
 * Returns AUTH_FAILED, or AUTH_LIMITED (53300, nothing written) when the
 * address is past limits.auth_failures_per_ip_per_min. */
enum auth_outcome authsvc_record_refusal(struct authsvc *a, const struct config *cfg,
					 const struct auth_attempt *at, const char *action,
					 const char *reason, int64_t now_ms,
					 struct auth_result *res);

/* Copies the address part of "host:port" (IPv4, or IPv6 with or without
 * brackets) into out. */
void authsvc_client_addr(const char *peer, char *out, size_t outlen);

#endif
