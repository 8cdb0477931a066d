/* The CLI's Server-Sent Events parser: what jitgate sends, and what a
 * hostile or broken server might. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli_sse.h"

struct got {
	char log[4096];
	int n, stop_at;
};

static int on_event(void *ctx, const char *event, const char *id, const char *data)
{
	struct got *g = ctx;
	size_t l = strlen(g->log);

	snprintf(g->log + l, sizeof(g->log) - l, "[%s|%s|%s]", event, id ? id : "-", data);
	return ++g->n == g->stop_at;
}

static void feed_all(const char *text, size_t step, struct got *g, int want_rc)
{
	struct cli_sse p = {.on_event = on_event, .ctx = g};
	size_t n = strlen(text);
	int rc = 0;

	for (size_t off = 0; off < n && rc == 0; off += step)
		rc = cli_sse_feed(&p, text + off, n - off < step ? n - off : step);
	assert_int_equal(rc, want_rc);
	cli_sse_clear(&p);
}

static void test_what_jitgate_sends(void **state)
{
	static const char stream[] =
		"retry: 3000\n\n"
		"event: ready\nid: 41\ndata: {\"seq\":41}\n\n"
		": keepalive\n\n"
		"event: request\r\nid: 44\r\ndata: {\"id\":12}\r\n\r\n"
		"data: one\ndata:two\ndata\n\n"
		"event: reset\ndata: {}\n\n";
	/* as in the HTML spec, the last id stays until another comes */
	static const char want[] =
		"[ready|41|{\"seq\":41}][request|44|{\"id\":12}][message|44|one\ntwo][reset|44|{}]";

	(void)state;
	/* in one piece and byte by byte: the same events */
	for (size_t step = 1; step <= sizeof(stream); step += sizeof(stream) - 2) {
		struct got g = {.stop_at = -1};

		feed_all(stream, step, &g, 0);
		assert_string_equal(g.log, want);
	}
}

static void test_stop_and_limits(void **state)
{
	struct got g = {.stop_at = 1};
	char *big;

	(void)state;
	feed_all("data: a\n\ndata: b\n\n", 3, &g, CLI_SSE_STOP);
	assert_string_equal(g.log, "[message|-|a]");
	/* a line without end, longer than the limit: refused, not buffered */
	big = malloc(CLI_SSE_LINE_MAX + 16);
	memset(big, 'x', CLI_SSE_LINE_MAX + 15);
	big[CLI_SSE_LINE_MAX + 15] = '\0';
	memset(&g, 0, sizeof(g));
	feed_all(big, 65536, &g, JG_ERR_TOOBIG);
	assert_int_equal(g.n, 0);
	free(big);
	/* an unnamed field, a long event name and id are cut, never overrun */
	memset(&g, 0, sizeof(g));
	g.stop_at = -1;
	feed_all("xdata: no\nevent: " "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "\nid: 123456789012345678901234567890123456789\n\n", 7, &g, 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(strlen(strchr(g.log, '|') + 1) > 0, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_what_jitgate_sends),
		cmocka_unit_test(test_stop_and_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
