/* The selftest: config key (design section 11): defaults, cross-checks
 * against the resources, and file:line errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

#define RES \
	"resources:\n" \
	"  - {name: probe-api, kind: generic, roles: {probe: {}}}\n" \
	"  - {name: two-roles, kind: generic, roles: {a: {}, b: {}}}\n" \
	"  - name: probe-db\n" \
	"    kind: postgres\n" \
	"    upstream: {host: 127.0.0.1, dbname: x}\n" \
	"    roles: {ro: {user: u}}\n" \
	"  - name: db2\n" \
	"    kind: postgres\n" \
	"    upstream: {host: 127.0.0.1, dbname: x}\n" \
	"    roles: {a: {user: u}, c: {user: u}}\n"

static struct config *load(const char *text, char *err, size_t len)
{
	struct config *cfg = NULL;

	if (config_parse("t.yaml", text, strlen(text), &cfg, err, len) != 0)
		return NULL;
	return cfg;
}

static void test_defaults(void **state)
{
	char err[256];
	struct config *cfg;

	(void)state;
	cfg = load(RES "selftest: {subject: jg-selftest, resource: probe-api, "
		   "postgres_resource: probe-db}\n", err, sizeof(err));
	assert_non_null(cfg);
	assert_true(cfg->selftest.enabled);
	assert_string_equal(cfg->selftest.subject, "jg-selftest");
	assert_string_equal(cfg->selftest.role, "probe");
	assert_string_equal(cfg->selftest.postgres_resource, "probe-db");
	assert_string_equal(cfg->selftest.postgres_role, "ro");
	config_free(cfg);

	/* the role carries over to the postgres resource when it has it */
	cfg = load(RES "selftest: {subject: s, resource: two-roles, role: a, "
		   "postgres_resource: db2}\n", err, sizeof(err));
	assert_non_null(cfg);
	assert_string_equal(cfg->selftest.postgres_role, "a");
	config_free(cfg);

	cfg = load(RES, err, sizeof(err));
	assert_non_null(cfg);
	assert_false(cfg->selftest.enabled);
	config_free(cfg);
}

static void test_errors(void **state)
{
	static const struct {
		const char *selftest, *want;
	} cases[] = {
		{"selftest: {resource: probe-api}\n", "t.yaml:12: selftest: missing required key 'subject'"},
		{"selftest: {subject: s}\n", "t.yaml:12: selftest: missing required key 'resource'"},
		{"selftest: {subject: s, resource: nope}\n", "t.yaml:12: resource: unknown resource 'nope'"},
		{"selftest: {subject: s, resource: two-roles}\n", "t.yaml:12: resource: two-roles has 2 roles; say which with 'role'"},
		{"selftest: {subject: s, resource: probe-api, role: admin}\n", "t.yaml:12: role: resource probe-api has no role 'admin'"},
		{"selftest:\n  subject: s\n  resource: probe-api\n  postgres_resource: two-roles\n",
		 "t.yaml:15: postgres_resource: two-roles is not a postgres resource"},
		{"selftest: {subject: s, resource: two-roles, role: b, postgres_resource: db2}\n",
		 "t.yaml:12: postgres_resource: db2 has no role 'b' and more than one role"},
		{"selftest: {subject: s, resource: probe-api, colour: red}\n", "t.yaml:12: unknown key 'colour' in selftest"},
		{"selftest: {subject: \"a\\x01b\", resource: probe-api}\n", "t.yaml:12: subject: "},
		{"selftest: [1]\n", "t.yaml:12: selftest: expected a mapping"},
	};
	char text[2048], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", RES, cases[i].selftest);
		assert_null(load(text, err, sizeof(err)));
		if (strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			print_message("case %zu: got %s\n", i, err);
		assert_true(strncmp(err, cases[i].want, strlen(cases[i].want)) == 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
