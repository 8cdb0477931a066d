/* Browser sessions (design section 10): a bounded in-memory table of
 * signed-in browsers.  The cookie holds a random 256-bit id; the table keys
 * entries by the SHA-256 of that id, so a lookup compares digests of what
 * an attacker sent (never the id itself) and the table holds nothing that
 * could be replayed as a cookie.  Thread-safe.
 *
 * Sessions live in memory only: a restart signs every browser out (nothing
 * secret at rest, nothing to expire in the store). */
#ifndef JG_API_WEBSESSION_H
#define JG_API_WEBSESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity/auth.h"
#include "util/err.h"

#define WEBSESSION_COOKIE "jitgate_session"
#define WEBSESSION_ID_LEN 43   /* base64url of 32 random bytes */
#define WEBSESSION_CSRF_LEN 43
#define WEBSESSIONS_MAX 16384        /* whole table */
#define WEBSESSIONS_PER_SUBJECT 32   /* beyond: the subject's oldest ends */

struct websessions;

/* What a valid session says about its holder (copied out of the table). */
struct websession_view {
	struct authn who;       /* caller clears (authn_clear) */
	char csrf[WEBSESSION_CSRF_LEN + 1];
	int64_t expires_ms;
};

int websessions_new(size_t max, size_t per_subject, struct websessions **out) JG_WUR;
void websessions_free(struct websessions *ws);

/* Starts a session for who until now_ms + ttl_ms.  cookie gets the id to
 * send (and never kept), csrf the session's CSRF token.  A subject over
 * per_subject loses its oldest session; a full table first drops expired
 * sessions and then answers JG_ERR_UNAVAILABLE. */
int websession_create(struct websessions *ws, const struct authn *who,
		      int64_t now_ms, int64_t ttl_ms,
		      char cookie[WEBSESSION_ID_LEN + 1],
		      char csrf[WEBSESSION_CSRF_LEN + 1], int64_t *expires_ms) JG_WUR;
/* Finds the live session of cookie; JG_ERR_AUTH when the cookie is
 * malformed, unknown or expired (an expired one is dropped). */
int websession_lookup(struct websessions *ws, const char *cookie, int64_t now_ms,
		      struct websession_view *out) JG_WUR;
/* Ends the session of cookie; true when there was one. */
bool websession_end(struct websessions *ws, const char *cookie);
/* Live entries (expired ones not yet dropped included). */
size_t websession_count(struct websessions *ws);

#endif
