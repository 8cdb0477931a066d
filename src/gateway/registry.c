#include "gateway/registry.h"

#include <stdlib.h>

struct registry {
	struct registry_link **buckets;
	size_t mask;
};

static size_t bucket_of(const struct registry *r, int64_t key)
{
	uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & r->mask;
}

int registry_new(size_t nbuckets, struct registry **out)
{
	struct registry *r;
	size_t n = 16;

	*out = NULL;
	while (n < nbuckets && n < ((size_t)1 << 24))
		n <<= 1;
	r = calloc(1, sizeof(*r));
	if (!r)
		return JG_ERR_NOMEM;
	r->buckets = calloc(n, sizeof(*r->buckets));
	if (!r->buckets) {
		free(r);
		return JG_ERR_NOMEM;
	}
	r->mask = n - 1;
	*out = r;
	return 0;
}

void registry_free(struct registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i <= r->mask; i++)
		while (r->buckets[i])
			registry_remove(r->buckets[i]);
	free(r->buckets);
	free(r);
}

void registry_insert(struct registry *r, struct registry_link *l, int64_t key)
{
	struct registry_link **head = &r->buckets[bucket_of(r, key)];

	registry_remove(l);
	l->key = key;
	l->next = *head;
	if (*head)
		(*head)->pprev = &l->next;
	l->pprev = head;
	*head = l;

}

/* A link does not know its registry, so registry_count walks the buckets
 * instead of keeping a counter (it is for tests and shutdown only). */
void registry_remove(struct registry_link *l)
{
	if (!l->pprev)
		return;
	*l->pprev = l->next;
	if (l->next)
		l->next->pprev = l->pprev;
	l->next = NULL;
	l->pprev = NULL;
}

bool registry_linked(const struct registry_link *l)
{
	return l->pprev != NULL;
}

size_t registry_find(const struct registry *r, int64_t key,
		     struct registry_link **out, size_t max)
{
	size_t n = 0;

	for (struct registry_link *l = r->buckets[bucket_of(r, key)]; l;
	     l = l->next) {
		if (l->key != key)
			continue;
		if (n < max)
			out[n] = l;
		n++;
	}
	return n;
}

size_t registry_count(const struct registry *r)
{
	size_t n = 0;

	for (size_t i = 0; i <= r->mask; i++)
		for (struct registry_link *l = r->buckets[i]; l; l = l->next)
			n++;
	return n;
}
