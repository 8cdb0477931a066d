/* Benchmark helper for bench/gateway.sh: runs the gateway module on its own
 * loop thread with in-memory hooks (one token, a grant table), either as a
 * server for pgbench or as a self-contained cut-latency measurement.
 *
 *   gw_bench serve  PGPORT GWPORT        until SIGTERM/SIGINT
 *   gw_bench revoke PGPORT GWPORT N      N sessions on one grant, revoke
 *   gw_bench expire PGPORT GWPORT N      N grants ending in one second
 *
 * Subject "bench", token $JG_BENCH_TOKEN, resource bench-db (upstream
 * 127.0.0.1:PGPORT/orders) role read = jit_read with $JG_BENCH_READ_PW. */
#include <event2/event.h>
#include <event2/thread.h>
#include <libpq-fe.h>
#include <sys/epoll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "gateway/gateway.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MAX_GRANTS 20000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int64_t id, expires_at_ms;
	int active;
} grants[MAX_GRANTS];
static int ngrants;
static int next_pick; /* expire mode: which grant the next login takes */
static const char *token;

static int h_auth(void *ctx, const char *user, const char *pw, const char *client,
		  char *reason, size_t rl)
{
	(void)ctx;
	(void)client;
	if (strcmp(user, "bench") == 0 && strlen(pw) == strlen(token) &&
	    crypto_ct_equal(pw, token, strlen(token)))
		return 0;
	snprintf(reason, rl, "invalid token");
	return JG_ERR_AUTH;
}

static int h_find(void *ctx, const char *subject, const char *resource,
		  const char *role, struct gateway_grant *out)
{
	int rc = JG_ERR_NOTFOUND;
	int64_t now = time_now_ms();

	(void)ctx;
	(void)subject;
	(void)resource;
	(void)role;
	pthread_mutex_lock(&mu);
	/* each login takes the next live grant, so that in expire mode every
	 * session rides its own grant */
	for (int k = 0; k < ngrants; k++) {
		int i = (next_pick + k) % ngrants;

		if (grants[i].active && grants[i].expires_at_ms > now) {
			out->request_id = grants[i].id;
			out->expires_at_ms = grants[i].expires_at_ms;
			snprintf(out->role, sizeof(out->role), "read");
			next_pick = i + 1;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

static bool h_audit(void *ctx, const char *a, const char *s, const char *r,
		    const char *ro, int64_t id, json_t *d)
{
	(void)ctx, (void)a, (void)s, (void)r, (void)ro, (void)id;
	json_decref(d);
	return false;
}

static struct event_base *base;
static struct gateway *gw;

static void *loop_main(void *arg)
{
	(void)arg;
	event_base_dispatch(base);
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Opens n sessions, then waits until each socket turns readable (the
 * FATAL), recording when: mono ns (revoke) or wall ms (expire).  epoll,
 * not poll: a poll over n descriptors after every wake-up costs O(n) each
 * time and, with 1,000 sessions, the measuring loop itself became the
 * largest part of the figure. */
static int measure(int gwport, int n, int64_t t0, bool wall)
{
	PGconn **c = calloc((size_t)n, sizeof(*c));
	int64_t *lat = calloc((size_t)n, sizeof(*lat));
	struct epoll_event evs[256];
	char ci[256];
	int left = n, got = 0, ep = epoll_create1(0);

	if (ep < 0 || !c || !lat)
		return 1;
	snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d user=bench "
		 "password=%s dbname=bench-db@read sslmode=disable", gwport,
		 token);
	for (int i = 0; i < n; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

		c[i] = PQconnectdb(ci);
		if (PQstatus(c[i]) != CONNECTION_OK) {
			fprintf(stderr, "session %d: %s", i,
				PQerrorMessage(c[i]));
			return 1;
		}
		if (epoll_ctl(ep, EPOLL_CTL_ADD, PQsocket(c[i]), &e) != 0)
			return 1;
	}
	fprintf(stderr, "%d sessions open\n", n);
	if (!wall) {
		/* revoke: everything rides grant 1 */
		t0 = time_mono_ns();
		gateway_grant_ended(gw, 1, "revoked");
	}
	while (left > 0) {
		int r = epoll_wait(ep, evs, 256, 120000);
		int64_t t;

		if (r <= 0)
			break;
		t = wall ? time_now_ms() * 1000000 : time_mono_ns();
		for (int k = 0; k < r; k++) {
			lat[got++] = wall ? t - t0 * 1000000 : t - t0;
			epoll_ctl(ep, EPOLL_CTL_DEL, PQsocket(c[evs[k].data.u32]), NULL);
			left--;
		}
	}
	close(ep);
	qsort(lat, (size_t)got, sizeof(*lat), cmp64);
	if (got == 0)
		return 1;
	/* machine-readable (bench/all.sh reads it) */
	printf("RESULT gw_harness_%s sessions=%d cut=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
	       wall ? "expire" : "revoke", n, got,
	       lat[got / 2] / 1e6, lat[(got * 99) / 100 - (got >= 100)] / 1e6,
	       lat[got - 1] / 1e6);
	for (int i = 0; i < n; i++)
		PQfinish(c[i]);
	free(c);
	free(lat);
	return got == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct gateway_hooks hooks = {NULL, h_auth, h_find,
						   h_audit};
	static struct role_cfg roles[] = {{"read", "jit_read",
					   "JG_BENCH_READ_PW", 0}};
	static struct resource_cfg res[1];
	static struct config cfg;
	char listen[64];
	pthread_t th;
	sigset_t set;
	int n = argc > 4 ? atoi(argv[4]) : 0, sig, rc = 0;
	int64_t expires = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: gw_bench serve|revoke|expire PGPORT "
			"GWPORT [N]\n");
		return 2;
	}
	token = getenv("JG_BENCH_TOKEN");
	if (!token)
		token = "bench-token";
	log_set_level(getenv("JG_BENCH_LOG") ? LOG_LVL_INFO : LOG_LVL_WARN);
	res[0] = (struct resource_cfg){.name = "bench-db",
		.kind = RESOURCE_POSTGRES, .host = "127.0.0.1",
		.port = atoi(argv[2]), .dbname = "orders", .roles = roles,
		.nroles = 1};
	cfg.resources = res;
	cfg.nresources = 1;
	snprintf(listen, sizeof(listen), "127.0.0.1:%s", argv[3]);
	cfg.gateway.enabled = true;
	cfg.gateway.postgres_listen = listen;
	/* all bench clients come from loopback at once: no per-address cap
	 * (the daemon's default is 32 logins in progress per address) */
	cfg.limits = (struct limits_cfg){.gateway_connections = 4096,
					 .gateway_preauth_per_ip = 100000,
					 .login_timeout_s = 60};

	if (strcmp(argv[1], "expire") == 0) {
		/* far enough ahead for every session to be open by then */
		expires = (time_now_ms() / 1000 + 40 + n / 25) * 1000;
		for (int i = 0; i < n && i < MAX_GRANTS; i++)
			grants[ngrants++] = (typeof(grants[0])){
				i + 1, expires, 1};
	} else {
		grants[ngrants++] = (typeof(grants[0])){
			1, time_now_ms() + 86400000, 1};
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN); /* as jitgate serve does */
	evthread_use_pthreads();
	base = gateway_base_new();
	if (!base || gateway_start(base, &cfg, &hooks, -1, &gw) != 0) {
		fprintf(stderr, "cannot start the gateway\n");
		return 1;
	}
	pthread_create(&th, NULL, loop_main, NULL);
	if (strcmp(argv[1], "serve") == 0) {
		printf("ready\n");
		fflush(stdout);
		sigwait(&set, &sig);
	} else if (strcmp(argv[1], "revoke") == 0) {
		rc = measure(atoi(argv[3]), n, 0, false);
	} else {
		/* the worst case of "ending in the same second": all at the
		 * same instant; lateness is measured against it */
		rc = measure(atoi(argv[3]), n, expires, true);
	}
	event_base_loopbreak(base);
	pthread_join(th, NULL);
	gateway_free(gw);
	event_base_free(base);
	return rc;
}
