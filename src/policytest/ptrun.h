/* Running a set of policy test files against one config, and the reports
 * of the run: coverage (policies no case reached), JSON and JUnit XML. */
#ifndef JG_POLICYTEST_PTRUN_H
#define JG_POLICYTEST_PTRUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "policytest/pteval.h"

struct pt_result {
	const struct pt_file *file;
	const struct pt_case *c;
	struct pt_got got;
	bool passed;
	char why[640]; /* failed: expected … got … */
};

struct pt_run {
	const struct config *cfg;
	struct pt_result *results;
	size_t nresults;
	size_t passed, failed;
	bool *reached; /* per policy of cfg, in file order */
	size_t nreached;
};

/* Evaluates every case of files[0..nfiles) at now_ms.  The run borrows cfg
 * and the files, which must outlive it.  0 or JG_ERR_NOMEM. */
int ptrun_run(const struct config *cfg, struct pt_file *const *files,
	      size_t nfiles, int64_t now_ms, struct pt_run *out) JG_WUR;
void ptrun_free(struct pt_run *run);

/* {cases: [{name, file, line, passed, expected, got}], passed, failed,
 * coverage: {policies, reached, unreached: [{policy, line}]}}.  New
 * reference, NULL on no memory. */
json_t *ptrun_json(const struct pt_run *run);

/* JUnit XML: one testsuite per file, one testcase per case; with
 * require_coverage one more testcase that fails when a policy was not
 * reached.  0 or JG_ERR_IO. */
int ptrun_write_junit(const struct pt_run *run, struct pt_file *const *files,
		      size_t nfiles, bool require_coverage, FILE *f) JG_WUR;

#endif
