/* Outside bytes into the audit log and the log (util/text, canon_string):
 * whatever the input, the escaped text is valid UTF-8, under
 * TEXT_ESC_CONTROL holds no control character, fits the buffer it was given
 * (cut on whole characters), and canon_string's JSON string canonicalises,
 * parses back and canonicalises again to the same bytes (the hash chain
 * verifies from an export). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/canon.h"
#include "util/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char small[17], *full;
	size_t need, n;
	json_t *v, *back;
	char *c1 = NULL, *c2 = NULL;

	if (size > 4096)
		return 0;
	for (unsigned flags = 0; flags <= TEXT_ESC_CONTROL; flags++) {
		need = text_escaped_len(in, size, flags);
		full = malloc(need + 1);
		if (!full)
			return 0;
		/* a NUL is a valid character: only TEXT_ESC_CONTROL escapes it */
		if (text_escape(full, need + 1, in, size, flags) != need ||
		    !text_utf8_valid(full, need) ||
		    ((flags & TEXT_ESC_CONTROL) && strlen(full) != need))
			abort();
		for (size_t i = 0; (flags & TEXT_ESC_CONTROL) && i < need; i++)
			if ((unsigned char)full[i] < 0x20 || full[i] == 0x7f)
				abort();
		n = text_escape(small, sizeof(small), in, size, flags);
		if (n >= sizeof(small) || memcmp(small, full, n) != 0 ||
		    !text_utf8_valid(small, n))
			abort();
		free(full);
	}
	v = canon_stringn(in, size);
	if (!v)
		return 0;
	if (canon_json(v, &c1, NULL) != 0)
		abort();
	back = json_loads(c1, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (!back || canon_json(back, &c2, NULL) != 0 || strcmp(c1, c2) != 0)
		abort();
	json_decref(back);
	json_decref(v);
	free(c1);
	free(c2);
	return 0;
}
