/* Connection limits of the gateway (design section 9): counts of
 * connections per client address, and rate-limited log lines for refusals
 * that may come by the thousand.  Loop thread only; no locking. */
#ifndef JG_GATEWAY_CONNLIMIT_H
#define JG_GATEWAY_CONNLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/err.h"

#define CONNLIMIT_LOG_EVERY_MS 10000

/* A client address as counted: IPv4 (and v4-mapped IPv6) by address,
 * IPv6 by its /64, since one host usually holds a whole /64. */
struct connlimit_addr {
	uint8_t b[16];
};

struct connlimit;

int connlimit_new(struct connlimit **out) JG_WUR;
void connlimit_free(struct connlimit *c);
void connlimit_addr(const struct sockaddr *sa, struct connlimit_addr *out);
/* Count of connections from a. */
size_t connlimit_count(const struct connlimit *c,
		       const struct connlimit_addr *a);
/* Adds one connection from a; JG_ERR_NOMEM leaves the count unchanged. */
int connlimit_acquire(struct connlimit *c,
		      const struct connlimit_addr *a) JG_WUR;
/* Removes one (the entry goes when its count reaches 0). */
void connlimit_release(struct connlimit *c, const struct connlimit_addr *a);

/* A log line that is written at most once per CONNLIMIT_LOG_EVERY_MS with
 * the number of times it happened since the last one. */
struct connlimit_ratelog {
	int64_t last_ms;
	uint64_t count;
};

/* Counts one occurrence; true when a line is due now, with *count the
 * occurrences it stands for (this one included). */
bool connlimit_log_due(struct connlimit_ratelog *r, int64_t now_ms,
		       uint64_t *count);

#endif
