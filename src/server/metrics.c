#include "server/metrics.h"

#include <inttypes.h>

#include "core/request.h"

/* upper bounds in seconds */
static const double bounds[METRICS_BUCKETS] = {
	1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4,
	2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 1e-1, 1.0,
};

void metrics_observe(struct histogram *h, int64_t ns)
{
	double s = (double)ns / 1e9;

	for (int i = 0; i < METRICS_BUCKETS; i++) {
		if (s <= bounds[i]) {
			atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
			break;
		}
	}
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)(ns > 0 ? ns : 0),
				  memory_order_relaxed);
}

static uint64_t ld(const atomic_uint_fast64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void render_hist(const struct histogram *h, const char *name,
			const char *help, FILE *f)
{
	uint64_t cum = 0;

	fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (int i = 0; i < METRICS_BUCKETS; i++) {
		cum += ld(&h->buckets[i]);
		fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bounds[i], cum);
	}
	fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, ld(&h->count));
	fprintf(f, "%s_sum %.9f\n%s_count %" PRIu64 "\n", name,
		(double)ld(&h->sum_ns) / 1e9, name, ld(&h->count));
}

void metrics_render(const struct metrics *m, const int64_t *requests_by_state,
		    size_t nstates, int64_t active_grants, FILE *f)
{
	fputs("# HELP jitgate_requests Requests by state.\n"
	      "# TYPE jitgate_requests gauge\n", f);
	for (size_t i = 0; i < nstates; i++)
		if (requests_by_state[i] >= 0)
			fprintf(f, "jitgate_requests{state=\"%s\"} %" PRId64 "\n",
				req_state_name((enum req_state)i), requests_by_state[i]);
	fprintf(f, "# HELP jitgate_active_grants Grants in the in-memory index.\n"
		   "# TYPE jitgate_active_grants gauge\njitgate_active_grants %" PRId64 "\n",
		active_grants);
	fputs("# HELP jitgate_audit_events_total Audit events appended, by action.\n"
	      "# TYPE jitgate_audit_events_total counter\n", f);
	for (int i = 0; i < ACT_COUNT; i++)
		fprintf(f, "jitgate_audit_events_total{action=\"%s\"} %" PRIu64 "\n",
			action_name((enum audit_action)i), ld(&m->transitions[i]));
	fprintf(f, "# HELP jitgate_checks_total Access checks by result.\n"
		   "# TYPE jitgate_checks_total counter\n"
		   "jitgate_checks_total{result=\"allowed\"} %" PRIu64 "\n"
		   "jitgate_checks_total{result=\"denied\"} %" PRIu64 "\n",
		ld(&m->checks_allowed), ld(&m->checks_denied));
	fprintf(f, "# HELP jitgate_http_requests_total HTTP requests served.\n"
		   "# TYPE jitgate_http_requests_total counter\n"
		   "jitgate_http_requests_total %" PRIu64 "\n"
		   "# HELP jitgate_http_errors_total HTTP responses with status >= 400.\n"
		   "# TYPE jitgate_http_errors_total counter\n"
		   "jitgate_http_errors_total %" PRIu64 "\n",
		ld(&m->http_requests), ld(&m->http_errors));
	fprintf(f, "# HELP jitgate_audit_dropped_total Asynchronous audit events lost"
		   " (queue full or store failure).\n"
		   "# TYPE jitgate_audit_dropped_total counter\n"
		   "jitgate_audit_dropped_total %" PRIu64 "\n"
		   "# HELP jitgate_store_commit_failures_total Store transactions that failed.\n"
		   "# TYPE jitgate_store_commit_failures_total counter\n"
		   "jitgate_store_commit_failures_total %" PRIu64 "\n",
		ld(&m->audit_dropped), ld(&m->commit_failures));
	fprintf(f, "# HELP jitgate_auth_failures_total Failed authentications (credentials"
		   " presented that did not verify), HTTP and gateway.\n"
		   "# TYPE jitgate_auth_failures_total counter\n"
		   "jitgate_auth_failures_total %" PRIu64 "\n"
		   "# HELP jitgate_auth_refused_total Requests refused (429 / 53300) because"
		   " their address had too many failed authentications.\n"
		   "# TYPE jitgate_auth_refused_total counter\n"
		   "jitgate_auth_refused_total %" PRIu64 "\n",
		ld(&m->auth_failures), ld(&m->auth_refused));
	fprintf(f, "# HELP jitgate_notify_undeliverable_total Notices to people dropped"
		   " because the person cannot be reached (no Slack user, DMs refused).\n"
		   "# TYPE jitgate_notify_undeliverable_total counter\n"
		   "jitgate_notify_undeliverable_total %" PRIu64 "\n",
		ld(&m->notify_undeliverable));
	fprintf(f, "# HELP jitgate_notify_slack_ratelimited_total Slack Web API calls"
		   " answered 429 (every Slack row then waits for Retry-After).\n"
		   "# TYPE jitgate_notify_slack_ratelimited_total counter\n"
		   "jitgate_notify_slack_ratelimited_total %" PRIu64 "\n",
		ld(&m->notify_slack_ratelimited));
	render_hist(&m->check_latency, "jitgate_check_duration_seconds",
		    "Time to answer an access check (index lookup).", f);
	render_hist(&m->audit_append_latency, "jitgate_audit_commit_duration_seconds",
		    "Time to make a batch of transitions and audit events durable.", f);
}
