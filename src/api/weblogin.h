/* Browser sign-in at the IdP (design section 10): authorization code with
 * PKCE S256, state and nonce.  /auth/login answers at once when the IdP's
 * endpoints are known; the discovery and the code exchange are network
 * calls, so they run on a few login worker threads while the HTTP
 * connection is suspended (as while the engine commits): one slow IdP
 * answer holds one worker, not every sign-in behind it. */
#ifndef JG_API_WEBLOGIN_H
#define JG_API_WEBLOGIN_H

#include <microhttpd.h>
#include <stdbool.h>

#include "identity/oidc.h"
#include "identity/oidc_fetch.h"
#include "util/err.h"

#define WEBLOGIN_PENDING_MAX 1024   /* sign-ins between login and callback */
#define WEBLOGIN_PENDING_TTL_S 600  /* a sign-in must come back within this */
#define WEBLOGIN_JOBS_MAX 64        /* queued IdP calls; beyond: 503 */
#define WEBLOGIN_WORKERS 4          /* threads calling the IdP at once */
/* A sign-in that waited this long for a worker (all held by a slow IdP)
 * is answered 503 instead of being started: with each IdP call bounded
 * by OIDC_FETCH_TIMEOUT_MS, no browser waits much beyond twice that. */
#define WEBLOGIN_QUEUE_WAIT_MS OIDC_FETCH_TIMEOUT_MS
#define WEBLOGIN_NEXT_MAX 1024

struct conn;
struct weblogin;
struct weblogin_job;

/* idp may be NULL (no OIDC): /auth/login then answers 404. */
int weblogin_new(struct oidc *idp, struct weblogin **out) JG_WUR;
/* Stops the workers; sign-ins not done are answered 503 ("shutting
 * down"), and one begun after it at once.  The HTTP threads may still
 * read wl: free it only once they have stopped. */
void weblogin_stop(struct weblogin *wl);
/* weblogin_stop, then frees wl. */
void weblogin_free(struct weblogin *wl);

/* GET /auth/login?next=PATH */
void weblogin_start(struct conn *c);
/* GET /auth/callback?code=&state= (or error=) */
void weblogin_callback(struct conn *c, const char *url);
/* The HTML page of a failed /auth/login or /auth/callback (c->html_page,
 * where a browser lands rather than a script): c->status and
 * the message of c->resp's error, escaped, with a link to sign in again
 * (back to the sign-in's next path when known).  NULL when out of memory. */
struct MHD_Response *weblogin_error_response(struct conn *c);
/* Frees what the connection's sign-in left (on_completed). */
void weblogin_job_free(struct weblogin_job *job);

/* True for a path of this origin that is safe to redirect to: "/" then
 * printable ASCII without a backslash, not "//" (another host), at most
 * WEBLOGIN_NEXT_MAX bytes. */
bool weblogin_next_ok(const char *next);

#endif
