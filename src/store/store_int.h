/* What a store backend provides: one table of operations, chosen by the
 * URL scheme in store_open (the way PgBouncer's SBufIO picks plain or TLS
 * I/O).  Each backend embeds struct store as the first member of its own
 * state and returns it from open; store.c only dispatches.
 *
 * The contract of every operation is the one documented for the public
 * function of the same name in store.h. */
#ifndef JG_STORE_STORE_INT_H
#define JG_STORE_STORE_INT_H

#include <pthread.h>

#include "store/store.h"

struct store_ops {
	const char *name; /* "sqlite", "postgresql" */
	/* url is the whole storage URL; opts may be NULL */
	int (*open)(const char *url, const struct store_options *opts,
		    struct store **out, char *err, size_t errlen);
	void (*close)(struct store *s);

	int (*begin)(struct store *s);
	int (*commit)(struct store *s);
	void (*rollback)(struct store *s);
	int (*tx_request_insert)(struct store *s, struct request *r);
	int (*tx_request_update)(struct store *s, const struct request *r);
	int (*tx_request_get)(struct store *s, int64_t id, struct request *out);
	int (*tx_audit_append)(struct store *s, const struct audit_row *row);
	int (*tx_outbox_add)(struct store *s, int64_t seq, const char *target,
			     const char *payload);
	int (*tx_kv_put)(struct store *s, const char *key, const char *value);
	int (*tx_audit_head)(struct store *s, int64_t *seq, char hash[65]);
	/* NULL: the hint is ignored */
	int (*tx_prefetch)(struct store *s, const int64_t *ids, size_t n, size_t ncreates);
	int (*tx_requests_live)(struct store *s, store_request_cb cb, void *ctx);
	int (*tx_changed_requests)(struct store *s, int64_t after_seq,
				   int64_t *upto_seq, store_request_cb cb, void *ctx);

	int (*request_get)(struct store *s, int64_t id, struct request *out);
	int (*requests_scan)(struct store *s, const struct request_filter *f,
			     store_request_cb cb, void *ctx);
	int (*audit_scan)(struct store *s, const struct audit_filter *f,
			  store_audit_cb cb, void *ctx);
	int (*kv_get)(struct store *s, const char *key, char **value);
	int (*outbox_due)(struct store *s, int64_t now_ms, int limit,
			  store_outbox_cb cb, void *ctx);
	int (*outbox_done)(struct store *s, int64_t id);
	int (*outbox_retry)(struct store *s, int64_t id, int64_t next_at_ms,
			    const char *last_error);
	int (*outbox_wait)(struct store *s, int64_t id, int64_t next_at_ms,
			   const char *why);
	int (*slackmsg_get)(struct store *s, int64_t request_id, const char *channel,
			    struct store_slackmsg *out);
	int (*slackmsg_claim)(struct store *s, int64_t request_id, const char *channel,
			      int64_t post_row);
	int (*slackmsg_posted)(struct store *s, int64_t request_id, const char *channel,
			       int64_t post_row, const char *channel_id, const char *ts);
	int (*slackmsg_scan)(struct store *s, store_slackmsg_cb cb, void *ctx);
	int (*tx_slackmsg_put)(struct store *s, int64_t request_id, const char *channel,
			       const char *channel_id, const char *ts);
	int (*count_by_state)(struct store *s, int64_t *counts, size_t n);
	bool (*ping)(struct store *s);
	/* NULL for a backend that only one process uses */
	int (*watch_start)(struct store *s, const char *node_id,
			   int64_t stale_after_ms, const struct store_watch_hooks *h);
	void (*watch_stop)(struct store *s);
};

struct store {
	const struct store_ops *ops;
};

/* The reader connections of a backend: a fixed number of slots handed to
 * one thread at a time. */
#define STORE_READERS 4

struct store_pool {
	bool busy[STORE_READERS];
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

void store_pool_init(struct store_pool *p);
void store_pool_destroy(struct store_pool *p);
/* The index of a free slot, now marked busy: waits while all are busy,
 * at most timeout_ms (0: no bound); -1 when none came free in time. */
int store_pool_acquire(struct store_pool *p, int timeout_ms);
void store_pool_release(struct store_pool *p, int slot);

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/* The columns of the requests table, in the order every backend selects
 * them. */
#define STORE_REQ_COLS \
	"id, state, requester, resource, role, duration_s, reason, ticket," \
	" policy, approvals_required, approvals, created_at, pending_until," \
	" activated_at, expires_at, ended_at, ended_by, break_glass," \
	" review_required, reviewed_by, extends, end_comment, reminders," \
	" escalated, expiry_warned"
#define STORE_REQ_NCOLS 25

/* Decodes one row of STORE_REQ_COLS given as text cells (NULL for SQL
 * NULL) into r (owned strings).  JG_ERR_STORE for a row that makes no
 * sense (unknown state, missing required text). */
int store_request_from_cells(const char *const c[STORE_REQ_NCOLS],
			     struct request *r) JG_WUR;

/* Shared by the backends: the approvals column is a JSON array of
 * {by, at, comment}. */
char *store_approvals_json(const struct request *r);
int store_approvals_parse(const char *text, struct request *r) JG_WUR;

#endif
