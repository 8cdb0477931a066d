/* Notices to people (design section 13) in the pure core, with time as an
 * input: when reminders, escalation and the expiry warning fall due and
 * that each fires once (core/notices.h), and who is told what for every
 * event (core/audience.h).  Also the message text: hostile names and
 * reasons cannot smuggle Slack mentions or links. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/audience.h"
#include "core/notices.h"
#include "core_fixture.h"
#include "server/notify_people.h"
#include "util/text.h"

FX_SUBJECT(alice, "alice", "eng", NULL);
FX_SUBJECT(lena, "lena", "eng", "leads", NULL);
FX_SUBJECT(liam, "liam", "leads", NULL);
FX_SUBJECT(sam, "sam", "security", NULL);

#define H64(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static const char CONFIG[] =
	"pending_ttl: 2h\n"
	"admins: [user:root]\n"
	"identities:\n"
	"  - {subject: alice, groups: [eng], token_sha256: " H64("1") "}\n"
	"  - {subject: lena, groups: [eng, leads], token_sha256: " H64("2") "}\n"
	"  - {subject: liam, groups: [leads], token_sha256: " H64("3") "}\n"
	"  - {subject: sam, groups: [security], token_sha256: " H64("4") "}\n"
	"  - {subject: sara, groups: [security], token_sha256: " H64("5") "}\n"
	"  - {subject: boss, groups: [cto], token_sha256: " H64("6") "}\n"
	"resources:\n"
	"  - {name: db, kind: generic, roles: {read: {}, write: {}, admin: {}}}\n"
	"policies:\n"
	"  - name: two-stage\n"
	"    requesters: [group:eng]\n"
	"    resources: [db]\n"
	"    roles: [admin]\n"
	"    max_duration: 1h\n"
	"    stages:\n"
	"      - {approvals: 1, approvers: [group:leads]}\n"
	"      - {approvals: 1, approvers: [group:security, user:oidc-only]}\n"
	"    remind_after: 15m\n"
	"    escalate_after: 40m\n"
	"    escalate_to: [group:cto]\n"
	"  - name: write\n"
	"    requesters: [group:eng]\n"
	"    resources: [db]\n"
	"    roles: [write]\n"
	"    max_duration: 1h\n"
	"    approvals: 1\n"
	"    approvers: [group:leads]\n"
	"    break_glass: {max_duration: 30m}\n"
	"  - name: read\n"
	"    requesters: [group:eng]\n"
	"    resources: [db]\n"
	"    roles: [read]\n"
	"    max_duration: 1h\n"
	"    approvals: 0\n"
	"slack:\n"
	"  signing_secret_env: S\n"
	"  bot_token_env: T\n"
	"notify_people:\n"
	"  slack: true\n"
	"  everyone: [user:ciso]\n";

static struct config *cfg;

static int setup(void **state)
{
	(void)state;
	cfg = fx_config(CONFIG);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	config_free(cfg);
	return 0;
}

static void create(const struct subject *who, const char *role, int64_t dur_s,
		   bool bg, struct request *r)
{
	struct create_input in = {.resource = "db", .role = role, .duration_s = dur_s,
				  .reason = "because", .break_glass = bg};
	struct core_result res;

	assert_int_equal(core_request_create(cfg, who, &in, FX_T0, r, &res), 0);
	r->id = 7;
}

/* Who an event reaches, as "name:role,name:role". */
static const char *told(enum audit_action a, const struct request *r,
			const char *actor, int64_t now)
{
	static char buf[512];
	struct audience *aud = malloc(sizeof(*aud));
	size_t used = 0;

	assert_non_null(aud);
	audience_for(cfg, a, r, actor, now, aud);
	buf[0] = '\0';
	for (size_t i = 0; i < aud->n; i++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s:%s",
					 i ? "," : "", aud->v[i].subject,
					 audience_role_name(aud->v[i].role));
	free(aud);
	return buf;
}

/* Reminders every 15 minutes, escalation at 40: each fires exactly once
 * at its time, whatever the clock is asked in between. */
static void test_reminders_and_escalation_fire_once(void **state)
{
	struct request r, before;
	struct core_result res;

	(void)state;
	create(&alice, "admin", 1800, false, &r);
	assert_int_equal(r.state, REQ_PENDING);
	assert_int_equal(notices_next_at(cfg, &r), FX_T0 + 15 * FX_MIN);
	/* not yet: nothing changes */
	assert_int_equal(request_copy(&before, &r), 0);
	assert_int_equal(notices_fire(cfg, &r, FX_T0 + 15 * FX_MIN - 1, &res),
			 JG_ERR_CONFLICT);
	assert_true(fx_request_equal(&r, &before));
	request_clear(&before);
	/* first reminder at 15m, once */
	assert_int_equal(notices_fire(cfg, &r, FX_T0 + 15 * FX_MIN, &res), 0);
	FX_ACTIONS(&res, ACT_REQUEST_REMINDED);
	assert_int_equal(r.reminders, 1);
	assert_int_equal(notices_fire(cfg, &r, FX_T0 + 15 * FX_MIN, &res), JG_ERR_CONFLICT);
	assert_int_equal(notices_fire(cfg, &r, FX_T0 + 29 * FX_MIN, &res), JG_ERR_CONFLICT);
	assert_int_equal(notices_next_at(cfg, &r), FX_T0 + 30 * FX_MIN);
	assert_int_equal(notices_fire(cfg, &r, FX_T0 + 30 * FX_MIN, &res), 0);
	assert_int_equal(r.reminders, 2);
	/* escalation at 40m, before the 45m reminder */
	assert_int_equal(notices_next_at(cfg, &r), FX_T0 + 40 * FX_MIN);
	assert_int_equal(notices_fire(cfg, &r, FX_T0 + 40 * FX_MIN, &res), 0);
	FX_ACTIONS(&res, ACT_REQUEST_ESCALATED);
	assert_string_equal(res.rule, NOTICE_RULE_ESCALATE);
	assert_true(r.escalated);
	assert_int_equal(notices_fire(cfg, &r, FX_T0 + 41 * FX_MIN, &res), JG_ERR_CONFLICT);
	assert_int_equal(notices_next_at(cfg, &r), FX_T0 + 45 * FX_MIN);
	/* the last reminder before pending_until (2h) is at 1h45m */
	r.reminders = 6;
	assert_int_equal(notices_next_at(cfg, &r), FX_T0 + 105 * FX_MIN);
	r.reminders = 7;
	assert_int_equal(notices_next_at(cfg, &r), 0);
	assert_int_equal(notices_fire(cfg, &r, FX_T0 + 2 * FX_HOUR, &res), JG_ERR_CONFLICT);
	request_clear(&r);
}

/* jitgate was down for an hour: the missed reminders are one, and the
 * escalation comes with it, escalation first. */
static void test_missed_reminders_are_one(void **state)
{
	struct request r;
	struct core_result res;

	(void)state;
	create(&alice, "admin", 1800, false, &r);
	assert_int_equal(notices_fire(cfg, &r, FX_T0 + 61 * FX_MIN, &res), 0);
	FX_ACTIONS(&res, ACT_REQUEST_ESCALATED, ACT_REQUEST_REMINDED);
	assert_int_equal(r.reminders, 4);
	assert_int_equal(notices_next_at(cfg, &r), FX_T0 + 75 * FX_MIN);
	request_clear(&r);
}

/* The expiry warning: expiring_before (default 5m) before expires_at,
 * once; none for a grant no longer than that, none once it has ended. */
static void test_expiry_warning(void **state)
{
	struct request r, shortr;
	struct core_result res;

	(void)state;
	create(&alice, "read", 3600, false, &r);
	assert_int_equal(r.state, REQ_ACTIVE);
	assert_int_equal(notices_next_at(cfg, &r), r.expires_at - 5 * FX_MIN);
	assert_int_equal(notices_fire(cfg, &r, r.expires_at - 5 * FX_MIN - 1, &res),
			 JG_ERR_CONFLICT);
	assert_int_equal(notices_fire(cfg, &r, r.expires_at - 5 * FX_MIN, &res), 0);
	FX_ACTIONS(&res, ACT_REQUEST_EXPIRING);
	assert_true(r.expiry_warned);
	assert_int_equal(notices_fire(cfg, &r, r.expires_at - FX_MIN, &res), JG_ERR_CONFLICT);
	assert_int_equal(notices_next_at(cfg, &r), 0);
	/* a 5-minute grant is not warned about; an expired one neither */
	create(&alice, "read", 300, false, &shortr);
	assert_int_equal(notices_next_at(cfg, &shortr), 0);
	shortr.expires_at = FX_T0 + 3600 * FX_S;
	assert_int_equal(notices_fire(cfg, &shortr, shortr.expires_at, &res), JG_ERR_CONFLICT);
	request_clear(&shortr);
	request_clear(&r);
}

/* Without notify_people: no warning (reminders are the policy's, kept). */
static void test_no_people_section_no_warning(void **state)
{
	struct config *bare;
	struct request r;
	const char *cut = strstr(CONFIG, "notify_people:");
	char *yaml = strndup(CONFIG, (size_t)(cut - CONFIG));

	(void)state;
	assert_non_null(yaml);
	bare = fx_config(yaml);
	free(yaml);
	create(&alice, "read", 3600, false, &r);
	assert_int_equal(notices_next_at(bare, &r), 0);
	request_clear(&r);
	create(&alice, "admin", 1800, false, &r);
	assert_int_equal(notices_next_at(bare, &r), FX_T0 + 15 * FX_MIN);
	request_clear(&r);
	config_free(bare);
}

/* Who is told of what. */
static void test_audience(void **state)
{
	struct request r;
	struct core_result res;

	(void)state;
	create(&alice, "admin", 1800, false, &r);
	/* new request: stage 1's approvers, not the requester */
	assert_string_equal(told(ACT_REQUEST_CREATED, &r, "alice", FX_T0),
			    "lena:approver,liam:approver");
	/* lena approves stage 1: stage 2 opens for security and user:oidc-only */
	assert_int_equal(core_request_approve(cfg, &r, &liam, NULL, FX_T0 + FX_MIN, &res), 0);
	assert_string_equal(told(ACT_REQUEST_APPROVED, &r, "liam", FX_T0 + FX_MIN),
			    "sam:approver,sara:approver,oidc-only:approver");
	/* a reminder goes to who may decide now: stage 2, and after 40m the
	 * escalation too */
	assert_string_equal(told(ACT_REQUEST_REMINDED, &r, "jitgate", FX_T0 + 15 * FX_MIN),
			    "sam:approver,sara:approver,oidc-only:approver");
	assert_string_equal(told(ACT_REQUEST_REMINDED, &r, "jitgate", FX_T0 + 45 * FX_MIN),
			    "sam:approver,sara:approver,oidc-only:approver,boss:approver");
	assert_string_equal(told(ACT_REQUEST_ESCALATED, &r, "jitgate", FX_T0 + 40 * FX_MIN),
			    "boss:escalation");
	/* sam approves: the requester hears it is active; sam not told */
	assert_int_equal(core_request_approve(cfg, &r, &sam, NULL, FX_T0 + 2 * FX_MIN, &res), 0);
	assert_string_equal(told(ACT_REQUEST_APPROVED, &r, "sam", FX_T0 + 2 * FX_MIN), "");
	assert_string_equal(told(ACT_REQUEST_ACTIVATED, &r, "sam", FX_T0 + 2 * FX_MIN),
			    "alice:requester");
	assert_string_equal(told(ACT_REQUEST_EXPIRING, &r, "jitgate", FX_T0), "alice:requester");
	assert_string_equal(told(ACT_REQUEST_EXPIRED, &r, "jitgate", FX_T0), "alice:requester");
	assert_string_equal(told(ACT_REQUEST_REVOKED, &r, "root", FX_T0), "alice:requester");
	/* her own revoke is news to nobody */
	assert_string_equal(told(ACT_REQUEST_REVOKED, &r, "alice", FX_T0), "");
	assert_string_equal(told(ACT_REQUEST_DENIED, &r, "lena", FX_T0), "alice:requester");
	assert_string_equal(told(ACT_REQUEST_TIMED_OUT, &r, "jitgate", FX_T0), "alice:requester");
	/* events of nobody's concern */
	assert_string_equal(told(ACT_REQUEST_CANCELED, &r, "alice", FX_T0), "");
	assert_string_equal(told(ACT_SESSION_STARTED, &r, "alice", FX_T0), "");
	request_clear(&r);
	/* an auto-granted request: its own requester is not told */
	create(&alice, "read", 600, false, &r);
	assert_string_equal(told(ACT_REQUEST_ACTIVATED, &r, "alice", FX_T0), "");
	assert_string_equal(told(ACT_REQUEST_CREATED, &r, "alice", FX_T0), "");
	request_clear(&r);
}

/* Break-glass: every approver, the admins and notify_people.everyone; not
 * the one who broke the glass. */
static void test_break_glass_everyone(void **state)
{
	struct request r;

	(void)state;
	create(&lena, "write", 600, true, &r);
	assert_int_equal(r.state, REQ_ACTIVE);
	assert_string_equal(told(ACT_REQUEST_BREAK_GLASS, &r, "lena", FX_T0),
			    "liam:everyone,root:everyone,ciso:everyone");
	request_clear(&r);
}

/* The requester is never an approver of their own request here. */
static void test_requester_among_approvers_not_asked(void **state)
{
	struct request r;

	(void)state;
	create(&lena, "write", 600, false, &r);
	assert_string_equal(told(ACT_REQUEST_CREATED, &r, "lena", FX_T0), "liam:approver");
	request_clear(&r);
}

static void test_email_of_subject(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(notify_people_email("bob@corp.example", NULL, buf, sizeof(buf)),
			    "bob@corp.example");
	assert_string_equal(notify_people_email("bob", "corp.example", buf, sizeof(buf)),
			    "bob@corp.example");
	assert_null(notify_people_email("bob", NULL, buf, sizeof(buf)));
	assert_null(notify_people_email("a-very-long-subject-name-that-does-not-fit",
					"example.com", buf, 16));
}

/* Text from outside is escaped for Slack (no <!channel>, no <url|link>),
 * cut to a bounded length at a character boundary; the webhook text is
 * the same words unescaped. */
static void test_text_escaped(void **state)
{
	char reason[2048];
	json_t *ev;
	char *t;

	(void)state;
	memset(reason, '&', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	memcpy(reason, "<!channel> <https://evil.example|click> \xc3\xa9\n",
	       strlen("<!channel> <https://evil.example|click> \xc3\xa9\n"));
	ev = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:{s:s, s:I}}", "action",
		       "request.created", "actor", "eve<@U1>", "request_id", (json_int_t)12,
		       "subject", "eve<@U1>", "resource", "db", "role", "write", "detail",
		       "reason", reason, "duration_s", (json_int_t)1800);
	assert_non_null(ev);
	t = notify_people_text(ev, "approver", "https://jit.example", true);
	assert_non_null(t);
	assert_null(strstr(t, "<!channel>"));
	assert_null(strstr(t, "<https://evil"));
	assert_null(strstr(t, "<@U1>"));
	assert_non_null(strstr(t, "eve&lt;@U1&gt; asks for write on db for 30m (request 12): "
				  "&lt;!channel&gt; &lt;https://evil.example|click&gt; \xc3\xa9 "));
	assert_non_null(strstr(t, "…"));
	assert_true(strlen(t) < 2000);
	assert_true(text_utf8_valid(t, strlen(t)));
	/* the one link is ours */
	assert_non_null(strstr(t, " <https://jit.example/ui/requests/12|Open in jitgate>"));
	free(t);
	t = notify_people_text(ev, "approver", NULL, false);
	assert_non_null(strstr(t, "eve<@U1> asks for write on db for 30m (request 12): <!channel>"));
	free(t);
	json_decref(ev);
}

static void test_texts_per_event(void **state)
{
	static const struct {
		const char *action, *want;
	} cases[] = {
		{"request.denied", "Your request 3 for write on db was denied by liam: no."},
		{"request.revoked", "Your access to write on db (request 3) was revoked by liam: no."},
		{"request.expiring", "Your access to write on db (request 3) ends at 2026-03-01T01:00:00.000Z."},
		{"request.expired", "Your access to write on db (request 3) has expired."},
		{"request.reminded", "Reminder: request 3 by alice for write on db still waits for a decision (1 of 2 approvals)."},
		{"request.escalated", "Escalated to you: request 3 by alice for write on db has had no decision in time."},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *ev = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:I, s:I}}",
				       "action", cases[i].action, "actor", "liam",
				       "request_id", (json_int_t)3, "subject", "alice",
				       "resource", "db", "role", "write", "detail",
				       "comment", "no", "reason", "no", "expires_at",
				       "2026-03-01T01:00:00.000Z", "approvals", (json_int_t)1,
				       "approvals_required", (json_int_t)2);
		char *t = notify_people_text(ev, "requester", NULL, true);

		assert_non_null(t);
		if (strstr(t, cases[i].want) == NULL)
			print_message("%s: %s\n", cases[i].action, t);
		assert_non_null(strstr(t, cases[i].want));
		free(t);
		json_decref(ev);
	}
}

/* Optional parts are left out whole when the event lacks them; a
 * break-glass alarm only in Slack. */
static void test_text_optional_parts(void **state)
{
	json_t *ev = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:{s:n, s:n}}", "action",
			       "request.created", "actor", "alice", "request_id", (json_int_t)5,
			       "subject", "alice", "resource", "db", "role", "read", "detail",
			       "reason", "ticket");
	char *t;

	(void)state;
	t = notify_people_text(ev, "approver", NULL, true);
	assert_string_equal(t, "alice asks for read on db (request 5). You may approve or deny it.");
	free(t);
	json_object_set_new(ev, "action", json_string("request.break_glass"));
	json_object_set_new(json_object_get(ev, "detail"), "reason", json_string("fire"));
	json_object_set_new(json_object_get(ev, "detail"), "duration_s", json_integer(600));
	t = notify_people_text(ev, "everyone", NULL, true);
	assert_string_equal(t, ":rotating_light: BREAK-GLASS: alice took read on db for 10m "
			       "(request 5) without approval: fire. It needs a review after the fact.");
	free(t);
	t = notify_people_text(ev, "everyone", "https://j.example", false);
	assert_string_equal(t, "BREAK-GLASS: alice took read on db for 10m (request 5) without "
			       "approval: fire. It needs a review after the fact. "
			       "https://j.example/ui/requests/5");
	free(t);
	json_decref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reminders_and_escalation_fire_once),
		cmocka_unit_test(test_missed_reminders_are_one),
		cmocka_unit_test(test_expiry_warning),
		cmocka_unit_test(test_no_people_section_no_warning),
		cmocka_unit_test(test_audience),
		cmocka_unit_test(test_break_glass_everyone),
		cmocka_unit_test(test_requester_among_approvers_not_asked),
		cmocka_unit_test(test_email_of_subject),
		cmocka_unit_test(test_text_escaped),
		cmocka_unit_test(test_texts_per_event),
		cmocka_unit_test(test_text_optional_parts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
