/* `jitgate serve`: builds every part from the config, runs until SIGTERM
 * or SIGINT, reloads on SIGHUP.
 *
 * The parts are started in the order of the table `parts` below and
 * stopped in exactly the reverse order, on a failed start as on shutdown:
 * the store lock and the listening sockets come first, so a second daemon
 * on the same store or address stops before it writes anything; the API
 * comes last and goes first, so no request arrives at a part that is
 * already gone. */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/eventhub.h"
#include "audit/canon.h"
#include "gateway/gateway.h"
#include "identity/auth.h"
#include "identity/oidc.h"
#include "server/authsvc.h"
#include "server/cfgref.h"
#include "server/engine.h"
#include "server/nodes.h"
#include "server/notify.h"
#include "server/sdnotify.h"
#include "server/serve.h"
#include "server/upprobe.h"
#include "server/startcheck.h"
#include "store/store.h"
#include "util/crypto.h"
#include "util/lockfile.h"
#include "util/log.h"
#include "util/netaddr.h"
#include "util/timeutil.h"

struct daemon {
	const char *path;
	char digest[SHA256_HEX_LEN + 1];
	struct cfgholder *cfg;
	struct cfgref *start;   /* the config of the start, kept for the daemon's life */
	const struct config *c; /* its config: what the parts wired at start run with */
	int lock_fd;
	int http_fd, gw_fd;     /* bound, until handed to the API / gateway */
	struct store *store;
	struct grant_index *gi;
	struct metrics metrics;
	struct engine *engine;
	struct nodes *nodes;
	struct oidc *oidc;
	struct authsvc *auth;
	struct eventhub *events;
	struct api_deps deps;
	struct api *api;
	struct notifier *notifier;
	struct upprobe *upprobe;
	struct event_base *gw_base;
	struct event *gw_stop;
	struct cfgref *gw_cfg;  /* the config the gateway reads */
	pthread_mutex_t gw_lock; /* guards gw for the engine thread */
	struct gateway *gw;
	pthread_t gw_thread;
	bool gw_running;
};

static int jwks_load(void *ctx, const char *issuer, char **out);
static int jwks_save(void *ctx, const char *issuer, const char *json);

static json_t *time_or_null(int64_t ms)
{
	char buf[TIME_RFC3339_LEN];

	if (ms == 0)
		return json_null();
	time_format(ms, buf);
	return json_string(buf);
}

/* The parts /readyz?verbose=1 and GET /v1/selftest report beyond the API's
 * own: outbox delivery and the OIDC key set (api_deps.health). */
static void report_health(void *ctx, bool detail, json_t *doc)
{
	struct daemon *d = ctx;
	struct notifier_health nh = {.readable = true};
	json_t *oidc;

	notifier_health(d->notifier, &nh);
	json_object_set_new(doc, "outbox", json_pack(
		"{s:b, s:b, s:I, s:I, s:o, s:o}", "ok", nh.readable && nh.failing == 0,
		"readable", nh.readable, "failing", (json_int_t)nh.failing,
		"undeliverable", (json_int_t)nh.undeliverable,
		"last_delivered", time_or_null(nh.last_ok_ms), "last_failed",
		time_or_null(nh.last_fail_ms)));
	if (detail)
		json_object_set_new(doc, "upstreams", d->upprobe ? upprobe_json(d->upprobe)
								   : json_null());
	if (d->oidc == NULL) {
		json_object_set_new(doc, "oidc", json_pack("{s:b}", "enabled", false));
		return;
	}
	oidc = json_pack("{s:b, s:b, s:I}", "enabled", true, "ok",
			 oidc_key_count(d->oidc) > 0, "keys",
			 (json_int_t)oidc_key_count(d->oidc));
	if (oidc != NULL && detail)
		json_object_set_new(oidc, "kids", oidc_key_ids(d->oidc));
	json_object_set_new(doc, "oidc", oidc);
}

/* The verifier accepts tokens whose aud holds oidc.audience or, so that
 * tokens of the browser's client (jitgate login) work, web.oidc_client_id
 * (design section 10). */
static int start_oidc(struct daemon *d, const struct config *c)
{
	struct oidc_store_hooks oh = {.ctx = d, .load = jwks_load, .save = jwks_save};
	struct oidc_cfg oc = c->oidc;
	char **aud = calloc(c->oidc.naudiences + 1, sizeof(*aud));
	int rc;

	if (aud == NULL)
		return JG_ERR_NOMEM;
	memcpy(aud, c->oidc.audiences, c->oidc.naudiences * sizeof(*aud));
	if (c->web.oidc_client_id != NULL)
		aud[oc.naudiences++] = c->web.oidc_client_id;
	oc.audiences = aud;
	rc = oidc_new(&oc, &oh, &d->oidc);
	free(aud);
	return rc;
}

static char *jwks_key(const char *issuer)
{
	char *k = NULL;

	if (asprintf(&k, "oidc.jwks:%s", issuer) < 0)
		return NULL;
	return k;
}

static int jwks_load(void *ctx, const char *issuer, char **out)
{
	struct daemon *d = ctx;
	char *key = jwks_key(issuer);
	int rc;

	*out = NULL;
	if (key == NULL)
		return JG_ERR_NOMEM;
	rc = store_kv_get(d->store, key, out);
	free(key);
	return rc;
}

static int jwks_save(void *ctx, const char *issuer, const char *jwks)
{
	struct daemon *d = ctx;
	struct engine_cmd c = {.op = ENG_KV_PUT, .value = jwks};
	char *key = jwks_key(issuer);
	int rc;

	if (key == NULL)
		return JG_ERR_NOMEM;
	c.key = key;
	rc = engine_run(d->engine, &c);
	free(key);
	return rc;
}

/* ---- gateway glue ---- */

static int gw_authenticate(void *ctx, const char *user, const char *password,
			   const char *client, char *reason, size_t reasonlen)
{
	struct daemon *d = ctx;
	struct cfgref *ref = cfgholder_get(d->cfg);
	struct auth_attempt at = {.via = "gateway", .credential = password, .user = user};
	struct auth_result res;
	struct authn who;
	char addr[64];
	enum auth_outcome o;

	authsvc_client_addr(client, addr, sizeof(addr));
	at.client = addr;
	o = authsvc_authenticate(d->auth, cfgref_config(ref), &at, time_now_ms(), &who, &res);
	cfgref_put(ref);
	if (o == AUTH_OK) {
		authn_clear(&who);
		return JG_OK;
	}
	snprintf(reason, reasonlen, "%s", res.reason[0] ? res.reason : "no password given");
	if (res.event)
		engine_audit_async(d->engine, res.event);
	return o == AUTH_LIMITED ? JG_ERR_LIMIT : JG_ERR_AUTH;
}

/* A login refused before its password: aggregated and limited by the
 * same limiter as failed authentications (server/authsvc). */
static int gw_refuse_preauth(void *ctx, const char *user, const char *resource,
			     const char *role, const char *client, const char *why,
			     char *reason, size_t reasonlen)
{
	struct daemon *d = ctx;
	struct cfgref *ref = cfgholder_get(d->cfg);
	struct auth_attempt at = {.via = "gateway", .user = user};
	struct auth_result res;
	char addr[64];
	enum auth_outcome o;

	authsvc_client_addr(client, addr, sizeof(addr));
	at.client = addr;
	o = authsvc_record_refusal(d->auth, cfgref_config(ref), &at, "check.denied", why,
				   time_now_ms(), &res);
	cfgref_put(ref);
	if (res.event) {
		/* the names come from the startup packet: escaped, never lost */
		json_object_set_new(json_object_get(res.event, "detail"), "client",
				    canon_string(client));
		if (resource && *resource)
			json_object_set_new(res.event, "resource", canon_string(resource));
		if (role && *role)
			json_object_set_new(res.event, "role", canon_string(role));
		engine_audit_async(d->engine, res.event);
	}
	if (o == AUTH_LIMITED) {
		snprintf(reason, reasonlen, "%s", res.reason);
		return JG_ERR_LIMIT;
	}
	return JG_OK;
}

static int gw_find_grant(void *ctx, const char *subject, const char *resource,
			 const char *role, struct gateway_grant *out)
{
	struct daemon *d = ctx;
	struct cfgref *ref;
	const struct resource_cfg *rc;
	struct grant_hit hit;
	int64_t now = time_now_ms();
	int found = 0;

	memset(out, 0, sizeof(*out));
	if (role != NULL) {
		if (!grant_index_check(d->gi, subject, resource, role, now, &hit))
			return JG_ERR_NOTFOUND;
		out->request_id = hit.request_id;
		out->expires_at_ms = hit.expires_at_ms;
		snprintf(out->role, sizeof(out->role), "%s", role);
		return JG_OK;
	}
	ref = cfgholder_get(d->cfg);
	rc = config_resource(cfgref_config(ref), resource);
	for (size_t i = 0; rc && i < rc->nroles; i++) {
		if (!grant_index_check(d->gi, subject, resource, rc->roles[i].name, now, &hit))
			continue;
		if (++found > 1)
			break;
		out->request_id = hit.request_id;
		out->expires_at_ms = hit.expires_at_ms;
		snprintf(out->role, sizeof(out->role), "%s", rc->roles[i].name);
	}
	cfgref_put(ref);
	if (found > 1)
		return JG_ERR_CONFLICT;
	return found ? JG_OK : JG_ERR_NOTFOUND;
}

static bool gw_audit(void *ctx, const char *action, const char *subject,
		     const char *resource, const char *role, int64_t request_id,
		     json_t *detail)
{
	struct daemon *d = ctx;
	/* the names come from the client's startup packet: canon_string
	 * escapes what is not UTF-8 instead of losing the event */
	json_t *ev = json_pack("{s:s, s:o, s:o*, s:o*, s:o*}", "action", action, "actor",
			       canon_string(subject ? subject : "anonymous"), "subject",
			       subject ? canon_string(subject) : NULL, "resource",
			       resource ? canon_string(resource) : NULL, "role",
			       role ? canon_string(role) : NULL);

	if (ev == NULL) {
		log_error(NULL, "audit event %s lost: out of memory", action);
		json_decref(detail);
		atomic_fetch_add(&d->metrics.audit_dropped, 1);
		return false;
	}
	if (request_id)
		json_object_set_new(ev, "request_id", json_integer(request_id));
	if (detail)
		json_object_set_new(ev, "detail", detail);
	/* never dropped: when the writer is behind, the gateway stops reading
	 * statements until on_audit_resume */
	return engine_audit_flow(d->engine, ev);
}

/* Engine thread, like on_grant_ended. */
static void on_audit_resume(void *ctx)
{
	struct daemon *d = ctx;

	pthread_mutex_lock(&d->gw_lock);
	if (d->gw)
		gateway_audit_resume(d->gw);
	pthread_mutex_unlock(&d->gw_lock);
}

/* Engine thread: d->gw is published and withdrawn by the main thread while
 * the engine runs, hence the lock (held only for a non-blocking enqueue). */
static void on_grant_ended(void *ctx, int64_t request_id, const char *why)
{
	struct daemon *d = ctx;

	pthread_mutex_lock(&d->gw_lock);
	if (d->gw)
		gateway_grant_ended(d->gw, request_id, why);
	pthread_mutex_unlock(&d->gw_lock);
}

/* /readyz says why after a degraded start, until the store takes a
 * write; a reason set by another part (a shared store cut off) stays. */
static const char *degraded_why;

static void on_start_degraded(void *ctx, const char *why)
{
	struct daemon *d = ctx;
	const char *expect = why ? NULL : degraded_why;

	if (why)
		degraded_why = why;
	atomic_compare_exchange_strong(&d->deps.not_ready, &expect, why);
}

/* Engine thread: the hub has its own lock and lives as long as the
 * engine (created before it, freed after it). */
static void on_request_changed(void *ctx, const struct request *r, int64_t seq)
{
	struct daemon *d = ctx;

	eventhub_publish(d->events, r, seq);
}

/* ---- the parts, in start order ---- */

/* The SQLite file may be served by one daemon only: a second one would
 * append to the same audit chain.  The lock is a file next to it (flock),
 * released by the kernel when the process ends however it ends. */
static int lock_start(struct daemon *d)
{
	char path[4096], err[4200];
	int rc;

	if (strncmp(d->c->storage, "sqlite:", 7) != 0)
		return JG_OK; /* a shared database serves several nodes */
	if (snprintf(path, sizeof(path), "%s.lock", d->c->storage + 7) >= (int)sizeof(path)) {
		log_error(NULL, "storage path too long");
		return JG_ERR_INVALID;
	}
	rc = lockfile_take(path, &d->lock_fd, err, sizeof(err));
	if (rc != JG_OK)
		log_error(NULL, "cannot start: %s", err);
	return rc;
}

static void lock_stop(struct daemon *d)
{
	lockfile_release(d->lock_fd);
	d->lock_fd = -1;
}

static int bind_one(const char *what, const char *text, int *fd)
{
	struct netaddr a;
	char err[256];

	if (netaddr_parse(text, 1, &a, err, sizeof(err)) != JG_OK) {
		log_error(NULL, "%s %s: %s", what, text, err);
		return JG_ERR_INVALID;
	}
	if (netaddr_listen(&a, 1024, fd, err, sizeof(err)) != JG_OK) {
		log_error(NULL, "cannot start: %s %s", what, err);
		return JG_ERR_IO;
	}
	return JG_OK;
}

/* Every address is bound before anything is written. */
static int listen_start(struct daemon *d)
{
	int rc = bind_one("listen", d->c->listen, &d->http_fd);

	if (rc == JG_OK && d->c->gateway.enabled)
		rc = bind_one("postgres_listen", d->c->gateway.postgres_listen, &d->gw_fd);
	return rc;
}

static void listen_stop(struct daemon *d)
{
	if (d->http_fd >= 0)
		close(d->http_fd);
	if (d->gw_fd >= 0)
		close(d->gw_fd);
	d->http_fd = d->gw_fd = -1;
}

/* The store named by storage, with the password from storage_password_env
 * (the variable must be set when the key is there). */
static int open_store(struct daemon *d, const struct config *c)
{
	struct store_options so = {0};
	char err[512];
	int64_t half_stale_ms = c->stale_after_s * 500;

	if (c->storage_password_env) {
		so.password = getenv(c->storage_password_env);
		if (so.password == NULL) {
			log_error(NULL, "storage_password_env: %s is not set",
				  c->storage_password_env);
			return JG_ERR_INVALID;
		}
	}
	/* a database call may wait at most half of stale_after (2-10 s) */
	so.timeout_ms = (int)(half_stale_ms < 2000 ? 2000
			      : half_stale_ms > 10000 ? 10000 : half_stale_ms);
	if (store_open(c->storage, &so, &d->store, err, sizeof(err)) != JG_OK) {
		log_error(NULL, "cannot open the store: %s", err);
		return JG_ERR_STORE;
	}
	return JG_OK;
}

static int store_start(struct daemon *d)
{
	int rc = open_store(d, d->c);

	d->deps.store = d->store;
	return rc;
}

static void store_stop(struct daemon *d)
{
	store_close(d->store);
	d->store = NULL;
}

/* Recovers the grants from the store and appends config.loaded. */
static int engine_part_start(struct daemon *d)
{
	struct engine_hooks eh = {.ctx = d, .grant_ended = on_grant_ended,
				  .audit_resume = on_audit_resume,
				  .request_changed = on_request_changed,
				  .start_degraded = on_start_degraded};
	int64_t streams = d->c->limits.http_connections / 2;

	if (grant_index_new(&d->gi) != JG_OK)
		return JG_ERR_NOMEM;
	if (eventhub_new(d->cfg, streams > 0 ? (size_t)streams : 1, &d->events) != JG_OK)
		return JG_ERR_NOMEM;
	d->deps.events = d->events;
	if (engine_new(d->store, d->gi, d->cfg, &d->metrics, &eh, &d->engine) != JG_OK)
		return JG_ERR_NOMEM;
	if (nodes_start(d->store, d->engine, d->c, &d->deps.not_ready, &d->nodes) != JG_OK ||
	    engine_start(d->engine, d->digest) != JG_OK) {
		log_error(NULL, "cannot start: the store or audit log is not writable");
		return JG_ERR_STORE;
	}
	d->deps.engine = d->engine;
	d->deps.gi = d->gi;
	return JG_OK;
}

/* Runs what is still queued (audit events of the parts stopped before)
 * and stops the thread. */
static void engine_part_stop(struct daemon *d)
{
	nodes_stop(d->nodes);
	d->nodes = NULL;
	engine_free(d->engine);
	d->engine = NULL;
	eventhub_free(d->events); /* after the engine: it publishes to the hub */
	d->events = NULL;
	grant_index_free(d->gi);
	d->gi = NULL;
}

static int oidc_start(struct daemon *d)
{
	if (!d->c->oidc.enabled)
		return JG_OK;
	if (start_oidc(d, d->c) != JG_OK) {
		log_error(NULL, "oidc: invalid configuration");
		return JG_ERR_INVALID;
	}
	d->deps.idp = d->oidc;
	return JG_OK;
}

static void oidc_stop(struct daemon *d)
{
	oidc_free(d->oidc);
	d->oidc = NULL;
}

/* Authentication for the API and the gateway: after the OIDC verifier,
 * before the doors; stopped after them and before the engine, so its
 * pending aggregate auth.failed events are written. */
static int auth_part_start(struct daemon *d)
{
	int rc = authsvc_new(d->engine, &d->metrics, d->oidc, &d->auth);

	d->deps.auth = d->auth;
	return rc;
}

static void auth_part_stop(struct daemon *d)
{
	authsvc_free(d->auth);
	d->auth = NULL;
	d->deps.auth = NULL;
}

static int notifier_part_start(struct daemon *d)
{
	int rc = notifier_start(d->store, &d->metrics, &d->notifier);

	d->deps.notifier = d->notifier;
	return rc;
}

static void notifier_part_stop(struct daemon *d)
{
	d->deps.notifier = NULL;
	notifier_stop(d->notifier);
	d->notifier = NULL;
}

static int upprobe_part_start(struct daemon *d)
{
	return upprobe_start(d->cfg, &d->upprobe);
}

static void upprobe_part_stop(struct daemon *d)
{
	upprobe_stop(d->upprobe);
	d->upprobe = NULL;
}

static void *gw_main(void *arg)
{
	struct daemon *d = arg;

	/* named, so per-thread CPU (/proc/PID/task/TID/comm, top -H,
	 * bench/cpu_per_tx.py) tells the relaying thread from the others */
	(void)pthread_setname_np(pthread_self(), "jg-gateway");
	event_base_dispatch(d->gw_base);
	return NULL;
}

/* An active event, unlike event_base_loopbreak, is not lost when it comes
 * before the loop has started. */
static void gw_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static int gateway_part_start(struct daemon *d)
{
	static struct gateway_hooks hooks;
	struct gateway *gw;
	int rc, fd = d->gw_fd;

	if (!d->c->gateway.enabled)
		return JG_OK;
	hooks = (struct gateway_hooks){
		.ctx = d,
		.authenticate = gw_authenticate,
		.refuse_preauth = gw_refuse_preauth,
		.find_grant = gw_find_grant,
		.audit = gw_audit,
	};
	/* the base's flags: gateway_base_new (src/gateway/gateway.h) */
	d->gw_base = gateway_base_new();
	if (d->gw_base == NULL)
		return JG_ERR_NOMEM;
	d->gw_stop = event_new(d->gw_base, -1, 0, gw_stop_cb, d->gw_base);
	if (d->gw_stop == NULL)
		return JG_ERR_NOMEM;
	d->gw_cfg = cfgholder_get(d->cfg);
	d->gw_fd = -1; /* gateway_start owns it from here, also on failure */
	rc = gateway_start(d->gw_base, cfgref_config(d->gw_cfg), &hooks, fd, &gw);
	if (rc != JG_OK) {
		log_error(NULL, "cannot start the postgres gateway on %s",
			  d->c->gateway.postgres_listen);
		return rc;
	}
	pthread_mutex_lock(&d->gw_lock);
	d->gw = gw;
	pthread_mutex_unlock(&d->gw_lock);
	if (pthread_create(&d->gw_thread, NULL, gw_main, d) != 0)
		return JG_ERR_INTERNAL;
	d->gw_running = true;
	return JG_OK;
}

/* Sessions are closed while the engine still runs, so their
 * session.ended events are written. */
static void gateway_part_stop(struct daemon *d)
{
	struct gateway *gw;

	if (d->gw_running) {
		event_active(d->gw_stop, EV_READ, 0);
		pthread_join(d->gw_thread, NULL);
		d->gw_running = false;
	}
	pthread_mutex_lock(&d->gw_lock);
	gw = d->gw;
	d->gw = NULL;
	pthread_mutex_unlock(&d->gw_lock);
	gateway_free(gw);
	if (d->gw_stop)
		event_free(d->gw_stop);
	d->gw_stop = NULL;
	if (d->gw_base)
		event_base_free(d->gw_base);
	d->gw_base = NULL;
	if (d->gw_cfg)
		cfgref_put(d->gw_cfg);
	d->gw_cfg = NULL;
}

static int api_part_start(struct daemon *d)
{
	int fd = d->http_fd;

	d->http_fd = -1; /* api_start owns it from here */
	d->deps.cfg = d->cfg;
	d->deps.metrics = &d->metrics;
	d->deps.health = report_health;
	d->deps.health_ctx = d;
	return api_start(&d->deps, fd, &d->api);
}

static void api_part_stop(struct daemon *d)
{
	atomic_store(&d->deps.ready, false);
	api_stop(d->api);
	d->api = NULL;
}

struct part {
	const char *name;
	int (*start)(struct daemon *d);
	void (*stop)(struct daemon *d);
};

static const struct part parts[] = {
	{"store lock", lock_start, lock_stop},
	{"listeners", listen_start, listen_stop},
	{"store", store_start, store_stop},
	{"engine", engine_part_start, engine_part_stop},
	{"oidc", oidc_start, oidc_stop},
	{"authentication", auth_part_start, auth_part_stop},
	{"notifier", notifier_part_start, notifier_part_stop},
	{"upstream probe", upprobe_part_start, upprobe_part_stop},
	{"gateway", gateway_part_start, gateway_part_stop},
	{"api", api_part_start, api_part_stop},
};
#define NPARTS (sizeof(parts) / sizeof(parts[0]))

/* Starts parts in order; on a failure stops those started, in reverse.
 * Returns how many are running (NPARTS on success). */
static size_t start_parts(struct daemon *d)
{
	size_t i;

	for (i = 0; i < NPARTS; i++) {
		log_debug(NULL, "starting %s", parts[i].name);
		if (parts[i].start(d) != JG_OK) {
			log_error(NULL, "cannot start: %s failed; stopping what was started",
				  parts[i].name);
			/* the failed part may have done half its work */
			parts[i].stop(d);
			break;
		}
	}
	return i;
}

static void stop_parts(struct daemon *d, size_t running)
{
	while (running-- > 0) {
		log_debug(NULL, "stopping %s", parts[running].name);
		parts[running].stop(d);
	}
}

/* ---- reload ---- */

struct gw_swap {
	struct daemon *d;
	struct cfgref *ref;
};

/* Runs on the gateway loop: the gateway reads the config there only. */
static void gw_set_config(evutil_socket_t fd, short what, void *arg)
{
	struct gw_swap *s = arg;

	(void)fd;
	(void)what;
	gateway_set_config(s->d->gw, cfgref_config(s->ref));
	cfgref_put(s->d->gw_cfg);
	s->d->gw_cfg = s->ref; /* keep it alive while the gateway uses it */
	free(s);
}

static bool differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static bool list_differ(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return true;
	for (size_t i = 0; i < na; i++)
		if (differ(a[i], b[i]))
			return true;
	return false;
}

/* The token verifier is built at start from the whole section. */
static bool oidc_differ(const struct oidc_cfg *a, const struct oidc_cfg *b)
{
	return a->enabled != b->enabled || differ(a->issuer, b->issuer) ||
	       list_differ(a->audiences, a->naudiences, b->audiences, b->naudiences) ||
	       differ(a->groups_claim, b->groups_claim) ||
	       differ(a->subject_claim, b->subject_claim) || differ(a->jwks_uri, b->jwks_uri) ||
	       list_differ(a->algorithms, a->nalgorithms, b->algorithms, b->nalgorithms) ||
	       a->leeway_s != b->leeway_s;
}

/* What a reload cannot change in a running daemon (wired once at start):
 * each key whose value differs from the start's is named in one warning;
 * the running values stay until a restart. */
static void warn_restart_only(const struct config *run, const struct config *next)
{
	const struct {
		const char *key;
		bool changed;
	} keys[] = {
		{"listen", differ(run->listen, next->listen)},
		{"storage", differ(run->storage, next->storage)},
		{"storage_password_env",
		 differ(run->storage_password_env, next->storage_password_env)},
		{"node_id", differ(run->node_id, next->node_id)},
		{"stale_after", run->stale_after_s != next->stale_after_s},
		{"oidc", oidc_differ(&run->oidc, &next->oidc)},
		{"web.oidc_client_id", differ(run->web.oidc_client_id, next->web.oidc_client_id)},
		{"gateway", run->gateway.enabled != next->gateway.enabled},
		{"gateway.postgres_listen",
		 differ(run->gateway.postgres_listen, next->gateway.postgres_listen)},
		{"gateway.tls", differ(run->gateway.tls_cert, next->gateway.tls_cert) ||
					differ(run->gateway.tls_key, next->gateway.tls_key)},
		{"limits.http_connections",
		 run->limits.http_connections != next->limits.http_connections},
		{"limits.http_connections_per_ip",
		 run->limits.http_connections_per_ip != next->limits.http_connections_per_ip},
	};
	char list[512];
	size_t n = 0;

	list[0] = '\0';
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!keys[i].changed || n >= sizeof(list))
			continue;
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "",
				      keys[i].key);
	}
	if (list[0])
		log_warn(NULL, "reload: %s changed, which take%s effect only at the next restart "
			       "(the running values stay); the rest of the new config applies now",
			 list, strchr(list, ',') ? "" : "s");
}

static void reload(struct daemon *d)
{
	struct config *cfg = NULL;
	char err[512], digest[SHA256_HEX_LEN + 1];

	if (sdnotify_send("RELOADING=1") != JG_OK)
		log_warn(NULL, "sd_notify RELOADING failed");
	if (startcheck_load(d->path, &cfg, digest, err, sizeof(err)) != JG_OK) {
		log_error(NULL, "reload refused, the running config stays: %s", err);
		goto out;
	}
	warn_restart_only(d->c, cfg);
	/* the new config takes effect only once its config.loaded is durable:
	 * whoever sees it can find the event in the audit log */
	if (engine_config_reload(d->engine, cfg, d->path, digest, err, sizeof(err)) != JG_OK) {
		log_error(NULL, "reload not applied, the running config stays: config.loaded "
				"could not be written (%s)", err);
		goto out;
	}
	if (d->gw) {
		struct gw_swap *s = malloc(sizeof(*s));

		if (s) {
			s->d = d;
			s->ref = cfgholder_get(d->cfg);
			if (event_base_once(d->gw_base, -1, EV_TIMEOUT, gw_set_config, s, NULL) != 0) {
				cfgref_put(s->ref);
				free(s);
			}
		}
	}
	if (d->api) {
		struct cfgref *now = cfgholder_get(d->cfg);

		api_reloaded(d->api, cfgref_config(now));
		cfgref_put(now);
	}
	/* an operator who sends SIGHUP after rotating IdP keys wants them now */
	if (d->oidc && oidc_refresh_now(d->oidc) != JG_OK)
		log_warn(NULL, "oidc: key set refresh on reload failed; keeping the current keys");
	log_info(NULL, "config reloaded from %s (sha256 %s)", d->path, digest);
out:
	if (sdnotify_send("READY=1") != JG_OK)
		log_warn(NULL, "sd_notify READY failed");
}

/* ---- entry points ---- */

static int config_arg(int argc, char **argv, const char *usage, const char **path)
{
	*path = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("%s", usage);
			return 0;
		}
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc) {
			*path = argv[++i];
			continue;
		}
		fprintf(stderr, "jitgate %s: unexpected argument '%.64s'\n%s", argv[0],
			argv[i], usage);
		return 2;
	}
	if (*path == NULL) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	return -1;
}

int check_config_main(int argc, char **argv)
{
	static const char usage[] =
		"usage: jitgate check-config -c FILE\n"
		"  validates FILE exactly as `jitgate serve` would (without starting)\n";
	const char *path;
	struct config *cfg = NULL;
	char err[512], digest[SHA256_HEX_LEN + 1];
	int rc = config_arg(argc, argv, usage, &path);

	if (rc >= 0)
		return rc;
	if (startcheck_load(path, &cfg, digest, err, sizeof(err)) != JG_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%s: ok (%zu resources, %zu policies, %zu identities)\n", path,
	       cfg->nresources, cfg->npolicies, cfg->nidentities);
	config_free(cfg);
	return 0;
}


int serve_main(int argc, char **argv)
{
	static const char usage[] =
		"usage: jitgate serve -c FILE\n"
		"  runs the daemon until SIGTERM or SIGINT; SIGHUP reloads FILE\n"
		"  (see docs/operations.md)\n";
	struct daemon d = {.lock_fd = -1, .http_fd = -1, .gw_fd = -1};
	struct config *cfg = NULL;
	char err[512], shown[512];
	size_t running = 0;
	sigset_t sigs;
	int sig, rc = config_arg(argc, argv, usage, &d.path);

	if (rc >= 0)
		return rc;
	rc = 1;
	if (getenv("JITGATE_LOG_DEBUG"))
		log_set_level(LOG_LVL_DEBUG);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	pthread_mutex_init(&d.gw_lock, NULL);

	if (startcheck_load(d.path, &cfg, d.digest, err, sizeof(err)) != JG_OK) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (cfgholder_new(cfg, &d.cfg) != JG_OK) {
		config_free(cfg);
		goto out;
	}
	/* a reference of its own: a reload replaces the holder's */
	d.start = cfgholder_get(d.cfg);
	d.c = cfgref_config(d.start);
	running = start_parts(&d);
	if (running < NPARTS)
		goto out;
	atomic_store(&d.deps.ready, true);
	store_url_redact(d.c->storage, shown, sizeof(shown));
	log_info(NULL, "jitgate serving http://%s (config %s, storage %s)", d.c->listen,
		 d.path, shown);
	if (sdnotify_send("READY=1") != JG_OK)
		log_warn(NULL, "sd_notify READY failed");

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(&d);
			continue;
		}
		log_info(NULL, "signal %d: shutting down", sig);
		break;
	}
	if (sdnotify_send("STOPPING=1") != JG_OK)
		log_warn(NULL, "sd_notify STOPPING failed");
	rc = 0;
out:
	stop_parts(&d, running);
	if (d.start)
		cfgref_put(d.start);
	cfgholder_free(d.cfg);
	pthread_mutex_destroy(&d.gw_lock);
	return rc;
}
