/* Model-based randomized test of the request state machine.
 *
 * A small reference model written here from design section 1 (plain
 * arrays: who asked, the approvals given, the times) and the real core are
 * driven by the same long random sequences of create, approve, deny,
 * cancel, revoke, review, clock advance and deadline firing.  After every
 * step the two must agree on accepted vs refused and the error class, on
 * every field of every request, and on the audit actions of each
 * transition; invariants are checked on the core's requests on their own.
 * The actions are sealed into a hash chain as the engine does and the
 * chain is verified with the streaming verifier at the end of a sequence.
 *
 * The seed is printed; JG_MODEL_SEED=N reruns one exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "audit/canon.h"
#include "audit/chain.h"
#include "core/deadlines.h"
#include "core/request.h"
#include "core_fixture.h"
#include "util/timeutil.h"

#define SEQUENCES 200
#define STEPS 300
#define MAXR STEPS

/* ---- the fixed world: config and subjects ---- */

static const char CONFIG[] =
	"pending_ttl: 20m\n"
	"admins: [group:security]\n"
	"resources:\n"
	"  - {name: db, kind: generic, roles: {read: {}, write: {}, admin: {}}}\n"
	"  - {name: api, kind: generic, roles: {read: {}, admin: {}}}\n"
	"policies:\n"
	"  - name: zero\n"
	"    requesters: [group:eng]\n"
	"    resources: [db]\n"
	"    roles: [read]\n"
	"    max_duration: 2h\n"
	"    approvals: 0\n"
	"  - name: one-self\n"
	"    requesters: [group:eng, group:sre]\n"
	"    resources: [api]\n"
	"    roles: [read]\n"
	"    max_duration: 1h\n"
	"    approvals: 1\n"
	"    approvers: [group:sre]\n"
	"    allow_self_approval: true\n"
	"  - name: two-bg\n"
	"    requesters: [group:eng]\n"
	"    resources: [\"*\"]\n"
	"    roles: [write, admin]\n"
	"    max_duration: 1h\n"
	"    approvals: 2\n"
	"    approvers: [group:sre, user:carol]\n"
	"    require_reason: true\n"
	"    break_glass: {max_duration: 30m}\n";

#define PENDING_TTL_MS (20 * FX_MIN)

enum { ALICE, BOB, CAROL, DAVE, ERIN, MALLORY, FRANK, NSUBJ };

static const char *const g_eng[] = {"eng"};
static const char *const g_eng_sre[] = {"eng", "sre"};
static const char *const g_sre[] = {"sre"};
static const char *const g_sec[] = {"security"};
static const char *const g_con[] = {"contractors"};

static const struct subject SUBJ[NSUBJ] = {
	[ALICE] = {"alice", g_eng, 1},   [BOB] = {"bob", g_eng_sre, 2},
	[CAROL] = {"carol", NULL, 0},    [DAVE] = {"dave", g_sre, 1},
	[ERIN] = {"erin", g_sec, 1},     [MALLORY] = {"mallory", g_con, 1},
	[FRANK] = {"frank", g_sre, 1},
};

/* ---- the reference model: policy tables written out by hand ---- */

enum { P_NONE = -1, P_ZERO, P_ONE, P_TWO, NPOL };
static const char *const PNAME[NPOL] = {"zero", "one-self", "two-bg"};
static const int PAPPROVALS[NPOL] = {0, 1, 2};
static const int64_t PMAX_S[NPOL] = {7200, 3600, 3600};
#define BG_MAX_S 1800

static bool m_eng(int s) { return s == ALICE || s == BOB; }
static bool m_sre(int s) { return s == BOB || s == DAVE || s == FRANK; }
static bool m_admin(int s) { return s == ERIN; }

static bool m_resource_known(const char *res)
{
	return strcmp(res, "db") == 0 || strcmp(res, "api") == 0;
}

static bool m_role_known(const char *res, const char *role)
{
	if (strcmp(res, "db") == 0)
		return !strcmp(role, "read") || !strcmp(role, "write") ||
		       !strcmp(role, "admin");
	return !strcmp(role, "read") || !strcmp(role, "admin");
}

static int m_policy(int s, const char *res, const char *role)
{
	if (m_eng(s) && !strcmp(res, "db") && !strcmp(role, "read"))
		return P_ZERO;
	if ((m_eng(s) || m_sre(s)) && !strcmp(res, "api") && !strcmp(role, "read"))
		return P_ONE;
	if (m_eng(s) && (!strcmp(role, "write") || !strcmp(role, "admin")))
		return P_TWO;
	return P_NONE;
}

static bool m_approver(int p, int s)
{
	return (p == P_ONE && m_sre(s)) || (p == P_TWO && (m_sre(s) || s == CAROL));
}

static bool m_selfok(int p)
{
	return p == P_ONE;
}

#define BY_NONE (-1)
#define BY_SYSTEM (-2)

struct mreq {
	int requester, pol;
	const char *resource, *role, *reason; /* reason NULL when none */
	int64_t dur_s, extends;
	enum req_state state;
	int required, napp;
	int app_by[REQ_MAX_APPROVALS];
	int64_t app_at[REQ_MAX_APPROVALS];
	const char *app_comment[REQ_MAX_APPROVALS];
	int64_t created, pending_until, activated, expires, ended;
	int ended_by, reviewed_by;
	bool bg, review_required;
};

struct expect {
	int rc;
	enum audit_action act[4];
	size_t nact;
};

static void ex_add(struct expect *e, enum audit_action a)
{
	e->act[e->nact++] = a;
}

static bool m_terminal(enum req_state s)
{
	return s != REQ_PENDING && s != REQ_ACTIVE;
}

/* ---- world state of one sequence ---- */

struct world {
	struct config *cfg;
	struct request core[MAXR];
	struct mreq m[MAXR];
	struct request snap[MAXR]; /* taken when a request became terminal */
	bool snapped[MAXR];
	size_t n;
	int64_t now;
	struct deadlines dl;
	struct audit_verifier *ver;
	char head[AUDIT_HASH_HEX_LEN + 1];
	int64_t seq;
	uint64_t events_expected;
	uint64_t rng;
	/* for failure reports */
	uint64_t seed;
	unsigned seqno, step;
	char what[256];
	/* coverage, so a silent change of the generator is noticed */
	unsigned long accepted[8], refused[8];
	unsigned long extended, break_glass, self_approved;
};

static struct world W;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			print_message("MODEL MISMATCH: seed %llu sequence %u " \
				      "step %u: %s\n  ",                       \
				      (unsigned long long)W.seed, W.seqno,     \
				      W.step, W.what);                         \
			print_message(__VA_ARGS__);                            \
			print_message("\n");                                   \
			fail();                                                \
		}                                                              \
	} while (0)

static uint64_t rnd64(void)
{
	/* splitmix64 */
	uint64_t z = (W.rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static unsigned rnd(unsigned n)
{
	return (unsigned)(rnd64() % n);
}

/* ---- audit chain, as the engine writes it ---- */

static void audit(enum audit_action a, const char *actor, const struct request *r)
{
	char tbuf[TIME_RFC3339_LEN];
	char *text = NULL;
	size_t len = 0;
	json_t *ev;
	int rc;

	ev = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:{s:s, s:b}}", "action",
		       action_name(a), "actor", actor, "request_id",
		       (json_int_t)r->id, "subject", r->requester, "resource",
		       r->resource, "role", r->role, "detail", "state",
		       req_state_name(r->state), "break_glass", r->break_glass);
	assert_non_null(ev);
	time_format(W.now, tbuf);
	json_object_set_new(ev, "seq", json_integer(W.seq + 1));
	json_object_set_new(ev, "time", json_string(tbuf));
	rc = audit_event_seal(ev, W.head, W.head);
	CHECK(rc == 0, "seal of %s failed: %d", action_name(a), rc);
	W.seq++;
	assert_int_equal(canon_json(ev, &text, &len), 0);
	rc = audit_verifier_feed_line(W.ver, text, len);
	CHECK(rc == 0, "event %lld did not verify: %s", (long long)W.seq, text);
	free(text);
	json_decref(ev);
}

static void check_actions(const struct core_result *res, const struct expect *ex)
{
	CHECK(res->nactions == ex->nact, "core reported %zu actions, model %zu",
	      res->nactions, ex->nact);
	for (size_t i = 0; i < ex->nact; i++)
		CHECK(res->actions[i] == ex->act[i], "action %zu: core %s, model %s",
		      i, action_name(res->actions[i]), action_name(ex->act[i]));
}

/* ---- comparison and invariants ---- */

static const char *by_name(int by)
{
	if (by == BY_NONE)
		return NULL;
	if (by == BY_SYSTEM)
		return REQ_SYSTEM_ACTOR;
	return SUBJ[by].name;
}

#define SAME_INT(f, a, b) \
	CHECK((a) == (b), "request %zu: %s core %lld, model %lld", i + 1, f, \
	      (long long)(a), (long long)(b))
#define SAME_STR(f, a, b) \
	CHECK(fx_str_eq((a), (b)), "request %zu: %s core %s, model %s", i + 1, \
	      f, (a) ? (a) : "(null)", (b) ? (b) : "(null)")

static void compare(size_t i)
{
	const struct request *c = &W.core[i];
	const struct mreq *m = &W.m[i];

	SAME_INT("id", c->id, (int64_t)i + 1);
	CHECK(c->state == m->state, "request %zu: state core %s, model %s", i + 1,
	      req_state_name(c->state), req_state_name(m->state));
	SAME_STR("requester", c->requester, SUBJ[m->requester].name);
	SAME_STR("resource", c->resource, m->resource);
	SAME_STR("role", c->role, m->role);
	SAME_STR("reason", c->reason, m->reason);
	SAME_STR("ticket", c->ticket, NULL);
	SAME_STR("policy", c->policy, PNAME[m->pol]);
	SAME_INT("duration_s", c->duration_s, m->dur_s);
	SAME_INT("approvals_required", c->approvals_required, m->required);
	SAME_INT("napprovals", (int64_t)c->napprovals, m->napp);
	for (int k = 0; k < m->napp; k++) {
		SAME_STR("approval by", c->approvals[k].by, SUBJ[m->app_by[k]].name);
		SAME_INT("approval at", c->approvals[k].at_ms, m->app_at[k]);
		SAME_STR("approval comment", c->approvals[k].comment,
			 m->app_comment[k]);
	}
	SAME_INT("created_at", c->created_at, m->created);
	SAME_INT("pending_until", c->pending_until, m->pending_until);
	SAME_INT("activated_at", c->activated_at, m->activated);
	SAME_INT("expires_at", c->expires_at, m->expires);
	SAME_INT("ended_at", c->ended_at, m->ended);
	SAME_STR("ended_by", c->ended_by, by_name(m->ended_by));
	SAME_INT("break_glass", c->break_glass, m->bg);
	SAME_INT("review_required", c->review_required, m->review_required);
	SAME_STR("reviewed_by", c->reviewed_by, by_name(m->reviewed_by));
	SAME_INT("extends", c->extends, m->extends);
}

static int policy_index(const char *name)
{
	for (int p = 0; p < NPOL; p++)
		if (strcmp(PNAME[p], name) == 0)
			return p;
	return P_NONE;
}

static int subject_index(const char *name)
{
	for (int s = 0; s < NSUBJ; s++)
		if (strcmp(SUBJ[s].name, name) == 0)
			return s;
	return -1;
}

/* Invariants that hold of the core's requests by themselves. */
static void invariants(size_t i)
{
	const struct request *c = &W.core[i];
	int p = policy_index(c->policy);
	int req = subject_index(c->requester);

	CHECK(p != P_NONE && req >= 0, "request %zu: unknown policy/requester", i + 1);
	CHECK(c->approvals_required == ((c->break_glass || p == P_ZERO) ? 0 : PAPPROVALS[p]),
	      "request %zu: approvals_required %d", i + 1, c->approvals_required);
	if (c->state == REQ_ACTIVE)
		CHECK(c->activated_at != 0, "request %zu: active, never activated", i + 1);
	if (c->activated_at != 0) {
		CHECK(c->expires_at == c->activated_at + c->duration_s * 1000,
		      "request %zu: expires_at %lld != activated_at %lld + %llds",
		      i + 1, (long long)c->expires_at, (long long)c->activated_at,
		      (long long)c->duration_s);
		CHECK(c->duration_s <= (c->break_glass ? BG_MAX_S : PMAX_S[p]),
		      "request %zu: duration %llds over the maximum", i + 1,
		      (long long)c->duration_s);
		if (!c->break_glass)
			CHECK((int)c->napprovals >= c->approvals_required,
			      "request %zu: activated with %zu of %d approvals", i + 1,
			      c->napprovals, c->approvals_required);
	}
	for (size_t k = 0; k < c->napprovals; k++) {
		int by = subject_index(c->approvals[k].by);

		CHECK(by >= 0 && m_approver(p, by), "request %zu: approval by %s, "
		      "not an approver", i + 1, c->approvals[k].by);
		CHECK(by != req || m_selfok(p), "request %zu: self-approval by %s",
		      i + 1, c->approvals[k].by);
		for (size_t j = 0; j < k; j++)
			CHECK(strcmp(c->approvals[j].by, c->approvals[k].by) != 0,
			      "request %zu: two approvals by %s", i + 1,
			      c->approvals[k].by);
	}
	CHECK(c->break_glass || !c->review_required,
	      "request %zu: review flag without break-glass", i + 1);
	CHECK((c->ended_at != 0) == req_state_terminal(c->state),
	      "request %zu: ended_at %lld in state %s", i + 1,
	      (long long)c->ended_at, req_state_name(c->state));
	if (c->reviewed_by != NULL) {
		int rv = subject_index(c->reviewed_by);

		CHECK(rv >= 0 && m_approver(p, rv) && rv != req,
		      "request %zu: reviewed by %s", i + 1, c->reviewed_by);
	}

	/* terminal states never change; only the after-the-fact review of a
	 * break-glass grant may still clear its flag */
	if (W.snapped[i]) {
		struct request t = *c;

		CHECK(req_state_terminal(c->state), "request %zu left terminal state %s",
		      i + 1, req_state_name(W.snap[i].state));
		if (W.snap[i].review_required == c->review_required) {
			CHECK(fx_str_eq(W.snap[i].reviewed_by, c->reviewed_by),
			      "request %zu: reviewer changed", i + 1);
		} else {
			CHECK(W.snap[i].review_required && !c->review_required &&
			      W.snap[i].reviewed_by == NULL && c->reviewed_by != NULL,
			      "request %zu: review flag changed the wrong way", i + 1);
		}
		t.review_required = W.snap[i].review_required;
		t.reviewed_by = W.snap[i].reviewed_by;
		CHECK(fx_request_equal(&t, &W.snap[i]),
		      "request %zu changed in terminal state %s", i + 1,
		      req_state_name(c->state));
	} else if (req_state_terminal(c->state)) {
		assert_int_equal(request_copy(&W.snap[i], c), 0);
		W.snapped[i] = true;
	}
}

static void check_all(void)
{
	for (size_t i = 0; i < W.n; i++) {
		compare(i);
		invariants(i);
	}
}

/* ---- model transitions ---- */

static void m_activate(struct mreq *m, struct expect *ex)
{
	m->state = REQ_ACTIVE;
	m->activated = W.now;
	m->expires = W.now + m->dur_s * 1000;
	m->pending_until = 0;
	ex_add(ex, ACT_REQUEST_ACTIVATED);
}

static void m_end(struct mreq *m, enum req_state s, int64_t at, int by,
		  struct expect *ex, enum audit_action a)
{
	m->state = s;
	m->ended = at;
	m->ended_by = by;
	ex_add(ex, a);
}

/* The order of the checks is the contract's: what the input names, then
 * who may ask, then what the policy demands, then the extended request. */
static void m_create(int s, const char *res, const char *role, int64_t dur,
		     const char *reason, bool bg, int64_t ext, struct mreq *out,
		     struct expect *ex)
{
	bool has_reason = reason != NULL && reason[0] != '\0';
	int p;

	memset(out, 0, sizeof(*out));
	ex->nact = 0;
	if (!m_resource_known(res) || !m_role_known(res, role) || dur <= 0) {
		ex->rc = JG_ERR_INVALID;
		return;
	}
	p = m_policy(s, res, role);
	if (p == P_NONE) {
		ex->rc = JG_ERR_FORBIDDEN;
		return;
	}
	if (bg) {
		if (p != P_TWO) {
			ex->rc = JG_ERR_FORBIDDEN;
			return;
		}
		if (!has_reason || dur > BG_MAX_S) {
			ex->rc = JG_ERR_INVALID;
			return;
		}
	} else if (dur > PMAX_S[p]) {
		ex->rc = JG_ERR_INVALID;
		return;
	}
	if (p == P_TWO && !has_reason) {
		ex->rc = JG_ERR_INVALID;
		return;
	}
	if (ext != 0) {
		const struct mreq *x;

		if (ext < 1 || (size_t)ext > W.n) {
			ex->rc = JG_ERR_INVALID;
			return;
		}
		x = &W.m[ext - 1];
		if (x->requester != s) {
			ex->rc = JG_ERR_FORBIDDEN;
			return;
		}
		if (strcmp(x->resource, res) != 0 || strcmp(x->role, role) != 0) {
			ex->rc = JG_ERR_INVALID;
			return;
		}
		/* active means live: a grant past its expires_at is over even
		 * before its timer fires */
		if (x->state != REQ_ACTIVE || W.now >= x->expires) {
			ex->rc = JG_ERR_CONFLICT;
			return;
		}
	}
	ex->rc = 0;
	out->requester = s;
	out->pol = p;
	out->resource = res;
	out->role = role;
	out->reason = has_reason ? reason : NULL;
	out->dur_s = dur;
	out->extends = ext;
	out->created = W.now;
	out->ended_by = BY_NONE;
	out->reviewed_by = BY_NONE;
	out->bg = bg;
	out->required = bg ? 0 : PAPPROVALS[p];
	out->state = REQ_PENDING;
	ex_add(ex, ACT_REQUEST_CREATED);
	if (bg) {
		out->review_required = true;
		ex_add(ex, ACT_REQUEST_BREAK_GLASS);
		m_activate(out, ex);
	} else if (PAPPROVALS[p] == 0) {
		m_activate(out, ex);
	} else {
		out->pending_until = W.now + PENDING_TTL_MS;
	}
}

/* approve, deny and review: eligible approver, and not the requester
 * unless the policy allows self-approval (never for a review) */
static int m_decider(const struct mreq *m, int s, bool review)
{
	if (!m_approver(m->pol, s))
		return JG_ERR_FORBIDDEN;
	if (s == m->requester && (review || !m_selfok(m->pol)))
		return JG_ERR_FORBIDDEN;
	return 0;
}

static int m_open(const struct mreq *m)
{
	if (m->state != REQ_PENDING || W.now >= m->pending_until)
		return JG_ERR_CONFLICT;
	return 0;
}

enum op { OP_CREATE, OP_APPROVE, OP_DENY, OP_CANCEL, OP_REVOKE, OP_REVIEW,
	  OP_ADVANCE, OP_FIRE };
static const char *const OPNAME[] = {"create", "approve", "deny", "cancel",
				     "revoke", "review", "advance", "fire"};

static void m_apply(enum op op, struct mreq *m, int s, const char *comment,
		    struct expect *ex)
{
	int rc = 0;

	ex->nact = 0;
	switch (op) {
	case OP_APPROVE:
		if ((rc = m_decider(m, s, false)) || (rc = m_open(m)))
			break;
		for (int k = 0; k < m->napp; k++)
			if (m->app_by[k] == s)
				rc = JG_ERR_CONFLICT;
		if (rc)
			break;
		m->app_by[m->napp] = s;
		m->app_at[m->napp] = W.now;
		m->app_comment[m->napp] = comment && *comment ? comment : NULL;
		m->napp++;
		ex_add(ex, ACT_REQUEST_APPROVED);
		if (m->napp >= m->required)
			m_activate(m, ex);
		break;
	case OP_DENY:
		if ((rc = m_decider(m, s, false)) || (rc = m_open(m)))
			break;
		m->pending_until = 0;
		m_end(m, REQ_DENIED, W.now, s, ex, ACT_REQUEST_DENIED);
		break;
	case OP_CANCEL:
		if (s != m->requester) {
			rc = JG_ERR_FORBIDDEN;
			break;
		}
		if ((rc = m_open(m)))
			break;
		m->pending_until = 0;
		m_end(m, REQ_CANCELED, W.now, s, ex, ACT_REQUEST_CANCELED);
		break;
	case OP_REVOKE:
		if (s != m->requester && !m_admin(s) && !m_approver(m->pol, s)) {
			rc = JG_ERR_FORBIDDEN;
			break;
		}
		if (m->state != REQ_ACTIVE || W.now >= m->expires) {
			rc = JG_ERR_CONFLICT;
			break;
		}
		m_end(m, REQ_REVOKED, W.now, s, ex, ACT_REQUEST_REVOKED);
		break;
	case OP_REVIEW:
		if ((rc = m_decider(m, s, true)))
			break;
		if (!m->bg || !m->review_required) {
			rc = JG_ERR_CONFLICT;
			break;
		}
		m->review_required = false;
		m->reviewed_by = s;
		ex_add(ex, ACT_REQUEST_REVIEWED);
		break;
	default:
		fail();
	}
	ex->rc = rc;
}

/* ---- driving both ---- */

static void push_deadline_if_new(size_t i, int64_t before)
{
	int64_t d = core_request_deadline(&W.core[i]);

	if (d != 0 && d != before)
		assert_int_equal(deadlines_push(&W.dl, d, (int64_t)i + 1), 0);
}

static const char *pick(const char *const *v, size_t n)
{
	return v[rnd((unsigned)n)];
}

static void step_create(void)
{
	static const char *const resources[] = {"db", "db", "api", "api", "nosuch"};
	static const char *const roles[] = {"read", "read", "write", "admin", "nope"};
	static const char *const reasons[] = {NULL, "", "incident 42", "deploy"};
	static const int64_t durs[] = {0, -1, 1, 60, 600, 1799, 1800, 1801,
				       3599, 3600, 3601, 7200, 7201};
	/* plausible asks, mostly within policy: requesters for triples their
	 * policy covers, valid durations, reasons given */
	static const struct {
		int s;
		const char *res, *role;
	} plausible[] = {
		{ALICE, "db", "read"},    {BOB, "db", "read"},
		{ALICE, "api", "read"},   {BOB, "api", "read"},
		{DAVE, "api", "read"},    {FRANK, "api", "read"},
		{ALICE, "db", "write"},   {BOB, "db", "admin"},
		{ALICE, "api", "admin"},  {BOB, "db", "write"},
	};
	int s = (int)rnd(NSUBJ);
	const char *res = pick(resources, 5), *role = pick(roles, 5);
	const char *reason = pick(reasons, 4);
	int64_t dur = rnd(4) == 0 ? 1 + rnd(8000) : durs[rnd(13)];
	bool bg = rnd(100) < 15;

	if (rnd(10) < 7) {
		unsigned k = rnd(sizeof(plausible) / sizeof(plausible[0]));

		s = plausible[k].s;
		res = plausible[k].res;
		role = plausible[k].role;
		reason = rnd(8) ? "incident 42" : reason;
		dur = rnd(8) ? 1 + rnd(1800) : dur;
		bg = strcmp(role, "read") != 0 && rnd(10) < 3;
	}
	int64_t ext = 0;
	const struct request *extended = NULL;
	struct create_input in;
	struct request out;
	struct core_result res_;
	struct mreq mm;
	struct expect ex;
	int rc;

	if (rnd(100) < 20) {
		if (W.n > 0 && rnd(5) != 0) {
			size_t k = rnd((unsigned)W.n);

			/* mostly one's own, for the same triple, to get past
			 * the early checks */
			if (rnd(2) == 0) {
				s = W.m[k].requester;
				res = W.m[k].resource;
				role = W.m[k].role;
			}
			ext = (int64_t)k + 1;
			extended = &W.core[k];
		} else {
			ext = 100000 + rnd(100);
		}
	}
	snprintf(W.what, sizeof(W.what),
		 "create by %s of %s/%s for %llds reason %s%s extends %lld",
		 SUBJ[s].name, res, role, (long long)dur,
		 reason ? reason : "(null)", bg ? " break-glass" : "",
		 (long long)ext);
	m_create(s, res, role, dur, reason, bg, ext, &mm, &ex);
	in = (struct create_input){
		.resource = res, .role = role, .duration_s = dur,
		.reason = reason, .ticket = NULL, .break_glass = bg,
		.extends = ext, .extended = extended,
	};
	rc = core_request_create(W.cfg, &SUBJ[s], &in, W.now, &out, &res_);
	CHECK(rc == ex.rc, "core %d (%s), model %d", rc, res_.message, ex.rc);
	CHECK(res_.err == rc, "res.err %d != rc %d", res_.err, rc);
	if (rc != 0) {
		CHECK(res_.nactions == 0, "refusal reported actions");
		W.refused[OP_CREATE]++;
		return;
	}
	W.accepted[OP_CREATE]++;
	W.extended += ext != 0;
	W.break_glass += bg;
	out.id = (int64_t)W.n + 1;
	W.core[W.n] = out;
	W.m[W.n] = mm;
	W.n++;
	check_actions(&res_, &ex);
	for (size_t k = 0; k < res_.nactions; k++)
		audit(res_.actions[k], SUBJ[s].name, &W.core[W.n - 1]);
	W.events_expected += ex.nact;
	push_deadline_if_new(W.n - 1, 0);
}

static size_t pick_request(void)
{
	/* mostly live ones, where something can still happen */
	if (rnd(10) < 7) {
		size_t live[MAXR], nl = 0;

		for (size_t i = 0; i < W.n; i++)
			if (!m_terminal(W.m[i].state) ||
			    (W.m[i].bg && W.m[i].review_required))
				live[nl++] = i;
		if (nl > 0)
			return live[rnd((unsigned)nl)];
	}
	return rnd((unsigned)W.n);
}

static int core_apply(enum op op, struct request *r, int s, const char *comment,
		      struct core_result *res)
{
	const struct subject *who = &SUBJ[s];

	switch (op) {
	case OP_APPROVE:
		return core_request_approve(W.cfg, r, who, comment, W.now, res);
	case OP_DENY:
		return core_request_deny(W.cfg, r, who, comment, W.now, res);
	case OP_CANCEL:
		return core_request_cancel(r, who, W.now, res);
	case OP_REVOKE:
		return core_request_revoke(W.cfg, r, who, comment, W.now, res);
	case OP_REVIEW:
		return core_request_review(W.cfg, r, who, W.now, res);
	default:
		fail();
	}
	return 0;
}

static void step_transition(enum op op)
{
	static const char *const comments[] = {NULL, "", "ok"};
	size_t i = pick_request();
	int s = (int)rnd(NSUBJ);
	const char *comment = pick(comments, 3);
	struct request before;
	struct mreq mm = W.m[i];
	struct core_result res;
	struct expect ex;
	int64_t dl_before = core_request_deadline(&W.core[i]);
	int rc;

	/* the ones entitled to act, more often than chance would pick them */
	if (rnd(3) == 0)
		s = op == OP_CANCEL ? W.m[i].requester
				    : (int)(rnd(2) ? CAROL : (rnd(2) ? DAVE : FRANK));
	snprintf(W.what, sizeof(W.what), "%s of request %zu (%s) by %s at +%llds",
		 OPNAME[op], i + 1, req_state_name(W.m[i].state), SUBJ[s].name,
		 (long long)((W.now - FX_T0) / 1000));
	m_apply(op, &mm, s, comment, &ex);
	assert_int_equal(request_copy(&before, &W.core[i]), 0);
	rc = core_apply(op, &W.core[i], s, comment, &res);
	CHECK(rc == ex.rc, "core %d (%s), model %d", rc, res.message, ex.rc);
	CHECK(res.err == rc, "res.err %d != rc %d", res.err, rc);
	if (rc != 0) {
		W.refused[op]++;
		CHECK(res.nactions == 0, "refusal reported actions");
		CHECK(fx_request_equal(&W.core[i], &before),
		      "a refused %s changed the request", OPNAME[op]);
	} else {
		W.accepted[op]++;
		W.self_approved += op == OP_APPROVE && s == mm.requester;
		W.m[i] = mm;
		check_actions(&res, &ex);
		for (size_t k = 0; k < res.nactions; k++)
			audit(res.actions[k], SUBJ[s].name, &W.core[i]);
		W.events_expected += ex.nact;
		push_deadline_if_new(i, dl_before);
	}
	request_clear(&before);
}

/* The engine's timer: pop every due deadline, expire or time out its
 * request if the deadline still applies; stale entries are refused. */
static void step_fire(void)
{
	struct deadline d;
	unsigned long fired = 0, want = 0;

	snprintf(W.what, sizeof(W.what), "deadlines at +%llds",
		 (long long)((W.now - FX_T0) / 1000));
	for (size_t i = 0; i < W.n; i++) {
		struct mreq *m = &W.m[i];

		if (m->state == REQ_PENDING && W.now >= m->pending_until) {
			m_end(m, REQ_TIMED_OUT, m->pending_until, BY_SYSTEM,
			      &(struct expect){0}, ACT_REQUEST_TIMED_OUT);
			want++;
		} else if (m->state == REQ_ACTIVE && W.now >= m->expires) {
			m_end(m, REQ_EXPIRED, m->expires, BY_SYSTEM,
			      &(struct expect){0}, ACT_REQUEST_EXPIRED);
			want++;
		}
	}
	while (deadlines_pop_due(&W.dl, W.now, &d)) {
		size_t i = (size_t)(d.request_id - 1);
		struct request *r = &W.core[i];
		bool active = r->state == REQ_ACTIVE;
		struct request before;
		struct core_result res;
		int rc;

		assert_true(i < W.n);
		assert_int_equal(request_copy(&before, r), 0);
		rc = active ? core_request_expire(r, W.now, &res)
			    : core_request_timeout(r, W.now, &res);
		if (rc == 0) {
			struct expect ex = {0};

			ex_add(&ex, active ? ACT_REQUEST_EXPIRED : ACT_REQUEST_TIMED_OUT);
			check_actions(&res, &ex);
			audit(res.actions[0], REQ_SYSTEM_ACTOR, r);
			W.events_expected++;
			fired++;
		} else {
			CHECK(rc == JG_ERR_CONFLICT, "deadline of %zu: %d", i + 1, rc);
			CHECK(res.nactions == 0, "refusal reported actions");
			CHECK(fx_request_equal(r, &before), "a stale deadline changed %zu",
			      i + 1);
		}
		request_clear(&before);
	}
	CHECK(fired == want, "%lu deadline transitions, model wants %lu", fired,
	      want);
	W.accepted[OP_FIRE] += fired;
}

static void step_advance(void)
{
	int64_t by;

	switch (rnd(6)) {
	case 0:
		by = 0;
		break;
	case 1:
	case 2:
		by = 1 + rnd(60) * FX_S;
		break;
	case 3:
	case 4:
		by = rnd(15) * FX_MIN + rnd(1000);
		break;
	default:
		by = FX_MIN * (30 + rnd(150)); /* past most deadlines */
		break;
	}
	/* sometimes exactly onto a deadline */
	if (W.n > 0 && rnd(5) == 0) {
		int64_t d = core_request_deadline(&W.core[rnd((unsigned)W.n)]);

		if (d > W.now)
			by = d - W.now;
	}
	W.now += by;
	W.accepted[OP_ADVANCE]++;
}

static void run_sequence(unsigned seqno, uint64_t seed)
{
	struct audit_verify_result vr;

	memset(&W.core, 0, sizeof(W.core));
	memset(&W.snapped, 0, sizeof(W.snapped));
	W.n = 0;
	W.now = FX_T0;
	W.seq = 0;
	W.events_expected = 0;
	W.seqno = seqno;
	W.rng = seed ^ (0xA24BAED4963EE407ULL * (seqno + 1));
	memcpy(W.head, AUDIT_GENESIS_PREV, sizeof(W.head));
	assert_int_equal(audit_verifier_new(&W.ver), 0);

	for (W.step = 0; W.step < STEPS; W.step++) {
		unsigned r = rnd(100);

		if (r < 25 || W.n == 0)
			step_create();
		else if (r < 45)
			step_transition(OP_APPROVE);
		else if (r < 52)
			step_transition(OP_DENY);
		else if (r < 58)
			step_transition(OP_CANCEL);
		else if (r < 66)
			step_transition(OP_REVOKE);
		else if (r < 73)
			step_transition(OP_REVIEW);
		else if (r < 88)
			step_advance();
		else
			step_fire();
		check_all();
	}
	/* run out the clock: everything ends, and ends at its deadline */
	W.now += 400 * FX_HOUR;
	step_fire();
	check_all();
	for (size_t i = 0; i < W.n; i++)
		CHECK(req_state_terminal(W.core[i].state), "request %zu still %s",
		      i + 1, req_state_name(W.core[i].state));

	audit_verifier_result(W.ver, &vr);
	CHECK(vr.ok, "chain does not verify: %s", vr.reason);
	CHECK(vr.count == W.events_expected && (int64_t)vr.count == W.seq,
	      "%llu events verified, %llu actions reported",
	      (unsigned long long)vr.count, (unsigned long long)W.events_expected);
	CHECK(strcmp(vr.head, W.head) == 0, "verified head differs");

	audit_verifier_free(W.ver);
	W.ver = NULL;
	for (size_t i = 0; i < W.n; i++) {
		request_clear(&W.core[i]);
		if (W.snapped[i])
			request_clear(&W.snap[i]);
	}
	deadlines_free(&W.dl);
}

static void test_model(void **state)
{
	const char *env = getenv("JG_MODEL_SEED");
	uint64_t total_events = 0;

	(void)state;
	W.seed = env ? strtoull(env, NULL, 0)
		     : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
	print_message("model seed %llu (rerun with JG_MODEL_SEED=%llu)\n",
		      (unsigned long long)W.seed, (unsigned long long)W.seed);
	W.cfg = fx_config(CONFIG);
	for (unsigned q = 0; q < SEQUENCES; q++) {
		run_sequence(q, W.seed);
		total_events += W.events_expected;
	}
	print_message("%u sequences x %u steps, %llu audit events\n", SEQUENCES,
		      STEPS, (unsigned long long)total_events);
	for (int op = 0; op <= OP_FIRE; op++)
		print_message("  %-8s accepted %6lu refused %6lu\n", OPNAME[op],
			      W.accepted[op], W.refused[op]);
	print_message("  extensions %lu, break-glass %lu, self-approvals %lu\n",
		      W.extended, W.break_glass, W.self_approved);
	/* the generator must reach every transition, accepted and refused */
	assert_true(W.extended > 0 && W.break_glass > 0 && W.self_approved > 0);
	for (int op = OP_CREATE; op <= OP_REVIEW; op++) {
		assert_true(W.accepted[op] > 0);
		assert_true(W.refused[op] > 0);
	}
	assert_true(W.accepted[OP_FIRE] > 0);
	config_free(W.cfg);
	W.cfg = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
