/* Grant expiry of the gateway's sessions: one min-heap of (expires_at,
 * session) on the loop and one timerfd on CLOCK_REALTIME armed at the
 * earliest of them (design section 2: one heap of deadlines that fire
 * within milliseconds).
 *
 * Why not a libevent timer per session: a precise libevent timer
 * (EVENT_BASE_FLAG_PRECISE_TIMER) re-arms a timerfd on every loop turn,
 * i.e. one timerfd_settime per relayed message; without the flag libevent
 * reads CLOCK_MONOTONIC_COARSE (4 ms here) and sleeps in whole
 * milliseconds.  A timerfd with an absolute CLOCK_REALTIME deadline wakes
 * when the wall clock reaches expires_at (which is wall-clock time, so a
 * clock step is followed too) and costs a system call only when the
 * earliest deadline moves earlier or when it fires. */
#include "gateway/session_int.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/timeutil.h"
#include "util/vec.h"

#define EXPIRY_BATCH 256 /* sessions cut together, FATALs first */

struct expiry_slot {
	int64_t at_ms;
	struct session *s;
};

struct expiry {
	struct expiry_slot *v; /* v[0] is the earliest */
	size_t n, cap;
	int fd;
	struct event *ev;
	int64_t armed_ms; /* what the timerfd is set to; 0: not armed */
};

static void place(struct expiry *x, size_t i, struct expiry_slot e)
{
	x->v[i] = e;
	e.s->expiry_pos = i + 1;
}

static void sift_up(struct expiry *x, size_t i)
{
	struct expiry_slot e = x->v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (x->v[parent].at_ms <= e.at_ms)
			break;
		place(x, i, x->v[parent]);
		i = parent;
	}
	place(x, i, e);
}

static void sift_down(struct expiry *x, size_t i)
{
	struct expiry_slot e = x->v[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= x->n)
			break;
		if (c + 1 < x->n && x->v[c + 1].at_ms < x->v[c].at_ms)
			c++;
		if (e.at_ms <= x->v[c].at_ms)
			break;
		place(x, i, x->v[c]);
		i = c;
	}
	place(x, i, e);
}

/* Sets the timerfd to the earliest deadline when that is earlier than what
 * it is set to (or it is not set).  A later earliest deadline (the first
 * session closed) leaves the timer early: it then fires, finds nothing due
 * and moves on, which costs less than a system call per session close. */
static void arm(struct expiry *x)
{
	struct itimerspec its;
	int64_t at;

	if (x->n == 0)
		return;
	at = x->v[0].at_ms;
	if (x->armed_ms != 0 && x->armed_ms <= at)
		return;
	memset(&its, 0, sizeof(its));
	/* 0 would disarm: a deadline at the epoch is long past anyway */
	its.it_value.tv_sec = at > 0 ? at / 1000 : 0;
	its.it_value.tv_nsec = at > 0 ? (at % 1000) * 1000000 : 1;
	if (timerfd_settime(x->fd, TFD_TIMER_ABSTIME, &its, NULL) != 0) {
		/* cannot happen with a valid descriptor and value; the engine's
		 * expiry still reaches the session through
		 * session_grant_ended, only later */
		log_error("gateway", "timerfd_settime: %s", strerror(errno));
		return;
	}
	x->armed_ms = at;
}

static void fired(evutil_socket_t fd, short what, void *arg)
{
	struct expiry *x = arg;
	uint64_t ticks;
	int64_t now;

	(void)what;
	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_warn("gateway", "timerfd read: %s", strerror(errno));
	x->armed_ms = 0;
	now = time_now_ms();
	/* every session due now, taken off in batches before they are told
	 * (a batch sends all its FATALs before the bookkeeping of any): a
	 * session may move onto another grant (and come back in) or close */
	while (x->n > 0 && x->v[0].at_ms <= now) {
		struct session *due[EXPIRY_BATCH];
		size_t k = 0;

		while (k < EXPIRY_BATCH && x->n > 0 && x->v[0].at_ms <= now) {
			due[k] = x->v[0].s;
			expiry_remove(x, due[k++]);
		}
		session_expired(due, k);
	}
	arm(x);
}

int expiry_new(struct event_base *base, struct expiry **out)
{
	struct expiry *x = calloc(1, sizeof(*x));
	int rc = JG_ERR_NOMEM;

	*out = NULL;
	if (!x)
		return JG_ERR_NOMEM;
	x->fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (x->fd < 0) {
		rc = JG_ERR_IO;
		goto out;
	}
	x->ev = event_new(base, x->fd, EV_READ | EV_PERSIST, fired, x);
	if (!x->ev || event_add(x->ev, NULL) != 0)
		goto out;
	*out = x;
	x = NULL;
	rc = 0;
out:
	expiry_free(x);
	return rc;
}

void expiry_free(struct expiry *x)
{
	if (!x)
		return;
	if (x->ev)
		event_free(x->ev);
	if (x->fd >= 0)
		close(x->fd);
	free(x->v);
	free(x);
}

int expiry_set(struct expiry *x, struct session *s, int64_t at_ms)
{
	size_t i;

	if (s->expiry_pos == 0) {
		if (x->n == x->cap) {
			struct expiry_slot *v = vec_grow(x->v, &x->cap,
							 sizeof(*v), 64);

			if (!v)
				return JG_ERR_NOMEM;
			x->v = v;
		}
		i = x->n++;
		x->v[i] = (struct expiry_slot){at_ms, s};
		sift_up(x, i);
	} else {
		i = s->expiry_pos - 1;
		x->v[i].at_ms = at_ms;
		sift_up(x, i);
		sift_down(x, s->expiry_pos - 1);
	}
	arm(x);
	return 0;
}

void expiry_remove(struct expiry *x, struct session *s)
{
	struct session *m;
	size_t i;

	if (!x || s->expiry_pos == 0)
		return;
	i = s->expiry_pos - 1;
	s->expiry_pos = 0;
	if (--x->n == i)
		return;
	/* the last slot fills the hole and goes up or down from there */
	m = x->v[x->n].s;
	place(x, i, x->v[x->n]);
	sift_up(x, i);
	sift_down(x, m->expiry_pos - 1);
}

size_t expiry_count(const struct expiry *x)
{
	return x ? x->n : 0;
}
