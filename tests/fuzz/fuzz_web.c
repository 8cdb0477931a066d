/* What a browser sends the web doors, on arbitrary bytes: a session cookie
 * (looked up in a table holding a real session: only the exact id finds
 * it) and a sign-in's next (accepted only as a plain path of this site:
 * "/" first, never "//" or a backslash, printable ASCII). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/weblogin.h"
#include "api/websession.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct websessions *ws;
	static char cookie[WEBSESSION_ID_LEN + 1];
	struct websession_view v;
	char text[WEBLOGIN_NEXT_MAX + 8];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;

	if (ws == NULL) {
		static const char *groups[] = {"g"};
		struct authn a = {.name = (char *)"alice", .groups = (char **)groups,
				  .ngroups = 1, .method = "static"};
		char csrf[WEBSESSION_CSRF_LEN + 1];
		int64_t exp;

		authn_finish(&a);
		if (websessions_new(16, 4, &ws) != 0 ||
		    websession_create(ws, &a, 1000, 1000000, cookie, csrf, &exp) != 0)
			abort();
	}
	memcpy(text, data, n);
	text[n] = '\0';
	if (websession_lookup(ws, text, 2000, &v) == 0) {
		if (strcmp(text, cookie) != 0 || strcmp(v.who.name, "alice") != 0)
			abort();
		authn_clear(&v.who);
	}
	if (weblogin_next_ok(text)) {
		if (text[0] != '/' || text[1] == '/' || text[1] == '\\' || strchr(text, '\\'))
			abort();
		for (const char *p = text; *p; p++)
			if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
				abort();
	}
	return 0;
}
