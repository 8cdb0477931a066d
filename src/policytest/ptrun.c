/* Running policy test files and reporting the run; see ptrun.h. */
#include "policytest/ptrun.h"

#include <stdlib.h>
#include <string.h>

#include "util/xmlout.h"

int ptrun_run(const struct config *cfg, struct pt_file *const *files,
	      size_t nfiles, int64_t now_ms, struct pt_run *out)
{
	size_t total = 0, k = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->cfg = cfg;
	for (size_t i = 0; i < nfiles; i++)
		total += files[i]->ncases;
	out->results = calloc(total ? total : 1, sizeof(*out->results));
	out->reached = calloc(cfg->npolicies ? cfg->npolicies : 1, sizeof(bool));
	if (out->results == NULL || out->reached == NULL) {
		ptrun_free(out);
		return JG_ERR_NOMEM;
	}
	for (size_t i = 0; i < nfiles; i++) {
		for (size_t j = 0; j < files[i]->ncases; j++, k++) {
			struct pt_result *r = &out->results[k];
			const struct policy_cfg *p;

			r->file = files[i];
			r->c = &files[i]->cases[j];
			rc = pteval_case(cfg, r->c, now_ms, &r->got);
			if (rc != JG_OK) {
				ptrun_free(out);
				return rc;
			}
			out->nresults++;
			r->passed = pteval_check(r->c, &r->got, r->why, sizeof(r->why));
			r->passed ? out->passed++ : out->failed++;
			p = r->got.reached;
			if (p != NULL && !out->reached[p - cfg->policies]) {
				out->reached[p - cfg->policies] = true;
				out->nreached++;
			}
		}
	}
	return JG_OK;
}

void ptrun_free(struct pt_run *run)
{
	free(run->results);
	free(run->reached);
	memset(run, 0, sizeof(*run));
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* reminders, escalated, reminded: the keys the case's expect names. */
static void notices_json(json_t *o, const struct pt_expect *e, int reminders,
			 int escalated, const char *const *names, size_t n)
{
	json_t *list;

	if (e->reminders >= 0)
		json_object_set_new(o, "reminders", json_integer(reminders));
	if (e->escalated >= 0)
		json_object_set_new(o, "escalated", json_boolean(escalated));
	if (!e->has_reminded || (list = json_array()) == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_string(names[i]));
	json_object_set_new(o, "reminded", list);
}

static json_t *expect_json(const struct pt_expect *e)
{
	json_t *o = json_pack("{s:s}", "outcome", pt_outcome_name(e->outcome));

	if (o == NULL)
		return NULL;
	if (e->policy)
		json_object_set_new(o, "policy", json_string(e->policy));
	if (e->approvals >= 0)
		json_object_set_new(o, "approvals", json_integer(e->approvals));
	if (e->status)
		json_object_set_new(o, "status", json_integer(e->status));
	if (e->field)
		json_object_set_new(o, "field", json_string(e->field));
	notices_json(o, e, e->reminders, e->escalated,
		     (const char *const *)e->reminded, e->nreminded);
	return o;
}

static json_t *got_json(const struct pt_got *g, const struct pt_expect *e)
{
	json_t *o = json_pack("{s:s, s:o}", "outcome", pt_outcome_name(g->outcome),
			      "policy", str_or_null(g->policy));

	if (o == NULL)
		return NULL;
	if (g->outcome == PT_PENDING)
		json_object_set_new(o, "approvals", json_integer(g->approvals));
	if (g->outcome == PT_REFUSED) {
		json_object_set_new(o, "status", json_integer(g->status));
		json_object_set_new(o, "field", str_or_null(g->field));
		json_object_set_new(o, "message", json_string(g->message));
	}
	if (g->outcome == PT_PENDING)
		notices_json(o, e, g->reminders, g->escalated, g->reminded, g->nreminded);
	return o;
}

json_t *ptrun_json(const struct pt_run *run)
{
	json_t *cases = json_array(), *unreached = json_array(), *doc;

	for (size_t i = 0; cases && i < run->nresults; i++) {
		const struct pt_result *r = &run->results[i];

		json_array_append_new(cases, json_pack(
			"{s:s, s:s, s:i, s:s, s:b, s:o, s:o}", "name", r->c->name,
			"file", r->file->path, "line", r->c->line, "kind",
			r->c->kind == PT_REQUEST ? "request" : "approve", "passed",
			r->passed, "expected", expect_json(&r->c->expect), "got",
			got_json(&r->got, &r->c->expect)));
	}
	for (size_t i = 0; unreached && i < run->cfg->npolicies; i++)
		if (!run->reached[i])
			json_array_append_new(unreached, json_pack(
				"{s:s, s:i}", "policy", run->cfg->policies[i].name,
				"line", run->cfg->policies[i].line));
	doc = json_pack("{s:o*, s:I, s:I, s:{s:I, s:I, s:o*}}", "cases", cases,
			"passed", (json_int_t)run->passed, "failed",
			(json_int_t)run->failed, "coverage", "policies",
			(json_int_t)run->cfg->npolicies, "reached",
			(json_int_t)run->nreached, "unreached", unreached);
	return doc;
}

static void junit_case(const struct pt_result *r, FILE *f)
{
	fputs("    <testcase name=\"", f);
	xml_put(r->c->name, f);
	fputs("\" classname=\"", f);
	xml_put(r->file->path, f);
	fprintf(f, "\" file=\"");
	xml_put(r->file->path, f);
	fprintf(f, "\" line=\"%d\"", r->c->line);
	if (r->passed) {
		fputs("/>\n", f);
		return;
	}
	fputs(">\n      <failure message=\"", f);
	xml_put(r->why, f);
	fputs("\">", f);
	xml_put(r->why, f);
	fputs("</failure>\n    </testcase>\n", f);
}

static void junit_coverage(const struct pt_run *run, FILE *f)
{
	size_t missing = run->cfg->npolicies - run->nreached;

	fprintf(f, "  <testsuite name=\"coverage\" tests=\"1\" failures=\"%d\">\n"
		"    <testcase name=\"every policy is reached\" classname=\"coverage\"",
		missing ? 1 : 0);
	if (missing == 0) {
		fputs("/>\n  </testsuite>\n", f);
		return;
	}
	fprintf(f, ">\n      <failure message=\"%zu of %zu policies reached by no case\">",
		missing, run->cfg->npolicies);
	for (size_t i = 0; i < run->cfg->npolicies; i++) {
		if (run->reached[i])
			continue;
		xml_put(run->cfg->policies[i].name, f);
		fputs(" (", f);
		xml_put(run->cfg->path, f);
		fprintf(f, ":%d)\n", run->cfg->policies[i].line);
	}
	fputs("</failure>\n    </testcase>\n  </testsuite>\n", f);
}

int ptrun_write_junit(const struct pt_run *run, struct pt_file *const *files,
		      size_t nfiles, bool require_coverage, FILE *f)
{
	size_t k = 0, cov_fail = require_coverage &&
		run->nreached < run->cfg->npolicies;

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"jitgate policy test\" tests=\"%zu\" failures=\"%zu\">\n",
		run->nresults + (require_coverage ? 1 : 0), run->failed + cov_fail);
	for (size_t i = 0; i < nfiles; i++) {
		size_t failures = 0;

		for (size_t j = 0; j < files[i]->ncases; j++)
			failures += !run->results[k + j].passed;
		fputs("  <testsuite name=\"", f);
		xml_put(files[i]->path, f);
		fprintf(f, "\" tests=\"%zu\" failures=\"%zu\">\n", files[i]->ncases,
			failures);
		for (size_t j = 0; j < files[i]->ncases; j++, k++)
			junit_case(&run->results[k], f);
		fputs("  </testsuite>\n", f);
	}
	if (require_coverage)
		junit_coverage(run, f);
	fputs("</testsuites>\n", f);
	return fflush(f) == 0 && !ferror(f) ? JG_OK : JG_ERR_IO;
}
