/* The request state machine (design section 1).  Pure: every function
 * takes the config, the acting subject and the current time, and either
 * changes the request and reports the audit actions that change produces,
 * or leaves the request untouched and reports why not. */
#ifndef JG_CORE_REQUEST_H
#define JG_CORE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "core/actions.h"
#include "core/principal.h"
#include "util/err.h"

#define REQ_MAX_APPROVALS 16
#define REQ_REASON_MAX 1024
#define REQ_TICKET_MAX 128
#define REQ_COMMENT_MAX 1024
/* The actor name used for transitions made by jitgate itself. */
#define REQ_SYSTEM_ACTOR "jitgate"

enum req_state {
	REQ_PENDING,
	REQ_ACTIVE,
	REQ_DENIED,
	REQ_CANCELED,
	REQ_EXPIRED,
	REQ_REVOKED,
	REQ_TIMED_OUT,
	REQ_STATE_COUNT
};

struct approval {
	char *by;
	int64_t at_ms;
	char *comment; /* NULL when none */
};

/* Times are ms since the epoch; 0 means "not set".  All strings are owned
 * by the request (request_clear frees them). */
struct request {
	int64_t id;
	enum req_state state;
	char *requester;
	char *resource;
	char *role;
	int64_t duration_s;
	char *reason; /* NULL when none */
	char *ticket; /* NULL when none */
	char *policy;
	int approvals_required;
	struct approval approvals[REQ_MAX_APPROVALS];
	size_t napprovals;
	int64_t created_at, pending_until, activated_at, expires_at, ended_at;
	char *ended_by;
	bool break_glass;
	bool review_required;
	char *reviewed_by;
	int64_t extends; /* 0 when none */
	char *end_comment; /* the deny comment or revoke reason; NULL when none */
	/* notices sent (core/notices.h), so that each fires once */
	int reminders;      /* reminders sent while pending */
	bool escalated;     /* escalate_to told */
	bool expiry_warned; /* requester told the grant ends soon */
};

/* What a transition produced, or why it was refused. */
struct core_result {
	int err;            /* 0 or JG_ERR_INVALID/FORBIDDEN/CONFLICT/NOTFOUND */
	const char *field;  /* offending input field for JG_ERR_INVALID */
	char message[256];
	enum audit_action actions[4]; /* audit events to append, in order */
	size_t nactions;
	/* The rule that made the decision (core/flow.h FLOW_RULE_*, audited as
	 * detail.rule) and, for an approval under stages, its 1-based stage
	 * (detail.stage; 0 when none). */
	const char *rule;
	int stage;
};

struct create_input {
	const char *resource;
	const char *role;
	int64_t duration_s;
	const char *reason; /* NULL or "" when none */
	const char *ticket;
	bool break_glass;
	int64_t extends;                 /* 0 when none */
	const struct request *extended;  /* the request named by extends, or NULL if it does not exist */
};

const char *req_state_name(enum req_state s);
bool req_state_parse(const char *name, enum req_state *out);
bool req_state_terminal(enum req_state s);

/* Frees the strings of r and zeroes it. */
void request_clear(struct request *r);
/* Deep copy; JG_ERR_NOMEM on failure (dst is then cleared). */
int request_copy(struct request *dst, const struct request *src) JG_WUR;

/* Builds a new request for who.  On success *out is filled (id 0: the
 * store assigns it) in state pending or active. */
int core_request_create(const struct config *cfg, const struct subject *who,
			const struct create_input *in, int64_t now_ms,
			struct request *out, struct core_result *res) JG_WUR;
int core_request_approve(const struct config *cfg, struct request *r,
			 const struct subject *who, const char *comment,
			 int64_t now_ms, struct core_result *res) JG_WUR;
int core_request_deny(const struct config *cfg, struct request *r,
		      const struct subject *who, const char *comment,
		      int64_t now_ms, struct core_result *res) JG_WUR;
int core_request_cancel(struct request *r, const struct subject *who,
			int64_t now_ms, struct core_result *res) JG_WUR;
/* reason (NULL or "" when none) becomes r->end_comment. */
int core_request_revoke(const struct config *cfg, struct request *r,
			const struct subject *who, const char *reason,
			int64_t now_ms, struct core_result *res) JG_WUR;
int core_request_review(const struct config *cfg, struct request *r,
			const struct subject *who, int64_t now_ms,
			struct core_result *res) JG_WUR;
/* Deadline transitions: expire an active grant whose expires_at has come,
 * time out a pending request whose pending_until has come.  JG_ERR_CONFLICT
 * when the deadline does not apply (already ended, not yet due). */
int core_request_expire(struct request *r, int64_t now_ms,
			struct core_result *res) JG_WUR;
int core_request_timeout(struct request *r, int64_t now_ms,
			 struct core_result *res) JG_WUR;

/* The next deadline of r (expires_at or pending_until), 0 when none. */
int64_t core_request_deadline(const struct request *r);

/* Eligible to approve, deny or review r at now_ms (the open stage's
 * approvers, escalate_to once due; the self-approval rule applied). */
bool core_may_decide(const struct config *cfg, const struct request *r,
		     const struct subject *who, int64_t now_ms);
/* May read r: requester, approvers (any stage, escalate_to) of its policy,
 * admins. */
bool core_may_view(const struct config *cfg, const struct request *r,
		   const struct subject *who);
/* May revoke r: holder, approvers of its policy, admins. */
bool core_may_revoke(const struct config *cfg, const struct request *r,
		     const struct subject *who);

#endif
