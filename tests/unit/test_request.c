/* The request state machine (design section 1): one test per rule, the
 * deadline transitions, terminal states, and the audit actions each
 * transition reports.  A refusal must leave the request exactly as it was,
 * so every refusal below is checked against a deep copy taken before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/grant_index.h"
#include "core/policy.h"
#include "core_fixture.h"

FX_SUBJECT(alice, "alice", "eng", NULL);        /* requester */
FX_SUBJECT(bob, "bob", "eng", "sre", NULL);     /* requester and approver */
FX_SUBJECT(carol, "carol", NULL);               /* approver by user: */
FX_SUBJECT(dave, "dave", "sre", NULL);          /* approver by group: */
FX_SUBJECT(erin, "erin", "security", NULL);     /* admin */
FX_SUBJECT(mallory, "mallory", "contractors", NULL); /* nobody */

static const char CONFIG[] =
	"pending_ttl: 1h\n"
	"admins: [group:security]\n"
	"resources:\n"
	"  - {name: orders-db, kind: generic, roles: {read: {}, write: {}, admin: {}}}\n"
	"  - {name: billing-api, kind: generic, roles: {read: {}, admin: {}}}\n"
	"policies:\n"
	"  - name: engineers-read\n"
	"    requesters: [group:eng]\n"
	"    resources: [orders-db]\n"
	"    roles: [read]\n"
	"    max_duration: 4h\n"
	"    approvals: 0\n"
	"  - name: prod-write\n"
	"    requesters: [group:eng]\n"
	"    resources: [\"*\"]\n"
	"    roles: [write, admin]\n"
	"    max_duration: 1h\n"
	"    approvals: 2\n"
	"    approvers: [group:sre, user:carol]\n"
	"    require_reason: true\n"
	"    ticket_pattern: \"^OPS-[0-9]+$\"\n"
	"    break_glass: {max_duration: 30m}\n"
	"  - name: billing-read\n"
	"    requesters: [group:eng]\n"
	"    resources: [billing-api]\n"
	"    roles: [read]\n"
	"    max_duration: 2h\n"
	"    approvals: 1\n"
	"    approvers: [group:sre]\n"
	"    allow_self_approval: true\n";

static struct config *cfg;
static int64_t next_id;

static int setup(void **state)
{
	(void)state;
	cfg = fx_config(CONFIG);
	next_id = 1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	config_free(cfg);
	cfg = NULL;
	return 0;
}

struct mk {
	const char *resource, *role;
	int64_t duration_s;
	const char *reason, *ticket;
	bool break_glass;
	int64_t extends;
	const struct request *extended;
};

static int try_create(const struct subject *who, struct mk m, int64_t now,
		      struct request *out, struct core_result *res)
{
	struct create_input in = {
		.resource = m.resource,
		.role = m.role,
		.duration_s = m.duration_s,
		.reason = m.reason,
		.ticket = m.ticket,
		.break_glass = m.break_glass,
		.extends = m.extends,
		.extended = m.extended,
	};

	return core_request_create(cfg, who, &in, now, out, res);
}

/* Creates a request that must be accepted and gives it the next id. */
static void create_ok(const struct subject *who, struct mk m, int64_t now,
		      struct request *out, struct core_result *res)
{
	int rc = try_create(who, m, now, out, res);

	if (rc != 0)
		print_message("create refused: %d %s\n", rc, res->message);
	assert_int_equal(rc, 0);
	assert_int_equal(res->err, 0);
	assert_int_equal(out->id, 0); /* the store assigns ids */
	out->id = next_id++;
}

/* The request's create must be refused with err (and field, if given),
 * and must leave nothing behind. */
static void create_refused(const struct subject *who, struct mk m, int64_t now,
			   int err, const char *field)
{
	struct request out;
	struct request zero = {0};
	struct core_result res;
	int rc;

	memset(&out, 0x5a, sizeof(out));
	rc = try_create(who, m, now, &out, &res);
	if (rc != err || !fx_str_eq(res.field, field))
		print_message("want %d field %s, got %d field %s: %s\n", err,
			      field ? field : "-", rc,
			      res.field ? res.field : "-", res.message);
	assert_int_equal(rc, err);
	assert_int_equal(res.err, err);
	assert_true(fx_str_eq(res.field, field));
	assert_int_equal(res.nactions, 0);
	assert_true(res.message[0] != '\0');
	if (field != NULL)
		assert_non_null(strstr(res.message, field));
	assert_true(fx_request_equal(&out, &zero));
}

#define MK(...) ((struct mk){__VA_ARGS__})
#define PROD_WRITE MK(.resource = "orders-db", .role = "write", \
		      .duration_s = 1800, .reason = "deploy fix", .ticket = "OPS-7")

enum op { OP_APPROVE, OP_DENY, OP_CANCEL, OP_REVOKE, OP_REVIEW, OP_EXPIRE,
	  OP_TIMEOUT, OP_COUNT };

static const char *const op_names[OP_COUNT] = {
	"approve", "deny", "cancel", "revoke", "review", "expire", "timeout",
};

static int run_op(enum op op, struct request *r, const struct subject *who,
		  const char *comment, int64_t now, struct core_result *res)
{
	switch (op) {
	case OP_APPROVE:
		return core_request_approve(cfg, r, who, comment, now, res);
	case OP_DENY:
		return core_request_deny(cfg, r, who, comment, now, res);
	case OP_CANCEL:
		return core_request_cancel(r, who, now, res);
	case OP_REVOKE:
		return core_request_revoke(cfg, r, who, comment, now, res);
	case OP_REVIEW:
		return core_request_review(cfg, r, who, now, res);
	case OP_EXPIRE:
		return core_request_expire(r, now, res);
	case OP_TIMEOUT:
		return core_request_timeout(r, now, res);
	default:
		fail();
	}
	return 0;
}

/* A comment one byte over REQ_COMMENT_MAX. */
static const char *big_text(void)
{
	static char big[REQ_COMMENT_MAX + 2];

	memset(big, 'c', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	return big;
}

/* op must be refused with err and leave r deep-equal to what it was. */
static void refused(enum op op, struct request *r, const struct subject *who,
		    const char *comment, int64_t now, int err)
{
	struct request before;
	struct core_result res;
	int rc;

	assert_int_equal(request_copy(&before, r), 0);
	rc = run_op(op, r, who, comment, now, &res);
	if (rc != err)
		print_message("%s by %s on a %s request: want %d, got %d (%s)\n",
			      op_names[op], who ? who->name : "jitgate",
			      req_state_name(before.state), err, rc, res.message);
	assert_int_equal(rc, err);
	assert_int_equal(res.err, err);
	assert_int_equal(res.nactions, 0);
	assert_true(fx_request_equal(r, &before));
	request_clear(&before);
}

static void accepted(enum op op, struct request *r, const struct subject *who,
		     const char *comment, int64_t now, struct core_result *res)
{
	int rc = run_op(op, r, who, comment, now, res);

	if (rc != 0)
		print_message("%s by %s refused: %d %s\n", op_names[op],
			      who ? who->name : "jitgate", rc, res->message);
	assert_int_equal(rc, 0);
	assert_int_equal(res->err, 0);
}

/* ---- rule 1 ---- */

static void test_rule1_clock_starts_at_activation(void **state)
{
	struct request r;
	struct core_result res;

	(void)state;
	create_ok(&alice, PROD_WRITE, FX_T0, &r, &res);
	FX_ACTIONS(&res, ACT_REQUEST_CREATED);
	assert_int_equal(r.state, REQ_PENDING);
	assert_int_equal(r.created_at, FX_T0);
	assert_int_equal(r.pending_until, FX_T0 + FX_HOUR); /* pending_ttl */
	assert_int_equal(r.activated_at, 0);
	assert_int_equal(r.expires_at, 0);
	assert_int_equal(r.approvals_required, 2);
	assert_string_equal(r.policy, "prod-write");
	assert_int_equal(core_request_deadline(&r), FX_T0 + FX_HOUR);

	accepted(OP_APPROVE, &r, &carol, NULL, FX_T0 + 10 * FX_MIN, &res);
	FX_ACTIONS(&res, ACT_REQUEST_APPROVED);
	assert_int_equal(r.state, REQ_PENDING);
	assert_int_equal(r.expires_at, 0);
	accepted(OP_APPROVE, &r, &dave, NULL, FX_T0 + 20 * FX_MIN, &res);
	FX_ACTIONS(&res, ACT_REQUEST_APPROVED, ACT_REQUEST_ACTIVATED);
	assert_int_equal(r.state, REQ_ACTIVE);
	assert_int_equal(r.activated_at, FX_T0 + 20 * FX_MIN);
	/* 30 minutes from activation, not from the request */
	assert_int_equal(r.expires_at, FX_T0 + 50 * FX_MIN);
	assert_int_equal(r.expires_at, r.activated_at + r.duration_s * 1000);
	assert_int_equal(r.pending_until, 0);
	assert_int_equal(core_request_deadline(&r), FX_T0 + 50 * FX_MIN);
	request_clear(&r);

	/* a policy with no approvals activates at creation */
	create_ok(&alice, MK(.resource = "orders-db", .role = "read",
			     .duration_s = 4 * 3600), FX_T0 + 7, &r, &res);
	FX_ACTIONS(&res, ACT_REQUEST_CREATED, ACT_REQUEST_ACTIVATED);
	assert_int_equal(r.state, REQ_ACTIVE);
	assert_int_equal(r.approvals_required, 0);
	assert_int_equal(r.activated_at, FX_T0 + 7);
	assert_int_equal(r.expires_at, FX_T0 + 7 + 4 * FX_HOUR);
	assert_int_equal(r.pending_until, 0);
	assert_null(r.reason); /* none given */
	assert_null(r.ticket);
	request_clear(&r);
}

/* ---- rule 2 ---- */

static void test_rule2_over_max_refused_not_clamped(void **state)
{
	struct request r;
	struct core_result res;

	(void)state;
	create_ok(&alice, MK(.resource = "orders-db", .role = "read",
			     .duration_s = 4 * 3600), FX_T0, &r, &res);
	assert_int_equal(r.duration_s, 4 * 3600);
	request_clear(&r);
	create_refused(&alice, MK(.resource = "orders-db", .role = "read",
				  .duration_s = 4 * 3600 + 1), FX_T0,
		       JG_ERR_INVALID, "duration");
	create_refused(&alice, MK(.resource = "orders-db", .role = "read",
				  .duration_s = 366LL * 86400), FX_T0,
		       JG_ERR_INVALID, "duration");
	create_refused(&alice, MK(.resource = "orders-db", .role = "read",
				  .duration_s = 0), FX_T0, JG_ERR_INVALID,
		       "duration");
	create_refused(&alice, MK(.resource = "orders-db", .role = "read",
				  .duration_s = -60), FX_T0, JG_ERR_INVALID,
		       "duration");
	/* the message names the maximum */
	{
		struct request out;
		struct core_result rr;

		assert_int_equal(try_create(&alice, MK(.resource = "orders-db",
						       .role = "read",
						       .duration_s = 5 * 3600),
					    FX_T0, &out, &rr),
				 JG_ERR_INVALID);
		assert_non_null(strstr(rr.message, "4h"));
	}
	/* and the maximum is the matched policy's: 1h for prod-write */
	create_refused(&alice, MK(.resource = "orders-db", .role = "write",
				  .duration_s = 3601, .reason = "x",
				  .ticket = "OPS-1"), FX_T0, JG_ERR_INVALID,
		       "duration");
}

/* ---- rule 3 ---- */

static void test_rule3_distinct_approvers(void **state)
{
	struct request r;
	struct core_result res;

	(void)state;
	create_ok(&alice, PROD_WRITE, FX_T0, &r, &res);
	accepted(OP_APPROVE, &r, &carol, "lgtm", FX_T0 + 1, &res);
	assert_int_equal(r.napprovals, 1);
	assert_string_equal(r.approvals[0].by, "carol");
	assert_string_equal(r.approvals[0].comment, "lgtm");
	assert_int_equal(r.approvals[0].at_ms, FX_T0 + 1);
	/* the same subject again: 409, nothing changes, still pending */
	refused(OP_APPROVE, &r, &carol, "again", FX_T0 + 2, JG_ERR_CONFLICT);
	assert_int_equal(r.state, REQ_PENDING);
	assert_int_equal(r.napprovals, 1);
	/* a second, distinct approver activates */
	accepted(OP_APPROVE, &r, &dave, NULL, FX_T0 + 3, &res);
	FX_ACTIONS(&res, ACT_REQUEST_APPROVED, ACT_REQUEST_ACTIVATED);
	assert_int_equal(r.state, REQ_ACTIVE);
	assert_int_equal(r.napprovals, 2);
	assert_string_equal(r.approvals[1].by, "dave");
	assert_null(r.approvals[1].comment);
	/* approving an active request: 409 */
	refused(OP_APPROVE, &r, &bob, NULL, FX_T0 + 4, JG_ERR_CONFLICT);
	request_clear(&r);
}

static void test_rule3_self_approval(void **state)
{
	struct request r;
	struct core_result res;

	(void)state;
	/* bob is in sre, an approver of prod-write, which forbids self-approval */
	create_ok(&bob, PROD_WRITE, FX_T0, &r, &res);
	refused(OP_APPROVE, &r, &bob, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	assert_false(core_may_decide(cfg, &r, &bob, FX_T0 + 1));
	assert_true(core_may_decide(cfg, &r, &dave, FX_T0 + 1));
	/* after someone else's approval still not */
	accepted(OP_APPROVE, &r, &carol, NULL, FX_T0 + 2, &res);
	refused(OP_APPROVE, &r, &bob, NULL, FX_T0 + 3, JG_ERR_FORBIDDEN);
	assert_int_equal(r.napprovals, 1);
	request_clear(&r);

	/* billing-read allows it: bob's own approval activates */
	create_ok(&bob, MK(.resource = "billing-api", .role = "read",
			   .duration_s = 600), FX_T0, &r, &res);
	assert_int_equal(r.state, REQ_PENDING);
	assert_true(core_may_decide(cfg, &r, &bob, FX_T0 + 1));
	accepted(OP_APPROVE, &r, &bob, NULL, FX_T0 + 5, &res);
	FX_ACTIONS(&res, ACT_REQUEST_APPROVED, ACT_REQUEST_ACTIVATED);
	assert_int_equal(r.state, REQ_ACTIVE);
	assert_string_equal(r.approvals[0].by, "bob");
	request_clear(&r);

	/* allow_self_approval lets an approver approve their own request;
	 * it does not make a requester an approver */
	create_ok(&alice, MK(.resource = "billing-api", .role = "read",
			     .duration_s = 600), FX_T0, &r, &res);
	refused(OP_APPROVE, &r, &alice, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	request_clear(&r);
}

static void test_rule3_non_approvers_403(void **state)
{
	struct request r;
	struct core_result res;

	(void)state;
	create_ok(&bob, PROD_WRITE, FX_T0, &r, &res);
	refused(OP_APPROVE, &r, &alice, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	refused(OP_APPROVE, &r, &mallory, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	/* admins may revoke, but approving is for the policy's approvers */
	refused(OP_APPROVE, &r, &erin, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	/* the approver list is read from the config as it is now */
	{
		struct config *old = cfg;

		cfg = fx_config(
			"admins: [group:security]\n"
			"resources:\n"
			"  - {name: orders-db, kind: generic, roles: {write: {}}}\n"
			"policies:\n"
			"  - name: prod-write\n"
			"    requesters: [group:eng]\n"
			"    resources: [\"*\"]\n"
			"    roles: [write]\n"
			"    max_duration: 1h\n"
			"    approvals: 2\n"
			"    approvers: [user:carol, user:zoe]\n");
		refused(OP_APPROVE, &r, &dave, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
		accepted(OP_APPROVE, &r, &carol, NULL, FX_T0 + 1, &res);
		config_free(cfg);
		cfg = old;
	}
	/* a policy that no longer exists has no approvers */
	{
		struct config *old = cfg;

		cfg = fx_config("resources:\n"
				"  - {name: orders-db, kind: generic, roles: {write: {}}}\n");
		refused(OP_APPROVE, &r, &dave, NULL, FX_T0 + 2, JG_ERR_FORBIDDEN);
		refused(OP_DENY, &r, &dave, NULL, FX_T0 + 2, JG_ERR_FORBIDDEN);
		config_free(cfg);
		cfg = old;
	}
	request_clear(&r);
}

/* The largest threshold the config allows fills every approval slot. */
static void test_rule3_sixteen_approvals(void **state)
{
	struct config *old = cfg;
	static const char *const sre[] = {"sre"};
	struct subject approver[REQ_MAX_APPROVALS + 1];
	char names[REQ_MAX_APPROVALS + 1][16];
	struct request r;
	struct core_result res;

	(void)state;
	cfg = fx_config("resources:\n"
			"  - {name: orders-db, kind: generic, roles: {admin: {}}}\n"
			"policies:\n"
			"  - name: many\n"
			"    requesters: [group:eng]\n"
			"    resources: [orders-db]\n"
			"    roles: [admin]\n"
			"    max_duration: 1h\n"
			"    approvals: 16\n"
			"    approvers: [group:sre]\n");
	for (int i = 0; i <= REQ_MAX_APPROVALS; i++) {
		snprintf(names[i], sizeof(names[i]), "sre-%d", i);
		approver[i] = (struct subject){names[i], sre, 1};
	}
	create_ok(&alice, MK(.resource = "orders-db", .role = "admin",
			     .duration_s = 60), FX_T0, &r, &res);
	assert_int_equal(r.approvals_required, REQ_MAX_APPROVALS);
	for (int i = 0; i < REQ_MAX_APPROVALS - 1; i++) {
		accepted(OP_APPROVE, &r, &approver[i], NULL, FX_T0 + i, &res);
		FX_ACTIONS(&res, ACT_REQUEST_APPROVED);
		assert_int_equal(r.state, REQ_PENDING);
		refused(OP_APPROVE, &r, &approver[i], NULL, FX_T0 + i, JG_ERR_CONFLICT);
	}
	accepted(OP_APPROVE, &r, &approver[REQ_MAX_APPROVALS - 1], NULL,
		 FX_T0 + 100, &res);
	FX_ACTIONS(&res, ACT_REQUEST_APPROVED, ACT_REQUEST_ACTIVATED);
	assert_int_equal(r.state, REQ_ACTIVE);
	assert_int_equal(r.napprovals, REQ_MAX_APPROVALS);
	assert_int_equal(r.expires_at, FX_T0 + 100 + 60 * FX_S);
	refused(OP_APPROVE, &r, &approver[REQ_MAX_APPROVALS], NULL, FX_T0 + 101,
		JG_ERR_CONFLICT);
	request_clear(&r);
	config_free(cfg);
	cfg = old;
}

/* Every kind of refused approval leaves the request deep-equal. */
static void test_rule3_refused_approval_changes_nothing(void **state)
{
	struct request r;
	struct core_result res;
	char big[REQ_COMMENT_MAX + 2];

	(void)state;
	memset(big, 'c', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	create_ok(&bob, PROD_WRITE, FX_T0, &r, &res);
	accepted(OP_APPROVE, &r, &carol, NULL, FX_T0 + 1, &res);
	refused(OP_APPROVE, &r, &mallory, "x", FX_T0 + 2, JG_ERR_FORBIDDEN);
	refused(OP_APPROVE, &r, &bob, "x", FX_T0 + 2, JG_ERR_FORBIDDEN);
	refused(OP_APPROVE, &r, &carol, "x", FX_T0 + 2, JG_ERR_CONFLICT);
	refused(OP_APPROVE, &r, &dave, big, FX_T0 + 2, JG_ERR_INVALID);
	/* pending time is up but the timer has not fired yet */
	refused(OP_APPROVE, &r, &dave, NULL, FX_T0 + FX_HOUR, JG_ERR_CONFLICT);
	refused(OP_APPROVE, &r, &dave, NULL, FX_T0 + 5 * FX_HOUR, JG_ERR_CONFLICT);
	/* one millisecond before, it still counts */
	accepted(OP_APPROVE, &r, &dave, NULL, FX_T0 + FX_HOUR - 1, &res);
	assert_int_equal(r.state, REQ_ACTIVE);
	request_clear(&r);
}

/* ---- rule 4 ---- */

static void test_rule4_one_deny_ends(void **state)
{
	struct request r;
	struct core_result res;

	(void)state;
	create_ok(&alice, PROD_WRITE, FX_T0, &r, &res);
	accepted(OP_APPROVE, &r, &carol, NULL, FX_T0 + 1, &res);
	refused(OP_DENY, &r, &alice, NULL, FX_T0 + 2, JG_ERR_FORBIDDEN);
	refused(OP_DENY, &r, &mallory, NULL, FX_T0 + 2, JG_ERR_FORBIDDEN);
	refused(OP_DENY, &r, &erin, NULL, FX_T0 + 2, JG_ERR_FORBIDDEN);
	/* one deny beats the approval already given */
	accepted(OP_DENY, &r, &dave, "not now", FX_T0 + 3, &res);
	FX_ACTIONS(&res, ACT_REQUEST_DENIED);
	assert_int_equal(r.state, REQ_DENIED);
	/* the requester reads why (design section 10: end_comment) */
	assert_string_equal(r.end_comment, "not now");
	assert_int_equal(r.ended_at, FX_T0 + 3);
	assert_string_equal(r.ended_by, "dave");
	assert_int_equal(r.activated_at, 0);
	assert_int_equal(r.expires_at, 0);
	assert_int_equal(core_request_deadline(&r), 0);
	refused(OP_APPROVE, &r, &bob, NULL, FX_T0 + 4, JG_ERR_CONFLICT);
	refused(OP_DENY, &r, &bob, NULL, FX_T0 + 4, JG_ERR_CONFLICT);
	request_clear(&r);

	/* the requester, even an approver of the policy, cannot deny their
	 * own request (self-approval forbidden there): they cancel it */
	create_ok(&bob, PROD_WRITE, FX_T0, &r, &res);
	refused(OP_DENY, &r, &bob, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	/* a deny on a timed-out (not yet fired) request is refused */
	refused(OP_DENY, &r, &carol, NULL, FX_T0 + FX_HOUR, JG_ERR_CONFLICT);
	request_clear(&r);
}

/* ---- rule 5 ---- */

static void test_rule5_overlap_and_extends(void **state)
{
	struct request a, b, other;
	struct core_result res;
	struct grant_index *gi = NULL;
	struct grant_hit hit;
	struct mk ext = MK(.resource = "orders-db", .role = "read",
			   .duration_s = 3600);

	(void)state;
	create_ok(&alice, ext, FX_T0, &a, &res);
	ext.extends = a.id;
	ext.extended = &a;
	create_ok(&alice, ext, FX_T0 + 30 * FX_MIN, &b, &res);
	FX_ACTIONS(&res, ACT_REQUEST_CREATED, ACT_REQUEST_ACTIVATED);
	assert_int_equal(b.extends, a.id);
	assert_int_equal(b.state, REQ_ACTIVE);
	/* an extension is a new grant with its own clock */
	assert_int_equal(b.expires_at, FX_T0 + 90 * FX_MIN);
	assert_int_equal(a.state, REQ_ACTIVE);
	assert_int_equal(a.expires_at, FX_T0 + FX_HOUR);

	/* independent grants: revoking one leaves the other (as the engine
	 * applies it to the index) */
	assert_int_equal(grant_index_new(&gi), 0);
	assert_int_equal(grant_index_add(gi, a.requester, a.resource, a.role,
					 a.id, a.expires_at), 0);
	assert_int_equal(grant_index_add(gi, b.requester, b.resource, b.role,
					 b.id, b.expires_at), 0);
	accepted(OP_REVOKE, &a, &alice, NULL, FX_T0 + 40 * FX_MIN, &res);
	assert_true(grant_index_remove(gi, a.id));
	assert_int_equal(b.state, REQ_ACTIVE);
	assert_true(grant_index_check(gi, "alice", "orders-db", "read",
				      FX_T0 + 40 * FX_MIN, &hit));
	assert_int_equal(hit.request_id, b.id);
	grant_index_free(gi);

	/* extending a revoked one: 409 */
	ext.extends = a.id;
	ext.extended = &a;
	create_refused(&alice, ext, FX_T0 + 41 * FX_MIN, JG_ERR_CONFLICT, "extends");
	/* a request that does not exist: 400 */
	ext.extends = 999;
	ext.extended = NULL;
	create_refused(&alice, ext, FX_T0, JG_ERR_INVALID, "extends");
	/* someone else's: 403 */
	ext.extends = b.id;
	ext.extended = &b;
	create_refused(&bob, ext, FX_T0 + 41 * FX_MIN, JG_ERR_FORBIDDEN, "extends");
	/* another role or resource: 400 */
	create_ok(&alice, PROD_WRITE, FX_T0, &other, &res);
	accepted(OP_APPROVE, &other, &carol, NULL, FX_T0 + 1, &res);
	accepted(OP_APPROVE, &other, &dave, NULL, FX_T0 + 1, &res);
	ext.extends = other.id;
	ext.extended = &other;
	create_refused(&alice, ext, FX_T0 + 2, JG_ERR_INVALID, "extends");
	request_clear(&other);
	/* a pending one: 409 */
	create_ok(&alice, PROD_WRITE, FX_T0, &other, &res);
	{
		struct mk pw = PROD_WRITE;

		pw.extends = other.id;
		pw.extended = &other;
		create_refused(&alice, pw, FX_T0 + 1, JG_ERR_CONFLICT, "extends");
	}
	request_clear(&other);
	request_clear(&a);
	request_clear(&b);
}

/* A grant whose expires_at has passed is not active any more, even before
 * its expiry timer fires: revoke already answers 409 "expired" for it, and
 * extending it must be refused the same way. */
static void test_rule5_extends_needs_unexpired_grant(void **state)
{
	struct request a, b;
	struct core_result res;
	struct mk ext = MK(.resource = "orders-db", .role = "read",
			   .duration_s = 3600);
	int rc;

	(void)state;
	create_ok(&alice, ext, FX_T0, &a, &res);
	refused(OP_REVOKE, &a, &alice, NULL, FX_T0 + FX_HOUR, JG_ERR_CONFLICT);
	ext.extends = a.id;
	ext.extended = &a;
	rc = try_create(&alice, ext, FX_T0 + FX_HOUR, &b, &res);
	if (rc == 0)
		request_clear(&b);
	assert_int_equal(rc, JG_ERR_CONFLICT);
	assert_string_equal(res.field, "extends");
	request_clear(&a);
}

/* ---- rule 6 ---- */

static void test_rule6_revocation(void **state)
{
	const struct subject *may[] = {&alice, &carol, &dave, &erin};
	struct request r;
	struct core_result res;

	(void)state;
	for (size_t i = 0; i < sizeof(may) / sizeof(may[0]); i++) {
		struct grant_index *gi = NULL;

		create_ok(&alice, PROD_WRITE, FX_T0, &r, &res);
		refused(OP_REVOKE, &r, may[i], NULL, FX_T0 + 1, JG_ERR_CONFLICT);
		accepted(OP_APPROVE, &r, &carol, NULL, FX_T0 + 1, &res);
		accepted(OP_APPROVE, &r, &dave, NULL, FX_T0 + 1, &res);
		assert_true(core_may_revoke(cfg, &r, may[i]));
		assert_false(core_may_revoke(cfg, &r, &mallory));
		refused(OP_REVOKE, &r, &mallory, NULL, FX_T0 + 2, JG_ERR_FORBIDDEN);

		assert_int_equal(grant_index_new(&gi), 0);
		assert_int_equal(grant_index_add(gi, r.requester, r.resource,
						 r.role, r.id, r.expires_at), 0);
		assert_true(grant_index_check(gi, "alice", "orders-db", "write",
					      FX_T0 + 2, NULL));
		/* a reason over the comment limit is refused, nothing changed */
		refused(OP_REVOKE, &r, may[i], big_text(), FX_T0 + 5 * FX_MIN,
			JG_ERR_INVALID);
		accepted(OP_REVOKE, &r, may[i], "incident over", FX_T0 + 5 * FX_MIN, &res);
		FX_ACTIONS(&res, ACT_REQUEST_REVOKED);
		assert_int_equal(r.state, REQ_REVOKED);
		assert_string_equal(r.end_comment, "incident over");
		assert_int_equal(r.ended_at, FX_T0 + 5 * FX_MIN);
		assert_string_equal(r.ended_by, may[i]->name);
		/* the planned end stays on record */
		assert_int_equal(r.expires_at, FX_T0 + 1 + 30 * FX_MIN);
		assert_int_equal(core_request_deadline(&r), 0);
		/* the engine drops the grant: the next check denies */
		assert_true(grant_index_remove(gi, r.id));
		assert_false(grant_index_check(gi, "alice", "orders-db", "write",
					       FX_T0 + 5 * FX_MIN, NULL));
		grant_index_free(gi);
		/* once revoked, again: 409 */
		refused(OP_REVOKE, &r, may[i], NULL, FX_T0 + 6 * FX_MIN,
			JG_ERR_CONFLICT);
		request_clear(&r);
	}

	/* engineers-read has no approvers: only the holder and admins */
	create_ok(&alice, MK(.resource = "orders-db", .role = "read",
			     .duration_s = 600), FX_T0, &r, &res);
	refused(OP_REVOKE, &r, &bob, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	refused(OP_REVOKE, &r, &carol, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	/* past expires_at, before the timer fired: 409, unchanged */
	refused(OP_REVOKE, &r, &erin, NULL, FX_T0 + 600 * FX_S, JG_ERR_CONFLICT);
	refused(OP_REVOKE, &r, &alice, NULL, FX_T0 + FX_HOUR, JG_ERR_CONFLICT);
	accepted(OP_REVOKE, &r, &erin, "", FX_T0 + 600 * FX_S - 1, &res);
	assert_string_equal(r.ended_by, "erin");
	assert_null(r.end_comment); /* an empty reason is no reason */
	request_clear(&r);
}

/* ---- rule 7 ---- */

static void test_rule7_break_glass(void **state)
{
	struct request r;
	struct core_result res;
	struct mk bg = MK(.resource = "orders-db", .role = "admin",
			  .duration_s = 1800, .reason = "orders down",
			  .break_glass = true);

	(void)state;
	/* only where a policy allows it */
	create_refused(&alice, MK(.resource = "orders-db", .role = "read",
				  .duration_s = 60, .reason = "x",
				  .break_glass = true), FX_T0, JG_ERR_FORBIDDEN,
		       "break_glass");
	create_refused(&alice, MK(.resource = "billing-api", .role = "read",
				  .duration_s = 60, .reason = "x",
				  .break_glass = true), FX_T0, JG_ERR_FORBIDDEN,
		       "break_glass");
	/* reason required */
	bg.reason = NULL;
	create_refused(&alice, bg, FX_T0, JG_ERR_INVALID, "reason");
	bg.reason = "";
	create_refused(&alice, bg, FX_T0, JG_ERR_INVALID, "reason");
	bg.reason = "orders down";
	/* bounded by the break-glass maximum (30m), not max_duration (1h) */
	bg.duration_s = 1801;
	create_refused(&alice, bg, FX_T0, JG_ERR_INVALID, "duration");
	bg.duration_s = 3600;
	create_refused(&alice, bg, FX_T0, JG_ERR_INVALID, "duration");
	/* a given ticket must still fit the pattern */
	bg.duration_s = 1800;
	bg.ticket = "nope";
	create_refused(&alice, bg, FX_T0, JG_ERR_INVALID, "ticket");
	bg.ticket = NULL;

	create_ok(&alice, bg, FX_T0, &r, &res);
	FX_ACTIONS(&res, ACT_REQUEST_CREATED, ACT_REQUEST_BREAK_GLASS,
		   ACT_REQUEST_ACTIVATED);
	assert_int_equal(r.state, REQ_ACTIVE);
	assert_true(r.break_glass);
	assert_true(r.review_required);
	assert_null(r.reviewed_by);
	assert_int_equal(r.approvals_required, 0);
	assert_int_equal(r.napprovals, 0);
	assert_int_equal(r.activated_at, FX_T0);
	assert_int_equal(r.expires_at, FX_T0 + 30 * FX_MIN);
	assert_int_equal(r.pending_until, 0);
	/* an active grant takes no approvals */
	refused(OP_APPROVE, &r, &carol, NULL, FX_T0 + 1, JG_ERR_CONFLICT);

	/* the review: approvers only, never the requester */
	refused(OP_REVIEW, &r, &alice, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	refused(OP_REVIEW, &r, &mallory, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	refused(OP_REVIEW, &r, &erin, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	accepted(OP_REVIEW, &r, &carol, NULL, FX_T0 + 2, &res);
	FX_ACTIONS(&res, ACT_REQUEST_REVIEWED);
	assert_false(r.review_required);
	assert_string_equal(r.reviewed_by, "carol");
	assert_int_equal(r.state, REQ_ACTIVE); /* reviewing is not revoking */
	assert_int_equal(r.expires_at, FX_T0 + 30 * FX_MIN);
	/* once reviewed, no second review */
	refused(OP_REVIEW, &r, &dave, NULL, FX_T0 + 3, JG_ERR_CONFLICT);
	request_clear(&r);

	/* an approver who asked for break-glass cannot review it either */
	create_ok(&bob, bg, FX_T0, &r, &res);
	refused(OP_REVIEW, &r, &bob, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	assert_true(r.review_required);
	/* the review is after the fact: it still works once the grant ended,
	 * and changes only the review flag */
	accepted(OP_EXPIRE, &r, NULL, NULL, FX_T0 + 2 * FX_HOUR, &res);
	assert_int_equal(r.state, REQ_EXPIRED);
	accepted(OP_REVIEW, &r, &dave, NULL, FX_T0 + 3 * FX_HOUR, &res);
	FX_ACTIONS(&res, ACT_REQUEST_REVIEWED);
	assert_int_equal(r.state, REQ_EXPIRED);
	assert_int_equal(r.ended_at, FX_T0 + 30 * FX_MIN);
	assert_false(r.review_required);
	request_clear(&r);

	/* a request that is not break-glass has nothing to review */
	create_ok(&alice, PROD_WRITE, FX_T0, &r, &res);
	refused(OP_REVIEW, &r, &carol, NULL, FX_T0 + 1, JG_ERR_CONFLICT);
	request_clear(&r);
}

/* A policy may allow self-approval and break-glass together.  The review
 * exists because nobody else looked before access was granted; letting the
 * requester clear it would leave break-glass unreviewed. */
static void test_rule7_no_self_review_even_with_self_approval(void **state)
{
	struct config *old = cfg;
	struct request r;
	struct core_result res;

	(void)state;
	cfg = fx_config("resources:\n"
			"  - {name: orders-db, kind: generic, roles: {admin: {}}}\n"
			"policies:\n"
			"  - name: sre-admin\n"
			"    requesters: [group:sre]\n"
			"    resources: [orders-db]\n"
			"    roles: [admin]\n"
			"    max_duration: 1h\n"
			"    approvals: 1\n"
			"    approvers: [group:sre]\n"
			"    allow_self_approval: true\n"
			"    break_glass: {max_duration: 30m}\n");
	create_ok(&bob, MK(.resource = "orders-db", .role = "admin",
			   .duration_s = 600, .reason = "fire",
			   .break_glass = true), FX_T0, &r, &res);
	refused(OP_REVIEW, &r, &bob, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	assert_true(r.review_required);
	accepted(OP_REVIEW, &r, &dave, NULL, FX_T0 + 2, &res);
	request_clear(&r);
	config_free(cfg);
	cfg = old;
}

/* ---- rule 8 ---- */

static void test_rule8_unknown_resource_or_role(void **state)
{
	(void)state;
	create_refused(&alice, MK(.resource = "nosuch", .role = "read",
				  .duration_s = 60), FX_T0, JG_ERR_INVALID,
		       "resource");
	create_refused(&alice, MK(.resource = "orders-db", .role = "nosuch",
				  .duration_s = 60), FX_T0, JG_ERR_INVALID, "role");
	/* a role of another resource is not a role of this one */
	create_refused(&alice, MK(.resource = "billing-api", .role = "write",
				  .duration_s = 60, .reason = "x",
				  .ticket = "OPS-1"), FX_T0, JG_ERR_INVALID, "role");
	/* case matters */
	create_refused(&alice, MK(.resource = "Orders-db", .role = "read",
				  .duration_s = 60), FX_T0, JG_ERR_INVALID,
		       "resource");
	/* known, but no policy lets mallory: 403 */
	create_refused(&mallory, MK(.resource = "orders-db", .role = "read",
				    .duration_s = 60), FX_T0, JG_ERR_FORBIDDEN,
		       NULL);
	create_refused(&carol, MK(.resource = "billing-api", .role = "admin",
				  .duration_s = 60), FX_T0, JG_ERR_FORBIDDEN, NULL);
	/* and an unknown config key is an error with its line */
	{
		struct config *c = NULL;
		char err[256];
		const char *y = "resources:\n"
				"  - {name: a, kind: generic, roles: {read: {}}}\n"
				"policies:\n"
				"  - name: p\n"
				"    requesters: [group:eng]\n"
				"    resources: [a]\n"
				"    roles: [read]\n"
				"    max_duration: 1h\n"
				"    approvals: 0\n"
				"    aprovers: [user:x]\n";

		assert_true(config_parse("t.yaml", y, strlen(y), &c, err,
					 sizeof(err)) < 0);
		assert_null(c);
		assert_non_null(strstr(err, "t.yaml:10:"));
	}
}

/* What the policy requires beyond rules 1-8: reason, ticket, limits. */
static void test_create_input_requirements(void **state)
{
	char big[REQ_REASON_MAX + 2];
	struct mk m = PROD_WRITE;
	struct request r;
	struct core_result res;

	(void)state;
	m.reason = NULL;
	create_refused(&alice, m, FX_T0, JG_ERR_INVALID, "reason");
	m.reason = "";
	create_refused(&alice, m, FX_T0, JG_ERR_INVALID, "reason");
	m.reason = "deploy";
	m.ticket = NULL;
	create_refused(&alice, m, FX_T0, JG_ERR_INVALID, "ticket");
	m.ticket = "OPS-";
	create_refused(&alice, m, FX_T0, JG_ERR_INVALID, "ticket");
	m.ticket = "xOPS-1";
	create_refused(&alice, m, FX_T0, JG_ERR_INVALID, "ticket");
	m.ticket = "OPS-1\n";
	create_refused(&alice, m, FX_T0, JG_ERR_INVALID, "ticket");
	memset(big, 'r', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	m.ticket = "OPS-12";
	m.reason = big;
	create_refused(&alice, m, FX_T0, JG_ERR_INVALID, "reason");
	m.reason = "deploy";
	m.ticket = big;
	create_refused(&alice, m, FX_T0, JG_ERR_INVALID, "ticket");
	m.ticket = "OPS-12";
	create_ok(&alice, m, FX_T0, &r, &res);
	assert_string_equal(r.reason, "deploy");
	assert_string_equal(r.ticket, "OPS-12");
	assert_string_equal(r.requester, "alice");
	assert_string_equal(r.resource, "orders-db");
	assert_string_equal(r.role, "write");
	assert_false(r.break_glass);
	assert_false(r.review_required);
	request_clear(&r);
}

/* ---- cancel and the deadline transitions ---- */

static void test_cancel(void **state)
{
	struct request r;
	struct core_result res;

	(void)state;
	create_ok(&alice, PROD_WRITE, FX_T0, &r, &res);
	refused(OP_CANCEL, &r, &carol, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	refused(OP_CANCEL, &r, &erin, NULL, FX_T0 + 1, JG_ERR_FORBIDDEN);
	refused(OP_CANCEL, &r, &alice, NULL, FX_T0 + FX_HOUR, JG_ERR_CONFLICT);
	accepted(OP_CANCEL, &r, &alice, NULL, FX_T0 + 2, &res);
	FX_ACTIONS(&res, ACT_REQUEST_CANCELED);
	assert_int_equal(r.state, REQ_CANCELED);
	assert_int_equal(r.ended_at, FX_T0 + 2);
	assert_string_equal(r.ended_by, "alice");
	assert_int_equal(core_request_deadline(&r), 0);
	request_clear(&r);
	/* an active grant is revoked, not canceled */
	create_ok(&alice, MK(.resource = "orders-db", .role = "read",
			     .duration_s = 600), FX_T0, &r, &res);
	refused(OP_CANCEL, &r, &alice, NULL, FX_T0 + 1, JG_ERR_CONFLICT);
	request_clear(&r);
}

static void test_pending_timeout(void **state)
{
	struct request r;
	struct core_result res;

	(void)state;
	create_ok(&alice, PROD_WRITE, FX_T0, &r, &res);
	accepted(OP_APPROVE, &r, &carol, NULL, FX_T0 + 1, &res);
	refused(OP_TIMEOUT, &r, NULL, NULL, FX_T0 + FX_HOUR - 1, JG_ERR_CONFLICT);
	refused(OP_EXPIRE, &r, NULL, NULL, FX_T0 + 9 * FX_HOUR, JG_ERR_CONFLICT);
	/* the timer fires late (jitgate was down): ended_at is the deadline */
	accepted(OP_TIMEOUT, &r, NULL, NULL, FX_T0 + 3 * FX_HOUR, &res);
	FX_ACTIONS(&res, ACT_REQUEST_TIMED_OUT);
	assert_int_equal(r.state, REQ_TIMED_OUT);
	assert_int_equal(r.ended_at, FX_T0 + FX_HOUR);
	assert_string_equal(r.ended_by, REQ_SYSTEM_ACTOR);
	assert_int_equal(r.napprovals, 1);
	assert_int_equal(r.activated_at, 0);
	assert_int_equal(core_request_deadline(&r), 0);
	refused(OP_TIMEOUT, &r, NULL, NULL, FX_T0 + 4 * FX_HOUR, JG_ERR_CONFLICT);
	request_clear(&r);

	/* exactly at the deadline it is due */
	create_ok(&alice, PROD_WRITE, FX_T0, &r, &res);
	accepted(OP_TIMEOUT, &r, NULL, NULL, FX_T0 + FX_HOUR, &res);
	assert_int_equal(r.ended_at, FX_T0 + FX_HOUR);
	request_clear(&r);
}

static void test_expiry(void **state)
{
	struct request r;
	struct core_result res;

	(void)state;
	create_ok(&alice, MK(.resource = "orders-db", .role = "read",
			     .duration_s = 600), FX_T0, &r, &res);
	refused(OP_EXPIRE, &r, NULL, NULL, FX_T0 + 600 * FX_S - 1, JG_ERR_CONFLICT);
	refused(OP_TIMEOUT, &r, NULL, NULL, FX_T0 + 9 * FX_HOUR, JG_ERR_CONFLICT);
	accepted(OP_EXPIRE, &r, NULL, NULL, FX_T0 + 5 * FX_HOUR, &res);
	FX_ACTIONS(&res, ACT_REQUEST_EXPIRED);
	assert_int_equal(r.state, REQ_EXPIRED);
	/* the real end, not the moment the timer ran */
	assert_int_equal(r.ended_at, FX_T0 + 600 * FX_S);
	assert_int_equal(r.expires_at, FX_T0 + 600 * FX_S);
	assert_string_equal(r.ended_by, REQ_SYSTEM_ACTOR);
	assert_int_equal(core_request_deadline(&r), 0);
	request_clear(&r);

	create_ok(&alice, MK(.resource = "orders-db", .role = "read",
			     .duration_s = 600), FX_T0, &r, &res);
	accepted(OP_EXPIRE, &r, NULL, NULL, FX_T0 + 600 * FX_S, &res);
	assert_int_equal(r.ended_at, FX_T0 + 600 * FX_S);
	request_clear(&r);
}

/* ---- terminal states ---- */

/* Builds a request in terminal state s; break-glass ones for expired and
 * revoked, reviewed already, so that nothing at all may change them. */
static void make_terminal(enum req_state s, struct request *r)
{
	struct core_result res;
	struct mk bg = MK(.resource = "orders-db", .role = "admin",
			  .duration_s = 1800, .reason = "fire",
			  .break_glass = true);

	switch (s) {
	case REQ_DENIED:
		create_ok(&alice, PROD_WRITE, FX_T0, r, &res);
		accepted(OP_APPROVE, r, &carol, NULL, FX_T0 + 1, &res);
		accepted(OP_DENY, r, &dave, NULL, FX_T0 + 2, &res);
		break;
	case REQ_CANCELED:
		create_ok(&alice, PROD_WRITE, FX_T0, r, &res);
		accepted(OP_CANCEL, r, &alice, NULL, FX_T0 + 2, &res);
		break;
	case REQ_TIMED_OUT:
		create_ok(&alice, PROD_WRITE, FX_T0, r, &res);
		accepted(OP_TIMEOUT, r, NULL, NULL, FX_T0 + 2 * FX_HOUR, &res);
		break;
	case REQ_EXPIRED:
		create_ok(&alice, bg, FX_T0, r, &res);
		accepted(OP_REVIEW, r, &carol, NULL, FX_T0 + 1, &res);
		accepted(OP_EXPIRE, r, NULL, NULL, FX_T0 + 2 * FX_HOUR, &res);
		break;
	case REQ_REVOKED:
		create_ok(&alice, bg, FX_T0, r, &res);
		accepted(OP_REVIEW, r, &carol, NULL, FX_T0 + 1, &res);
		accepted(OP_REVOKE, r, &erin, NULL, FX_T0 + 2, &res);
		break;
	default:
		fail();
	}
	assert_int_equal(r->state, s);
	assert_true(req_state_terminal(s));
	assert_int_equal(core_request_deadline(r), 0);
}

static void test_terminal_states_never_change(void **state)
{
	const enum req_state terminal[] = {REQ_DENIED, REQ_CANCELED,
					   REQ_TIMED_OUT, REQ_EXPIRED,
					   REQ_REVOKED};
	const struct subject *everyone[] = {&alice, &bob, &carol, &dave, &erin,
					    &mallory};
	const int64_t times[] = {FX_T0 + 3, FX_T0 + 20 * FX_MIN,
				 FX_T0 + 2 * FX_HOUR, FX_T0 + 400 * FX_HOUR};

	(void)state;
	for (size_t t = 0; t < sizeof(terminal) / sizeof(terminal[0]); t++) {
		struct request r;

		make_terminal(terminal[t], &r);
		for (int op = 0; op < OP_COUNT; op++) {
			for (size_t w = 0; w < sizeof(everyone) / sizeof(everyone[0]); w++) {
				for (size_t k = 0; k < sizeof(times) / sizeof(times[0]); k++) {
					struct request before;
					struct core_result res;
					int rc;

					assert_int_equal(request_copy(&before, &r), 0);
					rc = run_op((enum op)op, &r, everyone[w], "c",
						    times[k], &res);
					if (rc == 0)
						print_message("%s by %s changed a %s request\n",
							      op_names[op], everyone[w]->name,
							      req_state_name(terminal[t]));
					assert_true(rc == JG_ERR_CONFLICT ||
						    rc == JG_ERR_FORBIDDEN);
					assert_int_equal(res.nactions, 0);
					assert_true(fx_request_equal(&r, &before));
					request_clear(&before);
				}
			}
		}
		request_clear(&r);
	}
}

static void test_names_and_visibility(void **state)
{
	struct request r;
	struct core_result res;
	enum req_state s;
	enum audit_action a;

	(void)state;
	for (int i = 0; i < REQ_STATE_COUNT; i++) {
		assert_true(req_state_parse(req_state_name((enum req_state)i), &s));
		assert_int_equal(s, i);
		assert_int_equal(req_state_terminal((enum req_state)i),
				 i != REQ_PENDING && i != REQ_ACTIVE);
	}
	assert_false(req_state_parse("Active", &s));
	assert_false(req_state_parse("", &s));
	for (int i = 0; i < ACT_COUNT; i++) {
		assert_non_null(action_name((enum audit_action)i));
		assert_true(action_parse(action_name((enum audit_action)i), &a));
		assert_int_equal(a, i);
	}
	assert_string_equal(action_name(ACT_REQUEST_BREAK_GLASS),
			    "request.break_glass");
	assert_false(action_parse("request.nope", &a));

	create_ok(&alice, PROD_WRITE, FX_T0, &r, &res);
	assert_true(core_may_view(cfg, &r, &alice));
	assert_true(core_may_view(cfg, &r, &carol));
	assert_true(core_may_view(cfg, &r, &dave));
	assert_true(core_may_view(cfg, &r, &erin));
	assert_false(core_may_view(cfg, &r, &mallory));
	request_clear(&r);
	create_ok(&alice, MK(.resource = "orders-db", .role = "read",
			     .duration_s = 60), FX_T0, &r, &res);
	assert_false(core_may_view(cfg, &r, &bob)); /* not an approver here */
	request_clear(&r);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_rule1_clock_starts_at_activation),
		T(test_rule2_over_max_refused_not_clamped),
		T(test_rule3_distinct_approvers),
		T(test_rule3_self_approval),
		T(test_rule3_non_approvers_403),
		T(test_rule3_sixteen_approvals),
		T(test_rule3_refused_approval_changes_nothing),
		T(test_rule4_one_deny_ends),
		T(test_rule5_overlap_and_extends),
		T(test_rule5_extends_needs_unexpired_grant),
		T(test_rule6_revocation),
		T(test_rule7_break_glass),
		T(test_rule7_no_self_review_even_with_self_approval),
		T(test_rule8_unknown_resource_or_role),
		T(test_create_input_requirements),
		T(test_cancel),
		T(test_pending_timeout),
		T(test_expiry),
		T(test_terminal_states_never_change),
		T(test_names_and_visibility),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
