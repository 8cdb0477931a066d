/* Policy test files and their evaluation (design section 11): the parser's
 * file:line errors for every kind of bad case, the evaluator's outcome for
 * each core path (granted, pending, refused 400/403 with the field,
 * break-glass, approvals allowed and refused), pass/fail judgement,
 * coverage, and the JUnit and JSON reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core_fixture.h"
#include "policytest/ptrun.h"

static const char CONFIG[] =
	"pending_ttl: 1h\n"
	"identities:\n"
	"  - subject: alice\n"
	"    groups: [eng]\n"
	"    token_sha256: 0000000000000000000000000000000000000000000000000000000000000001\n"
	"resources:\n"
	"  - {name: orders-db, kind: generic, roles: {read: {}, write: {}}}\n"
	"  - {name: billing-api, kind: generic, roles: {read: {}, admin: {}}}\n"
	"policies:\n"
	"  - name: engineers-read\n"
	"    requesters: [group:eng]\n"
	"    resources: [orders-db]\n"
	"    roles: [read]\n"
	"    max_duration: 4h\n"
	"    approvals: 0\n"
	"  - name: prod-write\n"
	"    requesters: [group:eng]\n"
	"    resources: [\"*\"]\n"
	"    roles: [write, admin]\n"
	"    max_duration: 1h\n"
	"    approvals: 2\n"
	"    approvers: [group:sre, user:carol]\n"
	"    require_reason: true\n"
	"    ticket_pattern: \"^OPS-[0-9]+$\"\n"
	"    break_glass: {max_duration: 30m}\n"
	"  - name: billing-read\n"
	"    requesters: [group:eng]\n"
	"    resources: [billing-api]\n"
	"    roles: [read]\n"
	"    max_duration: 2h\n"
	"    approvals: 1\n"
	"    approvers: [group:eng]\n"
	"    allow_self_approval: true\n";

static struct config *cfg;

static int setup(void **state)
{
	(void)state;
	cfg = fx_config(CONFIG);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	config_free(cfg);
	return 0;
}

static struct pt_file *parse_ok(const char *text)
{
	struct pt_file *f = NULL;
	char err[512];
	int rc = ptfile_parse("t.tests.yaml", text, strlen(text), cfg, &f, err,
			      sizeof(err));

	if (rc != 0)
		print_message("unexpected error: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(f);
	return f;
}

/* The file is refused with exactly this "file:line: message" prefix. */
static void parse_fails(const char *text, const char *want)
{
	struct pt_file *f = (struct pt_file *)1;
	char err[512];
	int rc = ptfile_parse("t.tests.yaml", text, strlen(text), cfg, &f, err,
			      sizeof(err));

	assert_true(rc < 0);
	assert_null(f);
	if (strncmp(err, want, strlen(want)) != 0)
		print_message("got: %s\nwant: %s\n", err, want);
	assert_true(strncmp(err, want, strlen(want)) == 0);
}

/* One request case for alice (groups from her identity). */
static void one_case(char *buf, size_t len, const char *request,
		     const char *expect)
{
	snprintf(buf, len,
		 "cases:\n"
		 "  - name: c\n"
		 "    as: {subject: alice}\n"
		 "    request: {%s}\n"
		 "    expect: {%s}\n", request, expect);
}

static struct pt_got eval_one(const char *request, const char *expect,
			      bool *passed)
{
	struct pt_file *f;
	struct pt_got got;
	char text[1024], why[640];

	one_case(text, sizeof(text), request, expect);
	f = parse_ok(text);
	assert_int_equal(f->ncases, 1);
	assert_int_equal(pteval_case(cfg, &f->cases[0], FX_T0, &got), 0);
	*passed = pteval_check(&f->cases[0], &got, why, sizeof(why));
	if (!*passed)
		assert_true(strncmp(why, "expected ", 9) == 0);
	ptfile_free(f);
	return got;
}

static void test_request_outcomes(void **state)
{
	struct pt_got g;
	bool ok;

	(void)state;
	g = eval_one("resource: orders-db, role: read, duration: 1h",
		     "outcome: granted, policy: engineers-read", &ok);
	assert_true(ok);
	assert_int_equal(g.outcome, PT_GRANTED);
	assert_ptr_equal(g.reached, &cfg->policies[0]);

	g = eval_one("resource: orders-db, role: write, duration: 30m, reason: x, ticket: OPS-1",
		     "outcome: pending, policy: prod-write, approvals: 2", &ok);
	assert_true(ok);
	assert_int_equal(g.approvals, 2);

	g = eval_one("resource: orders-db, role: read, duration: 5h",
		     "outcome: refused, status: 400, field: duration", &ok);
	assert_true(ok);
	/* a refusal after the match still counts the policy as reached */
	assert_ptr_equal(g.reached, &cfg->policies[0]);

	g = eval_one("resource: orders-db, role: write, duration: 30m, reason: x, ticket: NOPE",
		     "outcome: refused, status: 400, field: ticket", &ok);
	assert_true(ok);

	g = eval_one("resource: orders-db, role: write, duration: 20m, reason: fire, break_glass: true",
		     "outcome: granted, policy: prod-write", &ok);
	assert_true(ok);

	g = eval_one("resource: billing-api, role: read, duration: 1h, break_glass: true, reason: x",
		     "outcome: refused, status: 403, field: break_glass", &ok);
	assert_true(ok);
}

static void test_request_mismatch_fails(void **state)
{
	struct pt_got g;
	bool ok;

	(void)state;
	g = eval_one("resource: orders-db, role: read, duration: 1h",
		     "outcome: pending", &ok);
	assert_false(ok);
	g = eval_one("resource: orders-db, role: read, duration: 1h",
		     "outcome: granted, policy: prod-write", &ok);
	assert_false(ok);
	g = eval_one("resource: orders-db, role: write, duration: 30m, reason: x, ticket: OPS-1",
		     "outcome: pending, approvals: 1", &ok);
	assert_false(ok);
	g = eval_one("resource: orders-db, role: read, duration: 5h",
		     "outcome: refused, status: 403", &ok);
	assert_false(ok);
	g = eval_one("resource: orders-db, role: read, duration: 5h",
		     "outcome: refused, field: reason", &ok);
	assert_false(ok);
	(void)g;
}

static void test_groups_from_case_or_identity(void **state)
{
	struct pt_file *f;
	struct pt_got g;

	(void)state;
	f = parse_ok("cases:\n"
		     "  - name: identity groups\n"
		     "    as: {subject: alice}\n"
		     "    request: {resource: orders-db, role: read, duration: 1h}\n"
		     "    expect: {outcome: granted}\n"
		     "  - name: case groups replace them\n"
		     "    as: {subject: alice, groups: []}\n"
		     "    request: {resource: orders-db, role: read, duration: 1h}\n"
		     "    expect: {outcome: refused, status: 403}\n"
		     "  - name: unknown subject has none\n"
		     "    as: {subject: zed}\n"
		     "    request: {resource: orders-db, role: read, duration: 1h}\n"
		     "    expect: {outcome: refused, status: 403}\n");
	assert_int_equal(f->cases[0].as.ngroups, 1);
	assert_string_equal(f->cases[0].as.groups[0], "eng");
	assert_int_equal(f->cases[1].as.ngroups, 0);
	assert_int_equal(f->cases[2].as.ngroups, 0);
	for (size_t i = 0; i < 3; i++) {
		char why[640];

		assert_int_equal(pteval_case(cfg, &f->cases[i], FX_T0, &g), 0);
		assert_true(pteval_check(&f->cases[i], &g, why, sizeof(why)));
	}
	assert_null(g.reached);
	ptfile_free(f);
}

static void test_approve_cases(void **state)
{
	static const struct {
		const char *approve, *expect;
		enum pt_outcome outcome;
		int status;
	} cases[] = {
		/* an approver by group */
		{"by: {subject: bob, groups: [sre]}, requester: {subject: alice}, "
		 "resource: orders-db, role: write", "outcome: allowed", PT_ALLOWED, 0},
		/* by name */
		{"by: {subject: carol}, requester: {subject: alice}, "
		 "resource: orders-db, role: write", "outcome: allowed", PT_ALLOWED, 0},
		/* not an approver */
		{"by: {subject: erik, groups: [eng]}, requester: {subject: alice}, "
		 "resource: orders-db, role: write", "outcome: refused, status: 403",
		 PT_REFUSED, 403},
		/* self-approval refused */
		{"by: {subject: sam, groups: [eng, sre]}, requester: {subject: sam, groups: [eng, sre]}, "
		 "resource: orders-db, role: write", "outcome: refused, status: 403",
		 PT_REFUSED, 403},
		/* self-approval allowed by the policy */
		{"by: {subject: alice}, requester: {subject: alice}, "
		 "resource: billing-api, role: read", "outcome: allowed", PT_ALLOWED, 0},
		/* a grant with no approvals is active at once: nothing pending */
		{"by: {subject: bob, groups: [sre]}, requester: {subject: alice}, "
		 "resource: orders-db, role: read", "outcome: refused, status: 403",
		 PT_REFUSED, 403},
		/* the requester cannot ask at all */
		{"by: {subject: bob, groups: [sre]}, requester: {subject: zed}, "
		 "resource: orders-db, role: write", "outcome: refused, status: 403",
		 PT_REFUSED, 403},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pt_file *f;
		struct pt_got g;
		char text[1024], why[640];

		snprintf(text, sizeof(text),
			 "cases:\n  - name: a\n    approve: {%s}\n    expect: {%s}\n",
			 cases[i].approve, cases[i].expect);
		f = parse_ok(text);
		assert_int_equal(f->cases[0].kind, PT_APPROVE);
		assert_int_equal(pteval_case(cfg, &f->cases[0], FX_T0, &g), 0);
		if (g.outcome != cases[i].outcome)
			print_message("case %zu: %s\n", i, g.message);
		assert_int_equal(g.outcome, cases[i].outcome);
		assert_int_equal(g.status, cases[i].status);
		assert_true(pteval_check(&f->cases[0], &g, why, sizeof(why)));
		ptfile_free(f);
	}
}

static void test_approve_without_approvers(void **state)
{
	struct pt_file *f;
	struct pt_got g;

	(void)state;
	/* engineers-read grants at once and names no approvers: approving
	 * such a request is refused as not an approver (403), which the core
	 * judges before the request's state (409), as in the daemon */
	f = parse_ok("cases:\n  - name: a\n    approve: {by: {subject: alice}, "
		     "requester: {subject: alice}, resource: orders-db, role: read}\n"
		     "    expect: {outcome: refused}\n");
	assert_int_equal(pteval_case(cfg, &f->cases[0], FX_T0, &g), 0);
	assert_int_equal(g.outcome, PT_REFUSED);
	assert_int_equal(g.status, 403);
	assert_non_null(strstr(g.message, "not an approver"));
	ptfile_free(f);
}

static void test_bad_files(void **state)
{
	char text[1024];

	(void)state;
	/* notices (reminders, escalation): pending cases only, typed */
	one_case(text, sizeof(text), "resource: orders-db, role: read, duration: 1h",
		 "outcome: granted, reminders: 1");
	parse_fails(text, "t.tests.yaml:5: reminders: only a pending request is reminded");
	one_case(text, sizeof(text), "resource: orders-db, role: write, duration: 1h, waited: 1h",
		 "outcome: pending, escalated: maybe");
	parse_fails(text, "t.tests.yaml:5: escalated: ");
	one_case(text, sizeof(text), "resource: orders-db, role: write, duration: 1h, waited: x",
		 "outcome: pending");
	parse_fails(text, "t.tests.yaml:4: waited: ");
	one_case(text, sizeof(text), "resource: orders-db, role: write, duration: 1h",
		 "outcome: pending, reminded: [\"\"]");
	parse_fails(text, "t.tests.yaml:5: reminded");
	parse_fails("", "t.tests.yaml:1: test file: missing required key 'cases'");
	parse_fails("cases: []\n", "t.tests.yaml:1: cases: ");
	parse_fails("cases:\n  - name: a\n    as: {subject: alice}\n"
		    "    request: {resource: orders-db, role: read, duration: 1h}\n"
		    "    expect: {outcome: granted}\n"
		    "    extra: 1\n",
		    "t.tests.yaml:6: unknown key 'extra' in case");
	one_case(text, sizeof(text), "resource: orders-db, role: read, duration: 1h",
		 "outcome: maybe");
	parse_fails(text, "t.tests.yaml:5: outcome: 'maybe' is not granted, pending or refused");
	one_case(text, sizeof(text), "resource: nope, role: read, duration: 1h",
		 "outcome: granted");
	parse_fails(text, "t.tests.yaml:4: resource: unknown resource 'nope'");
	one_case(text, sizeof(text), "resource: orders-db, role: admin, duration: 1h",
		 "outcome: granted");
	parse_fails(text, "t.tests.yaml:4: role: resource orders-db has no role 'admin'");
	one_case(text, sizeof(text), "resource: orders-db, role: read, duration: 1x",
		 "outcome: granted");
	parse_fails(text, "t.tests.yaml:4: duration: ");
	one_case(text, sizeof(text), "resource: orders-db, role: read, duration: 1h",
		 "outcome: granted, policy: no-such");
	parse_fails(text, "t.tests.yaml:5: policy: unknown policy 'no-such'");
	one_case(text, sizeof(text), "resource: orders-db, role: read, duration: 1h",
		 "outcome: granted, status: 403");
	parse_fails(text, "t.tests.yaml:5: status: only a refused outcome has a status");
	one_case(text, sizeof(text), "resource: orders-db, role: read, duration: 1h",
		 "outcome: refused, status: 500");
	parse_fails(text, "t.tests.yaml:5: status: 500 is never a policy decision");
	one_case(text, sizeof(text), "resource: orders-db, role: read, duration: 1h",
		 "outcome: granted, approvals: 2");
	parse_fails(text, "t.tests.yaml:5: approvals: only a pending outcome");
	one_case(text, sizeof(text), "resource: orders-db, role: read",
		 "outcome: granted");
	parse_fails(text, "t.tests.yaml:4: request: missing required key 'duration'");
	one_case(text, sizeof(text), "resource: orders-db, role: read, duration: 1h, break_glass: yes",
		 "outcome: granted");
	parse_fails(text, "t.tests.yaml:4: break_glass: ");
	parse_fails("cases:\n  - name: a\n    approve: {by: {subject: bob}, requester: {subject: alice}, "
		    "resource: orders-db, role: write}\n    expect: {outcome: granted}\n",
		    "t.tests.yaml:4: outcome: 'granted' is not allowed or refused");
	parse_fails("cases:\n  - name: a\n    approve: {by: {subject: bob}, requester: {subject: alice}, "
		    "resource: orders-db, role: write}\n    expect: {outcome: allowed, policy: prod-write}\n",
		    "t.tests.yaml:4: unknown key 'policy' in expect of an approve case");
	parse_fails("cases:\n  - name: a\n    as: {subject: alice}\n"
		    "    expect: {outcome: granted}\n",
		    "t.tests.yaml:2: case 'a': needs exactly one of 'request' or 'approve'");
	parse_fails("cases:\n  - name: a\n    as: {subject: alice}\n"
		    "    approve: {by: {subject: bob}, requester: {subject: alice}, "
		    "resource: orders-db, role: write}\n    expect: {outcome: allowed}\n",
		    "t.tests.yaml:3: as: an approve case names");
	parse_fails("cases:\n"
		    "  - name: same\n    as: {subject: alice}\n"
		    "    request: {resource: orders-db, role: read, duration: 1h}\n"
		    "    expect: {outcome: granted}\n"
		    "  - name: same\n    as: {subject: alice}\n"
		    "    request: {resource: orders-db, role: read, duration: 1h}\n"
		    "    expect: {outcome: granted}\n",
		    "t.tests.yaml:6: ");
	parse_fails("cases:\n  - name: a\n    as: {subject: \"al\\x01ice\"}\n"
		    "    request: {resource: orders-db, role: read, duration: 1h}\n"
		    "    expect: {outcome: granted}\n",
		    "t.tests.yaml:3: subject: ");
	parse_fails("cases: &x [1]\n", "t.tests.yaml:1: ");
	parse_fails("cases:\n  - \xff\xfe\n", "t.tests.yaml:");
}

static void test_run_coverage_and_reports(void **state)
{
	struct pt_file *f;
	struct pt_run run;
	char *text = NULL;
	size_t len = 0;
	json_t *doc;
	FILE *mem;

	(void)state;
	f = parse_ok("cases:\n"
		     "  - name: \"read <ok> & \\\"quoted\\\"\"\n"
		     "    as: {subject: alice}\n"
		     "    request: {resource: orders-db, role: read, duration: 1h}\n"
		     "    expect: {outcome: granted}\n"
		     "  - name: wrong\n"
		     "    as: {subject: alice}\n"
		     "    request: {resource: orders-db, role: write, duration: 1h, reason: x, ticket: OPS-1}\n"
		     "    expect: {outcome: granted}\n");
	assert_int_equal(ptrun_run(cfg, &f, 1, FX_T0, &run), 0);
	assert_int_equal(run.passed, 1);
	assert_int_equal(run.failed, 1);
	assert_int_equal(run.nreached, 2);
	assert_true(run.reached[0] && run.reached[1] && !run.reached[2]);

	doc = ptrun_json(&run);
	assert_non_null(doc);
	assert_int_equal(json_integer_value(json_object_get(doc, "failed")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(json_object_get(doc, "coverage"), "unreached"), 0),
		"policy")), "billing-read");
	json_decref(doc);

	mem = open_memstream(&text, &len);
	assert_non_null(mem);
	assert_int_equal(ptrun_write_junit(&run, &f, 1, true, mem), 0);
	fclose(mem);
	assert_non_null(strstr(text, "tests=\"3\" failures=\"2\""));
	assert_non_null(strstr(text, "name=\"read &lt;ok&gt; &amp; &quot;quoted&quot;\""));
	assert_non_null(strstr(text, "<failure message=\"expected granted, got pending via prod-write (2 approvals)\""));
	assert_non_null(strstr(text, "billing-read (t.yaml:"));
	free(text);
	ptrun_free(&run);
	ptfile_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_outcomes),
		cmocka_unit_test(test_request_mismatch_fails),
		cmocka_unit_test(test_groups_from_case_or_identity),
		cmocka_unit_test(test_approve_cases),
		cmocka_unit_test(test_approve_without_approvers),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_run_coverage_and_reports),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
