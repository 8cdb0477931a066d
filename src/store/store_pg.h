/* Internals of the PostgreSQL backend shared by its files. */
#ifndef JG_STORE_STORE_PG_H
#define JG_STORE_STORE_PG_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#include "store/pgarray.h"
#include "store/store_int.h"
#include "util/err.h"

/* The NOTIFY channel: its payload is the seq of the last event committed. */
#define STORE_PG_CHANNEL "jitgate"

struct pg_watch; /* store_pg_watch.c */

/* The columns of an audit row, as the writer sends them. */
#define STORE_PG_AUDIT_COLS 10

/* The writer's prepared statements (store_pg_tx.c). */
#define STORE_PG_NSTMT 14

/* One statement sent in the writer's pipeline whose result is not read
 * yet, and what to do with it (store_pg_tx.c). */
enum pg_pend {
	PEND_DISCARD, /* success is all */
	PEND_ONE_ROW, /* must change exactly one row */
	PEND_HEAD,    /* the audit head: seq, hash */
	PEND_PREFETCH,/* requests read ahead for the transaction */
	PEND_IDS,     /* a block of request ids */
	PEND_VERIFY,  /* the head is what this batch expects (else: conflict) */
};

struct pgs {
	struct store base; /* first: the ops table */
	char *url;
	char *password;
	int timeout_ms;
	PGconn *readers[STORE_READERS];
	struct store_pool pool;
	/* readers run on HTTP threads: every wait of theirs (a free slot,
	 * connect, statement) is bounded by read_ms, and while the database
	 * does not answer the watch they fail at once on `none` (always
	 * NULL) instead of waiting */
	int read_ms;
	PGconn *none;
	/* NULL until store_watch_start; then kept until the store closes
	 * (read by the engine and HTTP threads while it stops) */
	_Atomic(struct pg_watch *) watch;

	/* the writer (engine thread), store_pg_tx.c */
	PGconn *w;
	bool no_notify; /* the server has no pg_notify (other nodes poll) */
	int64_t tx_seq; /* last audit seq appended in the open transaction */
	/* the writer's transaction runs in pipeline mode: statements whose
	 * result is only success go out without a round trip each and are
	 * checked at the next statement that needs an answer, or at COMMIT */
	bool piping;
	enum pg_pend *pend; /* per statement sent, result not read yet */
	size_t pending, pend_cap;
	bool prepared[STORE_PG_NSTMT]; /* on the current writer connection */
	/* the audit head, read (and locked) in the transaction's first
	 * round trip */
	bool head_sent, head_read;
	int64_t head_seq;
	char head_hash[65];
	/* hot: the head after this writer's last commit, and the requests
	 * it read or wrote since, are known to be current unless another
	 * node wrote since.  A batch whose reads are all in the cache then
	 * skips the first round trip (optimistic): it appends after the
	 * cached head (the audit trigger refuses that if the head moved) and
	 * verifies the head before COMMIT; if either fails, the commit
	 * answers JG_ERR_CONFLICT and the engine runs the batch again,
	 * with the head locked and read (the store is cold then). */
	bool hot, optimistic, conflict;
	/* after a conflict, this many commits go the locked way first:
	 * another node is writing, and a refused batch costs more than the
	 * round trip it would save */
	int cool_down;
	int64_t hot_seq;
	char hot_hash[65];
	char tx_hash[65]; /* hash of the last audit row appended */
	/* requests read ahead for this transaction, sorted by id, kept up
	 * to date by its own updates */
	struct request *cache;
	size_t ncache, cache_cap;
	/* the transaction's audit rows not sent yet, one array per column:
	 * they go out as one INSERT (the chain trigger checks a statement's
	 * rows at once) before anything that needs an answer, and before
	 * COMMIT */
	struct pgarray audit_cols[STORE_PG_AUDIT_COLS];
	size_t audit_rows;
	/* request ids drawn from the sequence, not used yet */
	int64_t *ids;
	size_t ids_next, nids, ids_cap;
};

/* Text parameters for one statement. */
#define PGP_MAX 32
struct pgp {
	const char *v[PGP_MAX];
	char num[PGP_MAX][24];
	int n;
};

static inline void pgp_text(struct pgp *p, const char *s)
{
	p->v[p->n++] = s;
}

static inline void pgp_int(struct pgp *p, int64_t x)
{
	snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)x);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

/* 0 is "not set" for the time columns, stored as NULL. */
static inline void pgp_time(struct pgp *p, int64_t x)
{
	if (x)
		pgp_int(p, x);
	else
		pgp_text(p, NULL);
}

static inline void pgp_bool(struct pgp *p, bool b)
{
	pgp_text(p, b ? "t" : "f");
}

/* Opens *c when it is closed (logs why it could not). */
int store_pg_reconnect(struct pgs *s, PGconn **c) JG_WUR;
/* Runs one statement on *c outside any pipeline; closes the connection
 * when it broke (JG_ERR_STORE either way). */
int store_pg_run(struct pgs *s, PGconn **c, const char *sql, const struct pgp *p,
		 PGresult **out) JG_WUR;
/* The same for a statement prepared once per connection as name
 * (*prepared: it is; the caller clears it with the connection). */
int store_pg_run_named(struct pgs *s, PGconn **c, const char *name, const char *sql,
		       bool *prepared, const struct pgp *p, PGresult **out) JG_WUR;
/* Row i of a STORE_REQ_COLS result. */
int store_pg_row_request(const PGresult *res, int i, struct request *r) JG_WUR;
/* Calls cb for every row of res; returns the callback's non-zero answer. */
int store_pg_each_request(const PGresult *res, store_request_cb cb, void *ctx,
			  int64_t *last_id) JG_WUR;

/* The writer's operations (store_pg_tx.c), for the ops table. */
int store_pg_begin(struct store *s);
int store_pg_commit(struct store *s);
void store_pg_rollback(struct store *s);
int store_pg_tx_request_insert(struct store *s, struct request *r);
int store_pg_tx_request_update(struct store *s, const struct request *r);
int store_pg_tx_request_get(struct store *s, int64_t id, struct request *out);
int store_pg_tx_audit_append(struct store *s, const struct audit_row *row);
int store_pg_tx_outbox_add(struct store *s, int64_t seq, const char *target,
			   const char *payload);
int store_pg_tx_kv_put(struct store *s, const char *key, const char *value);
int store_pg_tx_slackmsg_put(struct store *s, int64_t request_id, const char *channel,
			     const char *channel_id, const char *ts);
int store_pg_tx_audit_head(struct store *s, int64_t *seq, char hash[65]);
int store_pg_tx_prefetch(struct store *s, const int64_t *ids, size_t n, size_t ncreates);
int store_pg_tx_requests_live(struct store *s, store_request_cb cb, void *ctx);
int store_pg_tx_changed_requests(struct store *s, int64_t after_seq, int64_t *upto_seq,
				 store_request_cb cb, void *ctx);
/* Frees the writer's state (not the connection). */
void store_pg_tx_free(struct pgs *s);

/* store_pg_cache.c: what the writer knows between batches */
void store_pg_cache_clear(struct pgs *s);
/* the known request id, or NULL */
struct request *store_pg_cache_find(struct pgs *s, int64_t id);
/* Forgets what was known: the next batch locks and reads the head. */
void store_pg_go_cold(struct pgs *s);
/* Keeps a copy of r as this transaction sees it (0, or JG_ERR_NOMEM). */
int store_pg_cache_put(struct pgs *s, const struct request *r) JG_WUR;
/* Adds a prefetch's rows to what is known. */
int store_pg_cache_fill(struct pgs *s, const PGresult *r) JG_WUR;
/* Appends the ids of r (one column) to the pool. */
int store_pg_ids_fill(struct pgs *s, const PGresult *r) JG_WUR;
size_t store_pg_ids_left(const struct pgs *s);
/* How many ids to draw ahead of a batch creating ncreates. */
size_t store_pg_id_block(size_t ncreates);
/* The smallest block drawn (store_pg_id_block's floor). */
#define STORE_PG_ID_BLOCK 64

int store_pg_watch_start(struct store *s, const char *node_id, int64_t stale_after_ms,
			 const struct store_watch_hooks *h) JG_WUR;
void store_pg_watch_stop(struct store *s);
/* Stops (if need be) and frees the watch: store close only. */
void store_pg_watch_free(struct pgs *s);
/* Thread-safe views of the watch: the database answered within
 * stale_after, and this node holds the lease. */
bool store_pg_watch_reachable(const struct pg_watch *w);
bool store_pg_watch_lease(const struct pg_watch *w);
/* The database answered the watch within its last two beats (false once
 * it is silent for longer, well before it counts as cut off). */
bool store_pg_watch_answering(const struct pg_watch *w);

/* Brings the schema on c to the version this jitgate knows, one
 * transaction per version, recorded in table schema_version.  Several
 * nodes starting at once take turns (the version row is the lock).  A
 * schema newer than this jitgate is refused. */
int store_pg_migrate(PGconn *c, int timeout_ms, char *err, size_t errlen) JG_WUR;

#endif
