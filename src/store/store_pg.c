/* PostgreSQL backend of the store (libpq): one writer connection for the
 * engine and a small pool of reader connections for the API threads, every
 * wait bounded (pgconn.h).  The schema (store_pg_schema.c) is plain SQL
 * plus two PL/pgSQL triggers: the audit table refuses UPDATE, DELETE and
 * TRUNCATE, and an append must follow the head row (seq + 1, prev = the
 * head's hash), which also serialises appenders of several nodes.
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

#define PARAMS_MAX 32
#define SCAN_PAGE 500


/* Text parameters for one statement. */
struct params {
	const char *v[PARAMS_MAX];
	char num[PARAMS_MAX][24];
	int n;
};

static void p_text(struct params *p, const char *s)
{
	p->v[p->n++] = s;
}

static void p_int(struct params *p, int64_t x)
{
	snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)x);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

/* 0 is "not set" for the time columns, stored as NULL. */
static void p_time(struct params *p, int64_t x)
{
	if (x)
		p_int(p, x);
	else
		p_text(p, NULL);
}

static void p_bool(struct params *p, bool b)
{
	p_text(p, b ? "t" : "f");
}

#define REQ_COLS STORE_REQ_COLS

/* ---- connections ---- */

static int reconnect(struct pgs *s, PGconn **c)
{
	char err[256];
	int rc;

	if (*c != NULL)
		return JG_OK;
	rc = pgconn_open(s->url, s->password, s->timeout_ms, c, err, sizeof(err));
	if (rc != JG_OK)
		log_error(NULL, "store: %s", err);
	return rc == JG_OK ? JG_OK : JG_ERR_STORE;
}

/* ---- the writer's pipeline ---- */

/* Any failure inside the pipeline ends the transaction with the
 * connection: the server rolls back, the next batch reconnects. */
static void pipe_drop(struct pgs *s)
{
	PQfinish(s->w);
	s->w = NULL;
	s->piping = false;
	s->pending = 0;
}

/* Reads the results of every statement sent without waiting. */
static int pipe_drain(struct pgs *s, int64_t deadline)
{
	int rc = JG_OK;

	for (size_t i = 0; rc == JG_OK && i < s->pending; i++) {
		PGresult *r = NULL;

		rc = pgconn_pipe_next(s->w, deadline, &r);
		if (rc == JG_OK && s->expect_one[i] && strcmp(PQcmdTuples(r), "1") != 0) {
			log_error(NULL, "store: an update changed no row");
			rc = JG_ERR_STORE;
		}
		PQclear(r);
	}
	s->pending = 0;
	return rc;
}

/* Sends sql behind the pending statements, then (with sync, as a sync
 * point; else with a flush request) reads every pending result and its
 * own.  No cleanup on failure: the caller drops the pipeline. */
static int pipe_exchange(struct pgs *s, const char *sql, const struct params *p,
			 bool sync, int64_t deadline, PGresult **out)
{
	int rc = pgconn_pipe_send(s->w, sql, p ? p->n : 0, p ? p->v : NULL);

	if (rc == JG_OK && (sync ? PQpipelineSync(s->w) : PQsendFlushRequest(s->w)) != 1)
		rc = JG_ERR_IO;
	if (rc == JG_OK)
		rc = pgconn_flush(s->w, deadline);
	if (rc == JG_OK)
		rc = pipe_drain(s, deadline);
	if (rc == JG_OK)
		rc = pgconn_pipe_next(s->w, deadline, out);
	return rc;
}

/* A statement of the writer's transaction that needs its answer. */
static int pipe_run(struct pgs *s, const char *sql, const struct params *p, PGresult **out)
{
	if (pipe_exchange(s, sql, p, false, pgconn_mono_ms() + s->timeout_ms, out) != JG_OK) {
		pipe_drop(s);
		return JG_ERR_STORE;
	}
	return JG_OK;
}

/* Runs one statement on *c; drops the connection when it broke. */
static int run(struct pgs *s, PGconn **c, const char *sql, const struct params *p,
	       PGresult **out)
{
	int rc;

	if (out)
		*out = NULL;
	if (c == &s->w && s->piping)
		return pipe_run(s, sql, p, out);
	/* cut off for stale_after: fail at once instead of waiting again */
	if (*c == NULL || (s->watch && !store_pg_watch_reachable(s->watch)))
		return JG_ERR_STORE;
	rc = pgconn_exec(*c, sql, p ? p->n : 0, p ? p->v : NULL, s->timeout_ms, out, NULL);
	if (rc == JG_ERR_IO || rc == JG_ERR_TIMEOUT) {
		log_error(NULL, "store: the database connection %s; it will be reopened",
			  rc == JG_ERR_TIMEOUT ? "timed out" : "failed");
		PQfinish(*c);
		*c = NULL;
		rc = JG_ERR_STORE;
	}
	return rc;
}

/* A writer statement whose result is only success (with one_row: it must
 * change exactly one row).  In the pipeline it goes out at once and is
 * checked later; outside it runs as usual. */
static int defer(struct pgs *s, const char *sql, const struct params *p, bool one_row)
{
	PGresult *r = NULL;
	int rc;

	if (!s->piping) {
		rc = run(s, &s->w, sql, p, &r);
		if (rc == JG_OK && one_row && strcmp(PQcmdTuples(r), "1") != 0)
			rc = JG_ERR_STORE;
		PQclear(r);
		return rc;
	}
	if (s->pending == s->expect_cap) {
		size_t cap = s->expect_cap ? s->expect_cap * 2 : 64;
		bool *v = realloc(s->expect_one, cap * sizeof(*v));

		if (v == NULL) {
			pipe_drop(s);
			return JG_ERR_NOMEM;
		}
		s->expect_one = v;
		s->expect_cap = cap;
	}
	if (pgconn_pipe_send(s->w, sql, p ? p->n : 0, p ? p->v : NULL) != JG_OK) {
		pipe_drop(s);
		return JG_ERR_STORE;
	}
	s->expect_one[s->pending++] = one_row;
	return JG_OK;
}

static PGconn **reader_acquire(struct pgs *s)
{
	PGconn **c = &s->readers[store_pool_acquire(&s->pool)];

	/* on failure run() fails on the NULL connection */
	(void)!reconnect(s, c);
	return c;
}

static void reader_release(struct pgs *s, PGconn **c)
{
	store_pool_release(&s->pool, (int)(c - s->readers));
}

/* ---- open / close ---- */

static void pg_close(struct store *base)
{
	struct pgs *s = (struct pgs *)base;

	if (s == NULL)
		return;
	store_pg_watch_stop(base);
	for (int i = 0; i < STORE_READERS; i++)
		PQfinish(s->readers[i]);
	PQfinish(s->w);
	free(s->expect_one);
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
	s->url = strdup(url);
	if (s->url == NULL || (opts && opts->password &&
			       (s->password = strdup(opts->password)) == NULL)) {
		pg_close(&s->base);
		return JG_ERR_NOMEM;
	}
	rc = pgconn_open(s->url, s->password, s->timeout_ms, &s->w, err, errlen);
	if (rc == JG_OK)
		rc = store_pg_migrate(s->w, s->timeout_ms, err, errlen);
	/* a PostgreSQL-compatible engine may lack notifications: then the
	 * commits carry none and the watches poll */
	if (rc == JG_OK && run(s, &s->w, "SELECT pg_notify('" STORE_PG_CHANNEL "_probe', '')",
			       NULL, NULL) != JG_OK) {
		s->no_notify = true;
		rc = reconnect(s, &s->w);
	}
	if (rc != JG_OK) {
		pg_close(&s->base);
		return rc == JG_ERR_NOMEM ? rc : JG_ERR_STORE;
	}
	*out = &s->base;
	return JG_OK;
}

/* ---- transactions (engine thread) ---- */

static int pg_begin(struct store *base)
{
	struct pgs *s = (struct pgs *)base;

	s->tx_seq = 0;
	if (s->watch && !store_pg_watch_reachable(s->watch))
		return JG_ERR_STORE;
	if (reconnect(s, &s->w) != JG_OK)
		return JG_ERR_STORE;
	if (PQenterPipelineMode(s->w) != 1)
		return run(s, &s->w, "BEGIN", NULL, NULL);
	s->piping = true;
	s->pending = 0;
	return defer(s, "BEGIN", NULL, false);
}

/* COMMIT in the pipeline: every pending result, then COMMIT's own, then
 * the sync point; one round trip for whatever was still in flight. */
static int pipe_commit(struct pgs *s)
{
	int64_t deadline = pgconn_mono_ms() + s->timeout_ms;
	PGresult *r = NULL;
	int rc = pipe_exchange(s, "COMMIT", NULL, true, deadline, &r);

	/* COMMIT of a failed transaction "succeeds" as ROLLBACK */
	if (rc == JG_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0)
		rc = JG_ERR_STORE;
	PQclear(r);
	if (rc == JG_OK)
		rc = pgconn_pipe_sync_wait(s->w, deadline);
	if (rc == JG_OK && PQexitPipelineMode(s->w) != 1)
		rc = JG_ERR_IO;
	if (rc != JG_OK) {
		pipe_drop(s);
		return JG_ERR_STORE;
	}
	s->piping = false;
	return JG_OK;
}

static int pg_commit(struct store *base)
{
	struct pgs *s = (struct pgs *)base;
	struct params p = {0};
	PGresult *r;
	int rc;

	if (s->w == NULL)
		return JG_ERR_STORE;
	/* every node's watch hears of the new events once they are durable
	 * (a notification is delivered at commit), in the same round trip */
	if (s->no_notify)
		s->tx_seq = 0;
	if (s->piping) {
		if (s->tx_seq > 0) {
			p_int(&p, s->tx_seq);
			if (defer(s, "SELECT pg_notify('" STORE_PG_CHANNEL "', $1)", &p, false) !=
			    JG_OK)
				return JG_ERR_STORE;
		}
		return pipe_commit(s);
	}
	if (s->tx_seq > 0) {
		p_int(&p, s->tx_seq);
		rc = run(s, &s->w, "SELECT pg_notify('" STORE_PG_CHANNEL "', $1)", &p, NULL);
		if (rc != JG_OK)
			return rc;
	}
	rc = run(s, &s->w, "COMMIT", NULL, &r);
	if (rc == JG_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0)
		rc = JG_ERR_STORE;
	PQclear(r);
	return rc;
}

static void pg_rollback(struct store *base)
{
	struct pgs *s = (struct pgs *)base;

	if (s->piping) {
		pipe_drop(s); /* the server rolls back with the connection */
		return;
	}
	if (s->w && PQtransactionStatus(s->w) != PQTRANS_IDLE &&
	    run(s, &s->w, "ROLLBACK", NULL, NULL) != JG_OK && s->w) {
		PQfinish(s->w);
		s->w = NULL;
	}
}

/* ---- requests ---- */

static int add_request_params(struct params *p, const struct request *r, char **appr)
{
	*appr = store_approvals_json(r);
	if (*appr == NULL)
		return JG_ERR_NOMEM;
	p_text(p, req_state_name(r->state));
	p_text(p, r->requester);
	p_text(p, r->resource);
	p_text(p, r->role);
	p_int(p, r->duration_s);
	p_text(p, r->reason);
	p_text(p, r->ticket);
	p_text(p, r->policy);
	p_int(p, r->approvals_required);
	p_text(p, *appr);
	p_int(p, r->created_at);
	p_time(p, r->pending_until);
	p_time(p, r->activated_at);
	p_time(p, r->expires_at);
	p_time(p, r->ended_at);
	p_text(p, r->ended_by);
	p_bool(p, r->break_glass);
	p_bool(p, r->review_required);
	p_text(p, r->reviewed_by);
	p_time(p, r->extends);
	p_text(p, r->end_comment);
	return JG_OK;
}

static int row_to_request(const PGresult *res, int i, struct request *r)
{
	const char *c[STORE_REQ_NCOLS];

	for (int k = 0; k < STORE_REQ_NCOLS; k++)
		c[k] = pgconn_text(res, i, k);
	return store_request_from_cells(c, r);
}

static int pg_tx_request_insert(struct store *base, struct request *r)
{
	struct pgs *s = (struct pgs *)base;
	struct params p = {0};
	PGresult *res = NULL;
	char *appr;
	int rc = add_request_params(&p, r, &appr);

	/* $22 is the id: NULL takes the next of the sequence */
	p_time(&p, r->id);
	p_int(&p, r->reminders);
	p_bool(&p, r->escalated);
	p_bool(&p, r->expiry_warned);
	if (rc == JG_OK)
		rc = run(s, &s->w,
			 "INSERT INTO requests (state, requester, resource, role, duration_s,"
			 " reason, ticket, policy, approvals_required, approvals, created_at,"
			 " pending_until, activated_at, expires_at, ended_at, ended_by,"
			 " break_glass, review_required, reviewed_by, extends, end_comment, id,"
			 " reminders, escalated, expiry_warned)"
			 " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,"
			 "$18,$19,$20,$21,coalesce($22::bigint, nextval('requests_id_seq')),"
			 "$23,$24,$25)"
			 " RETURNING id",
			 &p, &res);
	if (rc == JG_OK && PQntuples(res) == 1)
		r->id = pgconn_int(res, 0, 0);
	else if (rc == JG_OK)
		rc = JG_ERR_STORE;
	PQclear(res);
	/* a copied id: the sequence goes on after the largest */
	if (rc == JG_OK && p.v[21] != NULL)
		rc = run(s, &s->w, "SELECT setval('requests_id_seq',"
			 " (SELECT max(id) FROM requests))", NULL, NULL);
	free(appr);
	return rc;
}

static int pg_tx_request_update(struct store *base, const struct request *r)
{
	struct pgs *s = (struct pgs *)base;
	struct params p = {0};
	char *appr;
	int rc = add_request_params(&p, r, &appr);

	if (rc == JG_OK) {
		p_int(&p, r->id);
		p_int(&p, r->reminders);
		p_bool(&p, r->escalated);
		p_bool(&p, r->expiry_warned);
		rc = defer(s,
			   "UPDATE requests SET state=$1, requester=$2, resource=$3, role=$4,"
			   " duration_s=$5, reason=$6, ticket=$7, policy=$8,"
			   " approvals_required=$9, approvals=$10, created_at=$11,"
			   " pending_until=$12, activated_at=$13, expires_at=$14, ended_at=$15,"
			   " ended_by=$16, break_glass=$17, review_required=$18,"
			   " reviewed_by=$19, extends=$20, end_comment=$21, reminders=$23,"
			   " escalated=$24, expiry_warned=$25 WHERE id=$22",
			   &p, true);
	}
	free(appr);
	return rc;
}

static int get_request_on(struct pgs *s, PGconn **c, int64_t id, struct request *out)
{
	struct params p = {0};
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	p_int(&p, id);
	rc = run(s, c, "SELECT " REQ_COLS " FROM requests WHERE id=$1", &p, &res);
	if (rc == JG_OK)
		rc = PQntuples(res) == 1 ? row_to_request(res, 0, out) : JG_ERR_NOTFOUND;
	PQclear(res);
	return rc;
}

static int pg_tx_request_get(struct store *base, int64_t id, struct request *out)
{
	struct pgs *s = (struct pgs *)base;

	return get_request_on(s, &s->w, id, out);
}

static int pg_request_get(struct store *base, int64_t id, struct request *out)
{
	struct pgs *s = (struct pgs *)base;
	PGconn **c = reader_acquire(s);
	int rc = get_request_on(s, c, id, out);

	reader_release(s, c);
	return rc;
}

/* Calls cb for every row of res; returns the callback's non-zero answer. */
static int each_request(const PGresult *res, store_request_cb cb, void *ctx,
			int64_t *last_id)
{
	for (int i = 0; i < PQntuples(res); i++) {
		struct request r;
		int rc = row_to_request(res, i, &r);

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

static int pg_tx_requests_live(struct store *base, store_request_cb cb, void *ctx)
{
	struct pgs *s = (struct pgs *)base;
	PGresult *res;
	int64_t last = 0;
	int rc = run(s, &s->w, "SELECT " REQ_COLS " FROM requests WHERE"
		     " state IN ('pending','active') ORDER BY id", NULL, &res);

	if (rc == JG_OK)
		rc = each_request(res, cb, ctx, &last);
	PQclear(res);
	return rc;
}

static int pg_tx_changed_requests(struct store *base, int64_t after_seq,
				  int64_t *upto_seq, store_request_cb cb, void *ctx)
{
	struct pgs *s = (struct pgs *)base;
	struct params p = {0};
	PGresult *res;
	int64_t last = 0;
	int rc;

	if (*upto_seq == 0) {
		/* a plain read of the head: no lock, so a catch-up never
		 * waits for another node's batch */
		if (reconnect(s, &s->w) != JG_OK)
			return JG_ERR_STORE;
		rc = run(s, &s->w, "SELECT seq FROM audit_head WHERE id = 1", NULL, &res);
		if (rc == JG_OK && PQntuples(res) == 1)
			*upto_seq = pgconn_int(res, 0, 0);
		else if (rc == JG_OK)
			rc = JG_ERR_STORE;
		PQclear(res);
		if (rc != JG_OK)
			return rc;
	}
	p_int(&p, after_seq);
	p_int(&p, *upto_seq);
	rc = run(s, &s->w, "SELECT " REQ_COLS " FROM requests WHERE id IN"
		 " (SELECT request_id FROM audit WHERE seq > $1 AND seq <= $2"
		 " AND request_id IS NOT NULL) ORDER BY id", &p, &res);
	if (rc == JG_OK)
		rc = each_request(res, cb, ctx, &last);
	PQclear(res);
	return rc;
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
		struct params p = {0};
		PGresult *res;
		int64_t last = 0;
		int n;

		p_int(&p, before);
		p_text(&p, f->state >= 0 ? req_state_name((enum req_state)f->state) : NULL);
		p_text(&p, f->requester);
		p_int(&p, SCAN_PAGE);
		rc = run(s, c, "SELECT " REQ_COLS " FROM requests WHERE"
			 " ($1::bigint = 0 OR id < $1::bigint)"
			 " AND ($2::text IS NULL OR state = $2::text)"
			 " AND ($3::text IS NULL OR requester = $3::text)"
			 " ORDER BY id DESC LIMIT $4", &p, &res);
		if (rc != JG_OK)
			break;
		n = PQntuples(res);
		rc = each_request(res, cb, ctx, &last);
		PQclear(res);
		if (rc != JG_OK || n < SCAN_PAGE)
			break;
		before = last;
	}
	reader_release(s, c);
	return rc;
}

/* ---- audit ---- */

static int pg_tx_audit_append(struct store *base, const struct audit_row *row)
{
	struct pgs *s = (struct pgs *)base;
	struct params p = {0};

	p_int(&p, row->seq);
	p_text(&p, row->time);
	p_text(&p, row->action);
	p_text(&p, row->actor);
	p_time(&p, row->request_id);
	p_text(&p, row->subject);
	p_text(&p, row->resource);
	p_text(&p, row->role);
	p_text(&p, row->event);
	p_text(&p, row->hash);
	s->tx_seq = row->seq;
	return defer(s, "INSERT INTO audit (seq, time, action, actor, request_id,"
		     " subject, resource, role, event, hash)"
		     " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)", &p, false);
}

/* Inside a transaction this locks the head row until commit: appenders on
 * every node take their turn here, so the chain stays one line. */
static int pg_tx_audit_head(struct store *base, int64_t *seq, char hash[65])
{
	struct pgs *s = (struct pgs *)base;
	PGresult *res;
	const char *h;
	int rc;

	*seq = 0;
	memset(hash, '0', 64);
	hash[64] = '\0';
	if (reconnect(s, &s->w) != JG_OK)
		return JG_ERR_STORE;
	rc = run(s, &s->w, "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
		 NULL, &res);
	if (rc == JG_OK && PQntuples(res) == 1 && (h = pgconn_text(res, 0, 1)) != NULL &&
	    strlen(h) == 64) {
		*seq = pgconn_int(res, 0, 0);
		memcpy(hash, h, 64);
	} else if (rc == JG_OK) {
		log_error(NULL, "store: the audit head row is missing or damaged");
		rc = JG_ERR_STORE;
	}
	PQclear(res);
	return rc;
}

static int pg_audit_scan(struct store *base, const struct audit_filter *f,
			 store_audit_cb cb, void *ctx)
{
	struct pgs *s = (struct pgs *)base;
	PGconn **c = reader_acquire(s);
	int64_t after = f->after_seq;
	int rc = JG_OK;

	for (;;) {
		struct params p = {0};
		PGresult *res;
		int n;

		p_int(&p, after);
		p_text(&p, f->subject);
		p_text(&p, f->resource);
		p_text(&p, f->action);
		p_int(&p, SCAN_PAGE);
		rc = run(s, c, "SELECT seq, event FROM audit WHERE seq > $1"
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

static int pg_tx_outbox_add(struct store *base, int64_t seq, const char *target,
			    const char *payload)
{
	struct pgs *s = (struct pgs *)base;
	struct params p = {0};

	p_int(&p, seq);
	p_text(&p, target);
	p_text(&p, payload);
	return defer(s, "INSERT INTO outbox (seq, target, payload) VALUES ($1,$2,$3)",
		     &p, false);
}

static int pg_outbox_due(struct store *base, int64_t now_ms, int limit,
			 store_outbox_cb cb, void *ctx)
{
	struct pgs *s = (struct pgs *)base;
	PGconn **c;
	struct params p = {0};
	PGresult *res;
	int rc;

	/* one node delivers: the one holding the lease */
	if (s->watch && !store_pg_watch_lease(s->watch))
		return JG_OK;
	c = reader_acquire(s);
	p_int(&p, now_ms);
	p_int(&p, limit);
	rc = run(s, c, "SELECT id, target, payload, attempts, next_at FROM outbox"
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

static int reader_run(struct pgs *s, const char *sql, const struct params *p)
{
	PGconn **c = reader_acquire(s);
	int rc = run(s, c, sql, p, NULL);

	reader_release(s, c);
	return rc;
}

static int pg_outbox_done(struct store *base, int64_t id)
{
	struct params p = {0};

	p_int(&p, id);
	return reader_run((struct pgs *)base, "UPDATE outbox SET done = true WHERE id = $1",
			  &p);
}

static int pg_outbox_retry(struct store *base, int64_t id, int64_t next_at_ms,
			   const char *last_error)
{
	struct params p = {0};

	p_int(&p, id);
	p_int(&p, next_at_ms);
	p_text(&p, last_error);
	return reader_run((struct pgs *)base,
			  "UPDATE outbox SET attempts = attempts + 1, next_at = $2,"
			  " last_error = $3 WHERE id = $1", &p);
}

static int pg_tx_kv_put(struct store *base, const char *key, const char *value)
{
	struct pgs *s = (struct pgs *)base;
	struct params p = {0};

	p_text(&p, key);
	p_text(&p, value);
	return defer(s, "INSERT INTO kv (key, value) VALUES ($1, $2)"
		     " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", &p, false);
}

static int pg_kv_get(struct store *base, const char *key, char **value)
{
	struct pgs *s = (struct pgs *)base;
	PGconn **c = reader_acquire(s);
	struct params p = {0};
	PGresult *res;
	int rc;

	*value = NULL;
	p_text(&p, key);
	rc = run(s, c, "SELECT value FROM kv WHERE key = $1", &p, &res);
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
	rc = run(s, c, "SELECT state, count(*) FROM requests GROUP BY state", NULL, &res);
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

	if (s->watch)
		return store_pg_watch_reachable(s->watch);
	return reader_run(s, "SELECT 1", NULL) == JG_OK;
}

const struct store_ops store_pg_ops = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.tx_request_insert = pg_tx_request_insert,
	.tx_request_update = pg_tx_request_update,
	.tx_request_get = pg_tx_request_get,
	.tx_audit_append = pg_tx_audit_append,
	.tx_outbox_add = pg_tx_outbox_add,
	.tx_kv_put = pg_tx_kv_put,
	.tx_audit_head = pg_tx_audit_head,
	.tx_requests_live = pg_tx_requests_live,
	.tx_changed_requests = pg_tx_changed_requests,
	.request_get = pg_request_get,
	.requests_scan = pg_requests_scan,
	.audit_scan = pg_audit_scan,
	.kv_get = pg_kv_get,
	.outbox_due = pg_outbox_due,
	.outbox_done = pg_outbox_done,
	.outbox_retry = pg_outbox_retry,
	.count_by_state = pg_count_by_state,
	.ping = pg_ping,
	.watch_start = store_pg_watch_start,
	.watch_stop = store_pg_watch_stop,
};
