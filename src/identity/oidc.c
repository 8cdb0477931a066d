#include "identity/oidc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/principal.h"
#include "identity/jwk.h"
#include "identity/jwt.h"
#include "identity/oidc_fetch.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timeutil.h"

struct cache_slot {
	bool used;
	uint8_t hash[SHA256_LEN]; /* of the token: the token itself is not kept */
	/* served only while valid_from_s <= now < valid_until_s: the window in
	 * which the full check's time rules (nbf, iat, exp, leeway) accept
	 * it, so a cache hit never accepts what verifying again would refuse
	 * (also when the clock steps back) */
	int64_t valid_from_s, valid_until_s;
	struct oidc_identity id;
};

struct oidc {
	/* configuration, immutable after oidc_new */
	char *issuer;
	char **audiences;
	size_t naudiences;
	char *groups_claim;
	char *subject_claim;
	char *jwks_uri_cfg;
	unsigned algs;
	int64_t leeway_s;
	struct oidc_store_hooks hooks;
	bool have_hooks;

	/* mu guards keys, keys_json, generation, cache, next_refresh_ns, stop,
	 * and the unknown-kid refetch request */
	pthread_mutex_t mu;
	pthread_cond_t wake;
	struct jwks *keys;      /* never NULL after oidc_new (may be empty) */
	char *keys_json;        /* text of the installed set */
	uint64_t generation;    /* bumped whenever keys change */
	struct cache_slot *cache;
	int64_t next_refresh_ns;
	atomic_bool stop; /* read by curl callbacks on other threads */
	bool kid_refetch_wanted; /* the refresh thread fetches at once */
	bool kid_refetched;      /* last_kid_refetch_s is set */
	int64_t last_kid_refetch_s; /* the caller's clock (now_s) */

	/* fetch_mu serialises fetches and guards jwks_uri */
	pthread_mutex_t fetch_mu;
	char *jwks_uri; /* configured or discovered; NULL: discover again */

	pthread_t thread;
	bool thread_started;
};

static void identity_free_fields(struct oidc_identity *id)
{
	free(id->subject);
	for (size_t i = 0; i < id->ngroups; i++)
		free(id->groups[i]);
	free(id->groups);
	memset(id, 0, sizeof(*id));
}

void oidc_identity_clear(struct oidc_identity *id)
{
	if (id)
		identity_free_fields(id);
}

static int identity_copy(const struct oidc_identity *src, struct oidc_identity *dst)
{
	memset(dst, 0, sizeof(*dst));
	dst->subject = strdup(src->subject);
	dst->groups = calloc(src->ngroups ? src->ngroups : 1, sizeof(char *));
	if (!dst->subject || !dst->groups)
		goto fail;
	for (; dst->ngroups < src->ngroups; dst->ngroups++) {
		dst->groups[dst->ngroups] = strdup(src->groups[dst->ngroups]);
		if (!dst->groups[dst->ngroups])
			goto fail;
	}
	dst->exp_s = src->exp_s;
	return JG_OK;
fail:
	identity_free_fields(dst);
	return JG_ERR_NOMEM;
}

static void log_skip(void *ctx, size_t index, const char *kid, const char *reason)
{
	char k[JWK_KID_MAX + 1];

	text_copy_printable(k, sizeof(k), kid ? kid : "-");
	log_warn(ctx, "JWKS key #%zu (kid %s) skipped: %s", index, k, reason);
}

static int64_t clamp_refresh(int64_t max_age_s)
{
	if (max_age_s < 0)
		return OIDC_REFRESH_DEFAULT_S;
	if (max_age_s < OIDC_REFRESH_MIN_S)
		return OIDC_REFRESH_MIN_S;
	if (max_age_s > OIDC_REFRESH_MAX_S)
		return OIDC_REFRESH_MAX_S;
	return max_age_s;
}

/* Installs a parsed set.  Takes over set and json.  Returns true when the
 * set differs from the one it replaces. */
static bool install_keys(struct oidc *o, struct jwks *set, char *json)
{
	struct jwks *old;
	char *old_json;
	bool changed;

	pthread_mutex_lock(&o->mu);
	changed = !o->keys_json || strcmp(o->keys_json, json) != 0;
	old = o->keys;
	old_json = o->keys_json;
	o->keys = set;
	o->keys_json = json;
	if (changed) {
		o->generation++;
		/* a key may have been withdrawn: what it verified must be
		 * verified again */
		for (size_t i = 0; i < OIDC_CACHE_SLOTS; i++) {
			if (o->cache[i].used)
				identity_free_fields(&o->cache[i].id);
			o->cache[i].used = false;
		}
	}
	pthread_mutex_unlock(&o->mu);
	jwks_unref(old);
	free(old_json);
	return changed;
}

/* Parses json and installs it when it has at least one usable key. */
static int adopt_json(struct oidc *o, char *json, size_t len, const char *source,
		      bool save)
{
	struct jwks *set = NULL;
	size_t n;
	int rc;

	rc = jwks_parse(json, len, false, log_skip, o->issuer, &set);
	if (rc != JG_OK) {
		log_error(o->issuer, "JWKS from %s unusable: %s", source, jg_strerror(rc));
		free(json);
		return rc;
	}
	n = jwks_count(set);
	if (n == 0) {
		log_error(o->issuer, "JWKS from %s has no usable key; keeping the previous set",
			  source);
		jwks_unref(set);
		free(json);
		return JG_ERR_INVALID;
	}
	if (install_keys(o, set, json)) {
		log_info(o->issuer, "installed %zu signing key(s) from %s", n, source);
		if (save && o->have_hooks && o->hooks.save) {
			/* install_keys took json; it stays valid while fetch_mu
			 * is held, since only fetches replace it */
			rc = o->hooks.save(o->hooks.ctx, o->issuer, json);
			if (rc != JG_OK)
				log_warn(o->issuer, "could not save the JWKS: %s", jg_strerror(rc));
		}
	}
	return JG_OK;
}

/* One discovery (when needed) and JWKS download; fetch_mu held.  Sets
 * *interval_s to the refresh interval the response allows. */
static int fetch_locked(struct oidc *o, int64_t *interval_s)
{
	char err[512];
	char *body = NULL;
	size_t len;
	int64_t max_age = -1;
	int rc;

	*interval_s = OIDC_REFRESH_DEFAULT_S;
	if (!o->jwks_uri) {
		rc = oidc_discover_jwks_uri(o->issuer, &o->stop, &o->jwks_uri, err,
					    sizeof(err));
		if (rc != JG_OK) {
			log_error(o->issuer, "OIDC discovery failed: %s", err);
			return rc;
		}
	}
	rc = oidc_http_get(o->jwks_uri, JWKS_JSON_MAX, &o->stop, &body, &len, &max_age,
			   err, sizeof(err));
	if (rc != JG_OK) {
		log_error(o->issuer, "JWKS fetch failed: %s", err);
		if (!o->jwks_uri_cfg) {
			/* the IdP may have moved its keys: discover again */
			free(o->jwks_uri);
			o->jwks_uri = NULL;
		}
		return rc;
	}
	rc = adopt_json(o, body, len, o->jwks_uri, true);
	if (rc == JG_OK)
		*interval_s = clamp_refresh(max_age);
	return rc;
}

static int fetch(struct oidc *o, int64_t *interval_s)
{
	int rc;

	pthread_mutex_lock(&o->fetch_mu);
	rc = fetch_locked(o, interval_s);
	pthread_mutex_unlock(&o->fetch_mu);
	return rc;
}

int oidc_refresh_now(struct oidc *o)
{
	int64_t interval;
	int rc = fetch(o, &interval);

	if (rc == JG_OK) {
		pthread_mutex_lock(&o->mu);
		o->next_refresh_ns = time_mono_ns() + interval * 1000000000LL;
		pthread_mutex_unlock(&o->mu);
	}
	return rc;
}

/* Asks the refresh thread to refetch the key set for an unknown kid, at
 * most once per window: otherwise anyone could make us hammer the IdP with
 * made-up kids.  Never fetches itself: the caller is an HTTP worker or the
 * gateway loop, which must not wait on the IdP.  Returns true when a
 * refetch was requested. */
static bool request_kid_refetch(struct oidc *o, int64_t now_s)
{
	bool asked = false;

	pthread_mutex_lock(&o->mu);
	/* a clock that went back opens the window rather than closing it */
	if (!o->kid_refetched || now_s < o->last_kid_refetch_s ||
	    now_s - o->last_kid_refetch_s >= OIDC_KID_REFETCH_WINDOW_S) {
		o->kid_refetched = true;
		o->last_kid_refetch_s = now_s;
		o->kid_refetch_wanted = true;
		pthread_cond_signal(&o->wake);
		asked = true;
	}
	pthread_mutex_unlock(&o->mu);
	return asked;
}

static void *refresh_thread(void *arg)
{
	struct oidc *o = arg;
	int64_t retry_s = OIDC_RETRY_MIN_S;

	pthread_mutex_lock(&o->mu);
	while (!o->stop) {
		int64_t now = time_mono_ns(), interval;
		struct timespec ts;
		int rc;

		if (!o->kid_refetch_wanted && now < o->next_refresh_ns) {
			ts.tv_sec = (time_t)(o->next_refresh_ns / 1000000000LL);
			ts.tv_nsec = (long)(o->next_refresh_ns % 1000000000LL);
			pthread_cond_timedwait(&o->wake, &o->mu, &ts);
			continue;
		}
		if (o->kid_refetch_wanted)
			log_info(o->issuer, "a token named an unknown kid: refetching the JWKS");
		o->kid_refetch_wanted = false;
		pthread_mutex_unlock(&o->mu);
		rc = fetch(o, &interval);
		pthread_mutex_lock(&o->mu);
		if (rc == JG_OK) {
			retry_s = OIDC_RETRY_MIN_S;
		} else {
			interval = retry_s;
			retry_s = retry_s * 2 > OIDC_RETRY_MAX_S ? OIDC_RETRY_MAX_S : retry_s * 2;
		}
		o->next_refresh_ns = time_mono_ns() + interval * 1000000000LL;
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

static int copy_cfg(struct oidc *o, const struct oidc_cfg *cfg)
{
	o->issuer = strdup(cfg->issuer);
	o->groups_claim = strdup(cfg->groups_claim ? cfg->groups_claim : "groups");
	o->subject_claim = strdup(cfg->subject_claim ? cfg->subject_claim : "sub");
	o->audiences = calloc(cfg->naudiences ? cfg->naudiences : 1, sizeof(char *));
	if (!o->issuer || !o->groups_claim || !o->subject_claim || !o->audiences)
		return JG_ERR_NOMEM;
	for (; o->naudiences < cfg->naudiences; o->naudiences++) {
		o->audiences[o->naudiences] = strdup(cfg->audiences[o->naudiences]);
		if (!o->audiences[o->naudiences])
			return JG_ERR_NOMEM;
	}
	if (cfg->jwks_uri) {
		o->jwks_uri_cfg = strdup(cfg->jwks_uri);
		o->jwks_uri = strdup(cfg->jwks_uri);
		if (!o->jwks_uri_cfg || !o->jwks_uri)
			return JG_ERR_NOMEM;
	}
	o->algs = 0;
	for (size_t i = 0; i < cfg->nalgorithms; i++) {
		enum jws_alg a = jws_alg_from_name(cfg->algorithms[i]);

		if (a == JWS_ALG_INVALID) {
			log_error(NULL, "oidc.algorithms: %s is not supported", cfg->algorithms[i]);
			return JG_ERR_INVALID;
		}
		o->algs |= (unsigned)a;
	}
	if (cfg->nalgorithms == 0)
		o->algs = JWS_ALG_ALL;
	o->leeway_s = cfg->leeway_s;
	return JG_OK;
}

static int validate_cfg(const struct oidc_cfg *cfg)
{
	if (!cfg->issuer || !oidc_url_allowed(cfg->issuer)) {
		log_error(NULL, "oidc.issuer must be an https:// URL (http:// only on loopback)");
		return JG_ERR_INVALID;
	}
	if (cfg->jwks_uri && !oidc_url_allowed(cfg->jwks_uri)) {
		log_error(NULL, "oidc.jwks_uri must be https:// (http:// only on loopback)");
		return JG_ERR_INVALID;
	}
	if (cfg->naudiences == 0) {
		log_error(NULL, "oidc.audience is required");
		return JG_ERR_INVALID;
	}
	if (cfg->leeway_s < 0 || cfg->leeway_s > 3600) {
		log_error(NULL, "oidc.leeway must be between 0s and 1h");
		return JG_ERR_INVALID;
	}
	return JG_OK;
}

int oidc_new(const struct oidc_cfg *cfg, const struct oidc_store_hooks *hooks,
	     struct oidc **out)
{
	struct oidc *o;
	pthread_condattr_t ca;
	int64_t interval = OIDC_RETRY_MIN_S;
	int rc;

	*out = NULL;
	rc = validate_cfg(cfg);
	if (rc != JG_OK)
		return rc;
	o = calloc(1, sizeof(*o));
	if (!o)
		return JG_ERR_NOMEM;
	pthread_mutex_init(&o->mu, NULL);
	pthread_mutex_init(&o->fetch_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->wake, &ca);
	pthread_condattr_destroy(&ca);
	o->cache = calloc(OIDC_CACHE_SLOTS, sizeof(o->cache[0]));
	if (!o->cache) {
		rc = JG_ERR_NOMEM;
		goto fail;
	}
	rc = copy_cfg(o, cfg);
	if (rc != JG_OK)
		goto fail;
	if (hooks) {
		o->hooks = *hooks;
		o->have_hooks = true;
	}
	rc = jwks_parse("{\"keys\":[]}", 11, false, NULL, NULL, &o->keys);
	if (rc != JG_OK)
		goto fail;
	if (fetch(o, &interval) != JG_OK) {
		char *saved = NULL;

		interval = OIDC_RETRY_MIN_S;
		if (o->have_hooks && o->hooks.load &&
		    o->hooks.load(o->hooks.ctx, o->issuer, &saved) == JG_OK && saved) {
			if (adopt_json(o, saved, strlen(saved), "the store", false) == JG_OK)
				log_warn(o->issuer, "IdP unreachable: verifying with the last "
						   "key set saved in the store; retrying in the background");
		}
		if (jwks_count(o->keys) == 0)
			log_error(o->issuer, "IdP unreachable and no saved key set: every OIDC "
					    "token is refused until the IdP answers (static tokens "
					    "still work); retrying in the background");
	}
	o->next_refresh_ns = time_mono_ns() + interval * 1000000000LL;
	if (pthread_create(&o->thread, NULL, refresh_thread, o) != 0) {
		rc = JG_ERR_INTERNAL;
		goto fail;
	}
	o->thread_started = true;
	*out = o;
	return JG_OK;
fail:
	oidc_free(o);
	return rc;
}

/* Reads the configured subject and groups claims; reason on failure. */
static int map_identity(struct oidc *o, json_t *claims, int64_t exp_s,
			struct oidc_identity *id, char *reason, size_t rlen)
{
	json_t *sub = json_object_get(claims, o->subject_claim);
	json_t *groups = json_object_get(claims, o->groups_claim), *g;
	const char *s;
	size_t i, n = 0;

	memset(id, 0, sizeof(*id));
	if (!json_is_string(sub) || json_string_length(sub) == 0 ||
	    json_string_length(sub) >= SUBJECT_NAME_MAX ||
	    strlen(json_string_value(sub)) != json_string_length(sub)) {
		snprintf(reason, rlen, "subject claim %s missing or not a usable string",
			 o->subject_claim);
		return JG_ERR_AUTH;
	}
	id->subject = strdup(json_string_value(sub));
	id->groups = calloc(SUBJECT_GROUPS_MAX, sizeof(char *));
	if (!id->subject || !id->groups)
		goto nomem;
	id->exp_s = exp_s;
	if (!groups || json_is_null(groups))
		return JG_OK;
	if (json_is_string(groups)) {
		/* space-separated, as the scope claim is */
		s = json_string_value(groups);
		while (*s) {
			size_t l = strcspn(s, " ");

			if (l > 0) {
				if (n == SUBJECT_GROUPS_MAX || l >= SUBJECT_NAME_MAX)
					goto bad;
				id->groups[n] = strndup(s, l);
				if (!id->groups[n])
					goto nomem;
				id->ngroups = ++n;
			}
			s += l;
			s += *s == ' ';
		}
		return JG_OK;
	}
	if (!json_is_array(groups) || json_array_size(groups) > SUBJECT_GROUPS_MAX)
		goto bad;
	json_array_foreach(groups, i, g) {
		if (!json_is_string(g) || json_string_length(g) == 0 ||
		    json_string_length(g) >= SUBJECT_NAME_MAX ||
		    strlen(json_string_value(g)) != json_string_length(g))
			goto bad;
		id->groups[n] = strdup(json_string_value(g));
		if (!id->groups[n])
			goto nomem;
		id->ngroups = ++n;
	}
	return JG_OK;
bad:
	identity_free_fields(id);
	snprintf(reason, rlen, "groups claim %s is not a string or an array of strings "
			       "within limits", o->groups_claim);
	return JG_ERR_AUTH;
nomem:
	identity_free_fields(id);
	snprintf(reason, rlen, "out of memory");
	return JG_ERR_NOMEM;
}

static size_t slot_of(const uint8_t hash[SHA256_LEN])
{
	return ((size_t)hash[0] | (size_t)hash[1] << 8 | (size_t)hash[2] << 16) %
	       OIDC_CACHE_SLOTS;
}

size_t oidc_cache_slot(const char *token)
{
	uint8_t hash[SHA256_LEN];

	crypto_sha256(token, strnlen(token, JWT_TOKEN_MAX + 1), hash);
	return slot_of(hash);
}

static bool cache_get(struct oidc *o, const uint8_t hash[SHA256_LEN], int64_t now_s,
		      struct oidc_identity *out)
{
	struct cache_slot *s;
	bool hit = false;

	pthread_mutex_lock(&o->mu);
	s = &o->cache[slot_of(hash)];
	if (s->used && crypto_ct_equal(s->hash, hash, SHA256_LEN) &&
	    now_s >= s->valid_from_s && now_s < s->valid_until_s)
		hit = identity_copy(&s->id, out) == JG_OK;
	pthread_mutex_unlock(&o->mu);
	return hit;
}

static void cache_put(struct oidc *o, const uint8_t hash[SHA256_LEN],
		      uint64_t generation, int64_t valid_from_s,
		      const struct oidc_identity *id)
{
	struct cache_slot *s;

	pthread_mutex_lock(&o->mu);
	/* a result from a key set that was replaced meanwhile is not cached */
	if (generation == o->generation) {
		s = &o->cache[slot_of(hash)];
		if (s->used)
			identity_free_fields(&s->id);
		s->used = identity_copy(id, &s->id) == JG_OK;
		memcpy(s->hash, hash, SHA256_LEN);
		s->valid_from_s = valid_from_s;
		s->valid_until_s = id->exp_s + o->leeway_s;
	}
	pthread_mutex_unlock(&o->mu);
}

static struct jwks *keys_ref(struct oidc *o, uint64_t *generation)
{
	struct jwks *k;

	pthread_mutex_lock(&o->mu);
	k = jwks_ref(o->keys);
	*generation = o->generation;
	pthread_mutex_unlock(&o->mu);
	return k;
}

static void fill_failure(struct oidc_failure *fail, const struct jwt_result *res,
			 const char *reason)
{
	snprintf(fail->reason, sizeof(fail->reason), "%s", reason);
	snprintf(fail->iss, sizeof(fail->iss), "%s", res->info.iss);
	snprintf(fail->kid, sizeof(fail->kid), "%s", res->info.kid);
	snprintf(fail->sub, sizeof(fail->sub), "%s", res->info.sub);
}

int oidc_authenticate(struct oidc *o, const char *token, int64_t now_s,
		      struct oidc_identity *out, struct oidc_failure *fail)
{
	const char *const *aud = (const char *const *)o->audiences;
	struct jwt_rules rules = {.algs = o->algs, .issuer = o->issuer,
				  .audiences = aud, .naudiences = o->naudiences,
				  .leeway_s = o->leeway_s};
	struct jwt_result res = {0};
	uint8_t hash[SHA256_LEN];
	struct jwks *keys;
	uint64_t gen;
	size_t len;
	char reason[256];
	int rc;

	memset(out, 0, sizeof(*out));
	memset(fail, 0, sizeof(*fail));
	len = strnlen(token, JWT_TOKEN_MAX + 1);
	if (len > JWT_TOKEN_MAX) {
		snprintf(fail->reason, sizeof(fail->reason), "token larger than 16 KiB");
		return JG_ERR_TOOBIG;
	}
	crypto_sha256(token, len, hash);
	if (cache_get(o, hash, now_s, out))
		return JG_OK;
	keys = keys_ref(o, &gen);
	rc = jwt_verify(token, len, keys, &rules, now_s, &res);
	jwks_unref(keys);
	if (rc == JG_ERR_NOTFOUND) {
		/* answered now; the key may arrive for the next token */
		bool asked = request_kid_refetch(o, now_s);

		fill_failure(fail, &res, res.reason);
		if (asked)
			snprintf(fail->reason, sizeof(fail->reason),
				 "%.200s (the key set is being refetched; retry shortly)",
				 res.reason);
		rc = JG_ERR_AUTH;
		goto out;
	}
	if (rc != JG_OK) {
		fill_failure(fail, &res, res.reason);
		rc = rc == JG_ERR_TOOBIG ? JG_ERR_TOOBIG : JG_ERR_AUTH;
		goto out;
	}
	rc = map_identity(o, res.claims, res.exp_s, out, reason, sizeof(reason));
	if (rc != JG_OK) {
		fill_failure(fail, &res, reason);
		goto out;
	}
	cache_put(o, hash, gen, res.valid_from_s, out);
out:
	jwt_result_clear(&res);
	return rc;
}

json_t *oidc_key_ids(struct oidc *o)
{
	json_t *a = json_array();

	pthread_mutex_lock(&o->mu);
	for (size_t i = 0; a && i < jwks_count(o->keys); i++) {
		const struct jwk *k = jwks_at(o->keys, i);

		json_array_append_new(a, k->kid ? json_string(k->kid) : json_null());
	}
	pthread_mutex_unlock(&o->mu);
	return a;
}

size_t oidc_key_count(struct oidc *o)
{
	size_t n;

	pthread_mutex_lock(&o->mu);
	n = jwks_count(o->keys);
	pthread_mutex_unlock(&o->mu);
	return n;
}

void oidc_free(struct oidc *o)
{
	if (!o)
		return;
	if (o->thread_started) {
		pthread_mutex_lock(&o->mu);
		o->stop = true;
		pthread_cond_broadcast(&o->wake);
		pthread_mutex_unlock(&o->mu);
		pthread_join(o->thread, NULL);
	}
	for (size_t i = 0; o->cache && i < OIDC_CACHE_SLOTS; i++)
		if (o->cache[i].used)
			identity_free_fields(&o->cache[i].id);
	free(o->cache);
	jwks_unref(o->keys);
	free(o->keys_json);
	free(o->issuer);
	for (size_t i = 0; i < o->naudiences; i++)
		free(o->audiences[i]);
	free(o->audiences);
	free(o->groups_claim);
	free(o->subject_claim);
	free(o->jwks_uri_cfg);
	free(o->jwks_uri);
	pthread_mutex_destroy(&o->mu);
	pthread_mutex_destroy(&o->fetch_mu);
	pthread_cond_destroy(&o->wake);
	free(o);
}

int oidc_verify_id_token(struct oidc *o, const char *token, int64_t now_s,
			 const char *client_id, const char *nonce,
			 struct oidc_identity *out, struct oidc_failure *fail)
{
	const char *aud[] = {client_id};
	struct jwt_rules rules = {.algs = o->algs, .issuer = o->issuer, .audiences = aud,
				  .naudiences = 1, .leeway_s = o->leeway_s};
	struct jwt_result res = {0};
	struct jwks *keys;
	uint64_t gen;
	json_t *n;
	size_t len;
	char reason[256];
	int rc;

	memset(out, 0, sizeof(*out));
	memset(fail, 0, sizeof(*fail));
	len = strnlen(token, JWT_TOKEN_MAX + 1);
	if (len > JWT_TOKEN_MAX) {
		snprintf(fail->reason, sizeof(fail->reason), "ID token larger than 16 KiB");
		return JG_ERR_AUTH;
	}
	keys = keys_ref(o, &gen);
	rc = jwt_verify(token, len, keys, &rules, now_s, &res);
	jwks_unref(keys);
	if (rc == JG_ERR_NOTFOUND && oidc_refresh_now(o) == JG_OK) {
		/* the IdP handed this token over itself: a new kid means it
		 * rotated, and the caller runs off the HTTP threads */
		jwt_result_clear(&res);
		keys = keys_ref(o, &gen);
		rc = jwt_verify(token, len, keys, &rules, now_s, &res);
		jwks_unref(keys);
	}
	if (rc != JG_OK) {
		fill_failure(fail, &res, res.reason);
		rc = JG_ERR_AUTH;
		goto out;
	}
	n = json_object_get(res.claims, "nonce");
	if (!json_is_string(n) || json_string_length(n) != strlen(nonce) ||
	    !crypto_ct_equal(json_string_value(n), nonce, strlen(nonce))) {
		fill_failure(fail, &res, "ID token nonce missing or not the one of this sign-in");
		rc = JG_ERR_AUTH;
		goto out;
	}
	rc = map_identity(o, res.claims, res.exp_s, out, reason, sizeof(reason));
	if (rc != JG_OK) {
		fill_failure(fail, &res, reason);
		rc = JG_ERR_AUTH;
	}
out:
	jwt_result_clear(&res);
	return rc;
}
