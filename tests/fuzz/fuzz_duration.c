/* duration_parse on arbitrary text: whatever it accepts must be in range and
 * survive duration_format -> duration_parse unchanged; duration_format must
 * never write past the buffer it is given, whatever the value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[64], *exact;
	int64_t secs = -1, back = -1, raw = 0;
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;

	memcpy(text, data, n);
	text[n] = '\0';
	if (duration_parse(text, &secs) == 0) {
		char buf[64], buf2[64];

		if (secs <= 0 || secs > DURATION_MAX_S)
			abort();
		duration_format(secs, buf, sizeof(buf));
		if (duration_parse(buf, &back) != 0 || back != secs)
			abort();
		/* the formatted form is canonical: formatting it again is a no-op */
		duration_format(back, buf2, sizeof(buf2));
		if (strcmp(buf, buf2) != 0)
			abort();
	} else if (secs != 0) {
		abort(); /* documented: *out_s is 0 on failure */
	}

	/* any 64-bit value into a buffer of exactly the size the input picks */
	if (size >= 9) {
		size_t cap = data[8] % 40;

		memcpy(&raw, data, sizeof(raw));
		exact = malloc(cap ? cap : 1);
		if (!exact)
			return 0;
		duration_format(raw, exact, cap);
		if (cap > 0 && memchr(exact, '\0', cap) == NULL)
			abort();
		free(exact);
	}
	return 0;
}
