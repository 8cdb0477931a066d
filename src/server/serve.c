/* `jitgate serve`: builds every part from the config, runs until SIGTERM
 * or SIGINT, reloads on SIGHUP. */
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "gateway/gateway.h"
#include "identity/auth.h"
#include "api/eventhub.h"
#include "identity/oidc.h"
#include "server/cfgref.h"
#include "server/engine.h"
#include "server/nodes.h"
#include "server/notify.h"
#include "server/serve.h"
#include "store/store.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

struct daemon {
	struct cfgholder *cfg;
	struct store *store;
	struct grant_index *gi;
	struct metrics metrics;
	struct engine *engine;
	struct nodes *nodes;
	struct oidc *oidc;
	struct eventhub *events;
	struct api_deps deps;
	struct api *api;
	struct notifier *notifier;
	struct event_base *gw_base;
	struct gateway *gw;
	pthread_t gw_thread;
	bool gw_running;
};

static const char *config_arg(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
			return argv[i + 1];
	return NULL;
}

/* SHA-256 of the file, recorded with config.loaded so the audit log says
 * exactly which policy was in force. */
static void file_digest(const char *path, char out[SHA256_HEX_LEN + 1])
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, n;

	snprintf(out, SHA256_HEX_LEN + 1, "unknown");
	if (f == NULL)
		return;
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (buf) {
		n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
		len = n;
		crypto_sha256_hex(buf, len, out);
	}
	free(buf);
	fclose(f);
}

int check_config_main(int argc, char **argv)
{
	const char *path = config_arg(argc, argv);
	struct config *cfg = NULL;
	char err[512];

	if (path == NULL) {
		fprintf(stderr, "usage: jitgate check-config -c FILE\n");
		return 2;
	}
	if (config_load(path, &cfg, err, sizeof(err)) != JG_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%s: ok (%zu resources, %zu policies, %zu identities)\n", path,
	       cfg->nresources, cfg->npolicies, cfg->nidentities);
	config_free(cfg);
	return 0;
}

/* ---- OIDC glue ---- */

static int oidc_auth(void *ctx, const char *token, int64_t now_s, struct authn *out,
		     struct auth_failure *fail)
{
	struct daemon *d = ctx;
	struct oidc_identity id = {0};
	struct oidc_failure of = {0};
	int rc;

	rc = oidc_authenticate(d->oidc, token, now_s, &id, &of);
	if (rc != JG_OK) {
		snprintf(fail->reason, sizeof(fail->reason), "%s", of.reason);
		snprintf(fail->iss, sizeof(fail->iss), "%s", of.iss);
		snprintf(fail->kid, sizeof(fail->kid), "%s", of.kid);
		snprintf(fail->sub, sizeof(fail->sub), "%s", of.sub);
		return JG_ERR_AUTH;
	}
	/* hand the strings over */
	out->name = id.subject;
	out->groups = id.groups;
	out->ngroups = id.ngroups;
	out->method = "oidc";
	authn_finish(out);
	return JG_OK;
}

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
		"{s:b, s:b, s:I, s:o, s:o}", "ok", nh.readable && nh.failing == 0,
		"readable", nh.readable, "failing", (json_int_t)nh.failing,
		"last_delivered", time_or_null(nh.last_ok_ms), "last_failed",
		time_or_null(nh.last_fail_ms)));
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
			   char *reason, size_t reasonlen)
{
	struct daemon *d = ctx;
	struct cfgref *ref = cfgholder_get(d->cfg);
	struct authn who;
	struct auth_failure fail;
	int rc;

	rc = auth_bearer(cfgref_config(ref), d->deps.oidc, d->deps.oidc_ctx, password,
			 time_now_ms(), &who, &fail);
	cfgref_put(ref);
	if (rc != JG_OK) {
		snprintf(reason, reasonlen, "%s", fail.reason);
		engine_audit_async(d->engine,
				   json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s?, s:s?}}",
					     "action", "auth.failed", "actor",
					     fail.sub[0] ? fail.sub : "anonymous", "detail",
					     "reason", fail.reason, "via", "gateway", "user",
					     user, "iss", fail.iss[0] ? fail.iss : NULL, "kid",
					     fail.kid[0] ? fail.kid : NULL));
		return JG_ERR_AUTH;
	}
	if (strcmp(who.name, user) != 0) {
		snprintf(reason, reasonlen, "the token belongs to another subject than user %.64s",
			 user);
		engine_audit_async(d->engine,
				   json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "action",
					     "auth.failed", "actor", who.name, "detail",
					     "reason", "token subject differs from user", "via",
					     "gateway", "user", user));
		authn_clear(&who);
		return JG_ERR_AUTH;
	}
	authn_clear(&who);
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
	json_t *ev = json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "action", action, "actor",
			       subject ? subject : "anonymous", "subject", subject,
			       "resource", resource, "role", role);

	if (ev == NULL) {
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

static void on_audit_resume(void *ctx)
{
	struct daemon *d = ctx;

	if (d->gw)
		gateway_audit_resume(d->gw);
}

static void on_grant_ended(void *ctx, int64_t request_id, const char *why)
{
	struct daemon *d = ctx;

	if (d->gw)
		gateway_grant_ended(d->gw, request_id, why);
}

static void on_request_changed(void *ctx, const struct request *r, int64_t seq)
{
	struct daemon *d = ctx;

	eventhub_publish(d->events, r, seq);
}

static void *gw_main(void *arg)
{
	struct daemon *d = arg;

	event_base_dispatch(d->gw_base);
	return NULL;
}

static int start_gateway(struct daemon *d, const struct config *cfg)
{
	static struct gateway_hooks hooks;
	int rc;

	hooks = (struct gateway_hooks){
		.ctx = d,
		.authenticate = gw_authenticate,
		.find_grant = gw_find_grant,
		.audit = gw_audit,
	};
	struct event_config *ec = event_config_new();

	/* the coarse clock would cost up to a few ms of cut precision */
	if (ec)
		event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	d->gw_base = ec ? event_base_new_with_config(ec) : NULL;
	if (ec)
		event_config_free(ec);
	if (d->gw_base == NULL)
		return JG_ERR_NOMEM;
	rc = gateway_start(d->gw_base, cfg, &hooks, &d->gw);
	if (rc != JG_OK)
		return rc;
	if (pthread_create(&d->gw_thread, NULL, gw_main, d) != 0)
		return JG_ERR_INTERNAL;
	d->gw_running = true;
	log_info(NULL, "postgres gateway listening on %s", cfg->gateway.postgres_listen);
	return JG_OK;
}

struct gw_swap {
	struct daemon *d;
	struct cfgref *ref;
};

/* Runs on the gateway loop: the gateway reads the config there only. */
static void gw_set_config(evutil_socket_t fd, short what, void *arg)
{
	struct gw_swap *s = arg;
	static struct cfgref *held;

	(void)fd;
	(void)what;
	gateway_set_config(s->d->gw, cfgref_config(s->ref));
	if (held)
		cfgref_put(held);
	held = s->ref; /* keep it alive while the gateway uses it */
	free(s);
}

static bool differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Parts that are wired once at start. */
static bool needs_restart(const struct config *a, const struct config *b)
{
	return differ(a->storage, b->storage) || differ(a->listen, b->listen) ||
	       a->oidc.enabled != b->oidc.enabled || differ(a->oidc.issuer, b->oidc.issuer) ||
	       differ(a->web.oidc_client_id, b->web.oidc_client_id) ||
	       a->gateway.enabled != b->gateway.enabled ||
	       differ(a->gateway.postgres_listen, b->gateway.postgres_listen);
}

static void reload(struct daemon *d, const char *path)
{
	struct config *cfg = NULL;
	char err[512], digest[SHA256_HEX_LEN + 1];
	struct cfgref *old;

	if (config_load(path, &cfg, err, sizeof(err)) != JG_OK) {
		log_error(NULL, "reload refused, the running config stays: %s", err);
		return;
	}
	old = cfgholder_get(d->cfg);
	if (needs_restart(cfgref_config(old), cfg))
		log_warn(NULL, "listen, storage, oidc and gateway listener changes take effect "
			       "at the next restart; policies, identities and resources apply now");
	cfgref_put(old);
	file_digest(path, digest);
	if (cfgholder_swap(d->cfg, cfg) != JG_OK) {
		config_free(cfg);
		log_error(NULL, "reload failed: out of memory");
		return;
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
	/* an operator who sends SIGHUP after rotating IdP keys wants them now */
	if (d->oidc && oidc_refresh_now(d->oidc) != JG_OK)
		log_warn(NULL, "oidc: key set refresh on reload failed; keeping the current keys");
	if (engine_config_loaded(d->engine, path, digest) != JG_OK)
		log_error(NULL, "config.loaded could not be audited");
	log_info(NULL, "config reloaded from %s (sha256 %s)", path, digest);
}

static void shutdown_all(struct daemon *d)
{
	if (d->gw_running) {
		event_base_loopbreak(d->gw_base);
		pthread_join(d->gw_thread, NULL);
	}
	gateway_free(d->gw);
	d->gw = NULL;
	if (d->gw_base)
		event_base_free(d->gw_base);
	api_stop(d->api);
	notifier_stop(d->notifier);
	oidc_free(d->oidc);
	nodes_stop(d->nodes);
	engine_free(d->engine);
	eventhub_free(d->events); /* after the engine: it publishes to the hub */
	store_close(d->store);
	grant_index_free(d->gi);
	cfgholder_free(d->cfg);
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
		log_error(NULL, "%s", err);
		return JG_ERR_STORE;
	}
	return JG_OK;
}

int serve_main(int argc, char **argv)
{
	const char *path = config_arg(argc, argv);
	struct daemon d;
	struct config *cfg = NULL;
	const struct config *c;
	char err[512], digest[SHA256_HEX_LEN + 1];
	struct engine_hooks eh;
	sigset_t sigs;
	int sig, rc = 1;

	memset(&d, 0, sizeof(d));
	if (path == NULL) {
		fprintf(stderr, "usage: jitgate serve -c FILE\n");
		return 2;
	}
	if (getenv("JITGATE_LOG_DEBUG"))
		log_set_level(LOG_LVL_DEBUG);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();

	if (config_load(path, &cfg, err, sizeof(err)) != JG_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	file_digest(path, digest);
	if (cfgholder_new(cfg, &d.cfg) != JG_OK) {
		config_free(cfg);
		return 1;
	}
	c = cfg; /* stays alive: the holder's own reference */
	if (open_store(&d, c) != JG_OK)
		goto out;
	if (grant_index_new(&d.gi) != JG_OK)
		goto out;
	if (eventhub_new(d.cfg, c->limits.http_connections / 2 > 0
				   ? (size_t)(c->limits.http_connections / 2) : 1,
			 &d.events) != JG_OK)
		goto out;
	eh = (struct engine_hooks){.ctx = &d, .grant_ended = on_grant_ended,
				   .audit_resume = on_audit_resume,
				   .request_changed = on_request_changed};
	if (engine_new(d.store, d.gi, d.cfg, &d.metrics, &eh, &d.engine) != JG_OK ||
	    nodes_start(d.store, d.engine, c, &d.deps.not_ready, &d.nodes) != JG_OK ||
	    engine_start(d.engine, digest) != JG_OK) {
		log_error(NULL, "cannot start: the store or audit log is not writable");
		goto out;
	}
	if (c->oidc.enabled) {
		if (start_oidc(&d, c) != JG_OK) {
			log_error(NULL, "oidc: invalid configuration");
			goto out;
		}
		d.deps.oidc = oidc_auth;
		d.deps.oidc_ctx = &d;
		d.deps.idp = d.oidc;
	}
	d.deps.cfg = d.cfg;
	d.deps.engine = d.engine;
	d.deps.store = d.store;
	d.deps.gi = d.gi;
	d.deps.metrics = &d.metrics;
	d.deps.events = d.events;
	if (notifier_start(d.store, &d.notifier) != JG_OK)
		goto out;
	d.deps.health = report_health;
	d.deps.health_ctx = &d;
	if (c->gateway.enabled && start_gateway(&d, c) != JG_OK) {
		log_error(NULL, "cannot start the postgres gateway on %s",
			  c->gateway.postgres_listen);
		goto out;
	}
	if (api_start(&d.deps, c->listen, &d.api) != JG_OK)
		goto out;
	atomic_store(&d.deps.ready, true);
	store_url_redact(c->storage, err, sizeof(err));
	log_info(NULL, "jitgate serving http://%s (config %s, storage %s)", c->listen,
		 path, err);

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(&d, path);
			continue;
		}
		log_info(NULL, "signal %d: shutting down", sig);
		break;
	}
	rc = 0;
out:
	atomic_store(&d.deps.ready, false);
	shutdown_all(&d);
	return rc;
}
