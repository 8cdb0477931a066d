#include "server/engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/writer.h"
#include "core/deadlines.h"
#include "core/notices.h"
#include "server/notify_people.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/vec.h"

#define QUEUE_MAX 65536
#define BATCH_MAX 1024
#define RETRY_MS 200

enum effect_kind { EFF_ADD, EFF_REMOVE, EFF_DEADLINE, EFF_ENDED, EFF_CHANGED };

struct effect {
	enum effect_kind kind;
	int64_t id;
	int64_t at_ms;
	char *subject, *resource, *role; /* EFF_ADD */
	const char *why;                 /* EFF_ENDED */
	struct request *req;             /* EFF_CHANGED: the request after it */
};

struct batch {
	const struct config *cfg;
	int64_t now_ms;
	struct effect *fx;
	size_t nfx, capfx;
	uint64_t counts[ACT_COUNT];
	bool failed; /* a store write failed: the whole batch is rolled back */
	bool wrote_pending; /* the batch carries the engine's pending_event */
	struct cfgref *config; /* ENG_CONFIG: published once the batch commits */
};

struct engine {
	struct store *store;
	struct grant_index *gi;
	struct cfgholder *cfg;
	struct metrics *m;
	struct engine_hooks hooks;

	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* work arrived */
	pthread_cond_t done; /* a batch finished */
	struct engine_cmd *head, *tail;
	size_t queued;
	size_t flow_inflight; /* engine_audit_flow events not yet written */
	bool flow_waiting;    /* a producer was told to wait */
	bool stop;

	/* several nodes on one store (design section 12) */
	atomic_bool lease;   /* this node fires deadlines */
	atomic_bool cut_off; /* the store is out of reach for stale_after */
	int64_t remote_seq;  /* under lock: newest seq another node committed */
	bool catch_up_head;  /* under lock: catch up to the head (seq unknown) */
	bool resync;         /* under lock: reload every live request */

	/* engine thread only */
	int64_t applied_seq; /* events up to here are reflected in memory */
	bool catching;       /* apply_remote runs for a catch-up */
	struct deadlines dl;
	struct audit_writer *audit; /* the chain head */
	_Atomic int64_t head_seq;   /* its seq once durable, for any thread */
	int64_t retry_at_ms;
	json_t *pending_event; /* config.loaded of a degraded start, not yet written */
};

int engine_new(struct store *st, struct grant_index *gi, struct cfgholder *cfg,
	       struct metrics *m, const struct engine_hooks *hooks,
	       struct engine **out)
{
	struct engine *e = calloc(1, sizeof(*e));

	*out = NULL;
	if (e == NULL)
		return JG_ERR_NOMEM;
	e->store = st;
	e->gi = gi;
	e->cfg = cfg;
	e->m = m;
	if (hooks)
		e->hooks = *hooks;
	if (audit_writer_new(&e->audit) != JG_OK) {
		free(e);
		return JG_ERR_NOMEM;
	}
	atomic_init(&e->lease, true);
	atomic_init(&e->cut_off, false);
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->wake, NULL);
	pthread_cond_init(&e->done, NULL);
	*out = e;
	return JG_OK;
}

/* ---- effects, applied only after a successful commit ---- */

static struct effect *fx_add(struct batch *b, enum effect_kind k, int64_t id)
{
	struct effect *f;

	if (b->nfx == b->capfx) {
		size_t cap = b->capfx ? b->capfx * 2 : 64;
		struct effect *v = realloc(b->fx, cap * sizeof(*v));

		if (v == NULL) {
			b->failed = true;
			return NULL;
		}
		b->fx = v;
		b->capfx = cap;
	}
	f = &b->fx[b->nfx++];
	memset(f, 0, sizeof(*f));
	f->kind = k;
	f->id = id;
	return f;
}

static void fx_free(struct batch *b)
{
	for (size_t i = 0; i < b->nfx; i++) {
		free(b->fx[i].subject);
		free(b->fx[i].resource);
		free(b->fx[i].role);
		if (b->fx[i].req) {
			request_clear(b->fx[i].req);
			free(b->fx[i].req);
		}
	}
	free(b->fx);
	b->fx = NULL;
	b->nfx = b->capfx = 0;
}

/* Records what a request's new state means for memory. */
static void fx_for_request(struct batch *b, const struct request *r,
			   enum req_state before, bool is_new)
{
	struct effect *f;

	if (r->state == REQ_ACTIVE && (is_new || before != REQ_ACTIVE)) {
		f = fx_add(b, EFF_ADD, r->id);
		if (f) {
			f->at_ms = r->expires_at;
			f->subject = strdup(r->requester);
			f->resource = strdup(r->resource);
			f->role = strdup(r->role);
			if (!f->subject || !f->resource || !f->role)
				b->failed = true;
		}
	}
	if (core_request_deadline(r) != 0 && (is_new || before != r->state)) {
		f = fx_add(b, EFF_DEADLINE, r->id);
		if (f)
			f->at_ms = core_request_deadline(r);
		/* reminders, escalation, the expiry warning (core/notices.h) */
		if (notices_next_at(b->cfg, r) != 0 && (f = fx_add(b, EFF_DEADLINE, r->id)))
			f->at_ms = notices_next_at(b->cfg, r);
	}
	if (!is_new && before == REQ_ACTIVE && r->state != REQ_ACTIVE) {
		if ((f = fx_add(b, EFF_REMOVE, r->id)) != NULL)
			f->at_ms = 0;
		if ((f = fx_add(b, EFF_ENDED, r->id)) != NULL)
			f->why = req_state_name(r->state);
	}
}

/* Records that r changed, with the seq of its last audit event, for the
 * request_changed hook once the batch is durable. */
static void fx_changed(struct engine *e, struct batch *b, const struct request *r)
{
	struct effect *f;

	if (e->hooks.request_changed == NULL)
		return;
	f = fx_add(b, EFF_CHANGED, r->id);
	if (f == NULL)
		return;
	f->at_ms = audit_writer_seq(e->audit);
	f->req = calloc(1, sizeof(*f->req));
	if (f->req == NULL || request_copy(f->req, r) != JG_OK) {
		free(f->req);
		f->req = NULL;
		b->failed = true;
	}
}

static void apply_effects(struct engine *e, struct batch *b)
{
	for (size_t i = 0; i < b->nfx; i++) {
		struct effect *f = &b->fx[i];

		switch (f->kind) {
		case EFF_ADD:
			if (atomic_load(&e->cut_off))
				break; /* cut off: nothing is admitted until resync */
			if (grant_index_add(e->gi, f->subject, f->resource, f->role,
					    f->id, f->at_ms) != JG_OK)
				log_error(NULL, "grant index add failed for request %lld",
					  (long long)f->id);
			break;
		case EFF_REMOVE:
			grant_index_remove(e->gi, f->id);
			break;
		case EFF_DEADLINE:
			if (deadlines_push(&e->dl, f->at_ms, f->id) != JG_OK)
				log_error(NULL, "deadline push failed for request %lld",
					  (long long)f->id);
			break;
		case EFF_ENDED:
			if (e->hooks.grant_ended)
				e->hooks.grant_ended(e->hooks.ctx, f->id, f->why);
			break;
		case EFF_CHANGED:
			e->hooks.request_changed(e->hooks.ctx, f->req, f->at_ms);
			break;
		}
	}
	atomic_store(&e->head_seq, audit_writer_seq(e->audit));
}

/* ---- what other nodes changed ---- */

/* Ends (in memory) every grant: the node is cut off from the store.  Safe
 * on any thread: the index has its own lock and a grant is reported only
 * by whoever removed it. */
static void drop_all(struct engine *e, const char *why)
{
	int64_t *ids;
	size_t n;

	if (grant_index_ids(e->gi, &ids, &n) != JG_OK) {
		log_error(NULL, "cannot list the grants to drop");
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (grant_index_remove(e->gi, ids[i]) && e->hooks.grant_ended)
			e->hooks.grant_ended(e->hooks.ctx, ids[i], why);
	free(ids);
	if (n)
		log_warn(NULL, "dropped %zu grants: %s", n, why);
}

/* Brings memory in line with a request's committed state (another node's
 * transition, or a reload): idempotent. */
static int apply_remote(void *ctx, const struct request *r)
{
	struct engine *e = ctx;
	int64_t now = time_now_ms(), deadline = core_request_deadline(r);

	if (r->state == REQ_ACTIVE && r->expires_at > now && !atomic_load(&e->cut_off)) {
		int rc = grant_index_add(e->gi, r->requester, r->resource, r->role, r->id,
					 r->expires_at);

		if (rc != JG_OK && rc != JG_ERR_CONFLICT)
			log_error(NULL, "grant index add failed for request %lld",
				  (long long)r->id);
	} else if (grant_index_remove(e->gi, r->id) && e->hooks.grant_ended) {
		e->hooks.grant_ended(e->hooks.ctx, r->id,
				     r->state == REQ_ACTIVE ? "expired" : req_state_name(r->state));
	}
	if (deadline != 0 && deadlines_push(&e->dl, deadline, r->id) != JG_OK)
		log_error(NULL, "deadline push failed for request %lld", (long long)r->id);
	if (deadline != 0) {
		struct cfgref *ref = cfgholder_get(e->cfg);
		int64_t notice = notices_next_at(cfgref_config(ref), r);

		cfgref_put(ref);
		if (notice != 0 && deadlines_push(&e->dl, notice, r->id) != JG_OK)
			log_error(NULL, "deadline push failed for request %lld",
				  (long long)r->id);
	}
	/* live views (/v1/events) on this node hear of it too; the seq is a
	 * lower bound of the change's own (resuming from it replays more,
	 * never less) */
	if (e->catching && e->hooks.request_changed)
		e->hooks.request_changed(e->hooks.ctx, r, e->applied_seq + 1);
	return 0;
}

/* Reads what other nodes committed after applied_seq, up to upto (0: the
 * head), and applies it. */
static int catch_up(struct engine *e, int64_t upto)
{
	int rc;

	e->catching = true;
	rc = store_tx_changed_requests(e->store, e->applied_seq, &upto, apply_remote, e);
	e->catching = false;
	if (rc == JG_OK && upto > e->applied_seq) {
		e->applied_seq = upto;
		atomic_store(&e->head_seq, upto);
	}
	return rc;
}

/* Without the lease another node fires deadlines; this one only makes
 * sure that a grant whose time is up is gone from memory (its gateway
 * sessions are cut) whatever happens to the node that writes the
 * expiry. */
static void expire_locally(struct engine *e, int64_t now)
{
	struct deadline d;
	struct grant_hit hit;

	while (deadlines_pop_due(&e->dl, now, &d))
		if (grant_index_get(e->gi, d.request_id, &hit) && hit.expires_at_ms <= now &&
		    grant_index_remove(e->gi, d.request_id) && e->hooks.grant_ended)
			e->hooks.grant_ended(e->hooks.ctx, d.request_id, "expired");
}

void engine_remote_changed(struct engine *e, int64_t seq)
{
	pthread_mutex_lock(&e->lock);
	if (seq == 0)
		e->catch_up_head = true;
	else if (seq > e->remote_seq)
		e->remote_seq = seq;
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
}

void engine_set_lease(struct engine *e, bool held)
{
	if (atomic_exchange(&e->lease, held) == held || !held)
		return;
	/* deadlines popped while another node held it must be seen again */
	pthread_mutex_lock(&e->lock);
	e->resync = true;
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
}

void engine_set_reachable(struct engine *e, bool ok)
{
	if (!ok) {
		atomic_store(&e->cut_off, true);
		drop_all(e, "the access store is unreachable");
		return;
	}
	atomic_store(&e->cut_off, false);
	pthread_mutex_lock(&e->lock);
	e->resync = true;
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
}

/* ---- audit ---- */

static bool notify_wants(const struct notify_cfg *n, enum audit_action a)
{
	/* break-glass alerts every channel (design rule 7) */
	if (a == ACT_REQUEST_BREAK_GLASS)
		return true;
	for (size_t i = 0; i < n->nevents; i++)
		if (strcmp(n->events[i], "*") == 0 ||
		    strcmp(n->events[i], action_name(a)) == 0)
			return true;
	return false;
}

static int add_outbox(struct engine *e, struct batch *b, enum audit_action a,
		      int64_t seq, const char *text, const struct request *r)
{
	const struct policy_cfg *pol = r ? config_policy(b->cfg, r->policy) : NULL;
	/* a policy that must be approved in the web UI gets no chat buttons */
	bool web_only = pol != NULL && pol->approve_in_web;

	for (size_t i = 0; i < b->cfg->nnotify; i++) {
		const struct notify_cfg *n = &b->cfg->notify[i];
		json_t *t;
		char *target;
		bool wants;
		int rc;

		wants = notify_wants(n, a);
		/* a channel target's message of a request is updated by every
		 * later event of the request (the notifier drops the row when
		 * there is no message), posted by the first one it wants */
		if (!wants && !(n->channel != NULL && a <= ACT_REQUEST_REVIEWED))
			continue;
		/* a Slack channel target names no secret: the notifier reads
		 * the bot token from the environment when it posts */
		t = json_pack("{s:s, s:s?, s:s?, s:s?, s:b}", "kind",
			      n->kind == NOTIFY_SLACK ? "slack" : "webhook", "url",
			      n->url, "secret_env", n->secret_env, "channel",
			      n->channel, "interactive", n->interactive && !web_only);
		if (t != NULL && (!n->interactive || web_only))
			json_object_del(t, "interactive");
		if (t != NULL && n->channel != NULL)
			/* the token's variable name, never the token */
			json_object_update_new(t, json_pack("{s:s, s:s, s:b, s:s?}", "api_url",
				b->cfg->slack.api_url, "token_env",
				b->cfg->slack.bot_token_env, "post", wants,
				"public_url", b->cfg->web.public_url));
		target = t ? json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(t);
		if (target == NULL)
			return JG_ERR_NOMEM;
		rc = store_tx_outbox_add(e->store, seq, target, text);
		free(target);
		if (rc != JG_OK)
			return rc;
	}
	return JG_OK;
}

/* Appends one event (ev stolen) at the head of the chain, with the outbox
 * rows of every notification target that wants it and, for an event of
 * request r (NULL: none) by actor, of every person told of it. */
static int append_event(struct engine *e, struct batch *b, json_t *ev,
			const struct request *r, const char *actor)
{
	struct audit_appended ap;
	int rc;

	rc = audit_writer_append(e->audit, e->store, ev, b->now_ms, &ap);
	if (rc == JG_OK)
		rc = add_outbox(e, b, ap.action, ap.seq, ap.text, r);
	if (rc == JG_OK && r != NULL)
		rc = notify_people_outbox(e->store, b->cfg, ap.action, ap.seq, ap.text,
					  r, actor, b->now_ms);
	if (rc == JG_OK)
		b->counts[ap.action]++;
	free(ap.text);
	return rc;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *time_json(int64_t ms)
{
	char buf[TIME_RFC3339_LEN];

	if (ms == 0)
		return json_null();
	time_format(ms, buf);
	return json_string(buf);
}

/* What each transition records beyond the common fields. */
static json_t *detail_for(enum audit_action a, const struct request *r,
			  const char *comment, const struct core_result *res,
			  const char *via)
{
	json_t *d = json_object();

	if (d == NULL)
		return NULL;
	switch (a) {
	case ACT_REQUEST_CREATED:
		json_object_set_new(d, "duration_s", json_integer(r->duration_s));
		json_object_set_new(d, "reason", str_or_null(r->reason));
		json_object_set_new(d, "ticket", str_or_null(r->ticket));
		json_object_set_new(d, "policy", json_string(r->policy));
		json_object_set_new(d, "approvals_required", json_integer(r->approvals_required));
		json_object_set_new(d, "break_glass", json_boolean(r->break_glass));
		if (r->extends)
			json_object_set_new(d, "extends", json_integer(r->extends));
		break;
	case ACT_REQUEST_APPROVED:
		json_object_set_new(d, "comment", str_or_null(comment));
		json_object_set_new(d, "approvals", json_integer((json_int_t)r->napprovals));
		json_object_set_new(d, "approvals_required", json_integer(r->approvals_required));
		break;
	case ACT_REQUEST_DENIED:
	case ACT_REQUEST_REVIEWED:
		json_object_set_new(d, "comment", str_or_null(comment));
		break;
	case ACT_REQUEST_REVOKED:
		json_object_set_new(d, "reason", str_or_null(comment));
		break;
	case ACT_REQUEST_ACTIVATED:
		json_object_set_new(d, "activated_at", time_json(r->activated_at));
		json_object_set_new(d, "expires_at", time_json(r->expires_at));
		break;
	case ACT_REQUEST_EXPIRED:
		json_object_set_new(d, "expires_at", time_json(r->expires_at));
		break;
	case ACT_REQUEST_TIMED_OUT:
		json_object_set_new(d, "ended_at", time_json(r->ended_at));
		break;
	case ACT_REQUEST_BREAK_GLASS:
		json_object_set_new(d, "reason", str_or_null(r->reason));
		json_object_set_new(d, "duration_s", json_integer(r->duration_s));
		break;
	case ACT_REQUEST_REMINDED:
		json_object_set_new(d, "rule", json_string(NOTICE_RULE_REMIND));
		json_object_set_new(d, "reminder", json_integer(r->reminders));
		json_object_set_new(d, "approvals", json_integer((json_int_t)r->napprovals));
		json_object_set_new(d, "approvals_required", json_integer(r->approvals_required));
		break;
	case ACT_REQUEST_ESCALATED:
		json_object_set_new(d, "rule", json_string(NOTICE_RULE_ESCALATE));
		break;
	case ACT_REQUEST_EXPIRING:
		json_object_set_new(d, "rule", json_string(NOTICE_RULE_EXPIRING));
		json_object_set_new(d, "expires_at", time_json(r->expires_at));
		break;
	default:
		break;
	}
	/* the rule that decided (design section 13): an approval's stage and
	 * approver rule, an activation's auto_approve or no_approval */
	if (res != NULL && res->rule != NULL &&
	    (a == ACT_REQUEST_APPROVED || a == ACT_REQUEST_ACTIVATED))
		json_object_set_new(d, "rule", json_string(res->rule));
	if (res != NULL && res->stage > 0 && a == ACT_REQUEST_APPROVED)
		json_object_set_new(d, "stage", json_integer(res->stage));
	if (via != NULL)
		json_object_set_new(d, "via", json_string(via));
	return d;
}

static json_t *transition_event(enum audit_action a, const char *actor,
				const struct request *r, const char *comment,
				const struct core_result *res, const char *via)
{
	return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:o*}", "action",
			 action_name(a), "actor", actor, "request_id",
			 (json_int_t)r->id, "subject", r->requester, "resource",
			 r->resource, "role", r->role, "detail",
			 detail_for(a, r, comment, res, via));
}

static int append_transition(struct engine *e, struct batch *b,
			     enum audit_action a, const char *actor,
			     const struct request *r, const char *comment,
			     const struct core_result *res, const char *via)
{
	json_t *ev = transition_event(a, actor, r, comment, res, via);

	if (ev == NULL)
		return JG_ERR_NOMEM;
	return append_event(e, b, ev, r, actor);
}

/* request.created also records the requester's groups as they were when
 * the policy matched: `jitgate audit replay` needs them to judge the
 * request again (OIDC groups are known nowhere else). */
static int append_created(struct engine *e, struct batch *b,
			  const struct subject *who, const struct request *r)
{
	json_t *ev = transition_event(ACT_REQUEST_CREATED, who->name, r, NULL, NULL, NULL);
	json_t *groups = json_array();

	for (size_t i = 0; groups && i < who->ngroups; i++)
		if (json_array_append_new(groups, json_string(who->groups[i])) != 0)
			goto fail;
	if (ev == NULL || groups == NULL ||
	    json_object_set_new(json_object_get(ev, "detail"), "groups", groups) != 0)
		goto fail;
	return append_event(e, b, ev, r, who->name);
fail:
	json_decref(groups);
	json_decref(ev);
	return JG_ERR_NOMEM;
}

/* ---- commands ---- */

static int exec_create(struct engine *e, struct batch *b, struct engine_cmd *c)
{
	struct request ext = {0};
	bool have_ext = false;
	int rc;

	if (c->create.extends != 0) {
		rc = store_tx_request_get(e->store, c->create.extends, &ext);
		if (rc == JG_OK)
			have_ext = true;
		else if (rc != JG_ERR_NOTFOUND)
			return rc;
	}
	c->create.extended = have_ext ? &ext : NULL;
	rc = core_request_create(b->cfg, c->who, &c->create, b->now_ms, &c->out, &c->res);
	c->create.extended = NULL;
	request_clear(&ext);
	if (rc != JG_OK)
		return rc;
	rc = store_tx_request_insert(e->store, &c->out);
	for (size_t i = 0; rc == JG_OK && i < c->res.nactions; i++)
		rc = c->res.actions[i] == ACT_REQUEST_CREATED
			? append_created(e, b, c->who, &c->out)
			: append_transition(e, b, c->res.actions[i], c->who->name,
					    &c->out, NULL, &c->res, NULL);
	if (rc == JG_OK) {
		fx_for_request(b, &c->out, REQ_PENDING, true);
		fx_changed(e, b, &c->out);
	}
	return rc;
}

static int exec_transition(struct engine *e, struct batch *b, struct engine_cmd *c)
{
	enum req_state before;
	int rc;

	rc = store_tx_request_get(e->store, c->id, &c->out);
	if (rc == JG_ERR_NOTFOUND) {
		snprintf(c->res.message, sizeof(c->res.message), "no request %lld",
			 (long long)c->id);
		return rc;
	}
	if (rc != JG_OK)
		return rc;
	before = c->out.state;
	switch (c->op) {
	case ENG_APPROVE:
		rc = core_request_approve(b->cfg, &c->out, c->who, c->comment, b->now_ms, &c->res);
		break;
	case ENG_DENY:
		rc = core_request_deny(b->cfg, &c->out, c->who, c->comment, b->now_ms, &c->res);
		break;
	case ENG_CANCEL:
		rc = core_request_cancel(&c->out, c->who, b->now_ms, &c->res);
		break;
	case ENG_REVOKE:
		rc = core_request_revoke(b->cfg, &c->out, c->who, c->comment, b->now_ms,
					  &c->res);
		break;
	case ENG_REVIEW:
		rc = core_request_review(b->cfg, &c->out, c->who, b->now_ms, &c->res);
		break;
	default:
		rc = JG_ERR_INTERNAL;
	}
	if (rc != JG_OK)
		return rc;
	rc = store_tx_request_update(e->store, &c->out);
	for (size_t i = 0; rc == JG_OK && i < c->res.nactions; i++)
		rc = append_transition(e, b, c->res.actions[i], c->who->name, &c->out,
				       c->comment, &c->res, c->via);
	if (rc == JG_OK) {
		fx_for_request(b, &c->out, before, false);
		fx_changed(e, b, &c->out);
	}
	return rc;
}

/* Store failures poison the batch; refusals (4xx) only fail the command. */
static bool is_store_failure(int rc)
{
	return rc == JG_ERR_STORE || rc == JG_ERR_NOMEM || rc == JG_ERR_INTERNAL ||
	       rc == JG_ERR_IO;
}

static void exec_cmd(struct engine *e, struct batch *b, struct engine_cmd *c)
{
	int rc;

	switch (c->op) {
	case ENG_CREATE:
		rc = exec_create(e, b, c);
		break;
	case ENG_AUDIT:
		/* the command keeps its event until the batch is final: a batch
		 * may run twice (run_batch) */
		rc = append_event(e, b, json_incref(c->event), NULL, NULL);
		break;
	case ENG_KV_PUT:
		rc = store_tx_kv_put(e->store, c->key, c->value);
		break;
	case ENG_CONFIG:
		rc = append_event(e, b, json_incref(c->event), NULL, NULL);
		if (rc == JG_OK) {
			b->config = c->config;
			c->config = NULL;
		}
		break;
	default:
		rc = exec_transition(e, b, c);
		break;
	}
	if (rc != JG_OK)
		request_clear(&c->out);
	c->err = rc;
	if (is_store_failure(rc))
		b->failed = true;
}

/* Expires or times out the request of a due deadline, if it still applies. */
static void exec_deadline(struct engine *e, struct batch *b, int64_t id)
{
	struct request r;
	struct core_result res;
	enum req_state before;
	int rc;

	rc = store_tx_request_get(e->store, id, &r);
	if (rc != JG_OK) {
		if (rc != JG_ERR_NOTFOUND)
			b->failed = true;
		return;
	}
	before = r.state;
	if (notices_fire(b->cfg, &r, b->now_ms, &res) == JG_OK) {
		/* a reminder, escalation or expiry warning: sent once, as the
		 * request now says so in the same transaction */
		struct effect *f;

		rc = store_tx_request_update(e->store, &r);
		for (size_t i = 0; rc == JG_OK && i < res.nactions; i++)
			rc = append_transition(e, b, res.actions[i], REQ_SYSTEM_ACTOR, &r,
					       NULL, &res, NULL);
		if (rc != JG_OK)
			b->failed = true;
		else if (notices_next_at(b->cfg, &r) != 0 &&
			 (f = fx_add(b, EFF_DEADLINE, id)) != NULL)
			f->at_ms = notices_next_at(b->cfg, &r);
		request_clear(&r);
		return;
	}
	if (r.state == REQ_ACTIVE)
		rc = core_request_expire(&r, b->now_ms, &res);
	else
		rc = core_request_timeout(&r, b->now_ms, &res);
	if (rc == JG_OK) {
		rc = store_tx_request_update(e->store, &r);
		for (size_t i = 0; rc == JG_OK && i < res.nactions; i++)
			rc = append_transition(e, b, res.actions[i], REQ_SYSTEM_ACTOR, &r, NULL, &res, NULL);
		if (rc == JG_OK) {
			fx_for_request(b, &r, before, false);
			fx_changed(e, b, &r);
		} else
			b->failed = true;
	} else if (rc == JG_ERR_CONFLICT && core_request_deadline(&r) > b->now_ms) {
		/* not due yet (a deadline entry older than the request's current
		 * one): keep waiting for the right time */
		struct effect *f = fx_add(b, EFF_DEADLINE, id);

		if (f)
			f->at_ms = core_request_deadline(&r);
		/* a notice whose time moved (remind_after changed by a reload) */
		if (notices_next_at(b->cfg, &r) > b->now_ms &&
		    (f = fx_add(b, EFF_DEADLINE, id)) != NULL)
			f->at_ms = notices_next_at(b->cfg, &r);
	}
	request_clear(&r);
}

static bool finish_batch(struct engine *e, struct batch *b,
			 struct engine_cmd *cmds, struct deadline *due, size_t ndue,
			 int64_t started_ns)
{
	bool ok = !b->failed, resume;

	if (!ok) {
		store_rollback(e->store);
		atomic_fetch_add(&e->m->commit_failures, 1);
		if (audit_writer_load(e->audit, e->store) != JG_OK)
			log_error(NULL, "cannot re-read the audit head after a failed commit");
		for (size_t i = 0; i < ndue; i++)
			if (deadlines_push(&e->dl, due[i].at_ms, due[i].request_id) != JG_OK)
				log_error(NULL, "lost a deadline after a failed commit");
		/* An expiry is a fact of time, not a decision: sessions relying on
		 * a grant whose time is up are cut even when the store is down
		 * (checks already deny it by its expires_at). */
		for (size_t i = 0; i < b->nfx; i++)
			if (b->fx[i].kind == EFF_ENDED && e->hooks.grant_ended &&
			    strcmp(b->fx[i].why, "expired") == 0)
				e->hooks.grant_ended(e->hooks.ctx, b->fx[i].id, "expired");
		e->retry_at_ms = time_now_ms() + RETRY_MS;
	} else {
		if (b->wrote_pending) {
			json_decref(e->pending_event);
			e->pending_event = NULL;
			log_info(NULL, "the store takes writes again: config.loaded written, ready");
			if (e->hooks.start_degraded)
				e->hooks.start_degraded(e->hooks.ctx, NULL);
		}
		/* what this node just wrote is in memory, after all before it */
		e->applied_seq = audit_writer_seq(e->audit);
		apply_effects(e, b);
		/* a reload takes effect now that its config.loaded is durable */
		if (b->config) {
			cfgholder_publish(e->cfg, b->config);
			b->config = NULL;
		}
		for (int a = 0; a < ACT_COUNT; a++)
			if (b->counts[a])
				atomic_fetch_add(&e->m->transitions[a], b->counts[a]);
		metrics_observe(&e->m->audit_append_latency, time_mono_ns() - started_ns);
	}
	if (b->config) { /* not durable: the running config stays */
		cfgref_put(b->config);
		b->config = NULL;
	}
	fx_free(b);

	pthread_mutex_lock(&e->lock);
	for (struct engine_cmd *c = cmds, *next; c; c = next) {
		next = c->next;
		if (c->flow)
			e->flow_inflight--;
		/* a refusal may have depended on work of this batch that was
		 * rolled back: after a failed commit every answer is 503 */
		if (!ok) {
			request_clear(&c->out);
			c->err = JG_ERR_STORE;
			snprintf(c->res.message, sizeof(c->res.message),
				 "the store or audit log is not writable; nothing was changed");
		}
		/* the engine owns a command's event once queued: the batch
		 * appends a reference of its own (it may run twice), and the
		 * event is released here, written or not (a batch that failed
		 * before reaching it, e.g. at BEGIN on a locked store) */
		json_decref(c->event);
		c->event = NULL;
		if (c->async) {
			if (c->err != JG_OK)
				atomic_fetch_add(&e->m->audit_dropped, 1);
			free(c);
		} else if (c->on_done) {
			c->done = true;
			c->on_done(c, c->on_done_arg);
		} else {
			c->done = true;
		}
	}
	resume = e->flow_waiting && e->flow_inflight <= ENGINE_FLOW_LOW;
	if (resume)
		e->flow_waiting = false;
	pthread_cond_broadcast(&e->done);
	pthread_mutex_unlock(&e->lock);
	if (resume && e->hooks.audit_resume)
		e->hooks.audit_resume(e->hooks.ctx);
	return ok;
}

/* Tells the store which requests the batch will read and how many it
 * creates: on PostgreSQL they come with the audit head in one round trip
 * instead of one each. */
static int prefetch(struct engine *e, const struct engine_cmd *cmds,
		    const struct deadline *due, size_t ndue)
{
	int64_t ids[2 * BATCH_MAX]; /* one per command and per deadline */
	size_t n = 0, creates = 0;

	for (const struct engine_cmd *c = cmds; c; c = c->next) {
		if (c->op == ENG_CREATE) {
			creates++;
			if (c->create.extends != 0)
				ids[n++] = c->create.extends;
		} else if (c->op != ENG_AUDIT && c->op != ENG_KV_PUT) {
			ids[n++] = c->id;
		}
	}
	for (size_t i = 0; i < ndue; i++)
		ids[n++] = due[i].request_id;
	return store_tx_prefetch(e->store, ids, n, creates);
}

/* Runs the batch up to its commit: catch up, the pending event, due
 * deadlines, the commands.  Sets b->failed. */
static void exec_batch(struct engine *e, struct batch *b, struct engine_cmd *cmds,
		       const struct deadline *due, size_t ndue, bool resync)
{
	/* the head is re-read in every batch: on a shared store another node
	 * may have appended since (and on PostgreSQL this takes the chain's
	 * lock until the commit, or is verified at it); cut off, nothing is
	 * tried */
	if (atomic_load(&e->cut_off) || store_begin(e->store) != JG_OK ||
	    prefetch(e, cmds, due, ndue) != JG_OK ||
	    audit_writer_load(e->audit, e->store) != JG_OK) {
		store_rollback(e->store);
		b->failed = true;
	} else if ((audit_writer_seq(e->audit) > e->applied_seq &&
		    catch_up(e, audit_writer_seq(e->audit)) != JG_OK) ||
		   (resync && store_tx_requests_live(e->store, apply_remote, e) != JG_OK)) {
		b->failed = true;
	}
	/* first in the chain after a degraded start, as in a normal one */
	if (!b->failed && e->pending_event) {
		if (append_event(e, b, json_incref(e->pending_event), NULL, NULL) == JG_OK)
			b->wrote_pending = true;
		else
			b->failed = true;
	}
	for (size_t i = 0; i < ndue && !b->failed; i++)
		exec_deadline(e, b, due[i].request_id);
	for (struct engine_cmd *c = cmds; c && !b->failed; c = c->next)
		exec_cmd(e, b, c);
}

/* Undoes what a batch that was not committed did to itself and its
 * commands, before it runs again. */
static void reset_batch(struct batch *b, struct engine_cmd *cmds)
{
	fx_free(b);
	memset(b->counts, 0, sizeof(b->counts));
	b->failed = false;
	b->wrote_pending = false;
	for (struct engine_cmd *c = cmds; c; c = c->next) {
		request_clear(&c->out);
		memset(&c->res, 0, sizeof(c->res));
		c->err = JG_OK;
		/* a reload's staged config goes back to its command */
		if (c->op == ENG_CONFIG && c->config == NULL && b->config) {
			c->config = b->config;
			b->config = NULL;
		}
	}
}

/* One transaction: catch up with other nodes (and with resync, reload
 * every live request), fire due deadlines if this node holds the lease,
 * run the commands, commit.  Without the lease and without commands no
 * transaction is needed: due deadlines only leave memory. */
static bool run_batch(struct engine *e, struct engine_cmd *cmds, bool resync)
{
	struct deadline due[BATCH_MAX], next;
	size_t ndue = 0;
	struct batch b = {0};
	struct cfgref *ref;
	int64_t started = time_mono_ns();
	bool fire = atomic_load(&e->lease), ok;

	b.now_ms = time_now_ms();
	if (!fire)
		expire_locally(e, b.now_ms);
	if (cmds == NULL && !resync &&
	    !(fire && deadlines_peek(&e->dl, &next) && next.at_ms <= b.now_ms &&
	      b.now_ms >= e->retry_at_ms) &&
	    !(e->pending_event && b.now_ms >= e->retry_at_ms))
		return true;
	ref = cfgholder_get(e->cfg);
	b.cfg = cfgref_config(ref);
	/* due deadlines are taken first so that their requests are read in
	 * the batch's first round trip (put back if the batch fails) */
	if (fire && b.now_ms >= e->retry_at_ms)
		while (ndue < BATCH_MAX && deadlines_pop_due(&e->dl, b.now_ms, &due[ndue]))
			ndue++;
	/* a store that built the batch on a view another node has moved
	 * since (PostgreSQL's optimistic batch) refuses the commit with
	 * JG_ERR_CONFLICT: the batch runs once more, from scratch, with the
	 * head locked and read */
	for (int attempt = 0;; attempt++) {
		int rc;

		exec_batch(e, &b, cmds, due, ndue, resync);
		if (b.failed)
			break;
		rc = store_commit(e->store);
		if (rc == JG_OK)
			break;
		b.failed = true;
		if (rc != JG_ERR_CONFLICT || attempt > 0)
			break;
		log_info(NULL, "another node appended to the audit chain meanwhile (a refused"
			       " append above is that): the batch runs again with the head locked");
		store_rollback(e->store);
		reset_batch(&b, cmds);
	}
	ok = finish_batch(e, &b, cmds, due, ndue, started);
	cfgref_put(ref);
	return ok;
}

/* Takes up to BATCH_MAX queued commands (caller holds e->lock). */
static struct engine_cmd *take_cmds(struct engine *e)
{
	struct engine_cmd *cmds = e->head, *c = cmds, *last = NULL;
	size_t n = 0;

	while (c && n < BATCH_MAX) {
		last = c;
		c = c->next;
		n++;
		/* what comes after a reload is decided under the new config */
		if (last->op == ENG_CONFIG)
			break;
	}
	if (last)
		last->next = NULL;
	e->head = c;
	if (c == NULL)
		e->tail = NULL;
	e->queued -= n;
	return cmds;
}

/* Sleeps until work arrives or the next deadline or retry (caller holds
 * e->lock). */
static void wait_work(struct engine *e, bool sync_pending)
{
	struct deadline next;
	int64_t until = 0;

	if (deadlines_peek(&e->dl, &next))
		until = next.at_ms > e->retry_at_ms ? next.at_ms : e->retry_at_ms;
	if (sync_pending && (until == 0 || e->retry_at_ms < until))
		until = e->retry_at_ms;
	if (until) {
		struct timespec ts = {
			.tv_sec = (time_t)(until / 1000),
			.tv_nsec = (long)(until % 1000) * 1000000L,
		};

		pthread_cond_timedwait(&e->wake, &e->lock, &ts);
	} else {
		pthread_cond_wait(&e->wake, &e->lock);
	}
}

static void *engine_main(void *arg)
{
	struct engine *e = arg;

	pthread_mutex_lock(&e->lock);
	/* after stop, what is already queued still runs (the audit events of
	 * parts stopped before the engine); nothing new is queued */
	while (!e->stop || e->head != NULL) {
		struct deadline next;
		int64_t now = time_now_ms();
		bool due = (deadlines_peek(&e->dl, &next) && next.at_ms <= now &&
			    now >= e->retry_at_ms) ||
			   (e->pending_event && now >= e->retry_at_ms);
		bool cut = atomic_load(&e->cut_off);
		bool pending = !cut && (e->remote_seq > e->applied_seq || e->catch_up_head ||
					e->resync);
		bool sync = pending && now >= e->retry_at_ms;
		bool resync, head;
		struct engine_cmd *cmds;

		if (e->head == NULL && !due && !sync) {
			if (e->stop)
				break;
			wait_work(e, pending || e->pending_event);
			continue;
		}
		cmds = take_cmds(e);
		resync = sync && e->resync;
		/* a notification is only a hint (anyone who may connect to the
		 * database can send one): catch up to the real head */
		head = sync && (e->catch_up_head || e->remote_seq > e->applied_seq);
		if (sync) {
			e->resync = false;
			e->catch_up_head = false;
			e->remote_seq = 0;
		}
		pthread_mutex_unlock(&e->lock);
		/* alone, a notification costs no lock: a plain catch-up */
		if (head && cmds == NULL && !resync) {
			if (catch_up(e, 0) == JG_OK)
				head = false;
			else
				e->retry_at_ms = time_now_ms() + RETRY_MS;
		}
		/* a batch catches up to the head itself; a failed one is tried
		 * again later (finish_batch set retry_at) */
		if (run_batch(e, cmds, resync)) {
			if (cmds != NULL || resync)
				head = false;
			resync = false;
		}
		if (atomic_load(&e->cut_off))
			drop_all(e, "the access store is unreachable");
		pthread_mutex_lock(&e->lock);
		e->catch_up_head |= head;
		e->resync |= resync;
	}
	/* nothing queued after stop will run: answer every waiter */
	for (struct engine_cmd *c = e->head, *next; c; c = next) {
		next = c->next;
		if (c->async)
			continue;
		c->err = JG_ERR_UNAVAILABLE;
		c->done = true;
		if (c->on_done)
			c->on_done(c, c->on_done_arg);
	}
	pthread_cond_broadcast(&e->done);
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

/* Caller holds e->lock. */
static int enqueue(struct engine *e, struct engine_cmd *c)
{
	/* flow events are bounded by their producer waiting, not here */
	if (e->stop || (e->queued >= QUEUE_MAX && !c->flow))
		return JG_ERR_UNAVAILABLE;
	c->next = NULL;
	if (e->tail)
		e->tail->next = c;
	else
		e->head = c;
	e->tail = c;
	e->queued++;
	pthread_cond_signal(&e->wake);
	return JG_OK;
}

static void cmd_reset(struct engine_cmd *cmd)
{
	memset(&cmd->res, 0, sizeof(cmd->res));
	memset(&cmd->out, 0, sizeof(cmd->out));
	cmd->done = false;
	cmd->async = false;
	cmd->err = JG_OK;
}

int engine_submit(struct engine *e, struct engine_cmd *cmd)
{
	int rc;

	cmd_reset(cmd);
	pthread_mutex_lock(&e->lock);
	rc = enqueue(e, cmd);
	pthread_mutex_unlock(&e->lock);
	return rc;
}

int engine_run(struct engine *e, struct engine_cmd *cmd)
{
	int rc;

	cmd_reset(cmd);
	cmd->on_done = NULL;
	pthread_mutex_lock(&e->lock);
	rc = enqueue(e, cmd);
	if (rc == JG_OK)
		while (!cmd->done)
			pthread_cond_wait(&e->done, &e->lock);
	pthread_mutex_unlock(&e->lock);
	if (rc != JG_OK) {
		cmd->err = rc;
		snprintf(cmd->res.message, sizeof(cmd->res.message),
			 "jitgate is overloaded or shutting down; nothing was changed");
		json_decref(cmd->event);
		cmd->event = NULL;
	}
	return cmd->err;
}

void engine_audit_async(struct engine *e, json_t *event)
{
	struct engine_cmd *c;
	int rc;

	if (event == NULL) {
		/* the producer could not build it (out of memory, or a
		 * json_pack over text that is not UTF-8: use canon_string) */
		log_error(NULL, "an audit event could not be built: counted as dropped");
		atomic_fetch_add(&e->m->audit_dropped, 1);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		json_decref(event);
		atomic_fetch_add(&e->m->audit_dropped, 1);
		return;
	}
	c->op = ENG_AUDIT;
	c->event = event;
	c->async = true;
	pthread_mutex_lock(&e->lock);
	rc = enqueue(e, c);
	pthread_mutex_unlock(&e->lock);
	if (rc != JG_OK) {
		log_warn(NULL, "audit queue full: dropping one event");
		atomic_fetch_add(&e->m->audit_dropped, 1);
		json_decref(event);
		free(c);
	}
}

bool engine_audit_flow(struct engine *e, json_t *event)
{
	struct engine_cmd *c = calloc(1, sizeof(*c));
	bool busy = false;
	int rc;

	if (c == NULL) {
		json_decref(event);
		atomic_fetch_add(&e->m->audit_dropped, 1);
		return false;
	}
	c->op = ENG_AUDIT;
	c->event = event;
	c->async = true;
	c->flow = true;
	pthread_mutex_lock(&e->lock);
	rc = enqueue(e, c);
	if (rc == JG_OK) {
		e->flow_inflight++;
		busy = e->flow_inflight >= ENGINE_FLOW_HIGH;
		if (busy)
			e->flow_waiting = true;
	}
	pthread_mutex_unlock(&e->lock);
	if (rc != JG_OK) { /* stopping */
		atomic_fetch_add(&e->m->audit_dropped, 1);
		json_decref(event);
		free(c);
	}
	return busy;
}

/* ---- start-up recovery ---- */

struct live {
	struct request *v;
	size_t n, cap;
};

static int collect_live(void *ctx, const struct request *r)
{
	struct live *l = ctx;

	if (l->n == l->cap) {
		struct request *v = vec_grow(l->v, &l->cap, sizeof(*v), 256);

		if (v == NULL)
			return JG_ERR_NOMEM;
		l->v = v;
	}
	return request_copy(&l->v[l->n++], r) == JG_OK ? 0 : (l->n--, JG_ERR_NOMEM);
}

static json_t *config_event(const char *path, const char *digest,
			    const struct config *cfg)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:I, s:I}}", "action",
			 "config.loaded", "actor", REQ_SYSTEM_ACTOR, "detail", "path",
			 path ? path : "", "sha256", digest ? digest : "",
			 "policies", (json_int_t)cfg->npolicies, "resources",
			 (json_int_t)cfg->nresources);
}

/* engine_start when the recovery transaction could not be written: the
 * same reads outside a transaction, every live request back into memory
 * as it is stored (a deadline that passed while jitgate was down is due at
 * once and fires when the store takes writes; checks already deny an
 * expired grant by its expires_at), config.loaded kept for the first
 * batch that commits. */
static int start_degraded(struct engine *e, struct batch *b, struct live *l,
			  const char *config_digest)
{
	int rc = audit_writer_load(e->audit, e->store);

	if (rc == JG_OK)
		rc = store_tx_requests_live(e->store, collect_live, l);
	if (rc != JG_OK) {
		log_error(NULL, "cannot start: the store can be neither written nor read");
		return rc;
	}
	for (size_t i = 0; i < l->n; i++)
		fx_for_request(b, &l->v[i],
			       l->v[i].state == REQ_ACTIVE ? REQ_PENDING : REQ_ACTIVE, true);
	e->pending_event = config_event(b->cfg->path, config_digest, b->cfg);
	if (e->pending_event == NULL)
		return JG_ERR_NOMEM;
	e->retry_at_ms = 0;
	log_warn(NULL, "the store takes no writes (disk full?): started degraded from %zu "
		       "live requests; checks and cuts work, changes answer 503 until it can "
		       "be written", l->n);
	if (e->hooks.start_degraded)
		e->hooks.start_degraded(e->hooks.ctx, "the store is not writable (disk full?): "
						      "changes are refused until it is");
	return JG_OK;
}

int engine_start(struct engine *e, const char *config_digest)
{
	struct cfgref *ref = cfgholder_get(e->cfg);
	struct batch b = {0};
	struct live l = {0};
	int rc;

	b.cfg = cfgref_config(ref);
	b.now_ms = time_now_ms();
	rc = store_begin(e->store);
	if (rc == JG_OK)
		rc = audit_writer_load(e->audit, e->store);
	if (rc == JG_OK)
		rc = store_tx_requests_live(e->store, collect_live, &l);
	if (rc == JG_OK)
		rc = append_event(e, &b, config_event(b.cfg->path, config_digest, b.cfg),
				  NULL, NULL);
	for (size_t i = 0; rc == JG_OK && i < l.n; i++) {
		struct request *r = &l.v[i];
		int64_t deadline = core_request_deadline(r);

		if (deadline != 0 && deadline <= b.now_ms) {
			/* ended while jitgate was down: audited now, with the real
			 * end time as ended_at */
			exec_deadline(e, &b, r->id);
			if (b.failed)
				rc = JG_ERR_STORE;
		} else {
			fx_for_request(&b, r, r->state == REQ_ACTIVE ? REQ_PENDING : REQ_ACTIVE,
				       true);
		}
	}
	if (rc == JG_OK && !b.failed)
		rc = store_commit(e->store);
	else if (rc == JG_OK)
		rc = JG_ERR_STORE;
	if (rc != JG_OK) {
		store_rollback(e->store);
		if (rc != JG_ERR_STORE)
			goto out;
		/* the store took no write: start from what it holds */
		fx_free(&b);
		memset(&b, 0, sizeof(b));
		b.cfg = cfgref_config(ref);
		b.now_ms = time_now_ms();
		for (size_t i = 0; i < l.n; i++)
			request_clear(&l.v[i]);
		l.n = 0;
		rc = start_degraded(e, &b, &l, config_digest);
		if (rc != JG_OK)
			goto out;
	}
	e->applied_seq = audit_writer_seq(e->audit);
	apply_effects(e, &b);
	for (int a = 0; a < ACT_COUNT; a++)
		atomic_fetch_add(&e->m->transitions[a], b.counts[a]);
	log_info(NULL, "recovered %zu live requests, %zu active grants, audit head seq %lld",
		 l.n, grant_index_count(e->gi), (long long)audit_writer_seq(e->audit));
	if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
		rc = JG_ERR_INTERNAL;
		goto out;
	}
	e->running = true;
out:
	fx_free(&b);
	for (size_t i = 0; i < l.n; i++)
		request_clear(&l.v[i]);
	free(l.v);
	cfgref_put(ref);
	return rc;
}

int engine_config_reload(struct engine *e, struct config *cfg, const char *path,
			 const char *digest, char *why, size_t whylen)
{
	struct engine_cmd c = {.op = ENG_CONFIG};
	int rc;

	snprintf(why, whylen, "out of memory");
	c.event = config_event(path, digest, cfg);
	if (c.event == NULL) {
		config_free(cfg);
		return JG_ERR_NOMEM;
	}
	if (cfgholder_stage(e->cfg, cfg, &c.config) != JG_OK) {
		json_decref(c.event);
		config_free(cfg);
		return JG_ERR_NOMEM;
	}
	rc = engine_run(e, &c);
	if (rc != JG_OK)
		snprintf(why, whylen, "%s", c.res.message[0] ? c.res.message : jg_strerror(rc));
	if (c.config) /* not published (the batch failed, or never ran) */
		cfgref_put(c.config);
	return rc;
}

void engine_stop(struct engine *e)
{
	if (!e->running)
		return;
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
	pthread_join(e->thread, NULL);
	e->running = false;
}

void engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	engine_stop(e);
	/* commands still queued after stop are async audit events */
	for (struct engine_cmd *c = e->head, *next; c; c = next) {
		next = c->next;
		if (c->async) {
			json_decref(c->event);
			free(c);
		}
	}
	json_decref(e->pending_event);
	deadlines_free(&e->dl);
	audit_writer_free(e->audit);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->wake);
	pthread_cond_destroy(&e->done);
	free(e);
}

int64_t engine_audit_head(struct engine *e)
{
	return atomic_load(&e->head_seq);
}
