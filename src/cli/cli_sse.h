/* A Server-Sent Events parser (the subset of the HTML spec jitgate
 * sends and a client must survive): lines ending in LF (CR LF too),
 * "field: value", ":" comments, a blank line ending an event.  Pure: bytes
 * in, events out, so it is fuzzed on its own.  Bounded: a line or an
 * event's data over CLI_SSE_LINE_MAX ends the parse. */
#ifndef JG_CLI_CLI_SSE_H
#define JG_CLI_CLI_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define CLI_SSE_LINE_MAX (1024 * 1024)
#define CLI_SSE_STOP 1 /* cli_sse_feed: the callback asked to stop */

/* An event: its name ("message" when none), id (NULL when none) and data
 * (lines joined with "\n"), all NUL-terminated.  Non-zero stops. */
typedef int (*cli_sse_event_fn)(void *ctx, const char *event, const char *id,
				 const char *data);

struct cli_sse {
	cli_sse_event_fn on_event;
	void *ctx;
	/* internal */
	char *line;
	size_t llen;
	char *data;
	size_t dlen;
	char event[64], id[32];
	bool have;
};

/* Feeds n bytes.  JG_OK, CLI_SSE_STOP, or JG_ERR_TOOBIG / JG_ERR_NOMEM
 * (then the parser must not be fed again). */
int cli_sse_feed(struct cli_sse *s, const char *p, size_t n) JG_WUR;
/* Frees what the parser holds (it may be fed again from scratch). */
void cli_sse_clear(struct cli_sse *s);

#endif
