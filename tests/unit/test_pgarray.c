/* PostgreSQL array literals (src/store/pgarray.c): what the writer sends
 * a batch's audit rows in.  Every text comes back as itself from the
 * server's array parser only if quotes, backslashes, braces, commas,
 * blanks, the word NULL and empty strings are written as here; the round
 * trip through a real server is test_store's (test_audit_batch). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/pgarray.h"

static void test_empty(void **state)
{
	struct pgarray a = {0};

	(void)state;
	assert_string_equal(pgarray_text(&a), "{}");
	pgarray_reset(&a);
	assert_string_equal(pgarray_text(&a), "{}");
	pgarray_free(&a);
}

static void test_texts_quoted_and_escaped(void **state)
{
	struct pgarray a = {0};

	(void)state;
	assert_int_equal(pgarray_add_text(&a, "plain"), JG_OK);
	assert_int_equal(pgarray_add_text(&a, ""), JG_OK);
	assert_int_equal(pgarray_add_text(&a, "NULL"), JG_OK); /* text, not NULL */
	assert_int_equal(pgarray_add_text(&a, NULL), JG_OK);
	assert_int_equal(pgarray_add_text(&a, "{\"prev\":\"a\\\\b\"}"), JG_OK);
	assert_int_equal(pgarray_add_text(&a, " a,b} {c "), JG_OK);
	assert_int_equal(pgarray_add_text(&a, "\xff\xfe"), JG_OK); /* bytes kept */
	assert_string_equal(pgarray_text(&a),
			    "{\"plain\",\"\",\"NULL\",NULL,"
			    "\"{\\\"prev\\\":\\\"a\\\\\\\\b\\\"}\","
			    "\" a,b} {c \",\"\xff\xfe\"}");
	/* the text is valid until the next add, which goes on after it */
	assert_int_equal(pgarray_add_text(&a, "x"), JG_OK);
	assert_non_null(strstr(pgarray_text(&a), "\"\xff\xfe\",\"x\"}"));
	pgarray_free(&a);
}

static void test_ints(void **state)
{
	struct pgarray a = {0};

	(void)state;
	assert_int_equal(pgarray_add_int(&a, 1, false), JG_OK);
	assert_int_equal(pgarray_add_int(&a, 0, false), JG_OK);
	assert_int_equal(pgarray_add_int(&a, 0, true), JG_OK);
	assert_int_equal(pgarray_add_int(&a, INT64_MIN, true), JG_OK);
	assert_int_equal(pgarray_add_int(&a, INT64_MAX, false), JG_OK);
	assert_string_equal(pgarray_text(&a),
			    "{1,0,NULL,-9223372036854775808,9223372036854775807}");
	pgarray_reset(&a);
	assert_int_equal(pgarray_add_int(&a, 42, true), JG_OK);
	assert_string_equal(pgarray_text(&a), "{42}");
	pgarray_free(&a);
}

/* Many and long elements: the buffer grows, nothing is cut. */
static void test_grows(void **state)
{
	struct pgarray a = {0};
	char big[5000];
	const char *t;

	(void)state;
	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 300; i++)
		assert_int_equal(pgarray_add_text(&a, i % 2 ? big : "s"), JG_OK);
	t = pgarray_text(&a);
	assert_non_null(t);
	/* 150 x (2 quotes + 2 x 4999) + 150 x 3 + 299 commas + 2 braces */
	assert_int_equal(strlen(t), 150 * (2 + 2 * 4999) + 150 * 3 + 299 + 2);
	assert_int_equal(a.n, 300);
	pgarray_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_texts_quoted_and_escaped),
		cmocka_unit_test(test_ints),
		cmocka_unit_test(test_grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
