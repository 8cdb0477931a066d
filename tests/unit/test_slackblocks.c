/* The Slack channel message builder (server/slackblocks): a pure function
 * of the request's state and the event.  Each state's headline, the
 * fields, buttons only while pending and interactive, the web link only
 * with public_url, the break-glass marker, mrkdwn escaping of every user
 * text (no @channel, no forged link), and bounded lengths that never cut a
 * UTF-8 character or an entity in half. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/slackblocks.h"
#include "util/text.h"

#define T0 1800000000000LL /* 2027-01-15T08:00:00Z */

static struct request base(void)
{
	struct request r;

	memset(&r, 0, sizeof(r));
	r.id = 42;
	r.state = REQ_PENDING;
	r.requester = "alice";
	r.resource = "orders-db";
	r.role = "write";
	r.duration_s = 1800;
	r.reason = "rotate keys";
	r.ticket = "OPS-7";
	r.policy = "prod-write";
	r.approvals_required = 2;
	r.created_at = T0;
	r.pending_until = T0 + 3600000;
	return r;
}

/* The message as one JSON text, and whether it has the buttons / link. */
static char *build(const struct request *r, bool interactive, const char *url)
{
	struct slackblocks_in in = {.req = r, .event = NULL, .interactive = interactive,
				    .public_url = url};
	json_t *m = slackblocks_message(&in);
	char *s;

	assert_non_null(m);
	assert_true(json_is_string(json_object_get(m, "text")));
	assert_true(json_is_array(json_object_get(m, "blocks")));
	/* every text within Slack's limits */
	for (size_t i = 0; i < json_array_size(json_object_get(m, "blocks")); i++) {
		json_t *b = json_array_get(json_object_get(m, "blocks"), i);
		const char *t = json_string_value(json_object_get(json_object_get(b, "text"), "text"));
		json_t *f = json_object_get(b, "fields");

		if (t)
			assert_true(strlen(t) <= 3000 && text_utf8_valid(t, strlen(t)));
		for (size_t k = 0; k < json_array_size(f); k++) {
			const char *ft = json_string_value(json_object_get(json_array_get(f, k), "text"));

			assert_true(strlen(ft) <= 2000 && text_utf8_valid(ft, strlen(ft)));
		}
		assert_true(json_array_size(f) <= 10);
	}
	s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	assert_non_null(s);
	return s;
}

static void has(const char *msg, const char *part)
{
	if (strstr(msg, part) == NULL)
		fail_msg("missing %s in %s", part, msg);
}

static void lacks(const char *msg, const char *part)
{
	if (strstr(msg, part) != NULL)
		fail_msg("unexpected %s in %s", part, msg);
}

static void test_pending(void **state)
{
	struct request r = base();
	char *m;

	(void)state;
	m = build(&r, true, "https://jit.example.com");
	has(m, "*Request 42*: alice asks for `write` on `orders-db`");
	has(m, "Waiting for approval* (0 of 2)");
	has(m, "*Duration*\\n30m");
	has(m, "*Ticket*\\nOPS-7");
	has(m, "*Reason*\\nrotate keys");
	has(m, "\"action_id\":\"jitgate_approve\",\"value\":\"42\"");
	has(m, "\"action_id\":\"jitgate_deny\",\"value\":\"42\"");
	has(m, "<https://jit.example.com/ui/requests/42|Open request 42 in jitgate>");
	free(m);
	/* not interactive: no buttons; no public_url: no link */
	m = build(&r, false, NULL);
	lacks(m, "jitgate_approve");
	lacks(m, "/ui/requests/");
	free(m);
	/* no ticket, no reason: no empty fields */
	r.ticket = NULL;
	r.reason = "";
	m = build(&r, true, NULL);
	lacks(m, "*Ticket*");
	lacks(m, "*Reason*");
	free(m);
}

static void test_states(void **state)
{
	struct request r = base();
	char *m;

	(void)state;
	r.approvals[0] = (struct approval){.by = "bob", .at_ms = T0 + 1000};
	r.napprovals = 1;
	m = build(&r, true, NULL);
	has(m, "(1 of 2)");
	has(m, "*Approvals*\\n1 of 2: bob");
	has(m, "jitgate_approve"); /* still pending */
	free(m);

	r.approvals[1] = (struct approval){.by = "carol", .at_ms = T0 + 2000};
	r.napprovals = 2;
	r.state = REQ_ACTIVE;
	r.activated_at = T0 + 2000;
	r.expires_at = T0 + 2000 + 1800000;
	m = build(&r, true, NULL);
	has(m, "*Approved* by bob, carol");
	has(m, "active until <!date^1800001802^{date_short_pretty} {time}|2027-01-15T08:30:02");
	lacks(m, "jitgate_approve");
	free(m);

	r.state = REQ_REVOKED;
	r.ended_by = "dave";
	r.end_comment = "incident over";
	r.ended_at = T0 + 5000;
	m = build(&r, true, NULL);
	has(m, "*Revoked* by dave");
	has(m, "*Reason for revoking:* incident over");
	lacks(m, "jitgate_deny");
	free(m);

	r.state = REQ_EXPIRED;
	r.ended_by = "jitgate";
	r.end_comment = NULL;
	m = build(&r, true, NULL);
	has(m, "*Expired* at <!date^1800000005^");
	free(m);

	r.state = REQ_DENIED;
	r.ended_by = "carol";
	r.end_comment = "not now";
	m = build(&r, true, NULL);
	has(m, "*Denied* by carol");
	has(m, "*Comment:* not now");
	free(m);

	r.state = REQ_CANCELED;
	r.ended_by = "alice";
	r.end_comment = NULL;
	m = build(&r, true, NULL);
	has(m, "*Cancelled* by alice");
	free(m);

	r.state = REQ_TIMED_OUT;
	r.ended_by = "jitgate";
	m = build(&r, true, NULL);
	has(m, "*Timed out*");
	free(m);
}

static void test_break_glass(void **state)
{
	struct request r = base();
	char *m;

	(void)state;
	r.state = REQ_ACTIVE;
	r.break_glass = true;
	r.review_required = true;
	r.approvals_required = 0;
	r.expires_at = T0 + 600000;
	m = build(&r, true, NULL);
	has(m, ":rotating_light: *BREAK-GLASS* *Request 42*");
	has(m, "BREAK-GLASS jitgate request 42");
	has(m, "Break-glass: active");
	has(m, "Awaiting review");
	lacks(m, "*Approvals*");
	free(m);
	r.reviewed_by = "dave";
	m = build(&r, true, NULL);
	has(m, "Reviewed by dave");
	free(m);
}

static void test_hostile_text(void **state)
{
	struct request r = base();
	char *m;

	(void)state;
	r.requester = "<!channel>";
	r.reason = "<https://evil.example|click> & <@U0BOSS> <!here>";
	r.ticket = "<!subteam^S1>";
	r.resource = "a>b";
	r.approvals[0] = (struct approval){.by = "<!everyone>"};
	r.napprovals = 1;
	m = build(&r, true, "https://jit.example.com");
	lacks(m, "<!channel>");
	lacks(m, "<https://evil");
	lacks(m, "<@U0BOSS>");
	lacks(m, "<!here>");
	lacks(m, "<!subteam");
	lacks(m, "<!everyone>");
	has(m, "&lt;https://evil.example|click&gt; &amp; &lt;@U0BOSS&gt;");
	has(m, "`a&gt;b`");
	free(m);
}

static void test_escape_bounds(void **state)
{
	char *e, big[3000];

	(void)state;
	e = slackblocks_escape("a<b>&c", 100);
	assert_string_equal(e, "a&lt;b&gt;&amp;c");
	free(e);
	/* control characters (not \n) become spaces; bad UTF-8 a '?' */
	e = slackblocks_escape("x\ty\nz\x01\xff", 100);
	assert_string_equal(e, "x y\nz ?");
	free(e);
	/* exactly fits: no ellipsis */
	e = slackblocks_escape("&&", 10);
	assert_string_equal(e, "&amp;&amp;");
	free(e);
	/* cut: never inside an entity, marked with an ellipsis */
	e = slackblocks_escape("&&&", 10);
	assert_string_equal(e, "&amp;\xe2\x80\xa6");
	free(e);
	/* never inside a UTF-8 character */
	e = slackblocks_escape("\xc3\xa9\xc3\xa9\xc3\xa9", 6); /* fits */
	assert_string_equal(e, "\xc3\xa9\xc3\xa9\xc3\xa9");
	free(e);
	e = slackblocks_escape("\xc3\xa9\xc3\xa9\xc3\xa9", 5);
	assert_string_equal(e, "\xc3\xa9\xe2\x80\xa6");
	free(e);
	e = slackblocks_escape(NULL, 5);
	assert_string_equal(e, "");
	free(e);
	memset(big, '<', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	e = slackblocks_escape(big, SLACKBLOCKS_TEXT_MAX);
	assert_true(strlen(e) <= SLACKBLOCKS_TEXT_MAX);
	assert_true(text_utf8_valid(e, strlen(e)));
	free(e);
}

static void test_long_everything(void **state)
{
	struct request r = base();
	static char longs[5][1100];
	char *m;

	(void)state;
	for (int i = 0; i < 5; i++) {
		memset(longs[i], i % 2 ? '&' : 'x', sizeof(longs[i]) - 1);
		longs[i][sizeof(longs[i]) - 1] = '\0';
	}
	r.requester = longs[0];
	r.resource = longs[1];
	r.role = longs[2];
	r.reason = longs[3];
	r.ticket = longs[4];
	for (int i = 0; i < REQ_MAX_APPROVALS; i++)
		r.approvals[i] = (struct approval){.by = longs[1]};
	r.napprovals = REQ_MAX_APPROVALS;
	r.state = REQ_DENIED;
	r.ended_by = longs[1];
	r.end_comment = longs[3];
	m = build(&r, true, NULL); /* build() checks every bound */
	free(m);
}

static void test_without_request(void **state)
{
	json_t *ev = json_pack("{s:s, s:s, s:i}", "action", "request.created", "actor",
			       "<!channel>", "request_id", 9);
	struct slackblocks_in in = {.req = NULL, .event = ev};
	json_t *m = slackblocks_message(&in);
	char *s = json_dumps(m, JSON_COMPACT);

	(void)state;
	has(s, "request.created by &lt;!channel&gt; (request 9)");
	free(s);
	json_decref(m);
	json_decref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pending),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_break_glass),
		cmocka_unit_test(test_hostile_text),
		cmocka_unit_test(test_escape_bounds),
		cmocka_unit_test(test_long_everything),
		cmocka_unit_test(test_without_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
