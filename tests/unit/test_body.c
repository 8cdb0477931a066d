/* Request bodies (api/body.c): the flat-object fast path must accept
 * exactly what json_loadb accepts and build the same object, and refuse
 * the rest with json_loadb's own message.  Checked against a reference
 * (json_loadb + the field rules) on hand-picked bodies and on 20,000
 * random ones made of JSON tokens, escapes, non-ASCII and NUL bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/body.h"

static const struct field_spec spec[] = {
	{"a", FIELD_STRING, false},
	{"b", FIELD_STRING, false},
	{"subject", FIELD_STRING, false},
};
#define NSPEC (sizeof(spec) / sizeof(spec[0]))

/* What body_parse must answer: json_loadb and the field rules. */
static json_t *reference(const char *buf, size_t len)
{
	json_t *o = len ? json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL) : json_object();
	const char *key;
	json_t *v;

	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	json_object_foreach(o, key, v) {
		size_t i;

		for (i = 0; i < NSPEC && strcmp(spec[i].name, key) != 0; i++)
			;
		if (i == NSPEC || (!json_is_null(v) && !json_is_string(v)) ||
		    (json_is_string(v) && json_string_length(v) > API_STRING_MAX)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* the decision API's spec: every field required */
static const struct field_spec req_spec[] = {
	{"subject", FIELD_STRING, true},
	{"resource", FIELD_STRING, true},
	{"role", FIELD_STRING, true},
};
#define NREQ (sizeof(req_spec) / sizeof(req_spec[0]))

/* body_strings on a copy of buf: when it accepts, body_parse accepts with
 * the same strings; when it refuses, the copy is untouched.  Returns
 * whether it accepted. */
static bool fast_agrees(const char *buf, size_t len, const struct field_spec *sp, size_t n)
{
	char *copy = malloc(len + 1);
	const char *vals[BODY_STRINGS_MAX];
	json_t *out = NULL;
	const char *field;
	char msg[256];
	bool fast;
	int rc;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	copy[len] = '\0';
	fast = body_strings(len ? copy : NULL, len, sp, n, vals);
	rc = body_parse(buf, len, sp, n, &out, msg, sizeof(msg), &field);
	if (fast && rc != 0)
		print_message("body %.*s: fast path accepts, body_parse: %s\n", (int)len, buf, msg);
	if (!fast) {
		assert_memory_equal(copy, buf, len);
	} else {
		assert_int_equal(rc, 0);
		for (size_t i = 0; i < n; i++) {
			const char *want = json_string_value(json_object_get(out, sp[i].name));

			if (want == NULL)
				assert_null(vals[i]);
			else
				assert_string_equal(vals[i], want);
		}
	}
	json_decref(out);
	free(copy);
	return fast;
}

/* Returns whether the fast path took it (for either spec). */
static bool same_as_reference(const char *buf, size_t len)
{
	bool fast = fast_agrees(buf, len, spec, NSPEC);

	fast |= fast_agrees(buf, len, req_spec, NREQ);
	json_t *out = NULL, *ref = reference(buf, len);
	const char *field;
	char msg[256];
	int rc = body_parse(buf, len, spec, NSPEC, &out, msg, sizeof(msg), &field);

	if ((rc == 0) != (ref != NULL) || (ref && !json_equal(out, ref)))
		print_message("body %.*s: rc %d (%s), reference %s\n", (int)len, buf, rc,
			      rc ? msg : "ok", ref ? "accepts" : "refuses");
	assert_int_equal(rc == 0, ref != NULL);
	if (ref)
		assert_true(json_equal(out, ref));
	else
		assert_null(out);
	json_decref(out);
	json_decref(ref);
	return fast;
}

static void test_fixed(void **state)
{
	static const char *const bodies[] = {
		"{\"subject\":\"user-1\",\"a\":\"x\",\"b\":\"y\"}",
		" \t\r\n{ \"a\" : \"x\" , \"b\":\"\" }\n",
		"{\"a\":\"x\",\"a\":\"y\"}",         /* duplicate */
		"{\"a\":\"x\",}",                    /* trailing comma */
		"{\"a\":\"x\"} x",                   /* trailing garbage */
		"{\"a\":\"x\"}}",
		"{\"a\":\"x\"",                      /* unterminated */
		"{\"a\":\"x",
		"{\"a\" \"x\"}",
		"{\"a\":\"\\u0041\"}",               /* escape: the general path */
		"{\"a\":\"\\\"\"}",
		"{\"a\":\"caf\xc3\xa9\"}",           /* UTF-8 */
		"{\"a\":\"\xff\"}",                  /* not UTF-8 */
		"{\"a\":\"\x01\"}",                  /* control character */
		"{\"a\":\"x\x7f\"}",
		"{\"a\":null}",
		"{\"a\":1}",
		"{\"c\":\"x\"}",                     /* unknown field */
		"{}",
		"[]",
		"\"a\"",
		"{\"\":\"x\"}",
		"{,}",
		"{\"a\":\"x\",\"b\":\"y\",\"a\":\"z\"}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		(void)same_as_reference(bodies[i], strlen(bodies[i]));
	(void)same_as_reference("{\"a\":\"x\0\"}", 10); /* NUL inside a string */
	(void)same_as_reference("{\"a\":\"x\"}\0", 10); /* NUL after the object */
	(void)same_as_reference("", 0);
}

/* The fast path takes the bodies the decision API gets (so the test above
 * compares something), and leaves everything unusual to body_parse. */
static void test_fast_path(void **state)
{
	static const char *const taken[] = {
		"{\"subject\":\"user-1\",\"resource\":\"orders-db\",\"role\":\"read\"}",
		" {\n \"role\" : \"read\" ,\t\"resource\":\"r\", \"subject\":\"\"}\r\n",
		"{\"subject\":\"a b~!#$%&'()*+,-./:;<=>?@[]^_`{|}\",\"resource\":\"r\",\"role\":\"x\"}",
	};
	static const char *const left[] = {
		"{\"subject\":\"u\",\"resource\":\"r\"}",                      /* missing */
		"{\"subject\":\"u\",\"resource\":\"r\",\"role\":null}",
		"{\"subject\":\"u\",\"resource\":\"r\",\"role\":\"x\",\"role\":\"x\"}",
		"{\"subject\":\"u\",\"resource\":\"r\",\"role\":\"x\",\"x\":\"y\"}",
		"{\"subject\":\"\\u0075\",\"resource\":\"r\",\"role\":\"x\"}",
		"{\"subject\":\"caf\xc3\xa9\",\"resource\":\"r\",\"role\":\"x\"}",
		"{\"subject\":\"u\",\"resource\":\"r\",\"role\":\"x\"} {",
		"{\"subject\":\"u\",\"resource\":\"r\",\"role\":1}",
		"{\"subject\":\"u\",\"resource\":\"r\",\"role\":\"x\",}",
		"{\"subj\\u0065ct\":\"u\",\"resource\":\"r\",\"role\":\"x\"}",
	};
	const struct field_spec mixed[] = {{"a", FIELD_STRING, true}, {"n", FIELD_INT, false}};
	char *big = malloc(API_STRING_MAX + 64);

	(void)state;
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		assert_true(fast_agrees(taken[i], strlen(taken[i]), req_spec, NREQ));
	for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++)
		assert_false(fast_agrees(left[i], strlen(left[i]), req_spec, NREQ));
	/* only specs of strings */
	assert_false(fast_agrees("{\"a\":\"x\"}", 9, mixed, 2));
	/* API_STRING_MAX bytes are taken, one more is body_parse's to refuse */
	assert_non_null(big);
	for (size_t n = API_STRING_MAX; n <= API_STRING_MAX + 1; n++) {
		size_t len = (size_t)sprintf(big, "{\"a\":\"");

		memset(big + len, 'x', n);
		len += n;
		len += (size_t)sprintf(big + len, "\"}");
		assert_true(fast_agrees(big, len, spec, NSPEC) == (n == API_STRING_MAX));
	}
	free(big);
}

/* The messages of refused bodies are json_loadb's, as before. */
static void test_messages(void **state)
{
	json_t *out = NULL;
	const char *field;
	char msg[256];
	const char *dup = "{\"a\":\"x\",\"a\":\"y\"}";

	(void)state;
	assert_int_equal(body_parse(dup, strlen(dup), spec, NSPEC, &out, msg, sizeof(msg),
				    &field),
			 JG_ERR_INVALID);
	assert_non_null(strstr(msg, "body is not valid JSON: duplicate object key"));
	assert_int_equal(body_parse("{\"c\":\"x\"}", 9, spec, NSPEC, &out, msg, sizeof(msg),
				    &field),
			 JG_ERR_INVALID);
	assert_string_equal(msg, "c: unknown field");
}

static void test_random(void **state)
{
	static const char *const tokens[] = {
		"{", "}", "\"", ":", ",", " ", "a", "b", "subject", "\\", "\\\"", "\\u00e9",
		"\xc3\xa9", "\xff", "1", "null", "\n", "\"a\"", "\"b\"", "\"x\"", "\"\"",
		"\"a\":\"x\"", "\"b\":\"y\"", "\"subject\":\"u\"", "\"resource\":\"r\"",
		"\"role\":\"x\"", "\t", "\x7f",
	};
	unsigned seed = 12345, fast = 0;

	(void)state;
	for (int n = 0; n < 20000; n++) {
		char buf[256];
		size_t len = 0;
		int parts = 1 + (int)(rand_r(&seed) % 12);

		if (rand_r(&seed) % 2)
			buf[len++] = '{';
		for (int p = 0; p < parts; p++) {
			const char *t = tokens[rand_r(&seed) % (sizeof(tokens) / sizeof(tokens[0]))];
			size_t tl = strlen(t);

			if (len + tl + 2 >= sizeof(buf))
				break;
			memcpy(buf + len, t, tl);
			len += tl;
			if (rand_r(&seed) % 4 == 0)
				buf[len++] = ',';
		}
		if (rand_r(&seed) % 2)
			buf[len++] = '}';
		fast += same_as_reference(buf, len);
	}
	/* the comparison covered the fast path too */
	print_message("fast path took %u of 20000\n", fast);
	assert_true(fast >= 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_fast_path),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
