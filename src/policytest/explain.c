/* policy explain; see explain.h. */
#include "policytest/explain.h"

#include <string.h>

#include "core/policy.h"
#include "policytest/pteval.h"
#include "util/duration.h"

static void put_principal(const struct principal *p, FILE *f)
{
	fprintf(f, "%s:%s", p->kind == PRINCIPAL_USER ? "user" : "group", p->name);
}

static void put_list(const struct principal_list *l, FILE *f)
{
	fputc('[', f);
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			fputs(", ", f);
		put_principal(&l->v[i], f);
	}
	fputc(']', f);
}

static void put_strv(char *const *v, size_t n, FILE *f)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? ", " : "", v[i]);
	fputc(']', f);
}

static void explain_policy(const struct config *cfg, const struct policy_cfg *p,
			   size_t idx, const struct subject *who,
			   const struct create_input *in, bool decided, FILE *f)
{
	struct policy_why w;
	bool match;

	policy_why(p, who, in->resource, in->role, &w);
	match = w.requester >= 0 && w.resource >= 0 && w.role >= 0;
	fprintf(f, "%zu. %s (%s:%d): ", idx + 1, p->name, cfg->path, p->line);
	if (decided) {
		fprintf(f, "%s, not consulted (an earlier policy decided)\n",
			match ? "would match" : "no match");
		return;
	}
	fputs(match ? "MATCH\n" : "no match\n", f);
	fputs("     requester: ", f);
	if (w.requester >= 0) {
		fputs("yes, ", f);
		put_principal(&p->requesters.v[w.requester], f);
	} else {
		fputs("no, not in ", f);
		put_list(&p->requesters, f);
	}
	fprintf(f, "\n     resource:  ");
	if (w.resource >= 0)
		fprintf(f, "yes, %s", p->resources[w.resource]);
	else {
		fputs("no, not in ", f);
		put_strv(p->resources, p->nresources, f);
	}
	fprintf(f, "\n     role:      ");
	if (w.role >= 0)
		fprintf(f, "yes, %s\n", p->roles[w.role]);
	else {
		fputs("no, not in ", f);
		put_strv(p->roles, p->nroles, f);
		fputc('\n', f);
	}
}

static void explain_terms(const struct policy_cfg *p, FILE *f)
{
	char d[32];

	duration_format(p->max_duration_s, d, sizeof(d));
	fprintf(f, "terms of %s: max %s", p->name, d);
	if (p->approvals == 0) {
		fputs(", granted on request", f);
	} else {
		fprintf(f, ", %d approval%s from ", p->approvals,
			p->approvals == 1 ? "" : "s");
		put_list(&p->approvers, f);
		fputs(p->allow_self_approval ? " (self-approval allowed)"
					     : " (not the requester)", f);
	}
	if (p->require_reason)
		fputs(", reason required", f);
	if (p->ticket_pattern)
		fprintf(f, ", ticket matching %s", p->ticket_pattern);
	if (p->break_glass) {
		duration_format(p->break_glass_max_s, d, sizeof(d));
		fprintf(f, ", break-glass up to %s", d);
	}
	fputc('\n', f);
}

int explain_write(const struct config *cfg, const struct subject *who,
		  const struct create_input *in_, int64_t now_ms, FILE *f)
{
	const struct policy_cfg *pol = policy_match(cfg, who, in_->resource, in_->role);
	struct create_input in = *in_;
	struct core_result res;
	struct request r;
	char d[32];
	int rc;

	fprintf(f, "subject %s, groups [", who->name);
	for (size_t i = 0; i < who->ngroups; i++)
		fprintf(f, "%s%s", i ? ", " : "", who->groups[i]);
	fprintf(f, "] asks for %s on %s\n", in.role, in.resource);
	for (size_t i = 0; i < cfg->npolicies; i++) {
		const struct policy_cfg *p = &cfg->policies[i];

		explain_policy(cfg, p, i, who, &in, pol != NULL && p > pol, f);
	}
	if (cfg->npolicies == 0)
		fputs("(the config has no policies)\n", f);
	if (pol != NULL)
		explain_terms(pol, f);
	if (in.duration_s == 0 && pol != NULL)
		in.duration_s = in.break_glass ? pol->break_glass_max_s : pol->max_duration_s;
	if (in.duration_s == 0)
		in.duration_s = 1;
	duration_format(in.duration_s, d, sizeof(d));
	rc = core_request_create(cfg, who, &in, now_ms, &r, &res);
	if (rc == JG_ERR_NOMEM)
		return rc;
	fprintf(f, "decision for %s%s: ", d, in.break_glass ? " (break-glass)" : "");
	if (rc != JG_OK) {
		fprintf(f, "refused %d: %s", pteval_status(rc), res.message);
		if (res.field && ((strcmp(res.field, "reason") == 0 && in.reason == NULL) ||
				  (strcmp(res.field, "ticket") == 0 && in.ticket == NULL)))
			fprintf(f, " (give --%s to see the decision with one)", res.field);
		fputc('\n', f);
		return 2;
	}
	if (r.state == REQ_ACTIVE)
		fprintf(f, "granted by %s\n", r.policy);
	else
		fprintf(f, "pending by %s, %d approval%s needed\n", r.policy,
			r.approvals_required, r.approvals_required == 1 ? "" : "s");
	rc = r.state == REQ_ACTIVE ? 0 : 1;
	request_clear(&r);
	return rc;
}
