/* In-memory index of active grants: (subject, resource, role) → grants.
 * Checks never touch the store.  Many threads may query while one thread
 * (the engine) adds and removes grants: readers share a lock, the writer
 * takes it exclusively for the few pointer updates of one change. */
#ifndef JG_CORE_GRANT_INDEX_H
#define JG_CORE_GRANT_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct grant_index;

struct grant_hit {
	int64_t request_id;
	int64_t expires_at_ms;
};

int grant_index_new(struct grant_index **out) JG_WUR;
void grant_index_free(struct grant_index *gi);

/* Adds the grant of request_id; JG_ERR_CONFLICT if that id is present. */
int grant_index_add(struct grant_index *gi, const char *subject,
		    const char *resource, const char *role, int64_t request_id,
		    int64_t expires_at_ms) JG_WUR;
/* Removes the grant of request_id; false when it was not there. */
bool grant_index_remove(struct grant_index *gi, int64_t request_id);

/* True when an unexpired grant (expires_at > now) covers the triple; hit
 * (may be NULL) gets the one that lasts longest. */
bool grant_index_check(struct grant_index *gi, const char *subject,
		       const char *resource, const char *role, int64_t now_ms,
		       struct grant_hit *hit);

/* The same check in two steps, for a caller with other work to do in
 * between: grant_index_hint hashes the triple and starts fetching the
 * slot the check will read (no lock, changes nothing; at a million grants
 * that slot is a cache miss, which then overlaps the caller's work), and
 * grant_index_check_hinted is grant_index_check given that hash. */
uint32_t grant_index_hint(const struct grant_index *gi, const char *subject,
			  const char *resource, const char *role);
bool grant_index_check_hinted(struct grant_index *gi, const char *subject,
			      const char *resource, const char *role, uint32_t hint,
			      int64_t now_ms, struct grant_hit *hit);

/* The grant of request_id (out may be NULL); false when absent. */
bool grant_index_get(struct grant_index *gi, int64_t request_id,
		     struct grant_hit *out);
/* The request ids of every grant, in no order (*out malloc'd, caller
 * frees; NULL and 0 when empty is not guaranteed). */
int grant_index_ids(struct grant_index *gi, int64_t **out, size_t *n) JG_WUR;

size_t grant_index_count(struct grant_index *gi);
/* Heap bytes held by the index (tables, entries, keys). */
size_t grant_index_bytes(struct grant_index *gi);

#endif
