#include "config/cfgselftest.h"

#include <stdlib.h>
#include <string.h>

void cfgselftest_free(struct selftest_cfg *s)
{
	free(s->subject);
	free(s->resource);
	free(s->role);
	free(s->postgres_resource);
	free(s->postgres_role);
	memset(s, 0, sizeof(*s));
}

/* The role the selftest uses on res: want when res has it, else the only
 * role of res.  NULL when neither applies. */
static const char *pick_role(const struct resource_cfg *res, const char *want)
{
	if (want != NULL && config_role(res, want) != NULL)
		return want;
	return res->nroles == 1 ? res->roles[0].name : NULL;
}

static int read_resource(struct cfgval_ctx *c, const struct ytree *v,
			 const char *key, const struct config *cfg,
			 const struct resource_cfg **out)
{
	char shown[72], *name = NULL;
	int rc = cfgval_name(c, v, key, &name);

	if (rc < 0)
		return rc;
	*out = config_resource(cfg, name);
	if (*out == NULL)
		rc = cfgval_err(c, v->line, "%s: unknown resource '%s'", key,
				cfgval_show(name, shown));
	free(name);
	return rc;
}

int cfgselftest_read(struct cfgval_ctx *c, const struct ytree *m,
		     struct config *cfg)
{
	static const char *const keys[] = {"subject", "resource", "role",
					   "postgres_resource", NULL};
	struct selftest_cfg *s = &cfg->selftest;
	const struct resource_cfg *res, *pg = NULL;
	const struct ytree *v[4];
	const char *role;
	char shown[72];
	int rc;

	s->line = m->line;
	if ((rc = cfgval_fields(c, m, "selftest", keys, v)) < 0)
		return rc;
	if (v[0] == NULL)
		return cfgval_missing(c, m, "selftest", "subject");
	if (v[1] == NULL)
		return cfgval_missing(c, m, "selftest", "resource");
	if ((rc = cfgval_checked(c, v[0], "subject", cfgval_principal_name_ok,
				 "a subject name", true, &s->subject)) < 0)
		return rc;
	if ((rc = read_resource(c, v[1], "resource", cfg, &res)) < 0)
		return rc;
	if (v[2] != NULL) {
		if ((rc = cfgval_name(c, v[2], "role", &s->role)) < 0)
			return rc;
		if (config_role(res, s->role) == NULL)
			return cfgval_err(c, v[2]->line, "role: resource %s has no role '%s'",
					  res->name, cfgval_show(s->role, shown));
	} else {
		if (res->nroles != 1)
			return cfgval_err(c, v[1]->line,
					  "resource: %s has %zu roles; say which with 'role'",
					  res->name, res->nroles);
		if ((s->role = strdup(res->roles[0].name)) == NULL)
			return JG_ERR_NOMEM;
	}
	if ((s->resource = strdup(res->name)) == NULL)
		return JG_ERR_NOMEM;
	if (v[3] != NULL) {
		if ((rc = read_resource(c, v[3], "postgres_resource", cfg, &pg)) < 0)
			return rc;
		if (pg->kind != RESOURCE_POSTGRES)
			return cfgval_err(c, v[3]->line,
					  "postgres_resource: %s is not a postgres resource",
					  pg->name);
		role = pick_role(pg, s->role);
		if (role == NULL)
			return cfgval_err(c, v[3]->line,
					  "postgres_resource: %s has no role '%s' and more than one "
					  "role", pg->name, s->role);
		if ((s->postgres_resource = strdup(pg->name)) == NULL ||
		    (s->postgres_role = strdup(role)) == NULL)
			return JG_ERR_NOMEM;
	}
	s->enabled = true;
	return JG_OK;
}
