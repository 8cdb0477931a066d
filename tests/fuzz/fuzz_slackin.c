/* Fuzzes the Slack interaction parser and signature check: whatever the
 * body, the parse either yields one bounded, well-formed click or an
 * error with its reason; the signature check never accepts a body that
 * was not signed with the secret; a response_url passes the guard only if
 * it is Slack's or the configured API's origin. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "api/slackin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct slackin_click c;
	char why[128];
	int rc;

	why[0] = '\0';
	rc = slackin_parse((const char *)data, size, &c, why, sizeof(why));
	if (rc == 0) {
		assert(c.request_id > 0);
		assert(strlen(c.user_id) <= SLACKIN_ID_MAX && c.user_id[0] != '\0');
		assert(c.action == SLACKIN_APPROVE || c.action == SLACKIN_DENY);
		assert(strlen(c.response_url) <= SLACKIN_URL_MAX);
		/* whatever it says, only Slack's hooks (or the API's own
		 * origin) pass the guard */
		if (slackin_response_url_ok(c.response_url, "http://127.0.0.1:9/api"))
			assert(strncmp(c.response_url, "https://hooks.slack.com/", 24) == 0 ||
			       strncmp(c.response_url, "http://127.0.0.1:9/", 19) == 0);
	} else {
		assert(why[0] != '\0');
	}
	/* a fuzzed signature over a fuzzed body never verifies */
	rc = slackin_verify("secret", "1700000000",
			    "v0=0000000000000000000000000000000000000000000000000000000000000000",
			    (const char *)data, size, 1700000000, why, sizeof(why));
	assert(rc != 0);
	return 0;
}
