#include "identity/authlimit.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"

#define NIL (-1)

/* One minute of one pair (claimed and action set) or one address (both
 * empty). */
struct entry {
	uint64_t hash;
	int32_t hnext;        /* bucket chain, or the free list */
	int32_t older, newer; /* age list: entries in the order they began */
	int64_t start_ms;
	uint64_t count;   /* pair: failures after the first; address: failures */
	uint64_t refused; /* address: requests refused past the limit */
	char addr[AUTHLIMIT_ADDR_MAX];
	char claimed[AUTHLIMIT_CLAIM_MAX];
	char action[AUTHLIMIT_ACTION_MAX];
	char via[8];
	char reason[AUTHLIMIT_REASON_MAX];
};

/* A bounded hash table whose entries also form a list by age: a minute
 * begins when its entry is made, so the oldest entry always closes first
 * and both flushing and eviction work from the list's head. */
struct table {
	struct entry *e;
	int32_t *buckets;
	size_t cap, nbuckets, n;
	int32_t oldest, newest, free_head;
	bool is_addr;
};

struct authlimit {
	pthread_mutex_t mu;
	struct table pairs, addrs;
	uint8_t secret[32]; /* keys the hash: clients cannot aim at a bucket */
	authlimit_emit_fn emit;
	void *ctx;
};

static int table_init(struct table *t, size_t cap, bool is_addr)
{
	t->cap = cap;
	t->nbuckets = 1;
	while (t->nbuckets < cap * 2)
		t->nbuckets <<= 1;
	t->e = calloc(cap, sizeof(*t->e));
	t->buckets = malloc(t->nbuckets * sizeof(*t->buckets));
	if (!t->e || !t->buckets)
		return JG_ERR_NOMEM;
	for (size_t i = 0; i < t->nbuckets; i++)
		t->buckets[i] = NIL;
	for (size_t i = 0; i < cap; i++)
		t->e[i].hnext = i + 1 < cap ? (int32_t)(i + 1) : NIL;
	t->free_head = 0;
	t->oldest = t->newest = NIL;
	t->is_addr = is_addr;
	return JG_OK;
}

/* The key of a pair (addr, claimed, action), or of an address (claimed
 * and action ""): each part as the entry keeps it, NUL-separated. */
static uint64_t key_hash(const struct authlimit *l, const char *addr, const char *claimed,
			 const char *action)
{
	struct {
		uint8_t secret[32];
		char text[AUTHLIMIT_ADDR_MAX + AUTHLIMIT_CLAIM_MAX + AUTHLIMIT_ACTION_MAX];
	} in;
	uint8_t d[SHA256_LEN];
	size_t la = strnlen(addr, AUTHLIMIT_ADDR_MAX - 1);
	size_t lc = strnlen(claimed, AUTHLIMIT_CLAIM_MAX - 1);
	size_t lx = strnlen(action, AUTHLIMIT_ACTION_MAX - 1);
	uint64_t h = 0;

	memcpy(in.secret, l->secret, sizeof(in.secret));
	memcpy(in.text, addr, la);
	in.text[la] = '\0';
	memcpy(in.text + la + 1, claimed, lc);
	in.text[la + 1 + lc] = '\0';
	memcpy(in.text + la + lc + 2, action, lx);
	crypto_sha256(&in, sizeof(in.secret) + la + lc + 2 + lx, d);
	for (int i = 0; i < 8; i++)
		h = h << 8 | d[i];
	return h;
}

static int32_t table_find(const struct table *t, uint64_t h, const char *addr,
			  const char *claimed, const char *action)
{
	for (int32_t i = t->buckets[h & (t->nbuckets - 1)]; i != NIL; i = t->e[i].hnext) {
		const struct entry *e = &t->e[i];

		if (e->hash == h && strncmp(e->addr, addr, sizeof(e->addr) - 1) == 0 &&
		    strncmp(e->claimed, claimed, sizeof(e->claimed) - 1) == 0 &&
		    strncmp(e->action, action, sizeof(e->action) - 1) == 0)
			return i;
	}
	return NIL;
}

/* Reports what the entry counted, if anything. */
static void report(struct authlimit *l, const struct table *t, const struct entry *e)
{
	struct authlimit_report r = {
		.refused = t->is_addr, .addr = e->addr, .claimed = e->claimed,
		.action = e->action, .via = e->via, .reason = e->reason, .start_ms = e->start_ms,
		.count = t->is_addr ? e->refused : e->count,
	};

	if (r.count > 0 && l->emit)
		l->emit(l->ctx, &r);
}

static void table_remove(struct table *t, int32_t i)
{
	struct entry *e = &t->e[i];
	int32_t *p = &t->buckets[e->hash & (t->nbuckets - 1)];

	while (*p != i)
		p = &t->e[*p].hnext;
	*p = e->hnext;
	if (e->older != NIL)
		t->e[e->older].newer = e->newer;
	else
		t->oldest = e->newer;
	if (e->newer != NIL)
		t->e[e->newer].older = e->older;
	else
		t->newest = e->older;
	e->hnext = t->free_head;
	t->free_head = i;
	t->n--;
}

/* A new entry for the key, evicting (and reporting) the oldest when full. */
static struct entry *table_add(struct authlimit *l, struct table *t, uint64_t h,
			       const char *addr, const char *claimed, const char *action,
			       int64_t now_ms)
{
	struct entry *e;
	int32_t i, *b;

	if (t->free_head == NIL) {
		report(l, t, &t->e[t->oldest]);
		table_remove(t, t->oldest);
	}
	i = t->free_head;
	e = &t->e[i];
	t->free_head = e->hnext;
	memset(e, 0, sizeof(*e));
	e->hash = h;
	e->start_ms = now_ms;
	snprintf(e->addr, sizeof(e->addr), "%s", addr);
	snprintf(e->claimed, sizeof(e->claimed), "%s", claimed);
	snprintf(e->action, sizeof(e->action), "%s", action);
	b = &t->buckets[h & (t->nbuckets - 1)];
	e->hnext = *b;
	*b = i;
	e->older = t->newest;
	e->newer = NIL;
	if (t->newest != NIL)
		t->e[t->newest].newer = i;
	else
		t->oldest = i;
	t->newest = i;
	t->n++;
	return e;
}

static bool closed(const struct entry *e, int64_t now_ms)
{
	/* callers on several threads read the clock before taking the lock,
	 * so now may be a little older than the entry; a clock that went
	 * back by more than a minute closes it rather than stretching it */
	return now_ms >= e->start_ms + AUTHLIMIT_WINDOW_MS ||
	       now_ms < e->start_ms - AUTHLIMIT_WINDOW_MS;
}

/* The entry of the key whose minute is still open, or NULL (a closed one
 * is reported and dropped first). */
static struct entry *table_get(struct authlimit *l, struct table *t, uint64_t h,
			       const char *addr, const char *claimed, const char *action,
			       int64_t now_ms)
{
	int32_t i = table_find(t, h, addr, claimed, action);

	if (i == NIL)
		return NULL;
	if (!closed(&t->e[i], now_ms))
		return &t->e[i];
	report(l, t, &t->e[i]);
	table_remove(t, i);
	return NULL;
}

static int64_t retry_after(const struct entry *e, int64_t now_ms)
{
	int64_t ms = e->start_ms + AUTHLIMIT_WINDOW_MS - now_ms;

	if (ms > AUTHLIMIT_WINDOW_MS)
		ms = AUTHLIMIT_WINDOW_MS;
	return ms <= 1000 ? 1 : (ms + 999) / 1000;
}

int authlimit_new(size_t max_entries, authlimit_emit_fn emit, void *ctx,
		  struct authlimit **out)
{
	struct authlimit *l;
	int rc;

	*out = NULL;
	if (max_entries == 0)
		max_entries = AUTHLIMIT_DEFAULT_ENTRIES;
	if (max_entries > (1u << 24))
		return JG_ERR_INVALID;
	l = calloc(1, sizeof(*l));
	if (!l)
		return JG_ERR_NOMEM;
	pthread_mutex_init(&l->mu, NULL);
	l->emit = emit;
	l->ctx = ctx;
	if ((rc = crypto_random(l->secret, sizeof(l->secret))) != JG_OK ||
	    (rc = table_init(&l->pairs, max_entries, false)) != JG_OK ||
	    (rc = table_init(&l->addrs, max_entries, true)) != JG_OK) {
		authlimit_free(l);
		return rc;
	}
	*out = l;
	return JG_OK;
}

void authlimit_free(struct authlimit *l)
{
	if (!l)
		return;
	free(l->pairs.e);
	free(l->pairs.buckets);
	free(l->addrs.e);
	free(l->addrs.buckets);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static void set_text(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

enum authlimit_verdict authlimit_failure(struct authlimit *l, const char *addr,
					 const char *claimed, const char *action,
					 const char *via,
					 const char *reason, int64_t limit,
					 int64_t now_ms, int64_t *retry_after_s)
{
	uint64_t ha, hp;
	struct entry *a, *p;
	enum authlimit_verdict v;

	claimed = claimed ? claimed : "";
	action = action ? action : "";
	*retry_after_s = 0;
	ha = key_hash(l, addr, "", "");
	hp = key_hash(l, addr, claimed, action);
	pthread_mutex_lock(&l->mu);
	a = table_get(l, &l->addrs, ha, addr, "", "", now_ms);
	if (!a)
		a = table_add(l, &l->addrs, ha, addr, "", "", now_ms);
	set_text(a->via, sizeof(a->via), via);
	if ((int64_t)a->count >= limit) {
		a->refused++;
		*retry_after_s = retry_after(a, now_ms);
		v = AUTHLIMIT_REFUSED;
		goto out;
	}
	a->count++;
	p = table_get(l, &l->pairs, hp, addr, claimed, action, now_ms);
	if (p) {
		p->count++;
		v = AUTHLIMIT_COUNTED;
	} else {
		p = table_add(l, &l->pairs, hp, addr, claimed, action, now_ms);
		v = AUTHLIMIT_RECORD;
	}
	set_text(p->via, sizeof(p->via), via);
	set_text(p->reason, sizeof(p->reason), reason);
out:
	pthread_mutex_unlock(&l->mu);
	return v;
}

bool authlimit_over(struct authlimit *l, const char *addr, const char *via,
		    int64_t limit, int64_t now_ms, int64_t *retry_after_s)
{
	uint64_t ha = key_hash(l, addr, "", "");
	struct entry *a;
	bool over = false;

	*retry_after_s = 0;
	pthread_mutex_lock(&l->mu);
	a = table_get(l, &l->addrs, ha, addr, "", "", now_ms);
	if (a && (int64_t)a->count >= limit) {
		a->refused++;
		set_text(a->via, sizeof(a->via), via);
		*retry_after_s = retry_after(a, now_ms);
		over = true;
	}
	pthread_mutex_unlock(&l->mu);
	return over;
}

static void table_flush(struct authlimit *l, struct table *t, int64_t now_ms)
{
	while (t->oldest != NIL && closed(&t->e[t->oldest], now_ms)) {
		report(l, t, &t->e[t->oldest]);
		table_remove(t, t->oldest);
	}
}

void authlimit_flush(struct authlimit *l, int64_t now_ms)
{
	pthread_mutex_lock(&l->mu);
	table_flush(l, &l->pairs, now_ms);
	table_flush(l, &l->addrs, now_ms);
	pthread_mutex_unlock(&l->mu);
}

size_t authlimit_size(struct authlimit *l)
{
	size_t n;

	pthread_mutex_lock(&l->mu);
	n = l->pairs.n + l->addrs.n;
	pthread_mutex_unlock(&l->mu);
	return n;
}
