/* identity/authlimit: the failed-authentication limiter of design section
 * 9, driven with explicit times (no sleeping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/authlimit.h"

#define T0 1700000000000LL
#define MIN AUTHLIMIT_WINDOW_MS

struct seen {
	int n;
	struct {
		bool refused;
		char addr[64], claimed[256], action[24], via[8], reason[160];
		uint64_t count;
		int64_t start_ms;
	} r[64];
};

static void emit(void *ctx, const struct authlimit_report *r)
{
	struct seen *s = ctx;

	assert_true(s->n < 64);
	s->r[s->n].refused = r->refused;
	snprintf(s->r[s->n].addr, sizeof(s->r[s->n].addr), "%s", r->addr);
	snprintf(s->r[s->n].claimed, sizeof(s->r[s->n].claimed), "%s", r->claimed);
	snprintf(s->r[s->n].action, sizeof(s->r[s->n].action), "%s", r->action);
	snprintf(s->r[s->n].via, sizeof(s->r[s->n].via), "%s", r->via);
	snprintf(s->r[s->n].reason, sizeof(s->r[s->n].reason), "%s", r->reason);
	s->r[s->n].count = r->count;
	s->r[s->n].start_ms = r->start_ms;
	s->n++;
}

static enum authlimit_verdict failure(struct authlimit *l, const char *addr, const char *who,
				   int64_t limit, int64_t now, int64_t *retry)
{
	return authlimit_failure(l, addr, who, "auth.failed", "api", "bad token", limit, now,
				 retry);
}

/* The first failure of a pair in a minute is recorded, the others are
 * counted and reported once when the minute closes. */
static void test_first_recorded_rest_aggregated(void **state)
{
	struct seen s = {0};
	struct authlimit *l;
	int64_t retry;

	(void)state;
	assert_int_equal(authlimit_new(0, emit, &s, &l), 0);
	assert_int_equal(failure(l, "10.0.0.1", "dave", 100, T0, &retry), AUTHLIMIT_RECORD);
	for (int i = 1; i <= 9; i++)
		assert_int_equal(failure(l, "10.0.0.1", "dave", 100, T0 + i * 1000, &retry),
				 AUTHLIMIT_COUNTED);
	/* another claimed subject, another address: their own first failures */
	assert_int_equal(failure(l, "10.0.0.1", "erin", 100, T0 + 10, &retry), AUTHLIMIT_RECORD);
	assert_int_equal(failure(l, "10.0.0.2", "dave", 100, T0 + 20, &retry), AUTHLIMIT_RECORD);
	/* nothing closes before the minute is over */
	authlimit_flush(l, T0 + MIN - 1);
	assert_int_equal(s.n, 0);
	authlimit_flush(l, T0 + MIN + 20);
	/* one report: dave's 9 further failures; the single failures of the
	 * others have nothing more to say */
	assert_int_equal(s.n, 1);
	assert_false(s.r[0].refused);
	assert_string_equal(s.r[0].addr, "10.0.0.1");
	assert_string_equal(s.r[0].claimed, "dave");
	assert_string_equal(s.r[0].reason, "bad token");
	assert_int_equal(s.r[0].count, 9);
	assert_int_equal(s.r[0].start_ms, T0);
	assert_int_equal(authlimit_size(l), 0);
	/* a new minute begins with a recorded failure again */
	assert_int_equal(failure(l, "10.0.0.1", "dave", 100, T0 + MIN + 30, &retry), AUTHLIMIT_RECORD);
	authlimit_free(l);
}

/* A failure arriving after its pair's minute closed (before any flush)
 * reports the old minute and starts a new one. */
static void test_late_failure_closes_old_minute(void **state)
{
	struct seen s = {0};
	struct authlimit *l;
	int64_t retry;

	(void)state;
	assert_int_equal(authlimit_new(0, emit, &s, &l), 0);
	assert_int_equal(failure(l, "a", "x", 100, T0, &retry), AUTHLIMIT_RECORD);
	assert_int_equal(failure(l, "a", "x", 100, T0 + 1, &retry), AUTHLIMIT_COUNTED);
	assert_int_equal(failure(l, "a", "x", 100, T0 + MIN, &retry), AUTHLIMIT_RECORD);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].count, 1);
	authlimit_free(l);
}

/* Past the limit an address is refused with Retry-After until its minute
 * closes, and the refusals are reported once; other addresses are not
 * affected. */
static void test_limit_refuses_address(void **state)
{
	struct seen s = {0};
	struct authlimit *l;
	int64_t retry = -1;

	(void)state;
	assert_int_equal(authlimit_new(0, emit, &s, &l), 0);
	for (int i = 0; i < 5; i++) {
		char who[16];

		snprintf(who, sizeof(who), "u%d", i);
		assert_int_equal(failure(l, "10.0.0.9", who, 5, T0 + i, &retry), AUTHLIMIT_RECORD);
		assert_int_equal(retry, 0);
	}
	assert_false(authlimit_over(l, "10.0.0.8", "api", 5, T0 + 10, &retry));
	assert_int_equal(failure(l, "10.0.0.9", "u9", 5, T0 + 10, &retry), AUTHLIMIT_REFUSED);
	assert_int_equal(retry, 60);
	assert_int_equal(failure(l, "10.0.0.9", "u0", 5, T0 + 30500, &retry), AUTHLIMIT_REFUSED);
	assert_int_equal(retry, 30);
	/* a request with no credentials from it is refused too */
	assert_true(authlimit_over(l, "10.0.0.9", "gateway", 5, T0 + 59999, &retry));
	assert_int_equal(retry, 1);
	/* another address is not */
	assert_int_equal(failure(l, "10.0.0.8", "u0", 5, T0 + 11, &retry), AUTHLIMIT_RECORD);
	/* the refused ones created no pair entries */
	assert_int_equal(authlimit_size(l), 2 + 5 + 1);
	authlimit_flush(l, T0 + MIN);
	assert_int_equal(s.n, 1);
	assert_true(s.r[0].refused);
	assert_string_equal(s.r[0].addr, "10.0.0.9");
	assert_string_equal(s.r[0].via, "gateway");
	assert_int_equal(s.r[0].count, 3);
	/* the minute is over: the address may try again */
	assert_false(authlimit_over(l, "10.0.0.9", "api", 5, T0 + MIN, &retry));
	assert_int_equal(failure(l, "10.0.0.9", "u0", 5, T0 + MIN, &retry), AUTHLIMIT_RECORD);
	authlimit_free(l);
}

/* Bounded memory: a table that is full evicts its oldest entry, whose
 * count is reported rather than lost. */
/* A login refused before its password (audited as check.denied) counts
 * towards the address's limit like a failed authentication, and keeps its
 * own report, apart from the auth.failed of the same pair. */
static void test_actions_counted_apart_limited_together(void **state)
{
	struct seen s = {0};
	struct authlimit *l;
	int64_t retry;

	(void)state;
	assert_int_equal(authlimit_new(0, emit, &s, &l), 0);
	assert_int_equal(authlimit_failure(l, "10.0.0.9", "dave", "check.denied", "gateway",
					   "bad_dbname", 5, T0, &retry),
			 AUTHLIMIT_RECORD);
	/* the same pair's failed password is its own first event */
	assert_int_equal(failure(l, "10.0.0.9", "dave", 5, T0 + 1, &retry), AUTHLIMIT_RECORD);
	assert_int_equal(authlimit_failure(l, "10.0.0.9", "dave", "check.denied", "gateway",
					   "replication", 5, T0 + 2, &retry),
			 AUTHLIMIT_COUNTED);
	assert_int_equal(authlimit_failure(l, "10.0.0.9", "dave", "check.denied", "gateway",
					   "bad_dbname", 5, T0 + 3, &retry),
			 AUTHLIMIT_COUNTED);
	assert_int_equal(failure(l, "10.0.0.9", "dave", 5, T0 + 4, &retry), AUTHLIMIT_COUNTED);
	/* five in all from the address: the sixth of either kind is refused */
	assert_int_equal(authlimit_failure(l, "10.0.0.9", "erin", "check.denied", "gateway",
					   "bad_dbname", 5, T0 + 5, &retry),
			 AUTHLIMIT_REFUSED);
	assert_int_equal(failure(l, "10.0.0.9", "erin", 5, T0 + 6, &retry), AUTHLIMIT_REFUSED);
	assert_true(retry >= 1 && retry <= 60);
	authlimit_flush(l, T0 + MIN + 10);
	assert_int_equal(s.n, 3);
	for (int i = 0; i < s.n; i++) {
		if (s.r[i].refused) {
			assert_int_equal(s.r[i].count, 2);
			assert_string_equal(s.r[i].action, "");
		} else if (strcmp(s.r[i].action, "check.denied") == 0) {
			assert_int_equal(s.r[i].count, 2);
			assert_string_equal(s.r[i].reason, "bad_dbname");
			assert_string_equal(s.r[i].via, "gateway");
		} else {
			assert_string_equal(s.r[i].action, "auth.failed");
			assert_int_equal(s.r[i].count, 1);
		}
	}
	authlimit_free(l);
}

static void test_bounded_evicts_oldest(void **state)
{
	struct seen s = {0};
	struct authlimit *l;
	int64_t retry;
	char who[32];

	(void)state;
	assert_int_equal(authlimit_new(8, emit, &s, &l), 0);
	assert_int_equal(failure(l, "a", "first", 1000000, T0, &retry), AUTHLIMIT_RECORD);
	assert_int_equal(failure(l, "a", "first", 1000000, T0 + 1, &retry), AUTHLIMIT_COUNTED);
	for (int i = 0; i < 1000; i++) {
		snprintf(who, sizeof(who), "guess-%d", i);
		assert_int_equal(failure(l, "a", who, 1000000, T0 + 2 + i, &retry),
				 AUTHLIMIT_RECORD);
		assert_true(authlimit_size(l) <= 16);
	}
	/* "first" was evicted with its count reported */
	assert_int_equal(s.n, 1);
	assert_string_equal(s.r[0].claimed, "first");
	assert_int_equal(s.r[0].count, 1);
	/* distinct addresses are bounded the same way */
	for (int i = 0; i < 1000; i++) {
		snprintf(who, sizeof(who), "10.1.%d.%d", i / 256, i % 256);
		(void)failure(l, who, "x", 5, T0 + 2000 + i, &retry);
		assert_true(authlimit_size(l) <= 16);
	}
	authlimit_free(l);
}

/* Outside text of any length and bytes is only ever a key. */
static void test_hostile_keys(void **state)
{
	struct seen s = {0};
	struct authlimit *l;
	int64_t retry;
	char big[4096];

	(void)state;
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[10] = '\xff';
	assert_int_equal(authlimit_new(0, emit, &s, &l), 0);
	assert_int_equal(failure(l, big, big, 100, T0, &retry), AUTHLIMIT_RECORD);
	assert_int_equal(failure(l, big, big, 100, T0 + 1, &retry), AUTHLIMIT_COUNTED);
	assert_int_equal(failure(l, "a", NULL, 100, T0, &retry), AUTHLIMIT_RECORD);
	assert_int_equal(failure(l, "a", "", 100, T0 + 1, &retry), AUTHLIMIT_COUNTED);
	authlimit_flush(l, INT64_MAX);
	assert_int_equal(s.n, 2);
	assert_int_equal(strlen(s.r[0].claimed), AUTHLIMIT_CLAIM_MAX - 1);
	assert_int_equal(authlimit_size(l), 0);
	authlimit_free(l);
}

/* Threads read the clock before taking the lock: a time a little before
 * the minute began belongs to it.  A clock that went back by more than a
 * minute closes the minute instead of stretching it. */
static void test_clock_back(void **state)
{
	struct seen s = {0};
	struct authlimit *l;
	int64_t retry;

	(void)state;
	assert_int_equal(authlimit_new(0, emit, &s, &l), 0);
	assert_int_equal(failure(l, "a", "x", 2, T0, &retry), AUTHLIMIT_RECORD);
	assert_int_equal(failure(l, "a", "x", 2, T0 - 3, &retry), AUTHLIMIT_COUNTED);
	assert_int_equal(failure(l, "a", "x", 2, T0 - 2, &retry), AUTHLIMIT_REFUSED);
	assert_int_equal(retry, 60);
	assert_int_equal(s.n, 0);
	assert_int_equal(failure(l, "a", "x", 2, T0 - MIN - 1, &retry), AUTHLIMIT_RECORD);
	assert_int_equal(s.n, 2); /* the pair's count and the address's refusal */
	authlimit_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_recorded_rest_aggregated),
		cmocka_unit_test(test_late_failure_closes_old_minute),
		cmocka_unit_test(test_limit_refuses_address),
		cmocka_unit_test(test_actions_counted_apart_limited_together),
		cmocka_unit_test(test_bounded_evicts_oldest),
		cmocka_unit_test(test_hostile_keys),
		cmocka_unit_test(test_clock_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
