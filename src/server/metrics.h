/* Counters and histograms for GET /metrics (Prometheus text format).
 * Updated with relaxed atomics from any thread. */
#ifndef JG_SERVER_METRICS_H
#define JG_SERVER_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "core/actions.h"

#define METRICS_BUCKETS 14

struct histogram {
	atomic_uint_fast64_t buckets[METRICS_BUCKETS]; /* cumulative at render */
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_ns;
};

struct metrics {
	atomic_uint_fast64_t transitions[ACT_COUNT]; /* audit events by action */
	atomic_uint_fast64_t checks_allowed, checks_denied;
	atomic_uint_fast64_t http_requests, http_errors;
	atomic_uint_fast64_t audit_dropped;
	atomic_uint_fast64_t commit_failures;
	atomic_uint_fast64_t auth_failures; /* presented credentials that failed */
	atomic_uint_fast64_t auth_refused;  /* refused: too many failures from the address */
	atomic_uint_fast64_t notify_undeliverable; /* notices to people dropped */
	atomic_uint_fast64_t notify_slack_ratelimited; /* Slack 429 answers */
	struct histogram check_latency;
	struct histogram audit_append_latency;
};

void metrics_observe(struct histogram *h, int64_t ns);
/* Appends the exposition text to f; requests_by_state has REQ_STATE_COUNT
 * entries (-1 where unknown). */
void metrics_render(const struct metrics *m, const int64_t *requests_by_state,
		    size_t nstates, int64_t active_grants, FILE *f);

#endif
