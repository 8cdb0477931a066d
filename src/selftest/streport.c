/* The selftest report; see streport.h. */
#include "selftest/streport.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/vec.h"
#include "util/xmlout.h"

static const char *const area_names[ST_AREAS] = {
	[ST_BOUNDARIES] = "boundaries", [ST_AUDIT] = "audit",
	[ST_TIMEOUT] = "timeout", [ST_INTEGRATION] = "integration",
	[ST_FAILSAFE] = "fail-safe",
};

static const char *const latency_names[STL_COUNT] = {
	[STL_DENY_AFTER_REVOKE] = "deny_after_revoke",
	[STL_CUT_AFTER_REVOKE] = "session_cut_after_revoke",
	[STL_EXPIRY_CHECK] = "expiry_check_late",
	[STL_EXPIRY_EVENT] = "expiry_event_late",
	[STL_EXPIRY_CUT] = "expiry_session_cut_late",
};

static const char *const latency_text[STL_COUNT] = {
	[STL_DENY_AFTER_REVOKE] = "deny after revoke",
	[STL_CUT_AFTER_REVOKE] = "session cut after revoke",
	[STL_EXPIRY_CHECK] = "expiry lateness (check)",
	[STL_EXPIRY_EVENT] = "expiry lateness (request.expired)",
	[STL_EXPIRY_CUT] = "expiry lateness (session cut)",
};

const char *st_area_name(enum st_area a)
{
	return area_names[a];
}

void st_report_init(struct st_report *r)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < STL_COUNT; i++)
		r->latency_us[i] = -1;
}

void st_report_free(struct st_report *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

void st_add(struct st_report *r, enum st_area area, enum st_result res,
	    const char *name, const char *detail_fmt, ...)
{
	struct st_check *c;
	va_list ap;

	if (r->n == r->cap) {
		struct st_check *nv = vec_grow(r->v, &r->cap, sizeof(*nv), 32);

		if (nv == NULL) {
			r->nomem = true;
			return;
		}
		r->v = nv;
	}
	c = &r->v[r->n++];
	c->area = area;
	c->result = res;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->detail[0] = '\0';
	if (detail_fmt != NULL) {
		va_start(ap, detail_fmt);
		vsnprintf(c->detail, sizeof(c->detail), detail_fmt, ap);
		va_end(ap);
	}
}

size_t st_count(const struct st_report *r, enum st_result res)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->v[i].result == res;
	return n;
}

/* Text that came from the server or the IdP: control characters shown as
 * '?', so a hostile answer cannot drive the terminal. */
static void put_clean(const char *s, FILE *f)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static void put_ms(int64_t us, FILE *f)
{
	fprintf(f, "%lld.%03lld ms", (long long)(us / 1000), (long long)(us % 1000));
}

void st_print(const struct st_report *r, FILE *f)
{
	static const char *const words[] = {"PASS", "FAIL", "skip"};
	bool any = false;

	for (int a = 0; a < ST_AREAS; a++) {
		for (size_t i = 0; i < r->n; i++) {
			const struct st_check *c = &r->v[i];

			if ((int)c->area != a)
				continue;
			fprintf(f, "%-4s  %-11s  %s", words[c->result], area_names[a], c->name);
			if (c->detail[0]) {
				fputs(": ", f);
				put_clean(c->detail, f);
			}
			fputc('\n', f);
		}
	}
	fputs("latencies:", f);
	for (int i = 0; i < STL_COUNT; i++) {
		if (r->latency_us[i] < 0)
			continue;
		fprintf(f, "%s %s ", any ? ";" : "", latency_text[i]);
		put_ms(r->latency_us[i], f);
		any = true;
	}
	fputs(any ? "\n" : " none measured\n", f);
	fprintf(f, "%zu passed, %zu failed\n", st_count(r, ST_PASS), st_count(r, ST_FAIL));
}

json_t *st_json(const struct st_report *r)
{
	static const char *const words[] = {"pass", "fail", "skip"};
	json_t *checks = json_array(), *lat = json_object();

	for (size_t i = 0; checks && i < r->n; i++)
		json_array_append_new(checks, json_pack(
			"{s:s, s:s, s:s, s:s}", "area", area_names[r->v[i].area],
			"name", r->v[i].name, "result", words[r->v[i].result],
			"detail", r->v[i].detail));
	for (int i = 0; lat && i < STL_COUNT; i++)
		json_object_set_new(lat, latency_names[i], r->latency_us[i] < 0 ? json_null()
				    : json_real((double)r->latency_us[i] / 1000.0));
	return json_pack("{s:o*, s:o*, s:I, s:I, s:I}", "checks", checks,
			 "latencies_ms", lat, "passed", (json_int_t)st_count(r, ST_PASS),
			 "failed", (json_int_t)st_count(r, ST_FAIL), "skipped",
			 (json_int_t)st_count(r, ST_SKIP));
}

int st_write_junit(const struct st_report *r, FILE *f)
{
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"jitgate selftest\" tests=\"%zu\" failures=\"%zu\" "
		"skipped=\"%zu\">\n", r->n, st_count(r, ST_FAIL), st_count(r, ST_SKIP));
	for (int a = 0; a < ST_AREAS; a++) {
		fprintf(f, "  <testsuite name=\"%s\">\n", area_names[a]);
		for (size_t i = 0; i < r->n; i++) {
			const struct st_check *c = &r->v[i];

			if ((int)c->area != a)
				continue;
			fprintf(f, "    <testcase classname=\"%s\" name=\"", area_names[a]);
			xml_put(c->name, f);
			fputs("\">", f);
			if (c->result == ST_FAIL) {
				fputs("<failure message=\"", f);
				xml_put(c->detail, f);
				fputs("\"/>", f);
			} else if (c->result == ST_SKIP) {
				fputs("<skipped message=\"", f);
				xml_put(c->detail, f);
				fputs("\"/>", f);
			} else if (c->detail[0]) {
				fputs("<system-out>", f);
				xml_put(c->detail, f);
				fputs("</system-out>", f);
			}
			fputs("</testcase>\n", f);
		}
		fputs("  </testsuite>\n", f);
	}
	fputs("</testsuites>\n", f);
	return fflush(f) == 0 && !ferror(f) ? JG_OK : JG_ERR_IO;
}
