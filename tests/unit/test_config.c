/* Config loader: a full config parses into the right fields, defaults hold,
 * every class of error names the right FILE:LINE, and demo.yaml loads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "util/crypto.h"

static struct config *must_parse(const char *yaml)
{
	struct config *cfg = NULL;
	char err[512];
	int rc = config_parse("t.yaml", yaml, strlen(yaml), &cfg, err,
			      sizeof(err));

	if (rc != 0)
		print_message("unexpected error: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(cfg);
	return cfg;
}

/* The parse must fail, leave no config, and say "t.yaml:LINE: ..."
 * with needle somewhere in the message. */
static void expect_error_len(const char *yaml, size_t len, int line,
			     const char *needle)
{
	struct config *cfg = (struct config *)1;
	char err[512], prefix[32];
	int rc = config_parse("t.yaml", yaml, len, &cfg, err, sizeof(err));

	snprintf(prefix, sizeof(prefix), "t.yaml:%d: ", line);
	if (rc == 0 || strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err, needle) == NULL)
		print_message("want %s...%s\n got rc=%d %s\n", prefix, needle,
			      rc, rc ? err : "(success)");
	if (rc == 0)
		config_free(cfg);
	assert_true(rc < 0);
	assert_null(cfg);
	assert_memory_equal(err, prefix, strlen(prefix));
	assert_non_null(strstr(err, needle));
}

static void expect_error(const char *yaml, int line, const char *needle)
{
	expect_error_len(yaml, strlen(yaml), line, needle);
}

static void sha256_of(const char *s, uint8_t out[SHA256_LEN])
{
	crypto_sha256(s, strlen(s), out);
}

/* Lines 1-10: two resources that the policy tests below build on. */
#define RES \
	"resources:\n"                                   /* 1 */ \
	"  - name: db\n"                                 /* 2 */ \
	"    kind: postgres\n"                           /* 3 */ \
	"    upstream: {host: h, dbname: d}\n"           /* 4 */ \
	"    roles:\n"                                   /* 5 */ \
	"      read: {user: r}\n"                        /* 6 */ \
	"      write: {user: w, password_env: W_PW}\n"   /* 7 */ \
	"  - name: api\n"                                /* 8 */ \
	"    kind: generic\n"                            /* 9 */ \
	"    roles: {read: {}, admin: {}}\n"             /* 10 */

#define POLICY_HEAD \
	"policies:\n"                                    /* 11 */ \
	"  - name: p\n"                                  /* 12 */ \
	"    requesters: [group:eng]\n"                  /* 13 */

static const char full_yaml[] =
	"listen: 0.0.0.0:9000\n"                                       /* 1 */
	"storage: postgresql://jit@db.example/jitgate\n"               /* 2 */
	"pending_ttl: 2h30m\n"                                         /* 3 */
	"admins: [group:security, user:root-admin]\n"                  /* 4 */
	"auditors: [group:audit]\n"                                    /* 5 */
	"checkers: [user:billing-svc]\n"                               /* 6 */
	"identities:\n"                                                /* 7 */
	"  - subject: alice\n"                                         /* 8 */
	"    groups: [engineering, oncall]\n"                          /* 9 */
	"    token_sha256: 4348e292502354682288b2cc8d9c5c6e57e1593e045026b7e59c1222cd248974\n"
	"  - subject: billing-svc\n"                                   /* 11 */
	"    token_sha256: EC36C401D5A412428A9CA8E0AE6BF66D85740727EBBBE23DDEA312BFB3E0324D\n"
	"oidc:\n"                                                      /* 13 */
	"  issuer: https://idp.example.com\n"
	"  audience: [jitgate, jitgate-cli]\n"
	"  groups_claim: roles\n"
	"  subject_claim: email\n"
	"  jwks_uri: https://idp.example.com/keys\n"
	"  algorithms: [ES256, EdDSA]\n"
	"  leeway: 30s\n"                                              /* 20 */
	"gateway:\n"
	"  postgres_listen: 127.0.0.1:6432\n"
	"  tls: {cert: /etc/gw.crt, key: /etc/gw.key}\n"
	"policies:\n"                               /* before resources: fine */
	"  - name: engineers-read\n"                                   /* 25 */
	"    requesters: [group:engineering]\n"
	"    resources: [orders-db]\n"
	"    roles: [read]\n"
	"    max_duration: 4h\n"
	"    approvals: 0\n"                                           /* 30 */
	"  - name: prod-write\n"                                       /* 31 */
	"    requesters: [group:engineering]\n"
	"    resources: [\"*\"]\n"
	"    roles: [write, admin]\n"
	"    max_duration: 1h\n"
	"    approvals: 2\n"
	"    approvers: [group:sre, user:carol]\n"
	"    allow_self_approval: true\n"
	"    require_reason: true\n"
	"    ticket_pattern: \"^OPS-[0-9]+$\"\n"                       /* 40 */
	"    break_glass: {max_duration: 30m}\n"
	"resources:\n"
	"  - name: orders-db\n"                                        /* 43 */
	"    kind: postgres\n"
	"    upstream: {host: 10.0.0.5, port: 6543, dbname: orders, tls: true}\n"
	"    audit_queries: true\n"
	"    roles:\n"
	"      read:  {user: jit_read,  password_env: ORDERS_READ_PASSWORD}\n"
	"      write: {user: jit_write}\n"
	"  - name: billing-api\n"                                      /* 50 */
	"    kind: generic\n"
	"    roles: {read: {}, admin: {}}\n"
	"notify:\n"
	"  - {kind: slack, url: https://hooks.example/T000, events: [request.created, request.break_glass]}\n"
	"  - kind: webhook\n"                                          /* 55 */
	"    url: https://siem.example/in\n"
	"    secret_env: SIEM_HMAC_KEY\n"
	"    events: [\"*\"]\n";

/* Identities are stored sorted by token digest, not in file order. */
static const struct identity_cfg *find_identity(const struct config *cfg,
						const char *subject)
{
	for (size_t i = 0; i < cfg->nidentities; i++)
		if (strcmp(cfg->identities[i].subject, subject) == 0)
			return &cfg->identities[i];
	fail_msg("no identity %s", subject);
	return NULL;
}

static void test_full_config(void **state)
{
	struct config *cfg = must_parse(full_yaml);
	const struct resource_cfg *r;
	const struct policy_cfg *p;
	uint8_t h[SHA256_LEN];

	(void)state;
	assert_string_equal(cfg->path, "t.yaml");
	assert_string_equal(cfg->listen, "0.0.0.0:9000");
	assert_string_equal(cfg->storage, "postgresql://jit@db.example/jitgate");
	assert_int_equal(cfg->pending_ttl_s, 9000);

	assert_int_equal(cfg->admins.n, 2);
	assert_int_equal(cfg->admins.v[0].kind, PRINCIPAL_GROUP);
	assert_string_equal(cfg->admins.v[0].name, "security");
	assert_int_equal(cfg->admins.v[1].kind, PRINCIPAL_USER);
	assert_string_equal(cfg->admins.v[1].name, "root-admin");
	assert_int_equal(cfg->auditors.n, 1);
	assert_string_equal(cfg->auditors.v[0].name, "audit");
	assert_int_equal(cfg->checkers.n, 1);
	assert_int_equal(cfg->checkers.v[0].kind, PRINCIPAL_USER);
	assert_string_equal(cfg->checkers.v[0].name, "billing-svc");

	assert_int_equal(cfg->nidentities, 2);
	assert_int_equal(find_identity(cfg, "alice")->line, 8);
	assert_int_equal(find_identity(cfg, "alice")->ngroups, 2);
	assert_string_equal(find_identity(cfg, "alice")->groups[0], "engineering");
	assert_string_equal(find_identity(cfg, "alice")->groups[1], "oncall");
	sha256_of("demo-alice-token", h);
	assert_memory_equal(find_identity(cfg, "alice")->token_sha256, h, SHA256_LEN);
	assert_int_equal(find_identity(cfg, "billing-svc")->ngroups, 0);
	sha256_of("demo-billing-svc-token", h); /* upper-case hex accepted */
	assert_memory_equal(find_identity(cfg, "billing-svc")->token_sha256, h, SHA256_LEN);

	assert_true(cfg->oidc.enabled);
	assert_string_equal(cfg->oidc.issuer, "https://idp.example.com");
	assert_int_equal(cfg->oidc.naudiences, 2);
	assert_string_equal(cfg->oidc.audiences[0], "jitgate");
	assert_string_equal(cfg->oidc.audiences[1], "jitgate-cli");
	assert_string_equal(cfg->oidc.groups_claim, "roles");
	assert_string_equal(cfg->oidc.subject_claim, "email");
	assert_string_equal(cfg->oidc.jwks_uri, "https://idp.example.com/keys");
	assert_int_equal(cfg->oidc.nalgorithms, 2);
	assert_string_equal(cfg->oidc.algorithms[0], "ES256");
	assert_string_equal(cfg->oidc.algorithms[1], "EdDSA");
	assert_int_equal(cfg->oidc.leeway_s, 30);

	assert_true(cfg->gateway.enabled);
	assert_string_equal(cfg->gateway.postgres_listen, "127.0.0.1:6432");
	assert_string_equal(cfg->gateway.tls_cert, "/etc/gw.crt");
	assert_string_equal(cfg->gateway.tls_key, "/etc/gw.key");

	assert_int_equal(cfg->nresources, 2);
	r = config_resource(cfg, "orders-db");
	assert_ptr_equal(r, &cfg->resources[0]);
	assert_int_equal(r->line, 43);
	assert_int_equal(r->kind, RESOURCE_POSTGRES);
	assert_string_equal(r->host, "10.0.0.5");
	assert_int_equal(r->port, 6543);
	assert_string_equal(r->dbname, "orders");
	assert_int_equal(r->tls_mode, UPSTREAM_TLS_REQUIRE);
	assert_int_equal(config_upstream_auth(r, config_role(r, "read")),
			 UPSTREAM_AUTH_SCRAM);
	assert_true(r->audit_queries);
	assert_int_equal(r->nroles, 2);
	assert_string_equal(config_role(r, "read")->user, "jit_read");
	assert_string_equal(config_role(r, "read")->password_env,
			    "ORDERS_READ_PASSWORD");
	assert_string_equal(config_role(r, "write")->user, "jit_write");
	assert_null(config_role(r, "write")->password_env);
	assert_null(config_role(r, "admin"));
	r = config_resource(cfg, "billing-api");
	assert_non_null(r);
	assert_int_equal(r->kind, RESOURCE_GENERIC);
	assert_null(r->host);
	assert_false(r->audit_queries);
	assert_int_equal(r->nroles, 2);
	assert_null(config_role(r, "read")->user);
	assert_non_null(config_role(r, "admin"));
	assert_null(config_resource(cfg, "nope"));

	assert_int_equal(cfg->npolicies, 2);
	p = &cfg->policies[0]; /* file order is kept: first match decides */
	assert_string_equal(p->name, "engineers-read");
	assert_int_equal(p->line, 25);
	assert_int_equal(p->approvals, 0);
	assert_int_equal(p->approvers.n, 0);
	assert_int_equal(p->max_duration_s, 4 * 3600);
	assert_false(p->allow_self_approval);
	assert_false(p->require_reason);
	assert_null(p->ticket_pattern);
	assert_false(p->break_glass);
	p = config_policy(cfg, "prod-write");
	assert_ptr_equal(p, &cfg->policies[1]);
	assert_int_equal(p->requesters.n, 1);
	assert_string_equal(p->requesters.v[0].name, "engineering");
	assert_int_equal(p->nresources, 1);
	assert_string_equal(p->resources[0], "*");
	assert_int_equal(p->nroles, 2);
	assert_string_equal(p->roles[1], "admin");
	assert_int_equal(p->max_duration_s, 3600);
	assert_int_equal(p->approvals, 2);
	assert_int_equal(p->approvers.n, 2);
	assert_int_equal(p->approvers.v[1].kind, PRINCIPAL_USER);
	assert_string_equal(p->approvers.v[1].name, "carol");
	assert_true(p->allow_self_approval);
	assert_true(p->require_reason);
	assert_string_equal(p->ticket_pattern, "^OPS-[0-9]+$");
	assert_int_equal(regexec(&p->ticket_re, "OPS-42", 0, NULL, 0), 0);
	assert_int_not_equal(regexec(&p->ticket_re, "OPS-", 0, NULL, 0), 0);
	assert_int_not_equal(regexec(&p->ticket_re, "xOPS-1", 0, NULL, 0), 0);
	assert_true(p->break_glass);
	assert_int_equal(p->break_glass_max_s, 1800);
	assert_null(config_policy(cfg, "nope"));

	assert_int_equal(cfg->nnotify, 2);
	assert_int_equal(cfg->notify[0].kind, NOTIFY_SLACK);
	assert_string_equal(cfg->notify[0].url, "https://hooks.example/T000");
	assert_null(cfg->notify[0].secret_env);
	assert_int_equal(cfg->notify[0].nevents, 2);
	assert_string_equal(cfg->notify[0].events[1], "request.break_glass");
	assert_int_equal(cfg->notify[1].kind, NOTIFY_WEBHOOK);
	assert_int_equal(cfg->notify[1].line, 55);
	assert_string_equal(cfg->notify[1].secret_env, "SIEM_HMAC_KEY");
	assert_int_equal(cfg->notify[1].nevents, 1);
	assert_string_equal(cfg->notify[1].events[0], "*");
	config_free(cfg);
}

static void test_defaults(void **state)
{
	struct config *cfg = must_parse("");

	(void)state;
	assert_string_equal(cfg->listen, "127.0.0.1:8700");
	assert_string_equal(cfg->storage, "sqlite:jitgate.db");
	assert_int_equal(cfg->pending_ttl_s, 3600);
	assert_int_equal(cfg->admins.n + cfg->auditors.n + cfg->checkers.n, 0);
	assert_int_equal(cfg->nidentities + cfg->nresources + cfg->npolicies +
			 cfg->nnotify, 0);
	assert_false(cfg->oidc.enabled);
	assert_false(cfg->gateway.enabled);
	assert_null(cfg->gateway.tls_cert);
	config_free(cfg);

	cfg = must_parse("# only a comment\n---\n");
	assert_string_equal(cfg->listen, "127.0.0.1:8700");
	config_free(cfg);

	cfg = must_parse("oidc: {issuer: https://i.example, audience: a}\n"
			 "gateway: {postgres_listen: '[::1]:6432'}\n"
			 "storage: sqlite:/tmp/x.db\n");
	assert_true(cfg->oidc.enabled);
	assert_int_equal(cfg->oidc.naudiences, 1);
	assert_string_equal(cfg->oidc.audiences[0], "a");
	assert_string_equal(cfg->oidc.groups_claim, "groups");
	assert_string_equal(cfg->oidc.subject_claim, "sub");
	assert_null(cfg->oidc.jwks_uri);
	assert_int_equal(cfg->oidc.nalgorithms, 4);
	assert_string_equal(cfg->oidc.algorithms[0], "RS256");
	assert_string_equal(cfg->oidc.algorithms[1], "PS256");
	assert_string_equal(cfg->oidc.algorithms[2], "ES256");
	assert_string_equal(cfg->oidc.algorithms[3], "EdDSA");
	assert_int_equal(cfg->oidc.leeway_s, 60);
	assert_true(cfg->gateway.enabled);
	assert_string_equal(cfg->gateway.postgres_listen, "[::1]:6432");
	assert_null(cfg->gateway.tls_cert);
	assert_string_equal(cfg->storage, "sqlite:/tmp/x.db");
	config_free(cfg);

	/* Port defaults to 5432, upstream TLS and query audit to off. */
	cfg = must_parse(RES);
	assert_int_equal(cfg->resources[0].port, 5432);
	assert_int_equal(cfg->resources[0].tls_mode, UPSTREAM_TLS_OFF);
	assert_int_equal(cfg->resources[0].upstream_auth, UPSTREAM_AUTH_SCRAM);
	assert_false(cfg->resources[0].audit_queries);
	config_free(cfg);
}

static void test_limits(void **state)
{
	struct config *cfg = must_parse("");

	(void)state;
	assert_int_equal(cfg->limits.http_connections, 1024);
	assert_int_equal(cfg->limits.http_connections_per_ip, 64);
	assert_int_equal(cfg->limits.gateway_connections, 10000);
	assert_int_equal(cfg->limits.gateway_preauth_per_ip, 32);
	assert_int_equal(cfg->limits.login_timeout_s, 10);
	assert_int_equal(cfg->limits.header_timeout_s, 10);
	assert_int_equal(cfg->limits.auth_failures_per_ip_per_min, 60);
	config_free(cfg);

	cfg = must_parse("limits:\n  http_connections: 10\n"
			 "  http_connections_per_ip: 2\n"
			 "  gateway_connections: 5\n"
			 "  gateway_preauth_per_ip: 1\n"
			 "  login_timeout: 3s\n  header_timeout: 1m\n"
			 "  auth_failures_per_ip_per_min: 7\n");
	assert_int_equal(cfg->limits.http_connections, 10);
	assert_int_equal(cfg->limits.http_connections_per_ip, 2);
	assert_int_equal(cfg->limits.gateway_connections, 5);
	assert_int_equal(cfg->limits.gateway_preauth_per_ip, 1);
	assert_int_equal(cfg->limits.login_timeout_s, 3);
	assert_int_equal(cfg->limits.header_timeout_s, 60);
	assert_int_equal(cfg->limits.auth_failures_per_ip_per_min, 7);
	config_free(cfg);

	expect_error("limits:\n  http_connections: 0\n", 2, "http_connections");
	expect_error("limits:\n  gateway_connections: -1\n", 2,
		     "gateway_connections");
	expect_error("limits:\n  login_timeout: 2h\n", 2, "at most 3600s");
	expect_error("limits:\n  header_timeout: 10\n", 2, "header_timeout");
	expect_error("limits:\n  connections: 10\n", 2, "connections");
	expect_error("limits:\n  http_connections: 4\n"
		     "  http_connections_per_ip: 5\n", 2,
		     "larger than http_connections");
	expect_error("limits: 5\n", 1, "limits");
}

static void test_web(void **state)
{
	static const char *oidc = "oidc:\n  issuer: https://idp.example\n  audience: jitgate\n";
	struct config *cfg = must_parse("");
	char text[512];

	(void)state;
	/* without web: static-token sign-in, 12h sessions, no Secure */
	assert_false(cfg->web.enabled);
	assert_null(cfg->web.public_url);
	assert_int_equal(cfg->web.session_ttl_s, 12 * 3600);
	assert_false(cfg->web.secure_cookie);
	config_free(cfg);

	snprintf(text, sizeof(text),
		 "%sweb:\n  public_url: https://jit.example.com/\n"
		 "  oidc_client_id: jitgate-web\n"
		 "  oidc_client_secret_env: JITGATE_WEB_SECRET\n"
		 "  session_ttl: 30m\n", oidc);
	cfg = must_parse(text);
	assert_true(cfg->web.enabled);
	assert_string_equal(cfg->web.public_url, "https://jit.example.com");
	assert_string_equal(cfg->web.oidc_client_id, "jitgate-web");
	assert_string_equal(cfg->web.oidc_client_secret_env, "JITGATE_WEB_SECRET");
	assert_int_equal(cfg->web.session_ttl_s, 1800);
	assert_true(cfg->web.secure_cookie);
	config_free(cfg);

	cfg = must_parse("web:\n  public_url: http://127.0.0.1:8700\n");
	assert_false(cfg->web.secure_cookie);
	assert_null(cfg->web.oidc_client_id);
	config_free(cfg);

	expect_error("web:\n  session_ttl: 1h\n", 2, "public_url");
	expect_error("web:\n  public_url: ftp://x\n", 2, "public_url");
	expect_error("web:\n  public_url: https://x/app\n", 2, "public_url");
	expect_error("web:\n  public_url: https://u@x\n", 2, "public_url");
	expect_error("web:\n  public_url: https://x?a=1\n", 2, "public_url");
	expect_error("web:\n  public_url: https://\n", 2, "public_url");
	expect_error("web:\n  public_url: https://x\n  session_ttl: 30s\n", 3,
		     "session_ttl");
	expect_error("web:\n  public_url: https://x\n  session_ttl: 31d\n", 3,
		     "session_ttl");
	expect_error("web:\n  public_url: https://x\n  oidc_client_id: w\n", 3,
		     "needs an oidc: section");
	snprintf(text, sizeof(text),
		 "%sweb:\n  public_url: https://x\n  oidc_client_secret_env: S\n", oidc);
	expect_error(text, 6, "needs oidc_client_id");
	snprintf(text, sizeof(text),
		 "%sweb:\n  public_url: https://x\n  oidc_client_id: w\n"
		 "  oidc_client_secret_env: 1BAD\n", oidc);
	expect_error(text, 7, "oidc_client_secret_env");
	expect_error("web:\n  public_url: https://x\n  cookie: y\n", 3, "cookie");
	expect_error("web: [1]\n", 1, "web");
}

/* Design section 12: the PostgreSQL store and several nodes. */
/* gateway.public_address: where people connect (the web UI's psql line). */
static void test_gateway_public_address(void **state)
{
	static const struct {
		const char *yaml, *want;
	} defaults[] = {
		/* a listen address people can use is the default */
		{"gateway: {postgres_listen: 10.0.0.5:6432}\n", "10.0.0.5:6432"},
		{"gateway: {postgres_listen: '[::1]:6432'}\n", "[::1]:6432"},
		/* every address: the host of web.public_url, the gateway's port */
		{"gateway: {postgres_listen: 0.0.0.0:6432}\n"
		 "web: {public_url: 'https://jit.example.com'}\n", "jit.example.com:6432"},
		{"gateway: {postgres_listen: '[::]:6432'}\n"
		 "web: {public_url: 'https://[2001:db8::1]:8443/'}\n", "[2001:db8::1]:6432"},
		{"gateway: {postgres_listen: 0.0.0.0:6432}\n"
		 "web: {public_url: 'http://10.1.2.3:8700'}\n", "10.1.2.3:6432"},
		/* said outright: as said */
		{"gateway: {postgres_listen: 0.0.0.0:6432, public_address: db.example.com:5432}\n"
		 "web: {public_url: 'https://jit.example.com'}\n", "db.example.com:5432"},
		{"gateway: {postgres_listen: 127.0.0.1:6432, public_address: '[fe80::1]:1'}\n",
		 "[fe80::1]:1"},
		/* nothing says: unknown */
		{"gateway: {postgres_listen: 0.0.0.0:6432}\n", NULL},
		{"gateway: {postgres_listen: 0.0.0.0:6432}\n"
		 "web: {public_url: 'https://under_score.example'}\n", NULL},
		{"listen: 127.0.0.1:8700\n", NULL},
	};
	/* as YAML double-quoted text: \" \\ \xff \n are escapes */
	static const char *bad[] = {
		"db.example.com", "db.example.com:", "db.example.com:0", "db.example.com:65536",
		"db.example.com:+5", "db.example.com:05", ":6432", "-db.example:1", "db-.example:1",
		"db..example:1", "db.example.:1", "db example:1", "db\\\"x:1", "db'x:1", "db$x:1",
		"db\\\\x:1", "[::1:1", "[]:1", "[zz::1]:1", "::1:6432", "d\xc3\xa9.example:1",
		"db\\xff:1", "db\\nx:1", "a;rm -rf /:1",
	};
	char yaml[512], longest[300];

	(void)state;
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		struct config *cfg = must_parse(defaults[i].yaml);

		if (defaults[i].want == NULL)
			assert_null(cfg->gateway.public_address);
		else
			assert_string_equal(cfg->gateway.public_address, defaults[i].want);
		config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml),
			 "gateway:\n  postgres_listen: 127.0.0.1:6432\n  public_address: \"%s\"\n",
			 bad[i]);
		expect_error(yaml, 3, "public_address:");
	}
	/* a 63-byte label is a name; 64 is not; 253 bytes in all at most */
	memset(longest, 'a', sizeof(longest));
	snprintf(yaml, sizeof(yaml), "gateway: {postgres_listen: 127.0.0.1:1, public_address: "
		 "%.63s.b:1}\n", longest);
	config_free(must_parse(yaml));
	snprintf(yaml, sizeof(yaml), "gateway: {postgres_listen: 127.0.0.1:1, public_address: "
		 "%.64s.b:1}\n", longest);
	expect_error(yaml, 1, "public_address:");
	snprintf(yaml, sizeof(yaml), "gateway: {postgres_listen: 127.0.0.1:1, public_address: "
		 "%.63s.%.63s.%.63s.%.61s:1}\n", longest, longest, longest, longest);
	config_free(must_parse(yaml));
	snprintf(yaml, sizeof(yaml), "gateway: {postgres_listen: 127.0.0.1:1, public_address: "
		 "%.63s.%.63s.%.63s.%.62s:1}\n", longest, longest, longest, longest);
	expect_error(yaml, 1, "public_address:");
	expect_error("gateway: {postgres_listen: 127.0.0.1:1, public_address: [a]}\n", 1,
		     "public_address");
}

static void test_nodes(void **state)
{
	struct config *cfg = must_parse("");

	(void)state;
	assert_null(cfg->storage_password_env);
	assert_null(cfg->node_id); /* serve uses the host name */
	assert_int_equal(cfg->stale_after_s, 30);
	config_free(cfg);

	cfg = must_parse("storage: postgresql://jg@db/jitgate?sslmode=verify-full\n"
			 "storage_password_env: JG_DB_PW\n"
			 "node_id: jg-a.1\n"
			 "stale_after: 1m30s\n");
	assert_string_equal(cfg->storage, "postgresql://jg@db/jitgate?sslmode=verify-full");
	assert_string_equal(cfg->storage_password_env, "JG_DB_PW");
	assert_string_equal(cfg->node_id, "jg-a.1");
	assert_int_equal(cfg->stale_after_s, 90);
	config_free(cfg);

	expect_error("node_id: \"a b\"\n", 1, "node_id");
	expect_error("node_id: -a\n", 1, "node_id");
	expect_error("storage_password_env: \"A-B\"\n", 1, "storage_password_env");
	expect_error("stale_after: 2h\n", 1, "between 1s and 1h");
	expect_error("stale_after: 0s\n", 1, "stale_after");
	expect_error("stale_after: 30\n", 1, "stale_after");
	/* a URL password is never echoed in an error */
	expect_error("storage: \"mysql://u:Secret9@h/db\"\n", 1, "storage: not");
}

static void test_storage_error_hides_password(void **state)
{
	static const char yaml[] = "storage: \"mysql://u:Secret9@h/db\"\n";
	struct config *cfg = NULL;
	char err[512];

	(void)state;
	assert_true(config_parse("t.yaml", yaml, strlen(yaml), &cfg, err, sizeof(err)) < 0);
	assert_null(strstr(err, "Secret9"));
}

static void test_leeway_forms(void **state)
{
	static const struct {
		const char *v;
		int64_t s;
	} ok[] = {{"0", 0}, {"0s", 0}, {"45", 45}, {"2m", 120}, {"600", 600}};
	char y[128];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct config *cfg;

		snprintf(y, sizeof(y),
			 "oidc:\n  issuer: https://i\n  audience: a\n  leeway: %s\n",
			 ok[i].v);
		cfg = must_parse(y);
		assert_int_equal(cfg->oidc.leeway_s, ok[i].s);
		config_free(cfg);
	}
	expect_error("oidc:\n  issuer: https://i\n  audience: a\n  leeway: 601\n",
		     4, "out of range");
	expect_error("oidc:\n  issuer: https://i\n  audience: a\n  leeway: 11m\n",
		     4, "at most 600s");
	expect_error("oidc:\n  issuer: https://i\n  audience: a\n  leeway: -1\n",
		     4, "leeway: bad duration");
}

static void test_demo_yaml_loads(void **state)
{
	struct config *cfg = NULL;
	char err[512] = "";
	const struct policy_cfg *p;
	uint8_t h[SHA256_LEN];
	int rc;

	(void)state;
	rc = config_load(JG_SOURCE_DIR "/examples/demo.yaml", &cfg, err,
			 sizeof(err));
	if (rc != 0)
		print_message("%s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(cfg->storage, "sqlite:jitgate-demo.db");
	assert_string_equal(cfg->listen, "127.0.0.1:8700");
	assert_int_equal(cfg->nidentities, 6);
	for (size_t i = 0; i < cfg->nidentities; i++) {
		char token[64];

		/* The tokens listed in the file's header comment. */
		snprintf(token, sizeof(token), "demo-%s-token",
			 cfg->identities[i].subject);
		sha256_of(token, h);
		assert_memory_equal(cfg->identities[i].token_sha256, h,
				    SHA256_LEN);
	}
	assert_string_equal(find_identity(cfg, "dave")->groups[0], "security");
	/* kept sorted by digest, which auth_bearer binary-searches */
	for (size_t i = 1; i < cfg->nidentities; i++)
		assert_true(memcmp(cfg->identities[i - 1].token_sha256,
				   cfg->identities[i].token_sha256, SHA256_LEN) < 0);
	assert_string_equal(cfg->admins.v[0].name, "security");
	assert_string_equal(cfg->auditors.v[0].name, "audit");
	assert_string_equal(cfg->checkers.v[0].name, "billing-svc");
	assert_int_equal(config_resource(cfg, "orders-db")->kind,
			 RESOURCE_POSTGRES);
	assert_int_equal(config_resource(cfg, "orders-db")->port, 5432);
	assert_int_equal(config_resource(cfg, "billing-api")->kind,
			 RESOURCE_GENERIC);
	p = config_policy(cfg, "engineers-read");
	assert_int_equal(p->approvals, 0);
	assert_int_equal(p->max_duration_s, 4 * 3600);
	p = config_policy(cfg, "prod-write");
	assert_int_equal(p->approvals, 2);
	assert_true(p->require_reason);
	assert_true(p->break_glass);
	assert_int_equal(p->break_glass_max_s, 30 * 60);
	assert_int_equal(p->max_duration_s, 3600);
	config_free(cfg);
}

static void test_load_errors(void **state)
{
	char path[] = "/tmp/jg-test-config-XXXXXX";
	struct config *cfg = NULL;
	char err[512];
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(config_load("/nonexistent/jitgate.yaml", &cfg, err,
				     sizeof(err)), JG_ERR_IO);
	assert_null(cfg);
	assert_non_null(strstr(err, "/nonexistent/jitgate.yaml: cannot open"));

	/* A file one byte over the limit is refused before parsing. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	for (int i = 0; i < CONFIG_FILE_MAX; i++)
		fputc('#', f);
	fputc('\n', f);
	fclose(f);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)),
			 JG_ERR_TOOBIG);
	assert_null(cfg);
	assert_non_null(strstr(err, ":1: file larger than"));

	/* A real file's errors carry its path. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("listen: 127.0.0.1:1\nbogus: 1\n", f);
	fclose(f);
	assert_true(config_load(path, &cfg, err, sizeof(err)) < 0);
	assert_null(cfg);
	assert_memory_equal(err, path, strlen(path));
	assert_string_equal(err + strlen(path), ":2: unknown key 'bogus' in config");
	unlink(path);
}

static void test_error_size_limits(void **state)
{
	size_t big = CONFIG_FILE_MAX + 1, n = 0;
	char *buf = malloc(big + 1);

	(void)state;
	assert_non_null(buf);
	memset(buf, '#', big);
	buf[big] = '\0';
	expect_error_len(buf, big, 1, "file larger than");

	/* Nesting depth. */
	for (int i = 0; i < 40; i++)
		buf[n++] = '[';
	for (int i = 0; i < 40; i++)
		buf[n++] = ']';
	buf[n] = '\0';
	expect_error(buf, 1, "nested deeper than");

	/* Scalar length. */
	n = (size_t)snprintf(buf, 64, "listen: ");
	memset(buf + n, 'a', 5000);
	strcpy(buf + n + 5000, "\n");
	expect_error(buf, 1, "longer than 4096 bytes");
	free(buf);
}

static void test_error_yaml_features(void **state)
{
	(void)state;
	expect_error("listen: 1.2.3.4:5\nstorage: [\n", 3, "YAML syntax error");
	expect_error("listen: 1.2.3.4:5\n---\nlisten: 1.2.3.4:6\n", 2,
		     "only one YAML document");
	expect_error("admins: &a [group:x]\nauditors: *a\n", 1, "anchors");
	expect_error("admins:\n  - group:x\nauditors:\n  - *a\n", 4, "aliases");
	expect_error("listen: 1.2.3.4:5\nstorage: !!str sqlite:x\n", 2, "tags");
	expect_error("listen: !custom 1.2.3.4:5\n", 1, "tags");
	expect_error("[1, 2]\n", 1, "config: expected a mapping");
	expect_error("listen: 1.2.3.4:5\n? [a]\n: 1\n", 2,
		     "mapping keys must be plain strings");
}

static void test_error_keys(void **state)
{
	(void)state;
	/* Unknown keys, at every level. */
	expect_error("listen: 1.2.3.4:5\nlisen: 1.2.3.4:6\n", 2,
		     "unknown key 'lisen' in config");
	expect_error("resources:\n  - name: db\n    kind: generic\n"
		     "    colour: red\n    roles: {read: {}}\n", 4,
		     "unknown key 'colour' in resource");
	expect_error("resources:\n  - name: db\n    kind: generic\n"
		     "    roles:\n      read: {user: x}\n", 5,
		     "unknown key 'user' in role of a generic resource");
	expect_error(RES POLICY_HEAD
		     "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 0\n"
		     "    approval: 1\n", 18, "unknown key 'approval' in policy");
	expect_error("gateway:\n  postgres_listen: 1.2.3.4:5\n"
		     "  tls: {cert: c, key: k, ca: x}\n", 3,
		     "unknown key 'ca' in gateway.tls");
	expect_error("oidc:\n  issuer: https://i\n  audience: a\n  aud: b\n", 4,
		     "unknown key 'aud' in oidc");

	/* Duplicate keys in a mapping, with both lines. */
	expect_error("listen: 1.2.3.4:5\npending_ttl: 1h\nlisten: 1.2.3.4:6\n",
		     3, "duplicate key 'listen' in config (first at line 1)");
	expect_error("resources:\n  - name: db\n    kind: generic\n"
		     "    roles:\n      read: {}\n      admin: {}\n      read: {}\n",
		     7, "duplicate role 'read' (first at line 5)");

	/* Missing required keys name the mapping's first line. */
	expect_error("resources:\n  - name: db\n    roles: {read: {}}\n", 2,
		     "missing required key 'kind'");
	expect_error("resources:\n  - name: db\n    kind: postgres\n"
		     "    roles: {read: {user: u}}\n", 2,
		     "missing required key 'upstream'");
	expect_error("resources:\n  - name: db\n    kind: postgres\n"
		     "    upstream:\n      host: h\n"
		     "    roles: {read: {user: u}}\n", 5,
		     "missing required key 'dbname'");
	expect_error("resources:\n  - name: db\n    kind: postgres\n"
		     "    upstream: {host: h, dbname: d}\n"
		     "    roles:\n      read: {password_env: X}\n", 6,
		     "missing required key 'user'");
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    approvals: 0\n", 12,
		     "missing required key 'max_duration'");
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n", 12,
		     "missing required key 'approvals'");
	expect_error("identities:\n  - subject: a\n", 2,
		     "missing required key 'token_sha256'");
	expect_error("oidc: {audience: a}\n", 1, "missing required key 'issuer'");
	expect_error("gateway: {}\n", 1, "missing required key 'postgres_listen'");
	expect_error("notify:\n  - kind: webhook\n    url: https://x\n", 2,
		     "missing required key 'events'");
}

static void test_error_types(void **state)
{
	(void)state;
	expect_error("admins: group:x\n", 1, "admins: expected a list, got a scalar");
	expect_error("oidc: [a]\n", 1, "oidc: expected a mapping, got a list");
	expect_error("listen: {a: 1}\n", 1, "listen: expected a value, got a mapping");
	expect_error("listen:\n", 1, "listen: expected a value, got an empty value");
	expect_error("resources:\n  - name: db\n    kind: generic\n"
		     "    roles: [read]\n", 4, "roles: expected a mapping");
	expect_error("resources:\n  - name: db\n    kind: generic\n"
		     "    roles:\n      read:\n", 5,
		     "expected a mapping, got an empty value");
	/* Booleans are true/false only; integers decimal only. */
	expect_error("resources:\n  - name: db\n    kind: generic\n"
		     "    audit_queries: yes\n    roles: {read: {}}\n", 4,
		     "audit_queries: expected true or false");
	expect_error("resources:\n  - name: db\n    kind: generic\n"
		     "    audit_queries: \"true\"\n    roles: {read: {}}\n", 4,
		     "expected true or false");
	expect_error("resources:\n  - name: db\n    kind: postgres\n"
		     "    upstream: {host: h, dbname: d, port: 0x1538}\n"
		     "    roles: {read: {user: u}}\n", 4,
		     "port: expected a decimal integer");
	expect_error("resources:\n  - name: db\n    kind: postgres\n"
		     "    upstream: {host: h, dbname: d, port: 070}\n"
		     "    roles: {read: {user: u}}\n", 4,
		     "port: expected a decimal integer");
	expect_error("resources:\n  - name: db\n    kind: postgres\n"
		     "    upstream: {host: h, dbname: d, port: 65536}\n"
		     "    roles: {read: {user: u}}\n", 4,
		     "port: 65536 is out of range 1..65535");
	expect_error("resources:\n  - name: db\n    kind: postgres\n"
		     "    upstream: {host: h, dbname: d, tls: 1}\n"
		     "    roles: {read: {user: u}}\n", 4,
		     "tls: expected true or false");
	expect_error("resources:\n  - name: db\n    kind: mysql\n"
		     "    roles: {read: {}}\n", 3,
		     "kind: 'mysql' is not postgres or generic");
	expect_error("resources:\n  - name: db\n    kind: generic\n"
		     "    upstream: {host: h, dbname: d}\n"
		     "    roles: {read: {}}\n", 4,
		     "only postgres resources");
	expect_error("resources:\n  - name: db\n    kind: generic\n"
		     "    roles: {}\n", 4, "roles: must not be empty");
}

static void test_error_values(void **state)
{
	char err_msg[128];

	(void)state;
	expect_error("listen: 1.2.3.4:5\npending_ttl: 5x\n", 2,
		     "pending_ttl: bad duration");
	expect_error("pending_ttl: 0s\n", 1, "pending_ttl: bad duration");
	expect_error("pending_ttl: 400d\n", 1, "pending_ttl: bad duration");
	expect_error("listen: localhost\n", 1, "listen: 'localhost' is not ADDRESS:PORT");
	expect_error("listen: h:99999\n", 1, "is not ADDRESS:PORT");
	/* the listeners' own parser: numeric addresses only, IPv6 in [] */
	expect_error("listen: localhost:8700\n", 1, "is not ADDRESS:PORT");
	expect_error("listen: '::1:8700'\n", 1, "is not ADDRESS:PORT");
	expect_error("listen: '[::1]'\n", 1, "is not ADDRESS:PORT");
	expect_error("listen: '[::1:8700'\n", 1, "is not ADDRESS:PORT");
	expect_error("listen: 127.0.0.1:0\n", 1, "is not ADDRESS:PORT");
	expect_error("listen: 127.0.0.1:08700\n", 1, "is not ADDRESS:PORT");
	expect_error("listen: 127.0.0.1:65536\n", 1, "is not ADDRESS:PORT");
	expect_error("listen: 127.1:8700\n", 1, "is not ADDRESS:PORT");
	expect_error("gateway: {postgres_listen: db.example:6432}\n", 1,
		     "postgres_listen: 'db.example:6432' is not ADDRESS:PORT");
	expect_error("storage: mysql://root@h/db\n", 1, "storage: not sqlite:PATH");
	expect_error("storage: \"sqlite:\"\n", 1, "storage: not");

	/* Principals. */
	expect_error("admins: [alice]\n", 1,
		     "admins: 'alice' is not a principal (write user:NAME or group:NAME)");
	expect_error("checkers:\n  - user:svc\n  - team:x\n", 3,
		     "checkers: 'team:x' is not a principal");
	expect_error("auditors: [\"user:\"]\n", 1, "has an empty");

	/* Names. */
	expect_error("resources:\n  - name: -db\n    kind: generic\n"
		     "    roles: {read: {}}\n", 2,
		     "name: '-db' is not a valid name");
	expect_error("resources:\n  - name: db\n    kind: generic\n"
		     "    roles: {\"re ad\": {}}\n", 4,
		     "role name: 're ad' is not a valid name");
	{
		char y[512], nm[130];

		memset(nm, 'a', 129);
		nm[129] = '\0';
		snprintf(y, sizeof(y), "resources:\n  - name: %s\n"
			 "    kind: generic\n    roles: {read: {}}\n", nm);
		expect_error(y, 2, "is not a valid name");
		nm[128] = '\0'; /* 128 is the longest accepted */
		snprintf(y, sizeof(y), "resources:\n  - name: %s\n"
			 "    kind: generic\n    roles: {read: {}}\n", nm);
		config_free(must_parse(y));
	}
	expect_error("resources:\n  - name: db\n    kind: postgres\n"
		     "    upstream: {host: h, dbname: d}\n"
		     "    roles: {read: {user: u, password_env: 1BAD}}\n", 5,
		     "password_env: '1BAD' is not an environment variable name");

	/* Identities. */
	expect_error("identities:\n  - subject: a\n    token_sha256: abc\n", 3,
		     "token_sha256: expected exactly 64 hex digits");
	expect_error("identities:\n  - subject: a\n    token_sha256: "
		     "zz48e292502354682288b2cc8d9c5c6e57e1593e045026b7e59c1222cd248974\n",
		     3, "expected exactly 64 hex digits");
	expect_error("identities:\n"
		     "  - subject: a\n    token_sha256: "
		     "4348e292502354682288b2cc8d9c5c6e57e1593e045026b7e59c1222cd248974\n"
		     "  - subject: b\n    token_sha256: "
		     "f53ac7c0c2bf5dd4a7d551a3d4cdadf03b3f2c0923e394749100ecae6e4523f1\n"
		     "  - subject: c\n    token_sha256: "
		     "4348E292502354682288B2CC8D9C5C6E57E1593E045026B7E59C1222CD248974\n",
		     6, "duplicate token_sha256 (first at line 2)");
	expect_error("identities:\n"
		     "  - subject: a\n    token_sha256: "
		     "4348e292502354682288b2cc8d9c5c6e57e1593e045026b7e59c1222cd248974\n"
		     "  - subject: a\n    token_sha256: "
		     "f53ac7c0c2bf5dd4a7d551a3d4cdadf03b3f2c0923e394749100ecae6e4523f1\n",
		     4, "duplicate identity subject 'a' (first at line 2)");

	/* OIDC. */
	expect_error("oidc:\n  issuer: https://i\n  audience: a\n"
		     "  algorithms: [RS256, HS256]\n", 4,
		     "algorithms: 'HS256' is not one of RS256, PS256, ES256, EdDSA");
	expect_error("oidc:\n  issuer: https://i\n  audience: a\n"
		     "  algorithms:\n    - RS256\n    - RS256\n", 6,
		     "'RS256' listed twice");
	expect_error("oidc:\n  issuer: idp.example\n  audience: a\n", 2,
		     "issuer: 'idp.example' is not an http:// or https:// URL");
	expect_error("oidc:\n  issuer: https://i\n  audience: []\n", 3,
		     "audience: must not be empty");

	/* Notify: events are audit actions; URLs are never echoed. */
	expect_error("notify:\n  - kind: slack\n    url: https://x\n"
		     "    events:\n      - request.created\n      - request.create\n",
		     6, "events: 'request.create' is not an audit action");
	expect_error("notify:\n  - {kind: email, url: https://x, events: ['*']}\n",
		     2, "kind: 'email' is not slack or webhook");
	expect_error("notify:\n  - kind: webhook\n    url: ftp://hooks/SECRETPATH\n"
		     "    events: ['*']\n", 3, "url: not an http");

	/* notify_people (docs/slack.md): typed, every error at its line. */
#define SLACK_SEC "slack: {signing_secret_env: S, bot_token_env: T}\n"
	expect_error("notify_people: {slack: true}\n", 1, "slack: needs the 'slack' section");
	expect_error(SLACK_SEC "notify_people:\n  slack: true\n  emails: x\n", 4,
		     "unknown key 'emails'");
	expect_error(SLACK_SEC "notify_people:\n  slack: yes\n", 3, "slack");
	expect_error(SLACK_SEC "notify_people:\n  slack: false\n", 3,
		     "needs slack: true or webhooks");
	expect_error(SLACK_SEC "notify_people:\n  slack: true\n  email_domain: \"a..b\"\n",
		     4, "email_domain: 'a..b' is not a domain name");
	expect_error(SLACK_SEC "notify_people:\n  email_domain: example.com\n"
		     "  webhooks: [{url: https://x}]\n", 3, "email_domain: only with slack: true");
	expect_error(SLACK_SEC "notify_people:\n  slack: true\n  expiring_before: 2d\n", 4,
		     "expiring_before: at most 24h");
	expect_error(SLACK_SEC "notify_people:\n  slack: true\n  expiring_before: soon\n", 4,
		     "expiring_before");
	expect_error(SLACK_SEC "notify_people:\n  slack: true\n  everyone: [carol]\n", 4,
		     "everyone");
	expect_error("notify_people:\n  webhooks:\n    - url: ftp://hooks/SECRETPATH\n", 3,
		     "url: not an http");
	expect_error("notify_people:\n  webhooks:\n    - {url: https://x, secret: y}\n", 3,
		     "unknown key 'secret'");
	expect_error("notify_people:\n  webhooks: []\n", 2, "webhooks");
	{
		struct config *cfg = NULL;
		const char *y = SLACK_SEC "notify_people:\n  webhooks:\n"
				"    - url: ftp://hooks/SECRETPATH\n";

		assert_true(config_parse("t.yaml", y, strlen(y), &cfg, err_msg,
					 sizeof(err_msg)) < 0);
		assert_null(strstr(err_msg, "SECRETPATH"));
	}
	{
		struct config *cfg = NULL;
		const char *y = SLACK_SEC "notify_people:\n  slack: true\n"
				"  email_domain: corp.example\n  expiring_before: 10m\n"
				"  everyone: [group:security]\n"
				"  webhooks: [{url: https://b.example/in, secret_env: K}]\n";

		assert_int_equal(config_parse("t.yaml", y, strlen(y), &cfg, err_msg,
					      sizeof(err_msg)), 0);
		assert_true(cfg->people.enabled && cfg->people.slack);
		assert_string_equal(cfg->people.email_domain, "corp.example");
		assert_int_equal(cfg->people.expiring_before_s, 600);
		assert_int_equal(cfg->people.everyone.n, 1);
		assert_int_equal(cfg->people.nwebhooks, 1);
		assert_string_equal(cfg->people.webhooks[0].secret_env, "K");
		config_free(cfg);
	}
#undef SLACK_SEC

	/* Secrets in a bad value never reach the message. */
	{
		struct config *cfg = NULL;
		const char *y = "storage: postgresq://u:hunter2@h/db\n";

		assert_true(config_parse("t.yaml", y, strlen(y), &cfg, err_msg,
					 sizeof(err_msg)) < 0);
		assert_null(strstr(err_msg, "hunter2"));
		y = "notify:\n  - kind: webhook\n    url: ftp://hooks/SECRETPATH\n"
		    "    events: ['*']\n";
		assert_true(config_parse("t.yaml", y, strlen(y), &cfg, err_msg,
					 sizeof(err_msg)) < 0);
		assert_null(strstr(err_msg, "SECRETPATH"));
	}
}

static void test_error_policies(void **state)
{
	(void)state;
	/* References: unknown resource, glob matching nothing, a role that
	 * no covered resource has. */
	expect_error(RES POLICY_HEAD
		     "    resources:\n      - db\n      - nope\n"
		     "    roles: [read]\n    max_duration: 1h\n    approvals: 0\n",
		     16, "resources: unknown resource 'nope'");
	expect_error(RES POLICY_HEAD
		     "    resources: [\"prod-*\"]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 0\n",
		     14, "pattern 'prod-*' matches no configured resource");
	expect_error(RES POLICY_HEAD
		     "    resources: [api]\n    roles:\n      - read\n      - write\n"
		     "    max_duration: 1h\n    approvals: 0\n",
		     17, "roles: no resource of policy 'p' has a role 'write'");
	/* ... but a role on any covered resource is enough. */
	config_free(must_parse(RES POLICY_HEAD
			       "    resources: [\"*\"]\n    roles: [write, admin]\n"
			       "    max_duration: 1h\n    approvals: 0\n"));
	config_free(must_parse(RES POLICY_HEAD
			       "    resources: [\"d?\", \"[a]pi\"]\n    roles: [admin]\n"
			       "    max_duration: 1h\n    approvals: 0\n"));

	/* Approvals. */
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 1\n", 17,
		     "approvals: 1 approvals need 'approvers'");
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 17\n"
		     "    approvers: [group:sre]\n", 17,
		     "approvals: 17 is out of range 0..16");
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 2\n"
		     "    approvers: [user:carol, user:carol]\n", 17,
		     "2 needed but only 1 distinct approvers");
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 0\n"
		     "    require_reason: 1\n", 18,
		     "require_reason: expected true or false");
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: forever\n    approvals: 0\n", 16,
		     "max_duration: bad duration");

	/* ticket_pattern is a POSIX extended regex. */
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 0\n"
		     "    ticket_pattern: \"^OPS-([0-9]+$\"\n", 18,
		     "ticket_pattern: bad regular expression");

	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 0\n"
		     "    ticket_pattern: \"(a{32767}){32767}\"\n", 18,
		     "ticket_pattern: a repeat count is over 1000");
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 0\n"
		     "    ticket_pattern: \"((a{100}){100}){2,3}\"\n", 18,
		     "ticket_pattern: too complex");
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 0\n"
		     "    ticket_pattern: \"^OPS-[0-9]++++++++++++++++++++$\"\n", 18,
		     "ticket_pattern: too complex");
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 0\n"
		     "    ticket_pattern: \"(((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)\"\n",
		     18, "ticket_pattern: too complex");
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 0\n"
		     "    ticket_pattern: '^(a+)\\1$'\n", 18,
		     "back-references are not allowed");
	config_free(must_parse(RES POLICY_HEAD "    resources: [db]\n"
			       "    roles: [read]\n    max_duration: 1h\n"
			       "    approvals: 0\n"
			       "    ticket_pattern: '^[A-Z]{2,10}-[0-9]{1,8}\\.x$'\n"));
	config_free(must_parse(RES POLICY_HEAD "    resources: [db]\n"
			       "    roles: [read]\n    max_duration: 1h\n"
			       "    approvals: 0\n"
			       "    ticket_pattern: '^([A-Z]+-[0-9]+|[]a-z{}[:digit:]]+|x{3,})$'\n"));

	/* Break-glass. */
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 1\n"
		     "    approvers: [group:sre]\n"
		     "    break_glass: {max_duration: 0s}\n", 19,
		     "break_glass.max_duration: bad duration");
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 1\n"
		     "    approvers: [group:sre]\n"
		     "    break_glass: {}\n", 19,
		     "break_glass: missing required key 'max_duration'");
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 0\n"
		     "    break_glass: {max_duration: 10m}\n", 18,
		     "break_glass: needs 'approvers'");

	/* Duplicate names. */
	expect_error(RES POLICY_HEAD "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 0\n"
		     "  - name: p\n    requesters: [group:x]\n"
		     "    resources: [db]\n    roles: [read]\n"
		     "    max_duration: 1h\n    approvals: 0\n", 18,
		     "duplicate policy 'p' (first at line 12)");
	expect_error("resources:\n"
		     "  - {name: a, kind: generic, roles: {r: {}}}\n"
		     "  - {name: b, kind: generic, roles: {r: {}}}\n"
		     "  - {name: a, kind: generic, roles: {r: {}}}\n", 4,
		     "duplicate resource 'a' (first at line 2)");
}

/* A test CA (EC P-256, CN=jitgate-test-ca): only loaded, never trusted. */
static const char test_ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBijCCAS+gAwIBAgIUKgiA2ZkerEP89WVbkNj4ru/fITIwCgYIKoZIzj0EAwIw\n"
	"GjEYMBYGA1UEAwwPaml0Z2F0ZS10ZXN0LWNhMB4XDTI2MTEyOTA4MzUwOVoXDTM2\n"
	"MTEyNjA4MzUwOVowGjEYMBYGA1UEAwwPaml0Z2F0ZS10ZXN0LWNhMFkwEwYHKoZI\n"
	"zj0CAQYIKoZIzj0DAQcDQgAEwVnsFRcRuJLGL0Z4BYH4KPcqOK1Dli3a5ISfRVqB\n"
	"McX8Sy/WDDkkVj2F9JFamGaSjYsFXAvw9ct6QFFjG+ua7KNTMFEwHQYDVR0OBBYE\n"
	"FMTSAXP1iusNqDEXpg0wLmaqrKgMMB8GA1UdIwQYMBaAFMTSAXP1iusNqDEXpg0w\n"
	"LmaqrKgMMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAMVugIzb\n"
	"Fta3dnYAnKs5uoGRX9tlthPddpTUbJsbYKJjAiEAxaDleXYaJxLxQ+xq00zarLyL\n"
	"LTClFvLIRDtn9Ds1Zw0=\n"
	"-----END CERTIFICATE-----\n";

/* "resources:" with one postgres resource whose upstream mapping is
 * UPSTREAM (line 4) and whose roles mapping is ROLES (lines 5-). */
static void upstream_yaml(char *buf, size_t len, const char *upstream,
			  const char *roles)
{
	snprintf(buf, len, "resources:\n  - name: db\n    kind: postgres\n"
		 "    upstream: {host: db.internal, dbname: d%s}\n"
		 "    roles:\n%s", upstream, roles);
}

static void expect_upstream_error(const char *upstream, const char *roles,
				  int line, const char *needle)
{
	char y[1024];

	upstream_yaml(y, sizeof(y), upstream, roles);
	expect_error(y, line, needle);
}

static struct config *parse_upstream(const char *upstream, const char *roles)
{
	char y[1024];

	upstream_yaml(y, sizeof(y), upstream, roles);
	return must_parse(y);
}

static void test_upstream_auth(void **state)
{
	const struct resource_cfg *r;
	struct config *cfg;

	(void)state;
	/* default: SCRAM only */
	cfg = parse_upstream("", "      read: {user: u, password_env: P}\n");
	r = &cfg->resources[0];
	assert_int_equal(config_upstream_auth(r, config_role(r, "read")),
			 UPSTREAM_AUTH_SCRAM);
	config_free(cfg);
	/* a resource list, and a role replacing it */
	cfg = parse_upstream(", auth: [md5, scram-sha-256]",
			     "      read: {user: u, password_env: P}\n"
			     "      ops:\n        user: o\n"
			     "        upstream: {auth: [trust]}\n");
	r = &cfg->resources[0];
	assert_int_equal(config_upstream_auth(r, config_role(r, "read")),
			 UPSTREAM_AUTH_MD5 | UPSTREAM_AUTH_SCRAM);
	assert_int_equal(config_upstream_auth(r, config_role(r, "ops")),
			 UPSTREAM_AUTH_TRUST);
	config_free(cfg);
	/* cleartext is fine inside TLS */
	cfg = parse_upstream(", tls: true, auth: [password]",
			     "      read: {user: u, password_env: P}\n");
	assert_int_equal(cfg->resources[0].upstream_auth,
			 UPSTREAM_AUTH_PASSWORD);
	config_free(cfg);

	expect_upstream_error(", auth: [scram-sha-1]",
			      "      read: {user: u}\n", 4,
			      "auth: 'scram-sha-1' is not scram-sha-256, md5, "
			      "password or trust");
	expect_upstream_error(", auth: [SCRAM-SHA-256]",
			      "      read: {user: u}\n", 4, "is not scram-sha-256");
	expect_upstream_error(", auth: [\"gss\\x01\"]",
			      "      read: {user: u}\n", 4, "'gss?' is not");
	expect_upstream_error(", auth: [md5, trust, md5]",
			      "      read: {user: u}\n", 4,
			      "auth: 'md5' is listed twice");
	expect_upstream_error(", auth: []", "      read: {user: u}\n", 4,
			      "auth: must not be empty");
	expect_upstream_error(", auth: md5", "      read: {user: u}\n", 4,
			      "auth: expected a list");
	expect_upstream_error(", auth: [[md5]]", "      read: {user: u}\n", 4,
			      "auth: expected a value, got a list");
	expect_upstream_error("", "      read:\n        user: u\n"
			      "        upstream: {auth: []}\n", 8,
			      "auth: must not be empty");
	expect_upstream_error("", "      read:\n        user: u\n"
			      "        upstream: {tls: true}\n", 8,
			      "unknown key 'tls' in upstream of a role");
	expect_upstream_error("", "      read:\n        user: u\n"
			      "        upstream: {}\n", 8,
			      "missing required key 'auth'");
	/* cleartext outside TLS, from the resource or from the role */
	expect_upstream_error(", auth: [password]",
			      "      read: {user: u, password_env: P}\n", 6,
			      "role 'read': upstream.auth 'password' sends the "
			      "password in cleartext; it needs upstream.tls");
	expect_upstream_error("", "      read:\n        user: u\n"
			      "        upstream: {auth: [password]}\n", 7,
			      "needs upstream.tls");
}

static void test_upstream_tls(void **state)
{
	char ca[] = "/tmp/jg-cfg-ca-XXXXXX", up[512], bad[] =
		"/tmp/jg-cfg-bad-XXXXXX";
	const char *roles = "      read: {user: u, password_env: P}\n";
	const struct resource_cfg *r;
	struct config *cfg;
	int fd;

	(void)state;
	fd = mkstemp(ca);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, test_ca_pem, strlen(test_ca_pem)),
			 (ssize_t)strlen(test_ca_pem));
	close(fd);
	fd = mkstemp(bad);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a certificate\n", 18), 18);
	close(fd);

	cfg = parse_upstream(", tls: false", roles);
	assert_int_equal(cfg->resources[0].tls_mode, UPSTREAM_TLS_OFF);
	config_free(cfg);
	cfg = parse_upstream(", tls: {mode: require}", roles);
	assert_int_equal(cfg->resources[0].tls_mode, UPSTREAM_TLS_REQUIRE);
	assert_null(cfg->resources[0].tls_ca);
	config_free(cfg);
	snprintf(up, sizeof(up), ", tls: {mode: verify-full, ca_file: %s}", ca);
	cfg = parse_upstream(up, roles);
	r = &cfg->resources[0];
	assert_int_equal(r->tls_mode, UPSTREAM_TLS_VERIFY_FULL);
	assert_string_equal(r->tls_ca_file, ca);
	assert_non_null(r->tls_ca);
	assert_null(r->tls_server_name); /* the host is checked */
	config_free(cfg);
	snprintf(up, sizeof(up), ", tls: {mode: verify-full, ca_file: %s, "
		 "server_name: pg.example.com}", ca);
	cfg = parse_upstream(up, roles);
	assert_string_equal(cfg->resources[0].tls_server_name,
			    "pg.example.com");
	config_free(cfg);

	expect_upstream_error(", tls: {ca_file: x}", roles, 4,
			      "missing required key 'mode'");
	expect_upstream_error(", tls: {mode: verify-ca}", roles, 4,
			      "mode: 'verify-ca' is not require or verify-full");
	expect_upstream_error(", tls: {mode: verify-full}", roles, 4,
			      "missing required key 'ca_file'");
	expect_upstream_error(", tls: {mode: require, ca_file: x}", roles, 4,
			      "ca_file: only used with mode: verify-full");
	expect_upstream_error(", tls: {mode: require, server_name: x}", roles,
			      4, "server_name: only used with mode: verify-full");
	expect_upstream_error(", tls: {mode: require, sslmode: x}", roles, 4,
			      "unknown key 'sslmode' in tls");
	expect_upstream_error(", tls: [require]", roles, 4,
			      "tls: must be true, false or {mode, ca_file, "
			      "server_name}");
	expect_upstream_error(", tls: {mode: verify-full, ca_file: "
			      "/nonexistent/ca.pem}", roles, 4,
			      "ca_file: '/nonexistent/ca.pem': cannot open: No such file");
	snprintf(up, sizeof(up), ", tls: {mode: verify-full, ca_file: %s}",
		 bad);
	expect_upstream_error(up, roles, 4, "ca_file: no PEM certificate in");
	/* a directory, a device: not regular files (and never read) */
	expect_upstream_error(", tls: {mode: verify-full, ca_file: /tmp}",
			      roles, 4, "ca_file: '/tmp': not a regular file");
	expect_upstream_error(", tls: {mode: verify-full, ca_file: /dev/zero}",
			      roles, 4, "not a regular file");
	snprintf(up, sizeof(up), ", tls: {mode: verify-full, ca_file: %s, "
		 "server_name: \"a b\"}", ca);
	expect_upstream_error(up, roles, 4, "server_name: 'a b' is not a host "
			      "name or an IP address");
	unlink(ca);
	unlink(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_web),
		cmocka_unit_test(test_gateway_public_address),
		cmocka_unit_test(test_nodes),
		cmocka_unit_test(test_storage_error_hides_password),
		cmocka_unit_test(test_leeway_forms),
		cmocka_unit_test(test_demo_yaml_loads),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_error_size_limits),
		cmocka_unit_test(test_error_yaml_features),
		cmocka_unit_test(test_error_keys),
		cmocka_unit_test(test_error_types),
		cmocka_unit_test(test_error_values),
		cmocka_unit_test(test_error_policies),
		cmocka_unit_test(test_upstream_auth),
		cmocka_unit_test(test_upstream_tls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
