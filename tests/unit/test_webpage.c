/* The server's own pages (sign-in failures): every text is escaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/webpage.h"

static void test_text_is_escaped(void **state)
{
	char *html = webpage_error_html("T<i>", "m\"><script>alert(1)</script>&",
					"h'<b>", "go <now>", "/auth/login?next=/\"x");

	(void)state;
	assert_non_null(html);
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "<i>"));
	assert_null(strstr(html, "<b>"));
	assert_null(strstr(html, "\"x"));
	assert_non_null(strstr(html, "<title>T&lt;i&gt; · jitgate</title>"));
	assert_non_null(strstr(html, "m&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;"));
	assert_non_null(strstr(html, "h&apos;&lt;b&gt;"));
	assert_non_null(strstr(html, "href=\"/auth/login?next=/&quot;x\">go &lt;now&gt;</a>"));
	/* no inline script or style: the page lives under the UI's CSP */
	assert_null(strstr(html, "style="));
	assert_non_null(strstr(html, "<link rel=\"stylesheet\" href=\"/ui/app.css\">"));
	free(html);
}

static void test_without_hint(void **state)
{
	char *html = webpage_error_html("t", "m\x01\x1b[2J", NULL, "a", "/");

	(void)state;
	assert_non_null(html);
	assert_null(strstr(html, "class=\"muted\""));
	/* control bytes never reach the page */
	assert_null(strchr(html, '\x1b'));
	assert_null(strchr(html, '\x01'));
	free(html);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_is_escaped),
		cmocka_unit_test(test_without_hint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
