#include "gateway/connlimit.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"

#define NBUCKETS 4096u /* a power of two */

struct entry {
	struct entry *next;
	struct connlimit_addr a;
	size_t n;
};

struct connlimit {
	struct entry *buckets[NBUCKETS];
	uint64_t seed; /* random: addresses are chosen by the other side */
};

int connlimit_new(struct connlimit **out)
{
	struct connlimit *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return JG_ERR_NOMEM;
	if (crypto_random(&c->seed, sizeof(c->seed)) != 0)
		c->seed = (uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ull;
	*out = c;
	return 0;
}

void connlimit_free(struct connlimit *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NBUCKETS; i++)
		while (c->buckets[i]) {
			struct entry *e = c->buckets[i];

			c->buckets[i] = e->next;
			free(e);
		}
	free(c);
}

void connlimit_addr(const struct sockaddr *sa, struct connlimit_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		out->b[10] = out->b[11] = 0xff; /* as v4-mapped */
		memcpy(out->b + 12, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a))
			memcpy(out->b, a->s6_addr, 16);
		else
			memcpy(out->b, a->s6_addr, 8); /* the /64 */
	}
}

static size_t bucket(const struct connlimit *c, const struct connlimit_addr *a)
{
	uint64_t h = c->seed;

	for (size_t i = 0; i < sizeof(a->b); i++) {
		h ^= a->b[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return (size_t)(h & (NBUCKETS - 1));
}

static struct entry **find(struct connlimit *c, const struct connlimit_addr *a)
{
	struct entry **p = &c->buckets[bucket(c, a)];

	while (*p && memcmp((*p)->a.b, a->b, sizeof(a->b)) != 0)
		p = &(*p)->next;
	return p;
}

size_t connlimit_count(const struct connlimit *c,
		       const struct connlimit_addr *a)
{
	struct entry **p = find((struct connlimit *)c, a);

	return *p ? (*p)->n : 0;
}

int connlimit_acquire(struct connlimit *c, const struct connlimit_addr *a)
{
	struct entry **p = find(c, a);

	if (!*p) {
		struct entry *e = calloc(1, sizeof(*e));

		if (!e)
			return JG_ERR_NOMEM;
		e->a = *a;
		*p = e;
	}
	(*p)->n++;
	return 0;
}

void connlimit_release(struct connlimit *c, const struct connlimit_addr *a)
{
	struct entry **p = find(c, a), *e = *p;

	if (!e)
		return;
	if (--e->n == 0) {
		*p = e->next;
		free(e);
	}
}

bool connlimit_log_due(struct connlimit_ratelog *r, int64_t now_ms,
		       uint64_t *count)
{
	r->count++;
	if (r->last_ms != 0 && now_ms - r->last_ms < CONNLIMIT_LOG_EVERY_MS)
		return false;
	*count = r->count;
	r->count = 0;
	r->last_ms = now_ms;
	return true;
}
