/* Internals of the PostgreSQL backend shared by its files. */
#ifndef JG_STORE_STORE_PG_H
#define JG_STORE_STORE_PG_H

#include <libpq-fe.h>
#include <stddef.h>

#include "store/store_int.h"
#include "util/err.h"

/* The NOTIFY channel: its payload is the seq of the last event committed. */
#define STORE_PG_CHANNEL "jitgate"

struct pg_watch; /* store_pg_watch.c */

struct pgs {
	struct store base; /* first: the ops table */
	char *url;
	char *password;
	int timeout_ms;
	PGconn *w;      /* writer (engine thread) */
	int64_t tx_seq; /* last audit seq appended in the open transaction */
	bool no_notify; /* the server has no pg_notify (other nodes poll) */
	/* the writer's transaction runs in pipeline mode: statements whose
	 * result is only success go out without a round trip each and are
	 * checked at the next statement that needs an answer, or at COMMIT */
	bool piping;
	size_t pending;      /* statements sent, results not read yet */
	bool *expect_one;    /* per pending statement: must change one row */
	size_t expect_cap;
	PGconn *readers[STORE_READERS];
	struct store_pool pool;
	struct pg_watch *watch; /* NULL until store_watch_start */
};

int store_pg_watch_start(struct store *s, const char *node_id, int64_t stale_after_ms,
			 const struct store_watch_hooks *h) JG_WUR;
void store_pg_watch_stop(struct store *s);
/* Thread-safe views of the watch: the database answered within
 * stale_after, and this node holds the lease. */
bool store_pg_watch_reachable(const struct pg_watch *w);
bool store_pg_watch_lease(const struct pg_watch *w);

/* Brings the schema on c to the version this jitgate knows, one
 * transaction per version, recorded in table schema_version.  Several
 * nodes starting at once take turns (the version row is the lock).  A
 * schema newer than this jitgate is refused. */
int store_pg_migrate(PGconn *c, int timeout_ms, char *err, size_t errlen) JG_WUR;

#endif
