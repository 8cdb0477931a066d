/* Request bodies (api/body.c): the flat-object fast path must accept
 * exactly what json_loadb accepts and build the same object, and refuse
 * the rest with json_loadb's own message.  Checked against a reference
 * (json_loadb + the field rules) on hand-picked bodies and on 20,000
 * random ones made of JSON tokens, escapes, non-ASCII and NUL bytes. */
#include <setjmp.h>
#include <stdarg.h>
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

static void same_as_reference(const char *buf, size_t len)
{
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
		same_as_reference(bodies[i], strlen(bodies[i]));
	same_as_reference("{\"a\":\"x\0\"}", 10); /* NUL inside a string */
	same_as_reference("{\"a\":\"x\"}\0", 10); /* NUL after the object */
	same_as_reference("", 0);
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
		"\"a\":\"x\"", "\"b\":\"y\"",
	};
	unsigned seed = 12345;

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
		same_as_reference(buf, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
