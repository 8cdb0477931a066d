/* Failed-authentication limiter shared by the HTTP API and the gateway
 * (design section 9).  Two bounded tables, both keyed by outside text and
 * therefore hashed with a per-process secret:
 *
 * - per (client address, claimed subject, action): the first failure of a
 *   minute is to be audited at once (AUTHLIMIT_RECORD); the further ones of
 *   that minute are only counted (AUTHLIMIT_COUNTED) and reported once when
 *   the minute closes (authlimit_flush).  The action is what the caller
 *   audits a failure as ("auth.failed", or "check.denied" for a gateway
 *   login refused before its password was asked for): each action keeps
 *   its own count and report;
 * - per client address: failures in its minute.  Past the limit the
 *   address is refused (AUTHLIMIT_REFUSED: answer 429 / 53300, write
 *   nothing); the refusals are counted and reported once when its minute
 *   closes.
 *
 * A minute starts at the first failure of the pair or address.  When a
 * table is full the oldest entry is evicted, its count reported first, so
 * memory is bounded whatever the clients do and no count is lost.
 * Time is an input; all calls are thread-safe.  Reports are handed to the
 * emit callback under the limiter's lock: it must only queue them. */
#ifndef JG_IDENTITY_AUTHLIMIT_H
#define JG_IDENTITY_AUTHLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define AUTHLIMIT_WINDOW_MS 60000
#define AUTHLIMIT_ADDR_MAX 64    /* bytes of an address kept (INET6 text fits) */
#define AUTHLIMIT_CLAIM_MAX 256  /* bytes of a claimed subject kept */
#define AUTHLIMIT_REASON_MAX 160 /* bytes of the last reason kept */
#define AUTHLIMIT_ACTION_MAX 24  /* bytes of an action kept */
#define AUTHLIMIT_DEFAULT_ENTRIES 4096

struct authlimit;

enum authlimit_verdict {
	AUTHLIMIT_RECORD,  /* first failure of the pair this minute: audit it now */
	AUTHLIMIT_COUNTED, /* counted into the pair's report: write nothing now */
	AUTHLIMIT_REFUSED, /* the address is past its limit: 429 / 53300 */
};

/* What closed: one pair's further failures, or one address's refusals. */
struct authlimit_report {
	bool refused;        /* false: a pair's failures; true: an address's refusals */
	const char *addr;
	const char *claimed; /* pair reports only; may be "" */
	const char *action;  /* pair reports: the audited action; "" otherwise */
	const char *via;     /* "api" or "gateway" of the last failure */
	const char *reason;  /* the last failure's reason (pair reports) */
	uint64_t count;      /* failures after the first / requests refused */
	int64_t start_ms;    /* when the minute began */
};

typedef void (*authlimit_emit_fn)(void *ctx, const struct authlimit_report *r);

/* max_entries bounds each table (0: AUTHLIMIT_DEFAULT_ENTRIES). */
int authlimit_new(size_t max_entries, authlimit_emit_fn emit, void *ctx,
		  struct authlimit **out) JG_WUR;
/* Frees without reporting (call authlimit_flush(l, INT64_MAX) first to
 * report what is pending). */
void authlimit_free(struct authlimit *l);

/* Records one failed authentication from addr claiming claimed (may be
 * NULL or "") audited as action, with reason, against limit failures of
 * the address per minute (every action counts towards it).  On
 * AUTHLIMIT_REFUSED *retry_after_s is the whole seconds (>= 1) until the
 * address's minute closes. */
enum authlimit_verdict authlimit_failure(struct authlimit *l, const char *addr,
					 const char *claimed, const char *action,
					 const char *via,
					 const char *reason, int64_t limit,
					 int64_t now_ms, int64_t *retry_after_s);
/* For a request without valid credentials that is not itself a failure
 * (none presented): true when addr is past limit, counting it as refused
 * and setting *retry_after_s. */
bool authlimit_over(struct authlimit *l, const char *addr, const char *via,
		    int64_t limit, int64_t now_ms, int64_t *retry_after_s);
/* Reports and forgets every minute that closed at or before now_ms. */
void authlimit_flush(struct authlimit *l, int64_t now_ms);
/* Entries held (pairs + addresses), for tests and metrics. */
size_t authlimit_size(struct authlimit *l);

#endif
