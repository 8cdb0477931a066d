/* The store interface (src/store/store.h), one suite run against both
 * backends: a SQLite file, and a real PostgreSQL cluster started by this
 * test through tests/e2e/pgcluster.py (each test gets a fresh database).
 * Plus what is backend-specific: URL redaction, PostgreSQL passwords and
 * timeouts, refusing a schema newer than this build. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "audit/chain.h"
#include "audit/writer.h"
#include "store/store.h"
#include "store/store_int.h"

#define T0 1772323200000LL

/* ---- the backend under test ---- */

enum backend { B_SQLITE, B_PG };

static enum backend backend;
static char workdir[256];
static int pg_port;
static int ndb;
static char url[512];   /* the store of the current test */
static char dbname[64]; /* its PostgreSQL database */
static struct store *st;

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int sh(const char *fmt, ...) JG_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Superuser SQL on the current PostgreSQL database (unix socket). */
static PGresult *pg_admin(const char *db, const char *sql)
{
	char conninfo[512];
	PGconn *c;
	PGresult *r;

	snprintf(conninfo, sizeof(conninfo), "host=%s/pg port=%d user=postgres dbname=%s",
		 workdir, pg_port, db);
	c = PQconnectdb(conninfo);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	r = PQexec(c, sql);
	PQfinish(c);
	return r;
}

static bool pg_admin_ok(const char *db, const char *sql)
{
	PGresult *r = pg_admin(db, sql);
	ExecStatusType s = PQresultStatus(r);

	PQclear(r);
	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* Raw SQL against the current store, bypassing jitgate: what an intruder
 * with database access would try.  True when it succeeded. */
static bool raw_sql(const char *sql)
{
	if (backend == B_PG)
		return pg_admin_ok(dbname, sql);
	sqlite3 *db;
	bool ok;

	assert_int_equal(sqlite3_open(url + 7, &db), SQLITE_OK);
	ok = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
	sqlite3_close(db);
	return ok;
}

static int group_setup_sqlite(void **state)
{
	(void)state;
	backend = B_SQLITE;
	snprintf(workdir, sizeof(workdir), "/tmp/jg-store-XXXXXX");
	return mkdtemp(workdir) ? 0 : -1;
}

static int group_setup_pg(void **state)
{
	(void)state;
	backend = B_PG;
	snprintf(workdir, sizeof(workdir), "/tmp/jg-store-pg-XXXXXX");
	if (mkdtemp(workdir) == NULL || chmod(workdir, 0755) != 0 ||
	    (pg_port = free_port()) < 0)
		return -1;
	if (sh("python3 %s/tests/e2e/pgcluster.py start %s/pg %d 40", JG_SOURCE_DIR,
	       workdir, pg_port) != 0)
		return -1;
	setenv("PGPASSWORD", "jitgate-pw", 1);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (backend == B_PG)
		(void)!sh("python3 %s/tests/e2e/pgcluster.py stop %s/pg", JG_SOURCE_DIR, workdir);
	(void)!sh("rm -rf %s", workdir);
	unsetenv("PGPASSWORD");
	return 0;
}

/* A fresh empty store for each test. */
static void new_url(void)
{
	ndb++;
	if (backend == B_SQLITE) {
		snprintf(url, sizeof(url), "sqlite:%s/t%d.db", workdir, ndb);
		return;
	}
	snprintf(dbname, sizeof(dbname), "jg_t%d", ndb);
	{
		char sql[128];

		snprintf(sql, sizeof(sql), "CREATE DATABASE %s OWNER jitgate", dbname);
		assert_true(pg_admin_ok("postgres", sql));
	}
	snprintf(url, sizeof(url), "postgresql://jitgate@127.0.0.1:%d/%s", pg_port, dbname);
}

static int setup(void **state)
{
	char err[256];
	int rc;

	(void)state;
	new_url();
	rc = store_open(url, NULL, &st, err, sizeof(err));
	if (rc != JG_OK)
		print_message("store_open %s: %s\n", url, err);
	return rc == JG_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	store_close(st);
	st = NULL;
	return 0;
}

/* ---- helpers ---- */

static struct request mkreq(const char *requester, enum req_state state)
{
	struct request r = {
		.state = state,
		.requester = strdup(requester),
		.resource = strdup("orders-db"),
		.role = strdup("read"),
		.duration_s = 3600,
		.policy = strdup("engineers-read"),
		.approvals_required = 0,
		.created_at = T0,
	};

	if (state == REQ_ACTIVE) {
		r.activated_at = T0;
		r.expires_at = T0 + 3600 * 1000;
	} else if (state == REQ_PENDING) {
		r.pending_until = T0 + 3600 * 1000;
	}
	return r;
}

/* Inserts (and commits) one request; returns its id. */
static int64_t insert(const char *requester, enum req_state state)
{
	struct request r = mkreq(requester, state);
	int64_t id;

	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(store_tx_request_insert(st, &r), JG_OK);
	assert_int_equal(store_commit(st), JG_OK);
	id = r.id;
	assert_true(id > 0);
	request_clear(&r);
	return id;
}

static bool str_eq(const char *a, const char *b)
{
	return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

static void assert_same_request(const struct request *a, const struct request *b)
{
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->state, b->state);
	assert_true(str_eq(a->requester, b->requester));
	assert_true(str_eq(a->resource, b->resource));
	assert_true(str_eq(a->role, b->role));
	assert_int_equal(a->duration_s, b->duration_s);
	assert_true(str_eq(a->reason, b->reason));
	assert_true(str_eq(a->ticket, b->ticket));
	assert_true(str_eq(a->policy, b->policy));
	assert_int_equal(a->approvals_required, b->approvals_required);
	assert_int_equal(a->napprovals, b->napprovals);
	for (size_t i = 0; i < a->napprovals; i++) {
		assert_true(str_eq(a->approvals[i].by, b->approvals[i].by));
		assert_true(str_eq(a->approvals[i].comment, b->approvals[i].comment));
		assert_int_equal(a->approvals[i].at_ms, b->approvals[i].at_ms);
	}
	assert_int_equal(a->created_at, b->created_at);
	assert_int_equal(a->pending_until, b->pending_until);
	assert_int_equal(a->activated_at, b->activated_at);
	assert_int_equal(a->expires_at, b->expires_at);
	assert_int_equal(a->ended_at, b->ended_at);
	assert_true(str_eq(a->ended_by, b->ended_by));
	assert_int_equal(a->break_glass, b->break_glass);
	assert_int_equal(a->review_required, b->review_required);
	assert_true(str_eq(a->reviewed_by, b->reviewed_by));
	assert_int_equal(a->extends, b->extends);
	assert_true(str_eq(a->end_comment, b->end_comment));
	assert_int_equal(a->reminders, b->reminders);
	assert_int_equal(a->escalated, b->escalated);
	assert_int_equal(a->expiry_warned, b->expiry_warned);
}

/* Appends an event through the real chain writer inside a transaction. */
static int append(struct audit_writer *w, const char *action, int64_t request_id,
		  const char *subject)
{
	json_t *ev = json_pack("{s:s, s:s}", "action", action, "actor", "alice");
	struct audit_appended ap;
	int rc;

	if (request_id)
		json_object_set_new(ev, "request_id", json_integer(request_id));
	if (subject)
		json_object_set_new(ev, "subject", json_string(subject));
	rc = audit_writer_append(w, st, ev, T0, &ap);
	free(ap.text);
	return rc;
}

static void append_committed(struct audit_writer *w, const char *action,
			     int64_t request_id, const char *subject)
{
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(audit_writer_load(w, st), JG_OK);
	assert_int_equal(append(w, action, request_id, subject), JG_OK);
	assert_int_equal(store_commit(st), JG_OK);
}

/* ---- the common suite ---- */

static void test_request_roundtrip(void **state)
{
	struct request r = mkreq("alice", REQ_PENDING), got;

	(void)state;
	/* every field set, text that SQL and JSON would both mind */
	r.reason = strdup("it's \"urgent\"; DROP TABLE requests; -- \\ ünïcødé ✓");
	r.ticket = strdup("OPS-42");
	r.approvals_required = 2;
	r.approvals[0] = (struct approval){strdup("bob"), T0 + 5, strdup("ok 'quoted'")};
	r.approvals[1] = (struct approval){strdup("carol"), T0 + 6, NULL};
	r.napprovals = 2;
	r.break_glass = true;
	r.review_required = true;
	r.reviewed_by = strdup("dave");
	r.extends = 7;
	r.ended_at = T0 + 9;
	r.ended_by = strdup("erin");
	r.end_comment = strdup("no\nmore");
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(store_tx_request_insert(st, &r), JG_OK);
	assert_true(r.id > 0);
	assert_int_equal(store_commit(st), JG_OK);
	assert_int_equal(store_request_get(st, r.id, &got), JG_OK);
	assert_same_request(&r, &got);
	request_clear(&got);

	/* update: NULLs stay NULL, changes stick */
	free(r.reason);
	r.reason = NULL;
	r.state = REQ_DENIED;
	r.pending_until = 0;
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(store_tx_request_update(st, &r), JG_OK);
	assert_int_equal(store_commit(st), JG_OK);
	assert_int_equal(store_request_get(st, r.id, &got), JG_OK);
	assert_same_request(&r, &got);
	request_clear(&got);
	request_clear(&r);

	assert_int_equal(store_request_get(st, 999999, &got), JG_ERR_NOTFOUND);
}

/* An update of a request that is not there fails its transaction, and
 * nothing of that transaction is kept: not the insert before it (on
 * PostgreSQL the COMMIT goes out in the same round trip as the update, so
 * the update itself must abort the transaction on the server). */
static void test_update_missing_fails(void **state)
{
	struct request r = mkreq("alice", REQ_ACTIVE), other = mkreq("bob", REQ_PENDING), got;
	int rc;

	(void)state;
	r.id = 4242;
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(store_tx_request_insert(st, &other), JG_OK);
	/* refused at once, or (PostgreSQL's pipeline) at the commit */
	rc = store_tx_request_update(st, &r);
	/* a statement this connection sends for the first time after the
	 * refusal (on PostgreSQL the server skips its preparation) */
	if (rc == JG_OK)
		rc = store_tx_kv_put(st, "k", "v");
	if (rc == JG_OK)
		rc = store_commit(st);
	assert_int_equal(rc, JG_ERR_STORE);
	store_rollback(st);
	assert_int_equal(store_request_get(st, other.id, &got), JG_ERR_NOTFOUND);
	/* and the store goes on working, that statement included */
	assert_true(insert("carol", REQ_PENDING) > 0);
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(store_tx_kv_put(st, "k", "w"), JG_OK);
	assert_int_equal(store_commit(st), JG_OK);
	request_clear(&other);
	request_clear(&r);
}

/* Several requests written in one transaction, as the engine's batches
 * do (on PostgreSQL held back and sent as one INSERT and one UPDATE per
 * batch): new ones, changed ones, one changed twice, one created and
 * changed in the same transaction, text SQL, JSON and array literals all
 * mind; each reads back as last written.  One missing id among several
 * updates fails the whole transaction; many rows go out in parts. */
static void test_request_batch(void **state)
{
	struct request r[4], got, missing = mkreq("mallory", REQ_PENDING);
	int64_t first = 0, last = 0;
	int rc;

	(void)state;
	for (int i = 0; i < 4; i++)
		r[i] = mkreq(i % 2 ? "bob" : "alice", REQ_PENDING);
	r[0].reason = strdup("a \"quoted\" {brace}, comma \\ backslash NULL");
	r[1].reason = strdup("NULL");
	r[2].ticket = strdup("");
	r[3].approvals[0] = (struct approval){strdup("carol \"c\""), T0 + 1, strdup("{x,y}")};
	r[3].napprovals = 1;
	assert_int_equal(store_begin(st), JG_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_tx_request_insert(st, &r[i]), JG_OK);
	assert_int_equal(store_commit(st), JG_OK);

	assert_int_equal(store_begin(st), JG_OK);
	r[0].state = REQ_ACTIVE;
	r[0].activated_at = T0 + 10;
	assert_int_equal(store_tx_request_update(st, &r[0]), JG_OK);
	r[1].state = REQ_DENIED;
	r[1].ended_by = strdup("dave");
	assert_int_equal(store_tx_request_update(st, &r[1]), JG_OK);
	/* the same request again in the same transaction */
	r[0].state = REQ_REVOKED;
	r[0].ended_at = T0 + 20;
	r[0].end_comment = strdup("done, \"really\"");
	assert_int_equal(store_tx_request_update(st, &r[0]), JG_OK);
	/* created and changed in one transaction */
	assert_int_equal(store_tx_request_insert(st, &r[3]), JG_OK);
	r[3].state = REQ_ACTIVE;
	r[3].reminders = 2;
	assert_int_equal(store_tx_request_update(st, &r[3]), JG_OK);
	assert_int_equal(store_commit(st), JG_OK);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(store_request_get(st, r[i].id, &got), JG_OK);
		assert_same_request(&r[i], &got);
		request_clear(&got);
	}

	/* one id of three missing: nothing of the transaction is kept */
	missing.id = 4242;
	assert_int_equal(store_begin(st), JG_OK);
	r[2].state = REQ_ACTIVE;
	rc = store_tx_request_update(st, &r[2]);
	if (rc == JG_OK)
		rc = store_tx_request_update(st, &missing);
	if (rc == JG_OK)
		rc = store_tx_request_update(st, &r[1]);
	if (rc == JG_OK)
		rc = store_commit(st);
	assert_int_equal(rc, JG_ERR_STORE);
	store_rollback(st);
	r[2].state = REQ_PENDING;
	assert_int_equal(store_request_get(st, r[2].id, &got), JG_OK);
	assert_same_request(&r[2], &got);
	request_clear(&got);

	/* 1,200 new ones in one transaction */
	assert_int_equal(store_begin(st), JG_OK);
	for (int i = 0; i < 1200; i++) {
		struct request q = mkreq("erin", REQ_PENDING);

		assert_int_equal(store_tx_request_insert(st, &q), JG_OK);
		if (i == 0)
			first = q.id;
		last = q.id;
		request_clear(&q);
	}
	assert_int_equal(store_commit(st), JG_OK);
	assert_int_equal(store_request_get(st, first, &got), JG_OK);
	assert_string_equal(got.requester, "erin");
	request_clear(&got);
	assert_int_equal(store_request_get(st, last, &got), JG_OK);
	assert_string_equal(got.requester, "erin");
	request_clear(&got);
	for (int i = 0; i < 4; i++)
		request_clear(&r[i]);
	request_clear(&missing);
}

static void test_transaction_visibility(void **state)
{
	struct request r = mkreq("alice", REQ_ACTIVE), got;
	int64_t id;

	(void)state;
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(store_tx_request_insert(st, &r), JG_OK);
	/* the writer sees its own work, readers only committed work */
	assert_int_equal(store_tx_request_get(st, r.id, &got), JG_OK);
	request_clear(&got);
	assert_int_equal(store_request_get(st, r.id, &got), JG_ERR_NOTFOUND);
	store_rollback(st);
	assert_int_equal(store_request_get(st, r.id, &got), JG_ERR_NOTFOUND);
	request_clear(&r);

	/* after a rollback the store goes on working */
	id = insert("bob", REQ_PENDING);
	assert_int_equal(store_request_get(st, id, &got), JG_OK);
	assert_string_equal(got.requester, "bob");
	request_clear(&got);
}

/* A batch that says what it will read (the hint PostgreSQL answers in the
 * first round trip): reads of those ids see the batch's own updates, an
 * id that is not there is still not found, a request read but not
 * prefetched comes as usual, and creates get distinct ids. */
static void test_prefetch(void **state)
{
	int64_t a = insert("alice", REQ_PENDING), b = insert("bob", REQ_ACTIVE);
	int64_t ids[] = {a, 777777, a};
	struct request got, r1 = mkreq("carol", REQ_PENDING), r2 = mkreq("dave", REQ_PENDING);
	int64_t seq;
	char hash[65];

	(void)state;
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(store_tx_prefetch(st, ids, 3, 2), JG_OK);
	assert_int_equal(store_tx_audit_head(st, &seq, hash), JG_OK);
	assert_int_equal(seq, 0);
	assert_int_equal(store_tx_request_get(st, a, &got), JG_OK);
	assert_string_equal(got.requester, "alice");
	assert_int_equal(got.state, REQ_PENDING);
	got.state = REQ_DENIED;
	got.ended_by = strdup("erin");
	assert_int_equal(store_tx_request_update(st, &got), JG_OK);
	request_clear(&got);
	assert_int_equal(store_tx_request_get(st, a, &got), JG_OK);
	assert_int_equal(got.state, REQ_DENIED);
	assert_string_equal(got.ended_by, "erin");
	request_clear(&got);
	assert_int_equal(store_tx_request_get(st, 777777, &got), JG_ERR_NOTFOUND);
	assert_int_equal(store_tx_request_get(st, b, &got), JG_OK);
	assert_string_equal(got.requester, "bob");
	request_clear(&got);
	assert_int_equal(store_tx_request_insert(st, &r1), JG_OK);
	assert_int_equal(store_tx_request_insert(st, &r2), JG_OK);
	assert_true(r1.id > b && r2.id > b && r1.id != r2.id);
	assert_int_equal(store_commit(st), JG_OK);
	assert_int_equal(store_request_get(st, a, &got), JG_OK);
	assert_int_equal(got.state, REQ_DENIED);
	request_clear(&got);
	assert_int_equal(store_request_get(st, r2.id, &got), JG_OK);
	assert_string_equal(got.requester, "dave");
	request_clear(&got);

	/* a rolled-back batch leaves nothing behind, read-ahead included */
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(store_tx_prefetch(st, &b, 1, 0), JG_OK);
	assert_int_equal(store_tx_request_get(st, b, &got), JG_OK);
	got.state = REQ_REVOKED;
	assert_int_equal(store_tx_request_update(st, &got), JG_OK);
	request_clear(&got);
	store_rollback(st);
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(store_tx_request_get(st, b, &got), JG_OK);
	assert_int_equal(got.state, REQ_ACTIVE);
	request_clear(&got);
	assert_int_equal(store_commit(st), JG_OK);
	request_clear(&r1);
	request_clear(&r2);
}

struct collect {
	int64_t ids[2048];
	size_t n;
	size_t stop_after; /* 0 = never */
};

static int collect_request(void *ctx, const struct request *r)
{
	struct collect *c = ctx;

	c->ids[c->n++] = r->id;
	return c->stop_after && c->n >= c->stop_after ? 1 : 0;
}

static void test_requests_scan(void **state)
{
	struct request_filter f = {.state = -1};
	struct collect c = {0};
	int64_t first = 0, last = 0;

	(void)state;
	/* more rows than one page of the PostgreSQL backend */
	assert_int_equal(store_begin(st), JG_OK);
	for (int i = 0; i < 1200; i++) {
		struct request r = mkreq(i % 3 == 0 ? "alice" : "bob",
					 i % 2 ? REQ_ACTIVE : REQ_PENDING);

		assert_int_equal(store_tx_request_insert(st, &r), JG_OK);
		if (i == 0)
			first = r.id;
		last = r.id;
		request_clear(&r);
	}
	assert_int_equal(store_commit(st), JG_OK);

	assert_int_equal(store_requests_scan(st, &f, collect_request, &c), JG_OK);
	assert_int_equal(c.n, 1200);
	assert_int_equal(c.ids[0], last); /* newest first */
	assert_int_equal(c.ids[1199], first);
	for (size_t i = 1; i < c.n; i++)
		assert_true(c.ids[i] < c.ids[i - 1]);

	memset(&c, 0, sizeof(c));
	f.requester = "alice";
	f.state = REQ_PENDING;
	assert_int_equal(store_requests_scan(st, &f, collect_request, &c), JG_OK);
	assert_int_equal(c.n, 200); /* i % 6 == 0 */

	memset(&c, 0, sizeof(c));
	f = (struct request_filter){.state = -1, .before_id = last};
	c.stop_after = 10; /* the callback stops the scan */
	assert_int_equal(store_requests_scan(st, &f, collect_request, &c), 1);
	assert_int_equal(c.n, 10);
	assert_int_equal(c.ids[0], last - 1);
}

static void test_live_and_changed(void **state)
{
	struct audit_writer *w = NULL;
	struct collect c = {0};
	int64_t upto;
	int64_t a = insert("alice", REQ_ACTIVE);
	int64_t p = insert("bob", REQ_PENDING);
	int64_t d = insert("carol", REQ_DENIED);

	(void)state;
	assert_int_equal(audit_writer_new(&w), JG_OK);
	append_committed(w, "request.created", a, "alice");   /* seq 1 */
	append_committed(w, "request.created", p, "bob");     /* seq 2 */
	append_committed(w, "config.loaded", 0, NULL);        /* seq 3 */
	append_committed(w, "request.denied", d, "carol");    /* seq 4 */
	append_committed(w, "request.approved", a, "alice");  /* seq 5 */

	assert_int_equal(store_tx_requests_live(st, collect_request, &c), JG_OK);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.ids[0], a);
	assert_int_equal(c.ids[1], p);

	/* requests named by events 2..4 (after 1, up to 4), each once */
	memset(&c, 0, sizeof(c));
	upto = 4;
	assert_int_equal(store_tx_changed_requests(st, 1, &upto, collect_request, &c), JG_OK);
	assert_int_equal(upto, 4);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.ids[0], p);
	assert_int_equal(c.ids[1], d);
	/* up to the head */
	memset(&c, 0, sizeof(c));
	upto = 0;
	assert_int_equal(store_tx_changed_requests(st, 0, &upto, collect_request, &c), JG_OK);
	assert_int_equal(upto, 5);
	assert_int_equal(c.n, 3);
	memset(&c, 0, sizeof(c));
	upto = 0;
	assert_int_equal(store_tx_changed_requests(st, 5, &upto, collect_request, &c), JG_OK);
	assert_int_equal(c.n, 0);
	audit_writer_free(w);
}

struct events {
	int64_t seqs[64];
	char *text[64];
	size_t n;
};

static int collect_event(void *ctx, int64_t seq, const char *event)
{
	struct events *e = ctx;

	e->seqs[e->n] = seq;
	e->text[e->n++] = strdup(event);
	return 0;
}

static void events_free(struct events *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->text[i]);
	memset(e, 0, sizeof(*e));
}

static void test_audit_chain(void **state)
{
	struct audit_writer *w = NULL, *w2 = NULL;
	struct audit_filter f = {0};
	struct audit_verify_result res;
	struct events ev = {0};
	int64_t seq;
	char hash[65];
	FILE *mem;
	char *buf = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(audit_writer_new(&w), JG_OK);
	assert_int_equal(store_tx_audit_head(st, &seq, hash), JG_OK);
	assert_int_equal(seq, 0);
	assert_string_equal(hash, AUDIT_GENESIS_PREV);
	append_committed(w, "config.loaded", 0, NULL);
	append_committed(w, "request.created", 1, "alice");
	append_committed(w, "request.created", 2, "bob");
	/* a batch of two in one transaction */
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(audit_writer_load(w, st), JG_OK);
	assert_int_equal(append(w, "request.approved", 1, "alice"), JG_OK);
	assert_int_equal(append(w, "request.activated", 1, "alice"), JG_OK);
	assert_int_equal(store_commit(st), JG_OK);

	assert_int_equal(store_tx_audit_head(st, &seq, hash), JG_OK);
	assert_int_equal(seq, 5);
	assert_string_equal(hash, audit_writer_hash(w));

	/* the export verifies */
	assert_int_equal(store_audit_scan(st, &f, collect_event, &ev), JG_OK);
	assert_int_equal(ev.n, 5);
	mem = open_memstream(&buf, &len);
	for (size_t i = 0; i < ev.n; i++) {
		assert_int_equal(ev.seqs[i], (int64_t)i + 1);
		fprintf(mem, "%s\n", ev.text[i]);
	}
	fclose(mem);
	mem = fmemopen(buf, len, "r");
	assert_int_equal(audit_verify_file_head(mem, seq, hash, &res), JG_OK);
	assert_true(res.ok);
	fclose(mem);
	free(buf);
	events_free(&ev);

	/* filters */
	f.subject = "alice";
	assert_int_equal(store_audit_scan(st, &f, collect_event, &ev), JG_OK);
	assert_int_equal(ev.n, 3);
	events_free(&ev);
	f = (struct audit_filter){.after_seq = 3, .action = "request.activated"};
	assert_int_equal(store_audit_scan(st, &f, collect_event, &ev), JG_OK);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.seqs[0], 5);
	events_free(&ev);

	/* a writer whose head is stale (another node appended meanwhile)
	 * cannot fork the chain: the store refuses the append */
	assert_int_equal(audit_writer_new(&w2), JG_OK);
	assert_int_equal(store_begin(st), JG_OK);
	assert_true(append(w2, "config.loaded", 0, NULL) == JG_ERR_STORE ||
		    store_commit(st) == JG_ERR_STORE);
	store_rollback(st);
	assert_int_equal(store_tx_audit_head(st, &seq, hash), JG_OK);
	assert_int_equal(seq, 5);
	assert_int_equal(audit_writer_load(w2, st), JG_OK);
	/* once it has read the head it appends after it */
	append_committed(w2, "config.loaded", 0, NULL);
	assert_int_equal(store_tx_audit_head(st, &seq, hash), JG_OK);
	assert_int_equal(seq, 6);
	assert_int_equal(audit_writer_seq(w2), 6);
	audit_writer_free(w2);
	audit_writer_free(w);
}

static void test_audit_raw_tampering_refused(void **state)
{
	struct audit_writer *w = NULL;
	struct events ev = {0};
	struct audit_filter f = {0};

	(void)state;
	assert_int_equal(audit_writer_new(&w), JG_OK);
	append_committed(w, "config.loaded", 0, NULL);
	append_committed(w, "request.created", 1, "alice");

	assert_false(raw_sql("UPDATE audit SET actor = 'mallory' WHERE seq = 1"));
	assert_false(raw_sql("DELETE FROM audit WHERE seq = 2"));
	if (backend == B_PG)
		assert_false(raw_sql("TRUNCATE audit"));
	/* an insert that skips a seq, or does not chain to the head */
	assert_false(raw_sql("INSERT INTO audit (seq, time, action, actor, event, hash)"
			     " VALUES (4, 't', 'config.loaded', 'x', '{\"prev\":\"\"}', 'h')"));
	assert_false(raw_sql("INSERT INTO audit (seq, time, action, actor, event, hash)"
			     " VALUES (3, 't', 'config.loaded', 'x', '{\"prev\":\"00\"}', 'h')"));
	if (backend == B_PG) {
		/* several rows in one statement (how a writer sends a batch):
		 * a first row that follows the head does not carry a second
		 * that does not follow it, nor one after a gap */
		assert_false(raw_sql("INSERT INTO audit (seq, time, action, actor, event, hash)"
				     " SELECT 3, 't', 'config.loaded', 'x',"
				     " json_build_object('prev', hash)::text, 'h3' FROM audit_head"
				     " UNION ALL SELECT 4, 't', 'config.loaded', 'x',"
				     " '{\"prev\":\"zz\"}', 'h4'"));
		assert_false(raw_sql("INSERT INTO audit (seq, time, action, actor, event, hash)"
				     " SELECT 3, 't', 'config.loaded', 'x',"
				     " json_build_object('prev', hash)::text, 'h3' FROM audit_head"
				     " UNION ALL SELECT 5, 't', 'config.loaded', 'x',"
				     " '{\"prev\":\"h3\"}', 'h5'"));
		/* the same rows chained and contiguous would be taken: the
		 * refusals above are the rule's, not the statement's shape */
		assert_true(raw_sql("BEGIN; INSERT INTO audit (seq, time, action, actor, event,"
				    " hash) SELECT 3, 't', 'config.loaded', 'x',"
				    " json_build_object('prev', hash)::text, 'h3' FROM audit_head"
				    " UNION ALL SELECT 4, 't', 'config.loaded', 'x',"
				    " '{\"prev\":\"h3\"}', 'h4'; ROLLBACK"));
	}

	assert_int_equal(store_audit_scan(st, &f, collect_event, &ev), JG_OK);
	assert_int_equal(ev.n, 2);
	assert_non_null(strstr(ev.text[0], "\"actor\":\"alice\""));
	events_free(&ev);
	audit_writer_free(w);
}

/* Writes every event of a scan, one a line (for a verify), and counts. */
struct scan_out {
	FILE *f;
	size_t n;
};

static int write_event(void *ctx, int64_t seq, const char *event)
{
	struct scan_out *o = ctx;

	(void)seq;
	o->n++;
	fprintf(o->f, "%s\n", event);
	return 0;
}

static size_t count_subject(const char *subject)
{
	struct audit_filter f = {.subject = subject};
	struct scan_out o = {0};
	char *buf = NULL;
	size_t len = 0;

	o.f = open_memstream(&buf, &len);
	assert_int_equal(store_audit_scan(st, &f, write_event, &o), JG_OK);
	fclose(o.f);
	free(buf);
	return o.n;
}

#define BATCH_EVENTS 1100

/* A batch of many events in one transaction, with text every layer
 * minds (quotes, backslashes, braces, commas, the word NULL, long
 * values): on PostgreSQL they go out as a few multi-row INSERTs (one per
 * 512 rows or 1 MiB of events, as arrays) checked by the chain rule a
 * statement at a time; they come back as they went in, one chain.  A
 * batch rolled back after some of its rows went out leaves nothing. */
static void test_audit_batch(void **state)
{
	static const char *const subjects[] = {"plain", "NULL", "x", "a\"b",
					       "c\\d", "{e,f}", " g ", "\xc3\xbcn\xc3\xaf \xe2\x9c\x93"};
	static char big[4001];
	struct audit_writer *w = NULL;
	struct audit_verify_result res;
	struct audit_filter f = {0};
	struct scan_out o = {0};
	size_t want_null = 0, want_quote = 0;
	char *buf = NULL, hash[65];
	size_t len = 0;
	int64_t seq;

	(void)state;
	memset(big, '\\', sizeof(big) - 1);
	assert_int_equal(audit_writer_new(&w), JG_OK);
	append_committed(w, "config.loaded", 0, NULL);
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(audit_writer_load(w, st), JG_OK);
	for (int i = 0; i < BATCH_EVENTS; i++) {
		const char *sub = i % 10 == 9 ? big : subjects[i % 8];

		want_null += sub == subjects[1];
		want_quote += sub == subjects[3];
		assert_int_equal(append(w, "request.created", i + 1, sub), JG_OK);
	}
	assert_int_equal(store_commit(st), JG_OK);
	assert_int_equal(store_tx_audit_head(st, &seq, hash), JG_OK);
	assert_int_equal(seq, BATCH_EVENTS + 1);
	assert_string_equal(hash, audit_writer_hash(w));

	o.f = open_memstream(&buf, &len);
	assert_int_equal(store_audit_scan(st, &f, write_event, &o), JG_OK);
	fclose(o.f);
	assert_int_equal(o.n, BATCH_EVENTS + 1);
	o.f = fmemopen(buf, len, "r");
	assert_int_equal(audit_verify_file_head(o.f, seq, hash, &res), JG_OK);
	assert_true(res.ok);
	fclose(o.f);
	/* the word NULL stays a word, a quote a quote */
	assert_non_null(strstr(buf, "\"subject\":\"NULL\""));
	free(buf);
	assert_int_equal(count_subject("NULL"), want_null);
	assert_int_equal(count_subject("a\"b"), want_quote);
	assert_int_equal(count_subject(big), BATCH_EVENTS / 10);

	/* rolled back after a few hundred rows went out: nothing kept */
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(audit_writer_load(w, st), JG_OK);
	for (int i = 0; i < 700; i++)
		assert_int_equal(append(w, "request.created", i + 1, "later"), JG_OK);
	store_rollback(st);
	assert_int_equal(store_tx_audit_head(st, &seq, hash), JG_OK);
	assert_int_equal(seq, BATCH_EVENTS + 1);
	assert_int_equal(count_subject("later"), 0);
	audit_writer_free(w);
}

static int collect_outbox(void *ctx, const struct outbox_row *row)
{
	struct collect *c = ctx;

	c->ids[c->n++] = row->id;
	assert_string_equal(row->target, "{\"kind\":\"webhook\"}");
	return 0;
}

static void test_outbox(void **state)
{
	struct collect c = {0};
	int64_t first;

	(void)state;
	assert_int_equal(store_begin(st), JG_OK);
	for (int i = 1; i <= 3; i++)
		assert_int_equal(store_tx_outbox_add(st, i, "{\"kind\":\"webhook\"}", "{}"),
				 JG_OK);
	assert_int_equal(store_commit(st), JG_OK);
	assert_int_equal(store_outbox_due(st, T0, 10, collect_outbox, &c), JG_OK);
	assert_int_equal(c.n, 3);
	first = c.ids[0];
	assert_int_equal(store_outbox_done(st, first), JG_OK);
	assert_int_equal(store_outbox_retry(st, c.ids[1], T0 + 60000, "HTTP 500"), JG_OK);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_outbox_due(st, T0, 10, collect_outbox, &c), JG_OK);
	assert_int_equal(c.n, 1); /* one done, one not due yet */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_outbox_due(st, T0 + 60000, 10, collect_outbox, &c), JG_OK);
	assert_int_equal(c.n, 2);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_outbox_due(st, T0 + 60000, 1, collect_outbox, &c), JG_OK);
	assert_int_equal(c.n, 1); /* the limit */
}

static int max_attempts(void *ctx, const struct outbox_row *row)
{
	int *max = ctx;

	if (row->attempts > *max)
		*max = row->attempts;
	return 0;
}

/* A request's Slack message: claimed by the first row, the ts stored with
 * that row's done flag, a second claim changing nothing; waiting rows are
 * rescheduled without counting an attempt. */
static void test_slack_messages(void **state)
{
	struct store_slackmsg m;
	struct collect c = {0};

	(void)state;
	assert_int_equal(store_begin(st), JG_OK);
	for (int i = 1; i <= 2; i++)
		assert_int_equal(store_tx_outbox_add(st, i, "{\"kind\":\"webhook\"}", "{}"),
				 JG_OK);
	assert_int_equal(store_commit(st), JG_OK);
	assert_int_equal(store_outbox_due(st, T0, 10, collect_outbox, &c), JG_OK);
	assert_int_equal(c.n, 2);

	assert_int_equal(store_slackmsg_get(st, 7, "#access", &m), JG_ERR_NOTFOUND);
	assert_int_equal(store_slackmsg_claim(st, 7, "#access", c.ids[0]), JG_OK);
	assert_int_equal(store_slackmsg_claim(st, 7, "#access", c.ids[1]), JG_OK);
	assert_int_equal(store_slackmsg_get(st, 7, "#access", &m), JG_OK);
	assert_int_equal(m.post_row, c.ids[0]);
	assert_false(m.posted);
	assert_false(m.post_done);
	assert_int_equal(store_slackmsg_get(st, 7, "#other", &m), JG_ERR_NOTFOUND);
	assert_int_equal(store_slackmsg_get(st, 8, "#access", &m), JG_ERR_NOTFOUND);

	/* the waiting row moves, its attempts do not */
	assert_int_equal(store_outbox_wait(st, c.ids[1], T0 + 5000, "waiting"), JG_OK);
	c.n = 0;
	assert_int_equal(store_outbox_due(st, T0, 10, collect_outbox, &c), JG_OK);
	assert_int_equal(c.n, 1);
	c.n = 0;
	assert_int_equal(store_outbox_due(st, T0 + 5000, 10, collect_outbox, &c), JG_OK);
	assert_int_equal(c.n, 2);
	{
		int max = -1;

		assert_int_equal(store_outbox_due(st, T0 + 5000, 10, max_attempts, &max), JG_OK);
		assert_int_equal(max, 0);
	}

	assert_int_equal(store_slackmsg_posted(st, 7, "#access", c.ids[0], "C0ACCESS",
					       "1700000000.000100"), JG_OK);
	assert_int_equal(store_slackmsg_get(st, 7, "#access", &m), JG_OK);
	assert_true(m.posted);
	assert_true(m.post_done);
	assert_string_equal(m.channel_id, "C0ACCESS");
	assert_string_equal(m.ts, "1700000000.000100");
	c.n = 0;
	assert_int_equal(store_outbox_due(st, T0 + 5000, 10, collect_outbox, &c), JG_OK);
	assert_int_equal(c.n, 1); /* the post row is done */
}

static void test_kv_and_counts(void **state)
{
	int64_t counts[REQ_STATE_COUNT];
	char *v = NULL;

	(void)state;
	assert_int_equal(store_kv_get(st, "k", &v), JG_ERR_NOTFOUND);
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(store_tx_kv_put(st, "k", "one"), JG_OK);
	assert_int_equal(store_tx_kv_put(st, "k", "two"), JG_OK);
	assert_int_equal(store_commit(st), JG_OK);
	assert_int_equal(store_kv_get(st, "k", &v), JG_OK);
	assert_string_equal(v, "two");
	free(v);

	(void)insert("a", REQ_ACTIVE);
	(void)insert("b", REQ_ACTIVE);
	(void)insert("c", REQ_REVOKED);
	assert_int_equal(store_count_by_state(st, counts, REQ_STATE_COUNT), JG_OK);
	assert_int_equal(counts[REQ_ACTIVE], 2);
	assert_int_equal(counts[REQ_REVOKED], 1);
	assert_int_equal(counts[REQ_PENDING], 0);
	assert_true(store_ping(st));
}

static void test_reopen_keeps_data(void **state)
{
	char err[256];
	struct request got;
	int64_t id = insert("alice", REQ_ACTIVE);

	(void)state;
	store_close(st);
	st = NULL;
	/* migrations are idempotent */
	assert_int_equal(store_open(url, NULL, &st, err, sizeof(err)), JG_OK);
	assert_int_equal(store_request_get(st, id, &got), JG_OK);
	assert_string_equal(got.requester, "alice");
	request_clear(&got);
}

/* The notices sent (core/notices.h) survive a write and a read, and a
 * store of the schema before them is migrated: its requests read as
 * "nothing sent yet". */
static void test_notice_marks(void **state)
{
	char err[256];
	struct request r = mkreq("alice", REQ_PENDING), got;
	int64_t id;

	(void)state;
	r.reminders = 3;
	r.escalated = true;
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(store_tx_request_insert(st, &r), JG_OK);
	assert_int_equal(store_commit(st), JG_OK);
	assert_int_equal(store_request_get(st, r.id, &got), JG_OK);
	assert_same_request(&r, &got);
	request_clear(&got);
	r.state = REQ_ACTIVE;
	r.reminders = 4;
	r.expiry_warned = true;
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(store_tx_request_update(st, &r), JG_OK);
	assert_int_equal(store_commit(st), JG_OK);
	assert_int_equal(store_request_get(st, r.id, &got), JG_OK);
	assert_same_request(&r, &got);
	request_clear(&got);
	id = r.id;
	request_clear(&r);
	/* back to the schema before the marks (and the Slack messages that
	 * came after them), then opened again */
	store_close(st);
	st = NULL;
	assert_true(raw_sql(backend == B_PG
		? "ALTER TABLE requests DROP COLUMN reminders, DROP COLUMN escalated,"
		  " DROP COLUMN expiry_warned; DROP TABLE slack_messages;"
		  " DELETE FROM schema_version WHERE version >= 2"
		: "ALTER TABLE requests DROP COLUMN reminders;"
		  "ALTER TABLE requests DROP COLUMN escalated;"
		  "ALTER TABLE requests DROP COLUMN expiry_warned;"
		  "DROP TABLE slack_messages; PRAGMA user_version = 3"));
	assert_int_equal(store_open(url, NULL, &st, err, sizeof(err)), JG_OK);
	assert_int_equal(store_request_get(st, id, &got), JG_OK);
	assert_string_equal(got.requester, "alice");
	assert_int_equal(got.reminders, 0);
	assert_false(got.escalated);
	assert_false(got.expiry_warned);
	request_clear(&got);
}

static void test_newer_schema_refused(void **state)
{
	char err[256];
	struct store *other = NULL;

	(void)state;
	assert_true(raw_sql(backend == B_PG
				    ? "INSERT INTO schema_version (version) VALUES (999)"
				    : "PRAGMA user_version = 999"));
	assert_int_equal(store_open(url, NULL, &other, err, sizeof(err)), JG_ERR_STORE);
	assert_null(other);
	assert_non_null(strstr(err, "newer than this jitgate"));
}

static void test_backend_name(void **state)
{
	(void)state;
	assert_string_equal(store_backend(st), backend == B_PG ? "postgresql" : "sqlite");
}

/* ---- PostgreSQL only ---- */

static void test_pg_password(void **state)
{
	char err[256], bad[600];
	struct store *other = NULL;
	struct store_options so = {.password = "jitgate-pw"};

	(void)state;
	/* from the options (storage_password_env), no PGPASSWORD */
	unsetenv("PGPASSWORD");
	assert_int_equal(store_open(url, &so, &other, err, sizeof(err)), JG_OK);
	store_close(other);
	other = NULL;
	/* a wrong password: refused, and neither error nor log holds it */
	so.password = "wrong-Secret-1";
	assert_int_equal(store_open(url, &so, &other, err, sizeof(err)), JG_ERR_STORE);
	assert_null(other);
	assert_null(strstr(err, "wrong-Secret-1"));
	/* one inside the URL is not echoed either */
	snprintf(bad, sizeof(bad), "postgresql://jitgate:url-Secret-2@127.0.0.1:%d/%s",
		 pg_port, dbname);
	assert_int_equal(store_open(bad, NULL, &other, err, sizeof(err)), JG_ERR_STORE);
	assert_null(strstr(err, "url-Secret-2"));
	/* libpq options ride in the URL: TLS required and used */
	snprintf(bad, sizeof(bad), "postgresql://jitgate:jitgate-pw@127.0.0.1:%d/%s?sslmode=require",
		 pg_port, dbname);
	assert_int_equal(store_open(bad, NULL, &other, err, sizeof(err)), JG_OK);
	store_close(other);
	setenv("PGPASSWORD", "jitgate-pw", 1);
}

/* One integer from a superuser query on the current database. */
static long long pg_admin_int(const char *sql)
{
	PGresult *r = pg_admin(dbname, sql);
	long long v;

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 1);
	v = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* A store of schema version 3 (the chain rule a row at a time) is
 * migrated to version 4 (a statement at a time) with its chain: the old
 * rule's function is gone, the new one refuses what the old one did, and
 * the writer appends on after the events the old rule took. */
#define HASH3 "3333333333333333333333333333333333333333333333333333333333333333"

static void test_pg_schema_4_from_3(void **state)
{
	struct audit_writer *w = NULL;
	struct audit_filter f = {0};
	struct scan_out o = {0};
	char err[256], hash[65], *buf = NULL;
	size_t len = 0;
	int64_t seq;

	(void)state;
	assert_int_equal(audit_writer_new(&w), JG_OK);
	append_committed(w, "config.loaded", 0, NULL);
	store_close(st);
	st = NULL;
	/* back to version 3, as migration 1 made it */
	assert_true(raw_sql(
		"DROP TRIGGER audit_follow ON audit; DROP FUNCTION jitgate_audit_follow_rows();"
		"CREATE FUNCTION jitgate_audit_follow() RETURNS trigger LANGUAGE plpgsql AS $$"
		" BEGIN"
		"  UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash"
		"   WHERE id = 1 AND seq = NEW.seq - 1"
		"   AND hash = (NEW.event::json ->> 'prev');"
		"  IF NOT FOUND THEN"
		"   RAISE EXCEPTION 'audit event % does not follow the head of the chain', NEW.seq;"
		"  END IF;"
		"  RETURN NEW;"
		" END $$;"
		"CREATE TRIGGER audit_follow BEFORE INSERT ON audit"
		" FOR EACH ROW EXECUTE FUNCTION jitgate_audit_follow();"
		"DELETE FROM schema_version WHERE version >= 4"));
	assert_int_equal(pg_admin_int("SELECT max(version) FROM schema_version"), 3);
	/* a version-3 writer's events, one statement each, under the old rule */
	assert_true(raw_sql("INSERT INTO audit (seq, time, action, actor, event, hash)"
			    " SELECT 2, 't', 'config.loaded', 'x',"
			    " json_build_object('prev', hash)::text, repeat('2', 64) FROM audit_head;"
			    "INSERT INTO audit (seq, time, action, actor, event, hash)"
			    " SELECT 3, 't', 'config.loaded', 'x',"
			    " json_build_object('prev', repeat('2', 64))::text, repeat('3', 64)"));
	assert_false(raw_sql("INSERT INTO audit (seq, time, action, actor, event, hash)"
			     " SELECT 5, 't', 'config.loaded', 'x',"
			     " json_build_object('prev', repeat('3', 64))::text, repeat('5', 64)"));

	assert_int_equal(store_open(url, NULL, &st, err, sizeof(err)), JG_OK);
	assert_int_equal(pg_admin_int("SELECT max(version) FROM schema_version"), 4);
	assert_int_equal(pg_admin_int("SELECT count(*) FROM pg_proc"
				      " WHERE proname = 'jitgate_audit_follow'"), 0);
	/* one trigger, for each statement (tgtype bit 0 clear), after insert */
	assert_int_equal(pg_admin_int("SELECT count(*) FROM pg_trigger WHERE"
				      " tgrelid = 'audit'::regclass AND tgname = 'audit_follow'"
				      " AND tgtype & 1 = 0"), 1);
	assert_int_equal(store_tx_audit_head(st, &seq, hash), JG_OK);
	assert_int_equal(seq, 3);
	assert_string_equal(hash, HASH3);
	/* refused as before: a gap, a wrong link */
	assert_false(raw_sql("INSERT INTO audit (seq, time, action, actor, event, hash)"
			     " SELECT 5, 't', 'config.loaded', 'x',"
			     " json_build_object('prev', repeat('3', 64))::text, repeat('5', 64)"));
	assert_false(raw_sql("INSERT INTO audit (seq, time, action, actor, event, hash)"
			     " SELECT 4, 't', 'config.loaded', 'x',"
			     " json_build_object('prev', repeat('2', 64))::text, repeat('4', 64)"));
	/* the writer goes on after the old events: a batch of two */
	assert_int_equal(store_begin(st), JG_OK);
	assert_int_equal(audit_writer_load(w, st), JG_OK);
	assert_int_equal(append(w, "request.created", 1, "alice"), JG_OK);
	assert_int_equal(append(w, "request.approved", 1, "alice"), JG_OK);
	assert_int_equal(store_commit(st), JG_OK);
	assert_int_equal(store_tx_audit_head(st, &seq, hash), JG_OK);
	assert_int_equal(seq, 5);
	assert_string_equal(hash, audit_writer_hash(w));
	/* the new events follow the old ones (whose hashes are made up) */
	f.after_seq = 3;
	o.f = open_memstream(&buf, &len);
	assert_int_equal(store_audit_scan(st, &f, write_event, &o), JG_OK);
	fclose(o.f);
	assert_int_equal(o.n, 2);
	assert_non_null(strstr(buf, "\"prev\":\"" HASH3 "\""));
	free(buf);
	audit_writer_free(w);
}

/* Starts a batch on s as the engine does: what it reads (ids) and
 * creates, then the head (which must be want_seq). */
static void batch_start(struct store *s, struct audit_writer *w, const int64_t *ids,
			size_t n, size_t ncreates, int64_t want_seq)
{
	assert_int_equal(store_begin(s), JG_OK);
	assert_int_equal(store_tx_prefetch(s, ids, n, ncreates), JG_OK);
	assert_int_equal(audit_writer_load(w, s), JG_OK);
	assert_int_equal(audit_writer_seq(w), want_seq);
}

/* One batch of this writer: reads id, appends after the head it loads
 * (which must be want_seq); returns what its commit answered. */
static int approve_batch(struct audit_writer *w, int64_t id, int64_t want_seq)
{
	struct request got;

	batch_start(st, w, &id, 1, 0, want_seq);
	assert_int_equal(store_tx_request_get(st, id, &got), JG_OK);
	request_clear(&got);
	assert_int_equal(append(w, "request.approved", id, "alice"), JG_OK);
	return store_commit(st);
}

/* Another node's batch: one event after the head; returns its seq. */
static int64_t other_node_appends(struct store *other, struct audit_writer *w2)
{
	struct audit_appended ap;

	assert_int_equal(store_begin(other), JG_OK);
	assert_int_equal(audit_writer_load(w2, other), JG_OK);
	assert_int_equal(audit_writer_append(w2, other,
					     json_pack("{s:s, s:s}", "action", "request.revoked",
						       "actor", "bob"), T0, &ap), JG_OK);
	free(ap.text);
	assert_int_equal(store_commit(other), JG_OK);
	return ap.seq;
}

/* Two writers on one database (two nodes).  A batch of a writer that
 * knows everything it reads goes out without a first round trip, on the
 * head it left; when another writer appended meanwhile, its commit is a
 * conflict (JG_ERR_CONFLICT) that wrote nothing, and the same batch run
 * again (the head now locked and read) commits after the other's events. */
static void test_pg_optimistic_conflict(void **state)
{
	int64_t id = insert("alice", REQ_PENDING), seq;
	struct audit_writer *w = NULL, *w2 = NULL;
	struct store *other = NULL;
	char err[256];
	PGresult *res;

	(void)state;
	assert_int_equal(audit_writer_new(&w), JG_OK);
	assert_int_equal(audit_writer_new(&w2), JG_OK);
	assert_int_equal(store_open(url, NULL, &other, err, sizeof(err)), JG_OK);
	/* this writer reads id and appends: it now knows both; a batch on
	 * what it knows then commits at once */
	assert_int_equal(approve_batch(w, id, 0), JG_OK);
	assert_int_equal(approve_batch(w, id, 1), JG_OK);
	/* the other node appends */
	assert_int_equal(other_node_appends(other, w2), 3);
	/* this writer's next batch builds on seq 2: a conflict, nothing kept;
	 * run again, it builds on the real head */
	assert_int_equal(approve_batch(w, id, 2), JG_ERR_CONFLICT);
	store_rollback(st);
	assert_int_equal(approve_batch(w, id, 3), JG_OK);
	assert_int_equal(store_tx_audit_head(st, &seq, err), JG_OK);
	assert_int_equal(seq, 4);
	res = pg_admin(dbname, "SELECT string_agg(actor, ',' ORDER BY seq) FROM audit");
	assert_string_equal(PQgetvalue(res, 0, 0), "alice,alice,bob,alice");
	PQclear(res);
	store_close(other);
	audit_writer_free(w);
	audit_writer_free(w2);
}

/* Another node's batch: sets id's state (ended by bob) and appends after
 * seq (a revoke, as a node would write it). */
static void other_node_revokes(struct store *other, struct audit_writer *w2, int64_t id,
			       int64_t seq)
{
	struct audit_appended ap;
	struct request got;

	batch_start(other, w2, &id, 1, 0, seq);
	assert_int_equal(store_tx_request_get(other, id, &got), JG_OK);
	got.state = REQ_REVOKED;
	free(got.ended_by);
	got.ended_by = strdup("bob");
	assert_int_equal(store_tx_request_update(other, &got), JG_OK);
	request_clear(&got);
	assert_int_equal(audit_writer_append(w2, other,
					     json_pack("{s:s, s:s, s:I}", "action",
						       "request.revoked", "actor", "bob",
						       "request_id", (json_int_t)id),
					     T0, &ap), JG_OK);
	free(ap.text);
	assert_int_equal(store_commit(other), JG_OK);
}

static int count_request(void *ctx, const struct request *r)
{
	(void)r;
	(*(int *)ctx)++;
	return 0;
}

/* What a writer knows outlives the batches that had to ask for the head:
 * a batch that read X, then one that read an unknown Y (head locked and
 * read, unchanged) — a batch on X alone then goes out on the head it left
 * (so it is a conflict once another node has appended).  Its own
 * catch-up (a notification or beat reporting its own commit) keeps what
 * it knows too.  But once the head it reads is not its own, nothing it
 * knew is used: a request another node changed meanwhile is read as
 * that node left it, never from memory. */
static void test_pg_known_requests(void **state)
{
	int64_t x = insert("alice", REQ_PENDING), y = insert("bob", REQ_PENDING);
	int64_t z = insert("carol", REQ_PENDING), upto = 0;
	struct audit_writer *w = NULL, *w2 = NULL;
	struct store *other = NULL;
	struct request got;
	char err[256];
	PGresult *res;
	int seen = 0;

	(void)state;
	assert_int_equal(audit_writer_new(&w), JG_OK);
	assert_int_equal(audit_writer_new(&w2), JG_OK);
	assert_int_equal(store_open(url, NULL, &other, err, sizeof(err)), JG_OK);
	assert_int_equal(approve_batch(w, x, 0), JG_OK);
	assert_int_equal(approve_batch(w, y, 1), JG_OK); /* y unknown: locked */
	/* its own commit reported back: a catch-up that finds its own head */
	assert_int_equal(store_tx_changed_requests(st, 2, &upto, count_request, &seen), JG_OK);
	assert_int_equal(upto, 2);
	assert_int_equal(seen, 0);
	other_node_revokes(other, w2, x, 2);
	/* x is known and the head is taken to be 2: refused, nothing kept */
	assert_int_equal(approve_batch(w, x, 2), JG_ERR_CONFLICT);
	store_rollback(st);

	/* now this writer knows y and z (read after the head it locked) ... */
	assert_int_equal(approve_batch(w, y, 3), JG_OK);
	assert_int_equal(approve_batch(w, z, 4), JG_OK);
	/* ... another node changes y and appends ... */
	other_node_revokes(other, w2, y, 5);
	/* ... and a batch naming only z but reading y too: the head it
	 * reads is not its own, y comes from the database */
	batch_start(st, w, &z, 1, 0, 6);
	assert_int_equal(store_tx_request_get(st, y, &got), JG_OK);
	assert_int_equal(got.state, REQ_REVOKED);
	assert_string_equal(got.ended_by, "bob");
	request_clear(&got);
	assert_int_equal(append(w, "request.approved", z, "carol"), JG_OK);
	assert_int_equal(store_commit(st), JG_OK);
	res = pg_admin(dbname, "SELECT string_agg(actor, ',' ORDER BY seq), count(*),"
		       " max(seq) FROM audit");
	assert_string_equal(PQgetvalue(res, 0, 0), "alice,alice,bob,alice,alice,bob,alice");
	assert_string_equal(PQgetvalue(res, 0, 1), "7");
	assert_string_equal(PQgetvalue(res, 0, 2), "7");
	PQclear(res);
	store_close(other);
	audit_writer_free(w);
	audit_writer_free(w2);
}

/* One batch of this writer creating one request on the head it loads
 * (which must be want_seq); returns what its commit answered. */
static int create_batch(struct audit_writer *w, int64_t want_seq)
{
	struct request r = mkreq("erin", REQ_PENDING);
	int rc;

	batch_start(st, w, NULL, 0, 1, want_seq);
	assert_int_equal(store_tx_request_insert(st, &r), JG_OK);
	assert_int_equal(append(w, "request.created", r.id, "erin"), JG_OK);
	rc = store_commit(st);
	request_clear(&r);
	return rc;
}

/* Ids are drawn ahead in the batches that need no head: a writer creating
 * one request per batch, far past one block of ids, never has to ask for
 * the head (its batch after another node's append is still a conflict). */
static void test_pg_ids_ahead(void **state)
{
	struct audit_writer *w = NULL, *w2 = NULL;
	struct store *other = NULL;
	char err[256];
	int64_t seq = 0;

	(void)state;
	assert_int_equal(audit_writer_new(&w), JG_OK);
	assert_int_equal(audit_writer_new(&w2), JG_OK);
	assert_int_equal(store_open(url, NULL, &other, err, sizeof(err)), JG_OK);
	/* the first batch draws one id and a block of 64 ahead: without more
	 * drawn on the way, batch 130 (two such draws) would find none left */
	for (; seq < 130; seq++)
		assert_int_equal(create_batch(w, seq), JG_OK);
	(void)other_node_appends(other, w2);
	assert_int_equal(create_batch(w, seq), JG_ERR_CONFLICT);
	store_rollback(st);
	assert_int_equal(create_batch(w, seq + 1), JG_OK);
	store_close(other);
	audit_writer_free(w);
	audit_writer_free(w2);
}

/* What a writer knows is bounded (4,096 requests); past the bound the
 * older half goes and the recent requests, which the next batches act
 * on, are still known: a batch on one of them goes out on the head the
 * writer left. */
static void test_pg_known_requests_bounded(void **state)
{
	struct audit_writer *w = NULL, *w2 = NULL;
	struct store *other = NULL;
	int64_t ids[4200];
	char err[256];

	(void)state;
	assert_int_equal(audit_writer_new(&w), JG_OK);
	assert_int_equal(audit_writer_new(&w2), JG_OK);
	assert_int_equal(store_open(url, NULL, &other, err, sizeof(err)), JG_OK);
	batch_start(st, w, NULL, 0, 4200, 0);
	for (size_t i = 0; i < 4200; i++) {
		struct request r = mkreq("erin", REQ_PENDING);

		assert_int_equal(store_tx_request_insert(st, &r), JG_OK);
		ids[i] = r.id;
		request_clear(&r);
	}
	assert_int_equal(append(w, "request.created", ids[4199], "erin"), JG_OK);
	assert_int_equal(store_commit(st), JG_OK);
	(void)other_node_appends(other, w2);
	/* the 4,000th of 4,200 is still known: refused, as built on seq 1 */
	assert_int_equal(approve_batch(w, ids[3999], 1), JG_ERR_CONFLICT);
	store_rollback(st);
	/* the first is not: read after the head, locked */
	assert_int_equal(approve_batch(w, ids[0], 2), JG_OK);
	store_close(other);
	audit_writer_free(w);
	audit_writer_free(w2);
}

static void test_pg_unreachable_bounded(void **state)
{
	char err[256], u[128];
	struct store *other = NULL;
	struct store_options so = {.timeout_ms = 300};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	(void)state;
	/* a listener that never answers: the connect must give up in time */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(u, sizeof(u), "postgresql://jitgate@127.0.0.1:%d/x", ntohs(a.sin_port));
	assert_int_equal(store_open(u, &so, &other, err, sizeof(err)), JG_ERR_STORE);
	assert_non_null(strstr(err, "timed out"));
	close(fd);
}

/* ---- no backend ---- */

static void redacts(const char *in, const char *want)
{
	char buf[256];

	store_url_redact(in, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_redact(void **state)
{
	(void)state;
	redacts("sqlite:/var/lib/jitgate.db", "sqlite:/var/lib/jitgate.db");
	redacts("postgresql://jg@db:5432/jitgate", "postgresql://jg@db:5432/jitgate");
	redacts("postgresql://jg:s3cret@db:5432/jitgate?sslmode=verify-full",
		"postgresql://jg:***@db:5432/jitgate?sslmode=verify-full");
	/* an '@' inside the password: the last '@' of the authority ends it */
	redacts("postgres://jg:a@b:c@db/x", "postgres://jg:***@db/x");
	redacts("postgresql://db/x?user=jg&password=s3cret&sslmode=require",
		"postgresql://db/x?user=jg&password=***&sslmode=require");
	redacts("postgresql://db/x?sslpassword=k3y", "postgresql://db/x?sslpassword=***");
	redacts("postgresql://db/x?password=", "postgresql://db/x?password=***");
	/* no authority part: a path with '@' and ':' is not userinfo */
	redacts("postgresql://db/x@y:z", "postgresql://db/x@y:z");
}

static void test_redact_truncates(void **state)
{
	char buf[32];

	(void)state;
	store_url_redact("postgresql://jg:s3cret@db/x", buf, 16);
	assert_string_equal(buf, "postgresql://jg");
	store_url_redact("postgresql://jg:s3cret@db/x", buf, 20);
	assert_null(strstr(buf, "s3"));
}

/* The reader pool: with a bound, a caller that finds every slot busy
 * gives up (-1) instead of waiting for ever; a released slot is taken. */
static void test_pool_bounded_acquire(void **state)
{
	struct store_pool p;
	int slots[STORE_READERS];

	(void)state;
	store_pool_init(&p);
	for (int i = 0; i < STORE_READERS; i++) {
		slots[i] = store_pool_acquire(&p, 50);
		assert_true(slots[i] >= 0 && slots[i] < STORE_READERS);
		for (int k = 0; k < i; k++)
			assert_int_not_equal(slots[k], slots[i]);
	}
	assert_int_equal(store_pool_acquire(&p, 20), -1);
	store_pool_release(&p, slots[2]);
	assert_int_equal(store_pool_acquire(&p, 20), slots[2]);
	for (int i = 0; i < STORE_READERS; i++)
		store_pool_release(&p, slots[i]);
	/* no bound: a free slot at once */
	assert_true(store_pool_acquire(&p, 0) >= 0);
	store_pool_destroy(&p);
}

static void test_unknown_scheme(void **state)
{
	struct store *s = (struct store *)1;
	char err[256];

	(void)state;
	assert_false(store_url_supported("mysql://u:pw@h/db"));
	assert_true(store_url_supported("sqlite:x.db"));
	assert_true(store_url_supported("postgres://h/db"));
	assert_int_equal(store_open("mysql://u:pw@h/db", NULL, &s, err, sizeof(err)),
			 JG_ERR_INVALID);
	assert_null(s);
	assert_non_null(strstr(err, "unknown scheme"));
	assert_null(strstr(err, "pw")); /* the password is not echoed */
}

#define COMMON(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest common[] = {
		COMMON(test_request_roundtrip),
		COMMON(test_update_missing_fails),
		COMMON(test_request_batch),
		COMMON(test_transaction_visibility),
		COMMON(test_prefetch),
		COMMON(test_requests_scan),
		COMMON(test_live_and_changed),
		COMMON(test_audit_chain),
		COMMON(test_audit_raw_tampering_refused),
		COMMON(test_audit_batch),
		COMMON(test_outbox),
		COMMON(test_slack_messages),
		COMMON(test_kv_and_counts),
		COMMON(test_reopen_keeps_data),
		COMMON(test_notice_marks),
		COMMON(test_newer_schema_refused),
		COMMON(test_backend_name),
	};
	const struct CMUnitTest pg_only[] = {
		COMMON(test_pg_password),
		COMMON(test_pg_unreachable_bounded),
		COMMON(test_pg_optimistic_conflict),
		COMMON(test_pg_known_requests),
		COMMON(test_pg_ids_ahead),
		COMMON(test_pg_known_requests_bounded),
		COMMON(test_pg_schema_4_from_3),
	};
	const struct CMUnitTest none[] = {
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_redact_truncates),
		cmocka_unit_test(test_unknown_scheme),
		cmocka_unit_test(test_pool_bounded_acquire),
	};
	struct CMUnitTest pg[sizeof(common) / sizeof(common[0]) +
			     sizeof(pg_only) / sizeof(pg_only[0])];
	int fails = 0;

	/* the PostgreSQL group runs the same tests, then its own */
	memcpy(pg, common, sizeof(common));
	memcpy(pg + sizeof(common) / sizeof(common[0]), pg_only, sizeof(pg_only));
	fails += cmocka_run_group_tests_name("url", none, NULL, NULL);
	fails += cmocka_run_group_tests_name("sqlite", common, group_setup_sqlite,
					     group_teardown);
	fails += _cmocka_run_group_tests("postgresql", pg, sizeof(pg) / sizeof(pg[0]),
					 group_setup_pg, group_teardown);
	return fails;
}
