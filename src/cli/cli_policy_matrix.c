/* jitgate policy matrix and policy diff: who can reach what, and what a
 * config change does to that (design section 11). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_api.h"
#include "cli/cli_format.h"
#include "cli/cli_policy.h"
#include "policytest/matrix.h"
#include "util/duration.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))

static const char *const matrix_headers[] = {
	"PRINCIPAL", "RESOURCE", "ROLE", "ACCESS", "MAX", "BREAK-GLASS", "POLICY",
};

static int table_row(struct cli_table *t, const struct matrix_row *r,
		     const char *mark)
{
	char access[512], max[32], bg[32], principal[SUBJECT_NAME_MAX + 16];
	const char *cells[8];
	size_t k = 0;

	matrix_access_text(r, access, sizeof(access));
	duration_format(r->policy->max_duration_s, max, sizeof(max));
	if (r->policy->break_glass)
		duration_format(r->policy->break_glass_max_s, bg, sizeof(bg));
	else
		snprintf(bg, sizeof(bg), "-");
	snprintf(principal, sizeof(principal), "%s%s", mark ? mark : "", r->principal);
	cells[k++] = principal;
	cells[k++] = r->resource;
	cells[k++] = r->role;
	cells[k++] = access;
	cells[k++] = max;
	cells[k++] = bg;
	cells[k++] = r->policy->name;
	return cli_table_add(t, cells);
}

/* The principals of one config, or of two merged (diff). */
static int principals_of(const struct config *a, const struct config *b,
			 char ***v, size_t *n)
{
	char **more = NULL;
	size_t nmore = 0;
	int rc = matrix_principals(a, v, n);

	if (rc != JG_OK || b == NULL)
		return rc;
	if ((rc = matrix_principals(b, &more, &nmore)) != JG_OK)
		return rc;
	return matrix_principals_merge(v, n, more, nmore);
}

int cli_policy_matrix(int argc, char **argv)
{
	static const char usage[] = "policy matrix -c CONFIG [--json]";
	static const struct cli_opt opts[] = {{"-c", true}, {"--config", true}};
	struct config *cfg = NULL;
	struct matrix *m = NULL;
	struct cli_table *t = NULL;
	char **principals = NULL;
	size_t np = 0;
	struct cli_args a;
	int rc;

	rc = cli_api_parse(argc, argv, opts, NOPTS(opts), 0, 0, usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_policy_load(cli_policy_config_opt(&a), &cfg)) != CLI_EXIT_OK)
		return rc;
	rc = CLI_EXIT_SERVER;
	if (principals_of(cfg, NULL, &principals, &np) != JG_OK ||
	    matrix_build(cfg, principals, np, &m) != JG_OK)
		goto out;
	if (a.json) {
		/* streamed row by row: a large config has 100,000s of rows */
		fputs("{\n  \"rows\": [", stdout);
		for (size_t i = 0; i < m->nrows; i++) {
			json_t *row = matrix_row_json(&m->rows[i]);

			if (row == NULL)
				goto out;
			fputs(i ? ",\n    " : "\n    ", stdout);
			json_dumpf(row, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
			json_decref(row);
		}
		fputs(m->nrows ? "\n  ]\n}\n" : "]\n}\n", stdout);
	} else {
		t = cli_table_new(NOPTS(matrix_headers), matrix_headers);
		if (t == NULL)
			goto out;
		for (size_t i = 0; i < m->nrows; i++)
			if (table_row(t, &m->rows[i], NULL) != JG_OK)
				goto out;
		cli_table_print(t, stdout);
		printf("%zu rows: %zu principals, %zu resources, %zu policies\n",
		       m->nrows, np, cfg->nresources, cfg->npolicies);
	}
	rc = CLI_EXIT_OK;
out:
	if (rc != CLI_EXIT_OK)
		fputs("jitgate: out of memory\n", stderr);
	cli_table_free(t);
	matrix_free(m);
	matrix_free_principals(principals, np);
	config_free(cfg);
	return rc;
}

static json_t *delta_json(const struct matrix_delta *d)
{
	json_t *o = json_pack("{s:s, s:o*, s:o*}", "change",
			      matrix_change_name(d->kind), "before",
			      d->before ? matrix_row_json(d->before) : json_null(),
			      "after", d->after ? matrix_row_json(d->after) : json_null());

	if (o != NULL && d->what[0])
		json_object_set_new(o, "what", json_string(d->what));
	return o;
}

static json_t *diff_json(const struct matrix_delta *v, size_t n, const size_t *count)
{
	json_t *doc = json_object(), *lists[5];

	for (int k = 0; k < 5; k++) {
		lists[k] = json_array();
		json_object_set_new(doc, matrix_change_name((enum matrix_change)k),
				    lists[k]);
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(lists[v[i].kind], delta_json(&v[i]));
	json_object_set_new(doc, "adds_or_loosens",
			    json_boolean(count[MX_ADDED] + count[MX_LOOSENED] > 0));
	return doc;
}

/* Added and removed rows as matrix tables; changed rows as one line each
 * with what changed. */
static void diff_human(const struct matrix_delta *v, size_t n, const size_t *count)
{
	static const char *const marks[] = {
		[MX_ADDED] = "+ ", [MX_REMOVED] = "- ",
	};

	for (int k = 0; k < 5; k++) {
		struct cli_table *t = NULL;

		if (count[k] == 0)
			continue;
		printf("%s (%zu):\n", matrix_change_name((enum matrix_change)k), count[k]);
		if (k == MX_ADDED || k == MX_REMOVED)
			t = cli_table_new(NOPTS(matrix_headers), matrix_headers);
		for (size_t i = 0; i < n; i++) {
			const struct matrix_delta *d = &v[i];

			if ((int)d->kind != k)
				continue;
			if (t != NULL) {
				if (table_row(t, d->after ? d->after : d->before,
					      marks[k]) != JG_OK)
					break;
				continue;
			}
			printf("~ %s  %s  %s  ", d->after->principal, d->after->resource,
			       d->after->role);
			cli_format_put(d->what, stdout);
			putchar('\n');
		}
		if (t != NULL)
			cli_table_print(t, stdout);
		cli_table_free(t);
	}
	printf("%zu added, %zu removed, %zu loosened, %zu tightened, %zu changed\n",
	       count[MX_ADDED], count[MX_REMOVED], count[MX_LOOSENED],
	       count[MX_TIGHTENED], count[MX_CHANGED]);
}

int cli_policy_diff(int argc, char **argv)
{
	static const char usage[] = "policy diff OLD NEW [--json]";
	struct config *old = NULL, *new_ = NULL;
	struct matrix *mo = NULL, *mn = NULL;
	struct matrix_delta *v = NULL;
	size_t nv = 0, np = 0, count[5] = {0};
	char **principals = NULL;
	struct cli_args a;
	int rc;

	rc = cli_api_parse(argc, argv, NULL, 0, 2, 2, usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_policy_load(a.pos[0], &old)) != CLI_EXIT_OK ||
	    (rc = cli_policy_load(a.pos[1], &new_)) != CLI_EXIT_OK)
		goto out;
	rc = CLI_EXIT_SERVER;
	if (principals_of(old, new_, &principals, &np) != JG_OK ||
	    matrix_build(old, principals, np, &mo) != JG_OK ||
	    matrix_build(new_, principals, np, &mn) != JG_OK ||
	    matrix_diff(mo, mn, &v, &nv) != JG_OK) {
		fputs("jitgate: out of memory\n", stderr);
		goto out;
	}
	for (size_t i = 0; i < nv; i++)
		count[v[i].kind]++;
	if (a.json) {
		json_t *doc = diff_json(v, nv, count);

		if (doc == NULL)
			goto out;
		cli_api_print_json(doc, stdout);
		json_decref(doc);
	} else {
		diff_human(v, nv, count);
	}
	/* the review gate: anything that adds or loosens access needs eyes */
	rc = count[MX_ADDED] + count[MX_LOOSENED] > 0 ? CLI_EXIT_FALSE : CLI_EXIT_OK;
out:
	free(v);
	matrix_free(mo);
	matrix_free(mn);
	matrix_free_principals(principals, np);
	config_free(old);
	config_free(new_);
	return rc;
}
