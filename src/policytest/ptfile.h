/* Policy test files (design section 11): a YAML list of cases, each a
 * request by a subject with the outcome it should have, or an approval by
 * one subject of another's request.  Read with the config's own YAML layer
 * (config/ytree, config/cfgval), so every error names its file:line, and
 * checked against the config: a case that names a resource, role or policy
 * the config does not have is an error in the test file, not a failing
 * case. */
#ifndef JG_POLICYTEST_PTFILE_H
#define JG_POLICYTEST_PTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/err.h"

/* Largest test file read (bytes).  The YAML layer also bounds the number
 * of nodes (YTREE_NODES_MAX), which allows about 6,000 cases per file;
 * larger suites are split over several files. */
#define PTFILE_MAX (4 * 1024 * 1024)
#define PTFILE_CASES_MAX 20000
/* expect.reminded: at most this many names */
#define PT_REMINDED_MAX 32

enum pt_kind { PT_REQUEST, PT_APPROVE };

/* Request cases expect granted, pending or refused; approve cases allowed
 * or refused. */
enum pt_outcome { PT_GRANTED, PT_PENDING, PT_REFUSED, PT_ALLOWED };

/* A subject as a case names it.  groups are the case's own, or the groups
 * of the config identity of that name when the case gives none. */
struct pt_who {
	char *subject;
	char **groups;
	size_t ngroups;
};

struct pt_expect {
	enum pt_outcome outcome;
	char *policy;  /* NULL: not checked */
	int approvals; /* -1: not checked */
	int status;    /* 0: not checked (refused only) */
	char *field;   /* NULL: not checked (refused only) */
	char *rule;    /* NULL: not checked; the audited detail.rule */
	/* pending request cases, after the request has waited waited_s
	 * (design section 13, core/notices.h): reminders sent, escalated,
	 * and who a reminder then goes to (core/audience.h) */
	int reminders;  /* -1: not checked */
	int escalated;  /* -1: not checked, else 0 / 1 */
	bool has_reminded;
	char **reminded;
	size_t nreminded;
};

struct pt_case {
	char *name;
	int line;
	enum pt_kind kind;
	struct pt_who as; /* request: the requester; approve: the requester */
	struct pt_who by; /* approve: the approver */
	char *resource;
	char *role;
	int64_t duration_s; /* request */
	char *reason;       /* NULL when none */
	char *ticket;
	bool break_glass;
	/* design section 13: the clock and the approvals before this one */
	int64_t at_ms;      /* when the request is made; 0: the run's now */
	struct pt_who *after; /* approve: approvals given first, in order */
	size_t nafter;
	int64_t waited_s;   /* how long after the request: approve, or the
			       notices of a pending request case */
	struct pt_expect expect;
};

struct pt_file {
	char *path;
	struct pt_case *cases;
	size_t ncases;
};

/* Parses text (len bytes) named name against cfg.  On failure returns a
 * negative code, *out is NULL and err holds "NAME:LINE: message".  Caller
 * owns *out (ptfile_free). */
int ptfile_parse(const char *name, const char *text, size_t len,
		 const struct config *cfg, struct pt_file **out, char *err,
		 size_t errlen) JG_WUR;
/* Reads path (at most PTFILE_MAX bytes) and parses it. */
int ptfile_load(const char *path, const struct config *cfg,
		struct pt_file **out, char *err, size_t errlen) JG_WUR;
void ptfile_free(struct pt_file *f);

const char *pt_outcome_name(enum pt_outcome o);

#endif
