/* The store interface (src/store/store.h): backend selection by URL and
 * the redaction of secrets in storage URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"

static void redacts(const char *url, const char *want)
{
	char buf[256];

	store_url_redact(url, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_redact(void **state)
{
	(void)state;
	redacts("sqlite:/var/lib/jitgate.db", "sqlite:/var/lib/jitgate.db");
	redacts("postgresql://jg@db:5432/jitgate", "postgresql://jg@db:5432/jitgate");
	redacts("postgresql://jg:s3cret@db:5432/jitgate?sslmode=verify-full",
		"postgresql://jg:***@db:5432/jitgate?sslmode=verify-full");
	/* an '@' inside the password: the last '@' of the authority ends it */
	redacts("postgres://jg:a@b:c@db/x", "postgres://jg:***@db/x");
	redacts("postgresql://db/x?user=jg&password=s3cret&sslmode=require",
		"postgresql://db/x?user=jg&password=***&sslmode=require");
	redacts("postgresql://db/x?sslpassword=k3y", "postgresql://db/x?sslpassword=***");
	redacts("postgresql://db/x?password=", "postgresql://db/x?password=***");
	/* no authority part: a path with '@' and ':' is not userinfo */
	redacts("postgresql://db/x@y:z", "postgresql://db/x@y:z");
}

static void test_redact_truncates(void **state)
{
	char buf[32];

	(void)state;
	store_url_redact("postgresql://jg:s3cret@db/x", buf, 16);
	assert_string_equal(buf, "postgresql://jg");
	store_url_redact("postgresql://jg:s3cret@db/x", buf, 20);
	assert_null(strstr(buf, "s3"));
}

static void test_unknown_scheme(void **state)
{
	struct store *s = (struct store *)1;
	char err[256];

	(void)state;
	assert_false(store_url_supported("mysql://u:pw@h/db"));
	assert_true(store_url_supported("sqlite:x.db"));
	assert_int_equal(store_open("mysql://u:pw@h/db", NULL, &s, err, sizeof(err)),
			 JG_ERR_INVALID);
	assert_null(s);
	assert_non_null(strstr(err, "unknown scheme"));
	assert_null(strstr(err, "pw")); /* the password is not echoed */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_redact_truncates),
		cmocka_unit_test(test_unknown_scheme),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
