/* Reading policy test files; see ptfile.h and docs/policy-testing.md. */
#include "policytest/ptfile.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgval.h"
#include "config/ytree.h"
#include "core/flow.h"
#include "core/request.h"
#include "util/fileio.h"
#include "util/timeutil.h"

#define PT_TEXT_MAX 1024 /* name, reason, ticket, field */

static const char *const outcome_names[] = {
	[PT_GRANTED] = "granted", [PT_PENDING] = "pending",
	[PT_REFUSED] = "refused", [PT_ALLOWED] = "allowed",
};

const char *pt_outcome_name(enum pt_outcome o)
{
	return (unsigned)o < sizeof(outcome_names) / sizeof(outcome_names[0])
		? outcome_names[o] : "?";
}

static void who_clear(struct pt_who *w)
{
	free(w->subject);
	cfgval_free_strv(w->groups, w->ngroups);
	memset(w, 0, sizeof(*w));
}

static void case_clear(struct pt_case *c)
{
	free(c->name);
	who_clear(&c->as);
	who_clear(&c->by);
	free(c->resource);
	free(c->role);
	free(c->reason);
	free(c->ticket);
	free(c->expect.policy);
	free(c->expect.field);
	free(c->expect.rule);
	cfgval_free_strv(c->expect.reminded, c->expect.nreminded);
	for (size_t i = 0; i < c->nafter; i++)
		who_clear(&c->after[i]);
	free(c->after);
}

void ptfile_free(struct pt_file *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->ncases; i++)
		case_clear(&f->cases[i]);
	free(f->cases);
	free(f->path);
	free(f);
}

static const struct identity_cfg *identity_named(const struct config *cfg,
						 const char *subject)
{
	for (size_t i = 0; i < cfg->nidentities; i++)
		if (strcmp(cfg->identities[i].subject, subject) == 0)
			return &cfg->identities[i];
	return NULL;
}

/* {subject, groups?}: groups default to the config identity's. */
static int read_who(struct cfgval_ctx *c, const struct ytree *m,
		    const char *what, const struct config *cfg,
		    struct pt_who *w)
{
	static const char *const keys[] = {"subject", "groups", NULL};
	const struct identity_cfg *id;
	const struct ytree *v[2];
	int rc;

	if ((rc = cfgval_fields(c, m, what, keys, v)) < 0)
		return rc;
	if (v[0] == NULL)
		return cfgval_missing(c, m, what, "subject");
	if ((rc = cfgval_checked(c, v[0], "subject", cfgval_principal_name_ok,
				 "a subject name", true, &w->subject)) < 0)
		return rc;
	if (v[1] != NULL)
		return cfgval_str_list(c, v[1], "groups", SUBJECT_GROUPS_MAX, true,
				       cfgval_principal_name_ok,
				       "a valid group name", &w->groups,
				       &w->ngroups);
	id = identity_named(cfg, w->subject);
	if (id == NULL || id->ngroups == 0)
		return JG_OK;
	w->groups = calloc(id->ngroups, sizeof(*w->groups));
	if (w->groups == NULL)
		return JG_ERR_NOMEM;
	for (size_t i = 0; i < id->ngroups; i++) {
		if ((w->groups[i] = strdup(id->groups[i])) == NULL)
			return JG_ERR_NOMEM;
		w->ngroups++;
	}
	return JG_OK;
}

/* resource and role must exist: a typo there would make a case pass for
 * the wrong reason (refused as unknown instead of by policy). */
static int read_target(struct cfgval_ctx *c, const struct ytree *res,
		       const struct ytree *role, const struct config *cfg,
		       struct pt_case *pc)
{
	const struct resource_cfg *r;
	char shown[72];
	int rc;

	if ((rc = cfgval_name(c, res, "resource", &pc->resource)) < 0)
		return rc;
	if ((rc = cfgval_name(c, role, "role", &pc->role)) < 0)
		return rc;
	r = config_resource(cfg, pc->resource);
	if (r == NULL)
		return cfgval_err(c, res->line, "resource: unknown resource '%s' (not in %s)",
				  cfgval_show(pc->resource, shown), cfg->path);
	if (config_role(r, pc->role) == NULL)
		return cfgval_err(c, role->line, "role: resource %s has no role '%s'",
				  r->name, cfgval_show(pc->role, shown));
	return JG_OK;
}

static int read_request(struct cfgval_ctx *c, const struct ytree *m,
			const struct config *cfg, struct pt_case *pc)
{
	static const char *const keys[] = {"resource", "role", "duration",
					   "reason", "ticket", "break_glass",
					   "waited", NULL};
	const struct ytree *v[7];
	int rc;

	if ((rc = cfgval_fields(c, m, "request", keys, v)) < 0)
		return rc;
	for (size_t i = 0; i < 3; i++)
		if (v[i] == NULL)
			return cfgval_missing(c, m, "request", keys[i]);
	if ((rc = read_target(c, v[0], v[1], cfg, pc)) < 0)
		return rc;
	if ((rc = cfgval_duration(c, v[2], "duration", &pc->duration_s)) < 0)
		return rc;
	if (v[3] != NULL &&
	    (rc = cfgval_str(c, v[3], "reason", PT_TEXT_MAX, &pc->reason)) < 0)
		return rc;
	if (v[4] != NULL &&
	    (rc = cfgval_str(c, v[4], "ticket", PT_TEXT_MAX, &pc->ticket)) < 0)
		return rc;
	if (v[5] != NULL && (rc = cfgval_bool(c, v[5], "break_glass", &pc->break_glass)) < 0)
		return rc;
	if (v[6] != NULL)
		return cfgval_duration(c, v[6], "waited", &pc->waited_s);
	return JG_OK;
}

static int read_approve(struct cfgval_ctx *c, const struct ytree *m,
			const struct config *cfg, struct pt_case *pc)
{
	static const char *const keys[] = {"by", "requester", "resource",
					   "role", "after", "waited", NULL};
	const struct ytree *v[6];
	int rc;

	if ((rc = cfgval_fields(c, m, "approve", keys, v)) < 0)
		return rc;
	for (size_t i = 0; i < 4; i++)
		if (v[i] == NULL)
			return cfgval_missing(c, m, "approve", keys[i]);
	if ((rc = read_who(c, v[0], "approve.by", cfg, &pc->by)) < 0)
		return rc;
	if ((rc = read_who(c, v[1], "approve.requester", cfg, &pc->as)) < 0)
		return rc;
	if (v[4] != NULL) {
		if ((rc = cfgval_list(c, v[4], "after", REQ_MAX_APPROVALS - 1, false)) < 0)
			return rc;
		pc->after = calloc(v[4]->n, sizeof(*pc->after));
		if (pc->after == NULL)
			return JG_ERR_NOMEM;
		pc->nafter = v[4]->n;
		for (size_t i = 0; i < v[4]->n; i++)
			if ((rc = read_who(c, v[4]->kids[i], "approve.after", cfg,
					   &pc->after[i])) < 0)
				return rc;
	}
	if (v[5] != NULL &&
	    (rc = cfgval_duration(c, v[5], "waited", &pc->waited_s)) < 0)
		return rc;
	return read_target(c, v[2], v[3], cfg, pc);
}

static int read_outcome(struct cfgval_ctx *c, const struct ytree *v,
			enum pt_kind kind, enum pt_outcome *out)
{
	static const enum pt_outcome req[] = {PT_GRANTED, PT_PENDING, PT_REFUSED};
	static const enum pt_outcome appr[] = {PT_ALLOWED, PT_REFUSED};
	const enum pt_outcome *ok = kind == PT_REQUEST ? req : appr;
	size_t n = kind == PT_REQUEST ? 3 : 2;
	char shown[72];
	int rc;

	if ((rc = cfgval_want(c, v, YTREE_SCALAR, "outcome")) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v->str, pt_outcome_name(ok[i])) == 0) {
			*out = ok[i];
			return JG_OK;
		}
	}
	return cfgval_err(c, v->line, kind == PT_REQUEST
			  ? "outcome: '%s' is not granted, pending or refused"
			  : "outcome: '%s' is not allowed or refused (an approve case)",
			  cfgval_show(v->str, shown));
}

/* expect.reminders / escalated / reminded (v[0..2]): pending only. */
static int read_notices(struct cfgval_ctx *c, const struct ytree *const *v,
			struct pt_expect *e)
{
	static const char *const names[] = {"reminders", "escalated", "reminded"};
	bool b;
	int64_t n;
	int rc;

	for (int i = 0; i < 3; i++)
		if (v[i] != NULL && e->outcome != PT_PENDING)
			return cfgval_err(c, v[i]->line, "%s: only a pending request "
					  "is reminded or escalated", names[i]);
	if (v[0] != NULL) {
		if ((rc = cfgval_int(c, v[0], "reminders", 0, 1000000, &n)) < 0)
			return rc;
		e->reminders = (int)n;
	}
	if (v[1] != NULL) {
		if ((rc = cfgval_bool(c, v[1], "escalated", &b)) < 0)
			return rc;
		e->escalated = b;
	}
	if (v[2] != NULL) {
		e->has_reminded = true;
		return cfgval_str_list(c, v[2], "reminded", PT_REMINDED_MAX, true,
				       cfgval_principal_name_ok, "a subject name",
				       &e->reminded, &e->nreminded);
	}
	return JG_OK;
}

static int read_expect(struct cfgval_ctx *c, const struct ytree *m,
		       const struct config *cfg, struct pt_case *pc)
{
	static const char *const req_keys[] = {"outcome", "policy", "approvals",
					       "status", "field", "rule", "reminders",
					       "escalated", "reminded", NULL};
	static const char *const appr_keys[] = {"outcome", "status", "rule", NULL};
	static const char *const rules[] = {
		FLOW_RULE_APPROVALS, FLOW_RULE_STAGES, FLOW_RULE_ESCALATE,
		FLOW_RULE_WINDOW, FLOW_RULE_ONCALL, FLOW_RULE_NONE_NEEDED,
		FLOW_RULE_BREAK_GLASS};
	const struct ytree *v[9] = {NULL};
	struct pt_expect *e = &pc->expect;
	char shown[72];
	int64_t n;
	int rc;

	e->approvals = -1;
	e->reminders = -1;
	e->escalated = -1;
	rc = cfgval_fields(c, m, pc->kind == PT_REQUEST ? "expect"
			   : "expect of an approve case",
			   pc->kind == PT_REQUEST ? req_keys : appr_keys, v);
	if (rc < 0)
		return rc;
	if (pc->kind == PT_APPROVE) {
		v[5] = v[2];
		v[3] = v[1];
		v[1] = v[2] = v[4] = NULL;
	}
	if (v[5] != NULL) {
		if ((rc = cfgval_str(c, v[5], "rule", PT_TEXT_MAX, &e->rule)) < 0)
			return rc;
		for (n = 0; n < (int64_t)(sizeof(rules) / sizeof(rules[0])); n++)
			if (strcmp(rules[n], e->rule) == 0)
				break;
		if (n == (int64_t)(sizeof(rules) / sizeof(rules[0])))
			return cfgval_err(c, v[5]->line, "rule: '%s' is not a rule "
					  "jitgate decides by", cfgval_show(e->rule, shown));
	}
	if (v[0] == NULL)
		return cfgval_missing(c, m, "expect", "outcome");
	if ((rc = read_outcome(c, v[0], pc->kind, &e->outcome)) < 0)
		return rc;
	if (v[1] != NULL) {
		if ((rc = cfgval_name(c, v[1], "policy", &e->policy)) < 0)
			return rc;
		if (config_policy(cfg, e->policy) == NULL)
			return cfgval_err(c, v[1]->line, "policy: unknown policy '%s' (not in %s)",
					  cfgval_show(e->policy, shown), cfg->path);
	}
	if (v[2] != NULL) {
		if (e->outcome != PT_PENDING)
			return cfgval_err(c, v[2]->line,
					  "approvals: only a pending outcome waits for approvals");
		if ((rc = cfgval_int(c, v[2], "approvals", 1, REQ_MAX_APPROVALS, &n)) < 0)
			return rc;
		e->approvals = (int)n;
	}
	if (v[3] != NULL) {
		if (e->outcome != PT_REFUSED)
			return cfgval_err(c, v[3]->line,
					  "status: only a refused outcome has a status");
		if ((rc = cfgval_int(c, v[3], "status", 100, 599, &n)) < 0)
			return rc;
		if (n != 400 && n != 403 && n != 409)
			return cfgval_err(c, v[3]->line,
					  "status: %d is never a policy decision (400, 403 or 409)",
					  (int)n);
		e->status = (int)n;
	}
	if (v[4] != NULL) {
		if (e->outcome != PT_REFUSED)
			return cfgval_err(c, v[4]->line,
					  "field: only a refused outcome names a field");
		if ((rc = cfgval_str(c, v[4], "field", PT_TEXT_MAX, &e->field)) < 0)
			return rc;
	}
	return read_notices(c, v + 6, e);
}

static int read_case(struct cfgval_ctx *c, const struct ytree *m,
		     const struct config *cfg, struct pt_case *pc)
{
	static const char *const keys[] = {"name", "as", "request", "approve",
					   "expect", "at", NULL};
	const struct ytree *v[6];
	int rc;

	pc->line = m->line;
	if ((rc = cfgval_fields(c, m, "case", keys, v)) < 0)
		return rc;
	if (v[5] != NULL &&
	    ((rc = cfgval_want(c, v[5], YTREE_SCALAR, "at")) < 0 ||
	     (time_parse(v[5]->str, &pc->at_ms) != JG_OK &&
	      (rc = cfgval_err(c, v[5]->line, "at: not an RFC 3339 UTC time "
			       "(2026-11-30T08:00:00Z)")) < 0)))
		return rc;
	if (v[0] == NULL)
		return cfgval_missing(c, m, "case", "name");
	if ((rc = cfgval_str(c, v[0], "name", PT_TEXT_MAX, &pc->name)) < 0)
		return rc;
	if ((v[2] == NULL) == (v[3] == NULL))
		return cfgval_err(c, m->line,
				  "case '%.64s': needs exactly one of 'request' or 'approve'",
				  pc->name);
	if (v[4] == NULL)
		return cfgval_missing(c, m, "case", "expect");
	if (v[2] != NULL) {
		pc->kind = PT_REQUEST;
		if (v[1] == NULL)
			return cfgval_missing(c, m, "request case", "as");
		if ((rc = read_who(c, v[1], "as", cfg, &pc->as)) < 0)
			return rc;
		rc = read_request(c, v[2], cfg, pc);
	} else {
		pc->kind = PT_APPROVE;
		if (v[1] != NULL)
			return cfgval_err(c, v[1]->line,
					  "as: an approve case names 'by' and 'requester' instead");
		rc = read_approve(c, v[3], cfg, pc);
	}
	if (rc < 0)
		return rc;
	return read_expect(c, v[4], cfg, pc);
}

static int read_root(struct cfgval_ctx *c, const struct ytree *root,
		     const struct config *cfg, struct pt_file *f)
{
	static const char *const keys[] = {"cases", NULL};
	static const struct ytree empty = {.type = YTREE_MAP, .line = 1};
	const struct ytree *v[1];
	int rc;

	if ((rc = cfgval_fields(c, root ? root : &empty, "test file", keys, v)) < 0)
		return rc;
	if (v[0] == NULL)
		return cfgval_missing(c, root ? root : &empty, "test file", "cases");
	if ((rc = cfgval_list(c, v[0], "cases", PTFILE_CASES_MAX, false)) < 0)
		return rc;
	f->cases = calloc(v[0]->n, sizeof(*f->cases));
	if (f->cases == NULL)
		return JG_ERR_NOMEM;
	for (size_t i = 0; i < v[0]->n; i++) {
		f->ncases++;
		if ((rc = read_case(c, v[0]->kids[i], cfg, &f->cases[i])) < 0)
			return rc;
	}
	return cfgval_unique_names(c, f->cases, f->ncases, sizeof(*f->cases),
				   offsetof(struct pt_case, name),
				   offsetof(struct pt_case, line), "case name");
}

int ptfile_parse(const char *name, const char *text, size_t len,
		 const struct config *cfg, struct pt_file **out, char *err,
		 size_t errlen)
{
	struct cfgval_ctx c = {.name = name, .err = err, .errlen = errlen};
	struct ytree *root = NULL;
	struct pt_file *f = NULL;
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (len > PTFILE_MAX) {
		snprintf(err, errlen, "%s:1: file larger than %d bytes", name, PTFILE_MAX);
		return JG_ERR_TOOBIG;
	}
	rc = ytree_parse(name, text, len, &root, err, errlen);
	if (rc < 0)
		return rc == JG_ERR_NOMEM ? rc : JG_ERR_INVALID;
	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->path = strdup(name)) == NULL) {
		rc = JG_ERR_NOMEM;
		goto out;
	}
	if ((rc = read_root(&c, root, cfg, f)) < 0)
		goto out;
	*out = f;
	f = NULL;
out:
	if (rc == JG_ERR_NOMEM && !c.failed)
		snprintf(err, errlen, "%s: out of memory", name);
	ptfile_free(f);
	ytree_free(root);
	return rc;
}

int ptfile_load(const char *path, const struct config *cfg,
		struct pt_file **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = file_read_all(path, PTFILE_MAX, &buf, &len, err, errlen);
	if (rc == JG_OK)
		rc = ptfile_parse(path, buf, len, cfg, out, err, errlen);
	free(buf);
	return rc;
}
