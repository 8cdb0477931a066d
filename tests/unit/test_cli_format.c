/* Human output of the client: tables, key/value blocks, audit lines, and
 * the cleaning of server text before it reaches a terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_api.h"
#include "cli/cli_format.h"

/* Output captured in memory. */
struct capture {
	FILE *f;
	char *buf;
	size_t len;
};

static void cap_open(struct capture *c)
{
	c->buf = NULL;
	c->len = 0;
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
}

/* Closes the stream; the text stays in c->buf until cap_free. */
static const char *cap_text(struct capture *c)
{
	fclose(c->f);
	c->f = NULL;
	return c->buf;
}

static void cap_free(struct capture *c)
{
	free(c->buf);
}

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		fail_msg("bad test JSON: %s", e.text);
	return j;
}

static void test_clean_controls_and_cut(void **state)
{
	char out[64];

	(void)state;
	cli_format_clean("a\x1b[2Jb\tc\x7f", 0, out, sizeof(out));
	assert_string_equal(out, "a?[2Jb?c?");
	/* U+009B (CSI as a C1 control, UTF-8 C2 9B) is one '?'. */
	cli_format_clean("x\xc2\x9b" "1mY", 0, out, sizeof(out));
	assert_string_equal(out, "x?1mY");
	/* Printable non-ASCII stays. */
	cli_format_clean("d\xc3\xa9j\xc3\xa0", 0, out, sizeof(out));
	assert_string_equal(out, "d\xc3\xa9j\xc3\xa0");
	cli_format_clean("abcdefghij", 8, out, sizeof(out));
	assert_string_equal(out, "abcde...");
	cli_format_clean("abcdefgh", 8, out, sizeof(out));
	assert_string_equal(out, "abcdefgh");
	/* The cut counts characters and never splits one. */
	cli_format_clean("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 4, out, sizeof(out));
	assert_string_equal(out, "\xc3\xa9...");
	/* A small output buffer ends on a whole character. */
	cli_format_clean("\xc3\xa9\xc3\xa9", 0, out, 4);
	assert_string_equal(out, "\xc3\xa9");
}

static void test_time_shortening(void **state)
{
	char out[64];

	(void)state;
	cli_format_time("2026-11-27T20:56:17.123Z", out, sizeof(out));
	assert_string_equal(out, "2026-11-27T20:56:17Z");
	cli_format_time("2026-11-27T20:56:17Z", out, sizeof(out));
	assert_string_equal(out, "2026-11-27T20:56:17Z");
	cli_format_time("soon.ish", out, sizeof(out));
	assert_string_equal(out, "soon.ish");
}

static void test_table_alignment(void **state)
{
	static const char *const headers[] = {"ID", "NAME", "NOTE"};
	const char *r1[] = {"7", "d\xc3\xa9j\xc3\xa0", "x"};
	const char *r2[] = {"1234", NULL, "last column not padded"};
	struct cli_table *t = cli_table_new(3, headers);
	struct capture c;

	(void)state;
	assert_non_null(t);
	assert_int_equal(cli_table_add(t, r1), JG_OK);
	assert_int_equal(cli_table_add(t, r2), JG_OK);
	assert_int_equal(cli_table_rows(t), 2);
	cap_open(&c);
	cli_table_print(t, c.f);
	/* Widths count characters: "déjà" is 4 wide like "NAME". */
	assert_string_equal(cap_text(&c),
			    "ID    NAME  NOTE\n"
			    "7     d\xc3\xa9j\xc3\xa0  x\n"
			    "1234  -     last column not padded\n");
	cap_free(&c);
	cli_table_free(t);
}

static const char list_json[] =
	"[{\"id\": 12, \"state\": \"pending\", \"requester\": \"alice\","
	"  \"resource\": \"orders-db\", \"role\": \"write\", \"duration_s\": 5400,"
	"  \"reason\": \"deploy\\u001b[31m fix\", \"pending_until\": \"2026-03-01T10:00:00.000Z\","
	"  \"expires_at\": null, \"break_glass\": false},"
	" {\"id\": 9, \"state\": \"active\", \"requester\": \"bob\","
	"  \"resource\": \"billing-api\", \"role\": \"admin\", \"duration_s\": 1800,"
	"  \"reason\": \"on fire\", \"pending_until\": \"2026-03-01T09:00:00Z\","
	"  \"expires_at\": \"2026-03-01T09:40:00.5Z\", \"break_glass\": true,"
	"  \"review_required\": true},"
	" {\"id\": 3, \"state\": \"expired\", \"requester\": \"carol\","
	"  \"resource\": \"orders-db\", \"role\": \"read\", \"duration_s\": 60,"
	"  \"reason\": null, \"expires_at\": \"2026-02-01T00:00:00Z\"}]";

static void test_requests_table(void **state)
{
	json_t *reqs = parse(list_json);
	struct capture c;

	(void)state;
	cap_open(&c);
	assert_int_equal(cli_format_requests(reqs, c.f), JG_OK);
	assert_string_equal(cap_text(&c),
		"ID  STATE       REQUESTER  RESOURCE     ROLE   DURATION  EXPIRES/PENDING-UNTIL  REASON\n"
		"12  pending     alice      orders-db    write  1h30m     2026-03-01T10:00:00Z   deploy?[31m fix\n"
		"9   active+bg!  bob        billing-api  admin  30m       2026-03-01T09:40:00Z   on fire\n"
		"3   expired     carol      orders-db    read   1m        -                      -\n");
	cap_free(&c);
	json_decref(reqs);
}

static void test_request_block(void **state)
{
	json_t *req = parse(
		"{\"id\": 9, \"state\": \"active\", \"requester\": \"bob\","
		" \"resource\": \"orders-db\", \"role\": \"write\", \"duration_s\": 3600,"
		" \"reason\": \"migrate\", \"ticket\": \"OPS-4\", \"policy\": \"prod-write\","
		" \"approvals_required\": 2, \"approvals\": ["
		"   {\"by\": \"carol\", \"at\": \"2026-03-01T09:01:00.250Z\", \"comment\": \"ok\\nfine\"},"
		"   {\"by\": \"dave\", \"at\": \"2026-03-01T09:02:00Z\", \"comment\": null}],"
		" \"created_at\": \"2026-03-01T09:00:00Z\", \"pending_until\": \"2026-03-01T10:00:00Z\","
		" \"activated_at\": \"2026-03-01T09:02:00Z\", \"expires_at\": \"2026-03-01T10:02:00Z\","
		" \"ended_at\": null, \"ended_by\": null, \"break_glass\": false,"
		" \"review_required\": false, \"extends\": 4}");
	struct capture c;

	(void)state;
	cap_open(&c);
	cli_format_request(req, c.f);
	assert_string_equal(cap_text(&c),
		"id:               9\n"
		"state:            active\n"
		"requester:        bob\n"
		"resource:         orders-db\n"
		"role:             write\n"
		"duration:         1h\n"
		"reason:           migrate\n"
		"ticket:           OPS-4\n"
		"policy:           prod-write\n"
		"approvals:        2 of 2\n"
		"  - carol at 2026-03-01T09:01:00Z: ok?fine\n"
		"  - dave at 2026-03-01T09:02:00Z\n"
		"created_at:       2026-03-01T09:00:00Z\n"
		"pending_until:    2026-03-01T10:00:00Z\n"
		"activated_at:     2026-03-01T09:02:00Z\n"
		"expires_at:       2026-03-01T10:02:00Z\n"
		"ended_at:         -\n"
		"ended_by:         -\n"
		"end_comment:      -\n"
		"break_glass:      no\n"
		"review_required:  no\n"
		"reviewed_by:      -\n"
		"extends:          4\n");
	cap_free(&c);
	json_decref(req);
}

static void test_audit_line(void **state)
{
	json_t *ev = parse(
		"{\"seq\": 41, \"time\": \"2026-03-01T09:02:00.001Z\","
		" \"action\": \"request.revoked\", \"actor\": \"carol\", \"request_id\": 9,"
		" \"subject\": \"bob\", \"resource\": \"orders-db\", \"role\": \"write\","
		" \"detail\": {\"reason\": \"done\"}, \"prev\": \"00\", \"hash\": \"11\"}");
	json_t *bare = parse("{\"seq\": 1, \"time\": \"2026-03-01T00:00:00Z\","
			     " \"action\": \"config.loaded\", \"actor\": \"system\","
			     " \"detail\": \"line\\u0007two\"}");
	struct capture c;

	(void)state;
	cap_open(&c);
	cli_format_audit_event(ev, c.f);
	cli_format_audit_event(bare, c.f);
	assert_string_equal(cap_text(&c),
		"41  2026-03-01T09:02:00Z  request.revoked actor=carol request_id=9 "
		"subject=bob resource=orders-db role=write detail={\"reason\":\"done\"}\n"
		"1  2026-03-01T00:00:00Z  config.loaded actor=system detail=line?two\n");
	cap_free(&c);
	json_decref(ev);
	json_decref(bare);
}

static void test_check_and_whoami(void **state)
{
	json_t *yes = parse("{\"allowed\": true, \"request_id\": 7,"
			    " \"expires_at\": \"2026-03-01T10:00:00.000Z\", \"remaining_s\": 5430}");
	json_t *bare = parse("{\"allowed\": true}");
	json_t *no = parse("{\"allowed\": false}");
	json_t *who = parse("{\"subject\": \"alice\", \"groups\": [\"eng\", \"sre\"]}");
	json_t *nogroups = parse("{\"subject\": \"svc\", \"groups\": []}");
	struct capture c;

	(void)state;
	cap_open(&c);
	cli_format_check(yes, c.f);
	cli_format_check(bare, c.f);
	cli_format_check(no, c.f);
	cli_format_whoami(who, c.f);
	cli_format_whoami(nogroups, c.f);
	assert_string_equal(cap_text(&c),
		"allowed (request 7, expires 2026-03-01T10:00:00Z, 1h30m30s left)\n"
		"allowed\n"
		"denied\n"
		"subject:          alice\n"
		"groups:           eng, sre\n"
		"subject:          svc\n"
		"groups:           -\n");
	cap_free(&c);
	json_decref(yes);
	json_decref(bare);
	json_decref(no);
	json_decref(who);
	json_decref(nogroups);
}

static void test_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(cli_api_exit_for_status(200), CLI_EXIT_OK);
	assert_int_equal(cli_api_exit_for_status(201), CLI_EXIT_OK);
	assert_int_equal(cli_api_exit_for_status(400), 8);
	assert_int_equal(cli_api_exit_for_status(413), 8);
	assert_int_equal(cli_api_exit_for_status(401), 4);
	assert_int_equal(cli_api_exit_for_status(403), 5);
	assert_int_equal(cli_api_exit_for_status(404), 6);
	assert_int_equal(cli_api_exit_for_status(409), 7);
	assert_int_equal(cli_api_exit_for_status(503), 9);
	assert_int_equal(cli_api_exit_for_status(500), 9);
	assert_int_equal(cli_api_exit_for_status(302), 9);
}

static void test_api_error_line(void **state)
{
	json_t *err = parse("{\"error\": {\"code\": \"invalid\","
			    " \"message\": \"duration: 8h is above the maximum 4h\\r\"}}");
	json_t *odd = parse("{\"oops\": 1}");
	struct capture c;

	(void)state;
	cap_open(&c);
	cli_api_print_error(400, err, c.f);
	cli_api_print_error(502, odd, c.f);
	cli_api_print_error(503, NULL, c.f);
	assert_string_equal(cap_text(&c),
		"jitgate: duration: 8h is above the maximum 4h? (invalid, HTTP 400)\n"
		"jitgate: server answered HTTP 502\n"
		"jitgate: server answered HTTP 503\n");
	cap_free(&c);
	json_decref(err);
	json_decref(odd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_controls_and_cut),
		cmocka_unit_test(test_time_shortening),
		cmocka_unit_test(test_table_alignment),
		cmocka_unit_test(test_requests_table),
		cmocka_unit_test(test_request_block),
		cmocka_unit_test(test_audit_line),
		cmocka_unit_test(test_check_and_whoami),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_api_error_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
