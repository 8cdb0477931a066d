/* GET /v1/catalog (design section 10): what the caller may request, and
 * for postgres resources where to connect (`gateway`).  Every
 * (resource, role) of the config is judged by the same first-match rule
 * that POST /v1/requests applies (policy_match), so the catalog never
 * offers what a request would be refused for lack of a policy. */
#include <stdio.h>

#include "api/api_internal.h"
#include "core/policy.h"

static json_t *principals_json(const struct principal_list *pl)
{
	json_t *a = json_array();
	char buf[SUBJECT_NAME_MAX + 8];

	for (size_t i = 0; a && i < pl->n; i++) {
		snprintf(buf, sizeof(buf), "%s:%s",
			 pl->v[i].kind == PRINCIPAL_USER ? "user" : "group", pl->v[i].name);
		if (json_array_append_new(a, json_string(buf)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* A postgres entry says where to connect: gateway.public_address (null
 * when it is not known, docs/configuration.md). */
static json_t *with_gateway(json_t *e, const struct resource_cfg *res,
			    const struct gateway_cfg *gw)
{
	const char *addr = gw->enabled ? gw->public_address : NULL;

	if (e == NULL || res->kind != RESOURCE_POSTGRES)
		return e;
	if (json_object_set_new(e, "gateway", addr ? json_string(addr) : json_null()) != 0) {
		json_decref(e);
		return NULL;
	}
	return e;
}

static json_t *entry_json(const struct resource_cfg *res, const struct role_cfg *role,
			  const struct policy_cfg *pol)
{
	json_t *approvers = principals_json(&pol->approvers);

	if (approvers == NULL)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:i, s:o, s:b, s:b, s:o, s:o}",
			 "resource", res->name, "kind",
			 res->kind == RESOURCE_POSTGRES ? "postgres" : "generic", "role",
			 role->name, "policy", pol->name, "max_duration_s",
			 (json_int_t)pol->max_duration_s, "approvals", pol->approvals,
			 "approvers", approvers, "allow_self_approval",
			 pol->allow_self_approval, "require_reason", pol->require_reason,
			 "ticket_pattern",
			 pol->ticket_pattern ? json_string(pol->ticket_pattern) : json_null(),
			 "break_glass_max_duration_s",
			 pol->break_glass ? json_integer(pol->break_glass_max_s) : json_null());
}

void handle_catalog(struct conn *c)
{
	json_t *entries = json_array();

	for (size_t i = 0; entries && i < c->cfg->nresources; i++) {
		const struct resource_cfg *res = &c->cfg->resources[i];

		for (size_t j = 0; j < res->nroles; j++) {
			const struct policy_cfg *pol =
				policy_match(c->cfg, &c->who.subject, res->name,
					     res->roles[j].name);
			json_t *e;

			if (pol == NULL)
				continue;
			e = with_gateway(entry_json(res, &res->roles[j], pol), res,
					 &c->cfg->gateway);
			if (e == NULL || json_array_append_new(entries, e) != 0) {
				json_decref(entries);
				entries = NULL;
				break;
			}
		}
	}
	if (entries == NULL) {
		conn_fail(c, JG_ERR_NOMEM, NULL);
		return;
	}
	conn_reply(c, 200, json_pack("{s:o}", "entries", entries));
}
