/* Min-heap of deadlines (grant expiry, pending timeout).  Entries are not
 * removed when a request ends early: the owner checks, when an entry comes
 * due, whether the deadline still applies.  Single-threaded (the engine). */
#ifndef JG_CORE_DEADLINES_H
#define JG_CORE_DEADLINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct deadline {
	int64_t at_ms;
	int64_t request_id;
};

struct deadlines {
	struct deadline *v;
	size_t n, cap;
};

int deadlines_push(struct deadlines *h, int64_t at_ms, int64_t request_id) JG_WUR;
/* The earliest deadline, false when empty. */
bool deadlines_peek(const struct deadlines *h, struct deadline *out);
/* Removes and returns the earliest deadline if it is at or before now. */
bool deadlines_pop_due(struct deadlines *h, int64_t now_ms, struct deadline *out);
void deadlines_free(struct deadlines *h);

#endif
