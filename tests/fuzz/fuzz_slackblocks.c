/* Fuzzes the Slack channel message builder: the input's first byte picks
 * the state and flags, the rest is split at '|' into the request's user
 * texts (requester, resource, role, reason, ticket, end comment, ended_by,
 * approvers, public URL).  Whatever they hold, every block text stays
 * within Slack's limits and valid UTF-8, and no user text becomes a
 * mention or a link. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/slackblocks.h"
#include "util/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* checked in every build (CHECK() is gone under NDEBUG) */
#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void check_text(const char *t, size_t max)
{
	CHECK(t != NULL);
	CHECK(strlen(t) <= max);
	CHECK(text_utf8_valid(t, strlen(t)));
	/* only the builder's own <!date^...> and <URL|label> tokens */
	CHECK(strstr(t, "<!channel") == NULL && strstr(t, "<!here") == NULL &&
	       strstr(t, "<!everyone") == NULL && strstr(t, "<@") == NULL &&
	       strstr(t, "<#") == NULL && strstr(t, "<!subteam") == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *part[9] = {0}, *p;
	struct request r;
	struct slackblocks_in in;
	json_t *m, *blocks;
	size_t np = 0;

	if (size == 0 || size > 65536)
		return 0;
	buf = malloc(size);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	for (p = buf; np < 9; np++) {
		part[np] = p;
		p = strchr(p, '|');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	memset(&r, 0, sizeof(r));
	r.id = 7;
	r.state = (enum req_state)(data[0] % REQ_STATE_COUNT);
	r.break_glass = data[0] & 0x10;
	r.review_required = data[0] & 0x20;
	r.requester = part[0] ? part[0] : "a";
	r.resource = part[1] ? part[1] : "r";
	r.role = part[2] ? part[2] : "read";
	r.reason = part[3];
	r.ticket = part[4];
	r.end_comment = part[5];
	r.ended_by = part[6];
	r.reviewed_by = part[6];
	r.duration_s = 1800;
	r.approvals_required = 2;
	r.expires_at = 1800000000000LL;
	r.ended_at = 1800000000000LL;
	for (size_t i = 0; part[7] && i < REQ_MAX_APPROVALS; i++)
		r.approvals[r.napprovals++] = (struct approval){.by = part[7]};
	in = (struct slackblocks_in){.req = &r, .interactive = data[0] & 0x40,
				     .public_url = part[8]};
	m = slackblocks_message(&in);
	CHECK(m != NULL);
	check_text(json_string_value(json_object_get(m, "text")), 3000);
	blocks = json_object_get(m, "blocks");
	for (size_t i = 0; i < json_array_size(blocks); i++) {
		json_t *b = json_array_get(blocks, i), *f = json_object_get(b, "fields");
		json_t *t = json_object_get(json_object_get(b, "text"), "text");

		if (t)
			check_text(json_string_value(t), 3000);
		CHECK(json_array_size(f) <= 10);
		for (size_t k = 0; k < json_array_size(f); k++)
			check_text(json_string_value(json_object_get(json_array_get(f, k), "text")),
				   2000);
	}
	json_decref(m);
	free(buf);
	return 0;
}
