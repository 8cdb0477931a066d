/* The approval flow of design section 13 in the pure core: stages,
 * escalation, reminders, time-window and on-call auto-approval, and the
 * rule each decision is audited with.  As in test_request.c, every refusal
 * must leave the request deep-equal to what it was.  Time is an input:
 * the window is checked on both sides of a daylight-saving change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/cfgflow.h"
#include "core/flow.h"
#include "core/policy.h"
#include "core_fixture.h"
#include "util/timeutil.h"
#include "util/tzrule.h"

FX_SUBJECT(alice, "alice", "eng", NULL);          /* requester */
FX_SUBJECT(lena, "lena", "eng", "leads", NULL);   /* requester, lead */
FX_SUBJECT(liam, "liam", "leads", NULL);          /* lead */
FX_SUBJECT(sam, "sam", "security", NULL);         /* security */
FX_SUBJECT(sara, "sara", "security", NULL);       /* security */
FX_SUBJECT(boss, "boss", "cto", NULL);            /* escalation */
FX_SUBJECT(mallory, "mallory", "eng", NULL);      /* nobody special */

/* Mon 2026-03-02 00:00Z; Berlin is UTC+1 then, UTC+2 from 2026-03-29. */
#define MON (FX_T0 + 24 * FX_HOUR)
#define MON_DST (MON + 28 * 24 * FX_HOUR) /* Mon 2026-03-30 */

static const char CONFIG_HEAD[] =
	"pending_ttl: 4h\n"
	"resources:\n"
	"  - {name: db, kind: generic, roles: {read: {}, write: {}, admin: {}, ops: {}}}\n"
	"policies:\n"
	"  - name: two-stage\n"
	"    requesters: [group:eng]\n"
	"    resources: [db]\n"
	"    roles: [admin]\n"
	"    max_duration: 1h\n"
	"    stages:\n"
	"      - {approvals: 1, approvers: [group:leads]}\n"
	"      - {approvals: 1, approvers: [group:security]}\n"
	"    remind_after: 15m\n"
	"    escalate_after: 1h\n"
	"    escalate_to: [group:cto]\n"
	"  - name: office-hours\n"
	"    requesters: [group:eng]\n"
	"    resources: [db]\n"
	"    roles: [read]\n"
	"    max_duration: 1h\n"
	"    approvals: 1\n"
	"    approvers: [group:leads]\n"
	"    auto_approve: {when: {days: [mon-fri], hours: \"09:00-18:00\", tz: Europe/Berlin}}\n"
	"  - name: oncall\n"
	"    requesters: [group:eng]\n"
	"    resources: [db]\n"
	"    roles: [ops]\n"
	"    max_duration: 1h\n"
	"    approvals: 1\n"
	"    approvers: [group:leads]\n";

static struct config *cfg;
static char oncall_path[64];

static int setup(void **state)
{
	static const char shifts[] =
		"# who is on call\n"
		"- {subject: alice, start: \"2026-03-02T08:00:00Z\", end: \"2026-03-02T16:00:00Z\"}\n"
		"- {subject: lena, start: \"2026-03-02T16:00:00Z\", end: \"2026-03-03T00:00:00Z\"}\n";
	char *yaml;
	FILE *f;
	int fd;

	(void)state;
	strcpy(oncall_path, "/tmp/jg-oncall-XXXXXX");
	fd = mkstemp(oncall_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(shifts, f);
	fclose(f);
	yaml = malloc(sizeof(CONFIG_HEAD) + 128);
	assert_non_null(yaml);
	snprintf(yaml, sizeof(CONFIG_HEAD) + 128, "%s    auto_approve: {oncall: %s}\n",
		 CONFIG_HEAD, oncall_path);
	cfg = fx_config(yaml);
	free(yaml);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	config_free(cfg);
	cfg = NULL;
	unlink(oncall_path);
	return 0;
}

static void create(const struct subject *who, const char *role, int64_t now,
		   struct request *out, struct core_result *res)
{
	struct create_input in = {.resource = "db", .role = role,
				  .duration_s = 600};
	int rc = core_request_create(cfg, who, &in, now, out, res);

	if (rc != 0)
		print_message("create refused: %s\n", res->message);
	assert_int_equal(rc, 0);
	out->id = 1;
}

static void approve_ok(struct request *r, const struct subject *who,
		       int64_t now, struct core_result *res)
{
	int rc = core_request_approve(cfg, r, who, NULL, now, res);

	if (rc != 0)
		print_message("approve by %s refused: %s\n", who->name, res->message);
	assert_int_equal(rc, 0);
}

/* approve by who must be refused with err, leaving r as it was. */
static void approve_refused(struct request *r, const struct subject *who,
			    int64_t now, int err, const char *why)
{
	struct request before;
	struct core_result res;
	int rc;

	assert_int_equal(request_copy(&before, r), 0);
	rc = core_request_approve(cfg, r, who, NULL, now, &res);
	if (rc != err)
		print_message("approve by %s: want %d, got %d (%s)\n", who->name,
			      err, rc, res.message);
	assert_int_equal(rc, err);
	assert_int_equal(res.nactions, 0);
	assert_true(fx_request_equal(r, &before));
	if (why != NULL)
		assert_non_null(strstr(res.message, why));
	request_clear(&before);
}

static void test_two_stages(void **state)
{
	struct request r;
	struct core_result res;

	(void)state;
	create(&alice, "admin", FX_T0, &r, &res);
	FX_ACTIONS(&res, ACT_REQUEST_CREATED);
	assert_null(res.rule);
	assert_int_equal(r.state, REQ_PENDING);
	assert_int_equal(r.approvals_required, 2);
	assert_int_equal(flow_stage(config_policy(cfg, "two-stage"), &r), 0);
	/* stage 2 is not open yet: security cannot approve first */
	approve_refused(&r, &sam, FX_T0 + 1, JG_ERR_FORBIDDEN, "stage 1");
	assert_false(core_may_decide(cfg, &r, &sam, FX_T0 + 1));
	assert_true(core_may_view(cfg, &r, &sam));
	approve_refused(&r, &mallory, FX_T0 + 1, JG_ERR_FORBIDDEN, "not an approver");
	approve_ok(&r, &liam, FX_T0 + 2, &res);
	FX_ACTIONS(&res, ACT_REQUEST_APPROVED);
	assert_string_equal(res.rule, FLOW_RULE_STAGES);
	assert_int_equal(res.stage, 1);
	assert_int_equal(r.state, REQ_PENDING);
	/* now the leads' stage is met: a second lead may not add to it */
	approve_refused(&r, &lena, FX_T0 + 3, JG_ERR_FORBIDDEN, "stage 2");
	approve_ok(&r, &sara, FX_T0 + 4, &res);
	FX_ACTIONS(&res, ACT_REQUEST_APPROVED, ACT_REQUEST_ACTIVATED);
	assert_int_equal(res.stage, 2);
	assert_string_equal(res.rule, FLOW_RULE_STAGES);
	assert_int_equal(r.state, REQ_ACTIVE);
	request_clear(&r);
}

static void test_stage_self_approval(void **state)
{
	struct request r;
	struct core_result res;

	(void)state;
	/* lena is a lead: her own request's stage 1 needs another lead */
	create(&lena, "admin", FX_T0, &r, &res);
	approve_refused(&r, &lena, FX_T0 + 1, JG_ERR_FORBIDDEN, "own request");
	approve_ok(&r, &liam, FX_T0 + 2, &res);
	request_clear(&r);
}

static void test_escalation(void **state)
{
	struct request r;
	struct core_result res;
	const struct policy_cfg *p = config_policy(cfg, "two-stage");

	(void)state;
	create(&alice, "admin", FX_T0, &r, &res);
	assert_int_equal(flow_escalates_at(p, &r), FX_T0 + FX_HOUR);
	/* before escalate_after the cto is nobody here */
	approve_refused(&r, &boss, FX_T0 + FX_HOUR - 1, JG_ERR_FORBIDDEN, NULL);
	assert_false(core_may_decide(cfg, &r, &boss, FX_T0 + FX_HOUR - 1));
	assert_true(core_may_decide(cfg, &r, &boss, FX_T0 + FX_HOUR));
	approve_ok(&r, &boss, FX_T0 + FX_HOUR, &res);
	assert_string_equal(res.rule, FLOW_RULE_ESCALATE);
	assert_int_equal(res.stage, 1);
	/* one subject, one approval: the cto cannot also give stage 2 */
	approve_refused(&r, &boss, FX_T0 + FX_HOUR + 1, JG_ERR_CONFLICT, "already");
	approve_ok(&r, &sam, FX_T0 + FX_HOUR + 2, &res);
	assert_int_equal(r.state, REQ_ACTIVE);
	request_clear(&r);
}

static void test_reminders(void **state)
{
	struct request r;
	struct core_result res;
	const struct policy_cfg *p = config_policy(cfg, "two-stage");

	(void)state;
	create(&alice, "admin", FX_T0, &r, &res);
	assert_int_equal(flow_reminders_due(p, &r, FX_T0), 0);
	assert_int_equal(flow_reminders_due(p, &r, FX_T0 + 15 * FX_MIN - 1), 0);
	assert_int_equal(flow_reminders_due(p, &r, FX_T0 + 15 * FX_MIN), 1);
	assert_int_equal(flow_reminders_due(p, &r, FX_T0 + 46 * FX_MIN), 3);
	approve_ok(&r, &liam, FX_T0 + 1, &res);
	approve_ok(&r, &sam, FX_T0 + 2, &res);
	/* an active request is reminded of nothing */
	assert_int_equal(flow_reminders_due(p, &r, FX_T0 + 46 * FX_MIN), 0);
	assert_int_equal(flow_reminders_due(config_policy(cfg, "oncall"), &r,
					    FX_T0 + 46 * FX_MIN), 0);
	request_clear(&r);
}

/* Creating a read request at t: granted by the window, or pending. */
static void window_case(int64_t t, bool granted)
{
	struct request r;
	struct core_result res;

	create(&alice, "read", t, &r, &res);
	if (r.state != (granted ? REQ_ACTIVE : REQ_PENDING)) {
		char buf[TIME_RFC3339_LEN];

		time_format(t, buf);
		print_message("at %s: want %s\n", buf, granted ? "active" : "pending");
	}
	assert_int_equal(r.state, granted ? REQ_ACTIVE : REQ_PENDING);
	if (granted) {
		FX_ACTIONS(&res, ACT_REQUEST_CREATED, ACT_REQUEST_ACTIVATED);
		assert_string_equal(res.rule, FLOW_RULE_WINDOW);
	} else {
		FX_ACTIONS(&res, ACT_REQUEST_CREATED);
		assert_null(res.rule);
	}
	request_clear(&r);
}

static void test_time_window(void **state)
{
	(void)state;
	/* Monday, CET (UTC+1): 09:00-18:00 Berlin is 08:00-17:00Z */
	window_case(MON + 8 * FX_HOUR - 1, false);
	window_case(MON + 8 * FX_HOUR, true);
	window_case(MON + 17 * FX_HOUR - 1, true);
	window_case(MON + 17 * FX_HOUR, false);
	/* Sunday at noon: not a window day */
	window_case(FX_T0 + 12 * FX_HOUR, false);
	/* Monday after the change to CEST (UTC+2): 07:00-16:00Z */
	window_case(MON_DST + 7 * FX_HOUR - 1, false);
	window_case(MON_DST + 7 * FX_HOUR, true);
	window_case(MON_DST + 16 * FX_HOUR - 1, true);
	window_case(MON_DST + 16 * FX_HOUR, false);
	/* Friday 2026-10-30 after the change back to CET: 08:00Z is 09:00 */
	window_case(MON + 242 * 24 * FX_HOUR + 8 * FX_HOUR - 1, false);
	window_case(MON + 242 * 24 * FX_HOUR + 8 * FX_HOUR, true);
}

static void test_oncall(void **state)
{
	struct request r;
	struct core_result res;

	(void)state;
	/* alice's shift is 08:00-16:00Z on Monday */
	create(&alice, "ops", MON + 8 * FX_HOUR, &r, &res);
	assert_int_equal(r.state, REQ_ACTIVE);
	assert_string_equal(res.rule, FLOW_RULE_ONCALL);
	request_clear(&r);
	create(&alice, "ops", MON + 16 * FX_HOUR, &r, &res);
	assert_int_equal(r.state, REQ_PENDING);
	assert_null(res.rule);
	request_clear(&r);
	/* lena's shift starts when alice's ends */
	create(&lena, "ops", MON + 16 * FX_HOUR, &r, &res);
	assert_int_equal(r.state, REQ_ACTIVE);
	request_clear(&r);
	create(&mallory, "ops", MON + 9 * FX_HOUR, &r, &res);
	assert_int_equal(r.state, REQ_PENDING);
	request_clear(&r);
}

/* yaml must be refused with a message starting with want. */
static void config_refused(const char *yaml, const char *want)
{
	struct config *c = NULL;
	char err[512];
	int rc = config_parse("t.yaml", yaml, strlen(yaml), &c, err, sizeof(err));

	if (rc == 0 || strncmp(err, want, strlen(want)) != 0)
		print_message("want \"%s\", got %d \"%s\"\n", want, rc,
			      rc ? err : "");
	assert_true(rc < 0);
	assert_null(c);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
}

#define POLICY_HEAD \
	"resources:\n" \
	"  - {name: db, kind: generic, roles: {read: {}}}\n" \
	"policies:\n" \
	"  - name: p\n" \
	"    requesters: [group:eng]\n" \
	"    resources: [db]\n" \
	"    roles: [read]\n" \
	"    max_duration: 1h\n"

static void test_config_errors(void **state)
{
	(void)state;
	config_refused(POLICY_HEAD "    approvals: 1\n    approvers: [user:a]\n"
		       "    stages: [{approvals: 1, approvers: [user:b]}]\n",
		       "t.yaml:9: approvals: a policy has either");
	config_refused(POLICY_HEAD "    stages: []\n", "t.yaml:9: stages:");
	config_refused(POLICY_HEAD "    stages:\n      - {approvals: 2, approvers: [user:b]}\n",
		       "t.yaml:10: approvals: 2 needed but only 1");
	config_refused(POLICY_HEAD "    stages:\n      - {approvals: 1}\n",
		       "t.yaml:10: ");
	config_refused(POLICY_HEAD "    stages:\n      - {approvals: 1, approvers: [user:b], x: 1}\n",
		       "t.yaml:10: ");
	config_refused(POLICY_HEAD "    approvals: 1\n    approvers: [user:a]\n"
		       "    escalate_after: 1h\n", "t.yaml:11: escalate_after: needs");
	config_refused(POLICY_HEAD "    approvals: 1\n    approvers: [user:a]\n"
		       "    remind_after: soon\n", "t.yaml:11: ");
	config_refused(POLICY_HEAD "    approvals: 0\n    remind_after: 15m\n",
		       "t.yaml:10: remind_after: the policy needs no approval");
	config_refused(POLICY_HEAD "    approvals: 1\n    approvers: [user:a]\n"
		       "    auto_approve: {when: {days: [fri-mon], hours: \"09:00-18:00\", tz: UTC}}\n",
		       "t.yaml:11: days: 'fri-mon'");
	config_refused(POLICY_HEAD "    approvals: 1\n    approvers: [user:a]\n"
		       "    auto_approve: {when: {days: [mon], hours: \"18:00-09:00\", tz: UTC}}\n",
		       "t.yaml:11: hours:");
	config_refused(POLICY_HEAD "    approvals: 1\n    approvers: [user:a]\n"
		       "    auto_approve: {when: {days: [mon], hours: \"09:00-18:00\", tz: Mars/Olympus}}\n",
		       "t.yaml:11: tz: 'Mars/Olympus': no such time zone");
	config_refused(POLICY_HEAD "    approvals: 1\n    approvers: [user:a]\n"
		       "    auto_approve: {when: {days: [mon], hours: \"09:00-18:00\", tz: ../../etc/passwd}}\n",
		       "t.yaml:11: tz: '../../etc/passwd': not a time zone name");
	config_refused(POLICY_HEAD "    approvals: 1\n    approvers: [user:a]\n"
		       "    auto_approve: {oncall: /nonexistent/shifts.yaml}\n",
		       "t.yaml:11: oncall: cannot read");
	config_refused(POLICY_HEAD "    approvals: 1\n    approvers: [user:a]\n"
		       "    approve_in: slack\n", "t.yaml:11: approve_in:");
	config_refused(POLICY_HEAD "    approvals: 1\n    approvers: [user:a]\n"
		       "    auto_approve: {}\n", "t.yaml:11: ");
}

/* A schedule's errors name the schedule file and its line. */
static void oncall_refused(const char *text, const char *want)
{
	struct auto_approve_cfg a = {0};
	char err[512] = "";
	struct cfgval_ctx c = {.name = "s.yaml", .err = err, .errlen = sizeof(err)};
	struct policy_cfg p = {0};
	int rc = cfgflow_parse_oncall(&c, text, strlen(text), &a);

	if (rc == 0 || strncmp(err, want, strlen(want)) != 0)
		print_message("want \"%s\", got %d \"%s\"\n", want, rc, err);
	assert_true(rc < 0);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
	p.auto_approve = a;
	cfgflow_free(&p);
}

static void test_oncall_errors(void **state)
{
	(void)state;
	oncall_refused("", "s.yaml:1: on-call schedule is empty");
	oncall_refused("- {subject: a, start: \"2026-03-02T08:00:00Z\"}\n",
		       "s.yaml:1: ");
	oncall_refused("- {subject: a, start: \"2026-03-02T08:00:00Z\", end: \"2026-03-02T08:00:00Z\"}\n",
		       "s.yaml:1: end: not after start");
	oncall_refused("- {subject: a, start: \"2026-03-02T08:00:00Z\", end: \"2026-03-02T18:00:00Z\"}\n"
		       "- {subject: b, start: \"monday\", end: \"2026-03-02T18:00:00Z\"}\n",
		       "s.yaml:2: start: not an RFC 3339");
	oncall_refused("- {subject: \"a\\x01\", start: \"2026-03-02T08:00:00Z\", end: \"2026-03-02T18:00:00Z\"}\n",
		       "s.yaml:1: subject:");
	oncall_refused("- {subject: a, start: \"2026-03-02T08:00:00Z\", end: \"2026-03-02T18:00:00Z\", who: x}\n",
		       "s.yaml:1: ");
	oncall_refused("shifts: 1\n", "s.yaml:1: ");
	oncall_refused("- [\xff\xfe]\n", "s.yaml:");
}

/* Malformed TZif bytes are refused, never read past. */
static void test_tzif_malformed(void **state)
{
	unsigned char buf[128];
	struct tzrule *tz = NULL;
	char why[128];

	(void)state;
	assert_true(tzrule_parse((const unsigned char *)"TZif", 4, &tz, why,
				 sizeof(why)) < 0);
	assert_null(tz);
	memset(buf, 0xff, sizeof(buf));
	memcpy(buf, "TZif2", 5);
	for (size_t n = 0; n <= sizeof(buf); n++) {
		assert_true(tzrule_parse(buf, n, &tz, why, sizeof(why)) < 0);
		assert_null(tz);
	}
	/* a minimal valid v2 file: one type, UTC, footer "UTC0" */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, "TZif2", 5);
	buf[39] = 1; buf[43] = 4;                 /* v1: 1 type, 4 chars */
	memcpy(buf + 44 + 6, "UTC", 3);
	memcpy(buf + 54, "TZif2", 5);
	buf[54 + 39] = 1; buf[54 + 43] = 4;       /* v2: same */
	memcpy(buf + 98 + 6, "UTC", 3);
	memcpy(buf + 108, "\nUTC0\n", 6);
	assert_int_equal(tzrule_parse(buf, 114, &tz, why, sizeof(why)), 0);
	assert_int_equal(tzrule_offset(tz, 0), 0);
	tzrule_free(tz);
	/* a Julian footer rule is refused, with its reason */
	memcpy(buf + 108, "\nAAA0BBB,J60,J30\n", 17);
	assert_true(tzrule_parse(buf, 125, &tz, why, sizeof(why)) < 0);
	assert_non_null(strstr(why, "Julian"));
	/* a truncated footer */
	assert_true(tzrule_parse(buf, 112, &tz, why, sizeof(why)) < 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_two_stages),  T(test_stage_self_approval),
		T(test_escalation),  T(test_reminders),
		T(test_time_window), T(test_oncall),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_oncall_errors),
		cmocka_unit_test(test_tzif_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
