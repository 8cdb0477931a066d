/* Config loader: YAML (config/ytree) → typed struct config, validated whole.
 * The section readers fill a zeroed struct config; any error frees it, so a
 * caller sees either a complete valid config or nothing. */
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfgrules.h"
#include "config/cfgflow.h"
#include "config/cfggateway.h"
#include "config/cfgpeople.h"
#include "config/cfgselftest.h"
#include "config/cfgslack.h"
#include "config/cfgweb.h"
#include "config/cfgval.h"
#include "config/ytree.h"
#include "core/actions.h"
#include "util/crypto.h"
#include "util/fileio.h"
#include "util/netaddr.h"

/* Bounds on list sizes, far above any real deployment. */
#define MAX_IDENTITIES 10000
#define MAX_NOTIFY 64
#define MAX_EVENTS 32
#define MAX_AUDIENCES 16
#define MAX_LEEWAY_S 600
#define MAX_STR 4096
#define MAX_LIMIT_COUNT 1000000
#define MAX_LIMIT_TIMEOUT_S 3600

static const char *const oidc_algorithms[] = {
	"RS256", "PS256", "ES256", "EdDSA", NULL,
};

static bool in_list(const char *const *list, const char *s)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

bool config_name_valid(const char *s)
{
	size_t i;

	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (i = 1; s[i] != '\0'; i++) {
		char ch = s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return false;
	}
	return i <= CONFIG_NAME_MAX;
}

bool config_notify_event_valid(const char *s)
{
	enum audit_action a;

	return strcmp(s, "*") == 0 || action_parse(s, &a);
}

static bool url_ok(const char *s)
{
	return (strncmp(s, "https://", 8) == 0 && s[8] != '\0') ||
	       (strncmp(s, "http://", 7) == 0 && s[7] != '\0');
}

static bool algorithm_ok(const char *s)
{
	return in_list(oidc_algorithms, s);
}

static bool storage_ok(const char *s)
{
	return (strncmp(s, "sqlite:", 7) == 0 && s[7] != '\0') ||
	       (strncmp(s, "postgresql://", 13) == 0 && s[13] != '\0') ||
	       (strncmp(s, "postgres://", 11) == 0 && s[11] != '\0');
}

/* ---- freeing ---------------------------------------------------------- */

static void free_resource(struct resource_cfg *r)
{
	free(r->name);
	free(r->host);
	free(r->dbname);
	free(r->tls_ca_file);
	free(r->tls_server_name);
	X509_STORE_free(r->tls_ca);
	for (size_t i = 0; i < r->nroles; i++) {
		free(r->roles[i].name);
		free(r->roles[i].user);
		free(r->roles[i].password_env);
	}
	free(r->roles);
}

static void free_policy(struct policy_cfg *p)
{
	free(p->name);
	cfgval_free_principals(&p->requesters);
	cfgval_free_strv(p->resources, p->nresources);
	cfgval_free_strv(p->roles, p->nroles);
	cfgval_free_principals(&p->approvers);
	if (p->ticket_pattern != NULL) /* set only once compiled */
		regfree(&p->ticket_re);
	free(p->ticket_pattern);
	cfgflow_free(p);
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->listen);
	free(cfg->storage);
	free(cfg->storage_password_env);
	free(cfg->node_id);
	cfgval_free_principals(&cfg->admins);
	cfgval_free_principals(&cfg->auditors);
	cfgval_free_principals(&cfg->checkers);
	for (size_t i = 0; i < cfg->nidentities; i++) {
		free(cfg->identities[i].subject);
		cfgval_free_strv(cfg->identities[i].groups,
				 cfg->identities[i].ngroups);
	}
	free(cfg->identities);
	for (size_t i = 0; i < cfg->nresources; i++)
		free_resource(&cfg->resources[i]);
	free(cfg->resources);
	for (size_t i = 0; i < cfg->npolicies; i++)
		free_policy(&cfg->policies[i]);
	free(cfg->policies);
	for (size_t i = 0; i < cfg->nnotify; i++) {
		free(cfg->notify[i].url);
		free(cfg->notify[i].channel);
		free(cfg->notify[i].secret_env);
		cfgval_free_strv(cfg->notify[i].events, cfg->notify[i].nevents);
	}
	free(cfg->notify);
	cfgslack_free(&cfg->slack);
	cfgpeople_free(&cfg->people);
	free(cfg->oidc.issuer);
	cfgval_free_strv(cfg->oidc.audiences, cfg->oidc.naudiences);
	free(cfg->oidc.groups_claim);
	free(cfg->oidc.subject_claim);
	free(cfg->oidc.jwks_uri);
	cfgweb_free(&cfg->web);
	cfgselftest_free(&cfg->selftest);
	cfgval_free_strv(cfg->oidc.algorithms, cfg->oidc.nalgorithms);
	cfggateway_free(&cfg->gateway);
	free(cfg);
}

static int dupstr(const char *s, char **out)
{
	*out = strdup(s);
	return *out == NULL ? JG_ERR_NOMEM : JG_OK;
}

/* ---- identities -------------------------------------------------------- */

static int read_identity(struct cfgval_ctx *c, const struct ytree *m,
			 struct identity_cfg *id)
{
	static const char *const keys[] = {"subject", "groups", "token_sha256",
					   NULL};
	const struct ytree *v[3];
	int rc;

	id->line = m->line;
	rc = cfgval_fields(c, m, "identity", keys, v);
	if (rc < 0)
		return rc;
	if (v[0] == NULL)
		return cfgval_missing(c, m, "identity", "subject");
	if (v[2] == NULL)
		return cfgval_missing(c, m, "identity", "token_sha256");
	rc = cfgval_name(c, v[0], "subject", &id->subject);
	if (rc < 0)
		return rc;
	if (v[1] != NULL) {
		rc = cfgval_str_list(c, v[1], "groups", SUBJECT_GROUPS_MAX, true,
				     cfgval_principal_name_ok,
				     "a valid group name", &id->groups,
				     &id->ngroups);
		if (rc < 0)
			return rc;
	}
	rc = cfgval_want(c, v[2], YTREE_SCALAR, "token_sha256");
	if (rc < 0)
		return rc;
	if (v[2]->len != SHA256_HEX_LEN ||
	    hex_decode(v[2]->str, id->token_sha256, SHA256_LEN) < 0)
		return cfgval_err(c, v[2]->line,
				  "token_sha256: expected exactly 64 hex digits "
				  "(the SHA-256 of the token, never the token)");
	return JG_OK;
}

static int identity_digest_cmp(const void *a, const void *b)
{
	return memcmp(((const struct identity_cfg *)a)->token_sha256,
		      ((const struct identity_cfg *)b)->token_sha256, SHA256_LEN);
}

static int read_identities(struct cfgval_ctx *c, const struct ytree *v,
			   struct config *cfg)
{
	struct cfgval_key *keys = NULL;
	int rc;

	rc = cfgval_list(c, v, "identities", MAX_IDENTITIES, true);
	if (rc < 0)
		return rc;
	cfg->identities = calloc(v->n ? v->n : 1, sizeof(*cfg->identities));
	if (cfg->identities == NULL)
		return JG_ERR_NOMEM;
	cfg->nidentities = v->n;
	for (size_t i = 0; i < v->n; i++) {
		rc = read_identity(c, v->kids[i], &cfg->identities[i]);
		if (rc < 0)
			return rc;
	}
	rc = cfgval_unique_names(c, cfg->identities, cfg->nidentities,
				 sizeof(*cfg->identities),
				 offsetof(struct identity_cfg, subject),
				 offsetof(struct identity_cfg, line), "identity subject");
	if (rc < 0)
		return rc;
	keys = calloc(v->n ? v->n : 1, sizeof(*keys));
	if (keys == NULL)
		return JG_ERR_NOMEM;
	/* One token must never stand for two subjects. */
	for (size_t i = 0; i < v->n; i++)
		keys[i] = (struct cfgval_key){cfg->identities[i].token_sha256,
			SHA256_LEN, cfg->identities[i].line};
	rc = cfgval_unique(c, keys, v->n, "token_sha256", false);
	if (rc == JG_OK)
		qsort(cfg->identities, cfg->nidentities, sizeof(*cfg->identities),
		      identity_digest_cmp);
	free(keys);
	return rc;
}

/* ---- oidc, gateway ----------------------------------------------------- */

static int read_leeway(struct cfgval_ctx *c, const struct ytree *v,
		       int64_t *out)
{
	int rc = cfgval_want(c, v, YTREE_SCALAR, "leeway");

	if (rc < 0)
		return rc;
	/* duration_parse refuses 0, and "no leeway" is a fair choice. */
	if (v->plain && v->str[0] >= '0' && v->str[0] <= '9' &&
	    strspn(v->str, "0123456789") == v->len)
		return cfgval_int(c, v, "leeway", 0, MAX_LEEWAY_S, out);
	if (strcmp(v->str, "0s") == 0) {
		*out = 0;
		return JG_OK;
	}
	rc = cfgval_duration(c, v, "leeway", out);
	if (rc < 0)
		return rc;
	if (*out > MAX_LEEWAY_S)
		return cfgval_err(c, v->line, "leeway: at most %ds",
				  MAX_LEEWAY_S);
	return JG_OK;
}

static int read_oidc(struct cfgval_ctx *c, const struct ytree *m,
		     struct oidc_cfg *o)
{
	static const char *const keys[] = {"issuer", "audience", "groups_claim",
					   "subject_claim", "jwks_uri",
					   "algorithms", "leeway", NULL};
	const struct ytree *v[7];
	int rc;

	rc = cfgval_fields(c, m, "oidc", keys, v);
	if (rc < 0)
		return rc;
	o->enabled = true;
	if (v[0] == NULL)
		return cfgval_missing(c, m, "oidc", "issuer");
	if (v[1] == NULL)
		return cfgval_missing(c, m, "oidc", "audience");
	rc = cfgval_checked(c, v[0], "issuer", url_ok,
			    "an http:// or https:// URL", true, &o->issuer);
	if (rc < 0)
		return rc;
	if (v[1]->type == YTREE_SEQ) {
		rc = cfgval_str_list(c, v[1], "audience", MAX_AUDIENCES, false,
				     NULL, NULL, &o->audiences, &o->naudiences);
	} else {
		o->audiences = calloc(1, sizeof(*o->audiences));
		if (o->audiences == NULL)
			return JG_ERR_NOMEM;
		o->naudiences = 1;
		rc = cfgval_str(c, v[1], "audience", MAX_STR, &o->audiences[0]);
	}
	if (rc < 0)
		return rc;
	rc = v[2] ? cfgval_str(c, v[2], "groups_claim", 256, &o->groups_claim)
		  : dupstr("groups", &o->groups_claim);
	if (rc < 0)
		return rc;
	rc = v[3] ? cfgval_str(c, v[3], "subject_claim", 256, &o->subject_claim)
		  : dupstr("sub", &o->subject_claim);
	if (rc < 0)
		return rc;
	if (v[4] != NULL) {
		rc = cfgval_checked(c, v[4], "jwks_uri", url_ok,
				    "an http:// or https:// URL", true,
				    &o->jwks_uri);
		if (rc < 0)
			return rc;
	}
	if (v[5] != NULL) {
		rc = cfgval_str_list(c, v[5], "algorithms", 4, false,
				     algorithm_ok,
				     "one of RS256, PS256, ES256, EdDSA",
				     &o->algorithms, &o->nalgorithms);
		if (rc < 0)
			return rc;
		for (size_t i = 1; i < o->nalgorithms; i++)
			for (size_t j = 0; j < i; j++)
				if (strcmp(o->algorithms[i], o->algorithms[j]) == 0)
					return cfgval_err(c, v[5]->kids[i]->line,
							  "algorithms: '%s' listed twice",
							  o->algorithms[i]);
	} else {
		o->algorithms = calloc(4, sizeof(*o->algorithms));
		if (o->algorithms == NULL)
			return JG_ERR_NOMEM;
		o->nalgorithms = 4;
		for (size_t i = 0; i < 4; i++) {
			rc = dupstr(oidc_algorithms[i], &o->algorithms[i]);
			if (rc < 0)
				return rc;
		}
	}
	o->leeway_s = 60;
	if (v[6] != NULL)
		return read_leeway(c, v[6], &o->leeway_s);
	return JG_OK;
}

/* ---- limits ------------------------------------------------------------ */

static void limits_defaults(struct limits_cfg *l)
{
	l->http_connections = 1024;
	l->http_connections_per_ip = 64;
	l->gateway_connections = 10000;
	l->gateway_preauth_per_ip = 32;
	l->login_timeout_s = 10;
	l->header_timeout_s = 10;
	l->auth_failures_per_ip_per_min = 60;
}

static int read_limit_timeout(struct cfgval_ctx *c, const struct ytree *v,
			      const char *key, int64_t *out)
{
	int rc;

	if (v == NULL)
		return JG_OK;
	rc = cfgval_duration(c, v, key, out);
	if (rc < 0)
		return rc;
	if (*out > MAX_LIMIT_TIMEOUT_S)
		return cfgval_err(c, v->line, "%s: at most %ds", key,
				  MAX_LIMIT_TIMEOUT_S);
	return JG_OK;
}

static int read_limits(struct cfgval_ctx *c, const struct ytree *m,
		       struct limits_cfg *l)
{
	static const char *const keys[] = {
		"http_connections", "http_connections_per_ip",
		"gateway_connections", "gateway_preauth_per_ip",
		"login_timeout", "header_timeout",
		"auth_failures_per_ip_per_min", NULL};
	int64_t *counts[] = {&l->http_connections, &l->http_connections_per_ip,
			     &l->gateway_connections,
			     &l->gateway_preauth_per_ip};
	const struct ytree *v[7];
	int rc;

	rc = cfgval_fields(c, m, "limits", keys, v);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < 4; i++)
		if (v[i] != NULL &&
		    (rc = cfgval_int(c, v[i], keys[i], 1, MAX_LIMIT_COUNT,
				     counts[i])) < 0)
			return rc;
	if ((rc = read_limit_timeout(c, v[4], keys[4], &l->login_timeout_s)) < 0 ||
	    (rc = read_limit_timeout(c, v[5], keys[5], &l->header_timeout_s)) < 0)
		return rc;
	if (v[6] != NULL &&
	    (rc = cfgval_int(c, v[6], keys[6], 1, MAX_LIMIT_COUNT,
			     &l->auth_failures_per_ip_per_min)) < 0)
		return rc;
	if (l->http_connections_per_ip > l->http_connections)
		return cfgval_err(c, m->line,
				  "limits: http_connections_per_ip is larger "
				  "than http_connections");
	return JG_OK;
}

/* ---- notify ------------------------------------------------------------ */

static int read_notify_one(struct cfgval_ctx *c, const struct ytree *m,
			   struct notify_cfg *n)
{
	static const char *const keys[] = {"kind", "url", "secret_env",
					   "events", "channel", "interactive",
					   NULL};
	const struct ytree *v[6];
	char shown[72];
	int rc;

	n->line = m->line;
	rc = cfgval_fields(c, m, "notify", keys, v);
	if (rc < 0)
		return rc;
	if (v[0] == NULL)
		return cfgval_missing(c, m, "notify", "kind");
	if (v[1] == NULL && v[4] == NULL)
		return cfgval_missing(c, m, "notify", "url");
	if (v[3] == NULL)
		return cfgval_missing(c, m, "notify", "events");
	rc = cfgval_want(c, v[0], YTREE_SCALAR, "kind");
	if (rc < 0)
		return rc;
	if (strcmp(v[0]->str, "slack") == 0)
		n->kind = NOTIFY_SLACK;
	else if (strcmp(v[0]->str, "webhook") == 0)
		n->kind = NOTIFY_WEBHOOK;
	else
		return cfgval_err(c, v[0]->line,
				  "kind: '%s' is not slack or webhook",
				  cfgval_show(v[0]->str, shown));
	if (v[4] != NULL) {
		/* design section 13: a channel, posted to with the bot token */
		if (n->kind != NOTIFY_SLACK || v[1] != NULL || v[2] != NULL)
			return cfgval_err(c, v[4]->line, "channel: only for kind "
					  "slack, without url or secret_env");
		if ((rc = cfgval_str(c, v[4], "channel", 80, &n->channel)) < 0)
			return rc;
		if (v[5] != NULL &&
		    (rc = cfgval_bool(c, v[5], "interactive", &n->interactive)) < 0)
			return rc;
	} else if (v[5] != NULL) {
		return cfgval_err(c, v[5]->line, "interactive: needs 'channel' "
				  "(a webhook URL cannot carry buttons)");
	}
	/* Webhook URLs often embed a secret path: never echo them. */
	if (v[1] != NULL &&
	    (rc = cfgval_checked(c, v[1], "url", url_ok, "an http:// or https:// URL",
				 false, &n->url)) < 0)
		return rc;
	if (v[2] != NULL) {
		rc = cfgval_checked(c, v[2], "secret_env", cfgval_env_name_ok,
				    "an environment variable name", true,
				    &n->secret_env);
		if (rc < 0)
			return rc;
	}
	return cfgval_str_list(c, v[3], "events", MAX_EVENTS, false,
			       config_notify_event_valid,
			       "an audit action (design section 5) or \"*\"",
			       &n->events, &n->nevents);
}

static int read_notify(struct cfgval_ctx *c, const struct ytree *v,
		       struct config *cfg)
{
	int rc = cfgval_list(c, v, "notify", MAX_NOTIFY, true);

	if (rc < 0)
		return rc;
	cfg->notify = calloc(v->n ? v->n : 1, sizeof(*cfg->notify));
	if (cfg->notify == NULL)
		return JG_ERR_NOMEM;
	cfg->nnotify = v->n;
	for (size_t i = 0; i < v->n; i++) {
		rc = read_notify_one(c, v->kids[i], &cfg->notify[i]);
		if (rc < 0)
			return rc;
		if (cfg->notify[i].channel != NULL && !cfg->slack.enabled)
			return cfgval_err(c, cfg->notify[i].line, "channel: needs the "
					  "'slack' section (bot token, signing secret)");
	}
	return JG_OK;
}

/* ---- top level --------------------------------------------------------- */

enum {
	T_LISTEN, T_STORAGE, T_PENDING_TTL, T_ADMINS, T_AUDITORS, T_CHECKERS,
	T_IDENTITIES, T_OIDC, T_GATEWAY, T_RESOURCES, T_POLICIES, T_NOTIFY,
	T_LIMITS, T_WEB, T_STORAGE_PASSWORD_ENV, T_NODE_ID, T_STALE_AFTER,
	T_SELFTEST, T_SLACK, T_PEOPLE, T_NKEYS
};

/* storage_password_env, node_id, stale_after (design section 12). */
static int read_nodes(struct cfgval_ctx *c, const struct ytree *const *v,
		      struct config *cfg)
{
	int rc = JG_OK;

	cfg->stale_after_s = 30;
	if (v[T_STORAGE_PASSWORD_ENV] != NULL &&
	    (rc = cfgval_checked(c, v[T_STORAGE_PASSWORD_ENV], "storage_password_env",
				 cfgval_env_name_ok, "an environment variable name", true,
				 &cfg->storage_password_env)) < 0)
		return rc;
	if (v[T_NODE_ID] != NULL &&
	    (rc = cfgval_name(c, v[T_NODE_ID], "node_id", &cfg->node_id)) < 0)
		return rc;
	if (v[T_STALE_AFTER] != NULL) {
		rc = cfgval_duration(c, v[T_STALE_AFTER], "stale_after", &cfg->stale_after_s);
		if (rc < 0)
			return rc;
		if (cfg->stale_after_s < 1 || cfg->stale_after_s > 3600)
			return cfgval_err(c, v[T_STALE_AFTER]->line,
					  "stale_after must be between 1s and 1h");
	}
	return rc;
}

static int read_root(struct cfgval_ctx *c, const struct ytree *root,
		     struct config *cfg)
{
	static const char *const keys[] = {
		"listen", "storage", "pending_ttl", "admins", "auditors",
		"checkers", "identities", "oidc", "gateway", "resources",
		"policies", "notify", "limits", "web", "storage_password_env",
		"node_id", "stale_after", "selftest", "slack", "notify_people", NULL};
	static const struct ytree empty_map = {.type = YTREE_MAP, .line = 1};
	const struct ytree *v[T_NKEYS];
	int rc;

	/* An empty file (or a lone "---") is a config of defaults that
	 * grants nothing. */
	if (root == NULL || (root->type == YTREE_SCALAR && root->plain &&
			     root->len == 0))
		root = &empty_map;
	rc = cfgval_fields(c, root, "config", keys, v);
	if (rc < 0)
		return rc;
	rc = v[T_LISTEN] ? cfgval_checked(c, v[T_LISTEN], "listen", cfgval_listen_ok,
					"ADDRESS:PORT (numeric IPv4, or [IPv6]; port 1..65535)",
					true, &cfg->listen)
			 : dupstr("127.0.0.1:8700", &cfg->listen);
	if (rc < 0)
		return rc;
	/* A postgresql:// URL may carry a password: never echo it. */
	rc = v[T_STORAGE]
		? cfgval_checked(c, v[T_STORAGE], "storage", storage_ok,
			         "sqlite:PATH, postgresql://... or postgres://...",
			         false, &cfg->storage)
		: dupstr("sqlite:jitgate.db", &cfg->storage);
	if (rc < 0)
		return rc;
	if ((rc = read_nodes(c, v, cfg)) < 0)
		return rc;
	cfg->pending_ttl_s = 3600;
	if (v[T_PENDING_TTL] != NULL) {
		rc = cfgval_duration(c, v[T_PENDING_TTL], "pending_ttl",
				     &cfg->pending_ttl_s);
		if (rc < 0)
			return rc;
	}
	if (v[T_ADMINS] != NULL &&
	    (rc = cfgval_principals(c, v[T_ADMINS], "admins", true,
				    &cfg->admins)) < 0)
		return rc;
	if (v[T_AUDITORS] != NULL &&
	    (rc = cfgval_principals(c, v[T_AUDITORS], "auditors", true,
				    &cfg->auditors)) < 0)
		return rc;
	if (v[T_CHECKERS] != NULL &&
	    (rc = cfgval_principals(c, v[T_CHECKERS], "checkers", true,
				    &cfg->checkers)) < 0)
		return rc;
	if (v[T_IDENTITIES] != NULL &&
	    (rc = read_identities(c, v[T_IDENTITIES], cfg)) < 0)
		return rc;
	if (v[T_OIDC] != NULL && (rc = read_oidc(c, v[T_OIDC], &cfg->oidc)) < 0)
		return rc;
	if (v[T_GATEWAY] != NULL &&
	    (rc = cfggateway_read(c, v[T_GATEWAY], &cfg->gateway)) < 0)
		return rc;
	/* Resources before policies whatever their order in the file: the
	 * policies are checked against them. */
	if (v[T_RESOURCES] != NULL &&
	    (rc = cfgrules_read_resources(c, v[T_RESOURCES], cfg)) < 0)
		return rc;
	if (v[T_POLICIES] != NULL &&
	    (rc = cfgrules_read_policies(c, v[T_POLICIES], cfg)) < 0)
		return rc;
	if (v[T_SLACK] != NULL && (rc = cfgslack_read(c, v[T_SLACK], &cfg->slack)) < 0)
		return rc;
	if (v[T_NOTIFY] != NULL && (rc = read_notify(c, v[T_NOTIFY], cfg)) < 0)
		return rc;
	if (v[T_PEOPLE] != NULL &&
	    (rc = cfgpeople_read(c, v[T_PEOPLE], &cfg->slack, &cfg->people)) < 0)
		return rc;
	limits_defaults(&cfg->limits);
	if (v[T_LIMITS] != NULL &&
	    (rc = read_limits(c, v[T_LIMITS], &cfg->limits)) < 0)
		return rc;
	cfgweb_defaults(&cfg->web);
	if (v[T_WEB] != NULL &&
	    (rc = cfgweb_read(c, v[T_WEB], &cfg->oidc, &cfg->web)) < 0)
		return rc;
	if ((rc = cfggateway_finish(&cfg->gateway, &cfg->web)) < 0)
		return rc;
	if (v[T_SELFTEST] != NULL &&
	    (rc = cfgselftest_read(c, v[T_SELFTEST], cfg)) < 0)
		return rc;
	return JG_OK;
}

int config_parse(const char *name, const char *text, size_t len,
		 struct config **out, char *err, size_t errlen)
{
	struct cfgval_ctx c = {.name = name, .err = err, .errlen = errlen};
	struct ytree *root = NULL;
	struct config *cfg = NULL;
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (len > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s:1: file larger than %d bytes", name,
			 CONFIG_FILE_MAX);
		return JG_ERR_TOOBIG;
	}
	rc = ytree_parse(name, text, len, &root, err, errlen);
	if (rc < 0)
		return rc == JG_ERR_NOMEM ? rc : JG_ERR_INVALID;
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		rc = JG_ERR_NOMEM;
		goto out;
	}
	rc = dupstr(name, &cfg->path);
	if (rc < 0)
		goto out;
	rc = read_root(&c, root, cfg);
	if (rc < 0)
		goto out;
	*out = cfg;
	cfg = NULL;
out:
	if (rc == JG_ERR_NOMEM && !c.failed)
		snprintf(err, errlen, "%s: out of memory", name);
	config_free(cfg);
	ytree_free(root);
	return rc;
}

int config_load(const char *path, struct config **out, char *err,
		size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = file_read_all(path, CONFIG_FILE_MAX, &buf, &len, err, errlen);
	if (rc == JG_OK)
		rc = config_parse(path, buf, len, out, err, errlen);
	free(buf);
	return rc;
}
