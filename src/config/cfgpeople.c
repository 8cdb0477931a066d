#include "config/cfgpeople.h"

#include <stdlib.h>
#include <string.h>

#define EMAIL_DOMAIN_MAX 253

static bool url_ok(const char *s)
{
	return ((strncmp(s, "https://", 8) == 0 && s[8] != '\0') ||
		(strncmp(s, "http://", 7) == 0 && s[7] != '\0')) &&
	       strlen(s) < 512;
}

/* A DNS name: labels of letters, digits and '-', dot-separated. */
static bool domain_ok(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > EMAIL_DOMAIN_MAX || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || ch == '-') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

static int read_webhooks(struct cfgval_ctx *c, const struct ytree *v,
			 struct people_cfg *p)
{
	static const char *const keys[] = {"url", "secret_env", NULL};
	int rc = cfgval_list(c, v, "webhooks", CFGPEOPLE_WEBHOOKS_MAX, false);

	if (rc < 0)
		return rc;
	p->webhooks = calloc(v->n, sizeof(*p->webhooks));
	if (p->webhooks == NULL)
		return JG_ERR_NOMEM;
	p->nwebhooks = v->n;
	for (size_t i = 0; i < v->n; i++) {
		const struct ytree *m = v->kids[i], *f[2];
		struct people_webhook_cfg *w = &p->webhooks[i];

		w->line = m->line;
		if ((rc = cfgval_want(c, m, YTREE_MAP, "webhooks")) < 0 ||
		    (rc = cfgval_fields(c, m, "webhooks", keys, f)) < 0)
			return rc;
		if (f[0] == NULL)
			return cfgval_missing(c, m, "webhooks", "url");
		/* a webhook URL may embed a secret path: never echoed */
		if ((rc = cfgval_checked(c, f[0], "url", url_ok,
					 "an http:// or https:// URL", false, &w->url)) < 0)
			return rc;
		if (f[1] != NULL &&
		    (rc = cfgval_checked(c, f[1], "secret_env", cfgval_env_name_ok,
					 "an environment variable name", true,
					 &w->secret_env)) < 0)
			return rc;
	}
	return JG_OK;
}

int cfgpeople_read(struct cfgval_ctx *c, const struct ytree *v,
		   const struct slack_cfg *slack, struct people_cfg *p)
{
	static const char *const keys[] = {"slack", "email_domain", "webhooks",
					   "expiring_before", "everyone", NULL};
	const struct ytree *f[5];
	int rc;

	p->expiring_before_s = CFGPEOPLE_EXPIRING_DEFAULT_S;
	p->line = v->line;
	if ((rc = cfgval_want(c, v, YTREE_MAP, "notify_people")) < 0 ||
	    (rc = cfgval_fields(c, v, "notify_people", keys, f)) < 0)
		return rc;
	if (f[0] != NULL) {
		if ((rc = cfgval_bool(c, f[0], "slack", &p->slack)) < 0)
			return rc;
		if (p->slack && !slack->enabled)
			return cfgval_err(c, f[0]->line, "slack: needs the 'slack' "
					  "section (the bot token that sends the DMs)");
	}
	if (f[1] != NULL) {
		if (!p->slack)
			return cfgval_err(c, f[1]->line, "email_domain: only with "
					  "slack: true (it finds Slack users by email)");
		if ((rc = cfgval_checked(c, f[1], "email_domain", domain_ok,
					 "a domain name such as example.com", true,
					 &p->email_domain)) < 0)
			return rc;
	}
	if (f[2] != NULL && (rc = read_webhooks(c, f[2], p)) < 0)
		return rc;
	if (!p->slack && p->nwebhooks == 0)
		return cfgval_err(c, v->line, "notify_people: needs slack: true or "
				  "webhooks (nobody would be told anything)");
	if (f[3] != NULL) {
		if ((rc = cfgval_duration(c, f[3], "expiring_before",
					  &p->expiring_before_s)) < 0)
			return rc;
		if (p->expiring_before_s > CFGPEOPLE_EXPIRING_MAX_S)
			return cfgval_err(c, f[3]->line,
					  "expiring_before: at most 24h (0s: no warning)");
	}
	if (f[4] != NULL &&
	    (rc = cfgval_principals(c, f[4], "everyone", false, &p->everyone)) < 0)
		return rc;
	p->enabled = true;
	return JG_OK;
}

void cfgpeople_free(struct people_cfg *p)
{
	free(p->email_domain);
	for (size_t i = 0; i < p->nwebhooks; i++) {
		free(p->webhooks[i].url);
		free(p->webhooks[i].secret_env);
	}
	free(p->webhooks);
	cfgval_free_principals(&p->everyone);
	memset(p, 0, sizeof(*p));
}
