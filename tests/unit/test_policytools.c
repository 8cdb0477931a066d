/* The offline policy tools' evaluator paths: the access matrix agrees with
 * policy_match row for row (the core's first match), the diff classifies
 * added/removed/loosened/tightened rows, lint finds each kind of warning
 * with its line, and explain reports each policy's match parts and the
 * core's decision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core_fixture.h"
#include "core/policy.h"
#include "policytest/explain.h"
#include "policytest/lint.h"
#include "policytest/matrix.h"

#define ID(name, groups, n) \
	"  - {subject: " name ", groups: " groups ", token_sha256: " \
	"000000000000000000000000000000000000000000000000000000000000000" n "}\n"

static const char BASE[] =
	"identities:\n"
	ID("alice", "[eng]", "1")
	ID("bob", "[sre]", "2")
	ID("carol", "[sre]", "3")
	ID("dave", "[sre]", "4")
	"resources:\n"
	"  - {name: orders-db, kind: generic, roles: {read: {}, write: {}}}\n"
	"  - {name: billing-api, kind: generic, roles: {read: {}, admin: {}}}\n"
	"  - {name: prod-pay, kind: generic, roles: {read: {}}}\n"
	"policies:\n"
	"  - {name: eng-read, requesters: [group:eng], resources: [orders-db, billing-api],\n"
	"     roles: [read], max_duration: 4h, approvals: 0}\n"
	"  - {name: writes, requesters: [group:eng, user:bob], resources: [\"*\"],\n"
	"     roles: [write, admin], max_duration: 1h, approvals: 2, approvers: [group:sre],\n"
	"     break_glass: {max_duration: 30m}}\n"
	"  - {name: prod, requesters: [group:sre], resources: [\"prod-*\"], roles: [read],\n"
	"     max_duration: 2h, approvals: 1, approvers: [group:sre], allow_self_approval: true}\n";

static struct matrix *build(const struct config *cfg, char ***p, size_t *np)
{
	struct matrix *m = NULL;

	assert_int_equal(matrix_principals(cfg, p, np), 0);
	assert_int_equal(matrix_build(cfg, *p, *np, &m), 0);
	return m;
}

static void test_matrix_agrees_with_policy_match(void **state)
{
	struct config *cfg = fx_config(BASE);
	char **p = NULL;
	size_t np = 0, k = 0;
	struct matrix *m;

	(void)state;
	m = build(cfg, &p, &np);
	/* every principal × resource × role: a row exactly where the core's
	 * policy_match finds a policy, and with that policy */
	for (size_t i = 0; i < np; i++) {
		const char *group = p[i] + 6;
		struct subject s = {0};

		if (strncmp(p[i], "group:", 6) == 0) {
			s.name = "";
			s.groups = &group;
			s.ngroups = 1;
		} else {
			s.name = p[i] + 5;
			for (size_t d = 0; d < cfg->nidentities; d++)
				if (strcmp(cfg->identities[d].subject, s.name) == 0) {
					s.groups = (const char *const *)cfg->identities[d].groups;
					s.ngroups = cfg->identities[d].ngroups;
				}
		}
		for (size_t r = 0; r < cfg->nresources; r++) {
			for (size_t o = 0; o < cfg->resources[r].nroles; o++) {
				const struct policy_cfg *want = policy_match(
					cfg, &s, cfg->resources[r].name,
					cfg->resources[r].roles[o].name);

				if (want == NULL)
					continue;
				assert_true(k < m->nrows);
				assert_string_equal(m->rows[k].principal, p[i]);
				assert_string_equal(m->rows[k].resource, cfg->resources[r].name);
				assert_ptr_equal(m->rows[k].policy, want);
				k++;
			}
		}
	}
	assert_int_equal(k, m->nrows);
	/* group:eng reads two resources and writes/admins three places */
	assert_true(m->nrows > 0);
	{
		json_t *j = matrix_row_json(&m->rows[0]);

		assert_non_null(json_object_get(j, "break_glass_max_duration_s"));
		json_decref(j);
	}
	matrix_free(m);
	matrix_free_principals(p, np);
	config_free(cfg);
}

/* Replaces the first occurrence of from in BASE by to. */
static struct config *variant(const char *from, const char *to)
{
	char text[sizeof(BASE) + 512];
	const char *at = strstr(BASE, from);

	assert_non_null(at);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - BASE), BASE, to,
		 at + strlen(from));
	return fx_config(text);
}

static size_t count_kind(const struct matrix_delta *v, size_t n,
			 enum matrix_change k)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += v[i].kind == k;
	return c;
}

static void diff_of(const char *from, const char *to, size_t *counts)
{
	struct config *a = fx_config(BASE), *b = variant(from, to);
	char **p = NULL, **q = NULL;
	size_t np = 0, nq = 0, nv = 0;
	struct matrix *ma = NULL, *mb = NULL;
	struct matrix_delta *v = NULL;

	assert_int_equal(matrix_principals(a, &p, &np), 0);
	assert_int_equal(matrix_principals(b, &q, &nq), 0);
	assert_int_equal(matrix_principals_merge(&p, &np, q, nq), 0);
	assert_int_equal(matrix_build(a, p, np, &ma), 0);
	assert_int_equal(matrix_build(b, p, np, &mb), 0);
	assert_int_equal(matrix_diff(ma, mb, &v, &nv), 0);
	for (int k = 0; k < 5; k++)
		counts[k] = count_kind(v, nv, (enum matrix_change)k);
	free(v);
	matrix_free(ma);
	matrix_free(mb);
	matrix_free_principals(p, np);
	config_free(a);
	config_free(b);
}

static void test_diff_classifies(void **state)
{
	size_t c[5];

	(void)state;
	diff_of("max_duration: 4h", "max_duration: 4h", c);
	assert_int_equal(c[MX_ADDED] + c[MX_REMOVED] + c[MX_LOOSENED] +
			 c[MX_TIGHTENED] + c[MX_CHANGED], 0);
	/* group:eng and user:alice read two resources each */
	diff_of("max_duration: 4h", "max_duration: 8h", c);
	assert_int_equal(c[MX_LOOSENED], 4);
	assert_int_equal(c[MX_ADDED], 0);
	diff_of("max_duration: 4h", "max_duration: 1h", c);
	assert_int_equal(c[MX_TIGHTENED], 4);
	assert_int_equal(c[MX_LOOSENED], 0);
	/* a new requester adds rows */
	diff_of("requesters: [group:eng], resources: [orders-db",
		"requesters: [group:eng, user:carol], resources: [orders-db", c);
	assert_int_equal(c[MX_ADDED], 2);
	/* removing one takes rows away */
	diff_of("requesters: [group:eng, user:bob]", "requesters: [group:eng]", c);
	assert_true(c[MX_REMOVED] > 0);
	assert_int_equal(c[MX_ADDED] + c[MX_LOOSENED], 0);
	/* fewer approvals, self-approval, break-glass, new approvers loosen */
	diff_of("approvals: 2, approvers: [group:sre]", "approvals: 1, approvers: [group:sre]", c);
	assert_true(c[MX_LOOSENED] > 0);
	diff_of("approvals: 1, approvers: [group:sre], allow_self_approval: true",
		"approvals: 1, approvers: [group:sre, user:alice], allow_self_approval: true", c);
	assert_true(c[MX_LOOSENED] > 0);
	diff_of("max_duration: 2h, approvals: 1, approvers: [group:sre], allow_self_approval: true",
		"max_duration: 2h, approvals: 1, approvers: [group:sre], allow_self_approval: true,"
		" break_glass: {max_duration: 5m}", c);
	assert_true(c[MX_LOOSENED] > 0);
	diff_of("break_glass: {max_duration: 30m}", "break_glass: {max_duration: 40m}", c);
	assert_true(c[MX_LOOSENED] > 0);
	/* a renamed policy with the same terms is a change, not a loosening */
	diff_of("name: eng-read", "name: eng-read2", c);
	assert_int_equal(c[MX_CHANGED], 4);
	assert_int_equal(c[MX_LOOSENED] + c[MX_ADDED], 0);
}

static struct lint_warning *lint_of(const char *text, size_t *n)
{
	struct config *cfg = fx_config(text);
	struct lint_warning *w = NULL;

	assert_int_equal(lint_config(cfg, text, strlen(text), &w, n), 0);
	config_free(cfg);
	return w;
}

static bool has_warning(const struct lint_warning *w, size_t n, int line,
			const char *part)
{
	for (size_t i = 0; i < n; i++)
		if (w[i].line == line && strstr(w[i].msg, part) != NULL)
			return true;
	for (size_t i = 0; i < n; i++)
		print_message("warning at %d: %s\n", w[i].line, w[i].msg);
	return false;
}

static void test_lint(void **state)
{
	static const char text[] =
		"identities:\n"
		ID("alice", "[eng]", "1")
		ID("bob", "[sre]", "2")
		"resources:\n"
		"  - name: orders-db\n"              /* 5 */
		"    kind: generic\n"
		"    roles: {read: {}, write: {}}\n"
		"  - name: billing-api\n"            /* 8 */
		"    kind: generic\n"
		"    roles: {read: {}, admin: {}}\n"
		"  - name: unused\n"                 /* 11 */
		"    kind: generic\n"
		"    roles: {read: {}}\n"
		"policies:\n"
		"  - name: all-read\n"               /* 15 */
		"    requesters: [group:eng]\n"
		"    resources: [\"*-db\", billing-api]\n"
		"    roles: [read]\n"
		"    max_duration: 1h\n"
		"    approvals: 0\n"
		"  - name: orders-read\n"            /* 21 */
		"    requesters: [group:eng]\n"
		"    resources: [orders-db]\n"
		"    roles: [read]\n"
		"    max_duration: 4h\n"
		"    approvals: 0\n"
		"  - name: writes\n"                 /* 27 */
		"    requesters: [group:eng]\n"
		"    resources:\n"
		"      - orders-db\n"
		"      - billing-api\n"              /* 31 */
		"    roles: [write]\n"
		"    max_duration: 1h\n"
		"    approvals: 2\n"                 /* 34 */
		"    approvers: [group:sre]\n"
		"  - name: bracket\n"                /* 36 */
		"    requesters: [group:eng]\n"
		"    resources: [\"unuse[d]\"]\n"     /* 38 */
		"    roles: [read]\n"
		"    max_duration: 1h\n"
		"    approvals: 1\n"
		"    approvers: [group:sre]\n"
		"    break_glass: {max_duration: 5m}\n";
	struct lint_warning *w;
	size_t n;

	(void)state;
	w = lint_of(text, &n);
	assert_true(has_warning(w, n, 8, "no policy reaches role admin"));
	assert_true(has_warning(w, n, 21, "'orders-read' is shadowed"));
	assert_true(has_warning(w, n, 31, "resource billing-api has no role 'write'"));
	assert_true(has_warning(w, n, 34, "2 approvals needed but only 1 identities"));
	assert_true(has_warning(w, n, 38, "pattern 'unuse[d]' matches no resource"));
	assert_true(has_warning(w, n, 11, "resource unused: no policy reaches it"));
	assert_true(has_warning(w, n, 36, "covers no (resource, role)"));
	for (size_t i = 1; i < n; i++)
		assert_true(w[i - 1].line <= w[i].line);
	free(w);

	/* the same with oidc: groups can grow, so the quorum is unknowable */
	{
		char with_oidc[sizeof(text) + 128];

		snprintf(with_oidc, sizeof(with_oidc),
			 "oidc: {issuer: \"https://idp.example\", audience: jg}\n%s", text);
		w = lint_of(with_oidc, &n);
		for (size_t i = 0; i < n; i++)
			assert_null(strstr(w[i].msg, "approvals needed"));
		free(w);
	}
	/* and a clean config has none */
	w = lint_of(BASE, &n);
	for (size_t i = 0; i < n; i++)
		print_message("unexpected: %d %s\n", w[i].line, w[i].msg);
	/* BASE: orders-db write and billing-api admin reached by writes;
	 * prod-pay read by prod; everything reached, nothing shadowed */
	assert_int_equal(n, 0);
	free(w);
}

static void test_lint_selftest(void **state)
{
	char text[sizeof(BASE) + 512];
	struct lint_warning *w;
	size_t n;

	(void)state;
	/* bob may request admin on billing-api, but it needs 2 approvals */
	snprintf(text, sizeof(text), "%sselftest: {subject: bob, resource: billing-api, "
		 "role: admin}\n", BASE);
	w = lint_of(text, &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(w[0].msg, "policy 'writes' decides admin on billing-api for "
			       "bob, but the selftest needs approvals: 0"));
	free(w);
	snprintf(text, sizeof(text), "checkers: [user:zed]\n%sselftest: {subject: zed, "
		 "resource: prod-pay}\n", BASE);
	w = lint_of(text, &n);
	assert_int_equal(n, 2);
	assert_non_null(strstr(w[0].msg, "no policy lets zed request read on prod-pay"));
	assert_non_null(strstr(w[1].msg, "zed is an admin, auditor or checker"));
	free(w);
}

static char *explain_of(const struct config *cfg, const struct subject *who,
			struct create_input *in, int *outcome)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	*outcome = explain_write(cfg, who, in, FX_T0, f);
	fclose(f);
	return text;
}

static void test_explain(void **state)
{
	struct config *cfg = fx_config(BASE);
	static const char *const eng[] = {"eng"};
	struct subject alice = {"alice", eng, 1}, zed = {"zed", NULL, 0};
	struct create_input in = {.resource = "orders-db", .role = "write"};
	char *t;
	int outcome;

	(void)state;
	t = explain_of(cfg, &alice, &in, &outcome);
	assert_int_equal(outcome, 1); /* pending: writes needs no reason */
	assert_non_null(strstr(t, "1. eng-read (t.yaml:"));
	assert_non_null(strstr(t, "role:      no, not in [read]"));
	assert_non_null(strstr(t, "2. writes (t.yaml:"));
	assert_non_null(strstr(t, "MATCH"));
	assert_non_null(strstr(t, "3. prod (t.yaml:"));
	assert_non_null(strstr(t, "not consulted"));
	assert_non_null(strstr(t, "decision for 1h: pending by writes, 2 approvals needed"));
	free(t);

	in.duration_s = 2 * 3600;
	t = explain_of(cfg, &alice, &in, &outcome);
	assert_int_equal(outcome, 2);
	assert_non_null(strstr(t, "refused 400: duration: above the maximum 1h"));
	free(t);

	in.duration_s = 0;
	t = explain_of(cfg, &zed, &in, &outcome);
	assert_int_equal(outcome, 2);
	assert_non_null(strstr(t, "requester: no, not in [group:eng, user:bob]"));
	assert_non_null(strstr(t, "refused 403"));
	free(t);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix_agrees_with_policy_match),
		cmocka_unit_test(test_diff_classifies),
		cmocka_unit_test(test_lint),
		cmocka_unit_test(test_lint_selftest),
		cmocka_unit_test(test_explain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
