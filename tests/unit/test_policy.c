/* Policy evaluation: glob matching (also on hostile patterns), first match
 * in file order, deny by default, requesters by user: and group:, role
 * lists, and the approver/admin/auditor/checker predicates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/policy.h"
#include "core_fixture.h"

FX_SUBJECT(alice, "alice", "eng", NULL);
FX_SUBJECT(bob, "bob", "eng", "sre", NULL);
FX_SUBJECT(carol, "carol", NULL);
FX_SUBJECT(zed, "zed", "contractors", NULL);
FX_SUBJECT(mallory, "mallory", "Eng", "engineering", "eng ", NULL);
FX_SUBJECT(sec, "sec", "security", NULL);
FX_SUBJECT(root_admin, "root", NULL);
FX_SUBJECT(aud, "aud", "audit", NULL);
FX_SUBJECT(billing, "billing-svc", NULL);
/* a user named like a group is still only that user */
FX_SUBJECT(grp_named, "sre", NULL);

static const char CONFIG[] =
	"admins: [group:security, user:root]\n"
	"auditors: [group:audit]\n"
	"checkers: [user:billing-svc, group:checkers]\n"
	"resources:\n"
	"  - {name: orders-db, kind: generic, roles: {read: {}, write: {}, admin: {}}}\n"
	"  - {name: prod-db, kind: generic, roles: {read: {}, write: {}, admin: {}}}\n"
	"  - {name: prod-api, kind: generic, roles: {read: {}, admin: {}}}\n"
	"policies:\n"
	"  - name: eng-read\n"
	"    requesters: [group:eng]\n"
	"    resources: [orders-db]\n"
	"    roles: [read]\n"
	"    max_duration: 4h\n"
	"    approvals: 0\n"
	"  - name: prod-write\n"
	"    requesters: [group:eng, user:zed]\n"
	"    resources: [\"prod-*\"]\n"
	"    roles: [write, admin]\n"
	"    max_duration: 1h\n"
	"    approvals: 1\n"
	"    approvers: [group:sre, user:carol]\n"
	"  - name: catchall\n"
	"    requesters: [group:eng]\n"
	"    resources: [\"*\"]\n"
	"    roles: [read, write]\n"
	"    max_duration: 30m\n"
	"    approvals: 1\n"
	"    approvers: [user:carol]\n";

static int setup(void **state)
{
	*state = fx_config(CONFIG);
	return 0;
}

static int teardown(void **state)
{
	config_free(*state);
	return 0;
}

static void test_glob_literal_and_wildcards(void **state)
{
	(void)state;
	assert_true(policy_glob_match("orders-db", "orders-db"));
	assert_false(policy_glob_match("orders-db", "orders-dbx"));
	assert_false(policy_glob_match("orders-db", "orders-d"));
	assert_false(policy_glob_match("orders-db", "Orders-db"));
	assert_true(policy_glob_match("*", "anything"));
	assert_true(policy_glob_match("*", ""));
	assert_true(policy_glob_match("", ""));
	assert_false(policy_glob_match("", "x"));
	assert_true(policy_glob_match("prod-*", "prod-"));
	assert_true(policy_glob_match("prod-*", "prod-db"));
	assert_false(policy_glob_match("prod-*", "staging-prod-db"));
	assert_true(policy_glob_match("*-db", "prod-db"));
	assert_false(policy_glob_match("*-db", "prod-dbx"));
	assert_true(policy_glob_match("a*b*c", "abc"));
	assert_true(policy_glob_match("a*b*c", "axxbyyc"));
	assert_true(policy_glob_match("a*b*c", "abcbc"));
	assert_false(policy_glob_match("a*b*c", "axxbyy"));
	assert_false(policy_glob_match("a*b*c", "xabc"));
	assert_true(policy_glob_match("db-?", "db-1"));
	assert_false(policy_glob_match("db-?", "db-"));
	assert_false(policy_glob_match("db-?", "db-12"));
	assert_true(policy_glob_match("??", "ab"));
	assert_true(policy_glob_match("*?", "a"));
	assert_false(policy_glob_match("*?", ""));
	assert_true(policy_glob_match("**", ""));
	assert_true(policy_glob_match("a**b", "ab"));
	/* a star must be able to give back what it swallowed */
	assert_true(policy_glob_match("*ab", "aab"));
	assert_true(policy_glob_match("*aab", "aaab"));
	assert_true(policy_glob_match("*a?c*", "xxabcabd"));
}

/* A backtracking matcher takes exponential time on "*a*a*a...b" against
 * "aaaa...".  The test passes by finishing (ctest's timeout catches a
 * hang); there is deliberately no timing assertion. */
static void test_glob_hostile_patterns_finish(void **state)
{
	char pattern[256], name[8192], pattern2[256];
	size_t i;

	(void)state;
	for (i = 0; i < 200; i += 2) {
		pattern[i] = '*';
		pattern[i + 1] = 'a';
	}
	pattern[200] = '\0';
	memset(name, 'a', sizeof(name) - 2);
	name[sizeof(name) - 2] = 'b'; /* never ends in 'a': no match */
	name[sizeof(name) - 1] = '\0';
	assert_false(policy_glob_match(pattern, name));
	/* the same pattern with one more 'a' than it needs does match */
	name[sizeof(name) - 2] = 'a';
	assert_true(policy_glob_match(pattern, name));

	/* stars and '?' mixed, ending in a character the name lacks */
	for (i = 0; i < 198; i += 3) {
		pattern2[i] = '*';
		pattern2[i + 1] = '?';
		pattern2[i + 2] = 'a';
	}
	pattern2[198] = 'z';
	pattern2[199] = '\0';
	memset(name, 'a', sizeof(name) - 1);
	assert_false(policy_glob_match(pattern2, name));

	/* only stars: matches everything */
	memset(pattern, '*', 200);
	pattern[200] = '\0';
	assert_true(policy_glob_match(pattern, name));
	assert_true(policy_glob_match(pattern, ""));
}

static void test_first_match_in_file_order(void **state)
{
	const struct config *cfg = *state;
	const struct policy_cfg *p;

	/* orders-db/read matches eng-read and catchall: the first decides */
	p = policy_match(cfg, &alice, "orders-db", "read");
	assert_non_null(p);
	assert_string_equal(p->name, "eng-read");
	assert_int_equal(p->approvals, 0);
	/* orders-db/write only matches catchall */
	p = policy_match(cfg, &alice, "orders-db", "write");
	assert_non_null(p);
	assert_string_equal(p->name, "catchall");
	/* prod-db/write matches prod-write and catchall */
	p = policy_match(cfg, &alice, "prod-db", "write");
	assert_non_null(p);
	assert_string_equal(p->name, "prod-write");
	/* prod-db/read matches only catchall (prod-write has no read role) */
	p = policy_match(cfg, &alice, "prod-db", "read");
	assert_non_null(p);
	assert_string_equal(p->name, "catchall");
}

/* The same policies in the other order: now the broad one always wins,
 * which shows the order of the file, not specificity, decides. */
static void test_first_match_broad_first(void **state)
{
	struct config *cfg;
	const struct policy_cfg *p;

	(void)state;
	cfg = fx_config(
		"resources:\n"
		"  - {name: orders-db, kind: generic, roles: {read: {}}}\n"
		"policies:\n"
		"  - name: broad\n"
		"    requesters: [group:eng]\n"
		"    resources: [\"*\"]\n"
		"    roles: [read]\n"
		"    max_duration: 1h\n"
		"    approvals: 1\n"
		"    approvers: [user:carol]\n"
		"  - name: narrow\n"
		"    requesters: [user:alice]\n"
		"    resources: [orders-db]\n"
		"    roles: [read]\n"
		"    max_duration: 4h\n"
		"    approvals: 0\n");
	p = policy_match(cfg, &alice, "orders-db", "read");
	assert_non_null(p);
	assert_string_equal(p->name, "broad");
	config_free(cfg);
}

static void test_deny_by_default(void **state)
{
	const struct config *cfg = *state;

	/* no policy has admin on orders-db */
	assert_null(policy_match(cfg, &alice, "orders-db", "admin"));
	/* a glob matches names the config lacks: refusing unknown resources
	 * is the job of core_request_create (rule 8, test_request.c) */
	assert_non_null(policy_match(cfg, &alice, "nosuch", "read"));
	assert_null(policy_match(cfg, &alice, "nosuch", "admin"));
	assert_null(policy_match(cfg, &alice, "orders-db", "nosuch"));
	assert_null(policy_match(cfg, &alice, "orders-db", ""));
	/* carol is an approver, never a requester */
	assert_null(policy_match(cfg, &carol, "orders-db", "read"));
	/* group names are exact: "Eng", "engineering", "eng " are not "eng" */
	assert_null(policy_match(cfg, &mallory, "orders-db", "read"));
	assert_null(policy_match(cfg, &mallory, "prod-db", "write"));
	/* a subject named like a group is not in it */
	assert_null(policy_match(cfg, &grp_named, "prod-db", "write"));
	/* role lists are exact too */
	assert_null(policy_match(cfg, &alice, "orders-db", "rea"));
	assert_null(policy_match(cfg, &alice, "orders-db", "read "));
	/* and with no policies at all, nothing is allowed */
	{
		struct config *empty = fx_config(
			"resources:\n"
			"  - {name: orders-db, kind: generic, roles: {read: {}}}\n");

		assert_null(policy_match(empty, &alice, "orders-db", "read"));
		config_free(empty);
	}
}

static void test_requesters_by_user_and_group(void **state)
{
	const struct config *cfg = *state;
	const struct policy_cfg *p;

	/* zed is named as user:zed in prod-write, and in no group */
	p = policy_match(cfg, &zed, "prod-db", "admin");
	assert_non_null(p);
	assert_string_equal(p->name, "prod-write");
	p = policy_match(cfg, &zed, "prod-api", "admin");
	assert_non_null(p);
	assert_string_equal(p->name, "prod-write");
	assert_null(policy_match(cfg, &zed, "orders-db", "read"));
	assert_null(policy_match(cfg, &zed, "prod-db", "read"));
	/* bob is in eng (and sre): the group grants him the request */
	p = policy_match(cfg, &bob, "prod-api", "admin");
	assert_non_null(p);
	assert_string_equal(p->name, "prod-write");
}

static void test_approver_predicate(void **state)
{
	const struct config *cfg = *state;
	const struct policy_cfg *pw = config_policy(cfg, "prod-write");
	const struct policy_cfg *ca = config_policy(cfg, "catchall");
	const struct policy_cfg *er = config_policy(cfg, "eng-read");

	assert_non_null(pw);
	assert_non_null(ca);
	assert_non_null(er);
	assert_true(policy_is_approver(pw, &bob));    /* group:sre */
	assert_true(policy_is_approver(pw, &carol));  /* user:carol */
	assert_false(policy_is_approver(pw, &alice)); /* requester only */
	assert_false(policy_is_approver(pw, &grp_named));
	assert_false(policy_is_approver(pw, &sec)); /* admin is not approver */
	assert_true(policy_is_approver(ca, &carol));
	assert_false(policy_is_approver(ca, &bob));
	assert_false(policy_is_approver(er, &carol)); /* no approvers at all */
	/* a policy removed by a reload has no approvers */
	assert_false(policy_is_approver(NULL, &carol));
}

static void test_admin_auditor_checker(void **state)
{
	const struct config *cfg = *state;
	FX_SUBJECT(chk, "some-svc", "checkers", NULL);

	assert_true(policy_is_admin(cfg, &sec));
	assert_true(policy_is_admin(cfg, &root_admin));
	assert_false(policy_is_admin(cfg, &aud));
	assert_false(policy_is_admin(cfg, &alice));
	assert_false(policy_is_admin(cfg, &billing));

	/* admins may read the audit log too (design section 3) */
	assert_true(policy_is_auditor(cfg, &aud));
	assert_true(policy_is_auditor(cfg, &sec));
	assert_true(policy_is_auditor(cfg, &root_admin));
	assert_false(policy_is_auditor(cfg, &alice));
	assert_false(policy_is_auditor(cfg, &billing));

	assert_true(policy_is_checker(cfg, &billing));
	assert_true(policy_is_checker(cfg, &chk));
	assert_false(policy_is_checker(cfg, &sec)); /* admin is not a checker */
	assert_false(policy_is_checker(cfg, &aud));
	assert_false(policy_is_checker(cfg, &alice));
}

static void test_empty_principal_lists(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = fx_config("resources:\n"
			"  - {name: orders-db, kind: generic, roles: {read: {}}}\n");
	assert_false(policy_is_admin(cfg, &sec));
	assert_false(policy_is_auditor(cfg, &aud));
	assert_false(policy_is_checker(cfg, &billing));
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob_literal_and_wildcards),
		cmocka_unit_test(test_glob_hostile_patterns_finish),
		cmocka_unit_test_setup_teardown(test_first_match_in_file_order,
						setup, teardown),
		cmocka_unit_test(test_first_match_broad_first),
		cmocka_unit_test_setup_teardown(test_deny_by_default, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_requesters_by_user_and_group,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_approver_predicate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_admin_auditor_checker,
						setup, teardown),
		cmocka_unit_test(test_empty_principal_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
