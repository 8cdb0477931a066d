/* The gateway against a real PostgreSQL cluster (started here through
 * tests/e2e/pgcluster.py) with real libpq clients and psql.  The gateway
 * runs on its own event loop thread with small in-memory hooks: a token
 * table, a grant table the tests edit, and an audit log in memory. */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "gateway/gateway.h"
#include "util/err.h"
#include "util/timeutil.h"

#define MAX_GRANTS 32
#define MAX_EVENTS 4096

struct tgrant {
	const char *subject, *resource, *role;
	int64_t id, expires_at_ms;
	int active;
};

struct tevent {
	char action[32];
	char subject[64];
	int64_t request_id;
	char *detail; /* JSON text */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct tgrant grants[MAX_GRANTS];
static size_t ngrants;
static struct tevent events[MAX_EVENTS];
static size_t nevents;
static bool audit_busy; /* the audit hook says "writer backed up" */
static bool preauth_limited; /* the refuse_preauth hook says "limited" */

static int pg_port, gw_port;
static char pg_dir[256];
static char tls_dir[256];
static struct event_base *base;
static struct gateway *gw;
static pthread_t loop_thread;

static struct role_cfg orders_roles[] = {
	{"read", "jit_read", "JGT_READ_PW", 0},
	{"write", "jit_write", "JGT_WRITE_PW", 0},
	{"md5", "jit_md5", "JGT_MD5_PW", UPSTREAM_AUTH_MD5},
	{"trust", "jit_trust", NULL, UPSTREAM_AUTH_TRUST},
	{"nopw", "jit_read", "JGT_UNSET_PW", 0},
	/* the default upstream.auth (scram-sha-256 only) against md5 and
	 * trust upstreams */
	{"md5strict", "jit_md5", "JGT_MD5_PW", 0},
	{"truststrict", "jit_trust", NULL, 0},
};
static struct role_cfg secure_roles[] = {{"read", "jit_tls", "JGT_TLS_PW", 0}};
static struct role_cfg generic_roles[] = {{"read", NULL, NULL, 0}};
static struct role_cfg fake_roles[] = {{"read", "jit_read", "JGT_READ_PW", 0}};
static struct resource_cfg resources[4];
static struct config cfg;

/* --- hooks ----------------------------------------------------------- */

static const char *const tokens[][2] = {
	{"alice", "tok-alice"},
	{"bob", "tok-bob"},
};

static bool h_audit(void *ctx, const char *action, const char *subject,
		    const char *resource, const char *role, int64_t request_id,
		    json_t *detail);

static int h_authenticate_check(const char *user, const char *password,
				char *reason, size_t reasonlen)
{
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
		if (strcmp(password, tokens[i][1]) != 0)
			continue;
		if (strcmp(user, tokens[i][0]) == 0)
			return 0;
		snprintf(reason, reasonlen, "token belongs to another subject");
		return JG_ERR_AUTH;
	}
	snprintf(reason, reasonlen, "invalid token");
	return JG_ERR_AUTH;
}

/* Like the daemon's hook: audits its own failures. */
static int h_authenticate(void *ctx, const char *user, const char *password,
			  const char *client, char *reason, size_t reasonlen)
{
	int rc = h_authenticate_check(user, password, reason, reasonlen);

	assert_non_null(strchr(client, ':')); /* host:port */
	if (rc != 0)
		h_audit(ctx, "auth.failed", NULL, NULL, NULL, 0,
			json_pack("{s:s, s:s}", "reason", reason, "claimed_subject", user));
	return rc;
}

/* Like the daemon's hook: audits the refusal itself (the daemon through
 * its failure limiter), or says the address is limited. */
static int h_refuse_preauth(void *ctx, const char *user, const char *resource,
			    const char *role, const char *client, const char *why,
			    char *reason, size_t reasonlen)
{
	bool limited;

	(void)resource;
	(void)role;
	assert_non_null(strchr(client, ':')); /* host:port */
	pthread_mutex_lock(&mu);
	limited = preauth_limited;
	pthread_mutex_unlock(&mu);
	if (limited) {
		snprintf(reason, reasonlen, "too many failed authentications from this address");
		return JG_ERR_LIMIT;
	}
	h_audit(ctx, "check.denied", NULL, NULL, NULL, 0,
		json_pack("{s:s, s:s, s:b}", "reason", why, "claimed_subject", user,
			  "via_hook", 1));
	return 0;
}

static int h_find_grant(void *ctx, const char *subject, const char *resource,
			const char *role, struct gateway_grant *out)
{
	const struct tgrant *best = NULL;
	int64_t now = time_now_ms();
	int rc = JG_ERR_NOTFOUND;

	(void)ctx;
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < ngrants; i++) {
		const struct tgrant *g = &grants[i];

		if (!g->active || g->expires_at_ms <= now ||
		    strcmp(g->subject, subject) || strcmp(g->resource, resource))
			continue;
		if (role && strcmp(g->role, role))
			continue;
		if (!role && best && strcmp(best->role, g->role)) {
			rc = JG_ERR_CONFLICT;
			goto out;
		}
		if (!best || g->expires_at_ms > best->expires_at_ms)
			best = g;
	}
	if (best) {
		out->request_id = best->id;
		out->expires_at_ms = best->expires_at_ms;
		snprintf(out->role, sizeof(out->role), "%s", best->role);
		rc = 0;
	}
out:
	pthread_mutex_unlock(&mu);
	return rc;
}

static bool h_audit(void *ctx, const char *action, const char *subject,
		    const char *resource, const char *role, int64_t request_id,
		    json_t *detail)
{
	bool busy;

	(void)ctx;
	(void)resource;
	(void)role;
	pthread_mutex_lock(&mu);
	if (nevents < MAX_EVENTS) {
		struct tevent *e = &events[nevents++];

		snprintf(e->action, sizeof(e->action), "%s", action);
		snprintf(e->subject, sizeof(e->subject), "%s",
			 subject ? subject : "");
		e->request_id = request_id;
		e->detail = detail ? json_dumps(detail, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	}
	busy = audit_busy;
	pthread_mutex_unlock(&mu);
	json_decref(detail);
	return busy;
}

static int64_t add_grant(const char *subject, const char *resource,
			 const char *role, int64_t ttl_ms)
{
	static int64_t next_id = 100;
	int64_t id;

	pthread_mutex_lock(&mu);
	assert_true(ngrants < MAX_GRANTS);
	id = ++next_id;
	grants[ngrants++] = (struct tgrant){subject, resource, role, id,
					    time_now_ms() + ttl_ms, 1};
	pthread_mutex_unlock(&mu);
	return id;
}

static void end_grant(int64_t id, const char *why)
{
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < ngrants; i++)
		if (grants[i].id == id)
			grants[i].active = 0;
	pthread_mutex_unlock(&mu);
	gateway_grant_ended(gw, id, why);
}

static void clear_grants(void)
{
	pthread_mutex_lock(&mu);
	ngrants = 0;
	pthread_mutex_unlock(&mu);
}

/* Index of the first event with action whose detail contains needle
 * (NULL: any), or -1. */
static int find_event(const char *action, const char *needle)
{
	int found = -1;

	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nevents && found < 0; i++)
		if (strcmp(events[i].action, action) == 0 &&
		    (!needle ||
		     (events[i].detail && strstr(events[i].detail, needle))))
			found = (int)i;
	pthread_mutex_unlock(&mu);
	return found;
}

/* How many events with action have needle in their detail (NULL: any). */
static int count_events(const char *action, const char *needle)
{
	int n = 0;

	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nevents; i++)
		if (strcmp(events[i].action, action) == 0 &&
		    (!needle ||
		     (events[i].detail && strstr(events[i].detail, needle))))
			n++;
	pthread_mutex_unlock(&mu);
	return n;
}

/* Waits (bounded, as a hang guard only) for an audit event. */
static int wait_event(const char *action, const char *needle)
{
	for (int i = 0; i < 1000; i++) {
		int e = find_event(action, needle);

		if (e >= 0)
			return e;
		usleep(10000);
	}
	return -1;
}

/* --- a fake SCRAM upstream (one connection per test) ----------------- */

static int fake_lfd = -1;
static pthread_t fake_thread;
static atomic_int fake_first_sent, fake_final_seen;
static bool fake_close_after_first, fake_ok_after_first;

static int fake_listen(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);

	fake_lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (fake_lfd < 0 || bind(fake_lfd, (struct sockaddr *)&a, l) != 0 ||
	    listen(fake_lfd, 4) != 0 ||
	    getsockname(fake_lfd, (struct sockaddr *)&a, &l) != 0)
		return -1;
	return ntohs(a.sin_port);
}

static bool read_full(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* One frontend message ('p') or, with startup, the startup packet. */
static ssize_t fake_read_msg(int fd, bool startup, uint8_t *buf, size_t max)
{
	uint8_t h[5];
	size_t hl = startup ? 4 : 5;
	uint32_t len;

	if (!read_full(fd, h, hl))
		return -1;
	len = be32(h + hl - 4) - 4;
	if (len > max || !read_full(fd, buf, len))
		return -1;
	return (ssize_t)len;
}

static void fake_auth(int fd, uint32_t code, const char *data, size_t dl)
{
	uint8_t m[512];

	m[0] = 'R';
	m[1] = 0;
	m[2] = 0;
	m[3] = (uint8_t)((8 + dl) >> 8);
	m[4] = (uint8_t)(8 + dl);
	m[5] = m[6] = m[7] = 0;
	m[8] = (uint8_t)code;
	memcpy(m + 9, data, dl);
	assert_int_equal(write(fd, m, 9 + dl), (ssize_t)(9 + dl));
}

/* Accepts one connection; SASL up to server-first; then either closes or
 * waits for client-final and answers it with a wrong signature. */
static void *fake_main(void *arg)
{
	uint8_t buf[2048];
	char first[256];
	const char *nonce;
	int fd = accept(fake_lfd, NULL, NULL);
	ssize_t n;

	(void)arg;
	if (fd < 0)
		return NULL;
	if (fake_read_msg(fd, true, buf, sizeof(buf)) < 0)
		goto out;
	fake_auth(fd, 10, "SCRAM-SHA-256\0", 15);
	n = fake_read_msg(fd, false, buf, sizeof(buf) - 1);
	if (n < 0)
		goto out;
	buf[n] = '\0';
	/* "SCRAM-SHA-256\0" len32 "n,,n=,r=NONCE" */
	nonce = strstr((const char *)buf + 18, "r=");
	if (!nonce)
		goto out;
	n = snprintf(first, sizeof(first), "%ssrv,s=c2FsdHNhbHRzYWx0,i=4096",
		     nonce);
	fake_auth(fd, 11, first, (size_t)n);
	if (fake_ok_after_first) /* "you're in", without waiting for us */
		fake_auth(fd, 0, "", 0);
	atomic_store(&fake_first_sent, 1);
	if (fake_close_after_first)
		goto out;
	if (fake_read_msg(fd, false, buf, sizeof(buf)) < 0)
		goto out;
	atomic_store(&fake_final_seen, 1);
	fake_auth(fd, 12, "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 46);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
out:
	close(fd);
	return NULL;
}

static void fake_start(bool close_after_first, bool ok_after_first)
{
	atomic_store(&fake_first_sent, 0);
	atomic_store(&fake_final_seen, 0);
	fake_close_after_first = close_after_first;
	fake_ok_after_first = ok_after_first;
	assert_int_equal(pthread_create(&fake_thread, NULL, fake_main, NULL),
			 0);
}

/* --- setup ----------------------------------------------------------- */

static void *loop_main(void *arg)
{
	(void)arg;
	event_base_dispatch(base);
	return NULL;
}

static int run(const char *fmt, ...) JG_PRINTF(1, 2);
static int run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int setup(void **state)
{
	static const struct gateway_hooks hooks = {
		NULL, h_authenticate, h_find_grant, h_audit, h_refuse_preauth};
	static char listen[64], cert[300], key[300];
	int rc;

	(void)state;
	pg_port = 26000 + getpid() % 2000;
	snprintf(pg_dir, sizeof(pg_dir), "/tmp/jg-pgunit-%d", getpid());
	snprintf(tls_dir, sizeof(tls_dir), "/tmp/jg-gwtls-%d", getpid());
	if (run("python3 %s/tests/e2e/pgcluster.py start %s %d",
		JG_SOURCE_DIR, pg_dir, pg_port) != 0)
		return -1;
	if (run("mkdir -p %s && openssl req -x509 -newkey rsa:2048 -nodes "
		"-days 1 -subj /CN=localhost -keyout %s/gw.key -out %s/gw.crt "
		">/dev/null 2>&1", tls_dir, tls_dir, tls_dir) != 0)
		return -1;
	setenv("JGT_READ_PW", "read-pw", 1);
	setenv("JGT_WRITE_PW", "write-pw", 1);
	setenv("JGT_MD5_PW", "md5-pw", 1);
	setenv("JGT_TLS_PW", "tls-pw", 1);
	unsetenv("JGT_UNSET_PW");

	resources[0] = (struct resource_cfg){
		.name = "orders-db", .kind = RESOURCE_POSTGRES,
		.host = "127.0.0.1", .port = pg_port, .dbname = "orders",
		.audit_queries = true, .roles = orders_roles,
		.nroles = sizeof(orders_roles) / sizeof(orders_roles[0])};
	resources[1] = (struct resource_cfg){
		.name = "secure-db", .kind = RESOURCE_POSTGRES,
		.host = "localhost", .port = pg_port, .dbname = "orders",
		.tls_mode = UPSTREAM_TLS_REQUIRE, .roles = secure_roles, .nroles = 1};
	resources[2] = (struct resource_cfg){
		.name = "billing-api", .kind = RESOURCE_GENERIC,
		.roles = generic_roles, .nroles = 1};
	resources[3] = (struct resource_cfg){
		.name = "fake-db", .kind = RESOURCE_POSTGRES,
		.host = "127.0.0.1", .port = fake_listen(), .dbname = "orders",
		.roles = fake_roles, .nroles = 1};
	cfg.resources = resources;
	cfg.nresources = 4;
	snprintf(listen, sizeof(listen), "127.0.0.1:0");
	snprintf(cert, sizeof(cert), "%s/gw.crt", tls_dir);
	snprintf(key, sizeof(key), "%s/gw.key", tls_dir);
	cfg.gateway.enabled = true;
	cfg.gateway.postgres_listen = listen;
	cfg.gateway.tls_cert = cert;
	cfg.gateway.tls_key = key;
	/* the defaults of config.c */
	cfg.limits = (struct limits_cfg){.gateway_connections = 10000,
					 .gateway_preauth_per_ip = 32,
					 .login_timeout_s = 10};

	/* as jitgate serve does: libevent writes to sockets with writev,
	 * which raises SIGPIPE when the peer has gone */
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	base = gateway_base_new();
	if (!base)
		return -1;
	rc = gateway_start(base, &cfg, &hooks, -1, &gw);
	if (rc != 0)
		return -1;
	gw_port = gateway_port(gw);
	return pthread_create(&loop_thread, NULL, loop_main, NULL);
}

static int teardown(void **state)
{
	(void)state;
	if (base) {
		event_base_loopbreak(base);
		pthread_join(loop_thread, NULL);
		gateway_free(gw);
		event_base_free(base);
	}
	run("python3 %s/tests/e2e/pgcluster.py stop %s", JG_SOURCE_DIR, pg_dir);
	run("rm -rf %s", tls_dir);
	if (fake_lfd >= 0)
		close(fake_lfd);
	for (size_t i = 0; i < nevents; i++)
		free(events[i].detail);
	return 0;
}

/* --- client helpers --------------------------------------------------- */

static char notices[8][512];
static int nnotices;

static void on_notice(void *arg, const char *msg)
{
	(void)arg;
	if (nnotices < 8)
		snprintf(notices[nnotices++], sizeof(notices[0]), "%s", msg);
}

static PGconn *connect_as(const char *user, const char *password,
			  const char *db, const char *extra)
{
	char ci[512];
	PGconn *c;

	snprintf(ci, sizeof(ci),
		 "host=127.0.0.1 port=%d user=%s password=%s dbname=%s "
		 "connect_timeout=10 %s",
		 gw_port, user, password, db, extra ? extra : "sslmode=disable");
	c = PQconnectdb(ci);
	PQsetNoticeProcessor(c, on_notice, NULL);
	return c;
}

/* A session of alice on orders-db as read, on a grant of its own. */
static PGconn *alice_reading(void)
{
	PGconn *c;

	clear_grants();
	add_grant("alice", "orders-db", "read", 3600 * 1000);
	c = connect_as("alice", "tok-alice", "orders-db@read", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	return c;
}

static char *query1(PGconn *c, const char *sql)
{
	static char buf[256];
	PGresult *r = PQexec(c, sql);

	buf[0] = '\0';
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		snprintf(buf, sizeof(buf), "%s", PQgetvalue(r, 0, 0));
	else
		snprintf(buf, sizeof(buf), "ERR %s", PQerrorMessage(c));
	PQclear(r);
	return buf;
}

/* Waits until the server side sends something or closes (bounded as a hang
 * guard), then lets libpq take it in; returns what libpq reported. */
static const char *wait_for_cut(PGconn *c)
{
	struct pollfd p = {PQsocket(c), POLLIN, 0};
	static char buf[1024];

	nnotices = 0;
	assert_int_equal(poll(&p, 1, 20000), 1);
	PQconsumeInput(c);
	PQisBusy(c);
	snprintf(buf, sizeof(buf), "%s | %s", nnotices ? notices[0] : "",
		 PQerrorMessage(c));
	return buf;
}

/* --- tests ------------------------------------------------------------ */

static void test_query_scram(void **state)
{
	int64_t id;
	PGconn *c;

	(void)state;
	clear_grants();
	id = add_grant("alice", "orders-db", "read", 3600 * 1000);
	c = connect_as("alice", "tok-alice", "orders-db@read", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_equal(query1(c, "select count(*) from items"), "100");
	assert_string_equal(query1(c, "select current_user"), "jit_read");
	/* read role cannot write: the upstream's privileges apply */
	assert_non_null(strstr(query1(c, "insert into items values (1000, 'x')"),
			       "permission denied"));
	PQfinish(c);
	assert_true(wait_event("session.ended", "client closed") >= 0);
	assert_true(find_event("session.started", "\"request_id\":") >= 0);
	assert_true(find_event("session.query", "select count(*) from items") >= 0);
	(void)id;
}

/* A client's Terminate makes the backend exit and close its side, often
 * before the client's own close reaches the gateway (CI saw the session
 * ended as "upstream closed" once): the session still ended because the
 * client ended it.  Here the client's socket stays open, so only the
 * Terminate can end the session. */
static void test_terminate_ends_as_client_closed(void **state)
{
	static const uint8_t term[5] = {'X', 0, 0, 0, 4};
	PGconn *c;
	int ended, closed;

	(void)state;
	c = alice_reading();
	ended = count_events("session.ended", NULL);
	closed = count_events("session.ended", "client closed");
	assert_int_equal(send(PQsocket(c), term, sizeof(term), MSG_NOSIGNAL),
			 (ssize_t)sizeof(term));
	for (int i = 0; i < 1000 && count_events("session.ended", NULL) == ended; i++)
		usleep(10000);
	assert_int_equal(count_events("session.ended", NULL), ended + 1);
	assert_int_equal(count_events("session.ended", "client closed"), closed + 1);
	PQfinish(c);
}

static void test_role_inferred_and_params(void **state)
{
	PGconn *c;

	(void)state;
	clear_grants();
	add_grant("alice", "orders-db", "write", 3600 * 1000);
	/* no @role: alice holds exactly one role there */
	c = connect_as("alice", "tok-alice", "orders-db",
		       "sslmode=disable application_name=jgtest "
		       "options='-c search_path=pg_catalog,public'");
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_equal(query1(c, "select current_user"), "jit_write");
	assert_string_equal(query1(c, "select current_setting('application_name')"),
			    "jgtest");
	assert_string_equal(query1(c, "show search_path"), "pg_catalog,public");
	assert_string_equal(PQparameterStatus(c, "application_name"), "jgtest");
	PQfinish(c);
	/* holding two roles makes the bare name ambiguous */
	add_grant("alice", "orders-db", "read", 3600 * 1000);
	c = connect_as("alice", "tok-alice", "orders-db", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(c), "several roles"));
	PQfinish(c);
}

static void test_md5_trust_tls_upstreams(void **state)
{
	PGconn *c;

	(void)state;
	clear_grants();
	add_grant("bob", "orders-db", "md5", 3600 * 1000);
	add_grant("bob", "orders-db", "trust", 3600 * 1000);
	add_grant("bob", "secure-db", "read", 3600 * 1000);
	c = connect_as("bob", "tok-bob", "orders-db@md5", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_equal(query1(c, "select current_user"), "jit_md5");
	PQfinish(c);
	c = connect_as("bob", "tok-bob", "orders-db@trust", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_equal(query1(c, "select current_user"), "jit_trust");
	PQfinish(c);
	/* pg_hba admits jit_tls only over hostssl */
	c = connect_as("bob", "tok-bob", "secure-db@read", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_equal(query1(c, "select ssl::text from pg_stat_ssl "
				      "where pid = pg_backend_pid()"), "true");
	PQfinish(c);
}

static void test_refusals(void **state)
{
	static const struct {
		const char *user, *pw, *db, *sqlstate_text;
	} cases[] = {
		{"alice", "tok-alice", "orders-db@write",
		 "no active grant for orders-db as write; request one with: "
		 "jitgate request orders-db write"},
		{"alice", "wrong", "orders-db@read", "password authentication failed"},
		{"alice", "tok-bob", "orders-db@read", "another subject"},
		{"alice", "tok-alice", "nope-db", "no PostgreSQL resource named \"nope-db\""},
		{"alice", "tok-alice", "billing-api", "no PostgreSQL resource"},
		{"alice", "tok-alice", "orders-db@admin", "has no role \"admin\""},
		{"alice", "tok-alice", "orders-db@nopw", "no upstream password"},
		{"alice", "tok-alice", "orders-db@md5strict",
		 "cannot log in to orders-db as md5strict: upstream asked for "
		 "md5 authentication, which upstream.auth does not allow"},
		{"alice", "tok-alice", "orders-db@truststrict",
		 "upstream let us in without authentication (trust), which "
		 "upstream.auth does not allow"},
	};
	(void)state;
	clear_grants();
	add_grant("alice", "orders-db", "read", 3600 * 1000);
	add_grant("alice", "orders-db", "nopw", 3600 * 1000);
	add_grant("alice", "orders-db", "md5strict", 3600 * 1000);
	add_grant("alice", "orders-db", "truststrict", 3600 * 1000);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		PGconn *c = connect_as(cases[i].user, cases[i].pw, cases[i].db,
				       NULL);

		assert_int_equal(PQstatus(c), CONNECTION_BAD);
		if (!strstr(PQerrorMessage(c), cases[i].sqlstate_text))
			fail_msg("case %zu: %s", i, PQerrorMessage(c));
		/* the token never shows up in what the client is told */
		assert_null(strstr(PQerrorMessage(c), "tok-"));
		PQfinish(c);
	}
	assert_true(find_event("check.denied", "\"reason\":\"no_grant\"") >= 0);
	assert_true(find_event("check.denied", "unknown_resource") >= 0);
	assert_true(find_event("check.denied", "unknown_role") >= 0);
	assert_true(find_event("auth.failed", "invalid token") >= 0);
	assert_true(find_event("auth.failed", "another subject") >= 0);
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nevents; i++)
		assert_null(events[i].detail ? strstr(events[i].detail, "tok-")
					     : NULL);
	pthread_mutex_unlock(&mu);
}

static void test_remote_needs_tls(void **state)
{
	PGconn *c;

	(void)state;
	clear_grants();
	add_grant("alice", "orders-db", "read", 3600 * 1000);
	gateway_test_force_remote(gw, true);
	c = connect_as("alice", "tok-alice", "orders-db@read", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(c), "TLS is required"));
	PQfinish(c);
	c = connect_as("alice", "tok-alice", "orders-db@read",
		       "sslmode=require");
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_non_null(PQsslAttribute(c, "protocol"));
	assert_string_equal(query1(c, "select 7"), "7");
	PQfinish(c);
	gateway_test_force_remote(gw, false);
	/* refused before the password: through refuse_preauth, not audit */
	assert_true(find_event("check.denied", "\"reason\":\"tls_required\",\"via_hook\":true") >= 0);
}

/* Refusals before the password go to the refuse_preauth hook; when it
 * says the address is limited the client gets 53300 and the gateway
 * audits nothing itself.  After authentication refusals are audited as
 * before. */
static void test_preauth_refusal_hook(void **state)
{
	size_t before;
	PGconn *c;

	(void)state;
	clear_grants();
	c = connect_as("mallory", "x", "orders-db@", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(c), "dbname=RESOURCE@ROLE"));
	PQfinish(c);
	assert_true(find_event("check.denied", "\"reason\":\"bad_dbname\",\"via_hook\":true") >= 0);
	pthread_mutex_lock(&mu);
	preauth_limited = true;
	before = nevents;
	pthread_mutex_unlock(&mu);
	c = connect_as("mallory", "x", "orders-db@", "sslmode=disable replication=database");
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(c), "too many failed authentications"));
	PQfinish(c);
	/* an authenticated refusal is not the hook's */
	c = connect_as("alice", "tok-alice", "orders-db@write", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	PQfinish(c);
	pthread_mutex_lock(&mu);
	preauth_limited = false;
	assert_int_equal(nevents, before + 1);
	assert_non_null(strstr(events[before].detail, "no_grant"));
	pthread_mutex_unlock(&mu);
}

static void test_psql_binary(void **state)
{
	char cmd[512], out[256] = "";
	FILE *f;

	(void)state;
	clear_grants();
	add_grant("alice", "orders-db", "read", 3600 * 1000);
	snprintf(cmd, sizeof(cmd),
		 "PGPASSWORD=tok-alice psql -X -At \"host=127.0.0.1 port=%d "
		 "user=alice dbname=orders-db@read sslmode=prefer\" "
		 "-c 'select name from items where id = 42' 2>&1", gw_port);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, sizeof(out), f));
	pclose(f);
	assert_string_equal(out, "item 42\n");
}

static void test_cancel(void **state)
{
	PGconn *c;
	PGcancel *k;
	PGresult *r;
	char err[256];

	(void)state;
	c = alice_reading();
	assert_int_equal(PQsendQuery(c, "select pg_sleep(60)"), 1);
	usleep(200000);
	k = PQgetCancel(c);
	assert_int_equal(PQcancel(k, err, sizeof(err)), 1);
	PQfreeCancel(k);
	r = PQgetResult(c);
	assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "57014");
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	assert_string_equal(query1(c, "select 1"), "1");
	PQfinish(c);
}

static void test_revoke_idle(void **state)
{
	int64_t id;
	PGconn *c;

	(void)state;
	clear_grants();
	id = add_grant("alice", "orders-db", "read", 3600 * 1000);
	c = connect_as("alice", "tok-alice", "orders-db@read", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_equal(query1(c, "select 1"), "1");
	end_grant(id, "revoked");
	assert_non_null(strstr(wait_for_cut(c), "was revoked"));
	assert_non_null(strstr(query1(c, "select 1"), "ERR"));
	PQfinish(c);
	assert_true(wait_event("session.ended", "\"why\":\"revoked\"") >= 0);
}

static void test_expiry_idle(void **state)
{
	PGconn *c;

	(void)state;
	clear_grants();
	/* nobody calls gateway_grant_ended: the session's own deadline cuts */
	add_grant("bob", "orders-db", "read", 1500);
	c = connect_as("bob", "tok-bob", "orders-db@read", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_non_null(strstr(wait_for_cut(c), "expired at"));
	PQfinish(c);
	assert_true(wait_event("session.ended", "\"why\":\"expired\"") >= 0);
}

/* Several sessions on the one expiry timer (src/gateway/expiry.c): each
 * is cut at its own expires_at and in that order; a session whose grant
 * expires while another grant covers it moves onto that one and its
 * deadline with it. */
static void test_expiry_order_and_move(void **state)
{
	int64_t b;
	PGconn *cb, *ca, *cl;

	(void)state;
	clear_grants();
	/* bob: a grant ending first; alice: one ending later; a third session
	 * on a grant far away */
	add_grant("bob", "orders-db", "read", 4000);
	cb = connect_as("bob", "tok-bob", "orders-db@read", NULL);
	assert_int_equal(PQstatus(cb), CONNECTION_OK);
	add_grant("alice", "orders-db", "read", 6000);
	ca = connect_as("alice", "tok-alice", "orders-db@read", NULL);
	assert_int_equal(PQstatus(ca), CONNECTION_OK);
	add_grant("bob", "orders-db", "md5", 3600 * 1000);
	cl = connect_as("bob", "tok-bob", "orders-db@md5", NULL);
	assert_int_equal(PQstatus(cl), CONNECTION_OK);
	/* bob's first grant now has a successor on the same role */
	b = add_grant("bob", "orders-db", "read", 3600 * 1000);
	/* alice's cut comes after bob's deadline has passed: by then bob's
	 * session has moved onto grant b */
	assert_non_null(strstr(wait_for_cut(ca), "expired at"));
	assert_string_equal(query1(cb, "select 3"), "3");
	assert_string_equal(query1(cl, "select 4"), "4");
	/* and its deadline is b's: ending b cuts it, the other stays */
	end_grant(b, "revoked");
	assert_non_null(strstr(wait_for_cut(cb), "was revoked"));
	assert_string_equal(query1(cl, "select 5"), "5");
	PQfinish(ca);
	PQfinish(cb);
	PQfinish(cl);
}

static void test_overlapping_grants(void **state)
{
	int64_t a, b;
	PGconn *c;

	(void)state;
	clear_grants();
	a = add_grant("alice", "orders-db", "read", 3600 * 1000);
	b = add_grant("alice", "orders-db", "read", 7200 * 1000);
	c = connect_as("alice", "tok-alice", "orders-db@read", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	end_grant(b, "revoked");
	usleep(300000);
	assert_string_equal(query1(c, "select 2"), "2");
	/* the session moved onto grant a: ending that one cuts it */
	end_grant(a, "revoked");
	assert_non_null(strstr(wait_for_cut(c), "was revoked"));
	PQfinish(c);
}

static void test_cut_mid_result(void **state)
{
	int64_t id;
	PGconn *c;
	PGresult *r;
	long rows = 0;
	char err[512] = "";

	(void)state;
	clear_grants();
	id = add_grant("alice", "orders-db", "read", 3600 * 1000);
	c = connect_as("alice", "tok-alice", "orders-db@read", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_int_equal(PQsendQuery(c, "select g, repeat('x', 3000) from "
				     "generate_series(1, 3000000) g"), 1);
	assert_int_equal(PQsetSingleRowMode(c), 1);
	while ((r = PQgetResult(c)) != NULL) {
		ExecStatusType st = PQresultStatus(r);

		if (st == PGRES_SINGLE_TUPLE) {
			/* every row arrives whole: never a torn message */
			assert_int_equal(PQgetlength(r, 0, 1), 3000);
			if (++rows == 1000)
				end_grant(id, "revoked");
		} else if (st == PGRES_FATAL_ERROR && !err[0]) {
			/* the FATAL first, then libpq notices the close */
			snprintf(err, sizeof(err), "%s", PQresultErrorMessage(r));
		}
		PQclear(r);
		if (PQstatus(c) == CONNECTION_BAD)
			break;
	}
	assert_true(rows >= 1000);
	assert_true(rows < 3000000);
	assert_non_null(strstr(err, "was revoked"));
	PQfinish(c);
}

static void test_copy_and_notify(void **state)
{
	PGconn *c, *l;
	PGresult *r;
	PGnotify *n = NULL;
	char *buf = NULL;
	int got = 0;

	(void)state;
	clear_grants();
	add_grant("alice", "orders-db", "write", 3600 * 1000);
	c = connect_as("alice", "tok-alice", "orders-db@write", NULL);
	l = connect_as("alice", "tok-alice", "orders-db@write", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_int_equal(PQstatus(l), CONNECTION_OK);
	PQclear(PQexec(c, "create temp table t (a int, b text)"));
	r = PQexec(c, "copy t from stdin");
	assert_int_equal(PQresultStatus(r), PGRES_COPY_IN);
	PQclear(r);
	for (int i = 0; i < 1000; i++) {
		char line[64];
		int len = snprintf(line, sizeof(line), "%d\trow %d\n", i, i);

		assert_int_equal(PQputCopyData(c, line, len), 1);
	}
	assert_int_equal(PQputCopyEnd(c, NULL), 1);
	r = PQgetResult(c);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	assert_string_equal(query1(c, "select count(*) from t"), "1000");
	r = PQexec(c, "copy t to stdout");
	assert_int_equal(PQresultStatus(r), PGRES_COPY_OUT);
	PQclear(r);
	while (PQgetCopyData(c, &buf, 0) > 0) {
		got++;
		PQfreemem(buf);
	}
	assert_int_equal(got, 1000);
	PQclear(PQgetResult(c));

	PQclear(PQexec(l, "listen jg_chan"));
	PQclear(PQexec(c, "notify jg_chan, 'hello'"));
	for (int i = 0; i < 100 && !n; i++) {
		struct pollfd p = {PQsocket(l), POLLIN, 0};

		poll(&p, 1, 100);
		PQconsumeInput(l);
		n = PQnotifies(l);
	}
	assert_non_null(n);
	assert_string_equal(n->extra, "hello");
	PQfreemem(n);
	PQfinish(c);
	PQfinish(l);
}

/* Runs a pipeline to its Sync; returns the number of result rows. */
static int pipeline_rows(PGconn *c)
{
	int rows = 0;

	assert_int_equal(PQpipelineSync(c), 1);
	for (;;) {
		PGresult *r = PQgetResult(c);

		if (!r)
			continue;
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			return rows;
		}
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			rows += PQntuples(r);
		PQclear(r);
	}
}

static void test_extended_and_pipeline(void **state)
{
	PGconn *c;
	PGresult *r;
	const char *params[1] = {"41"};

	(void)state;
	c = alice_reading();
	r = PQprepare(c, "byid", "select name from items where id = $1 + 1",
		      1, NULL);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	r = PQexecPrepared(c, "byid", 1, params, NULL, NULL, 0);
	assert_string_equal(PQgetvalue(r, 0, 0), "item 42");
	PQclear(r);
	assert_true(wait_event("session.query", "$1 + 1") >= 0);
	assert_true(find_event("session.query", "\"name\":\"byid\"") >= 0);

	assert_int_equal(PQenterPipelineMode(c), 1);
	for (int i = 0; i < 50; i++)
		assert_int_equal(PQsendQueryPrepared(c, "byid", 1, params, NULL,
						     NULL, 0), 1);
	assert_int_equal(pipeline_rows(c), 50);
	PQexitPipelineMode(c);
	PQfinish(c);
}

static void test_long_query_audit_truncated(void **state)
{
	char *sql = malloc(10000);
	PGconn *c;

	(void)state;
	c = alice_reading();
	strcpy(sql, "select 'jgmarker");
	memset(sql + 16, 'y', 8000);
	strcpy(sql + 8016, "' is not null");
	assert_string_equal(query1(c, sql), "t");
	PQfinish(c);
	assert_true(wait_event("session.query", "jgmarker") >= 0);
	assert_true(find_event("session.query", "\"truncated\":true") >= 0);
	free(sql);
}

/* A login waiting for its SCRAM key derivation holds up nobody: with the
 * derivation workers held (as long as the test likes, no timing), another
 * client logs in and queries; the waiting login goes on once released and
 * is refused for the fake upstream's wrong server signature.  Then a
 * session freed while its derivation is pending: the result is dropped
 * (ASan would see a use after free otherwise). */
struct login {
	const char *db;
	char err[512];
	int status;
};

static void *login_main(void *arg)
{
	struct login *l = arg;
	PGconn *c = connect_as("alice", "tok-alice", l->db, NULL);

	l->status = PQstatus(c);
	snprintf(l->err, sizeof(l->err), "%s", PQerrorMessage(c));
	PQfinish(c);
	return NULL;
}

static void wait_flag(atomic_int *f)
{
	for (int i = 0; i < 2000 && !atomic_load(f); i++)
		usleep(10000); /* hang guard only */
	assert_true(atomic_load(f));
}

static void test_kdf_off_loop(void **state)
{
	struct login a = {.db = "fake-db@read"};
	pthread_t th;
	PGconn *c;

	(void)state;
	clear_grants();
	add_grant("alice", "fake-db", "read", 3600 * 1000);
	add_grant("bob", "orders-db", "md5", 3600 * 1000);
	gateway_test_hold_kdf(gw, true);
	fake_start(false, false);
	assert_int_equal(pthread_create(&th, NULL, login_main, &a), 0);
	wait_flag(&fake_first_sent);
	/* a's derivation is queued: the loop still serves bob (md5 needs
	 * no derivation) */
	c = connect_as("bob", "tok-bob", "orders-db@md5", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_equal(query1(c, "select count(*) from items"), "100");
	PQfinish(c);
	assert_false(atomic_load(&fake_final_seen));
	gateway_test_hold_kdf(gw, false);
	pthread_join(th, NULL);
	pthread_join(fake_thread, NULL);
	assert_true(atomic_load(&fake_final_seen));
	assert_int_equal(a.status, CONNECTION_BAD);
	assert_non_null(strstr(a.err, "cannot log in to fake-db as read: "
			       "upstream SCRAM server signature did not "
			       "verify"));

	/* the upstream goes away while the derivation waits */
	gateway_test_hold_kdf(gw, true);
	fake_start(true, false);
	assert_int_equal(pthread_create(&th, NULL, login_main, &a), 0);
	pthread_join(th, NULL);
	pthread_join(fake_thread, NULL);
	assert_int_equal(a.status, CONNECTION_BAD);
	assert_non_null(strstr(a.err, "upstream closed the connection"));
	/* an upstream that declares success while our proof is still being
	 * derived is refused, not admitted */
	fake_start(false, true);
	assert_int_equal(pthread_create(&th, NULL, login_main, &a), 0);
	pthread_join(th, NULL);
	pthread_join(fake_thread, NULL);
	assert_int_equal(a.status, CONNECTION_BAD);
	assert_non_null(strstr(a.err, "upstream sent a message before our "
			       "SCRAM answer"));
	assert_false(atomic_load(&fake_final_seen));
	gateway_test_hold_kdf(gw, false);
	/* the cancelled jobs have run by the time a new login's has */
	add_grant("alice", "orders-db", "read", 3600 * 1000);
	c = connect_as("alice", "tok-alice", "orders-db@read", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQfinish(c);
}

/* Design section 9: one session.query per statement submitted (Query,
 * Parse, FunctionCall) and none for Bind, Execute, Describe, Sync, Flush
 * or Close; a statement name longer than the capture still gets its
 * event. */
static void test_audit_one_event_per_statement(void **state)
{
	const char *params[1] = {"x"};
	char *longname = malloc(6001);
	PQArgBlock args[2];
	int rlen = 0, sum = 0;
	PGresult *r;
	PGconn *c;

	(void)state;
	c = alice_reading();
	r = PQprepare(c, "s1", "select 'jgone-prep' || $1", 1, NULL);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	/* 30 executions: Bind, Describe, Execute each, Flush, Sync (Close is
	 * in tests/e2e/test_gateway_hostile.py: libpq 15 cannot send it) */
	assert_int_equal(PQenterPipelineMode(c), 1);
	for (int i = 0; i < 30; i++) {
		assert_int_equal(PQsendQueryPrepared(c, "s1", 1, params, NULL,
						     NULL, 0), 1);
		assert_int_equal(PQsendFlushRequest(c), 1);
	}
	assert_int_equal(pipeline_rows(c), 30);
	/* 5 unnamed statements: a Parse each */
	for (int i = 0; i < 5; i++)
		assert_int_equal(PQsendQueryParams(c, "select 'jgone-unnamed'",
						   0, NULL, NULL, NULL, NULL, 0), 1);
	assert_int_equal(pipeline_rows(c), 5);
	PQexitPipelineMode(c);
	assert_string_equal(query1(c, "select 'jgone-simple'"), "jgone-simple");
	/* FunctionCall: int4pl(int4, int4) is OID 177 */
	args[0].len = args[1].len = 4;
	args[0].isint = args[1].isint = 1;
	args[0].u.integer = 2;
	args[1].u.integer = 3;
	r = PQfn(c, 177, &sum, &rlen, 1, args, 2);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	assert_int_equal(sum, 5);
	PQclear(r);
	/* a statement name of 6000 bytes, far over the capture */
	memset(longname, 'n', 6000);
	longname[6000] = '\0';
	r = PQprepare(c, longname, "select 'jgone-longname'", 0, NULL);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	r = PQexecPrepared(c, longname, 0, NULL, NULL, NULL, 0);
	assert_string_equal(PQgetvalue(r, 0, 0), "jgone-longname");
	PQclear(r);
	assert_string_equal(query1(c, "select 'jgone-end'"), "jgone-end");
	PQfinish(c);
	/* events are queued in order: the last one means all are in */
	assert_true(wait_event("session.query", "jgone-end") >= 0);
	assert_int_equal(count_events("session.query", "jgone-prep"), 1);
	assert_int_equal(count_events("session.query", "jgone-unnamed"), 5);
	assert_int_equal(count_events("session.query", "jgone-simple"), 1);
	assert_int_equal(count_events("session.query", "\"function_oid\":177"), 1);
	assert_int_equal(count_events("session.query", "jgone-longname"), 1);
	/* the name is cut at 64 bytes, the text whole */
	memset(longname, 'n', 64);
	longname[64] = '\0';
	assert_int_equal(count_events("session.query", longname), 1);
	longname[64] = 'n';
	longname[65] = '\0';
	assert_int_equal(count_events("session.query", longname), 0);
	/* nothing else: no event without a statement */
	assert_int_equal(count_events("session.query", "\"statement\":\"\""), 0);
	free(longname);
}

/* --- a raw TLS client (OpenSSL), for what libpq never does ------------- */

/* Connects, SSLRequest, TLS with at most max_version, logs alice in on
 * orders-db@read; NULL (test failed) otherwise.  The socket is blocking,
 * with a receive timeout as a hang guard. */
static SSL *raw_tls_login(SSL_CTX *ctx, int *fdp)
{
	static const uint8_t sslreq[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)gw_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {20, 0};
	uint8_t buf[256], s;
	size_t n = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	SSL *ssl;

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, sslreq, sizeof(sslreq), 0), 8);
	assert_int_equal(recv(fd, &s, 1, 0), 1);
	assert_int_equal(s, 'S');
	ssl = SSL_new(ctx);
	assert_non_null(ssl);
	SSL_set_fd(ssl, fd);
	assert_int_equal(SSL_connect(ssl), 1);
	/* startup: protocol 3.0, user, database */
	{
		static const char params[] = "user\0alice\0database\0orders-db@read\0";
		uint32_t len = 4 + 4 + sizeof(params);

		buf[n++] = (uint8_t)(len >> 24);
		buf[n++] = (uint8_t)(len >> 16);
		buf[n++] = (uint8_t)(len >> 8);
		buf[n++] = (uint8_t)len;
		memcpy(buf + n, "\0\3\0\0", 4);
		n += 4;
		memcpy(buf + n, params, sizeof(params));
		n += sizeof(params);
		memcpy(buf + n, "p\0\0\0\016tok-alice", 15);
		n += 15;
	}
	assert_int_equal(SSL_write(ssl, buf, (int)n), (int)n);
	*fdp = fd;
	return ssl;
}

static int ssl_read_exact(SSL *ssl, uint8_t *p, uint32_t n)
{
	for (uint32_t got = 0; got < n;) {
		int r = SSL_read(ssl, p + got, (int)(n - got));

		if (r <= 0)
			return -1;
		got += (uint32_t)r;
	}
	return 0;
}

/* Reads messages up to ReadyForQuery; the first DataRow's first column
 * into val (or "" without one).  0, or -1 when the stream ended or
 * failed first. */
static int raw_until_ready(SSL *ssl, char *val, size_t vallen)
{
	uint8_t hdr[5], body[4096];

	val[0] = '\0';
	for (;;) {
		uint32_t len;

		if (ssl_read_exact(ssl, hdr, 5) != 0)
			return -1;
		len = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 |
		      (uint32_t)hdr[3] << 8 | hdr[4];
		if (len < 4 || len - 4 > sizeof(body) ||
		    ssl_read_exact(ssl, body, len - 4) != 0)
			return -1;
		if (hdr[0] == 'D' && !val[0] && len >= 4 + 6) {
			uint32_t cl = (uint32_t)body[2] << 24 |
				      (uint32_t)body[3] << 16 |
				      (uint32_t)body[4] << 8 | body[5];

			if (cl < vallen && 6 + cl <= len - 4) {
				memcpy(val, body + 6, cl);
				val[cl] = '\0';
			}
		}
		if (hdr[0] == 'Z')
			return 0;
	}
}

static void raw_query(SSL *ssl, const char *sql)
{
	uint8_t buf[256];
	size_t l = strlen(sql) + 1;
	uint32_t len = (uint32_t)(4 + l);

	assert_true(l + 5 <= sizeof(buf));
	buf[0] = 'Q';
	buf[1] = (uint8_t)(len >> 24);
	buf[2] = (uint8_t)(len >> 16);
	buf[3] = (uint8_t)(len >> 8);
	buf[4] = (uint8_t)len;
	memcpy(buf + 5, sql, l);
	assert_int_equal(SSL_write(ssl, buf, (int)(5 + l)), (int)(5 + l));
}

/* TLS 1.3 KeyUpdate asking for the gateway's: the gateway's reply is a
 * record written from inside its read (the relay reads the TLS socket
 * itself), and every query after still gets its answer.  A TLS 1.2
 * renegotiation is refused (no_renegotiation); the session ends and the
 * gateway serves the next client. */
static void test_tls_key_update_and_renegotiation(void **state)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char val[64], want[16];
	SSL *ssl;
	int fd;
	PGconn *c;

	(void)state;
	assert_non_null(ctx);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	clear_grants();
	add_grant("alice", "orders-db", "read", 3600 * 1000);
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	ssl = raw_tls_login(ctx, &fd);
	assert_int_equal(raw_until_ready(ssl, val, sizeof(val)), 0);
	for (int i = 0; i < 20; i++) {
		char sql[64];

		assert_int_equal(SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED), 1);
		snprintf(sql, sizeof(sql), "select %d + 1", i);
		snprintf(want, sizeof(want), "%d", i + 1);
		raw_query(ssl, sql);
		assert_int_equal(raw_until_ready(ssl, val, sizeof(val)), 0);
		assert_string_equal(val, want);
	}
	SSL_free(ssl);
	close(fd);

	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	ssl = raw_tls_login(ctx, &fd);
	assert_int_equal(raw_until_ready(ssl, val, sizeof(val)), 0);
	raw_query(ssl, "select 'before'");
	assert_int_equal(raw_until_ready(ssl, val, sizeof(val)), 0);
	assert_string_equal(val, "before");
	assert_int_equal(SSL_renegotiate(ssl), 1);
	assert_true(SSL_do_handshake(ssl) <= 0);
	/* the client gave up on the refused handshake: nothing more to read
	 * (the gateway's close_notify or EOF), not a hang */
	{
		uint8_t b[64];

		assert_true(SSL_read(ssl, b, sizeof(b)) <= 0);
	}
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	c = connect_as("alice", "tok-alice", "orders-db@read", "sslmode=require");
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_equal(query1(c, "select 'after'"), "after");
	PQfinish(c);
}


/* When the audit hook reports the writer backed up, the statement whose
 * event it took is relayed and nothing after it until the gateway is told
 * to resume: no statement runs without its event. */
static void test_audit_backpressure(void **state)
{
	PGconn *c;

	(void)state;
	c = alice_reading();
	pthread_mutex_lock(&mu);
	audit_busy = true;
	pthread_mutex_unlock(&mu);
	assert_int_equal(PQenterPipelineMode(c), 1);
	assert_int_equal(PQsendQueryParams(c, "select 'jgbp-1'", 0, NULL, NULL,
					   NULL, NULL, 0), 1);
	assert_int_equal(PQsendQueryParams(c, "select 'jgbp-2'", 0, NULL, NULL,
					   NULL, NULL, 0), 1);
	assert_int_equal(PQsendQueryParams(c, "select 'jgbp-3'", 0, NULL, NULL,
					   NULL, NULL, 0), 1);
	assert_int_equal(PQpipelineSync(c), 1);
	assert_true(wait_event("session.query", "jgbp-1") >= 0);
	/* held after the first Parse: a while later still only that one */
	usleep(300 * 1000);
	assert_int_equal(count_events("session.query", "jgbp-2"), 0);
	/* one resume with the writer still behind: one more statement */
	gateway_audit_resume(gw);
	assert_true(wait_event("session.query", "jgbp-2") >= 0);
	usleep(300 * 1000);
	assert_int_equal(count_events("session.query", "jgbp-3"), 0);
	pthread_mutex_lock(&mu);
	audit_busy = false;
	pthread_mutex_unlock(&mu);
	gateway_audit_resume(gw);
	assert_true(wait_event("session.query", "jgbp-3") >= 0);
	for (int got = 0; got < 4;) {
		PGresult *r = PQgetResult(c);

		if (!r)
			continue;
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			assert_string_equal(PQgetvalue(r, 0, 0),
					    got == 0 ? "jgbp-1" : got == 1 ?
					    "jgbp-2" : "jgbp-3");
		got++;
		PQclear(r);
	}
	PQexitPipelineMode(c);
	assert_string_equal(query1(c, "select 'jgbp-after'"), "jgbp-after");
	PQfinish(c);
	assert_int_equal(count_events("session.query", "jgbp-"), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_scram),
		cmocka_unit_test(test_terminate_ends_as_client_closed),
		cmocka_unit_test(test_role_inferred_and_params),
		cmocka_unit_test(test_md5_trust_tls_upstreams),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_remote_needs_tls),
		cmocka_unit_test(test_preauth_refusal_hook),
		cmocka_unit_test(test_psql_binary),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_revoke_idle),
		cmocka_unit_test(test_expiry_idle),
		cmocka_unit_test(test_expiry_order_and_move),
		cmocka_unit_test(test_overlapping_grants),
		cmocka_unit_test(test_cut_mid_result),
		cmocka_unit_test(test_copy_and_notify),
		cmocka_unit_test(test_extended_and_pipeline),
		cmocka_unit_test(test_long_query_audit_truncated),
		cmocka_unit_test(test_kdf_off_loop),
		cmocka_unit_test(test_audit_one_event_per_statement),
		cmocka_unit_test(test_audit_backpressure),
		cmocka_unit_test(test_tls_key_update_and_renegotiation),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
