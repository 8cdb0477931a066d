/* The access rules of the config: resources (with their roles) and the
 * policies over them, with the cross-checks that tie the two together. */
#include "config/cfgrules.h"
#include "config/cfgflow.h"

#include <ctype.h>
#include <fnmatch.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "util/fileio.h"

#define MAX_RESOURCES 1024
#define MAX_ROLES 64
#define MAX_POLICIES 1024
#define MAX_POLICY_PATTERNS 256
#define MAX_APPROVALS 16
#define MAX_PATTERN_LEN 256
#define MAX_TICKET_RE_LEN 512
#define MAX_AUTH_ITEMS 16
#define MAX_CA_FILE (1024 * 1024) /* bytes of PEM */
#define MAX_PATH_LEN 4096

static bool is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Resource patterns in policies: a name, or a glob over names. */
static bool pattern_ok(const char *s)
{
	if (!is_glob(s))
		return config_name_valid(s);
	if (strlen(s) > MAX_PATTERN_LEN)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* ---- resources --------------------------------------------------------- */

/* upstream.auth: a non-empty list of known methods, each at most once. */
static int read_auth(struct cfgval_ctx *c, const struct ytree *v,
		     unsigned *out)
{
	static const struct {
		const char *name;
		unsigned bit;
	} methods[] = {
		{"scram-sha-256", UPSTREAM_AUTH_SCRAM},
		{"md5", UPSTREAM_AUTH_MD5},
		{"password", UPSTREAM_AUTH_PASSWORD},
		{"trust", UPSTREAM_AUTH_TRUST},
	};
	char shown[72];
	int rc = cfgval_list(c, v, "auth", MAX_AUTH_ITEMS, false);

	*out = 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < v->n; i++) {
		const struct ytree *it = v->kids[i];
		unsigned bit = 0;

		rc = cfgval_want(c, it, YTREE_SCALAR, "auth");
		if (rc < 0)
			return rc;
		for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
			if (strcmp(it->str, methods[m].name) == 0)
				bit = methods[m].bit;
		if (bit == 0)
			return cfgval_err(c, it->line,
					  "auth: '%s' is not scram-sha-256, md5, "
					  "password or trust",
					  cfgval_show(it->str, shown));
		if (*out & bit)
			return cfgval_err(c, it->line,
					  "auth: '%s' is listed twice", it->str);
		*out |= bit;
	}
	return JG_OK;
}

/* Reads a PEM file of trust anchors (bounded, regular files only: a FIFO
 * or /dev/zero must not hang the load). */
static int load_ca_file(struct cfgval_ctx *c, const struct ytree *v,
			const char *path, struct x509_store_st **out)
{
	char shown[72], why[512], *buf = NULL;
	size_t len = 0, ncerts = 0, plen = strlen(path);
	X509_STORE *store = NULL;
	BIO *bio = NULL;
	X509 *x;
	int rc = file_read_all(path, MAX_CA_FILE, &buf, &len, why,
			       sizeof(why));

	if (rc == JG_ERR_TOOBIG)
		return cfgval_err(c, v->line, "ca_file: '%s' is larger than "
				  "%d bytes", cfgval_show(path, shown),
				  MAX_CA_FILE);
	if (rc == JG_ERR_IO)
		/* why is "PATH: reason": the path is shown sanitised */
		return cfgval_err(c, v->line, "ca_file: '%s': %s",
				  cfgval_show(path, shown),
				  strncmp(why, path, plen) == 0 &&
				  why[plen] == ':' ? why + plen + 2 : why);
	if (rc < 0)
		return rc;
	store = X509_STORE_new();
	bio = BIO_new_mem_buf(buf, (int)len);
	if (store == NULL || bio == NULL) {
		rc = JG_ERR_NOMEM;
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) == 1)
			ncerts++;
		X509_free(x);
	}
	ERR_clear_error(); /* the loop ends on "no start line" */
	if (ncerts == 0) {
		rc = cfgval_err(c, v->line, "ca_file: no PEM certificate in "
				"'%s'", cfgval_show(path, shown));
		goto out;
	}
	*out = store;
	store = NULL;
	rc = JG_OK;
out:
	BIO_free(bio);
	X509_STORE_free(store);
	free(buf);
	return rc;
}

/* A DNS name or an IP address literal to check the certificate against. */
static bool server_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(".-:_*", *s))
			return false;
	return true;
}

/* upstream.tls: true | false | {mode: require | verify-full, ca_file,
 * server_name}.  ca_file and server_name only mean something with
 * verify-full, so elsewhere they are errors rather than a silent no-op
 * that reads like protection. */
static int read_tls(struct cfgval_ctx *c, const struct ytree *v,
		    struct resource_cfg *r)
{
	static const char *const keys[] = {"mode", "ca_file", "server_name",
					   NULL};
	const struct ytree *t[3];
	char shown[72];
	bool on;
	int rc;

	if (v->type == YTREE_SCALAR) {
		rc = cfgval_bool(c, v, "tls", &on);
		r->tls_mode = on ? UPSTREAM_TLS_REQUIRE : UPSTREAM_TLS_OFF;
		return rc;
	}
	if (v->type != YTREE_MAP)
		return cfgval_err(c, v->line, "tls: must be true, false or "
				  "{mode, ca_file, server_name}");
	rc = cfgval_fields(c, v, "tls", keys, t);
	if (rc < 0)
		return rc;
	if (t[0] == NULL)
		return cfgval_missing(c, v, "tls", "mode");
	rc = cfgval_want(c, t[0], YTREE_SCALAR, "mode");
	if (rc < 0)
		return rc;
	if (strcmp(t[0]->str, "require") == 0)
		r->tls_mode = UPSTREAM_TLS_REQUIRE;
	else if (strcmp(t[0]->str, "verify-full") == 0)
		r->tls_mode = UPSTREAM_TLS_VERIFY_FULL;
	else
		return cfgval_err(c, t[0]->line, "mode: '%s' is not require "
				  "or verify-full",
				  cfgval_show(t[0]->str, shown));
	if (r->tls_mode != UPSTREAM_TLS_VERIFY_FULL) {
		for (size_t i = 1; i < 3; i++)
			if (t[i] != NULL)
				return cfgval_err(c, t[i]->line, "%s: only "
						  "used with mode: verify-full",
						  keys[i]);
		return JG_OK;
	}
	if (t[1] == NULL)
		return cfgval_missing(c, v, "tls with mode verify-full",
				      "ca_file");
	rc = cfgval_str(c, t[1], "ca_file", MAX_PATH_LEN, &r->tls_ca_file);
	if (rc < 0)
		return rc;
	if (t[2] != NULL) {
		rc = cfgval_checked(c, t[2], "server_name", server_name_ok,
				    "a host name or an IP address", true,
				    &r->tls_server_name);
		if (rc < 0)
			return rc;
	}
	return load_ca_file(c, t[1], r->tls_ca_file, &r->tls_ca);
}

static int read_upstream(struct cfgval_ctx *c, const struct ytree *m,
			 struct resource_cfg *r)
{
	static const char *const keys[] = {"host", "port", "dbname", "tls",
					   "auth", NULL};
	const struct ytree *v[5];
	int64_t port = 5432;
	int rc;

	rc = cfgval_fields(c, m, "upstream", keys, v);
	if (rc < 0)
		return rc;
	if (v[0] == NULL)
		return cfgval_missing(c, m, "upstream", "host");
	if (v[2] == NULL)
		return cfgval_missing(c, m, "upstream", "dbname");
	rc = cfgval_str(c, v[0], "host", 255, &r->host);
	if (rc < 0)
		return rc;
	if (v[1] != NULL) {
		rc = cfgval_int(c, v[1], "port", 1, 65535, &port);
		if (rc < 0)
			return rc;
	}
	r->port = (int)port;
	rc = cfgval_str(c, v[2], "dbname", 63, &r->dbname);
	if (rc < 0)
		return rc;
	if (v[3] != NULL) {
		rc = read_tls(c, v[3], r);
		if (rc < 0)
			return rc;
	}
	r->upstream_auth = UPSTREAM_AUTH_SCRAM;
	if (v[4] != NULL)
		return read_auth(c, v[4], &r->upstream_auth);
	return JG_OK;
}

/* A role's own upstream: {auth: [...]}, replacing the resource's list. */
static int read_role_upstream(struct cfgval_ctx *c, const struct ytree *m,
			      struct role_cfg *role)
{
	static const char *const keys[] = {"auth", NULL};
	const struct ytree *v[1];
	int rc = cfgval_fields(c, m, "upstream of a role", keys, v);

	if (rc < 0)
		return rc;
	if (v[0] == NULL)
		return cfgval_missing(c, m, "upstream of a role", "auth");
	return read_auth(c, v[0], &role->upstream_auth);
}

/* A cleartext password is only sent inside TLS.  (A role without
 * password_env and without trust is not an error here: it fails at login,
 * with a message that says so.) */
static int check_role_auth(struct cfgval_ctx *c, const struct ytree *m,
			   const struct resource_cfg *r,
			   const struct role_cfg *role)
{
	if ((config_upstream_auth(r, role) & UPSTREAM_AUTH_PASSWORD) &&
	    r->tls_mode == UPSTREAM_TLS_OFF)
		return cfgval_err(c, m->line, "role '%s': upstream.auth "
				  "'password' sends the password in "
				  "cleartext; it needs upstream.tls",
				  role->name);
	return JG_OK;
}

static int read_role(struct cfgval_ctx *c, const struct ytree *m,
		     struct resource_cfg *r, struct role_cfg *role)
{
	static const char *const pg_keys[] = {"user", "password_env",
					      "upstream", NULL};
	static const char *const generic_keys[] = {NULL};
	const struct ytree *v[3];
	int rc;

	if (r->kind == RESOURCE_GENERIC)
		/* A generic role is only a name; {} keeps room to grow. */
		return cfgval_fields(c, m, "role of a generic resource",
				     generic_keys, v);
	rc = cfgval_fields(c, m, "role", pg_keys, v);
	if (rc < 0)
		return rc;
	if (v[0] == NULL)
		return cfgval_missing(c, m, "role", "user");
	rc = cfgval_str(c, v[0], "user", 63, &role->user);
	if (rc < 0)
		return rc;
	if (v[1] != NULL) {
		rc = cfgval_checked(c, v[1], "password_env",
				    cfgval_env_name_ok,
				    "an environment variable name", true,
				    &role->password_env);
		if (rc < 0)
			return rc;
	}
	if (v[2] != NULL) {
		rc = read_role_upstream(c, v[2], role);
		if (rc < 0)
			return rc;
	}
	return check_role_auth(c, m, r, role);
}

static int read_roles(struct cfgval_ctx *c, const struct ytree *m,
		      struct resource_cfg *r)
{
	struct cfgval_key keys[MAX_ROLES];
	int rc = cfgval_want(c, m, YTREE_MAP, "roles");

	if (rc < 0)
		return rc;
	if (m->n == 0)
		return cfgval_err(c, m->line, "roles: must not be empty");
	if (m->n > MAX_ROLES)
		return cfgval_err(c, m->line, "roles: more than %d roles",
				  MAX_ROLES);
	r->roles = calloc(m->n, sizeof(*r->roles));
	if (r->roles == NULL)
		return JG_ERR_NOMEM;
	r->nroles = m->n;
	for (size_t i = 0; i < m->n; i++) {
		const struct ytree *k = m->kids[2 * i];

		rc = cfgval_name(c, k, "role name", &r->roles[i].name);
		if (rc < 0)
			return rc;
		keys[i] = (struct cfgval_key){r->roles[i].name,
					      strlen(r->roles[i].name), k->line};
		rc = read_role(c, m->kids[2 * i + 1], r, &r->roles[i]);
		if (rc < 0)
			return rc;
	}
	return cfgval_unique(c, keys, m->n, "role", true);
}

static int read_resource(struct cfgval_ctx *c, const struct ytree *m,
			 struct resource_cfg *r)
{
	static const char *const keys[] = {"name", "kind", "upstream",
					   "audit_queries", "roles", NULL};
	const struct ytree *v[5];
	char shown[72];
	int rc;

	r->line = m->line;
	rc = cfgval_fields(c, m, "resource", keys, v);
	if (rc < 0)
		return rc;
	if (v[0] == NULL)
		return cfgval_missing(c, m, "resource", "name");
	if (v[1] == NULL)
		return cfgval_missing(c, m, "resource", "kind");
	if (v[4] == NULL)
		return cfgval_missing(c, m, "resource", "roles");
	rc = cfgval_name(c, v[0], "name", &r->name);
	if (rc < 0)
		return rc;
	rc = cfgval_want(c, v[1], YTREE_SCALAR, "kind");
	if (rc < 0)
		return rc;
	if (strcmp(v[1]->str, "postgres") == 0)
		r->kind = RESOURCE_POSTGRES;
	else if (strcmp(v[1]->str, "generic") == 0)
		r->kind = RESOURCE_GENERIC;
	else
		return cfgval_err(c, v[1]->line,
				  "kind: '%s' is not postgres or generic",
				  cfgval_show(v[1]->str, shown));
	if (r->kind == RESOURCE_POSTGRES) {
		if (v[2] == NULL)
			return cfgval_missing(c, m, "postgres resource",
					      "upstream");
		rc = read_upstream(c, v[2], r);
	} else if (v[2] != NULL) {
		rc = cfgval_err(c, v[2]->line,
				"upstream: only postgres resources have one");
	}
	if (rc < 0)
		return rc;
	if (v[3] != NULL) {
		rc = cfgval_bool(c, v[3], "audit_queries", &r->audit_queries);
		if (rc < 0)
			return rc;
	}
	return read_roles(c, v[4], r);
}

int cfgrules_read_resources(struct cfgval_ctx *c, const struct ytree *v,
			    struct config *cfg)
{
	int rc;

	rc = cfgval_list(c, v, "resources", MAX_RESOURCES, true);
	if (rc < 0)
		return rc;
	cfg->resources = calloc(v->n ? v->n : 1, sizeof(*cfg->resources));
	if (cfg->resources == NULL)
		return JG_ERR_NOMEM;
	cfg->nresources = v->n;
	for (size_t i = 0; i < v->n; i++) {
		rc = read_resource(c, v->kids[i], &cfg->resources[i]);
		if (rc < 0)
			return rc;
	}
	return cfgval_unique_names(c, cfg->resources, cfg->nresources,
				   sizeof(*cfg->resources),
				   offsetof(struct resource_cfg, name),
				   offsetof(struct resource_cfg, line), "resource");
}

/* ---- policies ---------------------------------------------------------- */

/* Each resource pattern must name something, and each role must exist on
 * at least one resource the policy covers: a policy that can never grant
 * is a typo, and typos in access rules should stop the load. */
static int check_policy_refs(struct cfgval_ctx *c,
			     const struct ytree *res_node,
			     const struct ytree *roles_node,
			     const struct config *cfg,
			     const struct policy_cfg *p)
{
	char shown[72];
	size_t ncovered = 0;
	bool *covered;
	int rc = JG_OK;

	covered = calloc(cfg->nresources ? cfg->nresources : 1, sizeof(*covered));
	if (covered == NULL)
		return JG_ERR_NOMEM;
	for (size_t i = 0; i < p->nresources; i++) {
		const char *pat = p->resources[i];
		int line = res_node->kids[i]->line;
		bool any = false;

		for (size_t r = 0; r < cfg->nresources; r++) {
			bool hit = is_glob(pat)
				? fnmatch(pat, cfg->resources[r].name, 0) == 0
				: strcmp(pat, cfg->resources[r].name) == 0;

			if (!hit)
				continue;
			any = true;
			if (!covered[r]) {
				covered[r] = true;
				ncovered++;
			}
			/* Once all are covered, one hit proves the pattern. */
			if (ncovered == cfg->nresources)
				break;
		}
		if (!any) {
			rc = cfgval_err(c, line, is_glob(pat)
					? "resources: pattern '%s' matches no configured resource"
					: "resources: unknown resource '%s'",
					cfgval_show(pat, shown));
			goto out;
		}
	}
	for (size_t i = 0; i < p->nroles; i++) {
		bool found = false;

		for (size_t r = 0; r < cfg->nresources && !found; r++)
			found = covered[r] &&
				config_role(&cfg->resources[r], p->roles[i]);
		if (!found) {
			rc = cfgval_err(c, roles_node->kids[i]->line,
					"roles: no resource of policy '%s' has a role '%s'",
					p->name, cfgval_show(p->roles[i], shown));
			goto out;
		}
	}
out:
	free(covered);
	return rc;
}

/* glibc compiles a repeat by copying its operand ("x+" becomes "xx*",
 * "x{3}" becomes "xxx"), so repeats of repeats multiply: "(a{999}){999}"
 * or "a++++…" take minutes and gigabytes.  Back-references make matching
 * exponential in the ticket a requester sends.  Real ticket patterns need
 * neither, so both are refused, by estimating the compiled size: an atom
 * counts 1, a group the sum of its parts, a repeat multiplies what it
 * repeats by its largest count ("+" by 2). */
#define TICKET_RE_SIZE_MAX 10000
#define TICKET_RE_COUNT_MAX 1000
#define TICKET_RE_GROUPS_MAX 64

struct re_frame {
	uint64_t total; /* estimated size of the group so far */
	uint64_t last;  /* size of its last item, which a repeat applies to */
};

/* Skips a bracket expression starting at s ('['); returns its last char. */
static const char *skip_bracket(const char *s)
{
	const char *p = s + 1;

	if (*p == '^')
		p++;
	if (*p == ']')
		p++; /* a leading ']' is literal */
	for (; *p != '\0'; p++) {
		if (p[0] == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			const char *close = strchr(p + 2, p[1]);

			while (close != NULL && close[1] != ']')
				close = strchr(close + 1, p[1]);
			if (close == NULL)
				return p + strlen(p) - 1; /* regcomp will refuse */
			p = close + 1;
			continue;
		}
		if (*p == ']')
			return p;
	}
	return p - 1;
}

/* Reads "{m}", "{m,}" or "{m,n}" at s; returns the largest count it allows
 * (m + 1 for an open "{m,}") and sets *end to the closing '}', or returns 0
 * when s does not hold a valid bound (regcomp judges that). */
static uint64_t read_bound(const char *s, const char **end)
{
	uint64_t lo = 0, hi = 0;
	bool comma = false, has_hi = false;
	const char *p = s + 1;

	if (*p < '0' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9' && lo <= 100000; p++)
		lo = lo * 10 + (uint64_t)(*p - '0');
	if (*p == ',') {
		comma = true;
		for (p++; *p >= '0' && *p <= '9' && hi <= 100000; p++) {
			hi = hi * 10 + (uint64_t)(*p - '0');
			has_hi = true;
		}
	}
	if (*p != '}')
		return 0;
	*end = p;
	if (comma && !has_hi)
		return lo + 1;
	return has_hi && hi > lo ? hi : (lo ? lo : 1);
}

static const char *ticket_pattern_problem(const char *pat)
{
	struct re_frame st[TICKET_RE_GROUPS_MAX + 1] = {{0, 0}};
	size_t depth = 0;

	for (const char *s = pat; *s != '\0'; s++) {
		struct re_frame *f = &st[depth];
		uint64_t item = 1, mult = 0;
		const char *end;

		switch (*s) {
		case '\\':
			if (s[1] >= '1' && s[1] <= '9')
				return "back-references are not allowed";
			if (s[1] != '\0')
				s++;
			break;
		case '[':
			s = skip_bracket(s);
			break;
		case '(':
			if (depth == TICKET_RE_GROUPS_MAX)
				return "groups nested too deeply";
			st[++depth] = (struct re_frame){0, 0};
			continue;
		case ')':
			if (depth == 0)
				break; /* a literal ')' in ERE */
			item = st[depth--].total;
			f = &st[depth];
			break;
		case '|':
			f->last = 0;
			continue;
		case '*':
		case '?':
			continue;
		case '+':
			mult = 2;
			break;
		case '{':
			mult = read_bound(s, &end);
			if (mult == 0)
				break; /* not a bound: a literal '{' */
			if (mult > TICKET_RE_COUNT_MAX + 1)
				return "a repeat count is over 1000";
			s = end;
			break;
		default:
			break;
		}
		if (mult != 0) {
			f->total += f->last * (mult - 1);
			f->last *= mult;
		} else {
			f->total += item;
			f->last = item;
		}
		if (f->total > TICKET_RE_SIZE_MAX)
			return "too complex (its repeats expand past 10000 elements)";
	}
	return NULL;
}

static int read_ticket_pattern(struct cfgval_ctx *c, const struct ytree *v,
			       struct policy_cfg *p)
{
	char *pat = NULL, msg[128];
	const char *problem;
	int rc, rerr;

	rc = cfgval_str(c, v, "ticket_pattern", MAX_TICKET_RE_LEN, &pat);
	if (rc < 0)
		return rc;
	problem = ticket_pattern_problem(pat);
	if (problem != NULL) {
		free(pat);
		return cfgval_err(c, v->line, "ticket_pattern: %s", problem);
	}
	rerr = regcomp(&p->ticket_re, pat, REG_EXTENDED | REG_NOSUB);
	if (rerr != 0) {
		regerror(rerr, &p->ticket_re, msg, sizeof(msg));
		free(pat);
		return cfgval_err(c, v->line, "ticket_pattern: bad regular expression: %s",
				  msg);
	}
	p->ticket_pattern = pat; /* from here on config_free regfrees it */
	return JG_OK;
}

/* With only user: approvers (no group can grow), more approvals than
 * approvers could ever give means the policy can never be satisfied. */
int cfgrules_check_reachable(struct cfgval_ctx *c, int line, int approvals,
			     const struct principal_list *approvers)
{
	size_t users = 0;

	for (size_t i = 0; i < approvers->n; i++) {
		const struct principal *a = &approvers->v[i];
		bool seen = false;

		if (a->kind == PRINCIPAL_GROUP)
			return JG_OK;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(approvers->v[j].name, a->name) == 0;
		users += !seen;
	}
	if ((size_t)approvals > users)
		return cfgval_err(c, line,
				  "approvals: %d needed but only %zu distinct approvers listed",
				  approvals, users);
	return JG_OK;
}

enum {
	P_NAME, P_REQUESTERS, P_RESOURCES, P_ROLES, P_MAX_DURATION,
	P_APPROVALS, P_APPROVERS, P_SELF, P_REASON, P_TICKET, P_BREAK_GLASS,
	P_FLOW, P_NKEYS = P_FLOW + CFGFLOW_NKEYS
};

static int read_policy(struct cfgval_ctx *c, const struct ytree *m,
		       const struct config *cfg, struct policy_cfg *p)
{
	static const char *const keys[] = {
		"name", "requesters", "resources", "roles", "max_duration",
		"approvals", "approvers", "allow_self_approval",
		"require_reason", "ticket_pattern", "break_glass",
		CFGFLOW_KEY_NAMES, NULL};
	static const char *const bg_keys[] = {"max_duration", NULL};
	static const int required[] = {P_NAME, P_REQUESTERS, P_RESOURCES,
				       P_ROLES, P_MAX_DURATION};
	const struct ytree *v[P_NKEYS], *bg[1];
	int64_t approvals = 0;
	int rc;

	p->line = m->line;
	rc = cfgval_fields(c, m, "policy", keys, v);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (v[required[i]] == NULL)
			return cfgval_missing(c, m, "policy", keys[required[i]]);
	rc = cfgval_name(c, v[P_NAME], "name", &p->name);
	if (rc < 0)
		return rc;
	rc = cfgval_principals(c, v[P_REQUESTERS], "requesters", false,
			       &p->requesters);
	if (rc < 0)
		return rc;
	rc = cfgval_str_list(c, v[P_RESOURCES], "resources",
			     MAX_POLICY_PATTERNS, false, pattern_ok,
			     "a resource name or glob", &p->resources,
			     &p->nresources);
	if (rc < 0)
		return rc;
	rc = cfgval_str_list(c, v[P_ROLES], "roles", MAX_ROLES, false,
			     config_name_valid, "a valid role name", &p->roles,
			     &p->nroles);
	if (rc < 0)
		return rc;
	rc = check_policy_refs(c, v[P_RESOURCES], v[P_ROLES], cfg, p);
	if (rc < 0)
		return rc;
	rc = cfgval_duration(c, v[P_MAX_DURATION], "max_duration",
			     &p->max_duration_s);
	if (rc < 0)
		return rc;
	if (v[P_APPROVALS] == NULL && v[P_FLOW + CFGFLOW_STAGES] == NULL)
		return cfgval_missing(c, m, "policy", "approvals");
	if (v[P_APPROVALS] != NULL) {
		rc = cfgval_int(c, v[P_APPROVALS], "approvals", 0, MAX_APPROVALS,
				&approvals);
		if (rc < 0)
			return rc;
	}
	p->approvals = (int)approvals;
	if (v[P_APPROVERS] != NULL && v[P_FLOW + CFGFLOW_STAGES] == NULL) {
		rc = cfgval_principals(c, v[P_APPROVERS], "approvers", false,
				       &p->approvers);
		if (rc < 0)
			return rc;
	}
	if (v[P_SELF] != NULL) {
		rc = cfgval_bool(c, v[P_SELF], "allow_self_approval",
				 &p->allow_self_approval);
		if (rc < 0)
			return rc;
	}
	if (v[P_REASON] != NULL) {
		rc = cfgval_bool(c, v[P_REASON], "require_reason",
				 &p->require_reason);
		if (rc < 0)
			return rc;
	}
	if (v[P_TICKET] != NULL) {
		rc = read_ticket_pattern(c, v[P_TICKET], p);
		if (rc < 0)
			return rc;
	}
	if (v[P_BREAK_GLASS] != NULL) {
		rc = cfgval_fields(c, v[P_BREAK_GLASS], "break_glass", bg_keys,
				   bg);
		if (rc < 0)
			return rc;
		if (bg[0] == NULL)
			return cfgval_missing(c, v[P_BREAK_GLASS], "break_glass",
					      "max_duration");
		rc = cfgval_duration(c, bg[0], "break_glass.max_duration",
				     &p->break_glass_max_s);
		if (rc < 0)
			return rc;
		p->break_glass = true;
	}
	rc = cfgflow_read(c, m, &v[P_FLOW], v[P_APPROVALS], v[P_APPROVERS], p);
	if (rc < 0)
		return rc;
	if (p->nstages > 0)
		return JG_OK; /* each stage was checked as it was read */
	if (p->approvals > 0 && p->approvers.n == 0)
		return cfgval_err(c, v[P_APPROVALS]->line,
				  "approvals: %d approvals need 'approvers'",
				  p->approvals);
	/* Break-glass grants are reviewed after the fact by an approver. */
	if (p->break_glass && p->approvers.n == 0)
		return cfgval_err(c, v[P_BREAK_GLASS]->line,
				  "break_glass: needs 'approvers' to review it");
	if (p->approvals > 0)
		return cfgrules_check_reachable(c, v[P_APPROVALS]->line,
						p->approvals, &p->approvers);
	return JG_OK;
}

int cfgrules_read_policies(struct cfgval_ctx *c, const struct ytree *v,
			   struct config *cfg)
{
	int rc;

	rc = cfgval_list(c, v, "policies", MAX_POLICIES, true);
	if (rc < 0)
		return rc;
	cfg->policies = calloc(v->n ? v->n : 1, sizeof(*cfg->policies));
	if (cfg->policies == NULL)
		return JG_ERR_NOMEM;
	cfg->npolicies = v->n;
	for (size_t i = 0; i < v->n; i++) {
		rc = read_policy(c, v->kids[i], cfg, &cfg->policies[i]);
		if (rc < 0)
			return rc;
	}
	return cfgval_unique_names(c, cfg->policies, cfg->npolicies,
				   sizeof(*cfg->policies),
				   offsetof(struct policy_cfg, name),
				   offsetof(struct policy_cfg, line), "policy");
}
