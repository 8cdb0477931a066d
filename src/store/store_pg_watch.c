/* The watch of the PostgreSQL store: one thread, one connection of its own
 * with LISTEN on STORE_PG_CHANNEL, polled (PQsocket + poll) together with
 * a pipe that stops it.  Every beat it renews or seeks the lease row
 * ("deadlines") with the database's clock and reads the head of the audit
 * chain, which catches up what a lost notification did not tell (a
 * notification is only the fast path); every answer from the server
 * counts as contact.  Without contact for stale_after the node is cut off
 * (hooks->reachable false); no wait here ever runs past that moment, so
 * the report is at most one poll slice late.
 *
 * The lease: a node holds it while its heartbeat is younger than half of
 * stale_after; a node that cannot renew gives it up at once, and another
 * takes it over within half of stale_after plus one beat. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/pgconn.h"
#include "store/store_pg.h"
#include "util/log.h"

#define SLICE_MS 50 /* longest poll: how late a stop or a staleness is seen */
#define CUT_CALL_MS 2000 /* a call's bound once cut off (a stop waits that long) */

struct pg_watch {
	struct pgs *s;
	char *node_id;
	char ttl_ms[24]; /* the lease's time to live, as a query parameter */
	int64_t stale_ms, beat_ms;
	struct store_watch_hooks h;
	pthread_t thread;
	int wake[2];
	atomic_bool stop;
	atomic_bool reachable;
	atomic_bool lease;
	PGconn *c;
	int64_t ok_at;        /* monotonic ms of the last answer */
	_Atomic int64_t answered_at; /* the same, for any thread */
	int64_t next_beat, next_connect;
	bool said_down;       /* the connection failure was logged */
	bool polling;         /* the server has no LISTEN (the beat's poll only) */
	bool stopped;         /* store_pg_watch_stop ran (its caller's thread) */
	int64_t polled_seq;   /* the head the last beat saw */
};

bool store_pg_watch_reachable(const struct pg_watch *w)
{
	return atomic_load(&w->reachable);
}

bool store_pg_watch_lease(const struct pg_watch *w)
{
	return atomic_load(&w->lease);
}

static void set_lease(struct pg_watch *w, bool held)
{
	if (atomic_exchange(&w->lease, held) == held)
		return;
	log_info(NULL, "node %s %s the deadline lease", w->node_id,
		 held ? "holds" : "gave up");
	if (w->h.lease)
		w->h.lease(w->h.ctx, held);
}

bool store_pg_watch_answering(const struct pg_watch *w)
{
	return atomic_load(&w->reachable) &&
	       pgconn_mono_ms() - atomic_load(&w->answered_at) <= 2 * w->beat_ms + SLICE_MS;
}

static void contact(struct pg_watch *w)
{
	w->ok_at = pgconn_mono_ms();
	atomic_store(&w->answered_at, w->ok_at);
	if (!atomic_exchange(&w->reachable, true)) {
		log_info(NULL, "store: the database answers again");
		if (w->h.reachable)
			w->h.reachable(w->h.ctx, true);
	}
}

/* Cut off when nothing came back for stale_after. */
static void check_stale(struct pg_watch *w)
{
	if (pgconn_mono_ms() - w->ok_at <= w->stale_ms || !atomic_load(&w->reachable))
		return;
	set_lease(w, false);
	atomic_store(&w->reachable, false);
	log_error(NULL, "store: no answer from the database for %llds: node %s is cut off",
		  (long long)(w->stale_ms / 1000), w->node_id);
	if (w->h.reachable)
		w->h.reachable(w->h.ctx, false);
}

/* How long a database call may wait: its usual bound, but never past the
 * moment the node would count as cut off (then at least one slice). */
static int call_budget(const struct pg_watch *w)
{
	int64_t left = w->ok_at + w->stale_ms - pgconn_mono_ms();

	/* cut off already: no moment is left to protect, and a reconnect
	 * (TCP, TLS, SCRAM) must be able to finish on a loaded machine
	 * (one slice was too short: the node stayed cut off) */
	if (!atomic_load(&w->reachable))
		return w->s->timeout_ms < CUT_CALL_MS ? w->s->timeout_ms : CUT_CALL_MS;

	if (left > w->s->timeout_ms)
		left = w->s->timeout_ms;
	return (int)(left < SLICE_MS ? SLICE_MS : left);
}

static void drop(struct pg_watch *w, const char *why)
{
	if (!w->said_down)
		log_warn(NULL, "store watch: %s; reconnecting", why);
	w->said_down = true;
	PQfinish(w->c);
	w->c = NULL;
	w->next_connect = pgconn_mono_ms() + 200;
	set_lease(w, false);
}

static void drain(struct pg_watch *w)
{
	PGnotify *n;
	int64_t seq = -1;

	while ((n = PQnotifies(w->c)) != NULL) {
		int64_t v = strtoll(n->extra ? n->extra : "", NULL, 10);

		if (v > seq)
			seq = v;
		PQfreemem(n);
	}
	if (seq > 0 && w->h.changed)
		w->h.changed(w->h.ctx, seq);
}

static void connect_now(struct pg_watch *w)
{
	char err[256];

	if (pgconn_open(w->s->url, w->s->password, call_budget(w), &w->c, err,
			sizeof(err)) != JG_OK) {
		if (!w->said_down)
			log_warn(NULL, "store watch: %s", err);
		w->said_down = true;
		w->next_connect = pgconn_mono_ms() + 200;
		return;
	}
	switch (pgconn_exec(w->c, "LISTEN " STORE_PG_CHANNEL, 0, NULL, call_budget(w), NULL,
			    NULL)) {
	case JG_OK:
		w->polling = false;
		break;
	case JG_ERR_STORE:
		/* a PostgreSQL-compatible engine without LISTEN/NOTIFY */
		if (!w->polling)
			log_warn(NULL, "store watch: the database refuses LISTEN; transitions of"
				       " other nodes arrive by the %lld ms poll only",
				 (long long)w->beat_ms);
		w->polling = true;
		break;
	default:
		drop(w, "LISTEN failed");
		return;
	}
	if (w->said_down)
		log_info(NULL, "store watch: connected again");
	w->said_down = false;
	contact(w);
	/* notifications sent while no one listened are lost: catch up */
	if (w->h.changed)
		w->h.changed(w->h.ctx, 0);
	w->next_beat = 0;
}

/* Renews or takes the lease, and reads the head of the chain in the same
 * statement: a head past what the last beat saw is reported as a change,
 * so a notification that never arrived (lost on the way, a dropped
 * LISTEN connection, an engine without LISTEN) delays a transition by at
 * most one beat.  An answer is contact either way. */
static void beat(struct pg_watch *w)
{
	const char *vals[] = {w->node_id, w->ttl_ms};
	PGresult *r = NULL;
	int64_t head;
	int rc;

	rc = pgconn_exec(w->c,
			 "WITH l AS (INSERT INTO lease (name, node_id, heartbeat)"
			 " VALUES ('deadlines', $1, now())"
			 " ON CONFLICT (name) DO UPDATE SET node_id = EXCLUDED.node_id,"
			 " heartbeat = now()"
			 " WHERE lease.node_id = EXCLUDED.node_id"
			 " OR lease.heartbeat < now() - $2::bigint * interval '1 millisecond'"
			 " RETURNING node_id)"
			 " SELECT (SELECT node_id FROM l), (SELECT seq FROM audit_head WHERE id = 1)",
			 2, vals, call_budget(w), &r, NULL);
	if (rc == JG_OK && PQntuples(r) == 1) {
		contact(w);
		set_lease(w, !PQgetisnull(r, 0, 0));
		w->next_beat = pgconn_mono_ms() + w->beat_ms;
		head = pgconn_int(r, 0, 1);
		if (head > w->polled_seq) {
			w->polled_seq = head;
			if (w->h.changed)
				w->h.changed(w->h.ctx, head);
		}
	} else if (rc == JG_OK) {
		rc = JG_ERR_STORE;
	}
	PQclear(r);
	if (rc == JG_ERR_STORE) {
		/* the server answered (contact), but refused: try again later */
		contact(w);
		set_lease(w, false);
		w->next_beat = pgconn_mono_ms() + w->beat_ms;
	} else if (rc != JG_OK) {
		drop(w, rc == JG_ERR_TIMEOUT ? "the database stopped answering"
					     : "the connection failed");
	}
	if (w->c)
		drain(w);
}

static void wait_input(struct pg_watch *w)
{
	struct pollfd p[2] = {{.fd = w->wake[0], .events = POLLIN},
			      {.fd = w->c ? PQsocket(w->c) : -1, .events = POLLIN}};
	int64_t now = pgconn_mono_ms();
	int64_t until = w->c ? w->next_beat : w->next_connect;
	int64_t ms = until - now;

	if (ms > SLICE_MS)
		ms = SLICE_MS;
	if (ms < 0)
		ms = 0;
	if (poll(p, 2, (int)ms) <= 0)
		return;
	if (w->c && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
		if (!PQconsumeInput(w->c)) {
			drop(w, "the connection failed");
			return;
		}
		contact(w);
		drain(w);
	}
}

static void *watch_main(void *arg)
{
	struct pg_watch *w = arg;

	while (!atomic_load(&w->stop)) {
		int64_t now = pgconn_mono_ms();

		if (w->c == NULL && now >= w->next_connect)
			connect_now(w);
		if (w->c && pgconn_mono_ms() >= w->next_beat)
			beat(w);
		check_stale(w);
		wait_input(w);
		check_stale(w);
	}
	return NULL;
}

int store_pg_watch_start(struct store *base, const char *node_id, int64_t stale_after_ms,
			 const struct store_watch_hooks *h)
{
	struct pgs *s = (struct pgs *)base;
	struct pg_watch *w;

	if (atomic_load(&s->watch))
		return JG_ERR_INVALID;
	w = calloc(1, sizeof(*w));
	if (w == NULL || (w->node_id = strdup(node_id)) == NULL) {
		free(w);
		return JG_ERR_NOMEM;
	}
	w->s = s;
	w->h = *h;
	w->stale_ms = stale_after_ms;
	/* a beat per sixth of stale_after, between 100 ms and 1 s */
	w->beat_ms = stale_after_ms / 6 < 100 ? 100 : stale_after_ms / 6 > 1000 ? 1000
						  : stale_after_ms / 6;
	snprintf(w->ttl_ms, sizeof(w->ttl_ms), "%lld", (long long)(stale_after_ms / 2));
	w->ok_at = pgconn_mono_ms(); /* the store was just opened */
	atomic_init(&w->answered_at, w->ok_at);
	atomic_init(&w->reachable, true);
	atomic_init(&w->lease, false);
	atomic_init(&w->stop, false);
	if (pipe(w->wake) != 0) {
		free(w->node_id);
		free(w);
		return JG_ERR_IO;
	}
	if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
		close(w->wake[0]);
		close(w->wake[1]);
		free(w->node_id);
		free(w);
		return JG_ERR_INTERNAL;
	}
	atomic_store(&s->watch, w);
	return JG_OK;
}

/* Stops the thread; the watch itself stays (other threads may still
 * look at it) until store_pg_watch_free, when the store closes. */
void store_pg_watch_stop(struct store *base)
{
	struct pgs *s = (struct pgs *)base;
	struct pg_watch *w = atomic_load(&s->watch);

	if (w == NULL || w->stopped)
		return;
	w->stopped = true;
	atomic_store(&w->stop, true);
	if (write(w->wake[1], "x", 1) < 0 && errno != EAGAIN)
		log_warn(NULL, "store watch: cannot wake the thread");
	pthread_join(w->thread, NULL);
	/* give the lease back so that another node takes over at once */
	if (w->c && atomic_load(&w->lease)) {
		const char *vals[] = {w->node_id};

		if (pgconn_exec(w->c, "DELETE FROM lease WHERE name = 'deadlines'"
				" AND node_id = $1", 1, vals, SLICE_MS * 4, NULL, NULL) != JG_OK)
			log_warn(NULL, "store watch: could not hand the lease back");
	}
	atomic_store(&w->lease, false);
	PQfinish(w->c);
	w->c = NULL;
	close(w->wake[0]);
	close(w->wake[1]);
}

void store_pg_watch_free(struct pgs *s)
{
	struct pg_watch *w = atomic_load(&s->watch);

	if (w == NULL)
		return;
	store_pg_watch_stop(&s->base);
	atomic_store(&s->watch, NULL);
	free(w->node_id);
	free(w);
}
