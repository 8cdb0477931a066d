/* util/jsonfast: whatever the fast path returns must equal what
 * json_loadb(JSON_REJECT_DUPLICATES) returns for the same bytes, and it
 * must decline (NULL) everything json_loadb refuses.  Checked on
 * hand-picked documents (including every kind of input it must hand on)
 * and on 50,000 random documents built from JSON tokens, escapes,
 * non-ASCII, NUL bytes and numbers; plus that the plain documents the
 * hot paths see (a JWT's header and claims, a check body) do take it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/jsonfast.h"

/* 1 when the fast path took it, 0 when it declined; asserts agreement. */
static int agree(const char *buf, size_t len)
{
	json_t *fast = jsonfast_parse(buf, len);
	json_t *ref = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	int took = fast != NULL;

	if (fast && (!ref || !json_equal(fast, ref))) {
		char *a = json_dumps(fast, JSON_ENCODE_ANY), *b = ref ? json_dumps(ref, JSON_ENCODE_ANY) : NULL;

		print_message("input %.*s: fast %s, json_loadb %s\n", (int)len, buf, a,
			      b ? b : "refuses");
		free(a);
		free(b);
	}
	if (fast) {
		assert_non_null(ref);
		assert_true(json_equal(fast, ref));
	}
	json_decref(fast);
	json_decref(ref);
	return took;
}

static int agree_str(const char *s)
{
	return agree(s, strlen(s));
}

static void test_taken(void **state)
{
	(void)state;
	assert_int_equal(agree_str("{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"at+jwt\"}"), 1);
	assert_int_equal(agree_str("{\"iss\":\"https://idp.example\",\"aud\":[\"jitgate\",\"x\"],"
				   "\"sub\":\"alice\",\"groups\":[\"eng\",\"sre\"],"
				   "\"exp\":1799999999,\"iat\":-5,\"nbf\":0,\"email_verified\":true,"
				   "\"x\":false,\"y\":null,\"o\":{\"a\":{\"b\":[[],{}]}}}"), 1);
	assert_int_equal(agree_str(" {\"subject\" : \"user-1\",\n\t\"resource\":\"db\",\r\"role\":\"read\"} "), 1);
	assert_int_equal(agree_str("[]"), 1);
	assert_int_equal(agree_str("{}"), 1);
	assert_int_equal(agree_str("[-0, 0, 123456789012345678, -123456789012345678]"), 1);
	assert_int_equal(agree_str("{\"\":\"\"}"), 1);
}

static void test_declined(void **state)
{
	static const char *const docs[] = {
		"{\"a\":1,\"a\":2}",            /* duplicate */
		"{\"o\":{\"a\":1,\"a\":1}}",    /* nested duplicate */
		"{\"a\":\"\\u0041\"}",          /* escape */
		"{\"a\":\"caf\xc3\xa9\"}",      /* non-ASCII */
		"{\"a\":\"\xff\"}",             /* not UTF-8 */
		"{\"a\":\"\x01\"}",             /* control */
		"{\"a\":\"\x7f\"}",
		"{\"a\":1.5}", "{\"a\":1e3}", "{\"a\":1E3}", "{\"a\":-1.0}",
		"{\"a\":1234567890123456789}",  /* 19 digits */
		"{\"a\":99999999999999999999}", /* too big for jansson too */
		"{\"a\":01}", "{\"a\":-}", "{\"a\":+1}", "{\"a\":.5}",
		"{\"a\":tru}", "{\"a\":truex}", "{\"a\":nul}", "{\"a\":True}",
		"{\"a\":1x}",
		"{\"a\":1,}", "[1,]", "[,1]", "{,}", "{\"a\"}", "{\"a\" 1}", "{a:1}",
		"{\"a\":1}x", "{\"a\":1}}", "[1]]", "{\"a\":1", "[1", "{\"a\":\"x",
		"\"top\"", "1", "true", "null", "", "   ",
		"[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]", /* deeper than the fast path */
		"{\"a\":[1 2]}", "{\"a\":{\"b\":1}\"c\":2}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		assert_int_equal(agree_str(docs[i]), 0);
	assert_int_equal(agree("{\"a\":\"x\0\"}", 10), 0); /* NUL in a string */
	assert_int_equal(agree("{\"a\":1}\0", 8), 0);      /* NUL after */
	assert_int_equal(agree("\0{}", 3), 0);
}

static void test_random(void **state)
{
	static const char *const tokens[] = {
		"{", "}", "[", "]", "\"", ":", ",", " ", "\t", "a", "\"a\"", "\"b\"",
		"\"\"", "\"x\"", "\"a\":", "\"b\":", "\\", "\\\"", "\\u00e9", "\xc3\xa9",
		"\xff", "0", "1", "-", "12", "-7", ".", "e", "5", "true", "false", "null",
		"nul", "\n", "\x01",
	};
	unsigned seed = 20261129;
	int taken = 0;

	(void)state;
	for (int n = 0; n < 50000; n++) {
		char buf[256];
		size_t len = 0;
		int parts = 1 + (int)(rand_r(&seed) % 16);

		buf[len++] = rand_r(&seed) % 2 ? '{' : '[';
		for (int i = 0; i < parts; i++) {
			const char *t = tokens[rand_r(&seed) % (sizeof(tokens) / sizeof(tokens[0]))];
			size_t tl = strlen(t);

			if (len + tl + 4 >= sizeof(buf))
				break;
			memcpy(buf + len, t, tl);
			len += tl;
			if (rand_r(&seed) % 3 == 0)
				buf[len++] = ',';
		}
		if (rand_r(&seed) % 4)
			buf[len++] = buf[0] == '{' ? '}' : ']';
		if (rand_r(&seed) % 8 == 0)
			buf[len++] = rand_r(&seed) % 2 ? '}' : ']';
		taken += agree(buf, len);
	}
	/* the generator does reach the fast path now and then */
	print_message("fast path took %d of 50000 random documents\n", taken);
	assert_true(taken > 0);
}

/* Well-formed random trees of the plain subset: always taken, always
 * equal. */
static void gen(char *buf, size_t cap, size_t *len, unsigned *seed, int depth)
{
	int kind = depth >= 6 ? 2 + (int)(rand_r(seed) % 4) : (int)(rand_r(seed) % 6);
	int n = (int)(rand_r(seed) % 4);

	if (*len + 64 >= cap)
		kind = 5;
	switch (kind) {
	case 0:
		buf[(*len)++] = '{';
		for (int i = 0; i < n && *len + 64 < cap; i++) {
			*len += (size_t)snprintf(buf + *len, cap - *len, "%s\"k%d\":", i ? "," : "", i);
			gen(buf, cap, len, seed, depth + 1);
		}
		buf[(*len)++] = '}';
		break;
	case 1:
		buf[(*len)++] = '[';
		for (int i = 0; i < n && *len + 64 < cap; i++) {
			if (i)
				buf[(*len)++] = ',';
			gen(buf, cap, len, seed, depth + 1);
		}
		buf[(*len)++] = ']';
		break;
	case 2:
		*len += (size_t)snprintf(buf + *len, cap - *len, "%lld",
					 (long long)rand_r(seed) * (rand_r(seed) % 2 ? 1 : -1));
		break;
	case 3:
		*len += (size_t)snprintf(buf + *len, cap - *len, "\"s%u x\"", rand_r(seed) % 1000);
		break;
	case 4:
		*len += (size_t)snprintf(buf + *len, cap - *len, "%s",
					 rand_r(seed) % 2 ? "true" : "false");
		break;
	default:
		*len += (size_t)snprintf(buf + *len, cap - *len, "null");
	}
}

static void test_plain_trees(void **state)
{
	unsigned seed = 7;

	(void)state;
	for (int n = 0; n < 5000; n++) {
		char buf[4096];
		size_t len = 0;

		buf[len++] = '[';
		gen(buf, sizeof(buf) - 2, &len, &seed, 1);
		buf[len++] = ']';
		assert_int_equal(agree(buf, len), 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taken),
		cmocka_unit_test(test_declined),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_plain_trees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
