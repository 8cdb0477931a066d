/* The deadline min-heap: random pushes come out in time order, and
 * pop_due hands out exactly the entries that are due at the given time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/deadlines.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: small and reproducible from the printed seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static void test_empty(void **state)
{
	struct deadlines h = {0};
	struct deadline d = {7, 7};

	(void)state;
	assert_false(deadlines_peek(&h, &d));
	assert_false(deadlines_pop_due(&h, INT64_MAX, &d));
	assert_int_equal(d.at_ms, 7); /* untouched */
	deadlines_free(&h);
	deadlines_free(&h); /* idempotent */
	assert_int_equal(h.n, 0);
}

static void test_random_pushes_pop_in_order(void **state)
{
	enum { N = 5000 };
	struct deadlines h = {0};
	struct deadline d, peeked;
	static int seen[N];
	int64_t last = INT64_MIN;

	(void)state;
	rng_state = 0x9E3779B97F4A7C15ULL;
	memset(seen, 0, sizeof(seen));
	for (int64_t i = 0; i < N; i++) {
		/* narrow range: many equal times */
		int64_t at = 1000 + (int64_t)(rnd() % 2000);

		assert_int_equal(deadlines_push(&h, at, i), 0);
	}
	assert_int_equal(h.n, N);
	for (int i = 0; i < N; i++) {
		assert_true(deadlines_peek(&h, &peeked));
		assert_true(deadlines_pop_due(&h, INT64_MAX, &d));
		assert_int_equal(d.at_ms, peeked.at_ms);
		assert_int_equal(d.request_id, peeked.request_id);
		assert_true(d.at_ms >= last);
		last = d.at_ms;
		assert_true(d.request_id >= 0 && d.request_id < N);
		assert_int_equal(seen[d.request_id], 0);
		seen[d.request_id] = 1;
	}
	assert_false(deadlines_pop_due(&h, INT64_MAX, &d));
	deadlines_free(&h);
}

static void test_pop_due_respects_now(void **state)
{
	enum { N = 2000, EXTRA = 2000 };
	struct deadlines h = {0};
	struct deadline d;
	static int64_t at_of[N + EXTRA];
	static int popped[N + EXTRA];
	uint64_t seed = 0xC0FFEE1234567ULL;
	int n = 0;
	int64_t now = -1;

	(void)state;
	print_message("seed %llu\n", (unsigned long long)seed);
	rng_state = seed;
	memset(popped, 0, sizeof(popped));
	for (; n < N; n++) {
		at_of[n] = (int64_t)(rnd() % 100000);
		assert_int_equal(deadlines_push(&h, at_of[n], n), 0);
	}
	/* walk time forward in uneven steps, pushing more deadlines (some
	 * already due) as we go, as the engine does */
	while (now <= 110000) {
		int64_t due_before = 0, due_after = 0;

		for (int k = 0; k < 3 && n < N + EXTRA; k++, n++) {
			at_of[n] = now - 50 + (int64_t)(rnd() % 5000);
			assert_int_equal(deadlines_push(&h, at_of[n], n), 0);
		}
		for (int i = 0; i < n; i++)
			if (!popped[i] && at_of[i] <= now)
				due_before++;
		while (deadlines_pop_due(&h, now, &d)) {
			assert_true(d.at_ms <= now);
			assert_true(d.request_id >= 0 && d.request_id < n);
			assert_int_equal(d.at_ms, at_of[d.request_id]);
			assert_int_equal(popped[d.request_id], 0);
			popped[d.request_id] = 1;
			due_after++;
		}
		/* exactly everything due, nothing later */
		assert_int_equal(due_after, due_before);
		if (deadlines_peek(&h, &d))
			assert_true(d.at_ms > now);
		now += 1 + (int64_t)(rnd() % 997);
	}
	/* the last pushes lie beyond the walk: drain them */
	while (deadlines_pop_due(&h, INT64_MAX, &d)) {
		assert_true(d.at_ms > 110000 - 1000);
		assert_int_equal(popped[d.request_id], 0);
		popped[d.request_id] = 1;
	}
	assert_true(n > N + 100);
	for (int i = 0; i < n; i++)
		assert_int_equal(popped[i], 1);
	assert_int_equal(h.n, 0);
	deadlines_free(&h);
}

static void test_boundary_and_interleaving(void **state)
{
	struct deadlines h = {0};
	struct deadline d;

	(void)state;
	assert_int_equal(deadlines_push(&h, 100, 1), 0);
	assert_false(deadlines_pop_due(&h, 99, &d));
	assert_true(deadlines_pop_due(&h, 100, &d)); /* at == now is due */
	assert_int_equal(d.request_id, 1);
	/* an earlier deadline pushed later still comes out first */
	assert_int_equal(deadlines_push(&h, 500, 2), 0);
	assert_int_equal(deadlines_push(&h, 300, 3), 0);
	assert_int_equal(deadlines_push(&h, 400, 4), 0);
	assert_int_equal(deadlines_push(&h, 200, 5), 0);
	assert_true(deadlines_pop_due(&h, 1000, &d));
	assert_int_equal(d.request_id, 5);
	assert_int_equal(deadlines_push(&h, 250, 6), 0);
	assert_true(deadlines_pop_due(&h, 1000, &d));
	assert_int_equal(d.request_id, 6);
	assert_true(deadlines_pop_due(&h, 1000, &d));
	assert_int_equal(d.request_id, 3);
	assert_true(deadlines_pop_due(&h, 1000, &d));
	assert_int_equal(d.request_id, 4);
	assert_true(deadlines_pop_due(&h, 1000, &d));
	assert_int_equal(d.request_id, 2);
	assert_false(deadlines_pop_due(&h, 1000, &d));
	/* the same request may be in the heap twice (stale entries) */
	assert_int_equal(deadlines_push(&h, 10, 9), 0);
	assert_int_equal(deadlines_push(&h, 20, 9), 0);
	assert_true(deadlines_pop_due(&h, 20, &d));
	assert_true(deadlines_pop_due(&h, 20, &d));
	assert_int_equal(d.at_ms, 20);
	deadlines_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_random_pushes_pop_in_order),
		cmocka_unit_test(test_pop_due_respects_now),
		cmocka_unit_test(test_boundary_and_interleaving),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
