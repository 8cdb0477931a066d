/* The approval flow of design section 13, pure: which stage of a request
 * is open, who may approve it at a given time (the stage's approvers, and
 * escalate_to once escalate_after has passed), whether a request is
 * approved on creation by auto_approve, and when reminders fall due.
 * Time is always an input; nothing here reads a clock or a file. */
#ifndef JG_CORE_FLOW_H
#define JG_CORE_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model.h"
#include "core/principal.h"
#include "core/request.h"

/* The rules named in audit detail.rule. */
#define FLOW_RULE_APPROVALS "approvals"
#define FLOW_RULE_STAGES "stages"
#define FLOW_RULE_ESCALATE "escalate_to"
#define FLOW_RULE_WINDOW "auto_approve.when"
#define FLOW_RULE_ONCALL "auto_approve.oncall"
#define FLOW_RULE_NONE_NEEDED "no_approval"
#define FLOW_RULE_BREAK_GLASS "break_glass"

/* The open stage of r (0-based; with no stages always 0): stage k opens
 * when the approvals of stages 0..k-1 are all given.  Once all are given,
 * the last stage. */
int flow_stage(const struct policy_cfg *p, const struct request *r);

/* The rule under which who may approve r at now_ms (the open stage's
 * approvers, the policy's approvers, or escalate_to once r has waited
 * escalate_after), or NULL when who may not.  Self-approval is judged by
 * the caller. */
const char *flow_approver_rule(const struct policy_cfg *p,
			       const struct request *r,
			       const struct subject *who, int64_t now_ms);

/* True when who is named anywhere in p's flow (any stage, escalate_to). */
bool flow_involved(const struct policy_cfg *p, const struct subject *who);

/* The auto_approve rule that approves a request by who at now_ms
 * (FLOW_RULE_WINDOW or FLOW_RULE_ONCALL), or NULL. */
const char *flow_auto_rule(const struct policy_cfg *p,
			   const struct subject *who, int64_t now_ms);

/* True when now_ms falls in p's auto_approve time window. */
bool flow_in_window(const struct auto_approve_cfg *a, int64_t now_ms);
/* True when subject is on call at now_ms by a's schedule. */
bool flow_on_call(const struct auto_approve_cfg *a, const char *subject,
		  int64_t now_ms);

/* How many reminders r is due by now_ms (one every remind_after while it
 * is pending, the first at created_at + remind_after); 0 without
 * remind_after.  A notifier that has sent n sends one more when this
 * exceeds n. */
int64_t flow_reminders_due(const struct policy_cfg *p, const struct request *r,
			   int64_t now_ms);
/* When r escalates (created_at + escalate_after), 0 without escalation. */
int64_t flow_escalates_at(const struct policy_cfg *p, const struct request *r);

#endif
