/* Durable state: requests, the audit log, the notification outbox and a
 * small key/value table.  One interface, backends chosen by the URL scheme
 * through an operations table (store_int.h): "sqlite:PATH" and
 * "postgresql://..." (or "postgres://...").
 *
 * Writer operations (store_tx_*) run on one thread at a time, the engine's,
 * between store_begin and store_commit/store_rollback: they see their own
 * uncommitted writes.  A write that fails may be reported by the call
 * itself or only by a later writer call or store_commit (PostgreSQL sends
 * writes without waiting for each); either way the transaction fails as a
 * whole and the caller rolls it back.  Reader operations may run on any thread and see
 * committed state only. */
#ifndef JG_STORE_STORE_H
#define JG_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/request.h"
#include "util/err.h"

struct store;

struct audit_row {
	int64_t seq;
	const char *time;   /* RFC 3339 */
	const char *action;
	const char *actor;
	int64_t request_id; /* 0 when none */
	const char *subject;  /* NULL when none */
	const char *resource;
	const char *role;
	const char *event;  /* the full event, canonical JSON with hash */
	const char *hash;
};

struct request_filter {
	int64_t before_id;   /* only ids below this; 0 = no bound */
	int state;           /* enum req_state, or -1 for any */
	const char *requester; /* NULL = any */
};

struct audit_filter {
	int64_t after_seq;
	const char *subject, *resource, *action; /* NULL = any */
};

/* Called once per row; a non-zero return stops the scan and is returned. */
typedef int (*store_request_cb)(void *ctx, const struct request *r);
typedef int (*store_audit_cb)(void *ctx, int64_t seq, const char *event);

struct store_options {
	/* PostgreSQL password when the URL carries none (from the variable
	 * named by storage_password_env); NULL lets libpq use PGPASSWORD or
	 * PGPASSFILE.  Borrowed for the call; never logged. */
	const char *password;
	/* PostgreSQL: the longest any one database call may wait (connect,
	 * statement, commit) before the connection is dropped; 0 = 10 s. */
	int timeout_ms;
};

/* Opens (creating and migrating as needed) the store at url; opts may be
 * NULL.  err never contains a password (see store_url_redact). */
int store_open(const char *url, const struct store_options *opts,
	       struct store **out, char *err, size_t errlen) JG_WUR;
void store_close(struct store *s);
/* The backend's name: "sqlite" or "postgresql". */
const char *store_backend(const struct store *s);
/* True when url names a backend this build has (sqlite:, postgresql://,
 * postgres://). */
bool store_url_supported(const char *url);
/* Copies url into buf with any password replaced by "***" (userinfo
 * "user:secret@" and a "password=" parameter), for logs and errors.
 * Truncates to len - 1 bytes. */
void store_url_redact(const char *url, char *buf, size_t len);

int store_begin(struct store *s) JG_WUR;
int store_commit(struct store *s) JG_WUR;
void store_rollback(struct store *s);
/* Inserts r; with r->id 0 the store assigns the id and sets r->id, else
 * r keeps its id (store copy). */
int store_tx_request_insert(struct store *s, struct request *r) JG_WUR;
int store_tx_request_update(struct store *s, const struct request *r) JG_WUR;
int store_tx_request_get(struct store *s, int64_t id, struct request *out) JG_WUR;
int store_tx_audit_append(struct store *s, const struct audit_row *row) JG_WUR;
int store_tx_outbox_add(struct store *s, int64_t seq, const char *target,
			const char *payload) JG_WUR;
int store_tx_kv_put(struct store *s, const char *key, const char *value) JG_WUR;
/* A hint, right after store_begin: the batch will read the requests
 * ids[0..n) (store_tx_request_get) and insert ncreates new ones.  A backend
 * that pays a round trip per statement (PostgreSQL) fetches them all, and
 * draws that many ids, together with the audit head; later reads of those
 * ids within the transaction see this transaction's own updates.  Never
 * required for correctness; SQLite ignores it. */
int store_tx_prefetch(struct store *s, const int64_t *ids, size_t n,
		      size_t ncreates) JG_WUR;
/* The last audit event's seq and hash (seq 0 and 64 '0's when empty). */
int store_tx_audit_head(struct store *s, int64_t *seq, char hash[65]) JG_WUR;
/* Every pending and active request, for rebuilding memory at start. */
int store_tx_requests_live(struct store *s, store_request_cb cb, void *ctx) JG_WUR;
/* Every request named by an audit event with after_seq < seq <= *upto_seq,
 * in its current state, by id: how a node learns what other nodes changed.
 * *upto_seq 0 means the current head, and is set to it.  Writer connection
 * (engine thread), inside or outside a transaction. */
int store_tx_changed_requests(struct store *s, int64_t after_seq, int64_t *upto_seq,
			      store_request_cb cb, void *ctx) JG_WUR;

/* Readers. */
int store_request_get(struct store *s, int64_t id, struct request *out) JG_WUR;
/* Newest first. */
int store_requests_scan(struct store *s, const struct request_filter *f,
			store_request_cb cb, void *ctx) JG_WUR;
/* Oldest first from f->after_seq. */
int store_audit_scan(struct store *s, const struct audit_filter *f,
		     store_audit_cb cb, void *ctx) JG_WUR;
int store_kv_get(struct store *s, const char *key, char **value) JG_WUR;
/* Outbox: the oldest undelivered rows, and marking a row done or retried. */
struct outbox_row {
	int64_t id;
	const char *target;
	const char *payload;
	int attempts;
	int64_t next_at_ms;
};
typedef int (*store_outbox_cb)(void *ctx, const struct outbox_row *row);
int store_outbox_due(struct store *s, int64_t now_ms, int limit,
		     store_outbox_cb cb, void *ctx) JG_WUR;
int store_outbox_done(struct store *s, int64_t id) JG_WUR;
int store_outbox_retry(struct store *s, int64_t id, int64_t next_at_ms,
		       const char *last_error) JG_WUR;
/* Reschedules a row that waits for something else (not a failed attempt:
 * attempts is unchanged). */
int store_outbox_wait(struct store *s, int64_t id, int64_t next_at_ms,
		      const char *why) JG_WUR;

/* The Slack channel message of a request (design section 13): claimed by
 * the outbox row that posts it, then its channel id and ts as Slack
 * answered chat.postMessage, which later rows update in place.  Written by
 * the notifier outside the engine's transactions. */
#define STORE_SLACK_ID_MAX 64
struct store_slackmsg {
	int64_t post_row;                       /* the outbox row that posts it */
	int64_t post_next_at_ms;                /* that row's next attempt */
	bool post_done;                         /* that row is done (or gone) */
	bool posted;                            /* channel_id and ts are set */
	char channel_id[STORE_SLACK_ID_MAX + 1];
	char ts[STORE_SLACK_ID_MAX + 1];
};
/* JG_ERR_NOTFOUND when the request has no message in channel. */
int store_slackmsg_get(struct store *s, int64_t request_id, const char *channel,
		       struct store_slackmsg *out) JG_WUR;
/* Claims the message for outbox row post_row unless one is claimed
 * already (then nothing changes; read it back with store_slackmsg_get). */
int store_slackmsg_claim(struct store *s, int64_t request_id, const char *channel,
			 int64_t post_row) JG_WUR;
/* Records the posted message's channel id and ts and marks the outbox row
 * post_row done, in one transaction. */
int store_slackmsg_posted(struct store *s, int64_t request_id, const char *channel,
			  int64_t post_row, const char *channel_id, const char *ts) JG_WUR;
/* Every posted message, for `jitgate store copy` (order unspecified). */
typedef int (*store_slackmsg_cb)(void *ctx, int64_t request_id, const char *channel,
				 const char *channel_id, const char *ts);
int store_slackmsg_scan(struct store *s, store_slackmsg_cb cb, void *ctx) JG_WUR;
/* Inside a transaction: a posted message as copied from another store
 * (no outbox row of its own: post_row 0). */
int store_tx_slackmsg_put(struct store *s, int64_t request_id, const char *channel,
			  const char *channel_id, const char *ts) JG_WUR;
/* Counts requests by state into counts[state] (n entries). */
int store_count_by_state(struct store *s, int64_t *counts, size_t n) JG_WUR;
/* True when the store answers (readiness).  On PostgreSQL with a watch
 * running this is the watch's last contact and never waits. */
bool store_ping(struct store *s);

/* Several nodes on one store (design section 12).  A watch is a thread of
 * the backend with its own connection: it reports transitions committed
 * by any node, holds or seeks the lease that decides which node fires
 * deadlines and delivers the outbox, and notices when the database is out
 * of reach.  Hooks run on the watch thread and must not block. */
struct store_watch_hooks {
	void *ctx;
	/* Events up to seq are committed (seq 0: unknown, after a reconnect
	 * that may have missed some: catch up to the head). */
	void (*changed)(void *ctx, int64_t seq);
	/* This node now holds (or lost) the lease. */
	void (*lease)(void *ctx, bool held);
	/* The database has not answered for stale_after (ok false), or
	 * answers again (ok true). */
	void (*reachable)(void *ctx, bool ok);
};

/* True when other processes may write the same store (PostgreSQL): the
 * caller then starts a watch.  False for SQLite (one daemon per file). */
bool store_shared(const struct store *s);
int store_watch_start(struct store *s, const char *node_id, int64_t stale_after_ms,
		      const struct store_watch_hooks *hooks) JG_WUR;
void store_watch_stop(struct store *s);

#endif
