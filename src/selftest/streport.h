/* The report of `jitgate selftest`: one line per check, grouped by the
 * five QA areas of design section 11, the latencies it measured, and the
 * same as JSON or JUnit XML. */
#ifndef JG_SELFTEST_STREPORT_H
#define JG_SELFTEST_STREPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"

enum st_area {
	ST_BOUNDARIES, ST_AUDIT, ST_TIMEOUT, ST_INTEGRATION, ST_FAILSAFE,
	ST_AREAS
};

enum st_result { ST_PASS, ST_FAIL, ST_SKIP };

struct st_check {
	enum st_area area;
	enum st_result result;
	char name[128];
	char detail[512];
};

/* Latencies in microseconds; -1 when not measured. */
enum st_latency {
	STL_DENY_AFTER_REVOKE,   /* revoke sent → a check answered "denied" */
	STL_CUT_AFTER_REVOKE,    /* revoke sent → the gateway session got FATAL */
	STL_EXPIRY_CHECK,        /* expires_at → first denied check */
	STL_EXPIRY_EVENT,        /* expires_at → request.expired written */
	STL_EXPIRY_CUT,          /* expires_at → the gateway session got FATAL */
	STL_COUNT
};

struct st_report {
	struct st_check *v;
	size_t n, cap;
	int64_t latency_us[STL_COUNT];
	bool nomem;
};

void st_report_init(struct st_report *r);
void st_report_free(struct st_report *r);
/* Adds a check; detail may be NULL. */
void st_add(struct st_report *r, enum st_area area, enum st_result res,
	    const char *name, const char *detail_fmt, ...) JG_PRINTF(5, 6);
size_t st_count(const struct st_report *r, enum st_result res);

const char *st_area_name(enum st_area a);
void st_print(const struct st_report *r, FILE *f);
json_t *st_json(const struct st_report *r);
int st_write_junit(const struct st_report *r, FILE *f) JG_WUR;

#endif
