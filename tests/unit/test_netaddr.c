/* The one parser for numbers and listener addresses (src/util/netaddr.c),
 * binding without address reuse, URL redaction for logs, and the store
 * lock (src/util/lockfile.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "util/lockfile.h"
#include "util/netaddr.h"

static void num_ok(const char *s, uint64_t lo, uint64_t hi, uint64_t want)
{
	uint64_t got = 7;

	if (num_parse_u64(s, strlen(s), lo, hi, &got) != JG_OK || got != want)
		print_message("\"%s\" should parse to %llu\n", s, (unsigned long long)want);
	assert_int_equal(num_parse_u64(s, strlen(s), lo, hi, &got), JG_OK);
	assert_true(got == want);
}

static void num_bad(const char *s, size_t len, uint64_t lo, uint64_t hi)
{
	uint64_t got = 7;

	if (num_parse_u64(s, len, lo, hi, &got) != JG_ERR_INVALID)
		print_message("\"%.*s\" should be refused\n", (int)len, s ? s : "");
	assert_int_equal(num_parse_u64(s, len, lo, hi, &got), JG_ERR_INVALID);
	assert_true(got == 0);
}

static void test_numbers(void **state)
{
	(void)state;
	num_ok("0", 0, 10, 0);
	num_ok("10", 0, 10, 10);
	num_ok("65535", 1, 65535, 65535);
	num_ok("18446744073709551615", 0, UINT64_MAX, UINT64_MAX);
	num_bad("18446744073709551616", 20, 0, UINT64_MAX); /* overflow */
	num_bad("99999999999999999999", 20, 0, UINT64_MAX);
	num_bad("11", 2, 0, 10);
	num_bad("0", 1, 1, 10);
	num_bad("", 0, 0, 10);
	num_bad(NULL, 0, 0, 10);
	num_bad("01", 2, 0, 10);
	num_bad("+1", 2, 0, 10);
	num_bad("-1", 2, 0, 10);
	num_bad(" 1", 2, 0, 10);
	num_bad("1 ", 2, 0, 10);
	num_bad("0x1", 3, 0, 10);
	num_bad("1\0", 2, 0, 10); /* an embedded NUL is not a digit */
	num_bad("\xff", 1, 0, 10);
	num_bad("123456789012345678901", 21, 0, UINT64_MAX);
}

static void addr_ok(const char *s, int family, unsigned port)
{
	struct netaddr a;
	char why[128] = "", back[NETADDR_TEXT_MAX + 1];

	if (netaddr_parse(s, 1, &a, why, sizeof(why)) != JG_OK)
		print_message("\"%s\" refused: %s\n", s, why);
	assert_int_equal(netaddr_parse(s, 1, &a, why, sizeof(why)), JG_OK);
	assert_int_equal(a.ss.ss_family, family);
	assert_int_equal(a.len, family == AF_INET ? sizeof(struct sockaddr_in)
						  : sizeof(struct sockaddr_in6));
	netaddr_format((struct sockaddr *)&a.ss, back, sizeof(back));
	assert_string_equal(back, s); /* canonical inputs round-trip */
	assert_int_equal(family == AF_INET
				 ? ntohs(((struct sockaddr_in *)&a.ss)->sin_port)
				 : ntohs(((struct sockaddr_in6 *)&a.ss)->sin6_port),
			 port);
}

static void addr_bad(const char *s, const char *why_part)
{
	struct netaddr a;
	char why[128] = "";

	if (netaddr_parse(s, 1, &a, why, sizeof(why)) != JG_ERR_INVALID)
		print_message("\"%s\" should be refused\n", s);
	assert_int_equal(netaddr_parse(s, 1, &a, why, sizeof(why)), JG_ERR_INVALID);
	if (strstr(why, why_part) == NULL)
		print_message("\"%s\": reason \"%s\" lacks \"%s\"\n", s, why, why_part);
	assert_non_null(strstr(why, why_part));
	assert_int_equal(a.len, 0);
}

static void test_addresses(void **state)
{
	struct netaddr a;

	(void)state;
	addr_ok("127.0.0.1:8700", AF_INET, 8700);
	addr_ok("0.0.0.0:1", AF_INET, 1);
	addr_ok("[::1]:8700", AF_INET6, 8700);
	addr_ok("[::]:65535", AF_INET6, 65535);
	addr_ok("[2001:db8::1]:6432", AF_INET6, 6432);
	addr_ok("[::ffff:127.0.0.1]:5", AF_INET6, 5);
	/* port 0 only where the caller allows it (tests bind "any port") */
	assert_int_equal(netaddr_parse("127.0.0.1:0", 0, &a, NULL, 0), JG_OK);
	addr_bad("127.0.0.1:0", "1..65535");

	addr_bad("localhost:8700", "not a host name");
	addr_bad("db.example:5432", "not a host name");
	addr_bad("127.1:8700", "not a host name");
	addr_bad("0x7f.0.0.1:8700", "not a host name");
	addr_bad(" 127.0.0.1:8700", "not a host name");
	addr_bad("127.0.0.1:8700 ", "port");
	addr_bad("127.0.0.1:65536", "port");
	addr_bad("127.0.0.1:-1", "port");
	addr_bad("127.0.0.1:08700", "port");
	addr_bad("127.0.0.1:", "port");
	addr_bad("127.0.0.1", "ADDRESS:PORT");
	addr_bad(":8700", "ADDRESS:PORT");
	addr_bad("", "ADDRESS:PORT");
	addr_bad("::1:8700", "[ADDRESS]:PORT");
	addr_bad("[::1]", "port");
	addr_bad("[::1:8700", "[ADDRESS]:PORT");
	addr_bad("[]:8700", "[ADDRESS]:PORT");
	addr_bad("[127.0.0.1]:8700", "not an IPv6 address");
	addr_bad("[fe80::1%eth0]:8700", "not an IPv6 address");
	addr_bad("[localhost]:8700", "not an IPv6 address");
	addr_bad("1.2.3.4\xff:80", "not a host name");
	{
		char big[200];

		memset(big, '1', sizeof(big));
		big[sizeof(big) - 1] = '\0';
		addr_bad(big, "ADDRESS:PORT");
	}
	assert_int_equal(netaddr_parse(NULL, 1, &a, NULL, 0), JG_ERR_INVALID);
}

/* A second listener on a bound address fails with the system's reason,
 * whether the first one is ours or any other socket: no SO_REUSEPORT. */
static void test_listen_exclusive(void **state)
{
	struct netaddr a;
	char addr[64], err[256] = "";
	int fd1, fd2, port;

	(void)state;
	assert_int_equal(netaddr_parse("127.0.0.1:0", 0, &a, NULL, 0), JG_OK);
	assert_int_equal(netaddr_listen(&a, 16, &fd1, err, sizeof(err)), JG_OK);
	port = netaddr_local_port(fd1);
	assert_true(port > 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	assert_int_equal(netaddr_parse(addr, 1, &a, NULL, 0), JG_OK);
	assert_int_equal(netaddr_listen(&a, 16, &fd2, err, sizeof(err)), JG_ERR_IO);
	assert_int_equal(fd2, -1);
	assert_non_null(strstr(err, addr));
	assert_non_null(strstr(err, "Address already in use"));
	close(fd1);
	/* free again once the first is closed */
	assert_int_equal(netaddr_listen(&a, 16, &fd2, err, sizeof(err)), JG_OK);
	close(fd2);

	/* [::1] binds IPv6 only (IPV6_V6ONLY) where the host has IPv6 */
	assert_int_equal(netaddr_parse("[::1]:0", 0, &a, NULL, 0), JG_OK);
	if (netaddr_listen(&a, 16, &fd1, err, sizeof(err)) == JG_OK) {
		assert_true(netaddr_local_port(fd1) > 0);
		close(fd1);
	} else {
		print_message("no IPv6 loopback here: %s\n", err);
	}
}

static void redact(const char *url, const char *want)
{
	char buf[300];

	netaddr_url_redact(url, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		print_message("%s -> %s, want %s\n", url ? url : "(null)", buf, want);
	assert_string_equal(buf, want);
}

static void test_redact(void **state)
{
	(void)state;
	redact("postgresql://jit:s3cret@db.example:5432/jitgate?sslmode=verify-full",
	       "postgresql://db.example:5432/...");
	redact("postgres://u:p@[::1]:5432/x", "postgres://[::1]:5432/...");
	redact("postgresql://db.example/jg?password=s3cret", "postgresql://db.example/...");
	redact("https://hooks.slack.com/services/T0/B0/XXXXSECRET", "https://hooks.slack.com/...");
	redact("https://a:b@c@host.example", "https://host.example");
	redact("https://host.example", "https://host.example");
	redact("http://host.example?token=abc", "http://host.example/...");
	redact("sqlite:/var/lib/jitgate/jitgate.db", "(not a URL)");
	redact("://x", "(not a URL)");
	redact(NULL, "(not a URL)");
	{
		char buf[8];

		netaddr_url_redact("https://u:pw@averyveryverylonghost", buf, sizeof(buf));
		assert_int_equal(strlen(buf), 7); /* truncated, still terminated */
		assert_null(strstr(buf, "pw"));
	}
}

/* netaddr_host formats IPv4 by hand: the same text as inet_ntop for
 * every kind of octet, and truncated (still terminated) in short buffers */
static void test_host(void **state)
{
	static const uint32_t fixed[] = {0, 0xffffffffu, 0x7f000001u, 0x0a00000au,
					 0x01020304u, 0x64636209u, 0xc0a80001u};
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		char want[INET_ADDRSTRLEN], got[INET6_ADDRSTRLEN];

		if (i < (int)(sizeof(fixed) / sizeof(fixed[0]))) {
			a.sin_addr.s_addr = htonl(fixed[i]);
		} else {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			a.sin_addr.s_addr = (uint32_t)x;
		}
		assert_non_null(inet_ntop(AF_INET, &a.sin_addr, want, sizeof(want)));
		netaddr_host((const struct sockaddr *)&a, got, sizeof(got));
		assert_string_equal(got, want);
	}
	{
		struct sockaddr_in a = {.sin_family = AF_INET};
		struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
		struct sockaddr un = {.sa_family = AF_UNIX};
		char buf[INET6_ADDRSTRLEN], small[6];

		a.sin_addr.s_addr = htonl(0xc0a80001u);
		netaddr_host((const struct sockaddr *)&a, small, sizeof(small));
		assert_string_equal(small, "192.1");
		netaddr_host((const struct sockaddr *)&a, small, 1);
		assert_string_equal(small, "");
		assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr), 1);
		netaddr_host((const struct sockaddr *)&a6, buf, sizeof(buf));
		assert_string_equal(buf, "2001:db8::1");
		netaddr_host(&un, buf, sizeof(buf));
		assert_string_equal(buf, "unknown");
	}
}

static void test_lockfile(void **state)
{
	char dir[] = "/tmp/jg-lock-XXXXXX", path[64], err[256] = "", pid[32];
	int fd1, fd2;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db.lock", dir);
	assert_int_equal(lockfile_take(path, &fd1, err, sizeof(err)), JG_OK);
	/* flock locks belong to the open file: a second open conflicts even
	 * within one process, as a second daemon would */
	assert_int_equal(lockfile_take(path, &fd2, err, sizeof(err)), JG_ERR_CONFLICT);
	assert_int_equal(fd2, -1);
	snprintf(pid, sizeof(pid), "(pid %ld)", (long)getpid());
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, pid));
	lockfile_release(fd1);
	assert_int_equal(lockfile_take(path, &fd2, err, sizeof(err)), JG_OK);
	lockfile_release(fd2);
	/* what the holder's file says is never echoed unless it is a pid */
	assert_int_equal(lockfile_take(path, &fd1, err, sizeof(err)), JG_OK);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("\x1b[31mevil\n", f);
	fclose(f);
	assert_int_equal(lockfile_take(path, &fd2, err, sizeof(err)), JG_ERR_CONFLICT);
	assert_null(strstr(err, "evil"));
	assert_non_null(strstr(err, "locked by another process"));
	lockfile_release(fd1);
	snprintf(err, sizeof(err), "%s/none/db.lock", dir);
	assert_int_equal(lockfile_take(err, &fd1, err + 100, sizeof(err) - 100), JG_ERR_IO);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_listen_exclusive),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_lockfile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
