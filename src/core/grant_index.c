#include "core/grant_index.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Grants with the same (subject, resource, role) share one key; a key
 * lives while it has grants.  Keys live in an open-addressing table of
 * {hash, key} slots (linear probing, load <= 1/2) and carry the expiry and
 * id of their longest grant, so that a check at a million grants touches
 * two cache lines that are not already hot (the slot, the key) instead of
 * following bucket -> key -> chain -> grant (docs/benchmarks.md).  Grants
 * by request id: a chained hash table. */
struct gkey {
	uint64_t hash;
	struct grant *grants;
	int64_t best_exp, best_id; /* the grant check answers with */
	uint16_t len_s, len_r;     /* offsets into text */
	char text[];               /* "subject\0resource\0role\0" */
};

struct kslot {
	uint64_t hash;
	struct gkey *key; /* NULL: empty */
};

struct grant {
	int64_t request_id;
	int64_t expires_at_ms;
	struct gkey *key;
	struct grant *next_in_key;
	struct grant *next_by_id;
};

struct grant_index {
	pthread_rwlock_t lock;
	struct kslot *keys;
	size_t nkeys, key_cap; /* key_cap: power of two, >= 2 * nkeys */
	struct grant **ids;
	size_t ngrants, id_cap;
	size_t key_bytes;
};

#define INITIAL_CAP 1024
#define TRIPLE_MAX 1024

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t hash_triple(const char *s, size_t ls, const char *r, size_t lr,
			    const char *o, size_t lo)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	/* lengths separate the fields, so ("ab","c") and ("a","bc") differ */
	h = fnv1a(h, s, ls + 1);
	h = fnv1a(h, r, lr + 1);
	h = fnv1a(h, o, lo + 1);
	return h ^ (h >> 29);
}

static uint64_t hash_id(int64_t id)
{
	uint64_t x = (uint64_t)id;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

int grant_index_new(struct grant_index **out)
{
	struct grant_index *gi;

	*out = NULL;
	gi = calloc(1, sizeof(*gi));
	if (gi == NULL)
		return JG_ERR_NOMEM;
	gi->key_cap = gi->id_cap = INITIAL_CAP;
	gi->keys = calloc(gi->key_cap, sizeof(*gi->keys));
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

static bool key_equals(const struct gkey *k, const char *s, size_t ls,
		       const char *r, size_t lr, const char *o, size_t lo)
{
	return k->len_s == ls && k->len_r == lr &&
	       memcmp(k->text, s, ls) == 0 &&
	       memcmp(k->text + ls + 1, r, lr) == 0 &&
	       strcmp(k->text + ls + lr + 2, o) == 0 &&
	       strlen(k->text + ls + lr + 2) == lo;
}

/* The slot holding the triple's key, or the empty slot where it would go
 * (the table always has one: load <= 1/2). */
static size_t key_slot(const struct grant_index *gi, uint64_t h,
		       const char *s, size_t ls, const char *r, size_t lr,
		       const char *o, size_t lo)
{
	size_t mask = gi->key_cap - 1, i = h & mask;

	for (; gi->keys[i].key; i = (i + 1) & mask)
		if (gi->keys[i].hash == h &&
		    key_equals(gi->keys[i].key, s, ls, r, lr, o, lo))
			break;
	return i;
}

/* Doubles the key table; at load 1/2 without growing it still works
 * (just slower), so failure to grow costs speed, never correctness --
 * except at a full table, which add refuses before it happens. */
static void grow_keys(struct grant_index *gi)
{
	size_t cap = gi->key_cap * 2;
	struct kslot *t = calloc(cap, sizeof(*t));

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
	gi->keys = t;
	gi->key_cap = cap;
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
	gi->keys[i].key = NULL;
	gi->keys[i].hash = 0;
}

/* The longest grant of k (ties: the first in its list, as added last). */
static void key_pick_best(struct gkey *k)
{
	k->best_exp = INT64_MIN;
	k->best_id = 0;
	for (const struct grant *g = k->grants; g; g = g->next_in_key)
		if (g == k->grants || g->expires_at_ms > k->best_exp) {
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

int grant_index_add(struct grant_index *gi, const char *subject,
		    const char *resource, const char *role, int64_t request_id,
		    int64_t expires_at_ms)
{
	size_t ls = strlen(subject), lr = strlen(resource), lo = strlen(role);
	uint64_t h = hash_triple(subject, ls, resource, lr, role, lo);
	struct gkey *k, *newkey = NULL;
	struct grant *g;
	size_t slot;
	int rc = JG_OK;

	if (ls + lr + lo + 3 > TRIPLE_MAX)
		return JG_ERR_INVALID;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return JG_ERR_NOMEM;
	g->request_id = request_id;
	g->expires_at_ms = expires_at_ms;
	/* build a key outside the lock; dropped if one exists */
	newkey = malloc(sizeof(*newkey) + ls + lr + lo + 3);
	if (newkey == NULL) {
		free(g);
		return JG_ERR_NOMEM;
	}
	newkey->hash = h;
	newkey->grants = NULL;
	newkey->best_exp = INT64_MIN;
	newkey->best_id = 0;
	newkey->len_s = (uint16_t)ls;
	newkey->len_r = (uint16_t)lr;
	memcpy(newkey->text, subject, ls + 1);
	memcpy(newkey->text + ls + 1, resource, lr + 1);
	memcpy(newkey->text + ls + lr + 2, role, lo + 1);

	pthread_rwlock_wrlock(&gi->lock);
	if (*id_slot(gi, request_id) != NULL) {
		rc = JG_ERR_CONFLICT;
		goto out;
	}
	slot = key_slot(gi, h, subject, ls, resource, lr, role, lo);
	k = gi->keys[slot].key;
	if (k == NULL) {
		if (2 * (gi->nkeys + 1) > gi->key_cap) {
			grow_keys(gi);
			if (2 * (gi->nkeys + 1) > gi->key_cap + gi->key_cap / 2) {
				rc = JG_ERR_NOMEM; /* could not grow, nearly full */
				goto out;
			}
			slot = key_slot(gi, h, subject, ls, resource, lr, role, lo);
		}
		k = newkey;
		newkey = NULL;
		gi->keys[slot].hash = h;
		gi->keys[slot].key = k;
		gi->nkeys++;
		gi->key_bytes += sizeof(*k) + ls + lr + lo + 3;
	}
	g->key = k;
	g->next_in_key = k->grants;
	k->grants = g;
	/* the newest of equally long grants wins, as key_pick_best does */
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
	if (g->key->grants == NULL) {
		size_t mask = gi->key_cap - 1, i = g->key->hash & mask;

		while (gi->keys[i].key != g->key)
			i = (i + 1) & mask;
		k = g->key;
		key_slot_clear(gi, i);
		gi->nkeys--;
		gi->key_bytes -= sizeof(*k) + strlen(k->text) +
				 strlen(k->text + k->len_s + 1) +
				 strlen(k->text + k->len_s + k->len_r + 2) + 3;
	} else if (g->key->best_id == g->request_id) {
		key_pick_best(g->key);
	}
	pthread_rwlock_unlock(&gi->lock);
	free(k);
	free(g);
	return true;
}

bool grant_index_check(struct grant_index *gi, const char *subject,
		       const char *resource, const char *role, int64_t now_ms,
		       struct grant_hit *hit)
{
	size_t ls = strlen(subject), lr = strlen(resource), lo = strlen(role);
	uint64_t h = hash_triple(subject, ls, resource, lr, role, lo);
	const struct gkey *k;
	bool found;

	pthread_rwlock_rdlock(&gi->lock);
	k = gi->keys[key_slot(gi, h, subject, ls, resource, lr, role, lo)].key;
	/* the longest grant is unexpired exactly when any is */
	found = k != NULL && k->best_exp > now_ms;
	if (found && hit) {
		hit->request_id = k->best_id;
		hit->expires_at_ms = k->best_exp;
	}
	pthread_rwlock_unlock(&gi->lock);
	return found;
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
