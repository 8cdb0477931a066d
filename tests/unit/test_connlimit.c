/* The gateway's per-address connection counts and rate-limited log lines:
 * which addresses count as one client, that counts go back to nothing, and
 * that a flood of refusals makes one log line per interval with a count. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/connlimit.h"

static struct connlimit_addr addr_of(const char *ip)
{
	struct sockaddr_storage ss;
	struct connlimit_addr a;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *in = (struct sockaddr_in6 *)&ss;

		in->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &in->sin6_addr), 1);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	}
	connlimit_addr((const struct sockaddr *)&ss, &a);
	return a;
}

static void test_counts(void **state)
{
	struct connlimit *c;
	struct connlimit_addr a = addr_of("192.0.2.7");
	struct connlimit_addr b = addr_of("192.0.2.8");

	(void)state;
	assert_int_equal(connlimit_new(&c), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(connlimit_acquire(c, &a), 0);
	assert_int_equal(connlimit_acquire(c, &b), 0);
	assert_int_equal(connlimit_count(c, &a), 5);
	assert_int_equal(connlimit_count(c, &b), 1);
	for (int i = 0; i < 5; i++)
		connlimit_release(c, &a);
	assert_int_equal(connlimit_count(c, &a), 0);
	/* releasing what is not there changes nothing */
	connlimit_release(c, &a);
	assert_int_equal(connlimit_count(c, &a), 0);
	assert_int_equal(connlimit_count(c, &b), 1);
	/* many addresses (all in the same few buckets or not) */
	for (int i = 0; i < 20000; i++) {
		struct connlimit_addr x;

		memset(&x, 0, sizeof(x));
		memcpy(x.b, &i, sizeof(i));
		assert_int_equal(connlimit_acquire(c, &x), 0);
	}
	assert_int_equal(connlimit_count(c, &b), 1);
	connlimit_free(c); /* frees what is still counted */
}

static void test_what_counts_as_one_client(void **state)
{
	struct connlimit *c;
	struct connlimit_addr v4 = addr_of("198.51.100.1");
	struct connlimit_addr mapped = addr_of("::ffff:198.51.100.1");
	struct connlimit_addr h1 = addr_of("2001:db8:1:2::1");
	struct connlimit_addr h2 = addr_of("2001:db8:1:2:ffff::9");
	struct connlimit_addr other64 = addr_of("2001:db8:1:3::1");

	(void)state;
	assert_int_equal(connlimit_new(&c), 0);
	assert_int_equal(connlimit_acquire(c, &v4), 0);
	/* an IPv4 client is the same seen through a v4-mapped socket */
	assert_int_equal(connlimit_count(c, &mapped), 1);
	/* IPv6: one /64 is one client */
	assert_int_equal(connlimit_acquire(c, &h1), 0);
	assert_int_equal(connlimit_count(c, &h2), 1);
	assert_int_equal(connlimit_count(c, &other64), 0);
	connlimit_free(c);
}

static void test_log_rate(void **state)
{
	struct connlimit_ratelog r = {0, 0};
	uint64_t n = 0;
	int lines = 0;

	(void)state;
	/* 100,000 refusals over 25 s: a line at once, then one per 10 s */
	for (int i = 0; i < 100000; i++)
		if (connlimit_log_due(&r, 1000000 + (int64_t)i / 4, &n)) {
			lines++;
			if (lines == 1)
				assert_int_equal(n, 1);
			else
				assert_int_equal(n, 40000); /* 10 s of them */
		}
	assert_int_equal(lines, 3);
	/* the next line counts everything since the last one */
	assert_true(connlimit_log_due(&r, 1000000 + 40000, &n));
	assert_int_equal(n, 20000); /* 19,999 since the last line, and this */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_what_counts_as_one_client),
		cmocka_unit_test(test_log_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
