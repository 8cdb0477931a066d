/* Shared between the API's plumbing (http.c) and its endpoints
 * (handlers.c, audit_api.c).  Not for use outside src/api. */
#ifndef JG_API_INTERNAL_H
#define JG_API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>

#include "api/api.h"
#include "api/body.h"
#include "api/eventhub.h"
#include "api/weblogin.h"
#include "api/websession.h"
#include "identity/auth.h"

enum conn_state { CONN_NEW, CONN_READING, CONN_SUSPENDED, CONN_RESUMED };

/* One HTTP request in flight. */
struct conn {
	struct api_deps *deps;
	struct MHD_Connection *mhd;
	enum conn_state state;
	char *body;
	size_t len;
	bool too_big;
	struct cfgref *ref;
	const struct config *cfg;
	bool authed;
	struct authn who;
	/* browser sessions (webauth.c) */
	struct websessions *sessions;
	bool by_session;     /* authenticated by the session cookie */
	char csrf[WEBSESSION_CSRF_LEN + 1];
	int64_t session_expires_ms;
	char *set_cookie;    /* Set-Cookie of the answer, or NULL */
	char *location;      /* Location of a redirect, or NULL */
	struct weblogin *login;
	struct weblogin_job *job; /* a sign-in's IdP call (weblogin.c) */
	bool html_page;      /* an error answers as a page (weblogin.c), not JSON */
	struct eventhub_sub *stream; /* GET /v1/events until its response owns it */
	/* the answer to send once the engine is done */
	int status;
	json_t *resp;
	char *resp_text; /* or the answer already as JSON text (owned) */
	int64_t retry_after_s; /* > 0: sent as Retry-After */
	/* engine work */
	struct engine_cmd cmd;
	json_t *args; /* the parsed body: cmd borrows strings from it */
	/* what to answer when the engine is done; NULL = render cmd */
	void (*after)(struct conn *c);
	/* a Slack click's response_url we may answer to, or NULL */
	char *slack_respond;
	/* POST /v1/check with a plain body: its fields, read in place
	 * (body_strings) before authentication, and the grant index's hint
	 * for them, so that the slot's cache miss overlaps the token check */
	bool check_read;
	const char *check_vals[3];
	uint32_t check_hint;
};

/* Reads a plain /v1/check body and starts fetching its grant's slot;
 * acts on nothing (handle_check decides, after authentication). */
void check_prefetch(struct conn *c);

/* Sets the answer (resp stolen). */
void conn_reply(struct conn *c, int status, json_t *resp);
/* Sets the answer as JSON text already formatted (text stolen; NULL is
 * out of memory and answers 500): for hot paths whose answer holds no
 * outside input, where building a json_t only to dump it costs more than
 * the work itself. */
void conn_reply_text(struct conn *c, int status, char *text);
/* Sets an error answer in the design's shape. */
void conn_error(struct conn *c, int status, const char *code, const char *fmt,
		...) JG_PRINTF(4, 5);
/* Maps a JG_ERR_* and message to the HTTP answer. */
void conn_fail(struct conn *c, int err, const char *message);
/* Hands cmd to the engine and suspends the connection; after runs when it
 * is done (or NULL: answer with the request, 201 for create). */
void conn_submit(struct conn *c, void (*after)(struct conn *c));
/* Queues an audit event to be durable before the answer goes out. */
void conn_audit_then_reply(struct conn *c, json_t *event, int status,
			   json_t *resp);

/* Verifies a presented credential (at: via names the door, "api" or
 * "web"; the client address is filled in here) through server/authsvc.
 * true: *who is the subject (caller clears it).  false: the refusal is
 * answered here: 401 (auth.failed audited before the answer when it is
 * the first of its address and claimed subject this minute), or 429 with
 * Retry-After for an address with too many failures. */
bool conn_verify(struct conn *c, struct auth_attempt *at, struct authn *who);
/* Refuses a credential found bad elsewhere (fail: the reason and what it
 * claimed), through the same limiter and auth.failed as conn_verify. */
void conn_refuse_auth(struct conn *c, const char *via, const struct auth_failure *fail);
/* The client's address as text ("unknown" when not known). */
void conn_remote_addr(struct conn *c, char *buf, size_t len);

const char *conn_arg(struct conn *c, const char *name);
/* Reads an optional integer query argument into *out (untouched when
 * absent); answers 400 naming it and returns false when it is not an
 * integer in [lo, hi]. */
bool conn_arg_long(struct conn *c, const char *name, long lo, long hi, long *out);

/* selftest_api.c: what `jitgate selftest` reads (design section 11). */
bool selftest_audit_allowed(const struct conn *c, const char *url);
/* The subject the audit listing is narrowed to (the selftest identity
 * reads only its own events), NULL for admins and auditors. */
const char *selftest_audit_subject(const struct conn *c);
void handle_selftest_info(struct conn *c);
/* GET /readyz?verbose=1: the readiness of each part as JSON. */
struct MHD_Response *selftest_readyz(struct conn *c, bool engine_ready,
				     bool store_ok, const char *why, int *status);

/* Endpoints (handlers.c). */
void handle_create(struct conn *c);
/* slack_api.c: POST /v1/slack/interactions (signed, no bearer token) */
void handle_slack_interaction(struct conn *c);
void handle_action(struct conn *c, int64_t id, const char *verb);
void handle_get_request(struct conn *c, int64_t id);
void handle_list(struct conn *c);
void handle_check(struct conn *c);
void handle_whoami(struct conn *c);
/* events.c: GET /v1/events subscribes (or answers an error); the
 * stream's response is made by events_response when the answer goes out */
void handle_events(struct conn *c);
struct MHD_Response *events_response(struct conn *c);
/* catalog.c */
void handle_catalog(struct conn *c);
/* webauth.c: the session cookie as a credential, and /auth/... */
bool webauth_has_cookie(struct conn *c);
/* Authenticates by the session cookie; a state-changing method must also
 * pass the same-origin and CSRF checks.  false: answered (401/403). */
bool webauth_authenticate(struct conn *c, const char *method);
void webauth_route(struct conn *c, const char *method, const char *url);
/* Starts a session for who (copied), sets the cookie, audits
 * auth.signed_in and answers status/resp (stolen; csrf and
 * session_expires_at are added to an object) once that is durable. */
int webauth_sign_in(struct conn *c, struct authn *who, int status, json_t *resp) JG_WUR;
/* audit_api.c */
void handle_audit_list(struct conn *c);
void handle_audit_verify(struct conn *c);
struct MHD_Response *audit_export_response(struct conn *c);

#endif
