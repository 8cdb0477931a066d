/* Durations ("90s", "1h30m", "2d"): what parses, what is refused, and that
 * the shortest form written by duration_format parses back to the same
 * number of seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/duration.h"

static void expect_ok(const char *s, int64_t want)
{
	int64_t got = -1;
	int rc = duration_parse(s, &got);

	if (rc != 0 || got != want)
		print_message("\"%s\": rc=%d got %lld want %lld\n", s, rc,
			      (long long)got, (long long)want);
	assert_int_equal(rc, 0);
	assert_int_equal(got, want);
}

static void expect_bad(const char *s)
{
	int64_t got = 12345;
	int rc = duration_parse(s, &got);

	if (rc != JG_ERR_INVALID)
		print_message("\"%s\" should be refused, rc=%d got %lld\n",
			      s ? s : "(null)", rc, (long long)got);
	assert_int_equal(rc, JG_ERR_INVALID);
	assert_int_equal(got, 0); /* *out_s is 0 on failure */
}

static void test_good(void **state)
{
	(void)state;
	expect_ok("1s", 1);
	expect_ok("90s", 90);
	expect_ok("30m", 1800);
	expect_ok("4h", 14400);
	expect_ok("2d", 172800);
	expect_ok("1h30m", 5400);
	expect_ok("1d2h3m4s", 86400 + 7200 + 180 + 4);
	expect_ok("1d4s", 86404);
	expect_ok("2h5s", 7205);
	/* a unit may carry more than its natural range */
	expect_ok("90m", 5400);
	expect_ok("100h", 360000);
	/* leading zeros and zero parts are fine as long as the total is > 0 */
	expect_ok("007s", 7);
	expect_ok("0h1m", 60);
	expect_ok("1h0m", 3600);
	/* the maximum, 366 days, in several spellings */
	expect_ok("366d", 366LL * 86400);
	expect_ok("365d24h", 366LL * 86400);
	expect_ok("8784h", 366LL * 86400);
	expect_ok("31622400s", 366LL * 86400);
	expect_ok("365d23h59m59s", 366LL * 86400 - 1);
}

static void test_bad(void **state)
{
	(void)state;
	/* empty and missing pieces */
	expect_bad(NULL);
	expect_bad("");
	expect_bad("s");
	expect_bad("h1");
	expect_bad("10");
	expect_bad("1h30");
	/* unknown units, case */
	expect_bad("1w");
	expect_bad("1y");
	expect_bad("1ms");
	expect_bad("1H");
	expect_bad("1S");
	/* order and repeats */
	expect_bad("30m1h");
	expect_bad("1s1m");
	expect_bad("1m1d");
	expect_bad("1h1h");
	expect_bad("1m2m");
	expect_bad("1d1h1d");
	/* zero */
	expect_bad("0s");
	expect_bad("0d0h0m0s");
	expect_bad("0");
	/* signs, spaces, separators, other numbers */
	expect_bad("-1s");
	expect_bad("+1s");
	expect_bad(" 1s");
	expect_bad("1s ");
	expect_bad("1 s");
	expect_bad("1h 30m");
	expect_bad("1h,30m");
	expect_bad("1.5h");
	expect_bad("1e3s");
	expect_bad("0x10s");
	expect_bad("1s\n");
	/* above 366 days, and numbers built to overflow */
	expect_bad("367d");
	expect_bad("366d1s");
	expect_bad("8785h");
	expect_bad("31622401s");
	expect_bad("999999999d");
	expect_bad("9999999999s");
	expect_bad("99999999999999999999s");
	expect_bad("9223372036854775807s");
	expect_bad("18446744073709551617s");
	/* longer than any sensible duration */
	expect_bad("0000000000000000000000000000000001s");
}

static void test_format(void **state)
{
	char buf[32];

	(void)state;
	duration_format(90, buf, sizeof(buf));
	assert_string_equal(buf, "1m30s");
	duration_format(5400, buf, sizeof(buf));
	assert_string_equal(buf, "1h30m");
	duration_format(3600, buf, sizeof(buf));
	assert_string_equal(buf, "1h");
	duration_format(86400 + 4, buf, sizeof(buf));
	assert_string_equal(buf, "1d4s");
	duration_format(366LL * 86400, buf, sizeof(buf));
	assert_string_equal(buf, "366d");
	duration_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
	/* a short buffer is truncated, still terminated */
	memset(buf, 'x', sizeof(buf));
	duration_format(86400 + 7200 + 180 + 4, buf, 5);
	assert_true(strlen(buf) < 5);
	assert_memory_equal(buf, "1d2h", strlen(buf));
	duration_format(90, buf, 1);
	assert_string_equal(buf, "");
}

/* parse(format(n)) == n over the whole range, stepping through it with
 * primes so every unit combination turns up, plus the edges. */
static void test_round_trip(void **state)
{
	char buf[32], again[32];
	int64_t got;

	(void)state;
	for (int64_t n = 1; n <= DURATION_MAX_S; n += (n < 100000 ? 7 : 9973)) {
		duration_format(n, buf, sizeof(buf));
		assert_int_equal(duration_parse(buf, &got), 0);
		assert_int_equal(got, n);
		/* and the written form is canonical: formatting it again is
		 * the identity */
		duration_format(got, again, sizeof(again));
		assert_string_equal(buf, again);
	}
	duration_format(DURATION_MAX_S, buf, sizeof(buf));
	assert_int_equal(duration_parse(buf, &got), 0);
	assert_int_equal(got, DURATION_MAX_S);
	/* non-canonical spellings come back in their shortest form */
	assert_int_equal(duration_parse("90m", &got), 0);
	duration_format(got, buf, sizeof(buf));
	assert_string_equal(buf, "1h30m");
	assert_int_equal(duration_parse("0h1m60s", &got), 0);
	duration_format(got, buf, sizeof(buf));
	assert_string_equal(buf, "2m");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
