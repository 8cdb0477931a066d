/* The grant index against a model, driven by arbitrary bytes: keys whose
 * subjects are any bytes (not UTF-8, up to the size limit and past it),
 * adds with any id and expiry, removes, checks and hinted checks at any
 * time.  Every answer must be the model's: allowed exactly when an
 * unexpired grant covers the triple, the hit one of that triple's longest
 * grants, a duplicate id refused, the count right. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grant_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* aborts naming the broken expectation */
#define MUST(c)                                                                    \
	do {                                                                       \
		if (!(c)) {                                                        \
			fprintf(stderr, "fuzz_grant_index:%d: %s\n", __LINE__, #c); \
			abort();                                                   \
		}                                                                  \
	} while (0)

#define NKEYS 8
#define NIDS 48
#define SUBJECT_MAX 1100 /* past the index's 1,024-byte limit */

static const char *const resources[] = {"", "db", "orders-db",
					"\xff\xfe\x80 not utf-8 resource name, long enough"};
static const char *const roles[] = {"", "read", "\xc0\xaf", "administrator-on-call-24"};

struct mkey {
	char subject[SUBJECT_MAX + 1];
	const char *resource, *role;
};

struct mgrant {
	bool live;
	int key;
	int64_t exp;
};

static bool same_key(const struct mkey *a, const struct mkey *b)
{
	return strcmp(a->subject, b->subject) == 0 && strcmp(a->resource, b->resource) == 0 &&
	       strcmp(a->role, b->role) == 0;
}

static size_t key_len(const struct mkey *k)
{
	return strlen(k->subject) + strlen(k->resource) + strlen(k->role);
}

/* The model's answer for key k at now: the longest unexpired expiry, or
 * INT64_MIN when none. */
static int64_t model_best(const struct mkey *keys, const struct mgrant *g, int k, int64_t now)
{
	int64_t best = INT64_MIN;

	for (int id = 0; id < NIDS; id++)
		if (g[id].live && same_key(&keys[g[id].key], &keys[k]) && g[id].exp > best)
			best = g[id].exp;
	return best > now ? best : INT64_MIN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mkey keys[NKEYS];
	struct mgrant g[NIDS];
	struct grant_index *gi = NULL;
	size_t pos = 0, live = 0;

	memset(g, 0, sizeof(g));
	/* the keys: a length byte (x 5 for the long ones), then the bytes */
	for (int k = 0; k < NKEYS; k++) {
		size_t len = 0;

		if (pos < size) {
			len = data[pos++];
			if (len >= 200)
				len = (len - 199) * 20 + 60; /* up to 1,200 */
		}
		if (len > SUBJECT_MAX)
			len = SUBJECT_MAX;
		if (len > size - pos)
			len = size - pos;
		memcpy(keys[k].subject, data + pos, len);
		keys[k].subject[len] = '\0'; /* a NUL inside ends it early */
		pos += len;
		keys[k].resource = resources[k % 4];
		keys[k].role = roles[(k / 2) % 4];
	}
	MUST(grant_index_new(&gi) == 0);
	for (int ops = 0; pos + 3 <= size && ops < 4000; ops++, pos += 3) {
		int op = data[pos] & 3, k = (data[pos] >> 2) % NKEYS, id = data[pos + 1] % NIDS;
		int64_t t = (int64_t)data[pos + 2] * 10;
		struct mkey *key = &keys[k];
		struct grant_hit hit;
		int64_t best;
		bool ok;

		switch (op) {
		case 0: {
			int rc = grant_index_add(gi, key->subject, key->resource, key->role, id + 1,
						 t);

			/* a key past the size limit is refused before its id is looked at */
			if (key_len(key) + 3 > 1024) {
				MUST(rc == JG_ERR_INVALID);
			} else if (g[id].live) {
				MUST(rc == JG_ERR_CONFLICT);
			} else {
				MUST(rc == 0);
				g[id] = (struct mgrant){true, k, t};
				live++;
			}
			break;
		}
		case 1:
			MUST(grant_index_remove(gi, id + 1) == g[id].live);
			if (g[id].live)
				live--;
			g[id].live = false;
			break;
		default:
			best = model_best(keys, g, k, t);
			if (op == 2)
				ok = grant_index_check(gi, key->subject, key->resource, key->role, t,
						       &hit);
			else
				ok = grant_index_check_hinted(
					gi, key->subject, key->resource, key->role,
					grant_index_hint(gi, key->subject, key->resource, key->role), t,
					&hit);
			MUST(ok == (best != INT64_MIN));
			if (ok) {
				int hid = (int)hit.request_id - 1;

				MUST(hit.expires_at_ms == best && hid >= 0 && hid < NIDS);
				MUST(g[hid].live && g[hid].exp == best &&
				     same_key(&keys[g[hid].key], key));
			}
			break;
		}
		MUST(grant_index_count(gi) == live);
	}
	grant_index_free(gi);
	return 0;
}
