/* Where a sign-in may send the browser back to: paths of this site only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "api/weblogin.h"

static void test_next_paths(void **state)
{
	static const char *ok[] = {"/", "/ui/requests/7", "/ui/x?y=%2F%2Fz", "/a#b",
				   "/%0d%0a", "/a/b/c/", "/?next=//evil"};
	static const char *bad[] = {
		NULL, "", "//evil.example", "/\\evil.example", "\\\\evil", "https://evil/",
		"http:evil", "evil", "javascript:alert(1)", "/\t/evil", "/\r\nSet-Cookie: x",
		"/a b", "/a\\b", "/\x7f", "/\xc3\xa9", "/\xff\xfe", " /",
	};
	char longest[WEBLOGIN_NEXT_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(weblogin_next_ok(ok[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(weblogin_next_ok(bad[i]));
	memset(longest, 'a', sizeof(longest));
	longest[0] = '/';
	longest[WEBLOGIN_NEXT_MAX] = '\0';
	assert_true(weblogin_next_ok(longest));
	longest[WEBLOGIN_NEXT_MAX] = 'a';
	longest[WEBLOGIN_NEXT_MAX + 1] = '\0';
	assert_false(weblogin_next_ok(longest));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
