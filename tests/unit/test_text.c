/* util/text: escaping outside text for the audit log and for log lines,
 * and util/log writing every line escaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/text.h"

static void assert_escaped(const char *in, size_t len, unsigned flags, const char *want)
{
	char out[256];

	assert_int_equal(text_escape(out, sizeof(out), in, len, flags), strlen(want));
	assert_string_equal(out, want);
	assert_int_equal(text_escaped_len(in, len, flags), strlen(want));
	assert_int_equal(text_needs_escape(in, len, flags), strcmp(in, want) != 0 ||
			 strlen(in) != len);
	assert_true(text_utf8_valid(out, strlen(out)));
}

static void test_utf8_kept_invalid_escaped(void **state)
{
	(void)state;
	assert_escaped("alice", 5, 0, "alice");
	assert_escaped("\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80", 10, 0, "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80");
	/* stray continuation, overlong '/', surrogate, past U+10FFFF, cut */
	assert_escaped("a\x80" "b", 3, 0, "a\\x80b");
	assert_escaped("\xc0\xaf", 2, 0, "\\xc0\\xaf");
	assert_escaped("\xed\xa0\x80", 3, 0, "\\xed\\xa0\\x80");
	assert_escaped("\xf4\x90\x80\x80", 4, 0, "\\xf4\\x90\\x80\\x80");
	assert_escaped("ok\xe2\x82", 4, 0, "ok\\xe2\\x82");
	/* without TEXT_ESC_CONTROL, controls and backslashes stay (JSON escapes
	 * them itself) */
	assert_escaped("a\nb\\", 4, 0, "a\nb\\");
	/* a NUL inside the length is kept too: it is a valid character */
	assert_escaped("a\0b", 3, TEXT_ESC_CONTROL, "a\\x00b");
}

static void test_control_escaped_for_logs(void **state)
{
	(void)state;
	assert_escaped("dave\n2026-01-01T00:00:00.000Z info forged: x", 44, TEXT_ESC_CONTROL,
		       "dave\\n2026-01-01T00:00:00.000Z info forged: x");
	assert_escaped("\r\t\x1b[31m\x7f", 8, TEXT_ESC_CONTROL, "\\r\\t\\x1b[31m\\x7f");
	/* the backslash is doubled, so an escape cannot be faked */
	assert_escaped("a\\nb", 4, TEXT_ESC_CONTROL, "a\\\\nb");
	assert_escaped("\xff\n", 2, TEXT_ESC_CONTROL, "\\xff\\n");
}

static void test_truncation_keeps_whole_characters(void **state)
{
	char out[6];

	(void)state;
	/* "ab" + \xff (4) does not fit in 5 + NUL: cut before the escape */
	assert_int_equal(text_escape(out, sizeof(out), "ab\xff" "c", 4, 0), 2);
	assert_string_equal(out, "ab");
	/* a 4-byte character is not split */
	assert_int_equal(text_escape(out, 5, "a\xf0\x9f\x98\x80", 5, 0), 1);
	assert_string_equal(out, "a");
	assert_int_equal(text_escape(out, 1, "abc", 3, 0), 0);
	assert_string_equal(out, "");
}

/* Every log call is safe: a name with a newline yields one line. */
static void test_log_line_cannot_be_forged(void **state)
{
	char buf[4096];
	int fds[2], saved;
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fds[1], 2);
	log_info("sess\n1", "refused %s from %s", "dave\n2026-11-29T00:00:00.000Z info admit: ok",
		 "10.0.0.1\xff");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_true(n > 0);
	buf[n] = '\0';
	/* exactly one newline: the one ending the line */
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
	assert_non_null(strstr(buf, "sess\\n1: refused dave\\n2026-11-29T00:00:00.000Z info admit: ok "
				    "from 10.0.0.1\\xff"));
}

/* text_copy_printable: bounded, one byte per byte, nothing outside
 * printable ASCII survives, NULL reads as empty. */
static void test_copy_printable(void **state)
{
	char out[8];

	(void)state;
	text_copy_printable(out, sizeof(out), "kid-1");
	assert_string_equal(out, "kid-1");
	text_copy_printable(out, sizeof(out), "a\nb\x7f\xc3\xa9\x1b[");
	assert_string_equal(out, "a?b????");
	text_copy_printable(out, sizeof(out), "0123456789");
	assert_string_equal(out, "0123456");
	text_copy_printable(out, 1, "abc");
	assert_string_equal(out, "");
	text_copy_printable(out, sizeof(out), NULL);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_kept_invalid_escaped),
		cmocka_unit_test(test_control_escaped_for_logs),
		cmocka_unit_test(test_truncation_keeps_whole_characters),
		cmocka_unit_test(test_log_line_cannot_be_forged),
		cmocka_unit_test(test_copy_printable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
