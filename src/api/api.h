/* The HTTP API (design section 4) on libmicrohttpd.  Handlers run on a
 * small pool of MHD threads; anything that changes state is handed to the
 * engine and the connection is suspended until the outcome is durable, so
 * no HTTP thread ever waits on an fsync. */
#ifndef JG_API_API_H
#define JG_API_API_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/grant_index.h"
#include "identity/auth.h"
#include "identity/oidc.h"
#include "server/authsvc.h"
#include "server/cfgref.h"
#include "server/engine.h"
#include "server/metrics.h"
#include "store/store.h"

struct api;
struct eventhub;

struct api_deps {
	struct cfgholder *cfg;
	struct engine *engine;
	struct store *store;
	struct grant_index *gi;
	struct metrics *metrics;
	struct authsvc *auth; /* credentials, failure limiter, auth.failed */
	struct oidc *idp;   /* the same verifier, for browser sign-in; NULL without OIDC */
	struct eventhub *events; /* live request changes for /v1/events; NULL: none */
	struct notifier *notifier; /* answers Slack clicks (response_url); NULL: none */
	atomic_bool ready;  /* /readyz */
	/* Adds the state of the parts the API does not own (OIDC keys,
	 * outbox delivery) to a readiness document; with detail also what
	 * only the selftest identity and admins see (key ids).  May be
	 * NULL. */
	void (*health)(void *ctx, bool detail, json_t *doc);
	void *health_ctx;
	/* why this node is not ready (a static string), or NULL: /readyz
	 * answers 503 "not ready: WHY" */
	_Atomic(const char *) not_ready;
	atomic_int inflight; /* engine commands of suspended connections */
};

/* Serves HTTP on listen_fd, a socket already bound and listening, which it
 * takes over (also on failure).  deps must outlive the api. */
int api_start(struct api_deps *deps, int listen_fd, struct api **out) JG_WUR;
void api_stop(struct api *a);
/* A reload made cfg current: applies what the API copied at start and can
 * change while it runs (limits.header_timeout).  limits.http_connections
 * and limits.http_connections_per_ip are libmicrohttpd's, fixed until a
 * restart (the reload warns when they differ). */
void api_reloaded(struct api *a, const struct config *cfg);

#endif
