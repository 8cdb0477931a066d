/* audit replay (design section 11): a chain sealed by the audit module is
 * replayed under another config; outcomes that change are reported with
 * the core's answer, the groups come from the event or else from the
 * config's identity (or are unknown), and a chain that does not verify is
 * refused at the line where it breaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/chain.h"
#include "core_fixture.h"
#include "policytest/replay.h"

static const char NEW[] =
	"identities:\n"
	"  - {subject: bob, groups: [eng], token_sha256: "
	"0000000000000000000000000000000000000000000000000000000000000001}\n"
	"resources:\n"
	"  - {name: db, kind: generic, roles: {read: {}, write: {}}}\n"
	"policies:\n"
	"  - {name: read, requesters: [group:eng], resources: [db], roles: [read],\n"
	"     max_duration: 1h, approvals: 0}\n"
	"  - {name: write, requesters: [group:eng], resources: [db], roles: [write],\n"
	"     max_duration: 1h, approvals: 1, approvers: [group:sre]}\n";

struct chain {
	char prev[AUDIT_HASH_HEX_LEN + 1];
	int64_t seq;
	char *lines[16];
	size_t n;
};

/* Seals a request.created event (groups NULL: none recorded) and keeps
 * its line. */
static void created(struct chain *c, const char *subject, const char *groups_json,
		    const char *role, int64_t duration_s, int approvals)
{
	json_t *detail = json_pack("{s:I, s:n, s:n, s:s, s:i, s:b}", "duration_s",
				   (json_int_t)duration_s, "reason", "ticket", "policy",
				   "old", "approvals_required", approvals, "break_glass", 0);
	json_t *ev;
	char hash[AUDIT_HASH_HEX_LEN + 1];

	c->seq++;
	if (groups_json != NULL)
		json_object_set_new(detail, "groups", json_loads(groups_json, 0, NULL));
	ev = json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:o}", "seq",
		       (json_int_t)c->seq, "time", "2026-03-01T00:00:00.000Z", "action",
		       "request.created", "actor", subject, "request_id",
		       (json_int_t)c->seq, "subject", subject, "resource", "db", "role",
		       role, "detail", detail);
	assert_int_equal(audit_event_seal(ev, c->seq == 1 ? AUDIT_GENESIS_PREV : c->prev,
					  hash), 0);
	memcpy(c->prev, hash, sizeof(hash));
	c->lines[c->n++] = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
}

static void free_chain(struct chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->lines[i]);
}

static void test_replay(void **state)
{
	struct config *cfg = fx_config(NEW);
	const struct replay_item *v;
	struct chain c = {.seq = 0};
	struct replay *r;
	size_t replayed, n;
	char err[256], text[1024];

	(void)state;
	created(&c, "alice", "[\"eng\"]", "read", 600, 0);     /* same: granted */
	created(&c, "alice", "[\"eng\"]", "read", 7200, 0);    /* now 400 duration */
	created(&c, "alice", "[\"eng\"]", "write", 600, 0);    /* now pending 1 */
	created(&c, "bob", NULL, "read", 600, 1);              /* groups from identity: granted */
	created(&c, "carol", NULL, "read", 600, 0);            /* groups unknown: 403 */
	assert_int_equal(replay_new(cfg, &r), 0);
	for (size_t i = 0; i < c.n; i++)
		assert_int_equal(replay_feed_line(r, c.lines[i], strlen(c.lines[i]), err,
						  sizeof(err)), 0);
	replay_results(r, &replayed, &v, &n);
	assert_int_equal(replayed, 5);
	assert_int_equal(n, 4);
	assert_int_equal(v[0].request_id, 2);
	assert_int_equal(v[0].now.outcome, PT_REFUSED);
	assert_int_equal(v[0].now.status, 400);
	assert_string_equal(v[0].now.field, "duration");
	assert_int_equal(v[1].now.outcome, PT_PENDING);
	assert_int_equal(v[1].now.approvals, 1);
	assert_int_equal(v[2].groups_from, RG_IDENTITY);
	assert_int_equal(v[2].was, PT_PENDING);
	assert_int_equal(v[2].now.outcome, PT_GRANTED);
	assert_int_equal(v[3].groups_from, RG_UNKNOWN);
	assert_int_equal(v[3].now.status, 403);
	replay_item_text(&v[3], text, sizeof(text));
	assert_non_null(strstr(text, "request 5 at 2026-03-01T00:00:00.000Z: carol db read 10m: "
			       "was granted via old, now refused 403"));
	assert_non_null(strstr(text, "(groups unknown: judged without groups)"));
	{
		json_t *j = replay_item_json(&v[1]);

		assert_string_equal(json_string_value(json_object_get(
			json_object_get(j, "now"), "outcome")), "pending");
		json_decref(j);
	}
	replay_free(r);

	/* an edited event stops the replay at its line */
	assert_int_equal(replay_new(cfg, &r), 0);
	assert_int_equal(replay_feed_line(r, c.lines[0], strlen(c.lines[0]), err,
					  sizeof(err)), 0);
	{
		char *edited = strdup(c.lines[1]);
		char *at = strstr(edited, "7200");

		assert_non_null(at);
		memcpy(at, "0600", 4);
		assert_int_equal(replay_feed_line(r, edited, strlen(edited), err,
						  sizeof(err)), JG_ERR_INVALID);
		assert_non_null(strstr(err, "FAIL at line 2"));
		free(edited);
	}
	/* and garbage is refused, not parsed */
	assert_int_equal(replay_feed_line(r, "\xff{", 2, err, sizeof(err)), JG_ERR_INVALID);
	replay_free(r);
	free_chain(&c);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
