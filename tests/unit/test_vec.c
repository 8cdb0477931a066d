/* util/vec: one growth rule for every array — first, then doubling — and
 * no size_t overflow on the way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "util/vec.h"

static void test_grows_from_first_by_doubling(void **state)
{
	size_t cap = 0;
	int *v = NULL, *nv;

	(void)state;
	nv = vec_grow(v, &cap, sizeof(*v), 4);
	assert_non_null(nv);
	assert_int_equal(cap, 4);
	v = nv;
	for (int i = 0; i < 4; i++)
		v[i] = i;
	nv = vec_grow(v, &cap, sizeof(*v), 4);
	assert_non_null(nv);
	assert_int_equal(cap, 8);
	v = nv;
	for (int i = 0; i < 4; i++)
		assert_int_equal(v[i], i); /* contents kept */
	free(v);
}

static void test_overflow_refused_unchanged(void **state)
{
	size_t cap = SIZE_MAX / 2 + 1;
	char byte = 'x';
	void *v = &byte; /* never handed to realloc: refused before */

	(void)state;
	assert_null(vec_grow(v, &cap, 1, 4));
	assert_true(cap == SIZE_MAX / 2 + 1);
	cap = 8;
	assert_null(vec_grow(v, &cap, SIZE_MAX / 8, 4));
	assert_int_equal(cap, 8);
	cap = 0;
	assert_null(vec_grow(NULL, &cap, 0, 4));
	assert_null(vec_grow(NULL, &cap, 8, 0));
	assert_int_equal(cap, 0);
	assert_int_equal(byte, 'x');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows_from_first_by_doubling),
		cmocka_unit_test(test_overflow_refused_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
