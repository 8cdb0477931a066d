/* POST /v1/slack/interactions (design section 13): a signed Slack button
 * click becomes the same engine command as POST /v1/requests/ID/approve or
 * /deny, by the subject the Slack user maps to (slack.users), audited with
 * detail.via "slack".  The signature is checked before anything else
 * (api/slackin.c); a forged or replayed request is refused 401 and
 * audited as auth.failed.  The connection is suspended while the engine
 * works, like every other transition: no HTTP worker waits on the store.
 * A refused click is answered to the clicker only: an ephemeral message
 * in the HTTP answer and, when the payload's response_url is Slack's (or
 * the configured api_url's origin), posted there by the notifier thread,
 * which is how Slack shows it. */
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/slackin.h"
#include "config/cfgslack.h"
#include "server/notify.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"

static void ephemeral(struct conn *c, const char *fmt, ...) JG_PRINTF(2, 3);

static void ephemeral(struct conn *c, const char *fmt, ...)
{
	char text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Slack shows the answer to a block_actions click reliably only
	 * through response_url: the notifier thread posts it there */
	if (c->slack_respond != NULL && !notifier_respond(c->deps->notifier,
							  c->slack_respond, text))
		log_warn(NULL, "Slack click answer not queued");
	/* Slack wants 200 for every click it delivered; the text says why */
	conn_reply(c, 200, json_pack("{s:s, s:b, s:s}", "response_type", "ephemeral",
				     "replace_original", 0, "text", text));
}

static void after_click(struct conn *c)
{
	if (c->cmd.err != JG_OK) {
		ephemeral(c, "jitgate refused: %s", c->cmd.res.message);
	} else {
		conn_reply(c, 200, json_pack("{s:s, s:b, s:s}", "response_type",
					     "ephemeral", "replace_original", 0,
					     "text", c->cmd.op == ENG_APPROVE
					     ? "jitgate: approved" : "jitgate: denied"));
	}
	request_clear(&c->cmd.out);
}

/* c->who as the subject, with its static identity's groups. */
static int act_as(struct conn *c, const char *subject)
{
	const struct config *cfg = c->cfg;

	authn_clear(&c->who);
	c->who.name = strdup(subject);
	if (c->who.name == NULL)
		return JG_ERR_NOMEM;
	c->who.method = "slack";
	for (size_t i = 0; i < cfg->nidentities; i++) {
		const struct identity_cfg *id = &cfg->identities[i];

		if (strcmp(id->subject, subject) != 0)
			continue;
		c->who.groups = calloc(id->ngroups ? id->ngroups : 1, sizeof(char *));
		if (c->who.groups == NULL)
			return JG_ERR_NOMEM;
		for (size_t g = 0; g < id->ngroups; g++) {
			if ((c->who.groups[g] = strdup(id->groups[g])) == NULL)
				return JG_ERR_NOMEM;
			c->who.ngroups++;
		}
		break;
	}
	authn_finish(&c->who);
	return JG_OK;
}

/* approve_in: web: the click links to the web UI instead of acting. */
static bool web_only(struct conn *c, int64_t id)
{
	const struct policy_cfg *p;
	struct request r;
	bool web = false;

	if (store_request_get(c->deps->store, id, &r) != JG_OK)
		return false; /* the engine answers "no request" */
	p = config_policy(c->cfg, r.policy);
	web = p != NULL && p->approve_in_web;
	request_clear(&r);
	return web;
}

void handle_slack_interaction(struct conn *c)
{
	const struct slack_cfg *s = &c->cfg->slack;
	const char *ts, *sig, *subject;
	struct slackin_click click;
	struct auth_failure fail;
	char why[128];
	int rc;

	if (!s->enabled) {
		conn_error(c, 404, "not_found", "no slack section in the config");
		return;
	}
	ts = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
					 "X-Slack-Request-Timestamp");
	sig = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
					  "X-Slack-Signature");
	rc = slackin_verify(getenv(s->signing_secret_env), ts, sig,
			    c->body ? c->body : "", c->len, time_now_ms() / 1000,
			    why, sizeof(why));
	if (rc == JG_ERR_NOMEM) {
		conn_fail(c, rc, "out of memory");
		return;
	}
	if (rc != JG_OK) {
		memset(&fail, 0, sizeof(fail));
		snprintf(fail.reason, sizeof(fail.reason), "%s", why);
		conn_refuse_auth(c, "slack", &fail);
		return;
	}
	rc = slackin_parse(c->body ? c->body : "", c->len, &click, why, sizeof(why));
	if (rc == JG_ERR_NOMEM) {
		conn_fail(c, rc, "out of memory");
		return;
	}
	if (rc != JG_OK) {
		conn_error(c, 400, "bad_request", "%s", why);
		return;
	}
	/* only to Slack (or the configured API's origin): a forged payload
	 * must not make us POST anywhere else */
	if (slackin_response_url_ok(click.response_url, s->api_url) &&
	    (c->slack_respond = strdup(click.response_url)) == NULL) {
		conn_fail(c, JG_ERR_NOMEM, "out of memory");
		return;
	}
	subject = config_slack_subject(c->cfg, click.user_id);
	if (subject == NULL) {
		ephemeral(c, "jitgate: Slack user %s is not mapped to a jitgate "
			  "subject (slack.users)", click.user_id);
		return;
	}
	if (web_only(c, click.request_id)) {
		if (c->cfg->web.public_url != NULL)
			ephemeral(c, "Request %lld must be approved in the web UI: "
				  "%s/ui/requests/%lld", (long long)click.request_id,
				  c->cfg->web.public_url, (long long)click.request_id);
		else
			ephemeral(c, "Request %lld must be approved in the web UI",
				  (long long)click.request_id);
		return;
	}
	if (act_as(c, subject) != JG_OK) {
		conn_fail(c, JG_ERR_NOMEM, "out of memory");
		return;
	}
	c->authed = true;
	memset(&c->cmd, 0, sizeof(c->cmd));
	c->cmd.op = click.action == SLACKIN_APPROVE ? ENG_APPROVE : ENG_DENY;
	c->cmd.who = &c->who.subject;
	c->cmd.id = click.request_id;
	c->cmd.via = "slack";
	conn_submit(c, after_click);
}
