#include "api/httpguard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "util/log.h"
#include "util/timeutil.h"

#define REPORT_EVERY_NS (60LL * 1000000000LL) /* one log line a minute at most */

/* One open connection.  Owned by the guard's list; MHD keeps a pointer
 * to it as the connection's socket context. */
struct guarded {
	struct guarded *prev, *next;
	int fd;
	/* written by the connection's HTTP thread without the guard's mutex
	 * (twice per request: a lock pair each cost every request), read by
	 * the reaper; since is stored before deadline (release), and read
	 * after it (acquire) */
	_Atomic int64_t head_since_ns;    /* when the wait for a head began */
	_Atomic int64_t head_deadline_ns; /* 0: not waiting for a head */
};

struct httpguard {
	pthread_mutex_t mu; /* guards the list and stop */
	pthread_cond_t wake;
	struct guarded *all;
	size_t n, max_conns;
	_Atomic int64_t timeout_ns;
	bool stop;
	pthread_t thread;
	bool thread_started;
	uint64_t closed_since_report;
	int64_t last_report_ns;
};

/* Shuts down the socket of every connection past its deadline.  The
 * guard's mutex is held, and MHD reports a connection CLOSED (taking the
 * mutex) before it closes its descriptor, so fd is still this socket. */
static void reap(struct httpguard *g, int64_t now)
{
	/* near the connection limit, the slots held by connections that have
	 * not sent a head for HTTPGUARD_PRESSURE_HEAD_MS are what a slowloris
	 * takes from everyone else: free them early */
	bool pressure = g->n * 4 >= g->max_conns * 3;

	for (struct guarded *c = g->all; c; c = c->next) {
		int64_t deadline = atomic_load_explicit(&c->head_deadline_ns, memory_order_acquire);

		if (deadline == 0)
			continue;
		if (now < deadline &&
		    !(pressure && now - atomic_load_explicit(&c->head_since_ns, memory_order_relaxed) >=
					  HTTPGUARD_PRESSURE_HEAD_MS * 1000000LL))
			continue;
		atomic_store_explicit(&c->head_deadline_ns, 0, memory_order_relaxed);
		(void)shutdown(c->fd, SHUT_RDWR);
		g->closed_since_report++;
	}
	if (g->closed_since_report > 0 && now - g->last_report_ns >= REPORT_EVERY_NS) {
		log_warn(NULL, "closed %llu HTTP connection(s) that sent no complete request "
			       "head within limits.header_timeout",
			 (unsigned long long)g->closed_since_report);
		g->closed_since_report = 0;
		g->last_report_ns = now;
	}
}

static void *guard_main(void *arg)
{
	struct httpguard *g = arg;
	struct timespec ts;

	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += HTTPGUARD_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->wake, &g->mu, &ts);
		reap(g, time_mono_ns());
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

int httpguard_new(int64_t header_timeout_ms, size_t max_conns, struct httpguard **out)
{
	struct httpguard *g = calloc(1, sizeof(*g));
	pthread_condattr_t ca;

	*out = NULL;
	if (!g)
		return JG_ERR_NOMEM;
	g->timeout_ns = header_timeout_ms * 1000000LL;
	g->max_conns = max_conns;
	g->last_report_ns = time_mono_ns() - REPORT_EVERY_NS;
	pthread_mutex_init(&g->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
		httpguard_free(g);
		return JG_ERR_INTERNAL;
	}
	g->thread_started = true;
	*out = g;
	return JG_OK;
}

void httpguard_free(struct httpguard *g)
{
	if (!g)
		return;
	if (g->thread_started) {
		pthread_mutex_lock(&g->mu);
		g->stop = true;
		pthread_cond_signal(&g->wake);
		pthread_mutex_unlock(&g->mu);
		pthread_join(g->thread, NULL);
	}
	while (g->all) {
		struct guarded *c = g->all;

		g->all = c->next;
		free(c);
	}
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->wake);
	free(g);
}

void httpguard_set_timeout(struct httpguard *g, int64_t header_timeout_ms)
{
	atomic_store_explicit(&g->timeout_ns, header_timeout_ms * 1000000LL, memory_order_relaxed);
}

void httpguard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		      enum MHD_ConnectionNotificationCode code)
{
	struct httpguard *g = cls;
	struct guarded *gc = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		gc = ci ? calloc(1, sizeof(*gc)) : NULL;
		*socket_context = gc;
		if (!gc)
			return; /* unguarded: the inactivity timeout still applies */
		gc->fd = ci->connect_fd;
		pthread_mutex_lock(&g->mu);
		gc->head_since_ns = time_mono_ns();
		gc->head_deadline_ns = gc->head_since_ns + g->timeout_ns; /* not yet shared */
		gc->next = g->all;
		if (g->all)
			g->all->prev = gc;
		g->all = gc;
		g->n++;
		pthread_mutex_unlock(&g->mu);
		return;
	}
	if (!gc)
		return;
	pthread_mutex_lock(&g->mu);
	if (gc->prev)
		gc->prev->next = gc->next;
	else
		g->all = gc->next;
	if (gc->next)
		gc->next->prev = gc->prev;
	g->n--;
	pthread_mutex_unlock(&g->mu);
	free(gc);
	*socket_context = NULL;
}

static struct guarded *guarded_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

void httpguard_head_done(struct httpguard *g, struct MHD_Connection *c)
{
	struct guarded *gc = guarded_of(c);

	(void)g;
	if (gc)
		atomic_store_explicit(&gc->head_deadline_ns, 0, memory_order_relaxed);
}

void httpguard_request_done(struct httpguard *g, struct MHD_Connection *c)
{
	struct guarded *gc = guarded_of(c);
	int64_t now;

	if (!gc)
		return;
	/* a kept-alive connection now waits for its next head */
	now = time_mono_ns();
	atomic_store_explicit(&gc->head_since_ns, now, memory_order_relaxed);
	atomic_store_explicit(&gc->head_deadline_ns,
			      now + atomic_load_explicit(&g->timeout_ns, memory_order_relaxed),
			      memory_order_release);
}
