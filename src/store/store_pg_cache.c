/* The PostgreSQL writer's knowledge between batches: the requests it
 * has read or written while no other node moved the head ("hot", see
 * struct pgs), kept in id order, and the pool of request ids drawn ahead
 * from requests_id_seq.  Used by store_pg_tx.c only. */
#include <stdlib.h>
#include <string.h>

#include "store/pgconn.h"
#include "store/store_pg.h"
#include "util/vec.h"

/* ---- requests read ahead ---- */

void store_pg_cache_clear(struct pgs *s)
{
	for (size_t i = 0; i < s->ncache; i++)
		request_clear(&s->cache[i]);
	s->ncache = 0;
}

struct request *store_pg_cache_find(struct pgs *s, int64_t id)
{
	size_t lo = 0, hi = s->ncache;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->cache[mid].id == id)
			return &s->cache[mid];
		if (s->cache[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

#define CACHE_MAX 4096 /* requests kept across batches while hot */

/* Forgets what was known: the next batch locks and reads the head. */
void store_pg_go_cold(struct pgs *s)
{
	s->hot = false;
	store_pg_cache_clear(s);
}

/* Makes room in a full cache: the older half (lower ids) goes, the
 * requests of recent batches, which the next ones act on, stay. */
static void cache_evict(struct pgs *s)
{
	size_t drop = s->ncache / 2;

	for (size_t i = 0; i < drop; i++)
		request_clear(&s->cache[i]);
	memmove(s->cache, s->cache + drop, (s->ncache - drop) * sizeof(*s->cache));
	s->ncache -= drop;
}

/* Keeps a copy of r as this transaction sees it, in id order. */
int store_pg_cache_put(struct pgs *s, const struct request *r)
{
	struct request *hit = store_pg_cache_find(s, r->id);
	size_t at = 0;
	int rc;

	if (hit) {
		request_clear(hit);
		rc = request_copy(hit, r);
		if (rc != JG_OK)
			hit->id = 0; /* cleared: never found again (ids are > 0) */
		return rc;
	}
	if (s->ncache >= CACHE_MAX)
		cache_evict(s);
	if (s->ncache == s->cache_cap) {
		struct request *v = vec_grow(s->cache, &s->cache_cap, sizeof(*v), 64);

		if (v == NULL)
			return JG_ERR_NOMEM;
		s->cache = v;
	}
	/* ids mostly grow: the place is found by halving, not by a walk */
	for (size_t hi = s->ncache; at < hi;) {
		size_t mid = at + (hi - at) / 2;

		if (s->cache[mid].id < r->id)
			at = mid + 1;
		else
			hi = mid;
	}
	memmove(s->cache + at + 1, s->cache + at, (s->ncache - at) * sizeof(*s->cache));
	rc = request_copy(&s->cache[at], r);
	if (rc != JG_OK) {
		memmove(s->cache + at, s->cache + at + 1, (s->ncache - at) * sizeof(*s->cache));
		return rc;
	}
	s->ncache++;
	return JG_OK;
}

/* The prefetch's rows, added to what is known (take_result of the head,
 * just before, dropped what may be stale). */
int store_pg_cache_fill(struct pgs *s, const PGresult *r)
{
	int n = PQntuples(r), rc = JG_OK;

	for (int i = 0; rc == JG_OK && i < n; i++) {
		struct request q;

		rc = store_pg_row_request(r, i, &q);
		if (rc == JG_OK)
			rc = store_pg_cache_put(s, &q);
		request_clear(&q);
	}
	return rc;
}

/* ---- the id pool ---- */

int store_pg_ids_fill(struct pgs *s, const PGresult *r)
{
	size_t n = (size_t)PQntuples(r), left = s->nids - s->ids_next;

	if (left)
		memmove(s->ids, s->ids + s->ids_next, left * sizeof(*s->ids));
	s->ids_next = 0;
	s->nids = left;
	if (left + n > s->ids_cap) {
		int64_t *v = realloc(s->ids, (left + n) * sizeof(*v));

		if (v == NULL)
			return JG_ERR_NOMEM;
		s->ids = v;
		s->ids_cap = left + n;
	}
	for (size_t i = 0; i < n; i++)
		s->ids[s->nids++] = pgconn_int(r, (int)i, 0);
	return JG_OK;
}

size_t store_pg_ids_left(const struct pgs *s)
{
	return s->nids - s->ids_next;
}

/* How many ids to draw ahead of a batch creating ncreates: at least
 * STORE_PG_ID_BLOCK, and enough for a few more batches like it. */
size_t store_pg_id_block(size_t ncreates)
{
	return ncreates * 4 > STORE_PG_ID_BLOCK ? ncreates * 4 : STORE_PG_ID_BLOCK;
}
