/* Shared helpers for the core unit tests (header-only: tests.cmake builds
 * each tests/unit/test_*.c as its own executable from that one file).
 * Include after <cmocka.h>. */
#ifndef JG_TESTS_CORE_FIXTURE_H
#define JG_TESTS_CORE_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "core/principal.h"
#include "core/request.h"

/* A fixed, arbitrary "now": 2026-03-01T00:00:00Z. */
#define FX_T0 1772323200000LL
#define FX_S 1000LL
#define FX_MIN (60 * FX_S)
#define FX_HOUR (60 * FX_MIN)

static inline struct config *fx_config(const char *yaml)
{
	struct config *cfg = NULL;
	char err[512];
	int rc = config_parse("t.yaml", yaml, strlen(yaml), &cfg, err,
			      sizeof(err));

	if (rc != 0)
		print_message("config does not parse: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(cfg);
	return cfg;
}

static inline bool fx_str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Deep equality of two requests: every field, every owned string. */
static inline bool fx_request_equal(const struct request *a,
				    const struct request *b)
{
	if (a->id != b->id || a->state != b->state ||
	    a->duration_s != b->duration_s ||
	    a->approvals_required != b->approvals_required ||
	    a->napprovals != b->napprovals || a->created_at != b->created_at ||
	    a->pending_until != b->pending_until ||
	    a->activated_at != b->activated_at ||
	    a->expires_at != b->expires_at || a->ended_at != b->ended_at ||
	    a->break_glass != b->break_glass ||
	    a->review_required != b->review_required ||
	    a->extends != b->extends || a->reminders != b->reminders ||
	    a->escalated != b->escalated || a->expiry_warned != b->expiry_warned)
		return false;
	if (!fx_str_eq(a->requester, b->requester) ||
	    !fx_str_eq(a->resource, b->resource) ||
	    !fx_str_eq(a->role, b->role) || !fx_str_eq(a->reason, b->reason) ||
	    !fx_str_eq(a->ticket, b->ticket) ||
	    !fx_str_eq(a->policy, b->policy) ||
	    !fx_str_eq(a->ended_by, b->ended_by) ||
	    !fx_str_eq(a->reviewed_by, b->reviewed_by) ||
	    !fx_str_eq(a->end_comment, b->end_comment))
		return false;
	for (size_t i = 0; i < a->napprovals && i < REQ_MAX_APPROVALS; i++)
		if (!fx_str_eq(a->approvals[i].by, b->approvals[i].by) ||
		    a->approvals[i].at_ms != b->approvals[i].at_ms ||
		    !fx_str_eq(a->approvals[i].comment, b->approvals[i].comment))
			return false;
	return true;
}

static inline void fx_assert_actions(const struct core_result *res,
				     const enum audit_action *want, size_t n)
{
	if (res->nactions != n) {
		print_message("want %zu actions, got %zu:", n, res->nactions);
		for (size_t i = 0; i < res->nactions && i < 4; i++)
			print_message(" %s", action_name(res->actions[i]));
		print_message("\n");
	}
	assert_int_equal(res->nactions, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(action_name(res->actions[i]),
				    action_name(want[i]));
}

#define FX_ACTIONS(res, ...)                                                  \
	do {                                                                  \
		const enum audit_action want_[] = {__VA_ARGS__};              \
		fx_assert_actions((res), want_,                               \
				  sizeof(want_) / sizeof(want_[0]));          \
	} while (0)

#define FX_SUBJECT(var, nm, ...)                                              \
	static const char *const var##_groups[] = {__VA_ARGS__};              \
	static const struct subject var = {                                   \
		.name = nm,                                                   \
		.groups = var##_groups,                                       \
		.ngroups = sizeof(var##_groups) / sizeof(var##_groups[0]) -   \
			   1 /* the NULL terminator */,                       \
	}

#endif
