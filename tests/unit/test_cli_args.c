/* Client argument parsing and what it turns into: request bodies, ids and
 * the query strings of the paging commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cli/cli_args.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct cli_opt request_opts[] = {
	{"--for", true}, {"--reason", true}, {"--ticket", true},
	{"--break-glass", false}, {"--extends", true},
};

static int parse_request(int argc, char **argv, struct cli_args *a, char *err)
{
	return cli_args_parse(argc, argv, request_opts, 5, 2, 2, a, err, 256);
}

static void test_parse_values_flags_and_positionals(void **state)
{
	char *argv[] = {"request", "--json", "orders-db", "--for", "30m",
			"read", "--reason=fix -- it", "--break-glass"};
	struct cli_args a;
	char err[256];

	(void)state;
	assert_int_equal(parse_request(N(argv), argv, &a, err), JG_OK);
	assert_int_equal(a.npos, 2);
	assert_string_equal(a.pos[0], "orders-db");
	assert_string_equal(a.pos[1], "read");
	assert_true(a.json);
	assert_false(a.help);
	assert_string_equal(cli_args_opt(&a, "--for"), "30m");
	assert_string_equal(cli_args_opt(&a, "--reason"), "fix -- it");
	assert_string_equal(cli_args_opt(&a, "--break-glass"), "");
	assert_null(cli_args_opt(&a, "--ticket"));
	assert_null(cli_args_opt(&a, "--nonexistent"));
}

/* The word after a value option is its value even when it looks like an
 * option, and "--" makes the rest positional. */
static void test_parse_value_starting_with_dash_and_double_dash(void **state)
{
	char *argv[] = {"request", "--reason", "--json", "--", "-db", "--for"};
	struct cli_args a;
	char err[256];

	(void)state;
	assert_int_equal(parse_request(N(argv), argv, &a, err), JG_OK);
	assert_string_equal(cli_args_opt(&a, "--reason"), "--json");
	assert_false(a.json);
	assert_int_equal(a.npos, 2);
	assert_string_equal(a.pos[0], "-db");
	assert_string_equal(a.pos[1], "--for");
	assert_null(cli_args_opt(&a, "--for"));
}

static void expect_usage_error(int argc, char **argv, const char *needle)
{
	struct cli_args a;
	char err[256] = "";

	assert_int_equal(parse_request(argc, argv, &a, err), JG_ERR_INVALID);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_parse_usage_errors(void **state)
{
	char *unknown[] = {"request", "a", "b", "--fro", "30m"};
	char *missing_value[] = {"request", "a", "b", "--for"};
	char *twice[] = {"request", "a", "b", "--for", "1m", "--for=2m"};
	char *flag_value[] = {"request", "a", "b", "--break-glass=yes"};
	char *too_many[] = {"request", "a", "b", "c"};
	char *too_few[] = {"request", "a", "--for", "1m"};

	(void)state;
	expect_usage_error(N(unknown), unknown, "unknown option '--fro'");
	expect_usage_error(N(missing_value), missing_value, "--for needs a value");
	expect_usage_error(N(twice), twice, "--for given twice");
	expect_usage_error(N(flag_value), flag_value, "takes no value");
	expect_usage_error(N(too_many), too_many, "unexpected argument 'c'");
	expect_usage_error(N(too_few), too_few, "missing argument");
}

/* --help skips the positional count so `request --help` shows the usage. */
static void test_parse_help_needs_no_positionals(void **state)
{
	char *argv[] = {"request", "--help"};
	struct cli_args a;
	char err[256];

	(void)state;
	assert_int_equal(parse_request(N(argv), argv, &a, err), JG_OK);
	assert_true(a.help);
}

static void test_parse_rejects_overlong_value(void **state)
{
	char *big = malloc(CLI_ARG_MAX + 2);
	char *argv[] = {"request", "a", "b", "--reason", big};
	struct cli_args a;
	char err[256];

	(void)state;
	assert_non_null(big);
	memset(big, 'x', CLI_ARG_MAX + 1);
	big[CLI_ARG_MAX + 1] = '\0';
	assert_int_equal(parse_request(N(argv), argv, &a, err), JG_ERR_INVALID);
	big[CLI_ARG_MAX] = '\0';
	assert_int_equal(parse_request(N(argv), argv, &a, err), JG_OK);
	free(big);
}

static void test_ids(void **state)
{
	int64_t v = 99;

	(void)state;
	assert_int_equal(cli_args_id("1", &v), JG_OK);
	assert_int_equal(v, 1);
	assert_int_equal(cli_args_id("9007199254740991", &v), JG_OK);
	assert_int_equal(v, 9007199254740991LL);
	assert_int_equal(cli_args_id("9007199254740992", &v), JG_ERR_INVALID);
	assert_int_equal(v, 0);
	assert_int_equal(cli_args_id("0", &v), JG_ERR_INVALID);
	assert_int_equal(cli_args_id("-3", &v), JG_ERR_INVALID);
	assert_int_equal(cli_args_id("+3", &v), JG_ERR_INVALID);
	assert_int_equal(cli_args_id("3x", &v), JG_ERR_INVALID);
	assert_int_equal(cli_args_id(" 3", &v), JG_ERR_INVALID);
	assert_int_equal(cli_args_id("", &v), JG_ERR_INVALID);
	assert_int_equal(cli_args_id("99999999999999999999", &v), JG_ERR_INVALID);
	assert_int_equal(cli_args_uint("0", &v), JG_OK);
	assert_int_equal(v, 0);
}

static json_t *body_of(int argc, char **argv, char *err)
{
	struct cli_args a;
	json_t *body = (json_t *)1;

	assert_int_equal(parse_request(argc, argv, &a, err), JG_OK);
	if (cli_args_request_body(&a, &body, err, 256) != JG_OK) {
		assert_null(body);
		return NULL;
	}
	return body;
}

static void test_request_body_full(void **state)
{
	char *argv[] = {"request", "orders-db", "write", "--for", "1h30m",
			"--reason", "INC-7 hotfix", "--ticket", "OPS-12",
			"--break-glass", "--extends", "41"};
	json_t *want = json_pack("{sssssssssssbsI}", "resource", "orders-db",
				 "role", "write", "duration", "1h30m",
				 "reason", "INC-7 hotfix", "ticket", "OPS-12",
				 "break_glass", 1, "extends", (json_int_t)41);
	char err[256];
	json_t *body = body_of(N(argv), argv, err);

	(void)state;
	assert_non_null(body);
	assert_true(json_equal(body, want));
	json_decref(body);
	json_decref(want);
}

/* Absent options are absent members, not nulls or defaults: the server's
 * policy decides what is required. */
static void test_request_body_minimal(void **state)
{
	char *argv[] = {"request", "billing-api", "read", "--for", "30m"};
	char err[256];
	json_t *body = body_of(N(argv), argv, err);

	(void)state;
	assert_non_null(body);
	assert_int_equal(json_object_size(body), 3);
	assert_string_equal(json_string_value(json_object_get(body, "duration")), "30m");
	json_decref(body);
}

static void test_request_body_errors(void **state)
{
	char *no_for[] = {"request", "r", "read", "--reason", "x"};
	char *blank_for[] = {"request", "r", "read", "--for", " "};
	char *blank_reason[] = {"request", "r", "read", "--for", "1m", "--reason", ""};
	char *bad_ext[] = {"request", "r", "read", "--for", "1m", "--extends", "x1"};
	char *bad_utf8[] = {"request", "r", "read", "--for", "1m", "--reason", "\xff"};
	char err[256];

	(void)state;
	assert_null(body_of(N(no_for), no_for, err));
	assert_non_null(strstr(err, "--for DURATION is required"));
	assert_null(body_of(N(blank_for), blank_for, err));
	assert_null(body_of(N(blank_reason), blank_reason, err));
	assert_null(body_of(N(bad_ext), bad_ext, err));
	assert_non_null(strstr(err, "--extends"));
	assert_null(body_of(N(bad_utf8), bad_utf8, err));
	assert_non_null(strstr(err, "UTF-8"));
}

static void test_text_body(void **state)
{
	static const struct cli_opt opts[] = {{"--comment", true}};
	char *with[] = {"approve", "7", "--comment", "looks fine"};
	char *without[] = {"approve", "7"};
	struct cli_args a;
	json_t *body = NULL;
	char err[256];

	(void)state;
	assert_int_equal(cli_args_parse(N(with), with, opts, 1, 1, 1, &a, err,
					sizeof(err)), JG_OK);
	assert_int_equal(cli_args_text_body(&a, "--comment", "comment", &body), JG_OK);
	assert_string_equal(json_string_value(json_object_get(body, "comment")),
			    "looks fine");
	json_decref(body);
	assert_int_equal(cli_args_parse(N(without), without, opts, 1, 1, 1, &a,
					err, sizeof(err)), JG_OK);
	assert_int_equal(cli_args_text_body(&a, "--comment", "comment", &body), JG_OK);
	assert_int_equal(json_object_size(body), 0);
	json_decref(body);
}

static const struct cli_opt list_opts[] = {
	{"--pending", false}, {"--active", false}, {"--state", true},
	{"--mine", false}, {"--approvable", false}, {"--limit", true},
};

static int list_filter(int argc, char **argv, struct cli_list_filter *f,
		       char *err)
{
	struct cli_args a;

	assert_int_equal(cli_args_parse(argc, argv, list_opts, 6, 0, 0, &a, err,
					256), JG_OK);
	return cli_args_list_filter(&a, f, err, 256);
}

static void test_list_paths(void **state)
{
	char *all[] = {"list"};
	char *pend[] = {"list", "--pending", "--mine", "--approvable", "--limit", "5"};
	char *st[] = {"list", "--state", "timed_out"};
	struct cli_list_filter f;
	char path[CLI_QUERY_MAX], err[256];

	(void)state;
	assert_int_equal(list_filter(N(all), all, &f, err), JG_OK);
	assert_int_equal(cli_args_list_path(&f, 0, 0, path, sizeof(path)), JG_OK);
	assert_string_equal(path, "/v1/requests");
	assert_int_equal(cli_args_list_path(&f, 40, 0, path, sizeof(path)), JG_OK);
	assert_string_equal(path, "/v1/requests?after=40");

	assert_int_equal(list_filter(N(pend), pend, &f, err), JG_OK);
	assert_int_equal(f.limit, 5);
	assert_int_equal(cli_args_list_path(&f, 12, 3, path, sizeof(path)), JG_OK);
	assert_string_equal(path,
			    "/v1/requests?state=pending&mine=1&approvable=1&limit=3&after=12");

	assert_int_equal(list_filter(N(st), st, &f, err), JG_OK);
	assert_string_equal(f.state, "timed_out");
}

static void test_list_filter_errors(void **state)
{
	char *both[] = {"list", "--pending", "--active"};
	char *state_and[] = {"list", "--active", "--state", "expired"};
	char *bad_state[] = {"list", "--state", "happy"};
	char *bad_limit[] = {"list", "--limit", "0"};
	struct cli_list_filter f;
	char err[256];

	(void)state;
	assert_int_equal(list_filter(N(both), both, &f, err), JG_ERR_INVALID);
	assert_int_equal(list_filter(N(state_and), state_and, &f, err), JG_ERR_INVALID);
	assert_int_equal(list_filter(N(bad_state), bad_state, &f, err), JG_ERR_INVALID);
	assert_int_equal(list_filter(N(bad_limit), bad_limit, &f, err), JG_ERR_INVALID);
	assert_non_null(strstr(err, "--limit"));
}

static void test_audit_paths_escape_filters(void **state)
{
	static const struct cli_opt opts[] = {
		{"--follow", false}, {"--subject", true}, {"--resource", true},
		{"--action", true}, {"--after", true}, {"--limit", true},
	};
	char *argv[] = {"audit", "--subject", "a b&c=d/é", "--action",
			"request.revoked", "--after", "0"};
	char *follow_limit[] = {"audit", "--follow", "--limit", "3"};
	struct cli_audit_filter f;
	struct cli_args a;
	char path[CLI_QUERY_MAX], err[256];

	(void)state;
	assert_int_equal(cli_args_parse(N(argv), argv, opts, 6, 0, 0, &a, err,
					sizeof(err)), JG_OK);
	assert_int_equal(cli_args_audit_filter(&a, &f, err, sizeof(err)), JG_OK);
	assert_false(f.follow);
	assert_int_equal(cli_args_audit_path(&f, 17, 100, path, sizeof(path)), JG_OK);
	assert_string_equal(path, "/v1/audit?after=17&limit=100"
				  "&subject=a%20b%26c%3Dd%2F%C3%A9&action=request.revoked");

	assert_int_equal(cli_args_parse(N(follow_limit), follow_limit, opts, 6,
					0, 0, &a, err, sizeof(err)), JG_OK);
	assert_int_equal(cli_args_audit_filter(&a, &f, err, sizeof(err)),
			 JG_ERR_INVALID);
}

static void test_query_add_overflow(void **state)
{
	char buf[16] = "/p";

	(void)state;
	assert_int_equal(cli_args_query_add(buf, sizeof(buf), "k", "v"), JG_OK);
	assert_string_equal(buf, "/p?k=v");
	assert_int_equal(cli_args_query_add(buf, sizeof(buf), "k", "v"), JG_OK);
	assert_string_equal(buf, "/p?k=v&k=v");
	/* "&k=%20" needs 6 more bytes plus the NUL: one too many. */
	assert_int_equal(cli_args_query_add(buf, sizeof(buf), "k", " "), JG_ERR_TOOBIG);
	assert_string_equal(buf, "/p?k=v&k=v");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_values_flags_and_positionals),
		cmocka_unit_test(test_parse_value_starting_with_dash_and_double_dash),
		cmocka_unit_test(test_parse_usage_errors),
		cmocka_unit_test(test_parse_help_needs_no_positionals),
		cmocka_unit_test(test_parse_rejects_overlong_value),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_request_body_full),
		cmocka_unit_test(test_request_body_minimal),
		cmocka_unit_test(test_request_body_errors),
		cmocka_unit_test(test_text_body),
		cmocka_unit_test(test_list_paths),
		cmocka_unit_test(test_list_filter_errors),
		cmocka_unit_test(test_audit_paths_escape_filters),
		cmocka_unit_test(test_query_add_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
