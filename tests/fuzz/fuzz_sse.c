/* The CLI's Server-Sent Events parser on arbitrary bytes, fed in pieces
 * whose sizes the input picks: every event it reports has NUL-terminated
 * fields within their bounds, and feeding the same bytes in one piece
 * reports the same events (the split never matters). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	unsigned long long sum;
	size_t n;
};

static int on_event(void *ctx, const char *event, const char *id, const char *data)
{
	struct seen *s = ctx;
	size_t el = strlen(event), il = id ? strlen(id) : 0, dl = strlen(data);

	if (el == 0 || el >= 64 || il >= 32 || dl >= CLI_SSE_LINE_MAX)
		abort();
	s->n++;
	for (size_t i = 0; i < dl; i++)
		s->sum = s->sum * 31 + (unsigned char)data[i];
	s->sum = s->sum * 131 + el + il * 7;
	return 0;
}

static struct seen run(const uint8_t *data, size_t size, size_t step)
{
	struct seen seen = {0};
	struct cli_sse p = {.on_event = on_event, .ctx = &seen};

	for (size_t off = 0; off < size;) {
		size_t n = size - off < step ? size - off : step;

		if (cli_sse_feed(&p, (const char *)data + off, n) != 0)
			break;
		off += n;
	}
	cli_sse_clear(&p);
	return seen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen whole, pieces;

	if (size == 0)
		return 0;
	whole = run(data + 1, size - 1, size);
	pieces = run(data + 1, size - 1, (size_t)(data[0] % 16) + 1);
	if (whole.n != pieces.n || whole.sum != pieces.sum)
		abort();
	return 0;
}
