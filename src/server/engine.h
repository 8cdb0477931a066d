/* The engine: the one thread that changes state.  It owns the store's
 * write side, the audit chain head and the deadline heap, and applies
 * commands in batches: every command of a batch and every deadline that
 * came due is evaluated by the pure core inside one store transaction, with
 * its audit events and outbox rows, and the batch is made durable by one
 * commit (group commit).  Only after the commit do callers get answers and
 * the grant index, the deadlines and the gateway see the change; if the
 * commit fails, nothing of the batch happened and every caller gets
 * JG_ERR_STORE (fail closed). */
#ifndef JG_SERVER_ENGINE_H
#define JG_SERVER_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/grant_index.h"
#include "core/request.h"
#include "server/cfgref.h"
#include "server/metrics.h"
#include "store/store.h"

struct engine;

enum engine_op {
	ENG_CREATE,
	ENG_APPROVE,
	ENG_DENY,
	ENG_CANCEL,
	ENG_REVOKE,
	ENG_REVIEW,
	ENG_AUDIT,  /* append one audit event given in cmd.event */
	ENG_KV_PUT, /* store key/value (e.g. the last good JWKS) */
	ENG_CONFIG, /* a reload: append cmd.event (config.loaded), then make
		       cmd.config the live config after the commit; ends its
		       batch, so what follows runs under the new config */
};

struct engine_cmd {
	enum engine_op op;
	const struct subject *who; /* borrowed until engine_run returns */
	int64_t id;                /* the request acted on */
	struct create_input create;
	const char *comment; /* approve/deny/review comment, revoke reason */
	json_t *event;       /* ENG_AUDIT: action, actor and optional request_id,
				subject, resource, role, detail; stolen */
	const char *key, *value; /* ENG_KV_PUT */
	struct cfgref *config;   /* ENG_CONFIG: staged (cfgholder_stage);
				    taken when published */
	const char *via;     /* NULL, or the door ("slack"): audited as detail.via */

	/* results */
	int err;                 /* 0 or JG_ERR_* */
	struct core_result res;  /* why a transition was refused */
	struct request out;      /* the request after the change; caller clears */

	/* engine_submit: called on the engine thread once the outcome is
	 * durable (or refused); must not block */
	void (*on_done)(struct engine_cmd *cmd, void *arg);
	void *on_done_arg;

	/* internal */
	bool done;
	bool async;
	bool flow; /* engine_audit_flow: counted in flight, never dropped */
	struct engine_cmd *next;
};

struct engine_hooks {
	void *ctx;
	/* After a grant ended (revoke committed, or expiry came): called on
	 * the engine thread, must not block. */
	void (*grant_ended)(void *ctx, int64_t request_id, const char *why);
	/* engine_audit_flow said "backed up" and the events in flight have
	 * since dropped below the low mark: the producer may go on.  Called
	 * on the engine thread, must not block. */
	void (*audit_resume)(void *ctx);
	/* After any change of a request is durable: the request as it is now
	 * and the seq of the last audit event of that change.  Engine thread,
	 * must not block (copy what is kept). */
	void (*request_changed)(void *ctx, const struct request *r, int64_t seq);
	/* The engine started from a store it can read but not write (why:
	 * what to tell /readyz), or, why NULL, that store took its first
	 * write.  Main thread at start, then the engine thread; must not
	 * block.  May be NULL. */
	void (*start_degraded)(void *ctx, const char *why);
};

int engine_new(struct store *st, struct grant_index *gi, struct cfgholder *cfg,
	       struct metrics *m, const struct engine_hooks *hooks,
	       struct engine **out) JG_WUR;
/* Recovers state from the store (index, deadlines; grants and pending
 * requests whose time ran out while jitgate was down end now, audited with
 * their real end time), appends config.loaded, and starts the thread.
 * When the store can be read but not written (disk full), it starts
 * degraded: memory is rebuilt from what the store holds, so checks and
 * cuts work, every change answers JG_ERR_STORE, ended-while-down requests
 * and config.loaded are written once the store takes writes again
 * (hooks.start_degraded tells when). */
int engine_start(struct engine *e, const char *config_digest) JG_WUR;
/* Runs cmd and waits for its durable outcome; returns cmd->err. */
int engine_run(struct engine *e, struct engine_cmd *cmd) JG_WUR;
/* Queues cmd and returns at once; cmd->on_done reports the outcome.  A
 * negative return means it was not queued (JG_ERR_UNAVAILABLE: overloaded
 * or stopping) and on_done will not be called. */
int engine_submit(struct engine *e, struct engine_cmd *cmd) JG_WUR;
/* Queues one audit event without waiting (event stolen).  Used where the
 * caller must not block (gateway loop).  A full queue drops the event and
 * counts it in metrics. */
void engine_audit_async(struct engine *e, json_t *event);
/* Queues one audit event for a producer that can wait rather than lose
 * events (the gateway: one session.query per statement).  The event is
 * never dropped for a full queue (only when the engine is stopping, or out
 * of memory, both counted in metrics).  Returns true when
 * ENGINE_FLOW_HIGH such events are in flight: the producer should stop
 * producing until hooks.audit_resume is called. */
#define ENGINE_FLOW_HIGH 2048
#define ENGINE_FLOW_LOW 1024
bool engine_audit_flow(struct engine *e, json_t *event);
/* A reload: appends config.loaded of cfg (owned from now on) and makes
 * cfg the live config only once that event is durable (effects after
 * commit): whoever sees the new config can find its config.loaded in the
 * audit log.  When the event cannot be written the running config stays,
 * cfg is freed, and why says what failed.  Waits for the outcome. */
int engine_config_reload(struct engine *e, struct config *cfg, const char *path,
			 const char *digest, char *why, size_t whylen) JG_WUR;
/* The seq of the newest durable audit event (any thread). */
int64_t engine_audit_head(struct engine *e);
/* Several nodes on one store (design section 12), called by the store's
 * watch on its thread; none blocks.
 * Another node committed events up to seq (0: unknown, catch up to the
 * head): the engine applies them to the grant index, the deadlines and
 * the gateway. */
void engine_remote_changed(struct engine *e, int64_t seq);
/* Whether this node fires deadlines (default true; a node of a shared
 * store starts without and gets it from the lease).  On gaining it the
 * engine reloads the deadlines of every live request. */
void engine_set_lease(struct engine *e, bool held);
/* ok false: the store has been out of reach for stale_after: every grant
 * leaves memory at once (checks deny, gateway sessions are cut) and
 * writes fail without waiting.  ok true: memory is rebuilt from the
 * store. */
void engine_set_reachable(struct engine *e, bool ok);
void engine_stop(struct engine *e);
void engine_free(struct engine *e);

#endif
