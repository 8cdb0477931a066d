/* PostgreSQL backend of the store (libpq): one writer connection for the
 * engine and a small pool of reader connections for the API threads, every
 * wait bounded (pgconn.h).  The schema (store_pg_schema.c) is plain SQL
 * plus two PL/pgSQL triggers: the audit table refuses UPDATE, DELETE and
 * TRUNCATE, and an append must follow the head row (seq + 1, prev = the
 * head's hash), which also serialises appenders of several nodes.
 *
 * The writer's transactions are in store_pg_tx.c.
 *
 * A connection that fails or times out is closed and opened again at its
 * next use; a transaction it carried is lost (the engine answers 503 and
 * re-reads the audit head). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pgconn.h"
#include "store/store_int.h"
#include "store/store_pg.h"
#include "util/log.h"

#define SCAN_PAGE 500
#define READ_BOUND_MS 2000 /* the longest a reader (an HTTP thread) waits */

#define REQ_COLS STORE_REQ_COLS

/* ---- connections ---- */

/* The bound of one call on connection c. */
static int call_ms(const struct pgs *s, PGconn *const *c)
{
	return c == &s->w ? s->timeout_ms : s->read_ms;
}

/* The writer's statements end on the server before we stop waiting for
 * them: a commit we gave up on (and answered 503, "nothing was changed")
 * must not go through later, when the lock it waited for comes free.
 * Closing the connection does not stop a backend that waits on a lock,
 * and COMMIT is already in its socket buffer behind the statement. */
static int writer_bound(struct pgs *s)
{
	char sql[64];
	/* at least 1 ms: statement_timeout 0 would mean no bound at all */
	int ms = s->timeout_ms / 4 * 3 > 0 ? s->timeout_ms / 4 * 3 : 1;

	snprintf(sql, sizeof(sql), "SET statement_timeout = %d", ms);
	return pgconn_exec(s->w, sql, 0, NULL, s->timeout_ms, NULL, NULL);
}

int store_pg_reconnect(struct pgs *s, PGconn **c)
{
	char err[256];
	int rc;

	if (*c != NULL)
		return JG_OK;
	/* statements are prepared per connection */
	if (c == &s->w)
		memset(s->prepared, 0, sizeof(s->prepared));
	rc = pgconn_open(s->url, s->password, call_ms(s, c), c, err, sizeof(err));
	if (rc != JG_OK)
		log_error(NULL, "store: %s", err);
	if (rc == JG_OK && c == &s->w && writer_bound(s) != JG_OK) {
		log_error(NULL, "store: cannot set the writer's statement_timeout");
		PQfinish(*c);
		*c = NULL;
		rc = JG_ERR_STORE;
	}
	return rc == JG_OK ? JG_OK : JG_ERR_STORE;
}

/* A statement's outcome on *c: a connection that failed or timed out is
 * closed (reopened by the next call) and the error is JG_ERR_STORE. */
static int conn_outcome(PGconn **c, int rc)
{
	if (rc == JG_ERR_IO || rc == JG_ERR_TIMEOUT) {
		log_error(NULL, "store: the database connection %s; it will be reopened",
			  rc == JG_ERR_TIMEOUT ? "timed out" : "failed");
		PQfinish(*c);
		*c = NULL;
		rc = JG_ERR_STORE;
	}
	return rc;
}

/* Runs one statement on *c; drops the connection when it broke. */
int store_pg_run(struct pgs *s, PGconn **c, const char *sql, const struct pgp *p,
		 PGresult **out)
{
	struct pg_watch *w = atomic_load(&s->watch);
	int rc;

	if (out)
		*out = NULL;
	/* cut off for stale_after: fail at once instead of waiting again */
	if (*c == NULL || (w && !store_pg_watch_reachable(w)))
		return JG_ERR_STORE;
	rc = pgconn_exec(*c, sql, p ? p->n : 0, p ? p->v : NULL, call_ms(s, c), out, NULL);
	return conn_outcome(c, rc);
}

int store_pg_run_named(struct pgs *s, PGconn **c, const char *name, const char *sql,
		       bool *prepared, const struct pgp *p, PGresult **out)
{
	struct pg_watch *w = atomic_load(&s->watch);
	int rc = JG_OK;

	if (out)
		*out = NULL;
	if (*c == NULL || (w && !store_pg_watch_reachable(w)))
		return JG_ERR_STORE;
	if (!*prepared) {
		rc = pgconn_prepare(*c, name, sql, call_ms(s, c));
		*prepared = rc == JG_OK;
	}
	if (rc == JG_OK)
		rc = pgconn_exec_prepared(*c, name, p ? p->n : 0, p ? p->v : NULL, call_ms(s, c),
					  out, NULL);
	return conn_outcome(c, rc);
}

/* A reader connection, or &s->none (on which store_pg_run fails at once)
 * when the database is not answering or no slot came free in read_ms:
 * an HTTP thread answers 503 instead of waiting. */
static PGconn **reader_acquire(struct pgs *s)
{
	struct pg_watch *w = atomic_load(&s->watch);
	char sql[64];
	PGconn **c;
	int slot;

	if (w && !store_pg_watch_answering(w))
		return &s->none;
	slot = store_pool_acquire(&s->pool, s->read_ms);
	if (slot < 0)
		return &s->none;
	c = &s->readers[slot];
	if (*c != NULL || store_pg_reconnect(s, c) != JG_OK)
		return c;
	/* the server gives up too: no statement left running for a reader
	 * that stopped waiting */
	snprintf(sql, sizeof(sql), "SET statement_timeout = %d", s->read_ms);
	if (store_pg_run(s, c, sql, NULL, NULL) != JG_OK && *c != NULL) {
		PQfinish(*c);
		*c = NULL;
	}
	return c;
}

static void reader_release(struct pgs *s, PGconn **c)
{
	if (c != &s->none)
		store_pool_release(&s->pool, (int)(c - s->readers));
}

/* ---- open / close ---- */

static void pg_close(struct store *base)
{
	struct pgs *s = (struct pgs *)base;

	if (s == NULL)
		return;
	store_pg_watch_free(s);
	for (int i = 0; i < STORE_READERS; i++)
		PQfinish(s->readers[i]);
	PQfinish(s->w);
	store_pg_tx_free(s);
	store_pool_destroy(&s->pool);
	free(s->url);
	if (s->password) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
	free(s);
}

static int pg_open(const char *url, const struct store_options *opts,
		   struct store **out, char *err, size_t errlen)
{
	struct pgs *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (s == NULL)
		return JG_ERR_NOMEM;
	store_pool_init(&s->pool);
	s->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
	s->read_ms = s->timeout_ms < READ_BOUND_MS ? s->timeout_ms : READ_BOUND_MS;
	s->url = strdup(url);
	if (s->url == NULL || (opts && opts->password &&
			       (s->password = strdup(opts->password)) == NULL)) {
		pg_close(&s->base);
		return JG_ERR_NOMEM;
	}
	rc = pgconn_open(s->url, s->password, s->timeout_ms, &s->w, err, errlen);
	if (rc == JG_OK && writer_bound(s) != JG_OK) {
		snprintf(err, errlen, "cannot set the writer's statement_timeout");
		rc = JG_ERR_STORE;
	}
	if (rc == JG_OK)
		rc = store_pg_migrate(s->w, s->timeout_ms, err, errlen);
	/* a PostgreSQL-compatible engine may lack notifications: then the
	 * commits carry none and the watches poll */
	if (rc == JG_OK &&
	    store_pg_run(s, &s->w, "SELECT pg_notify('" STORE_PG_CHANNEL "_probe', '')", NULL,
			 NULL) != JG_OK) {
		s->no_notify = true;
		rc = store_pg_reconnect(s, &s->w);
	}
	if (rc != JG_OK) {
		pg_close(&s->base);
		return rc == JG_ERR_NOMEM ? rc : JG_ERR_STORE;
	}
	*out = &s->base;
	return JG_OK;
}

/* ---- requests ---- */

int store_pg_row_request(const PGresult *res, int i, struct request *r)
{
	const char *c[STORE_REQ_NCOLS];

	for (int k = 0; k < STORE_REQ_NCOLS; k++)
		c[k] = pgconn_text(res, i, k);
	return store_request_from_cells(c, r);
}

static int get_request_on(struct pgs *s, PGconn **c, int64_t id, struct request *out)
{
	struct pgp p = {0};
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	pgp_int(&p, id);
	rc = store_pg_run(s, c, "SELECT " REQ_COLS " FROM requests WHERE id=$1", &p, &res);
	if (rc == JG_OK)
		rc = PQntuples(res) == 1 ? store_pg_row_request(res, 0, out) : JG_ERR_NOTFOUND;
	PQclear(res);
	return rc;
}

static int pg_request_get(struct store *base, int64_t id, struct request *out)
{
	struct pgs *s = (struct pgs *)base;
	PGconn **c = reader_acquire(s);
	int rc = get_request_on(s, c, id, out);

	reader_release(s, c);
	return rc;
}

int store_pg_each_request(const PGresult *res, store_request_cb cb, void *ctx,
			int64_t *last_id)
{
	for (int i = 0; i < PQntuples(res); i++) {
		struct request r;
		int rc = store_pg_row_request(res, i, &r);

		if (rc != JG_OK)
			return rc;
		*last_id = r.id;
		rc = cb(ctx, &r);
		request_clear(&r);
		if (rc != 0)
			return rc;
	}
	return JG_OK;
}

/* Newest first, a page at a time so that a caller who stops early (a
 * limit) does not make the server send the whole table. */
static int pg_requests_scan(struct store *base, const struct request_filter *f,
			    store_request_cb cb, void *ctx)
{
	struct pgs *s = (struct pgs *)base;
	PGconn **c = reader_acquire(s);
	int64_t before = f->before_id;
	int rc = JG_OK;

	for (;;) {
		struct pgp p = {0};
		PGresult *res;
		int64_t last = 0;
		int n;

		pgp_int(&p, before);
		pgp_text(&p, f->state >= 0 ? req_state_name((enum req_state)f->state) : NULL);
		pgp_text(&p, f->requester);
		pgp_int(&p, SCAN_PAGE);
		rc = store_pg_run(s, c, "SELECT " REQ_COLS " FROM requests WHERE"
			 " ($1::bigint = 0 OR id < $1::bigint)"
			 " AND ($2::text IS NULL OR state = $2::text)"
			 " AND ($3::text IS NULL OR requester = $3::text)"
			 " ORDER BY id DESC LIMIT $4", &p, &res);
		if (rc != JG_OK)
			break;
		n = PQntuples(res);
		rc = store_pg_each_request(res, cb, ctx, &last);
		PQclear(res);
		if (rc != JG_OK || n < SCAN_PAGE)
			break;
		before = last;
	}
	reader_release(s, c);
	return rc;
}

/* ---- audit ---- */

static int pg_audit_scan(struct store *base, const struct audit_filter *f,
			 store_audit_cb cb, void *ctx)
{
	struct pgs *s = (struct pgs *)base;
	PGconn **c = reader_acquire(s);
	int64_t after = f->after_seq;
	int rc = JG_OK;

	for (;;) {
		struct pgp p = {0};
		PGresult *res;
		int n;

		pgp_int(&p, after);
		pgp_text(&p, f->subject);
		pgp_text(&p, f->resource);
		pgp_text(&p, f->action);
		pgp_int(&p, SCAN_PAGE);
		rc = store_pg_run(s, c, "SELECT seq, event FROM audit WHERE seq > $1"
			 " AND ($2::text IS NULL OR subject = $2::text)"
			 " AND ($3::text IS NULL OR resource = $3::text)"
			 " AND ($4::text IS NULL OR action = $4::text)"
			 " ORDER BY seq LIMIT $5", &p, &res);
		if (rc != JG_OK)
			break;
		n = PQntuples(res);
		for (int i = 0; i < n && rc == JG_OK; i++) {
			after = pgconn_int(res, i, 0);
			rc = cb(ctx, after, PQgetvalue(res, i, 1));
		}
		PQclear(res);
		if (rc != JG_OK || n < SCAN_PAGE)
			break;
	}
	reader_release(s, c);
	return rc;
}

/* ---- outbox, kv, counts ---- */

static int pg_outbox_due(struct store *base, int64_t now_ms, int limit,
			 store_outbox_cb cb, void *ctx)
{
	struct pgs *s = (struct pgs *)base;
	struct pg_watch *w;
	PGconn **c;
	struct pgp p = {0};
	PGresult *res;
	int rc;

	/* one node delivers: the one holding the lease */
	w = atomic_load(&s->watch);
	if (w && !store_pg_watch_lease(w))
		return JG_OK;
	c = reader_acquire(s);
	pgp_int(&p, now_ms);
	pgp_int(&p, limit);
	rc = store_pg_run(s, c, "SELECT id, target, payload, attempts, next_at FROM outbox"
		 " WHERE NOT done AND next_at <= $1 ORDER BY id LIMIT $2", &p, &res);
	for (int i = 0; rc == JG_OK && i < PQntuples(res); i++) {
		struct outbox_row row = {
			.id = pgconn_int(res, i, 0),
			.target = PQgetvalue(res, i, 1),
			.payload = PQgetvalue(res, i, 2),
			.attempts = (int)pgconn_int(res, i, 3),
			.next_at_ms = pgconn_int(res, i, 4),
		};

		rc = cb(ctx, &row);
	}
	PQclear(res);
	reader_release(s, c);
	return rc;
}

static int reader_run(struct pgs *s, const char *sql, const struct pgp *p)
{
	PGconn **c = reader_acquire(s);
	int rc = store_pg_run(s, c, sql, p, NULL);

	reader_release(s, c);
	return rc;
}

static int pg_outbox_done(struct store *base, int64_t id)
{
	struct pgp p = {0};

	pgp_int(&p, id);
	return reader_run((struct pgs *)base, "UPDATE outbox SET done = true WHERE id = $1",
			  &p);
}

static int pg_outbox_retry(struct store *base, int64_t id, int64_t next_at_ms,
			   const char *last_error)
{
	struct pgp p = {0};

	pgp_int(&p, id);
	pgp_int(&p, next_at_ms);
	pgp_text(&p, last_error);
	return reader_run((struct pgs *)base,
			  "UPDATE outbox SET attempts = attempts + 1, next_at = $2,"
			  " last_error = $3 WHERE id = $1", &p);
}

static int pg_outbox_wait(struct store *base, int64_t id, int64_t next_at_ms,
			  const char *why)
{
	struct pgp p = {0};

	pgp_int(&p, id);
	pgp_int(&p, next_at_ms);
	pgp_text(&p, why);
	return reader_run((struct pgs *)base,
			  "UPDATE outbox SET next_at = $2, last_error = $3 WHERE id = $1", &p);
}

/* ---- Slack channel messages (the notifier's, on a reader connection) ---- */

static int pg_slackmsg_get(struct store *base, int64_t request_id, const char *channel,
			   struct store_slackmsg *out)
{
	struct pgs *s = (struct pgs *)base;
	PGconn **c = reader_acquire(s);
	struct pgp p = {0};
	PGresult *res;
	int rc;

	pgp_int(&p, request_id);
	pgp_text(&p, channel);
	rc = store_pg_run(s, c, "SELECT m.post_row, m.channel_id, m.ts, o.next_at,"
		 " coalesce(o.done, true)"
		 " FROM slack_messages m LEFT JOIN outbox o ON o.id = m.post_row"
		 " WHERE m.request_id = $1 AND m.channel = $2", &p, &res);
	if (rc == JG_OK && PQntuples(res) == 1) {
		const char *cid = pgconn_text(res, 0, 1), *ts = pgconn_text(res, 0, 2);

		out->post_row = pgconn_int(res, 0, 0);
		out->post_next_at_ms = pgconn_int(res, 0, 3);
		out->post_done = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
		out->posted = cid != NULL && ts != NULL;
		snprintf(out->channel_id, sizeof(out->channel_id), "%s", cid ? cid : "");
		snprintf(out->ts, sizeof(out->ts), "%s", ts ? ts : "");
	} else if (rc == JG_OK) {
		rc = JG_ERR_NOTFOUND;
	}
	PQclear(res);
	reader_release(s, c);
	return rc;
}

static int pg_slackmsg_claim(struct store *base, int64_t request_id, const char *channel,
			     int64_t post_row)
{
	struct pgp p = {0};

	pgp_int(&p, request_id);
	pgp_text(&p, channel);
	pgp_int(&p, post_row);
	return reader_run((struct pgs *)base,
			  "INSERT INTO slack_messages (request_id, channel, post_row)"
			  " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", &p);
}

static int pg_slackmsg_posted(struct store *base, int64_t request_id, const char *channel,
			      int64_t post_row, const char *channel_id, const char *ts)
{
	struct pgp p = {0};

	pgp_int(&p, request_id);
	pgp_text(&p, channel);
	pgp_int(&p, post_row);
	pgp_text(&p, channel_id);
	pgp_text(&p, ts);
	/* one statement: the ts and the row's done flag commit together */
	return reader_run((struct pgs *)base,
			  "WITH m AS (UPDATE slack_messages SET channel_id = $4, ts = $5"
			  " WHERE request_id = $1 AND channel = $2 AND post_row = $3)"
			  " UPDATE outbox SET done = true WHERE id = $3", &p);
}

static int pg_slackmsg_scan(struct store *base, store_slackmsg_cb cb, void *ctx)
{
	struct pgs *s = (struct pgs *)base;
	PGconn **c = reader_acquire(s);
	PGresult *res;
	int rc = store_pg_run(s, c, "SELECT request_id, channel, channel_id, ts"
			      " FROM slack_messages WHERE channel_id IS NOT NULL"
			      " AND ts IS NOT NULL", NULL, &res);

	for (int i = 0; rc == JG_OK && i < PQntuples(res); i++)
		rc = cb(ctx, pgconn_int(res, i, 0), PQgetvalue(res, i, 1),
			PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
	PQclear(res);
	reader_release(s, c);
	return rc;
}

static int pg_kv_get(struct store *base, const char *key, char **value)
{
	struct pgs *s = (struct pgs *)base;
	PGconn **c = reader_acquire(s);
	struct pgp p = {0};
	PGresult *res;
	int rc;

	*value = NULL;
	pgp_text(&p, key);
	rc = store_pg_run(s, c, "SELECT value FROM kv WHERE key = $1", &p, &res);
	if (rc == JG_OK && PQntuples(res) == 1) {
		*value = strdup(PQgetvalue(res, 0, 0));
		rc = *value ? JG_OK : JG_ERR_NOMEM;
	} else if (rc == JG_OK) {
		rc = JG_ERR_NOTFOUND;
	}
	PQclear(res);
	reader_release(s, c);
	return rc;
}

static int pg_count_by_state(struct store *base, int64_t *counts, size_t n)
{
	struct pgs *s = (struct pgs *)base;
	PGconn **c = reader_acquire(s);
	PGresult *res;
	int rc;

	for (size_t i = 0; i < n; i++)
		counts[i] = 0;
	rc = store_pg_run(s, c, "SELECT state, count(*) FROM requests GROUP BY state", NULL, &res);
	for (int i = 0; rc == JG_OK && i < PQntuples(res); i++) {
		enum req_state state;

		if (req_state_parse(PQgetvalue(res, i, 0), &state) && (size_t)state < n)
			counts[state] = pgconn_int(res, i, 1);
	}
	PQclear(res);
	reader_release(s, c);
	return rc;
}

static bool pg_ping(struct store *base)
{
	struct pgs *s = (struct pgs *)base;

	struct pg_watch *w = atomic_load(&s->watch);

	if (w)
		return store_pg_watch_reachable(w);
	return reader_run(s, "SELECT 1", NULL) == JG_OK;
}

const struct store_ops store_pg_ops = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.begin = store_pg_begin,
	.commit = store_pg_commit,
	.rollback = store_pg_rollback,
	.tx_request_insert = store_pg_tx_request_insert,
	.tx_request_update = store_pg_tx_request_update,
	.tx_request_get = store_pg_tx_request_get,
	.tx_audit_append = store_pg_tx_audit_append,
	.tx_outbox_add = store_pg_tx_outbox_add,
	.tx_kv_put = store_pg_tx_kv_put,
	.tx_audit_head = store_pg_tx_audit_head,
	.tx_prefetch = store_pg_tx_prefetch,
	.tx_requests_live = store_pg_tx_requests_live,
	.tx_changed_requests = store_pg_tx_changed_requests,
	.request_get = pg_request_get,
	.requests_scan = pg_requests_scan,
	.audit_scan = pg_audit_scan,
	.kv_get = pg_kv_get,
	.outbox_due = pg_outbox_due,
	.outbox_done = pg_outbox_done,
	.outbox_retry = pg_outbox_retry,
	.outbox_wait = pg_outbox_wait,
	.slackmsg_get = pg_slackmsg_get,
	.slackmsg_claim = pg_slackmsg_claim,
	.slackmsg_posted = pg_slackmsg_posted,
	.slackmsg_scan = pg_slackmsg_scan,
	.tx_slackmsg_put = store_pg_tx_slackmsg_put,
	.count_by_state = pg_count_by_state,
	.ping = pg_ping,
	.watch_start = store_pg_watch_start,
	.watch_stop = store_pg_watch_stop,
};
