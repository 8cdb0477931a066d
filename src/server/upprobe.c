/* Upstream reachability; see upprobe.h. */
#include "server/upprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/timeutil.h"

#define UPPROBE_MAX 1024

struct probe_result {
	char resource[CONFIG_NAME_MAX + 1];
	char host[256];
	int port;
	bool reachable;
	char error[128];
	int64_t at_ms;
};

struct upprobe {
	struct cfgholder *cfg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct probe_result *results; /* guarded by lock */
	size_t n;
	bool done; /* a round has completed */
};

/* One non-blocking connect with a deadline, on the probe thread. */
static bool reach(const char *host, int port, char *err, size_t len)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	char portstr[16];
	bool ok = false;
	int rc;

	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, len, "%s", gai_strerror(rc));
		return false;
	}
	snprintf(err, len, "no address");
	for (ai = res; ai != NULL && !ok; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (fd < 0) {
			snprintf(err, len, "%s", strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			ok = true;
		} else if (errno != EINPROGRESS) {
			snprintf(err, len, "%s", strerror(errno));
		} else if (poll(&pfd, 1, UPPROBE_TIMEOUT_MS) <= 0) {
			snprintf(err, len, "no answer within %d ms", UPPROBE_TIMEOUT_MS);
		} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
			ok = true;
		} else {
			snprintf(err, len, "%s", strerror(soerr ? soerr : errno));
		}
		close(fd);
	}
	freeaddrinfo(res);
	if (ok && len > 0)
		err[0] = '\0';
	return ok;
}

static void probe_round(struct upprobe *p)
{
	struct cfgref *ref = cfgholder_get(p->cfg);
	const struct config *cfg = cfgref_config(ref);
	struct probe_result *v = calloc(cfg->nresources + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; v && i < cfg->nresources && n < UPPROBE_MAX; i++) {
		const struct resource_cfg *r = &cfg->resources[i];

		if (r->kind != RESOURCE_POSTGRES)
			continue;
		snprintf(v[n].resource, sizeof(v[n].resource), "%s", r->name);
		snprintf(v[n].host, sizeof(v[n].host), "%s", r->host);
		v[n].port = r->port;
		n++;
	}
	cfgref_put(ref);
	/* connect without holding the config or the lock */
	for (size_t i = 0; v && i < n; i++) {
		v[i].reachable = reach(v[i].host, v[i].port, v[i].error, sizeof(v[i].error));
		v[i].at_ms = time_now_ms();
	}
	if (v == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	free(p->results);
	p->results = v;
	p->n = n;
	p->done = true;
	pthread_mutex_unlock(&p->lock);
}

static void *probe_main(void *arg)
{
	struct upprobe *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct timespec ts;
		int64_t until;

		pthread_mutex_unlock(&p->lock);
		probe_round(p);
		pthread_mutex_lock(&p->lock);
		until = time_now_ms() + UPPROBE_INTERVAL_S * 1000;
		ts.tv_sec = (time_t)(until / 1000);
		ts.tv_nsec = (long)(until % 1000) * 1000000L;
		while (!p->stop && pthread_cond_timedwait(&p->cond, &p->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int upprobe_start(struct cfgholder *h, struct upprobe **out)
{
	struct upprobe *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return JG_ERR_NOMEM;
	p->cfg = h;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pthread_create(&p->thread, NULL, probe_main, p) != 0) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->cond);
		free(p);
		return JG_ERR_INTERNAL;
	}
	*out = p;
	return JG_OK;
}

void upprobe_stop(struct upprobe *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->results);
	free(p);
}

json_t *upprobe_json(struct upprobe *p)
{
	json_t *a;
	char at[TIME_RFC3339_LEN];

	pthread_mutex_lock(&p->lock);
	if (!p->done) {
		pthread_mutex_unlock(&p->lock);
		return json_null();
	}
	a = json_array();
	for (size_t i = 0; a && i < p->n; i++) {
		const struct probe_result *r = &p->results[i];

		time_format(r->at_ms, at);
		json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:b, s:s, s:s}",
						   "resource", r->resource, "host", r->host,
						   "port", r->port, "reachable", r->reachable,
						   "error", r->error, "checked_at", at));
	}
	pthread_mutex_unlock(&p->lock);
	return a;
}
