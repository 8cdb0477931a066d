/* The browser session table: expiry, bounds, malformed cookies, ending. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/websession.h"

#define T0 1800000000000LL

static struct authn subj(const char *name, const char *group)
{
	struct authn a = {0};

	a.name = strdup(name);
	a.groups = calloc(1, sizeof(char *));
	a.groups[0] = strdup(group);
	a.ngroups = 1;
	a.method = "static";
	authn_finish(&a);
	return a;
}

static void start(struct websessions *ws, const struct authn *a, int64_t now, int64_t ttl,
		  char cookie[WEBSESSION_ID_LEN + 1], char csrf[WEBSESSION_CSRF_LEN + 1])
{
	int64_t exp;

	assert_int_equal(websession_create(ws, a, now, ttl, cookie, csrf, &exp), 0);
	assert_int_equal(exp, now + ttl);
	assert_int_equal(strlen(cookie), WEBSESSION_ID_LEN);
	assert_int_equal(strlen(csrf), WEBSESSION_CSRF_LEN);
}

static bool live(struct websessions *ws, const char *cookie, int64_t now)
{
	struct websession_view v;

	if (websession_lookup(ws, cookie, now, &v) != 0)
		return false;
	authn_clear(&v.who);
	return true;
}

static void test_lookup_and_expiry(void **state)
{
	struct websessions *ws;
	struct authn alice = subj("alice", "engineering");
	struct websession_view v;
	char c1[WEBSESSION_ID_LEN + 1], x1[WEBSESSION_CSRF_LEN + 1];
	char c2[WEBSESSION_ID_LEN + 1], x2[WEBSESSION_CSRF_LEN + 1];

	(void)state;
	assert_int_equal(websessions_new(8, 4, &ws), 0);
	start(ws, &alice, T0, 1000, c1, x1);
	start(ws, &alice, T0, 5000, c2, x2);
	assert_string_not_equal(c1, c2);
	assert_string_not_equal(c1, x1);
	assert_int_equal(websession_lookup(ws, c1, T0 + 999, &v), 0);
	assert_string_equal(v.who.name, "alice");
	assert_string_equal(v.who.subject.groups[0], "engineering");
	assert_string_equal(v.csrf, x1);
	assert_int_equal(v.expires_ms, T0 + 1000);
	authn_clear(&v.who);
	/* at expires_ms it is over, and dropped */
	assert_false(live(ws, c1, T0 + 1000));
	assert_int_equal(websession_count(ws), 1);
	assert_false(live(ws, c1, T0));
	assert_true(live(ws, c2, T0 + 4999));
	assert_true(websession_end(ws, c2));
	assert_false(websession_end(ws, c2));
	assert_false(live(ws, c2, T0));
	assert_int_equal(websession_count(ws), 0);
	authn_clear(&alice);
	websessions_free(ws);
}

static void test_malformed_cookies(void **state)
{
	struct websessions *ws;
	struct authn alice = subj("alice", "engineering");
	char c[WEBSESSION_ID_LEN + 1], x[WEBSESSION_CSRF_LEN + 1], bad[128];
	const char *junk[] = {NULL, "", "a", "not base64 at all!!!!!!!!!!!!!!!!!!!!!!!!!!",
			      "\xff\xfe\xfd"};

	(void)state;
	assert_int_equal(websessions_new(8, 4, &ws), 0);
	start(ws, &alice, T0, 1000, c, x);
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		assert_false(live(ws, junk[i], T0));
	snprintf(bad, sizeof(bad), "%sA", c); /* one character too many */
	assert_false(live(ws, bad, T0));
	snprintf(bad, sizeof(bad), "%.*s", WEBSESSION_ID_LEN - 1, c);
	assert_false(live(ws, bad, T0));
	snprintf(bad, sizeof(bad), "%s", c);
	bad[5] = bad[5] == 'A' ? 'B' : 'A';
	assert_false(live(ws, bad, T0));
	assert_false(live(ws, x, T0)); /* the CSRF token is no cookie */
	assert_true(live(ws, c, T0));
	authn_clear(&alice);
	websessions_free(ws);
}

static void test_bounds(void **state)
{
	struct websessions *ws;
	struct authn a[4] = {subj("a", "g"), subj("b", "g"), subj("c", "g"), subj("d", "g")};
	char c[8][WEBSESSION_ID_LEN + 1], x[WEBSESSION_CSRF_LEN + 1];
	int64_t exp;

	(void)state;
	assert_int_equal(websessions_new(5, 2, &ws), 0);
	/* a subject past its share loses its oldest session */
	start(ws, &a[0], T0, 1000, c[0], x);
	start(ws, &a[0], T0 + 1, 1000, c[1], x);
	start(ws, &a[0], T0 + 2, 1000, c[2], x);
	assert_false(live(ws, c[0], T0 + 3));
	assert_true(live(ws, c[1], T0 + 3));
	assert_true(live(ws, c[2], T0 + 3));
	/* a full table refuses a new session rather than end someone else's */
	start(ws, &a[1], T0, 1000, c[3], x);
	start(ws, &a[1], T0, 1000, c[4], x);
	start(ws, &a[2], T0, 100, c[5], x);
	assert_int_equal(websession_count(ws), 5);
	assert_int_equal(websession_create(ws, &a[3], T0 + 50, 1000, c[6], x, &exp),
			 JG_ERR_UNAVAILABLE);
	assert_string_equal(c[6], "");
	/* unless some have expired: they make room */
	start(ws, &a[3], T0 + 100, 1000, c[6], x);
	assert_false(live(ws, c[5], T0 + 100));
	assert_true(live(ws, c[6], T0 + 100));
	assert_true(live(ws, c[3], T0 + 100));
	for (int i = 0; i < 4; i++)
		authn_clear(&a[i]);
	websessions_free(ws);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_and_expiry),
		cmocka_unit_test(test_malformed_cookies),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
