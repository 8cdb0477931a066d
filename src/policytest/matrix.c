/* The access matrix and its diff; see matrix.h. */
#include "policytest/matrix.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"
#include "util/duration.h"
#include "util/vec.h"

#define PRINCIPAL_TEXT_MAX (SUBJECT_NAME_MAX + 8)

void matrix_free_principals(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

struct pset {
	char **v;
	size_t n, cap;
};

static int pset_add(struct pset *s, const char *kind, const char *name)
{
	char buf[PRINCIPAL_TEXT_MAX];

	snprintf(buf, sizeof(buf), "%s:%s", kind, name);
	if (s->n == s->cap) {
		char **nv = vec_grow(s->v, &s->cap, sizeof(*nv), 64);

		if (nv == NULL)
			return JG_ERR_NOMEM;
		s->v = nv;
	}
	if ((s->v[s->n] = strdup(buf)) == NULL)
		return JG_ERR_NOMEM;
	s->n++;
	return JG_OK;
}

static int pset_add_list(struct pset *s, const struct principal_list *l)
{
	int rc = JG_OK;

	for (size_t i = 0; i < l->n && rc == JG_OK; i++)
		rc = pset_add(s, l->v[i].kind == PRINCIPAL_USER ? "user" : "group",
			      l->v[i].name);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and drops repeats in place. */
static void pset_unique(struct pset *s)
{
	size_t k = 0;

	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_str);
	for (size_t i = 1; i < s->n; i++) {
		if (strcmp(s->v[i], s->v[k]) == 0)
			free(s->v[i]);
		else
			s->v[++k] = s->v[i];
	}
	s->n = k + 1;
}

int matrix_principals(const struct config *cfg, char ***out, size_t *n)
{
	struct pset s = {0};
	int rc = JG_OK;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < cfg->npolicies && rc == JG_OK; i++) {
		rc = pset_add_list(&s, &cfg->policies[i].requesters);
		if (rc == JG_OK)
			rc = pset_add_list(&s, &cfg->policies[i].approvers);
	}
	if (rc == JG_OK)
		rc = pset_add_list(&s, &cfg->admins);
	if (rc == JG_OK)
		rc = pset_add_list(&s, &cfg->auditors);
	if (rc == JG_OK)
		rc = pset_add_list(&s, &cfg->checkers);
	for (size_t i = 0; i < cfg->nidentities && rc == JG_OK; i++) {
		rc = pset_add(&s, "user", cfg->identities[i].subject);
		for (size_t g = 0; g < cfg->identities[i].ngroups && rc == JG_OK; g++)
			rc = pset_add(&s, "group", cfg->identities[i].groups[g]);
	}
	if (rc != JG_OK) {
		matrix_free_principals(s.v, s.n);
		return rc;
	}
	pset_unique(&s);
	*out = s.v;
	*n = s.n;
	return JG_OK;
}

int matrix_principals_merge(char ***a, size_t *na, char **b, size_t nb)
{
	char **v = realloc(*a, (*na + nb + 1) * sizeof(*v));
	struct pset s;

	if (v == NULL) {
		matrix_free_principals(b, nb);
		return JG_ERR_NOMEM;
	}
	if (nb > 0)
		memcpy(v + *na, b, nb * sizeof(*b));
	free(b);
	s = (struct pset){v, *na + nb, *na + nb + 1};
	pset_unique(&s);
	*a = s.v;
	*na = s.n;
	return JG_OK;
}

static const struct identity_cfg *identity_named(const struct config *cfg,
						 const char *name)
{
	for (size_t i = 0; i < cfg->nidentities; i++)
		if (strcmp(cfg->identities[i].subject, name) == 0)
			return &cfg->identities[i];
	return NULL;
}

/* The subject a principal stands for (see matrix.h).  The group's name is
 * borrowed from the principal text. */
static void principal_subject(const struct config *cfg, const char *principal,
			      const char **group, struct subject *s)
{
	const struct identity_cfg *id;

	memset(s, 0, sizeof(*s));
	if (strncmp(principal, "group:", 6) == 0) {
		*group = principal + 6;
		s->name = ""; /* equal to no user: principal (names are 1+ bytes) */
		s->groups = group;
		s->ngroups = 1;
		return;
	}
	s->name = principal + 5;
	id = identity_named(cfg, s->name);
	if (id != NULL) {
		s->groups = (const char *const *)id->groups;
		s->ngroups = id->ngroups;
	}
}

struct rowbuf {
	struct matrix_row *v;
	size_t n, cap;
};

static int rows_push(struct rowbuf *b, struct matrix_row r)
{
	if (b->n == b->cap) {
		struct matrix_row *nv = vec_grow(b->v, &b->cap, sizeof(*nv), 256);

		if (nv == NULL)
			return JG_ERR_NOMEM;
		b->v = nv;
	}
	b->v[b->n++] = r;
	return JG_OK;
}

/* For one principal: the first policy (file order) that applies to each
 * resource and role.  covers[i * nres + r] caches the core's resource
 * predicate, which does not depend on the principal. */
static int rows_for(const struct config *cfg, const char *principal,
		    const bool *covers, bool *applies, struct rowbuf *b)
{
	const char *group;
	struct subject s;
	int rc;

	principal_subject(cfg, principal, &group, &s);
	for (size_t i = 0; i < cfg->npolicies; i++)
		applies[i] = principal_list_matches(&cfg->policies[i].requesters, &s);
	for (size_t r = 0; r < cfg->nresources; r++) {
		const struct resource_cfg *res = &cfg->resources[r];

		for (size_t k = 0; k < res->nroles; k++) {
			for (size_t i = 0; i < cfg->npolicies; i++) {
				const struct policy_cfg *p = &cfg->policies[i];

				if (!applies[i] || !covers[i * cfg->nresources + r] ||
				    policy_role_index(p, res->roles[k].name) < 0)
					continue;
				rc = rows_push(b, (struct matrix_row){
					principal, res->name, res->roles[k].name, p});
				if (rc != JG_OK)
					return rc;
				break;
			}
		}
	}
	return JG_OK;
}

int matrix_build(const struct config *cfg, char *const *principals, size_t n,
		 struct matrix **out)
{
	size_t np = cfg->npolicies, nr = cfg->nresources;
	bool *covers = calloc(np * nr + 1, sizeof(bool));
	bool *applies = calloc(np + 1, sizeof(bool));
	struct rowbuf b = {0};
	struct matrix *m = NULL;
	int rc = JG_ERR_NOMEM;

	*out = NULL;
	if (covers == NULL || applies == NULL)
		goto out;
	for (size_t i = 0; i < np; i++)
		for (size_t r = 0; r < nr; r++)
			covers[i * nr + r] = policy_resource_index(
				&cfg->policies[i], cfg->resources[r].name) >= 0;
	for (size_t i = 0; i < n; i++)
		if ((rc = rows_for(cfg, principals[i], covers, applies, &b)) != JG_OK)
			goto out;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		rc = JG_ERR_NOMEM;
		goto out;
	}
	m->cfg = cfg;
	m->rows = b.v;
	m->nrows = b.n;
	b.v = NULL;
	*out = m;
	rc = JG_OK;
out:
	free(b.v);
	free(covers);
	free(applies);
	return rc;
}

void matrix_free(struct matrix *m)
{
	if (m == NULL)
		return;
	free(m->rows);
	free(m);
}

static json_t *principals_json(const struct principal_list *l)
{
	json_t *a = json_array();
	char buf[PRINCIPAL_TEXT_MAX];

	for (size_t i = 0; a && i < l->n; i++) {
		snprintf(buf, sizeof(buf), "%s:%s",
			 l->v[i].kind == PRINCIPAL_USER ? "user" : "group", l->v[i].name);
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

json_t *matrix_row_json(const struct matrix_row *r)
{
	const struct policy_cfg *p = r->policy;

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o*, s:I, s:o, s:b, s:b, s:o}",
			 "principal", r->principal, "resource", r->resource,
			 "role", r->role, "policy", p->name, "outcome",
			 p->approvals == 0 ? "granted" : "pending", "approvals",
			 p->approvals, "approvers", principals_json(&p->approvers),
			 "max_duration_s", (json_int_t)p->max_duration_s,
			 "break_glass_max_duration_s",
			 p->break_glass ? json_integer(p->break_glass_max_s) : json_null(),
			 "allow_self_approval", p->allow_self_approval,
			 "require_reason", p->require_reason, "ticket_pattern",
			 p->ticket_pattern ? json_string(p->ticket_pattern) : json_null());
}

void matrix_access_text(const struct matrix_row *r, char *buf, size_t len)
{
	const struct policy_cfg *p = r->policy;
	size_t off;
	int n;

	if (p->approvals == 0) {
		snprintf(buf, len, "granted");
		return;
	}
	n = snprintf(buf, len, "%d of ", p->approvals);
	off = n > 0 ? (size_t)n : 0;
	for (size_t i = 0; i < p->approvers.n && off < len; i++) {
		n = snprintf(buf + off, len - off, "%s%s:%s", i ? "," : "",
			     p->approvers.v[i].kind == PRINCIPAL_USER ? "user" : "group",
			     p->approvers.v[i].name);
		off += n > 0 ? (size_t)n : 0;
	}
	if (p->allow_self_approval && off < len)
		snprintf(buf + off, len - off, ", self-approval");
}

/* ---- diff -------------------------------------------------------------- */

static const char *const change_names[] = {
	[MX_ADDED] = "added", [MX_REMOVED] = "removed",
	[MX_LOOSENED] = "loosened", [MX_TIGHTENED] = "tightened",
	[MX_CHANGED] = "changed",
};

const char *matrix_change_name(enum matrix_change k)
{
	return change_names[k];
}

static int row_key_cmp(const struct matrix_row *a, const struct matrix_row *b)
{
	int c = strcmp(a->principal, b->principal);

	if (c == 0)
		c = strcmp(a->resource, b->resource);
	if (c == 0)
		c = strcmp(a->role, b->role);
	return c;
}

static int row_ptr_cmp(const void *a, const void *b)
{
	return row_key_cmp(*(const struct matrix_row *const *)a,
			   *(const struct matrix_row *const *)b);
}

static const struct matrix_row **sorted_rows(const struct matrix *m)
{
	const struct matrix_row **v = malloc((m->nrows + 1) * sizeof(*v));

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < m->nrows; i++)
		v[i] = &m->rows[i];
	qsort(v, m->nrows, sizeof(*v), row_ptr_cmp);
	return v;
}

struct judge {
	char *buf;
	size_t len, off;
	bool looser, tighter, other;
};

static void note(struct judge *j, bool *flag, const char *fmt, ...)
	JG_PRINTF(3, 4);

static void note(struct judge *j, bool *flag, const char *fmt, ...)
{
	va_list ap;
	int n;

	*flag = true;
	if (j->off >= j->len)
		return;
	if (j->off > 0) {
		n = snprintf(j->buf + j->off, j->len - j->off, "; ");
		j->off += n > 0 ? (size_t)n : 0;
		if (j->off >= j->len)
			return;
	}
	va_start(ap, fmt);
	n = vsnprintf(j->buf + j->off, j->len - j->off, fmt, ap);
	va_end(ap);
	j->off += n > 0 ? (size_t)n : 0;
}

static bool has_principal(const struct principal_list *l, const struct principal *p)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].kind == p->kind && strcmp(l->v[i].name, p->name) == 0)
			return true;
	return false;
}

static void approvers_delta(struct judge *j, const struct policy_cfg *a,
			    const struct policy_cfg *b)
{
	for (size_t i = 0; i < b->approvers.n; i++)
		if (!has_principal(&a->approvers, &b->approvers.v[i]))
			note(j, &j->looser, "new approver %s:%s",
			     b->approvers.v[i].kind == PRINCIPAL_USER ? "user" : "group",
			     b->approvers.v[i].name);
	for (size_t i = 0; i < a->approvers.n; i++)
		if (!has_principal(&b->approvers, &a->approvers.v[i]))
			note(j, &j->tighter, "approver %s:%s removed",
			     a->approvers.v[i].kind == PRINCIPAL_USER ? "user" : "group",
			     a->approvers.v[i].name);
}

static void durations_delta(struct judge *j, const char *what, int64_t a,
			    int64_t b)
{
	char da[32], db[32];

	if (a == b)
		return;
	duration_format(a, da, sizeof(da));
	duration_format(b, db, sizeof(db));
	note(j, b > a ? &j->looser : &j->tighter, "%s %s -> %s", what, da, db);
}

/* What changed between two rows of one (principal, resource, role), and
 * whether it makes access easier to get. */
static void judge_rows(const struct matrix_row *ra, const struct matrix_row *rb,
		       struct judge *j)
{
	const struct policy_cfg *a = ra->policy, *b = rb->policy;

	if (b->approvals != a->approvals)
		note(j, b->approvals < a->approvals ? &j->looser : &j->tighter,
		     "approvals %d -> %d", a->approvals, b->approvals);
	durations_delta(j, "max", a->max_duration_s, b->max_duration_s);
	if (a->allow_self_approval != b->allow_self_approval)
		note(j, b->allow_self_approval ? &j->looser : &j->tighter,
		     "self-approval %s", b->allow_self_approval ? "newly allowed"
								: "no longer allowed");
	if (a->break_glass != b->break_glass)
		note(j, b->break_glass ? &j->looser : &j->tighter,
		     "break-glass %s", b->break_glass ? "newly allowed"
						      : "no longer allowed");
	else if (a->break_glass)
		durations_delta(j, "break-glass max", a->break_glass_max_s,
				b->break_glass_max_s);
	if (a->require_reason != b->require_reason)
		note(j, a->require_reason ? &j->looser : &j->tighter,
		     "reason %s", a->require_reason ? "no longer required"
						    : "now required");
	if ((a->ticket_pattern == NULL) != (b->ticket_pattern == NULL))
		note(j, a->ticket_pattern ? &j->looser : &j->tighter,
		     "ticket %s", a->ticket_pattern ? "no longer required"
						    : "now required");
	else if (a->ticket_pattern && strcmp(a->ticket_pattern, b->ticket_pattern) != 0)
		note(j, &j->other, "ticket pattern %.64s -> %.64s",
		     a->ticket_pattern, b->ticket_pattern);
	approvers_delta(j, a, b);
	if (strcmp(a->name, b->name) != 0)
		note(j, &j->other, "policy %s -> %s", a->name, b->name);
}

static int push_delta(struct matrix_delta **v, size_t *n, size_t *cap,
		      const struct matrix_delta *d)
{
	if (*n == *cap) {
		struct matrix_delta *nv = vec_grow(*v, cap, sizeof(*nv), 64);

		if (nv == NULL)
			return JG_ERR_NOMEM;
		*v = nv;
	}
	(*v)[(*n)++] = *d;
	return JG_OK;
}

int matrix_diff(const struct matrix *old, const struct matrix *new_,
		struct matrix_delta **out, size_t *n)
{
	const struct matrix_row **a = sorted_rows(old), **b = sorted_rows(new_);
	struct matrix_delta *v = NULL, d;
	size_t i = 0, k = 0, nv = 0, cap = 0;
	int rc = JG_ERR_NOMEM;

	*out = NULL;
	*n = 0;
	if (a == NULL || b == NULL)
		goto out;
	while (i < old->nrows || k < new_->nrows) {
		int c = i == old->nrows ? 1 : k == new_->nrows
			? -1 : row_key_cmp(a[i], b[k]);
		struct judge j = {d.what, sizeof(d.what), 0, false, false, false};

		memset(&d, 0, sizeof(d));
		if (c < 0) {
			d.kind = MX_REMOVED;
			d.before = a[i++];
		} else if (c > 0) {
			d.kind = MX_ADDED;
			d.after = b[k++];
		} else {
			d.before = a[i++];
			d.after = b[k++];
			judge_rows(d.before, d.after, &j);
			if (!j.looser && !j.tighter && !j.other)
				continue;
			d.kind = j.looser ? MX_LOOSENED : j.tighter ? MX_TIGHTENED
								   : MX_CHANGED;
		}
		if ((rc = push_delta(&v, &nv, &cap, &d)) != JG_OK)
			goto out;
	}
	*out = v;
	*n = nv;
	v = NULL;
	rc = JG_OK;
out:
	free(v);
	free(a);
	free(b);
	return rc;
}
