/* The writer of the PostgreSQL store: the engine thread's transactions.
 *
 * A batch costs one round trip when this writer already knows everything
 * it reads (optimistic: see struct pgs, "hot"), else two, whatever its
 * size.  In the second case the first carries
 * BEGIN, the lock and read of the audit head, the requests the batch will
 * act on (store_tx_prefetch) and, when the batch creates requests, a block
 * of ids drawn from the sequence; the second every write, the NOTIFY,
 * COMMIT and the sync point (libpq pipeline mode).  Statements are
 * prepared once per connection, in the same pipeline as their first use.
 *
 * The head lock comes first in the transaction, so what the batch reads
 * after it (a new snapshot per statement, READ COMMITTED) includes every
 * batch that held the lock before: writers of all nodes take turns and
 * the chain stays one line (the audit trigger also refuses an event that
 * does not follow the head).
 *
 * Any failure inside the pipeline ends the transaction with the
 * connection: the server rolls back, the next batch reconnects (and
 * prepares again). */
#include <stdlib.h>
#include <string.h>

#include "store/pgconn.h"
#include "store/store_pg.h"
#include "util/log.h"
#include "util/vec.h"

#define COOL_DOWN 64 /* locked commits after a conflict */

enum stmt {
	S_INSERT,
	S_UPDATE,
	S_GET,
	S_AUDIT,
	S_OUTBOX,
	S_KV,
	S_NOTIFY,
	S_HEAD,
	S_PREFETCH,
	S_IDS,
	S_SLACKMSG,
	S_VERIFY,
	S_CATCHUP,
	S_CHANGED,
};

/* The requests named by audit events after $1 up to upto, as an array:
 * the planner then looks each up by its key (as IN (subquery) it chose a
 * hash join over a scan of the whole table, a cost growing with every
 * request ever made, on every catch-up of every node). */
#define CHANGED_IDS(upto) "ARRAY(SELECT request_id FROM audit WHERE seq > $1" \
	" AND seq <= " upto " AND request_id IS NOT NULL)"

static const struct {
	const char *name, *sql;
} stmts[STORE_PG_NSTMT] = {
	[S_INSERT] = {"jg_insert",
		      "INSERT INTO requests (state, requester, resource, role, duration_s,"
		      " reason, ticket, policy, approvals_required, approvals, created_at,"
		      " pending_until, activated_at, expires_at, ended_at, ended_by,"
		      " break_glass, review_required, reviewed_by, extends, end_comment, id,"
		      " reminders, escalated, expiry_warned)"
		      " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,"
		      "$18,$19,$20,$21,$22,$23,$24,$25)"},
	/* An update that finds no row must abort the transaction on the
	 * server: its COMMIT is already in the same pipeline, and an UPDATE
	 * of nothing is no SQL error.  The cast of the message to an integer
	 * raises one ("invalid input syntax for type integer: \"update
	 * changed no row: request N, rows 0\""), so the COMMIT becomes a
	 * ROLLBACK; one row of 1 otherwise (PEND_ONE_ROW).  The message
	 * reads the CTE so that the planner cannot fold it into a constant
	 * and raise it at plan time, whatever the CASE says. */
	[S_UPDATE] = {"jg_update",
		      "WITH u AS (UPDATE requests SET state=$1, requester=$2, resource=$3,"
		      " role=$4, duration_s=$5, reason=$6, ticket=$7, policy=$8,"
		      " approvals_required=$9, approvals=$10, created_at=$11,"
		      " pending_until=$12, activated_at=$13, expires_at=$14, ended_at=$15,"
		      " ended_by=$16, break_glass=$17, review_required=$18,"
		      " reviewed_by=$19, extends=$20, end_comment=$21, reminders=$23,"
		      " escalated=$24, expiry_warned=$25 WHERE id=$22::bigint RETURNING 1)"
		      " SELECT CASE WHEN (SELECT count(*) FROM u) = 1 THEN 1"
		      " ELSE ('update changed no row: request ' || $22::bigint || ', rows '"
		      " || (SELECT count(*) FROM u))::int END"},
	[S_GET] = {"jg_get", "SELECT " STORE_REQ_COLS " FROM requests WHERE id=$1"},
	/* a batch's events in one statement: the chain trigger runs once */
	[S_AUDIT] = {"jg_audit",
		     "INSERT INTO audit (seq, time, action, actor, request_id,"
		     " subject, resource, role, event, hash)"
		     " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[],"
		     " $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[],"
		     " $9::text[], $10::text[])"},
	[S_OUTBOX] = {"jg_outbox",
		      "INSERT INTO outbox (seq, target, payload) VALUES ($1,$2,$3)"},
	[S_KV] = {"jg_kv", "INSERT INTO kv (key, value) VALUES ($1, $2)"
			   " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"},
	[S_NOTIFY] = {"jg_notify", "SELECT pg_notify('" STORE_PG_CHANNEL "', $1)"},
	[S_HEAD] = {"jg_head", "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"},
	[S_PREFETCH] = {"jg_prefetch", "SELECT " STORE_REQ_COLS " FROM requests"
				       " WHERE id = ANY($1::bigint[]) ORDER BY id"},
	[S_IDS] = {"jg_ids", "SELECT nextval('requests_id_seq')"
			     " FROM generate_series(1, $1::integer)"},
	[S_SLACKMSG] = {"jg_slackmsg",
			"INSERT INTO slack_messages (request_id, channel, post_row,"
			" channel_id, ts) VALUES ($1, $2, 0, $3, $4)"},
	[S_VERIFY] = {"jg_verify", "SELECT 1 FROM audit_head WHERE id = 1 AND seq = $1"
				   " AND hash = $2 FOR UPDATE"},
	/* a catch-up (store_pg_tx_changed_requests): prepared like the rest,
	 * it is planned once per connection, not on every notification */
	[S_CATCHUP] = {"jg_catchup",
		       "SELECT r.*, h.seq FROM (SELECT seq FROM audit_head WHERE id = 1) h"
		       " LEFT JOIN LATERAL (SELECT " STORE_REQ_COLS " FROM requests"
		       " WHERE id = ANY (" CHANGED_IDS("h.seq") ")) r ON true ORDER BY r.id"},
	[S_CHANGED] = {"jg_changed", "SELECT " STORE_REQ_COLS " FROM requests WHERE id = ANY ("
				     CHANGED_IDS("$2") ") ORDER BY id"},
};

_Static_assert(S_CHANGED + 1 == STORE_PG_NSTMT, "one name and text per statement");

/* ---- the pipeline ---- */

static void audit_reset(struct pgs *s);

static void pipe_drop(struct pgs *s)
{
	audit_reset(s);
	PQfinish(s->w);
	s->w = NULL;
	s->piping = false;
	s->pending = 0;
	store_pg_go_cold(s);
}

static int pend_push(struct pgs *s, enum pg_pend k)
{
	if (s->pending == s->pend_cap) {
		enum pg_pend *v = vec_grow(s->pend, &s->pend_cap, sizeof(*v), 64);

		if (v == NULL)
			return JG_ERR_NOMEM;
		s->pend = v;
	}
	s->pend[s->pending++] = k;
	return JG_OK;
}

/* What a statement's result means for the transaction. */
static int take_result(struct pgs *s, enum pg_pend k, const PGresult *r)
{
	const char *h;

	switch (k) {
	case PEND_DISCARD:
		return JG_OK;
	case PEND_ONE_ROW:
		if (strcmp(PQcmdTuples((PGresult *)r), "1") == 0)
			return JG_OK;
		log_error(NULL, "store: an update changed no row");
		return JG_ERR_STORE;
	case PEND_HEAD:
		if (PQntuples(r) != 1 || (h = pgconn_text(r, 0, 1)) == NULL || strlen(h) != 64) {
			log_error(NULL, "store: the audit head row is missing or damaged");
			return JG_ERR_STORE;
		}
		s->head_seq = pgconn_int(r, 0, 0);
		memcpy(s->head_hash, h, 65);
		s->head_read = true;
		/* what this writer knew stays true only if the head is the one
		 * its last commit left: no other node wrote since */
		if (!s->hot || s->head_seq != s->hot_seq || strcmp(h, s->hot_hash) != 0)
			store_pg_go_cold(s);
		return JG_OK;
	case PEND_PREFETCH:
		return store_pg_cache_fill(s, r);
	case PEND_IDS:
		return store_pg_ids_fill(s, r);
	case PEND_VERIFY:
		/* another node moved the head: the batch is run again */
		if (PQntuples(r) != 1)
			s->conflict = true;
		return JG_OK;
	}
	return JG_ERR_INTERNAL;
}

/* Reads the results of every statement sent without waiting. */
static int pipe_drain(struct pgs *s, int64_t deadline)
{
	int rc = JG_OK;

	for (size_t i = 0; rc == JG_OK && i < s->pending; i++) {
		PGresult *r = NULL;

		rc = pgconn_pipe_next(s->w, deadline, &r);
		if (rc == JG_OK)
			rc = take_result(s, s->pend[i], r);
		PQclear(r);
	}
	s->pending = 0;
	return rc;
}

/* Queues the preparation of st on a connection that does not have it. */
static int prepare(struct pgs *s, enum stmt st)
{
	if (s->prepared[st])
		return JG_OK;
	if (pgconn_pipe_prepare(s->w, stmts[st].name, stmts[st].sql, 0) != JG_OK)
		return JG_ERR_IO;
	s->prepared[st] = true;
	return pend_push(s, PEND_DISCARD);
}

static int send_stmt(struct pgs *s, enum stmt st, const struct pgp *p, enum pg_pend k)
{
	int rc = prepare(s, st);

	if (rc == JG_OK && pgconn_pipe_send_prepared(s->w, stmts[st].name, p ? p->n : 0,
						     p ? p->v : NULL) != JG_OK)
		rc = JG_ERR_IO;
	return rc == JG_OK ? pend_push(s, k) : rc;
}

/* Sends what is queued and reads every result: one round trip. */
static int pipe_roundtrip(struct pgs *s)
{
	int64_t deadline = pgconn_mono_ms() + s->timeout_ms;
	int rc = PQsendFlushRequest(s->w) == 1 ? JG_OK : JG_ERR_IO;

	if (rc == JG_OK)
		rc = pgconn_flush(s->w, deadline);
	if (rc == JG_OK)
		rc = pipe_drain(s, deadline);
	return rc;
}

/* Sends sql (unprepared: BEGIN, COMMIT, the rare reads) or the prepared
 * st behind the pending statements, then (with sync, as a sync point;
 * else with a flush request) reads every pending result and its own.  No
 * cleanup on failure: the caller drops the pipeline. */
static int pipe_exchange(struct pgs *s, const char *sql, enum stmt st, const struct pgp *p,
			 bool sync, int64_t deadline, PGresult **out)
{
	int rc = sql ? pgconn_pipe_send(s->w, sql, p ? p->n : 0, p ? p->v : NULL)
		     : prepare(s, st);

	if (rc == JG_OK && sql == NULL)
		rc = pgconn_pipe_send_prepared(s->w, stmts[st].name, p ? p->n : 0,
					       p ? p->v : NULL);
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

static int defer(struct pgs *s, enum stmt st, const struct pgp *p, enum pg_pend k);

/* ---- audit rows held back until one statement takes them all ---- */

#define AUDIT_ROWS_MAX 512          /* rows in one INSERT at most */
#define AUDIT_BYTES_MAX (1 << 20)   /* and about this much event text */

static void audit_reset(struct pgs *s)
{
	for (int i = 0; i < STORE_PG_AUDIT_COLS; i++)
		pgarray_reset(&s->audit_cols[i]);
	s->audit_rows = 0;
}

/* Sends the rows held back as one INSERT (in the pipeline, checked with
 * the next answer or the COMMIT). */
static int audit_flush(struct pgs *s)
{
	struct pgp p = {0};
	int rc = JG_OK;

	if (s->audit_rows == 0)
		return JG_OK;
	for (int i = 0; i < STORE_PG_AUDIT_COLS; i++) {
		const char *t = pgarray_text(&s->audit_cols[i]);

		if (t == NULL)
			rc = JG_ERR_NOMEM;
		pgp_text(&p, t);
	}
	if (rc == JG_OK)
		rc = defer(s, S_AUDIT, &p, PEND_DISCARD);
	audit_reset(s);
	return rc;
}

/* A writer statement that needs its answer: sql, or the prepared st. */
static int ask(struct pgs *s, const char *sql, enum stmt st, const struct pgp *p,
	       PGresult **out)
{
	*out = NULL;
	/* what it reads may be the audit rows held back */
	if (audit_flush(s) != JG_OK) {
		if (s->piping)
			pipe_drop(s);
		return JG_ERR_STORE;
	}
	if (!s->piping)
		return sql ? store_pg_run(s, &s->w, sql, p, out)
			   : store_pg_run_named(s, &s->w, stmts[st].name, stmts[st].sql,
						&s->prepared[st], p, out);
	if (pipe_exchange(s, sql, st, p, false, pgconn_mono_ms() + s->timeout_ms, out) !=
	    JG_OK) {
		pipe_drop(s);
		return JG_ERR_STORE;
	}
	return JG_OK;
}

/* A writer statement whose result needs no decision now: in the
 * pipeline it goes out at once and is checked later (k); outside it runs
 * as usual. */
static int defer(struct pgs *s, enum stmt st, const struct pgp *p, enum pg_pend k)
{
	PGresult *r = NULL;
	int rc;

	if (!s->piping) {
		rc = store_pg_run(s, &s->w, stmts[st].sql, p, &r);
		if (rc == JG_OK)
			rc = take_result(s, k, r);
		PQclear(r);
		return rc;
	}
	if (send_stmt(s, st, p, k) != JG_OK) {
		pipe_drop(s);
		return JG_ERR_STORE;
	}
	return JG_OK;
}

/* ---- transactions ---- */

int store_pg_begin(struct store *base)
{
	struct pgs *s = (struct pgs *)base;
	struct pg_watch *w;

	s->tx_seq = 0;
	audit_reset(s);
	s->head_sent = s->head_read = false;
	s->optimistic = s->conflict = false;
	w = atomic_load(&s->watch);
	if (w && !store_pg_watch_reachable(w))
		return JG_ERR_STORE;
	if (store_pg_reconnect(s, &s->w) != JG_OK)
		return JG_ERR_STORE;
	if (PQenterPipelineMode(s->w) != 1)
		return store_pg_run(s, &s->w, "BEGIN", NULL, NULL);
	s->piping = true;
	s->pending = 0;
	if (pgconn_pipe_send(s->w, "BEGIN", 0, NULL) != JG_OK ||
	    pend_push(s, PEND_DISCARD) != JG_OK) {
		pipe_drop(s);
		return JG_ERR_STORE;
	}
	return JG_OK;
}

/* COMMIT in the pipeline: every pending result, then COMMIT's own, then
 * the sync point; one round trip for whatever was still in flight. */
static int pipe_commit(struct pgs *s)
{
	int64_t deadline = pgconn_mono_ms() + s->timeout_ms;
	PGresult *r = NULL;
	int rc = pipe_exchange(s, "COMMIT", 0, NULL, true, deadline, &r);

	/* COMMIT of a failed transaction "succeeds" as ROLLBACK */
	if (rc == JG_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0)
		rc = JG_ERR_STORE;
	PQclear(r);
	if (rc == JG_OK)
		rc = pgconn_pipe_sync_wait(s->w, deadline);
	if (rc == JG_OK && PQexitPipelineMode(s->w) != 1)
		rc = JG_ERR_IO;
	/* refused by the server (a conflict, a constraint): the sync point
	 * is on its way, the connection stays (rolled back) once it came */
	if (rc == JG_ERR_STORE && pgconn_pipe_sync_wait(s->w, deadline) == JG_OK &&
	    PQexitPipelineMode(s->w) == 1 && PQtransactionStatus(s->w) == PQTRANS_IDLE) {
		s->piping = false;
		s->pending = 0;
		store_pg_go_cold(s);
		return JG_ERR_STORE;
	}
	if (rc != JG_OK) {
		pipe_drop(s);
		return JG_ERR_STORE;
	}
	s->piping = false;
	return JG_OK;
}

/* After a commit: the head it left is known, and so is every request the
 * transaction read or wrote (kept in the cache). */
static void commit_done(struct pgs *s)
{
	if (s->tx_seq > 0) {
		s->hot_seq = s->tx_seq;
		memcpy(s->hot_hash, s->tx_hash, sizeof(s->hot_hash));
	} else if (s->head_read) {
		s->hot_seq = s->head_seq;
		memcpy(s->hot_hash, s->head_hash, sizeof(s->hot_hash));
	} else if (!s->optimistic) {
		store_pg_go_cold(s); /* nothing says what the head is */
		return;
	}
	s->hot = true;
}

int store_pg_commit(struct store *base)
{
	struct pgs *s = (struct pgs *)base;
	struct pgp p = {0};
	PGresult *r;
	int rc;

	bool notify = s->tx_seq > 0 && !s->no_notify;

	if (s->w == NULL)
		return JG_ERR_STORE;
	/* every node's watch hears of the new events once they are durable
	 * (a notification is delivered at commit), in the same round trip */
	if (notify)
		pgp_int(&p, s->tx_seq);
	if (s->piping) {
		if (audit_flush(s) != JG_OK ||
		    (notify && defer(s, S_NOTIFY, &p, PEND_DISCARD) != JG_OK)) {
			if (s->piping)
				pipe_drop(s);
			return s->optimistic && s->conflict ? JG_ERR_CONFLICT : JG_ERR_STORE;
		}
		rc = pipe_commit(s);
		if (s->optimistic && (rc != JG_OK || s->conflict)) {
			bool moved = s->conflict;

			store_pg_go_cold(s);
			s->cool_down = COOL_DOWN;
			/* only a head another node moved is a conflict worth
			 * running the batch again for; a timeout or any other
			 * refusal would only wait as long again */
			if (moved)
				return JG_ERR_CONFLICT;
			return rc != JG_OK ? rc : JG_ERR_STORE;
		}
		if (rc != JG_OK)
			return rc;
		if (s->cool_down > 0)
			s->cool_down--;
		commit_done(s);
		return JG_OK;
	}
	store_pg_go_cold(s);
	if ((rc = audit_flush(s)) != JG_OK)
		return rc;
	if (notify && (rc = defer(s, S_NOTIFY, &p, PEND_DISCARD)) != JG_OK)
		return rc;
	rc = store_pg_run(s, &s->w, "COMMIT", NULL, &r);
	if (rc == JG_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0)
		rc = JG_ERR_STORE;
	PQclear(r);
	return rc;
}

void store_pg_rollback(struct store *base)
{
	struct pgs *s = (struct pgs *)base;

	store_pg_go_cold(s);
	audit_reset(s);
	if (s->piping) {
		pipe_drop(s); /* the server rolls back with the connection */
		return;
	}
	if (s->w && PQtransactionStatus(s->w) != PQTRANS_IDLE &&
	    store_pg_run(s, &s->w, "ROLLBACK", NULL, NULL) != JG_OK && s->w) {
		PQfinish(s->w);
		s->w = NULL;
	}
}

/* ---- the first round trip ---- */

static int send_head(struct pgs *s)
{
	if (s->head_sent)
		return JG_OK;
	s->head_sent = true;
	return send_stmt(s, S_HEAD, NULL, PEND_HEAD);
}

/* ids as a PostgreSQL array literal. */
static char *id_array(const int64_t *ids, size_t n)
{
	char *buf = malloc(n * 21 + 3), *p = buf;

	if (buf == NULL)
		return NULL;
	*p++ = '{';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, i ? ",%lld" : "%lld", (long long)ids[i]);
	*p++ = '}';
	*p = '\0';
	return buf;
}

int store_pg_tx_prefetch(struct store *base, const int64_t *ids, size_t n, size_t ncreates)
{
	struct pgs *s = (struct pgs *)base;
	struct pgp p = {0};
	char *arr = NULL;
	int rc;

	if (!s->piping)
		return JG_OK; /* only a hint */
	/* everything the batch reads is known, and ids are at hand: no round
	 * trip before the commit (verified then) */
	if (s->hot && s->cool_down == 0 && ncreates <= store_pg_ids_left(s)) {
		size_t i = 0;

		while (i < n && store_pg_cache_find(s, ids[i]) != NULL)
			i++;
		if (i == n) {
			/* the lock, on condition that the head is still the
			 * one this writer left (else: conflict, and the appends
			 * are refused by the audit trigger) */
			pgp_int(&p, s->hot_seq);
			pgp_text(&p, s->hot_hash);
			s->optimistic = true;
			rc = send_stmt(s, S_VERIFY, &p, PEND_VERIFY);
			/* ids for the batches after this one come back with its
			 * commit: a busy writer never stops for them */
			if (rc == JG_OK && store_pg_ids_left(s) < ncreates + store_pg_id_block(ncreates)) {
				memset(&p, 0, sizeof(p));
				pgp_int(&p, (int64_t)store_pg_id_block(ncreates));
				rc = send_stmt(s, S_IDS, &p, PEND_IDS);
			}
			if (rc != JG_OK) {
				pipe_drop(s);
				return JG_ERR_STORE;
			}
			return JG_OK;
		}
	}
	/* the lock first: what is read after it is what the last holder
	 * committed */
	rc = send_head(s);
	if (rc == JG_OK && n > 0) {
		arr = id_array(ids, n);
		pgp_text(&p, arr);
		rc = arr ? send_stmt(s, S_PREFETCH, &p, PEND_PREFETCH) : JG_ERR_NOMEM;
		free(arr);
	}
	if (rc == JG_OK && ncreates > store_pg_ids_left(s)) {
		memset(&p, 0, sizeof(p));
		pgp_int(&p, (int64_t)(ncreates - store_pg_ids_left(s) + store_pg_id_block(ncreates)));
		rc = send_stmt(s, S_IDS, &p, PEND_IDS);
	}
	if (rc != JG_OK) {
		pipe_drop(s);
		return rc == JG_ERR_NOMEM ? rc : JG_ERR_STORE;
	}
	return JG_OK;
}

/* In a transaction this locks the head row until commit: appenders on
 * every node take their turn here, so the chain stays one line.  In the
 * pipeline the lock goes out with the prefetch and costs no round trip of
 * its own. */
int store_pg_tx_audit_head(struct store *base, int64_t *seq, char hash[65])
{
	struct pgs *s = (struct pgs *)base;
	PGresult *res = NULL;
	int rc = JG_OK;

	*seq = 0;
	memset(hash, '0', 64);
	hash[64] = '\0';
	if (!s->piping) {
		if (store_pg_reconnect(s, &s->w) != JG_OK)
			return JG_ERR_STORE;
		rc = store_pg_run(s, &s->w, stmts[S_HEAD].sql, NULL, &res);
		if (rc == JG_OK)
			rc = take_result(s, PEND_HEAD, res);
		PQclear(res);
	} else if (s->optimistic) {
		*seq = s->hot_seq;
		memcpy(hash, s->hot_hash, 65);
		return JG_OK;
	} else {
		if (send_head(s) != JG_OK || (!s->head_read && pipe_roundtrip(s) != JG_OK)) {
			pipe_drop(s);
			return JG_ERR_STORE;
		}
		if (!s->head_read)
			rc = JG_ERR_STORE;
	}
	if (rc != JG_OK)
		return rc;
	*seq = s->head_seq;
	memcpy(hash, s->head_hash, 65);
	return JG_OK;
}

/* ---- requests ---- */

static int add_request_params(struct pgp *p, const struct request *r, char **appr)
{
	*appr = store_approvals_json(r);
	if (*appr == NULL)
		return JG_ERR_NOMEM;
	pgp_text(p, req_state_name(r->state));
	pgp_text(p, r->requester);
	pgp_text(p, r->resource);
	pgp_text(p, r->role);
	pgp_int(p, r->duration_s);
	pgp_text(p, r->reason);
	pgp_text(p, r->ticket);
	pgp_text(p, r->policy);
	pgp_int(p, r->approvals_required);
	pgp_text(p, *appr);
	pgp_int(p, r->created_at);
	pgp_time(p, r->pending_until);
	pgp_time(p, r->activated_at);
	pgp_time(p, r->expires_at);
	pgp_time(p, r->ended_at);
	pgp_text(p, r->ended_by);
	pgp_bool(p, r->break_glass);
	pgp_bool(p, r->review_required);
	pgp_text(p, r->reviewed_by);
	pgp_time(p, r->extends);
	pgp_text(p, r->end_comment);
	return JG_OK;
}

/* $23..$25, after the id ($22): the notices sent (core/notices.h). */
static void add_notice_params(struct pgp *p, const struct request *r)
{
	pgp_int(p, r->reminders);
	pgp_bool(p, r->escalated);
	pgp_bool(p, r->expiry_warned);
}

/* The next id of the pool (a round trip for a new block when it is
 * empty: only when the batch's prefetch did not say how many). */
static int next_id(struct pgs *s, int64_t *id)
{
	struct pgp p = {0};
	PGresult *res;
	int rc;

	if (store_pg_ids_left(s) == 0) {
		pgp_int(&p, STORE_PG_ID_BLOCK);
		rc = ask(s, NULL, S_IDS, &p, &res);
		if (rc == JG_OK)
			rc = store_pg_ids_fill(s, res);
		PQclear(res);
		if (rc != JG_OK)
			return rc;
		if (store_pg_ids_left(s) == 0)
			return JG_ERR_STORE;
	}
	*id = s->ids[s->ids_next++];
	return JG_OK;
}

int store_pg_tx_request_insert(struct store *base, struct request *r)
{
	struct pgs *s = (struct pgs *)base;
	struct pgp p = {0};
	char *appr;
	bool copied = r->id != 0;
	int64_t id = r->id;
	int rc = add_request_params(&p, r, &appr);

	if (rc == JG_OK && !copied)
		rc = next_id(s, &id);
	if (rc == JG_OK) {
		pgp_int(&p, id);
		add_notice_params(&p, r);
		rc = defer(s, S_INSERT, &p, PEND_DISCARD);
	}
	if (rc == JG_OK) {
		r->id = id;
		rc = store_pg_cache_put(s, r);
	}
	/* a copied id: the sequence goes on after the largest, and ids
	 * drawn before may be taken */
	if (rc == JG_OK && copied) {
		PGresult *res;

		s->ids_next = s->nids = 0;
		rc = ask(s, "SELECT setval('requests_id_seq', (SELECT max(id) FROM requests))",
			 0, NULL, &res);
		PQclear(res);
	}
	free(appr);
	return rc;
}

int store_pg_tx_request_update(struct store *base, const struct request *r)
{
	struct pgs *s = (struct pgs *)base;
	struct pgp p = {0};
	char *appr;
	int rc = add_request_params(&p, r, &appr);

	if (rc == JG_OK) {
		pgp_int(&p, r->id);
		add_notice_params(&p, r);
		rc = defer(s, S_UPDATE, &p, PEND_ONE_ROW);
	}
	free(appr);
	/* later reads in this transaction (and batch) see the update */
	if (rc == JG_OK)
		rc = store_pg_cache_put(s, r);
	return rc;
}

int store_pg_tx_request_get(struct store *base, int64_t id, struct request *out)
{
	struct pgs *s = (struct pgs *)base;
	struct request *hit = store_pg_cache_find(s, id);
	struct pgp p = {0};
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	if (hit)
		return request_copy(out, hit);
	pgp_int(&p, id);
	rc = ask(s, NULL, S_GET, &p, &res);
	if (rc == JG_OK)
		rc = PQntuples(res) == 1 ? store_pg_row_request(res, 0, out) : JG_ERR_NOTFOUND;
	PQclear(res);
	if (rc == JG_OK && s->piping)
		rc = store_pg_cache_put(s, out);
	return rc;
}

int store_pg_tx_requests_live(struct store *base, store_request_cb cb, void *ctx)
{
	struct pgs *s = (struct pgs *)base;
	PGresult *res;
	int64_t last = 0;
	int rc = ask(s, "SELECT " STORE_REQ_COLS " FROM requests WHERE"
		     " state IN ('pending','active') ORDER BY id", 0, NULL, &res);

	if (rc == JG_OK)
		rc = store_pg_each_request(res, cb, ctx, &last);
	PQclear(res);
	return rc;
}


/* With *upto_seq 0 the head and the rows come in one statement (one
 * round trip per catch-up): the head as the last column of every row,
 * and one row of NULLs with it when nothing changed. */
int store_pg_tx_changed_requests(struct store *base, int64_t after_seq,
				 int64_t *upto_seq, store_request_cb cb, void *ctx)
{
	struct pgs *s = (struct pgs *)base;
	struct pgp p = {0};
	PGresult *res;
	int rc;

	pgp_int(&p, after_seq);
	if (*upto_seq == 0) {
		/* a plain read of the head: no lock, so a catch-up never
		 * waits for another node's batch */
		if (!s->piping && store_pg_reconnect(s, &s->w) != JG_OK)
			return JG_ERR_STORE;
		rc = ask(s, NULL, S_CATCHUP, &p, &res);
		if (rc == JG_OK && PQntuples(res) < 1)
			rc = JG_ERR_STORE;
		for (int i = 0; rc == JG_OK && i < PQntuples(res); i++) {
			struct request r;

			*upto_seq = pgconn_int(res, i, STORE_REQ_NCOLS);
			if (PQgetisnull(res, i, 0))
				continue;
			rc = store_pg_row_request(res, i, &r);
			if (rc == JG_OK)
				rc = cb(ctx, &r);
			request_clear(&r);
		}
		PQclear(res);
		/* outside a batch: what this writer knew stays current only
		 * if the head is still the one its last commit left (its own
		 * notification, a beat seeing its own writes) */
		if (!s->piping && (rc != JG_OK || *upto_seq != s->hot_seq))
			store_pg_go_cold(s);
		return rc;
	}
	if (!s->piping)
		store_pg_go_cold(s);
	pgp_int(&p, *upto_seq);
	rc = ask(s, NULL, S_CHANGED, &p, &res);
	if (rc == JG_OK) {
		int64_t last = 0;

		rc = store_pg_each_request(res, cb, ctx, &last);
	}
	PQclear(res);
	return rc;
}

/* ---- audit, outbox, kv ---- */

/* The row joins those held back; they go out together (audit_flush).
 * Outside the pipeline, at once. */
int store_pg_tx_audit_append(struct store *base, const struct audit_row *row)
{
	struct pgs *s = (struct pgs *)base;
	struct pgarray *c = s->audit_cols;
	int rc = pgarray_add_int(&c[0], row->seq, false);

	if (rc == JG_OK)
		rc = pgarray_add_text(&c[1], row->time);
	if (rc == JG_OK)
		rc = pgarray_add_text(&c[2], row->action);
	if (rc == JG_OK)
		rc = pgarray_add_text(&c[3], row->actor);
	if (rc == JG_OK)
		rc = pgarray_add_int(&c[4], row->request_id, true);
	if (rc == JG_OK)
		rc = pgarray_add_text(&c[5], row->subject);
	if (rc == JG_OK)
		rc = pgarray_add_text(&c[6], row->resource);
	if (rc == JG_OK)
		rc = pgarray_add_text(&c[7], row->role);
	if (rc == JG_OK)
		rc = pgarray_add_text(&c[8], row->event);
	if (rc == JG_OK)
		rc = pgarray_add_text(&c[9], row->hash);
	if (rc != JG_OK) {
		/* half a row: the transaction cannot commit any more */
		if (s->piping)
			pipe_drop(s);
		else
			audit_reset(s);
		return rc;
	}
	s->audit_rows++;
	s->tx_seq = row->seq;
	snprintf(s->tx_hash, sizeof(s->tx_hash), "%s", row->hash);
	if (!s->piping || s->audit_rows >= AUDIT_ROWS_MAX || c[8].len >= AUDIT_BYTES_MAX)
		return audit_flush(s);
	return JG_OK;
}

int store_pg_tx_outbox_add(struct store *base, int64_t seq, const char *target,
			   const char *payload)
{
	struct pgp p = {0};

	pgp_int(&p, seq);
	pgp_text(&p, target);
	pgp_text(&p, payload);
	return defer((struct pgs *)base, S_OUTBOX, &p, PEND_DISCARD);
}

int store_pg_tx_kv_put(struct store *base, const char *key, const char *value)
{
	struct pgp p = {0};

	pgp_text(&p, key);
	pgp_text(&p, value);
	return defer((struct pgs *)base, S_KV, &p, PEND_DISCARD);
}

int store_pg_tx_slackmsg_put(struct store *base, int64_t request_id, const char *channel,
			     const char *channel_id, const char *ts)
{
	struct pgp p = {0};

	pgp_int(&p, request_id);
	pgp_text(&p, channel);
	pgp_text(&p, channel_id);
	pgp_text(&p, ts);
	return defer((struct pgs *)base, S_SLACKMSG, &p, PEND_DISCARD);
}

void store_pg_tx_free(struct pgs *s)
{
	for (int i = 0; i < STORE_PG_AUDIT_COLS; i++)
		pgarray_free(&s->audit_cols[i]);
	store_pg_cache_clear(s);
	free(s->cache);
	free(s->pend);
	free(s->ids);
}
