/* Intrusive multimap int64 → items, for sessions by grant (request id)
 * and by cancel key.  Items embed a registry_link; an item is in at most
 * one registry per link.  Loop thread only; no locking. */
#ifndef JG_GATEWAY_REGISTRY_H
#define JG_GATEWAY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct registry_link {
	struct registry_link *next;
	struct registry_link **pprev; /* NULL when not linked */
	int64_t key;
};

struct registry;

/* nbuckets is rounded up to a power of two.  Caller frees. */
int registry_new(size_t nbuckets, struct registry **out) JG_WUR;
/* Items still linked are only unlinked, never freed. */
void registry_free(struct registry *r);
void registry_insert(struct registry *r, struct registry_link *l,
		     int64_t key);
/* No-op when l is not linked. */
void registry_remove(struct registry_link *l);
bool registry_linked(const struct registry_link *l);
/* Up to max links with key into out; returns how many matched in total
 * (may exceed max: call again after acting on the first ones). */
size_t registry_find(const struct registry *r, int64_t key,
		     struct registry_link **out, size_t max);
size_t registry_count(const struct registry *r);

#endif
