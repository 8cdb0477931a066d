/* The configuration model (design section 3): the typed, validated shape
 * of a loaded config, as the pure core reads it.  It lives in the core so
 * that the core never imports the loader: src/config/ parses YAML into
 * these types (config/config.h), the core only reads them.  A loaded
 * config is immutable; all strings are owned by it. */
#ifndef JG_CORE_MODEL_H
#define JG_CORE_MODEL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/principal.h"

/* Resource, role, policy and identity subject names:
 * ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ */
#define CONFIG_NAME_MAX 128

struct identity_cfg {
	char *subject;
	char **groups;
	size_t ngroups;
	uint8_t token_sha256[32];
	int line;
};

/* upstream.auth (design section 9): the login methods the gateway answers
 * for an upstream, as a bit set. */
#define UPSTREAM_AUTH_SCRAM 0x1u    /* scram-sha-256 (the default) */
#define UPSTREAM_AUTH_MD5 0x2u      /* md5 */
#define UPSTREAM_AUTH_PASSWORD 0x4u /* password: cleartext, needs tls */
#define UPSTREAM_AUTH_TRUST 0x8u    /* trust: no password asked */

struct role_cfg {
	char *name;
	char *user;         /* upstream user (postgres resources) */
	char *password_env; /* environment variable holding its password */
	unsigned upstream_auth; /* the role's upstream.auth; 0: the resource's */
};

enum upstream_tls_mode {
	UPSTREAM_TLS_OFF,         /* no TLS (tls: false, the default) */
	UPSTREAM_TLS_REQUIRE,     /* TLS, certificate not checked */
	UPSTREAM_TLS_VERIFY_FULL, /* chain against ca_file, and the name */
};

struct x509_store_st; /* OpenSSL's X509_STORE */

enum resource_kind { RESOURCE_POSTGRES, RESOURCE_GENERIC };

struct resource_cfg {
	char *name;
	enum resource_kind kind;
	char *host;   /* upstream, postgres only */
	int port;
	char *dbname;
	enum upstream_tls_mode tls_mode; /* upstream.tls */
	char *tls_ca_file;     /* verify-full: trust anchors (PEM) */
	char *tls_server_name; /* verify-full: name to check; NULL: host */
	struct x509_store_st *tls_ca; /* ca_file as loaded (verify-full) */
	unsigned upstream_auth; /* upstream.auth; 0: UPSTREAM_AUTH_SCRAM */
	bool audit_queries;
	struct role_cfg *roles;
	size_t nroles;
	int line;
};

/* One step of a multi-stage approval. */
struct stage_cfg {
	int approvals;
	struct principal_list approvers;
	int line;
};

/* One on-call shift: subject is on call in [start_ms, end_ms). */
struct shift_cfg {
	char *subject;
	int64_t start_ms, end_ms;
	int line;
};

struct tzrule;

/* auto_approve: a time window, an on-call schedule, or both (either one
 * approves). */
struct auto_approve_cfg {
	bool has_window;
	unsigned days;      /* bit 0 = Monday .. bit 6 = Sunday */
	int from_min, to_min; /* [from, to) minutes of the local day */
	char *tz_name;
	struct tzrule *tz;
	char *oncall_path;  /* NULL: no schedule */
	struct shift_cfg *shifts;
	size_t nshifts;
};

struct policy_cfg {
	char *name;
	struct principal_list requesters;
	char **resources; /* names or globs */
	size_t nresources;
	char **roles;
	size_t nroles;
	int64_t max_duration_s;
	int approvals;
	struct principal_list approvers;
	bool allow_self_approval;
	bool require_reason;
	char *ticket_pattern; /* NULL when none */
	regex_t ticket_re;    /* compiled when ticket_pattern != NULL */
	bool break_glass;     /* break_glass: present */
	int64_t break_glass_max_s;
	/* design section 13 (config/cfgflow.c).  With stages, approvals is
	 * their sum and approvers their union (who may view the request);
	 * which stage a subject may approve is judged by core/flow. */
	struct stage_cfg *stages;
	size_t nstages;              /* 0: the single stage approvals/approvers */
	int64_t remind_after_s;      /* 0: no reminders */
	int64_t escalate_after_s;    /* 0: no escalation */
	struct principal_list escalate_to;
	struct auto_approve_cfg auto_approve;
	bool approve_in_web;         /* approve_in: web (no chat clicks) */
	int line;
};

enum notify_kind { NOTIFY_SLACK, NOTIFY_WEBHOOK };

struct notify_cfg {
	enum notify_kind kind;
	char *url;        /* NULL for a Slack channel target */
	char *channel;    /* kind slack: post with the bot token (slack:) */
	bool interactive; /* with Approve / Deny buttons */
	char *secret_env; /* NULL when unsigned */
	char **events;    /* action names or "*" */
	size_t nevents;
	int line;
};

struct oidc_cfg {
	bool enabled;
	char *issuer;
	char **audiences;
	size_t naudiences;
	char *groups_claim;  /* default "groups" */
	char *subject_claim; /* default "sub" */
	char *jwks_uri;      /* NULL: discovered */
	char **algorithms;   /* default RS256, PS256, ES256, EdDSA */
	size_t nalgorithms;
	int64_t leeway_s;    /* default 60 */
};

struct gateway_cfg {
	bool enabled;
	char *postgres_listen; /* "host:port" */
	char *tls_cert;        /* NULL when no TLS */
	char *tls_key;
	char *public_address;  /* "host:port" clients reach it at; NULL: not known */
};

/* limits: (design section 9).  Counts, and timeouts in seconds. */
struct limits_cfg {
	int64_t http_connections;        /* default 1024 */
	int64_t http_connections_per_ip; /* default 64 */
	int64_t gateway_connections;     /* default 10000 */
	int64_t gateway_preauth_per_ip;  /* default 32 */
	int64_t login_timeout_s;         /* default 10 */
	int64_t header_timeout_s;        /* default 10 */
	int64_t auth_failures_per_ip_per_min; /* default 60 */
};

/* web: (design section 10).  Without the section: static-token sign-in
 * only, sessions of the default lifetime, no Secure cookie. */
struct web_cfg {
	bool enabled;
	char *public_url;             /* origin, no trailing "/"; NULL without web: */
	char *oidc_client_id;         /* NULL: no browser OIDC sign-in */
	char *oidc_client_secret_env; /* NULL: public client (PKCE only) */
	int64_t session_ttl_s;        /* default 12h */
	bool secure_cookie;           /* public_url is https:// */
};

/* slack: (design section 13). */
struct slack_user_cfg {
	char *id;      /* Slack user id, "U024BE7LH" */
	char *subject;
	int line;
};
struct slack_cfg {
	bool enabled;
	char *signing_secret_env;
	char *bot_token_env;
	char *api_url;  /* default https://slack.com/api, no trailing "/" */
	struct slack_user_cfg *users;
	size_t nusers;
};

/* notify_people: (design section 13, docs/slack.md): notices to the
 * people concerned (requester, approvers, everyone for break-glass) as
 * Slack DMs and/or one webhook POST per person.  config/cfgpeople.c. */
struct people_webhook_cfg {
	char *url;        /* never echoed (may hold a secret path) */
	char *secret_env; /* NULL: unsigned */
	int line;
};
struct people_cfg {
	bool enabled;                  /* the section is present */
	bool slack;                    /* DMs with the bot of slack: */
	char *email_domain;            /* NULL: look up only subjects with '@' */
	struct people_webhook_cfg *webhooks;
	size_t nwebhooks;
	int64_t expiring_before_s;     /* default 300; 0: no warning */
	struct principal_list everyone; /* also told of break-glass */
	int line;
};

/* selftest: (design section 11).  role is the resource's only role
 * when the file names none; postgres_role is role where the postgres
 * resource has it, else that resource's only role. */
struct selftest_cfg {
	bool enabled;
	char *subject;
	char *resource;
	char *role;
	char *postgres_resource; /* NULL: no gateway checks */
	char *postgres_role;
	int line;
};

struct config {
	char *path;
	char *listen;  /* default "127.0.0.1:8700" */
	char *storage; /* "sqlite:PATH" or "postgresql://..." */
	char *storage_password_env; /* NULL: the URL, PGPASSWORD or PGPASSFILE */
	char *node_id;         /* NULL: the host name */
	int64_t stale_after_s; /* default 30s */
	int64_t pending_ttl_s; /* default 1h */
	struct principal_list admins, auditors, checkers;
	struct identity_cfg *identities; /* sorted by token_sha256 */
	size_t nidentities;
	struct resource_cfg *resources;
	size_t nresources;
	struct policy_cfg *policies;
	size_t npolicies;
	struct notify_cfg *notify;
	size_t nnotify;
	struct oidc_cfg oidc;
	struct gateway_cfg gateway;
	struct limits_cfg limits;
	struct web_cfg web;
	struct selftest_cfg selftest;
	struct slack_cfg slack;
	struct people_cfg people;
};

/* Lookups by name (NULL when absent). */
const struct resource_cfg *config_resource(const struct config *cfg,
					   const char *name);
const struct role_cfg *config_role(const struct resource_cfg *res,
				   const char *role);
/* The upstream.auth methods that apply to role of res (the role's own
 * list, else the resource's, else scram-sha-256 only). */
unsigned config_upstream_auth(const struct resource_cfg *res,
			      const struct role_cfg *role);
const struct policy_cfg *config_policy(const struct config *cfg,
				       const char *name);

#endif
