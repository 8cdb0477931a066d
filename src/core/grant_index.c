#include "core/grant_index.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Grants with the same (subject, resource, role) share one key; a key
 * lives while it has grants.  Keys live in an open-addressing table of
 * 64-byte slots, one cache line each (linear probing, load <= 1/2,
 * backward-shift deletion, no tombstones).  A slot carries the expiry and
 * id of its key's longest grant and, when subject + resource + role fit in
 * SLOT_TEXT bytes, the key's text itself, so a check at a million grants
 * reads one cache line that is not already hot (before: the slot, then
 * the key; docs/benchmarks.md).  Longer keys are compared against their
 * out-of-line gkey.  Grants by request id: a chained hash table. */
#define SLOT_TEXT 32
#define HUGE_PAGE ((size_t)2 << 20)

struct gkey {
	struct grant *grants;
	uint32_t hash;
	uint16_t len_s, len_r, len_o;
	char text[]; /* long keys only: subject, resource, role, no separators */
};

struct kslot {
	uint32_t hash;               /* home slot: hash & (key_cap - 1) */
	uint8_t len_s, len_r, len_o; /* inline keys (inl) only */
	uint8_t inl;                 /* 1: text holds the key */
	int64_t best_exp, best_id;   /* the grant check answers with */
	struct gkey *key;            /* NULL: empty */
	char text[SLOT_TEXT];        /* subject, resource, role, no separators */
};

_Static_assert(sizeof(struct kslot) == 64, "a slot is one cache line");

struct grant {
	int64_t request_id;
	int64_t expires_at_ms;
	struct gkey *key;
	struct grant *next_in_key;
	struct grant *next_by_id;
};

struct grant_index {
	/* every reader writes the lock's line (rdlock, unlock): the fields
	 * readers only read get their own line, which then stays shared in
	 * every core's cache instead of moving with the lock (hint reads
	 * them without the lock) */
	_Alignas(64) pthread_rwlock_t lock;
	_Alignas(64) struct kslot *keys; /* 64-byte aligned */
	size_t nkeys, key_cap; /* key_cap: power of two, >= 2 * nkeys */
	struct grant **ids;
	size_t ngrants, id_cap;
	size_t key_bytes;
};

#define INITIAL_CAP 1024
#define TRIPLE_MAX 1024

/* The key hash, 8 bytes a step, the three fields in three independent
 * chains that the CPU runs side by side: FNV-1a's byte a step was a chain
 * of ~35 dependent multiplies for a typical key, 30-40 ns of a lookup that
 * hits the cache (docs/benchmarks.md).  Each step is a bijection of h for
 * a given word; each chain starts from its own constant and its field's
 * length, so ("ab","c") and ("a","bc") differ; each step folds the
 * product's high half into the low bits the table uses.  Not a keyed
 * hash: like FNV-1a before it, someone who chose the subjects of many
 * grants could make them collide, which costs probe length, never a wrong
 * answer (the key is compared). */
static uint64_t hash_step(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 32);
}

static uint64_t rd64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t rd32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Never reads outside s[0..n). */
static uint64_t hash_field(uint64_t h, const char *s, size_t n)
{
	uint64_t w;

	h ^= n;
	for (; n >= 8; s += 8, n -= 8)
		h = hash_step(h, rd64(s));
	if (n >= 4) /* two 4-byte reads, overlapping when n < 8 */
		w = rd32(s) | rd32(s + n - 4) << 32;
	else if (n > 0)
		w = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[n / 2] << 8 |
		    (uint64_t)(unsigned char)s[n - 1] << 16;
	else
		w = 0;
	return hash_step(h, w);
}

static uint32_t hash_triple(const char *s, size_t ls, const char *r, size_t lr,
			    const char *o, size_t lo)
{
	uint64_t h = hash_field(0x243f6a8885a308d3ULL, s, ls) ^
		     hash_field(0x13198a2e03707344ULL, r, lr) * 0xc2b2ae3d27d4eb4fULL ^
		     hash_field(0xa4093822299f31d0ULL, o, lo) * 0x165667b19e3779f9ULL;

	/* murmur3's finalizer: every input bit reaches the low bits */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (uint32_t)(h ^ (h >> 32));
}

static uint64_t hash_id(int64_t id)
{
	uint64_t x = (uint64_t)id;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* A zeroed table of cap slots (cap * 64 is a multiple of the alignment). */
static struct kslot *slots_new(size_t cap)
{
	size_t bytes = cap * sizeof(struct kslot);
	struct kslot *t;

	if (bytes >= HUGE_PAGE) {
		t = aligned_alloc(HUGE_PAGE, (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
		/* a hint: 2 MiB pages spare a check the page-table walk (a
		 * second DRAM access at 1M keys); ignored where THP is off */
		if (t != NULL)
			(void)madvise(t, bytes, MADV_HUGEPAGE);
	} else {
		t = aligned_alloc(64, bytes);
	}
	if (t != NULL)
		memset(t, 0, bytes);
	return t;
}

int grant_index_new(struct grant_index **out)
{
	struct grant_index *gi;

	*out = NULL;
	gi = aligned_alloc(_Alignof(struct grant_index), sizeof(*gi));
	if (gi == NULL)
		return JG_ERR_NOMEM;
	memset(gi, 0, sizeof(*gi));
	gi->key_cap = gi->id_cap = INITIAL_CAP;
	gi->keys = slots_new(gi->key_cap);
	gi->ids = calloc(gi->id_cap, sizeof(*gi->ids));
	if (gi->keys == NULL || gi->ids == NULL ||
	    pthread_rwlock_init(&gi->lock, NULL) != 0) {
		free(gi->keys);
		free(gi->ids);
		free(gi);
		return JG_ERR_NOMEM;
	}
	*out = gi;
	return JG_OK;
}

void grant_index_free(struct grant_index *gi)
{
	if (gi == NULL)
		return;
	for (size_t i = 0; i < gi->id_cap; i++) {
		struct grant *g = gi->ids[i], *next;

		for (; g; g = next) {
			next = g->next_by_id;
			free(g);
		}
	}
	for (size_t i = 0; i < gi->key_cap; i++)
		free(gi->keys[i].key);
	free(gi->keys);
	free(gi->ids);
	pthread_rwlock_destroy(&gi->lock);
	free(gi);
}

static bool text_equals(const char *t, const char *s, size_t ls, const char *r,
			size_t lr, const char *o, size_t lo)
{
	return memcmp(t, s, ls) == 0 && memcmp(t + ls, r, lr) == 0 &&
	       memcmp(t + ls + lr, o, lo) == 0;
}

/* An inline key is compared in its slot; a long one (never equal to a
 * triple that would fit inline) in its gkey. */
static bool slot_equals(const struct kslot *k, const char *s, size_t ls,
			const char *r, size_t lr, const char *o, size_t lo)
{
	const struct gkey *g = k->key;

	if (ls + lr + lo <= SLOT_TEXT)
		return k->inl && k->len_s == ls && k->len_r == lr &&
		       k->len_o == lo && text_equals(k->text, s, ls, r, lr, o, lo);
	return !k->inl && g->len_s == ls && g->len_r == lr && g->len_o == lo &&
	       text_equals(g->text, s, ls, r, lr, o, lo);
}

/* The slot holding the triple's key, or the empty slot where it would go
 * (the table always has one: load <= 1/2). */
static size_t key_slot(const struct grant_index *gi, uint32_t h,
		       const char *s, size_t ls, const char *r, size_t lr,
		       const char *o, size_t lo)
{
	size_t mask = gi->key_cap - 1, i = h & mask;

	for (; gi->keys[i].key; i = (i + 1) & mask)
		if (gi->keys[i].hash == h &&
		    slot_equals(&gi->keys[i], s, ls, r, lr, o, lo))
			break;
	return i;
}

/* The slot of key k (present). */
static size_t slot_of(const struct grant_index *gi, const struct gkey *k)
{
	size_t mask = gi->key_cap - 1, i = k->hash & mask;

	while (gi->keys[i].key != k)
		i = (i + 1) & mask;
	return i;
}

/* Doubles the key table; at load 1/2 without growing it still works
 * (just slower), so failure to grow costs speed, never correctness --
 * except at a full table, which add refuses before it happens. */
static void grow_keys(struct grant_index *gi)
{
	size_t cap = gi->key_cap * 2;
	struct kslot *t = slots_new(cap);

	if (t == NULL)
		return;
	for (size_t i = 0; i < gi->key_cap; i++) {
		size_t j;

		if (!gi->keys[i].key)
			continue;
		for (j = gi->keys[i].hash & (cap - 1); t[j].key; j = (j + 1) & (cap - 1))
			;
		t[j] = gi->keys[i];
	}
	free(gi->keys);
	/* atomic for grant_index_hint, which reads them without the lock */
	__atomic_store_n(&gi->keys, t, __ATOMIC_RELAXED);
	__atomic_store_n(&gi->key_cap, cap, __ATOMIC_RELAXED);
}

/* Empties slot i and shifts later members of its probe run back so that
 * every key stays reachable from its home slot (no tombstones). */
static void key_slot_clear(struct grant_index *gi, size_t i)
{
	size_t mask = gi->key_cap - 1, j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!gi->keys[j].key)
			break;
		home = gi->keys[j].hash & mask;
		/* movable into i unless its home lies cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		gi->keys[i] = gi->keys[j];
		i = j;
	}
	memset(&gi->keys[i], 0, sizeof(gi->keys[i]));
}

/* The longest grant of the slot's key (ties: the first in its list, as
 * added last). */
static void slot_pick_best(struct kslot *k)
{
	k->best_exp = INT64_MIN;
	k->best_id = 0;
	for (const struct grant *g = k->key->grants; g; g = g->next_in_key)
		if (g == k->key->grants || g->expires_at_ms > k->best_exp) {
			k->best_exp = g->expires_at_ms;
			k->best_id = g->request_id;
		}
}

static void grow_ids(struct grant_index *gi)
{
	size_t cap = gi->id_cap * 2;
	struct grant **t = calloc(cap, sizeof(*t));

	if (t == NULL)
		return;
	for (size_t i = 0; i < gi->id_cap; i++) {
		struct grant *g = gi->ids[i], *next;

		for (; g; g = next) {
			size_t b = hash_id(g->request_id) & (cap - 1);

			next = g->next_by_id;
			g->next_by_id = t[b];
			t[b] = g;
		}
	}
	free(gi->ids);
	gi->ids = t;
	gi->id_cap = cap;
}

static struct grant **id_slot(struct grant_index *gi, int64_t id)
{
	struct grant **p = &gi->ids[hash_id(id) & (gi->id_cap - 1)];

	while (*p && (*p)->request_id != id)
		p = &(*p)->next_by_id;
	return p;
}

/* Heap bytes of a key of that many text bytes, slot excluded. */
static size_t gkey_size(size_t text)
{
	return sizeof(struct gkey) + (text > SLOT_TEXT ? text : 0);
}

int grant_index_add(struct grant_index *gi, const char *subject,
		    const char *resource, const char *role, int64_t request_id,
		    int64_t expires_at_ms)
{
	size_t ls = strlen(subject), lr = strlen(resource), lo = strlen(role);
	size_t lt = ls + lr + lo;
	uint32_t h = hash_triple(subject, ls, resource, lr, role, lo);
	struct gkey *newkey = NULL;
	struct kslot *k;
	struct grant *g;
	size_t slot;
	int rc = JG_OK;

	if (lt + 3 > TRIPLE_MAX)
		return JG_ERR_INVALID;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return JG_ERR_NOMEM;
	g->request_id = request_id;
	g->expires_at_ms = expires_at_ms;
	/* build a key outside the lock; dropped if one exists */
	newkey = malloc(gkey_size(lt));
	if (newkey == NULL) {
		free(g);
		return JG_ERR_NOMEM;
	}
	newkey->grants = NULL;
	newkey->hash = h;
	newkey->len_s = (uint16_t)ls;
	newkey->len_r = (uint16_t)lr;
	newkey->len_o = (uint16_t)lo;
	if (lt > SLOT_TEXT) {
		memcpy(newkey->text, subject, ls);
		memcpy(newkey->text + ls, resource, lr);
		memcpy(newkey->text + ls + lr, role, lo);
	}

	pthread_rwlock_wrlock(&gi->lock);
	if (*id_slot(gi, request_id) != NULL) {
		rc = JG_ERR_CONFLICT;
		goto out;
	}
	slot = key_slot(gi, h, subject, ls, resource, lr, role, lo);
	k = &gi->keys[slot];
	if (k->key == NULL) {
		if (2 * (gi->nkeys + 1) > gi->key_cap) {
			grow_keys(gi);
			if (2 * (gi->nkeys + 1) > gi->key_cap + gi->key_cap / 2) {
				rc = JG_ERR_NOMEM; /* could not grow, nearly full */
				goto out;
			}
			slot = key_slot(gi, h, subject, ls, resource, lr, role, lo);
			k = &gi->keys[slot];
		}
		k->hash = h;
		k->key = newkey;
		k->best_exp = INT64_MIN;
		k->best_id = 0;
		k->inl = lt <= SLOT_TEXT;
		if (k->inl) {
			k->len_s = (uint8_t)ls;
			k->len_r = (uint8_t)lr;
			k->len_o = (uint8_t)lo;
			memcpy(k->text, subject, ls);
			memcpy(k->text + ls, resource, lr);
			memcpy(k->text + ls + lr, role, lo);
		}
		newkey = NULL;
		gi->nkeys++;
		gi->key_bytes += gkey_size(lt);
	}
	g->key = k->key;
	g->next_in_key = k->key->grants;
	k->key->grants = g;
	/* the newest of equally long grants wins, as slot_pick_best does */
	if (g->next_in_key == NULL || g->expires_at_ms >= k->best_exp) {
		k->best_exp = g->expires_at_ms;
		k->best_id = g->request_id;
	}
	if (gi->ngrants >= gi->id_cap)
		grow_ids(gi);
	g->next_by_id = NULL;
	*id_slot(gi, request_id) = g;
	gi->ngrants++;
	g = NULL;
out:
	pthread_rwlock_unlock(&gi->lock);
	free(newkey);
	free(g);
	return rc;
}

bool grant_index_remove(struct grant_index *gi, int64_t request_id)
{
	struct grant **slot, *g, **pp;
	struct gkey *k = NULL;
	size_t i;

	pthread_rwlock_wrlock(&gi->lock);
	slot = id_slot(gi, request_id);
	g = *slot;
	if (g == NULL) {
		pthread_rwlock_unlock(&gi->lock);
		return false;
	}
	*slot = g->next_by_id;
	gi->ngrants--;
	for (pp = &g->key->grants; *pp != g; pp = &(*pp)->next_in_key)
		;
	*pp = g->next_in_key;
	i = slot_of(gi, g->key);
	if (g->key->grants == NULL) {
		k = g->key;
		key_slot_clear(gi, i);
		gi->nkeys--;
		gi->key_bytes -= gkey_size((size_t)k->len_s + k->len_r + k->len_o);
	} else if (gi->keys[i].best_id == g->request_id) {
		slot_pick_best(&gi->keys[i]);
	}
	pthread_rwlock_unlock(&gi->lock);
	free(k);
	free(g);
	return true;
}

/* Starts fetching the home slot of hash h and the slot after it (no
 * lock, changes nothing): at the load of a million keys (0.48), 76% of
 * keys sit in their home slot and 14% one further (linear probing), so the
 * second line, fetched in parallel, spares those a second DRAM access in
 * turn; at 1k both lines are cached and the prefetches cost an instruction
 * each.  The table may be replaced meanwhile (grow_keys stores both fields
 * atomically); a stale or mismatched pair only makes the prefetch useless,
 * and a prefetch never faults.  Integer arithmetic: the address is never
 * dereferenced. */
static void prefetch_home(const struct grant_index *gi, uint32_t h)
{
	uintptr_t keys = (uintptr_t)__atomic_load_n(&gi->keys, __ATOMIC_RELAXED);
	size_t cap = __atomic_load_n(&gi->key_cap, __ATOMIC_RELAXED);

	__builtin_prefetch((const void *)(keys + (h & (cap - 1)) * sizeof(struct kslot)));
	__builtin_prefetch((const void *)(keys + ((h + 1) & (cap - 1)) * sizeof(struct kslot)));
}

static bool check_locked(struct grant_index *gi, const char *s, size_t ls, const char *r,
			 size_t lr, const char *o, size_t lo, uint32_t h, int64_t now_ms,
			 struct grant_hit *hit)
{
	const struct kslot *k;
	bool found;

	pthread_rwlock_rdlock(&gi->lock);
	k = &gi->keys[key_slot(gi, h, s, ls, r, lr, o, lo)];
	/* the longest grant is unexpired exactly when any is */
	found = k->key != NULL && k->best_exp > now_ms;
	if (found && hit) {
		hit->request_id = k->best_id;
		hit->expires_at_ms = k->best_exp;
	}
	pthread_rwlock_unlock(&gi->lock);
	return found;
}

bool grant_index_check_hinted(struct grant_index *gi, const char *subject,
			      const char *resource, const char *role, uint32_t h,
			      int64_t now_ms, struct grant_hit *hit)
{
	return check_locked(gi, subject, strlen(subject), resource, strlen(resource), role,
			    strlen(role), h, now_ms, hit);
}

bool grant_index_check(struct grant_index *gi, const char *subject,
		       const char *resource, const char *role, int64_t now_ms,
		       struct grant_hit *hit)
{
	size_t ls = strlen(subject), lr = strlen(resource), lo = strlen(role);
	uint32_t h = hash_triple(subject, ls, resource, lr, role, lo);

	/* the slot's fetch (a DRAM access at a million grants) overlaps
	 * taking the read lock */
	prefetch_home(gi, h);
	return check_locked(gi, subject, ls, resource, lr, role, lo, h, now_ms, hit);
}

uint32_t grant_index_hint(const struct grant_index *gi, const char *subject,
			  const char *resource, const char *role)
{
	uint32_t h = hash_triple(subject, strlen(subject), resource, strlen(resource), role,
				 strlen(role));

	prefetch_home(gi, h);
	return h;
}

size_t grant_index_count(struct grant_index *gi)
{
	size_t n;

	pthread_rwlock_rdlock(&gi->lock);
	n = gi->ngrants;
	pthread_rwlock_unlock(&gi->lock);
	return n;
}

size_t grant_index_bytes(struct grant_index *gi)
{
	size_t n;

	pthread_rwlock_rdlock(&gi->lock);
	n = sizeof(*gi) + gi->key_cap * sizeof(*gi->keys) +
	    gi->id_cap * sizeof(*gi->ids) + gi->ngrants * sizeof(struct grant) +
	    gi->key_bytes;
	pthread_rwlock_unlock(&gi->lock);
	return n;
}

bool grant_index_get(struct grant_index *gi, int64_t request_id, struct grant_hit *out)
{
	const struct grant *g;

	pthread_rwlock_rdlock(&gi->lock);
	g = *id_slot(gi, request_id);
	if (g && out) {
		out->request_id = g->request_id;
		out->expires_at_ms = g->expires_at_ms;
	}
	pthread_rwlock_unlock(&gi->lock);
	return g != NULL;
}

int grant_index_ids(struct grant_index *gi, int64_t **out, size_t *n)
{
	int64_t *v;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	pthread_rwlock_rdlock(&gi->lock);
	v = malloc((gi->ngrants ? gi->ngrants : 1) * sizeof(*v));
	for (size_t i = 0; v && i < gi->id_cap; i++)
		for (const struct grant *g = gi->ids[i]; g; g = g->next_by_id)
			v[k++] = g->request_id;
	pthread_rwlock_unlock(&gi->lock);
	if (v == NULL)
		return JG_ERR_NOMEM;
	*out = v;
	*n = k;
	return JG_OK;
}
