#include "config/cfgslack.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_API_URL "https://slack.com/api"

static bool api_url_ok(const char *s)
{
	return ((strncmp(s, "https://", 8) == 0 && s[8] != '\0') ||
		(strncmp(s, "http://", 7) == 0 && s[7] != '\0')) &&
	       strlen(s) < 512 && s[strlen(s) - 1] != '/';
}

/* Slack user ids: capital letters and digits ("U024BE7LH", "W0123"). */
static bool slack_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

static int read_users(struct cfgval_ctx *c, const struct ytree *v,
		      struct slack_cfg *s)
{
	char shown[72];
	struct cfgval_key *keys;
	int rc;

	if ((rc = cfgval_want(c, v, YTREE_MAP, "users")) < 0)
		return rc;
	if (v->n > CFGSLACK_USERS_MAX)
		return cfgval_err(c, v->line, "users: more than %d", CFGSLACK_USERS_MAX);
	s->users = calloc(v->n ? v->n : 1, sizeof(*s->users));
	if (s->users == NULL)
		return JG_ERR_NOMEM;
	s->nusers = v->n;
	for (size_t i = 0; i < v->n; i++) {
		const struct ytree *k = v->kids[2 * i], *val = v->kids[2 * i + 1];
		struct slack_user_cfg *u = &s->users[i];

		u->line = k->line;
		if (!slack_id_ok(k->str))
			return cfgval_err(c, k->line, "users: '%s' is not a Slack "
					  "user id (U024BE7LH)", cfgval_show(k->str, shown));
		if ((u->id = strdup(k->str)) == NULL)
			return JG_ERR_NOMEM;
		if ((rc = cfgval_checked(c, val, "users", cfgval_principal_name_ok,
					 "a subject name", true, &u->subject)) < 0)
			return rc;
	}
	keys = calloc(v->n ? v->n : 1, sizeof(*keys));
	if (keys == NULL)
		return JG_ERR_NOMEM;
	for (size_t i = 0; i < v->n; i++)
		keys[i] = (struct cfgval_key){s->users[i].id, strlen(s->users[i].id),
					      s->users[i].line};
	rc = cfgval_unique(c, keys, v->n, "Slack user id", true);
	free(keys);
	return rc;
}

int cfgslack_read(struct cfgval_ctx *c, const struct ytree *v,
		  struct slack_cfg *s)
{
	static const char *const keys[] = {"signing_secret_env", "bot_token_env",
					   "api_url", "users", NULL};
	const struct ytree *f[4];
	int rc;

	if ((rc = cfgval_want(c, v, YTREE_MAP, "slack")) < 0 ||
	    (rc = cfgval_fields(c, v, "slack", keys, f)) < 0)
		return rc;
	if (f[0] == NULL)
		return cfgval_missing(c, v, "slack", "signing_secret_env");
	if (f[1] == NULL)
		return cfgval_missing(c, v, "slack", "bot_token_env");
	if ((rc = cfgval_checked(c, f[0], "signing_secret_env", cfgval_env_name_ok,
				 "an environment variable name", true,
				 &s->signing_secret_env)) < 0 ||
	    (rc = cfgval_checked(c, f[1], "bot_token_env", cfgval_env_name_ok,
				 "an environment variable name", true,
				 &s->bot_token_env)) < 0)
		return rc;
	if (f[2] != NULL)
		rc = cfgval_checked(c, f[2], "api_url", api_url_ok,
				    "an http:// or https:// URL without a trailing /",
				    true, &s->api_url);
	else
		rc = (s->api_url = strdup(DEFAULT_API_URL)) ? JG_OK : JG_ERR_NOMEM;
	if (rc < 0)
		return rc;
	if (f[3] != NULL && (rc = read_users(c, f[3], s)) < 0)
		return rc;
	s->enabled = true;
	return JG_OK;
}

void cfgslack_free(struct slack_cfg *s)
{
	free(s->signing_secret_env);
	free(s->bot_token_env);
	free(s->api_url);
	for (size_t i = 0; i < s->nusers; i++) {
		free(s->users[i].id);
		free(s->users[i].subject);
	}
	free(s->users);
}

const char *config_slack_subject(const struct config *cfg, const char *slack_id)
{
	for (size_t i = 0; i < cfg->slack.nusers; i++)
		if (strcmp(cfg->slack.users[i].id, slack_id) == 0)
			return cfg->slack.users[i].subject;
	return NULL;
}
