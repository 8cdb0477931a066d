/* What `jitgate selftest` needs from the daemon (design section 11):
 * GET /readyz?verbose=1 (why ready or not, per part), GET /v1/selftest
 * (its configuration, for the selftest identity and admins), and read
 * access to the selftest identity's own audit events and to the chain's
 * verification.  See docs/policy-testing.md. */
#include <string.h>

#include "api/api_internal.h"
#include "api/render.h"
#include "core/policy.h"

static bool is_selftest(const struct conn *c)
{
	const struct selftest_cfg *s = &c->cfg->selftest;

	return s->enabled && strcmp(c->who.subject.name, s->subject) == 0;
}

bool selftest_audit_allowed(const struct conn *c, const char *url)
{
	if (policy_is_auditor(c->cfg, &c->who.subject))
		return true;
	/* its own events (handle_audit_list narrows the filter) and whether
	 * the chain verifies ({ok, count, head}: no event content) */
	return is_selftest(c) && (strcmp(url, "/v1/audit") == 0 ||
				  strcmp(url, "/v1/audit/verify") == 0);
}

const char *selftest_audit_subject(const struct conn *c)
{
	return policy_is_auditor(c->cfg, &c->who.subject) ? NULL : c->who.subject.name;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

void handle_selftest_info(struct conn *c)
{
	const struct selftest_cfg *s = &c->cfg->selftest;
	json_t *doc;

	if (!s->enabled) {
		conn_error(c, 404, "not_found", "no selftest: section in the config");
		return;
	}
	if (!is_selftest(c) && !policy_is_admin(c->cfg, &c->who.subject)) {
		conn_error(c, 403, "forbidden",
			   "only the selftest identity and admins may read this");
		return;
	}
	doc = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "subject", s->subject,
			"resource", s->resource, "role", s->role, "postgres_resource",
			str_or_null(s->postgres_resource), "postgres_role",
			str_or_null(s->postgres_role), "gateway_listen",
			str_or_null(c->cfg->gateway.enabled ? c->cfg->gateway.postgres_listen
							    : NULL),
			"oidc_issuer", str_or_null(c->cfg->oidc.enabled ? c->cfg->oidc.issuer
									: NULL));
	if (doc != NULL && c->deps->health != NULL)
		c->deps->health(c->deps->health_ctx, true, doc);
	conn_reply(c, 200, doc);
}

struct MHD_Response *selftest_readyz(struct conn *c, bool engine_ready,
				     bool store_ok, const char *why, int *status)
{
	json_t *doc = json_pack("{s:b, s:b, s:b, s:s?}", "ready", engine_ready && store_ok,
				"engine", engine_ready, "store", store_ok, "why", why);
	char *text;

	*status = engine_ready && store_ok ? 200 : 503;
	if (doc != NULL && c->deps->health != NULL)
		c->deps->health(c->deps->health_ctx, false, doc);
	text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(doc);
	if (text == NULL)
		return NULL;
	return MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
}
