/* Fuzzes the gateway's wire parsers: the startup-phase packet parser and
 * the message framer that walks relayed streams (fed in random chunk
 * sizes, with and without stopping at boundaries), plus error-field
 * lookup.  The first input byte picks the chunking. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/pgproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t nmsgs;

static void on_msg(void *arg, uint8_t type, const uint8_t *prefix,
		   size_t prefixlen, uint32_t bodylen)
{
	struct pgproto_framer *f = arg;

	/* only captured types are reported, each within the capture */
	if (!strchr("QPF", type) || prefixlen > PGPROTO_CAPTURE_MAX ||
	    prefixlen > bodylen)
		abort();
	/* a Parse keeps at most PGPROTO_CAPTURE_NAME_MAX bytes of name */
	if (type == 'P' && strnlen((const char *)prefix, prefixlen) >
	    PGPROTO_CAPTURE_NAME_MAX)
		abort();
	if (prefixlen > 0 && prefix[0] == 0xff)
		nmsgs++;
	nmsgs++;
	/* hold after some statements, as the gateway does when its audit
	 * writer is behind */
	f->hold = (bodylen & 1) != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgproto_startup st;
	struct pgproto_framer *f;
	size_t chunk, i = 0;
	uint32_t len;
	char field[64];

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] % 17) + 1;
	data++;
	size--;

	if (pgproto_startup_len(data, size, &len) == 0 && len <= size &&
	    pgproto_startup_parse(data, len, &st) == 0) {
		(void)pgproto_startup_get(&st, "user");
		pgproto_startup_clear(&st);
	}

	f = calloc(1, sizeof(*f));
	if (!f)
		return 0;
	f->capture_types = "QPF";
	f->on_msg = on_msg;
	f->arg = f;
	while (i < size) {
		size_t n = size - i < chunk ? size - i : chunk;
		bool stop = (data[i] & 1) != 0;
		bool held = f->hold;
		long c = pgproto_framer_feed(f, data + i, n, stop);

		if (c < 0)
			break;
		if ((size_t)c > n)
			abort();
		/* hold is set at a message end: a held framer does not move */
		if (held && c != 0)
			abort();
		f->hold = false;
		if (c == 0 && !stop && !held)
			abort();
		if (c == 0) /* already on a boundary: move on without stop */
			c = pgproto_framer_feed(f, data + i, n, false);
		if (c < 0)
			break;
		i += (size_t)c;
	}
	free(f);
	/* the same stream whole and in pieces of chunk bytes (headers split
	 * or not): the same walk, the same error */
	{
		static struct pgproto_framer a, b;
		long ra, rb = 0;
		size_t j = 0;

		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		a.count_types = b.count_types = "QSFZ";
		ra = pgproto_framer_feed(&a, data, size, false);
		while (j < size) {
			size_t n = size - j < chunk ? size - j : chunk;

			rb = pgproto_framer_feed(&b, data + j, n, false);
			if (rb < 0)
				break;
			j += (size_t)rb;
		}
		if ((ra < 0) != (rb < 0))
			abort();
		if (ra >= 0 && (a.nmsgs != b.nmsgs || a.ncounted != b.ncounted ||
				pgproto_framer_at_boundary(&a) !=
				pgproto_framer_at_boundary(&b)))
			abort();
	}
	pgproto_error_field(data, size, 'M', field, sizeof(field));
	return 0;
}
