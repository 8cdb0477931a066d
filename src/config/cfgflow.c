#include "config/cfgflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgrules.h"
#include "util/fileio.h"
#include "util/timeutil.h"
#include "util/tzrule.h"

#define MAX_STAGE_APPROVALS 16

static int dup_principals(const struct principal_list *src,
			  struct principal_list *dst)
{
	struct principal *v = realloc(dst->v, (dst->n + src->n + 1) * sizeof(*v));

	if (v == NULL)
		return JG_ERR_NOMEM;
	dst->v = v;
	for (size_t i = 0; i < src->n; i++) {
		v[dst->n].kind = src->v[i].kind;
		v[dst->n].name = strdup(src->v[i].name);
		if (v[dst->n].name == NULL)
			return JG_ERR_NOMEM;
		dst->n++;
	}
	return JG_OK;
}

static int read_stage(struct cfgval_ctx *c, const struct ytree *m,
		      struct stage_cfg *st)
{
	static const char *const keys[] = {"approvals", "approvers", NULL};
	const struct ytree *v[2];
	int64_t n = 0;
	int rc;

	st->line = m->line;
	if ((rc = cfgval_fields(c, m, "stage", keys, v)) < 0)
		return rc;
	if (v[0] == NULL)
		return cfgval_missing(c, m, "stage", "approvals");
	if (v[1] == NULL)
		return cfgval_missing(c, m, "stage", "approvers");
	if ((rc = cfgval_int(c, v[0], "approvals", 1, MAX_STAGE_APPROVALS, &n)) < 0)
		return rc;
	st->approvals = (int)n;
	if ((rc = cfgval_principals(c, v[1], "approvers", false, &st->approvers)) < 0)
		return rc;
	return cfgrules_check_reachable(c, v[0]->line, st->approvals,
					&st->approvers);
}

static int read_stages(struct cfgval_ctx *c, const struct ytree *v,
		       const struct ytree *approvals_v,
		       const struct ytree *approvers_v, struct policy_cfg *p)
{
	int total = 0;
	int rc;

	if (approvals_v != NULL || approvers_v != NULL)
		return cfgval_err(c, (approvals_v ? approvals_v : approvers_v)->line,
				  "%s: a policy has either 'stages' or "
				  "'approvals'/'approvers', not both",
				  approvals_v ? "approvals" : "approvers");
	if ((rc = cfgval_list(c, v, "stages", CFGFLOW_STAGES_MAX, false)) < 0)
		return rc;
	p->stages = calloc(v->n, sizeof(*p->stages));
	if (p->stages == NULL)
		return JG_ERR_NOMEM;
	p->nstages = v->n;
	for (size_t i = 0; i < v->n; i++) {
		if ((rc = cfgval_want(c, v->kids[i], YTREE_MAP, "stages")) < 0 ||
		    (rc = read_stage(c, v->kids[i], &p->stages[i])) < 0)
			return rc;
		total += p->stages[i].approvals;
		if ((rc = dup_principals(&p->stages[i].approvers, &p->approvers)) < 0)
			return rc;
	}
	if (total > MAX_STAGE_APPROVALS)
		return cfgval_err(c, v->line, "stages: %d approvals in all, "
				  "more than %d", total, MAX_STAGE_APPROVALS);
	p->approvals = total;
	return JG_OK;
}

/* ---- auto_approve.when ---- */

static int day_index(const char *s, size_t len)
{
	static const char *const names[7] = {"mon", "tue", "wed", "thu",
					     "fri", "sat", "sun"};

	for (int i = 0; i < 7; i++)
		if (len == 3 && memcmp(s, names[i], 3) == 0)
			return i;
	return -1;
}

static int read_days(struct cfgval_ctx *c, const struct ytree *v,
		     unsigned *days)
{
	char shown[72];
	int rc;

	if ((rc = cfgval_list(c, v, "days", 7, false)) < 0)
		return rc;
	for (size_t i = 0; i < v->n; i++) {
		const struct ytree *it = v->kids[i];
		const char *dash;
		int a, b;

		if ((rc = cfgval_want(c, it, YTREE_SCALAR, "days")) < 0)
			return rc;
		dash = strchr(it->str, '-');
		a = day_index(it->str, dash ? (size_t)(dash - it->str) : it->len);
		b = dash ? day_index(dash + 1, strlen(dash + 1)) : a;
		if (a < 0 || b < 0 || b < a)
			return cfgval_err(c, it->line, "days: '%s' is not a day "
					  "(mon..sun) or a range such as mon-fri",
					  cfgval_show(it->str, shown));
		for (int d = a; d <= b; d++)
			*days |= 1u << d;
	}
	return JG_OK;
}

static bool read_hhmm(const char *s, int *out)
{
	if (!(s[0] >= '0' && s[0] <= '2' && s[1] >= '0' && s[1] <= '9' &&
	      s[2] == ':' && s[3] >= '0' && s[3] <= '5' && s[4] >= '0' &&
	      s[4] <= '9'))
		return false;
	*out = ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 +
	       (s[4] - '0');
	return *out <= 24 * 60;
}

static int read_hours(struct cfgval_ctx *c, const struct ytree *v,
		      struct auto_approve_cfg *a)
{
	int rc;

	if ((rc = cfgval_want(c, v, YTREE_SCALAR, "hours")) < 0)
		return rc;
	if (v->len != 11 || v->str[5] != '-' || !read_hhmm(v->str, &a->from_min) ||
	    !read_hhmm(v->str + 6, &a->to_min) || a->from_min >= a->to_min)
		return cfgval_err(c, v->line, "hours: write \"HH:MM-HH:MM\" with "
				  "the start before the end (00:00-24:00 at most)");
	return JG_OK;
}

static int read_when(struct cfgval_ctx *c, const struct ytree *m,
		     struct auto_approve_cfg *a)
{
	static const char *const keys[] = {"days", "hours", "tz", NULL};
	const struct ytree *v[3];
	char why[128], shown[72];
	int rc;

	if ((rc = cfgval_fields(c, m, "auto_approve.when", keys, v)) < 0)
		return rc;
	for (int i = 0; i < 3; i++)
		if (v[i] == NULL)
			return cfgval_missing(c, m, "auto_approve.when", keys[i]);
	if ((rc = read_days(c, v[0], &a->days)) < 0 ||
	    (rc = read_hours(c, v[1], a)) < 0 ||
	    (rc = cfgval_str(c, v[2], "tz", TZRULE_NAME_MAX, &a->tz_name)) < 0)
		return rc;
	rc = tzrule_load(a->tz_name, &a->tz, why, sizeof(why));
	if (rc == JG_ERR_NOMEM)
		return rc;
	if (rc < 0)
		return cfgval_err(c, v[2]->line, "tz: '%s': %s",
				  cfgval_show(a->tz_name, shown), why);
	a->has_window = true;
	return JG_OK;
}

/* ---- auto_approve.oncall ---- */

static int read_time(struct cfgval_ctx *c, const struct ytree *v,
		     const char *key, int64_t *out)
{
	int rc;

	if ((rc = cfgval_want(c, v, YTREE_SCALAR, key)) < 0)
		return rc;
	if (time_parse(v->str, out) != JG_OK)
		return cfgval_err(c, v->line, "%s: not an RFC 3339 UTC time "
				  "(2026-11-30T08:00:00Z)", key);
	return JG_OK;
}

static int read_shift(struct cfgval_ctx *c, const struct ytree *m,
		      struct shift_cfg *sh)
{
	static const char *const keys[] = {"subject", "start", "end", NULL};
	const struct ytree *v[3];
	char shown[72];
	int rc;

	sh->line = m->line;
	if ((rc = cfgval_want(c, m, YTREE_MAP, "shift")) < 0 ||
	    (rc = cfgval_fields(c, m, "shift", keys, v)) < 0)
		return rc;
	for (int i = 0; i < 3; i++)
		if (v[i] == NULL)
			return cfgval_missing(c, m, "shift", keys[i]);
	if ((rc = cfgval_str(c, v[0], "subject", SUBJECT_NAME_MAX, &sh->subject)) < 0)
		return rc;
	if (!cfgval_principal_name_ok(sh->subject))
		return cfgval_err(c, v[0]->line, "subject: '%s' is not a subject name",
				  cfgval_show(sh->subject, shown));
	if ((rc = read_time(c, v[1], "start", &sh->start_ms)) < 0 ||
	    (rc = read_time(c, v[2], "end", &sh->end_ms)) < 0)
		return rc;
	if (sh->end_ms <= sh->start_ms)
		return cfgval_err(c, v[2]->line, "end: not after start");
	return JG_OK;
}

int cfgflow_parse_oncall(struct cfgval_ctx *c, const char *text, size_t len,
			 struct auto_approve_cfg *out)
{
	struct ytree *t = NULL;
	int rc;

	rc = ytree_parse(c->name, text, len, &t, c->err, c->errlen);
	if (rc < 0) {
		c->failed = true;
		return rc;
	}
	if (t == NULL) {
		rc = cfgval_err(c, 1, "on-call schedule is empty");
		goto out;
	}
	if ((rc = cfgval_list(c, t, "shifts", CFGFLOW_SHIFTS_MAX, false)) < 0)
		goto out;
	out->shifts = calloc(t->n, sizeof(*out->shifts));
	if (out->shifts == NULL) {
		rc = JG_ERR_NOMEM;
		goto out;
	}
	out->nshifts = t->n;
	for (size_t i = 0; i < t->n; i++)
		if ((rc = read_shift(c, t->kids[i], &out->shifts[i])) < 0)
			goto out;
	rc = JG_OK;
out:
	ytree_free(t);
	return rc;
}

/* The schedule path as written, relative to the config file's directory. */
static int oncall_path(const char *cfg_name, const char *path, char **out)
{
	const char *slash = strrchr(cfg_name, '/');
	size_t dlen = slash && path[0] != '/' ? (size_t)(slash - cfg_name) + 1 : 0;

	*out = malloc(dlen + strlen(path) + 1);
	if (*out == NULL)
		return JG_ERR_NOMEM;
	memcpy(*out, cfg_name, dlen);
	strcpy(*out + dlen, path);
	return JG_OK;
}

static int read_oncall(struct cfgval_ctx *c, const struct ytree *v,
		       struct auto_approve_cfg *a)
{
	struct cfgval_ctx fc = *c;
	char shown[72], why[512], *buf = NULL, *rel = NULL;
	size_t len = 0;
	int rc;

	if ((rc = cfgval_str(c, v, "oncall", 4096, &rel)) < 0)
		return rc;
	rc = oncall_path(c->name, rel, &a->oncall_path);
	free(rel);
	if (rc < 0)
		return rc;
	rc = file_read_all(a->oncall_path, CFGFLOW_ONCALL_MAX, &buf, &len, why,
			   sizeof(why));
	if (rc == JG_ERR_NOMEM)
		return rc;
	if (rc < 0)
		return cfgval_err(c, v->line, "oncall: cannot read '%s'%s",
				  cfgval_show(a->oncall_path, shown),
				  rc == JG_ERR_TOOBIG ? ": larger than 1 MiB" : "");
	/* the schedule's own errors name the schedule file and its line */
	fc.name = a->oncall_path;
	rc = cfgflow_parse_oncall(&fc, buf, len, a);
	c->failed = fc.failed;
	free(buf);
	return rc;
}

static int read_auto(struct cfgval_ctx *c, const struct ytree *m,
		     struct auto_approve_cfg *a)
{
	static const char *const keys[] = {"when", "oncall", NULL};
	const struct ytree *v[2];
	int rc;

	if ((rc = cfgval_fields(c, m, "auto_approve", keys, v)) < 0)
		return rc;
	if (v[0] == NULL && v[1] == NULL)
		return cfgval_missing(c, m, "auto_approve", "when' or 'oncall");
	if (v[0] != NULL && ((rc = cfgval_want(c, v[0], YTREE_MAP, "when")) < 0 ||
			     (rc = read_when(c, v[0], a)) < 0))
		return rc;
	if (v[1] != NULL && (rc = read_oncall(c, v[1], a)) < 0)
		return rc;
	return JG_OK;
}

int cfgflow_read(struct cfgval_ctx *c, const struct ytree *m,
		 const struct ytree *const *v, const struct ytree *approvals_v,
		 const struct ytree *approvers_v, struct policy_cfg *p)
{
	char shown[72];
	int rc;

	(void)m;
	if (v[CFGFLOW_STAGES] != NULL &&
	    (rc = read_stages(c, v[CFGFLOW_STAGES], approvals_v, approvers_v, p)) < 0)
		return rc;
	if (v[CFGFLOW_REMIND] != NULL &&
	    (rc = cfgval_duration(c, v[CFGFLOW_REMIND], "remind_after",
				  &p->remind_after_s)) < 0)
		return rc;
	if ((v[CFGFLOW_ESCALATE_AFTER] == NULL) != (v[CFGFLOW_ESCALATE_TO] == NULL)) {
		const struct ytree *have = v[CFGFLOW_ESCALATE_AFTER]
			? v[CFGFLOW_ESCALATE_AFTER] : v[CFGFLOW_ESCALATE_TO];

		return cfgval_err(c, have->line, "%s: needs '%s' too",
				  v[CFGFLOW_ESCALATE_AFTER] ? "escalate_after" : "escalate_to",
				  v[CFGFLOW_ESCALATE_AFTER] ? "escalate_to" : "escalate_after");
	}
	if (v[CFGFLOW_ESCALATE_AFTER] != NULL &&
	    ((rc = cfgval_duration(c, v[CFGFLOW_ESCALATE_AFTER], "escalate_after",
				   &p->escalate_after_s)) < 0 ||
	     (rc = cfgval_principals(c, v[CFGFLOW_ESCALATE_TO], "escalate_to",
				     false, &p->escalate_to)) < 0))
		return rc;
	if (v[CFGFLOW_AUTO] != NULL &&
	    ((rc = cfgval_want(c, v[CFGFLOW_AUTO], YTREE_MAP, "auto_approve")) < 0 ||
	     (rc = read_auto(c, v[CFGFLOW_AUTO], &p->auto_approve)) < 0))
		return rc;
	if (v[CFGFLOW_APPROVE_IN] != NULL) {
		const struct ytree *a = v[CFGFLOW_APPROVE_IN];

		if ((rc = cfgval_want(c, a, YTREE_SCALAR, "approve_in")) < 0)
			return rc;
		if (strcmp(a->str, "web") == 0)
			p->approve_in_web = true;
		else if (strcmp(a->str, "any") != 0)
			return cfgval_err(c, a->line, "approve_in: '%s' is not "
					  "'web' or 'any'", cfgval_show(a->str, shown));
	}
	if (p->approvals == 0 && p->nstages == 0 &&
	    (p->remind_after_s || p->escalate_after_s ||
	     p->auto_approve.has_window || p->auto_approve.oncall_path)) {
		const struct ytree *k = v[CFGFLOW_REMIND] ? v[CFGFLOW_REMIND]
			: v[CFGFLOW_ESCALATE_AFTER] ? v[CFGFLOW_ESCALATE_AFTER]
						    : v[CFGFLOW_AUTO];

		return cfgval_err(c, k->line, "%s: the policy needs no approval",
				  k == v[CFGFLOW_REMIND] ? "remind_after"
				  : k == v[CFGFLOW_AUTO] ? "auto_approve"
							 : "escalate_after");
	}
	return JG_OK;
}

void cfgflow_free(struct policy_cfg *p)
{
	struct auto_approve_cfg *a = &p->auto_approve;

	for (size_t i = 0; i < p->nstages; i++)
		cfgval_free_principals(&p->stages[i].approvers);
	free(p->stages);
	cfgval_free_principals(&p->escalate_to);
	free(a->tz_name);
	tzrule_free(a->tz);
	free(a->oncall_path);
	for (size_t i = 0; i < a->nshifts; i++)
		free(a->shifts[i].subject);
	free(a->shifts);
}
