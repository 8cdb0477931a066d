/* Notices that fall due with time (design section 13, docs/slack.md):
 * reminders every remind_after while a request is pending, escalation to
 * escalate_to once escalate_after has passed, and the warning to a grant's
 * holder expiring_before (notify_people:, default 5 minutes) before it
 * ends.  Pure: time is an input.  Each notice is a deadline of the engine,
 * fired once cluster-wide like an expiry: the request carries what was
 * sent (reminders, escalated, expiry_warned), changed in the same store
 * transaction as the audit event that announces it. */
#ifndef JG_CORE_NOTICES_H
#define JG_CORE_NOTICES_H

#include <stdint.h>

#include "core/model.h"
#include "core/request.h"

/* detail.rule of the notice events */
#define NOTICE_RULE_REMIND "remind_after"
#define NOTICE_RULE_ESCALATE "escalate_after"
#define NOTICE_RULE_EXPIRING "expiring_before"

/* When the next notice of r falls due, 0 when none will (ended, no
 * remind_after / escalate_after / expiring_before, all sent).  A notice
 * that would fall at or after the request's own deadline (pending_until,
 * expires_at) is none: the deadline says more. */
int64_t notices_next_at(const struct config *cfg, const struct request *r);

/* Sends (in r) the notices due at now_ms: res->actions gets
 * request.escalated, request.reminded or request.expiring, in that order,
 * and r's marks are set.  Several reminders missed (jitgate was down) are
 * one reminder.  JG_ERR_CONFLICT, r untouched, when none is due. */
int notices_fire(const struct config *cfg, struct request *r, int64_t now_ms,
		 struct core_result *res) JG_WUR;

#endif
