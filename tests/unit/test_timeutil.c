/* time_format writes its digits by hand and computes the date itself (it
 * answers every allowed check, and gmtime_r takes a global lock): the text
 * must be what gmtime_r and snprintf gave, for every date the daemon can
 * meet, and parse back with time_parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/timeutil.h"

static void reference(int64_t ms, char *out, size_t cap)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(ms % 1000));
}

static void check(int64_t ms)
{
	char got[TIME_RFC3339_LEN], want[96];
	int64_t back = -1;

	time_format(ms, got);
	reference(ms, want, sizeof(want));
	want[TIME_RFC3339_LEN - 1] = '\0';
	if (strcmp(got, want) != 0)
		print_message("ms %lld: %s, want %s\n", (long long)ms, got, want);
	assert_string_equal(got, want);
	assert_int_equal(time_parse(got, &back), 0);
	assert_int_equal(back, ms);
}

static void test_fixed(void **state)
{
	static const int64_t ms[] = {
		0, 1, 999, 1000, 59999, 86399999, 86400000,
		951782400000LL,  /* 2000-02-29 */
		1790000000123LL, 1798761599999LL, /* 2026-12-31T23:59:59.999 */
		4102444800000LL, /* 2100-01-01 */
		253402300799999LL, /* 9999-12-31T23:59:59.999 */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		check(ms[i]);
}

/* every day from 1970 into 2600, at a time of day that moves along */
static void test_every_day(void **state)
{
	(void)state;
	for (int64_t d = 0; d < 230000; d++)
		check(d * 86400000 + (d * 7919 * 1000 + d % 1000) % 86400000);
	check(253402300800000LL - 1); /* the last fast one */
}

/* outside 1970..9999 the general path, cut to the buffer as before */
static void test_outside(void **state)
{
	static const int64_t ms[] = {-1, -1000, -86400001, 253402300800000LL,
				     253402300800000LL + 86400123};

	(void)state;
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		char got[TIME_RFC3339_LEN], want[96];

		time_format(ms[i], got);
		reference(ms[i], want, sizeof(want));
		want[TIME_RFC3339_LEN - 1] = '\0';
		assert_string_equal(got, want);
	}
}

static void test_random(void **state)
{
	unsigned seed = 42;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		int64_t ms = ((int64_t)rand_r(&seed) << 31 | rand_r(&seed)) % 253402300800000LL;

		check(ms);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_every_day),
		cmocka_unit_test(test_outside),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
