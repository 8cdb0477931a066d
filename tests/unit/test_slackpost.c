/* Slack's rate limit (server/slackpost.h): the wait a 429's Retry-After
 * asks for, as curl read it, is bounded on both sides; what curl could
 * not read (absent, not a number, a date gone by: 0 or negative) waits
 * the default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "server/slackpost.h"

static void test_retry_after_as_asked(void **state)
{
	(void)state;
	assert_int_equal(slackpost_retry_after_ms(1), 1000);
	assert_int_equal(slackpost_retry_after_ms(2), 2000);
	assert_int_equal(slackpost_retry_after_ms(SLACKPOST_RETRY_AFTER_MAX_S),
			 SLACKPOST_RETRY_AFTER_MAX_S * 1000);
}

static void test_retry_after_unreadable_waits_default(void **state)
{
	(void)state;
	assert_int_equal(slackpost_retry_after_ms(0), SLACKPOST_RETRY_AFTER_DEFAULT_S * 1000);
	assert_int_equal(slackpost_retry_after_ms(-1), SLACKPOST_RETRY_AFTER_DEFAULT_S * 1000);
	assert_int_equal(slackpost_retry_after_ms(INT64_MIN),
			 SLACKPOST_RETRY_AFTER_DEFAULT_S * 1000);
}

static void test_retry_after_huge_is_an_hour(void **state)
{
	(void)state;
	assert_int_equal(slackpost_retry_after_ms(SLACKPOST_RETRY_AFTER_MAX_S + 1),
			 3600 * 1000);
	assert_int_equal(slackpost_retry_after_ms(INT64_MAX), 3600 * 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_after_as_asked),
		cmocka_unit_test(test_retry_after_unreadable_waits_default),
		cmocka_unit_test(test_retry_after_huge_is_an_hour),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
