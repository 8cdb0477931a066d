/* The in-memory grant index: add/check/remove, overlapping grants on one
 * key, expiry at the boundary, duplicate ids, key text boundaries, growth
 * to 100k grants within the memory budget of design section 8, hints
 * (missing keys, growth), hostile keys (every field length, bytes that are
 * not UTF-8, equal hashes, one home slot for 200 keys), and readers
 * checking while a writer changes the index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <cmocka.h>

#include "core/grant_index.h"

#define T0 1772323200000LL

static struct grant_index *new_index(void)
{
	struct grant_index *gi = NULL;

	assert_int_equal(grant_index_new(&gi), 0);
	assert_non_null(gi);
	return gi;
}

static void test_add_check_remove(void **state)
{
	struct grant_index *gi = new_index();
	struct grant_hit hit = {0};

	(void)state;
	assert_int_equal(grant_index_count(gi), 0);
	assert_false(grant_index_check(gi, "alice", "db", "read", T0, &hit));
	assert_int_equal(grant_index_add(gi, "alice", "db", "read", 7, T0 + 1000), 0);
	assert_int_equal(grant_index_count(gi), 1);
	assert_true(grant_index_check(gi, "alice", "db", "read", T0, &hit));
	assert_int_equal(hit.request_id, 7);
	assert_int_equal(hit.expires_at_ms, T0 + 1000);
	assert_true(grant_index_check(gi, "alice", "db", "read", T0, NULL));
	/* every other triple is denied */
	assert_false(grant_index_check(gi, "alice", "db", "write", T0, NULL));
	assert_false(grant_index_check(gi, "alice", "db2", "read", T0, NULL));
	assert_false(grant_index_check(gi, "bob", "db", "read", T0, NULL));
	assert_false(grant_index_check(gi, "Alice", "db", "read", T0, NULL));
	assert_false(grant_index_check(gi, "alice", "db", "rea", T0, NULL));
	assert_true(grant_index_remove(gi, 7));
	assert_int_equal(grant_index_count(gi), 0);
	assert_false(grant_index_check(gi, "alice", "db", "read", T0, &hit));
	/* the key can come back after it was dropped */
	assert_int_equal(grant_index_add(gi, "alice", "db", "read", 8, T0 + 5), 0);
	assert_true(grant_index_check(gi, "alice", "db", "read", T0, &hit));
	assert_int_equal(hit.request_id, 8);
	grant_index_free(gi);
}

static void test_expiry_boundary(void **state)
{
	struct grant_index *gi = new_index();

	(void)state;
	assert_int_equal(grant_index_add(gi, "a", "r", "o", 1, T0 + 1000), 0);
	assert_true(grant_index_check(gi, "a", "r", "o", T0 + 999, NULL));
	/* now >= expires_at: expired, even though still in the index */
	assert_false(grant_index_check(gi, "a", "r", "o", T0 + 1000, NULL));
	assert_false(grant_index_check(gi, "a", "r", "o", T0 + 5000, NULL));
	assert_int_equal(grant_index_count(gi), 1);
	grant_index_free(gi);
}

static void test_overlapping_grants(void **state)
{
	struct grant_index *gi = new_index();
	struct grant_hit hit;

	(void)state;
	assert_int_equal(grant_index_add(gi, "a", "r", "o", 10, T0 + 10000), 0);
	assert_int_equal(grant_index_add(gi, "a", "r", "o", 30, T0 + 30000), 0);
	assert_int_equal(grant_index_add(gi, "a", "r", "o", 20, T0 + 20000), 0);
	assert_int_equal(grant_index_count(gi), 3);
	/* the longest-lasting one */
	assert_true(grant_index_check(gi, "a", "r", "o", T0, &hit));
	assert_int_equal(hit.request_id, 30);
	assert_int_equal(hit.expires_at_ms, T0 + 30000);
	/* one grant ending never ends another (rule 5) */
	assert_true(grant_index_remove(gi, 30));
	assert_true(grant_index_check(gi, "a", "r", "o", T0, &hit));
	assert_int_equal(hit.request_id, 20);
	/* the expired one is skipped, the live one is found */
	assert_true(grant_index_check(gi, "a", "r", "o", T0 + 15000, &hit));
	assert_int_equal(hit.request_id, 20);
	assert_false(grant_index_check(gi, "a", "r", "o", T0 + 20000, &hit));
	/* an already-expired grant added later changes nothing */
	assert_int_equal(grant_index_add(gi, "a", "r", "o", 40, T0 - 1), 0);
	assert_true(grant_index_check(gi, "a", "r", "o", T0, &hit));
	assert_int_equal(hit.request_id, 20);
	assert_true(grant_index_remove(gi, 10));
	assert_true(grant_index_remove(gi, 20));
	assert_false(grant_index_check(gi, "a", "r", "o", T0, &hit));
	assert_true(grant_index_remove(gi, 40));
	assert_int_equal(grant_index_count(gi), 0);
	grant_index_free(gi);
}

static void test_duplicate_and_unknown_ids(void **state)
{
	struct grant_index *gi = new_index();
	struct grant_hit hit;

	(void)state;
	assert_int_equal(grant_index_add(gi, "a", "r", "o", 5, T0 + 100), 0);
	/* same id, same or another key: conflict, nothing changes */
	assert_int_equal(grant_index_add(gi, "a", "r", "o", 5, T0 + 900),
			 JG_ERR_CONFLICT);
	assert_int_equal(grant_index_add(gi, "b", "r", "o", 5, T0 + 900),
			 JG_ERR_CONFLICT);
	assert_int_equal(grant_index_count(gi), 1);
	assert_false(grant_index_check(gi, "b", "r", "o", T0, NULL));
	assert_true(grant_index_check(gi, "a", "r", "o", T0, &hit));
	assert_int_equal(hit.expires_at_ms, T0 + 100);
	assert_false(grant_index_remove(gi, 6));
	assert_false(grant_index_remove(gi, 0));
	assert_false(grant_index_remove(gi, -5));
	assert_true(grant_index_remove(gi, 5));
	assert_false(grant_index_remove(gi, 5)); /* twice */
	assert_int_equal(grant_index_count(gi), 0);
	grant_index_free(gi);
}

/* Lookup by id and the list of ids: how a node drops every grant when it
 * is cut off from a shared store, and re-checks one deadline. */
static void test_get_and_ids(void **state)
{
	struct grant_index *gi = new_index();
	struct grant_hit hit;
	int64_t *ids;
	size_t n;
	bool seen[3000] = {false};

	(void)state;
	assert_int_equal(grant_index_ids(gi, &ids, &n), 0);
	assert_int_equal(n, 0);
	free(ids);
	assert_false(grant_index_get(gi, 7, &hit));
	/* more grants than the initial table, several sharing a key */
	for (int64_t id = 1; id <= 2500; id++)
		assert_int_equal(grant_index_add(gi, id % 3 ? "a" : "b", "r", "o", id,
						 T0 + id),
				 0);
	assert_true(grant_index_get(gi, 7, &hit));
	assert_int_equal(hit.request_id, 7);
	assert_int_equal(hit.expires_at_ms, T0 + 7);
	assert_true(grant_index_get(gi, 2500, NULL));
	assert_false(grant_index_get(gi, 2501, NULL));
	assert_int_equal(grant_index_ids(gi, &ids, &n), 0);
	assert_int_equal(n, 2500);
	for (size_t i = 0; i < n; i++) {
		assert_true(ids[i] >= 1 && ids[i] <= 2500);
		assert_false(seen[ids[i]]);
		seen[ids[i]] = true;
	}
	for (size_t i = 0; i < n; i++)
		assert_true(grant_index_remove(gi, ids[i]));
	free(ids);
	assert_int_equal(grant_index_count(gi), 0);
	assert_false(grant_index_get(gi, 7, NULL));
	grant_index_free(gi);
}

static void test_key_text_boundaries(void **state)
{
	struct grant_index *gi = new_index();
	struct grant_hit hit;

	(void)state;
	assert_int_equal(grant_index_add(gi, "ab", "c", "d", 1, T0 + 100), 0);
	assert_false(grant_index_check(gi, "a", "bc", "d", T0, NULL));
	assert_false(grant_index_check(gi, "a", "b", "cd", T0, NULL));
	assert_false(grant_index_check(gi, "abc", "", "d", T0, NULL));
	assert_false(grant_index_check(gi, "ab", "cd", "", T0, NULL));
	assert_int_equal(grant_index_add(gi, "a", "bc", "d", 2, T0 + 200), 0);
	assert_int_equal(grant_index_add(gi, "a", "b", "cd", 3, T0 + 300), 0);
	assert_true(grant_index_check(gi, "ab", "c", "d", T0, &hit));
	assert_int_equal(hit.request_id, 1);
	assert_true(grant_index_check(gi, "a", "bc", "d", T0, &hit));
	assert_int_equal(hit.request_id, 2);
	assert_true(grant_index_check(gi, "a", "b", "cd", T0, &hit));
	assert_int_equal(hit.request_id, 3);
	assert_true(grant_index_remove(gi, 2));
	assert_true(grant_index_check(gi, "ab", "c", "d", T0, NULL));
	assert_false(grant_index_check(gi, "a", "bc", "d", T0, NULL));
	assert_true(grant_index_check(gi, "a", "b", "cd", T0, NULL));
	grant_index_free(gi);
}

/* Keys of 30 to 34 text bytes (a slot holds 32 inline), and
 * keys that differ from them only in their last byte or by one byte more
 * or less: each answers for itself alone, inline or out of line. */
static void test_inline_key_boundary(void **state)
{
	static const char *const subj[] = {
		"s234567890123456789012", /* + "res4" + "rol5" (4, 4): 30 */
		"s2345678901234567890123",
		"s23456789012345678901234",
		"s234567890123456789012345",
		"s234567890123456789012345X",
	};
	enum { NS = sizeof(subj) / sizeof(subj[0]) };
	struct grant_index *gi = new_index();
	struct grant_hit hit;
	char other[64], res[16], role[16];

	(void)state;
	for (int i = 0; i < NS; i++)
		assert_int_equal(grant_index_add(gi, subj[i], "res4", "role", i + 1,
						 T0 + 100 + i), 0);
	for (int i = 0; i < NS; i++) {
		size_t n = strlen(subj[i]);

		assert_true(grant_index_check(gi, subj[i], "res4", "role", T0, &hit));
		assert_int_equal(hit.request_id, i + 1);
		/* last byte changed, in the subject and in the role */
		memcpy(other, subj[i], n + 1);
		other[n - 1] ^= 1;
		assert_false(grant_index_check(gi, other, "res4", "role", T0, NULL));
		assert_false(grant_index_check(gi, subj[i], "res4", "rolf", T0, NULL));
		/* the same bytes split differently between the fields */
		memcpy(other, subj[i], n + 1);
		other[n - 1] = '\0';
		snprintf(res, sizeof(res), "%cres4", subj[i][n - 1]);
		assert_false(grant_index_check(gi, other, res, "role", T0, NULL));
		snprintf(role, sizeof(role), "4role");
		assert_false(grant_index_check(gi, subj[i], "res", role, T0, NULL));
	}
	for (int i = 0; i < NS; i += 2)
		assert_true(grant_index_remove(gi, i + 1));
	for (int i = 0; i < NS; i++)
		assert_int_equal(grant_index_check(gi, subj[i], "res4", "role", T0,
						   NULL), i % 2 == 1);
	grant_index_free(gi);
}

/* A hint for a triple that has no grant (never had, or just lost it)
 * leads to a denial, and a hint is only a hash: taken before the table
 * grows several times, it still finds the grant afterwards. */
static void test_hint_missing_key_and_growth(void **state)
{
	enum { EARLY = 64, LATER = 20000 };
	struct grant_index *gi = new_index();
	uint32_t hints[EARLY];
	struct grant_hit hit;
	char subj[32];

	(void)state;
	assert_false(grant_index_check_hinted(gi, "nobody", "db", "read",
					      grant_index_hint(gi, "nobody", "db", "read"), T0,
					      NULL));
	for (int i = 0; i < EARLY; i++) {
		snprintf(subj, sizeof(subj), "early-%d", i);
		assert_int_equal(grant_index_add(gi, subj, "db", "read", i + 1, T0 + 100), 0);
		hints[i] = grant_index_hint(gi, subj, "db", "read");
	}
	/* the same triple hints the same, whatever the table */
	assert_int_equal(grant_index_hint(gi, "early-0", "db", "read"), hints[0]);
	for (int i = 0; i < LATER; i++) {
		snprintf(subj, sizeof(subj), "later-%d", i);
		assert_int_equal(grant_index_add(gi, subj, "db", "read", EARLY + 1 + i,
						 T0 + 100), 0);
	}
	for (int i = 0; i < EARLY; i++) {
		snprintf(subj, sizeof(subj), "early-%d", i);
		assert_true(grant_index_check_hinted(gi, subj, "db", "read", hints[i], T0, &hit));
		assert_int_equal(hit.request_id, i + 1);
		/* missing: another role, an expired grant, a removed one */
		assert_false(grant_index_check_hinted(gi, subj, "db", "write",
						      grant_index_hint(gi, subj, "db", "write"),
						      T0, NULL));
		assert_false(grant_index_check_hinted(gi, subj, "db", "read", hints[i],
						      T0 + 100, NULL));
	}
	assert_true(grant_index_remove(gi, 1));
	assert_false(grant_index_check_hinted(gi, "early-0", "db", "read", hints[0], T0, NULL));
	assert_true(grant_index_check_hinted(gi, "early-1", "db", "read", hints[1], T0, NULL));
	grant_index_free(gi);
}

/* Key n of a pass of test_hostile_key_bytes: fields of lengths (n, n, n)
 * in pass 0, (n, 0, MAXLEN - 1 - n) in pass 1, of bytes that are not UTF-8
 * (0x80.., 0xff.., and 0xc0 0xff which never is). */
#define HOSTILE_MAXLEN 20
static void hostile_key(int pass, int n, char *s, char *r, char *o)
{
	int lr = pass == 0 ? n : 0, lo = pass == 0 ? n : HOSTILE_MAXLEN - 1 - n;

	for (int k = 0; k < n; k++)
		s[k] = (char)(0x80 + k);
	for (int k = 0; k < lr; k++)
		r[k] = (char)(0xff - k);
	for (int k = 0; k < lo; k++)
		o[k] = (char)(k % 2 ? 0xff : 0xc0);
	s[n] = r[lr] = o[lo] = '\0';
}

/* Every length of each field from 0 to 19 bytes (the hash reads 8 bytes a
 * step, then a tail of 0-7), bytes that are not UTF-8, and keys one byte
 * apart: each key answers for itself alone. */
static void test_hostile_key_bytes(void **state)
{
	struct grant_index *gi = new_index();
	struct grant_hit hit;
	char s[HOSTILE_MAXLEN + 1], r[HOSTILE_MAXLEN + 1], o[HOSTILE_MAXLEN + 1];
	int64_t id = 0;

	(void)state;
	for (int pass = 0; pass < 2; pass++)
		for (int n = 0; n < HOSTILE_MAXLEN; n++) {
			hostile_key(pass, n, s, r, o);
			id++;
			assert_int_equal(grant_index_add(gi, s, r, o, id, T0 + id), 0);
		}
	id = 0;
	for (int pass = 0; pass < 2; pass++)
		for (int n = 0; n < HOSTILE_MAXLEN; n++) {
			size_t lo;

			hostile_key(pass, n, s, r, o);
			lo = strlen(o);
			id++;
			assert_true(grant_index_check(gi, s, r, o, T0, &hit));
			assert_int_equal(hit.request_id, id);
			/* each byte of the role, then of the subject, flipped */
			for (size_t k = 0; k < lo; k++) {
				o[k] ^= 0x01;
				assert_false(grant_index_check(gi, s, r, o, T0, NULL));
				o[k] ^= 0x01;
			}
			for (int k = 0; k < n; k++) {
				s[k] ^= 0x40;
				assert_false(grant_index_check(gi, s, r, o, T0, NULL));
				s[k] ^= 0x40;
			}
		}
	assert_int_equal(grant_index_count(gi), 2 * HOSTILE_MAXLEN);
	grant_index_free(gi);
}

struct hashed {
	uint32_t h;
	int i;
};

static int cmp_hashed(const void *a, const void *b)
{
	const struct hashed *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->i - y->i;
}

/* Hostile keys for the table: pairs of distinct keys with the same full
 * 32-bit hash (found by birthday search among 300,000 subjects; the slot
 * stores the hash, so only the key comparison tells them apart), and 200
 * keys ("h...") that share one home slot at the first table size -- the last slot,
 * so that their probe run wraps around the end -- added, checked and removed
 * in an order that makes deletion shift members of that run back. */
static void test_colliding_keys(void **state)
{
	enum { CANDIDATES = 300000, SAME_HOME = 200, INITIAL = 1024 };
	struct hashed *v = malloc(CANDIDATES * sizeof(*v));
	struct grant_index *gi = new_index();
	struct grant_hit hit;
	int pairs = 0, home[SAME_HOME], nhome = 0;
	char a[32], b[32];

	(void)state;
	assert_non_null(v);
	for (int i = 0; i < CANDIDATES; i++) {
		snprintf(a, sizeof(a), "c%d", i);
		v[i].h = grant_index_hint(gi, a, "db", "read");
		v[i].i = i;
	}
	for (int i = 0; nhome < SAME_HOME; i++) {
		snprintf(a, sizeof(a), "h%d", i);
		if ((grant_index_hint(gi, a, "db", "read") & (INITIAL - 1)) == INITIAL - 1)
			home[nhome++] = i;
	}
	qsort(v, CANDIDATES, sizeof(*v), cmp_hashed);
	/* full collisions: both keys of a pair live side by side */
	for (int k = 1; k < CANDIDATES; k++) {
		if (v[k].h != v[k - 1].h || (k >= 2 && v[k].h == v[k - 2].h))
			continue; /* pairs only */
		snprintf(a, sizeof(a), "c%d", v[k - 1].i);
		snprintf(b, sizeof(b), "c%d", v[k].i);
		assert_int_equal(grant_index_add(gi, a, "db", "read", 2 * k, T0 + 100), 0);
		assert_false(grant_index_check(gi, b, "db", "read", T0, NULL));
		assert_int_equal(grant_index_add(gi, b, "db", "read", 2 * k + 1, T0 + 100), 0);
		assert_true(grant_index_check(gi, a, "db", "read", T0, &hit));
		assert_int_equal(hit.request_id, 2 * k);
		assert_true(grant_index_check(gi, b, "db", "read", T0, &hit));
		assert_int_equal(hit.request_id, 2 * k + 1);
		assert_true(grant_index_remove(gi, 2 * k));
		assert_false(grant_index_check(gi, a, "db", "read", T0, NULL));
		assert_true(grant_index_check(gi, b, "db", "read", T0, &hit));
		assert_int_equal(hit.request_id, 2 * k + 1);
		pairs++;
	}
	print_message("%d pairs of keys with equal hashes\n", pairs);
	assert_true(pairs >= 1);
	assert_true(grant_index_count(gi) < INITIAL / 4); /* still the first table size */
	/* one home slot for all: one long run that wraps */
	for (int k = 0; k < SAME_HOME; k++) {
		snprintf(a, sizeof(a), "h%d", home[k]);
		assert_int_equal(grant_index_add(gi, a, "db", "read", 1000000 + k, T0 + 100), 0);
	}
	for (int step = 0; step < 2; step++) {
		/* remove every third (from the front of the run, then the rest
		 * of the thirds); every other key stays reachable */
		for (int k = step; k < SAME_HOME; k += 3)
			assert_true(grant_index_remove(gi, 1000000 + k));
		for (int k = 0; k < SAME_HOME; k++) {
			bool gone = k % 3 == 0 || (step == 1 && k % 3 == 1);

			snprintf(a, sizeof(a), "h%d", home[k]);
			assert_int_equal(grant_index_check(gi, a, "db", "read", T0, &hit), !gone);
			if (!gone)
				assert_int_equal(hit.request_id, 1000000 + k);
		}
	}
	free(v);
	grant_index_free(gi);
}

static void test_oversized_key_refused(void **state)
{
	struct grant_index *gi = new_index();
	char big[2048];

	(void)state;
	memset(big, 's', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(grant_index_add(gi, big, "r", "o", 1, T0 + 100),
			 JG_ERR_INVALID);
	assert_int_equal(grant_index_count(gi), 0);
	assert_false(grant_index_check(gi, big, "r", "o", T0, NULL));
	grant_index_free(gi);
}

/* 100k grants on distinct keys force both tables to grow many times; all
 * of them are still found, none leaks into another key, and the memory
 * per grant stays within the 256-byte budget of design section 8. */
static void test_many_grants(void **state)
{
	enum { N = 100000 };
	struct grant_index *gi = new_index();
	struct grant_hit hit;
	char subj[32], res[32];
	size_t bytes;

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(subj, sizeof(subj), "user-%d", i);
		snprintf(res, sizeof(res), "db-%d", i % 97);
		assert_int_equal(grant_index_add(gi, subj, res, "read", i + 1,
						 T0 + 1000 + i), 0);
	}
	assert_int_equal(grant_index_count(gi), N);
	bytes = grant_index_bytes(gi);
	print_message("%zu bytes for %d grants: %zu per grant\n", bytes, N,
		      bytes / N);
	assert_true(bytes / N <= 256);
	for (int i = 0; i < N; i++) {
		snprintf(subj, sizeof(subj), "user-%d", i);
		snprintf(res, sizeof(res), "db-%d", i % 97);
		assert_true(grant_index_check(gi, subj, res, "read", T0, &hit));
		assert_int_equal(hit.request_id, i + 1);
		assert_int_equal(hit.expires_at_ms, T0 + 1000 + i);
		/* the same in two steps (hint, then check with it) */
		hit.request_id = 0;
		assert_true(grant_index_check_hinted(gi, subj, res, "read",
						     grant_index_hint(gi, subj, res, "read"), T0,
						     &hit));
		assert_int_equal(hit.request_id, i + 1);
		/* the neighbouring resource is not granted */
		snprintf(res, sizeof(res), "db-%d", (i + 1) % 97);
		assert_false(grant_index_check(gi, subj, res, "read", T0, NULL));
		assert_false(grant_index_check_hinted(gi, subj, res, "read",
						      grant_index_hint(gi, subj, res, "read"), T0,
						      NULL));
	}
	/* remove every other one; the rest stay */
	for (int i = 0; i < N; i += 2)
		assert_true(grant_index_remove(gi, i + 1));
	assert_int_equal(grant_index_count(gi), N / 2);
	for (int i = 0; i < N; i++) {
		snprintf(subj, sizeof(subj), "user-%d", i);
		snprintf(res, sizeof(res), "db-%d", i % 97);
		assert_int_equal(grant_index_check(gi, subj, res, "read", T0, NULL),
				 i % 2 == 1);
	}
	/* removing frees the keys' bytes again */
	assert_true(grant_index_bytes(gi) < bytes);
	grant_index_free(gi);
}

/* Subject of model key k: every third one long enough that its key does
 * not fit in a slot (kept out of line), the others inline. */
static void model_subject(int k, char *buf, size_t len)
{
	if (k % 3 == 0)
		snprintf(buf, len, "u%d-a-subject-too-long-to-sit-in-its-slot", k);
	else
		snprintf(buf, len, "u%d", k);
}

/* Random adds and removes on few keys, each answer compared with a
 * brute-force scan of the same grants: the key table's probing and
 * deletion (keys come and go while others share their probe runs, inline
 * and out-of-line keys mixed) and the per-key "longest grant" kept across
 * removals. */
static void test_random_against_model(void **state)
{
	enum { OPS = 20000, KEYS = 300, MAXG = 4000 };
	static struct {
		int key;
		int64_t id, exp;
		bool live;
	} m[MAXG];
	struct grant_index *gi = new_index();
	unsigned seed = 12345;
	int n = 0;
	char subj[64];

	(void)state;
	for (int op = 0; op < OPS; op++) {
		seed = seed * 1103515245u + 12345u;
		int r = (int)(seed >> 8);

		if (r % 3 != 0 && n < MAXG) {
			m[n].key = r % KEYS;
			m[n].id = n + 1;
			/* few distinct expiries, so ties happen */
			m[n].exp = T0 + ((r >> 10) % 8) * 1000;
			m[n].live = true;
			model_subject(m[n].key, subj, sizeof(subj));
			assert_int_equal(grant_index_add(gi, subj, "r", "o", m[n].id,
							 m[n].exp), 0);
			n++;
		} else if (n > 0) {
			int i = (r >> 4) % n;

			assert_int_equal(grant_index_remove(gi, m[i].id), m[i].live);
			m[i].live = false;
		}
		if (op % 50 != 0)
			continue;
		for (int k = 0; k < KEYS; k++) {
			int64_t now = T0 + 3500, best = -1, best_exp = 0;
			struct grant_hit hit;

			/* the longest live grant; on a tie the one added last */
			for (int i = 0; i < n; i++)
				if (m[i].live && m[i].key == k && m[i].exp > now &&
				    (best < 0 || m[i].exp >= best_exp)) {
					best = m[i].id;
					best_exp = m[i].exp;
				}
			model_subject(k, subj, sizeof(subj));
			assert_int_equal(grant_index_check(gi, subj, "r", "o", now, &hit),
					 best >= 0);
			if (best >= 0) {
				assert_int_equal(hit.request_id, best);
				assert_int_equal(hit.expires_at_ms, best_exp);
			}
		}
	}
	grant_index_free(gi);
}

/* Many grants on few keys: the per-grant cost without the key text. */
static void test_many_grants_one_key_bytes(void **state)
{
	enum { N = 100000 };
	struct grant_index *gi = new_index();
	struct grant_hit hit;

	(void)state;
	for (int i = 0; i < N; i++)
		assert_int_equal(grant_index_add(gi, "alice", "db", "read", i + 1,
						 T0 + i), 0);
	assert_true(grant_index_bytes(gi) / N <= 256);
	assert_true(grant_index_check(gi, "alice", "db", "read", T0, &hit));
	assert_int_equal(hit.request_id, N);
	assert_true(grant_index_check(gi, "alice", "db", "read", T0 + N - 2, &hit));
	assert_int_equal(hit.request_id, N);
	assert_false(grant_index_check(gi, "alice", "db", "read", T0 + N - 1, NULL));
	grant_index_free(gi);
}

/* ---- readers while a writer changes the index ---- */

#define CC_PERM 64          /* keys that always hold one permanent grant */
#define CC_CHURN_KEYS 3000  /* keys that come and go */
#define CC_IDS 20000        /* churned request ids */
#define CC_WRITES 60000
#define CC_FAR (T0 + 100LL * 86400 * 1000)
#define CC_PERM_ID(i) (1000000 + (i))

struct cc {
	struct grant_index *gi;
	atomic_bool done;
	atomic_long reads;
	atomic_long failures;
};

/* Churned id j lives on a permanent key when odd, on a churn key when
 * even; its expiry encodes its id so a reader can tell a torn hit. */
static void churn_key(int64_t j, char *subj, size_t len)
{
	if (j % 2)
		snprintf(subj, len, "p%lld", (long long)((j / 2) % CC_PERM));
	else
		snprintf(subj, len, "c%lld", (long long)((j / 2) % CC_CHURN_KEYS));
}

static void *cc_reader(void *arg)
{
	struct cc *cc = arg;
	uint64_t x = (uint64_t)(uintptr_t)&x | 1;
	char subj[32];
	struct grant_hit hit;

	while (!atomic_load(&cc->done)) {
		bool perm, ok;
		int64_t i;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		perm = x & 1;
		i = (int64_t)((x >> 8) % (perm ? CC_PERM : CC_CHURN_KEYS));
		snprintf(subj, sizeof(subj), "%c%lld", perm ? 'p' : 'c', (long long)i);
		hit.request_id = -1;
		hit.expires_at_ms = -1;
		/* every other read in two steps, the hint taken without the
		 * lock while the writer may be growing the table */
		if (x & 2)
			ok = grant_index_check(cc->gi, subj, "db", "read", T0, &hit);
		else
			ok = grant_index_check_hinted(cc->gi, subj, "db", "read",
						      grant_index_hint(cc->gi, subj, "db", "read"),
						      T0, &hit);
		if (perm && !ok) {
			atomic_fetch_add(&cc->failures, 1); /* a live grant denied */
		} else if (ok) {
			int64_t id = hit.request_id;
			bool consistent;

			if (id == CC_PERM_ID(i) && perm)
				consistent = hit.expires_at_ms == CC_FAR;
			else
				consistent = id >= 1 && id < CC_IDS &&
					     (id % 2 == 1) == perm &&
					     (id / 2) % (perm ? CC_PERM : CC_CHURN_KEYS) == i &&
					     hit.expires_at_ms == CC_FAR + id;
			if (!consistent)
				atomic_fetch_add(&cc->failures, 1);
		}
		atomic_fetch_add(&cc->reads, 1);
	}
	return NULL;
}

static void test_concurrent_readers_and_writer(void **state)
{
	static bool present[CC_IDS];
	struct cc cc = {.gi = new_index()};
	pthread_t readers[2];
	uint64_t x = 0x1234567887654321ULL;
	char subj[32];
	size_t live = CC_PERM;

	(void)state;
	memset(present, 0, sizeof(present));
	atomic_init(&cc.done, false);
	atomic_init(&cc.reads, 0);
	atomic_init(&cc.failures, 0);
	for (int i = 0; i < CC_PERM; i++) {
		snprintf(subj, sizeof(subj), "p%d", i);
		assert_int_equal(grant_index_add(cc.gi, subj, "db", "read",
						 CC_PERM_ID(i), CC_FAR), 0);
	}
	for (int t = 0; t < 2; t++)
		assert_int_equal(pthread_create(&readers[t], NULL, cc_reader, &cc), 0);
	for (int w = 0; w < CC_WRITES; w++) {
		int64_t j;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		j = 1 + (int64_t)(x % (CC_IDS - 1));
		if (present[j]) {
			assert_true(grant_index_remove(cc.gi, j));
			live--;
		} else {
			churn_key(j, subj, sizeof(subj));
			assert_int_equal(grant_index_add(cc.gi, subj, "db", "read",
							 j, CC_FAR + j), 0);
			live++;
		}
		present[j] = !present[j];
	}
	atomic_store(&cc.done, true);
	for (int t = 0; t < 2; t++)
		pthread_join(readers[t], NULL);
	print_message("%ld reads during %d writes, %zu grants at the end\n",
		      atomic_load(&cc.reads), CC_WRITES, live);
	assert_int_equal(atomic_load(&cc.failures), 0);
	assert_int_equal(grant_index_count(cc.gi), live);
	/* the final state is exactly what the writer left */
	for (int64_t j = 1; j < CC_IDS; j++) {
		struct grant_hit hit;

		churn_key(j, subj, sizeof(subj));
		if (present[j]) {
			assert_true(grant_index_check(cc.gi, subj, "db", "read", T0, &hit));
			assert_true(hit.expires_at_ms >= CC_FAR + j);
		}
		assert_int_equal(grant_index_remove(cc.gi, j), present[j]);
	}
	assert_int_equal(grant_index_count(cc.gi), CC_PERM);
	grant_index_free(cc.gi);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_check_remove),
		cmocka_unit_test(test_expiry_boundary),
		cmocka_unit_test(test_overlapping_grants),
		cmocka_unit_test(test_duplicate_and_unknown_ids),
		cmocka_unit_test(test_get_and_ids),
		cmocka_unit_test(test_key_text_boundaries),
		cmocka_unit_test(test_inline_key_boundary),
		cmocka_unit_test(test_oversized_key_refused),
		cmocka_unit_test(test_hint_missing_key_and_growth),
		cmocka_unit_test(test_hostile_key_bytes),
		cmocka_unit_test(test_colliding_keys),
		cmocka_unit_test(test_many_grants),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_many_grants_one_key_bytes),
		cmocka_unit_test(test_concurrent_readers_and_writer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
