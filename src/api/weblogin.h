/* Browser sign-in at the IdP (design section 10): authorization code with
 * PKCE S256, state and nonce.  /auth/login answers at once when the IdP's
 * endpoints are known; the discovery and the code exchange are network
 * calls, so they run on one login worker thread while the HTTP connection
 * is suspended (as while the engine commits). */
#ifndef JG_API_WEBLOGIN_H
#define JG_API_WEBLOGIN_H

#include <stdbool.h>

#include "identity/oidc.h"
#include "util/err.h"

#define WEBLOGIN_PENDING_MAX 1024   /* sign-ins between login and callback */
#define WEBLOGIN_PENDING_TTL_S 600  /* a sign-in must come back within this */
#define WEBLOGIN_JOBS_MAX 64        /* queued IdP calls; beyond: 503 */
#define WEBLOGIN_NEXT_MAX 1024

struct conn;
struct weblogin;
struct weblogin_job;

/* idp may be NULL (no OIDC): /auth/login then answers 404. */
int weblogin_new(struct oidc *idp, struct weblogin **out) JG_WUR;
/* Stops the worker; jobs not done are answered 503. */
void weblogin_free(struct weblogin *wl);

/* GET /auth/login?next=PATH */
void weblogin_start(struct conn *c);
/* GET /auth/callback?code=&state= (or error=) */
void weblogin_callback(struct conn *c, const char *url);
/* Frees what the connection's sign-in left (on_completed). */
void weblogin_job_free(struct weblogin_job *job);

/* True for a path of this origin that is safe to redirect to: "/" then
 * printable ASCII without a backslash, not "//" (another host), at most
 * WEBLOGIN_NEXT_MAX bytes. */
bool weblogin_next_ok(const char *next);

#endif
