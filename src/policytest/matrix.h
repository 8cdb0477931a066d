/* Who can reach what: for every principal named in a config, every
 * resource and every role, the policy that decides (design section 11,
 * `jitgate policy matrix`), and the comparison of two configs' matrices
 * (`jitgate policy diff`).  Rows are judged with the core's own policy
 * predicates (core/policy.h), in the core's first-match order. */
#ifndef JG_POLICYTEST_MATRIX_H
#define JG_POLICYTEST_MATRIX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "util/err.h"

/* A principal is evaluated as a subject: "user:NAME" is NAME with the
 * groups of the config identity NAME (none without one); "group:G" is a
 * member of G and of nothing else, named by no user: principal. */
struct matrix_row {
	const char *principal; /* points into the matrix's principal list */
	const char *resource;  /* points into cfg */
	const char *role;      /* points into cfg */
	const struct policy_cfg *policy;
};

struct matrix {
	const struct config *cfg;
	struct matrix_row *rows; /* only reachable (principal, resource, role) */
	size_t nrows;
};

/* The sorted, distinct principals a config names: requesters, approvers,
 * admins, auditors, checkers, identities and their groups.  *out (strings
 * and array) is owned by the caller (matrix_free_principals). */
int matrix_principals(const struct config *cfg, char ***out, size_t *n) JG_WUR;
/* Merges b into a (both sorted, distinct); b's strings are taken over. */
int matrix_principals_merge(char ***a, size_t *na, char **b, size_t nb) JG_WUR;
void matrix_free_principals(char **v, size_t n);

/* Rows for principals[0..n) × cfg's resources × their roles, ordered by
 * principal, then resource and role in config order.  The matrix borrows
 * cfg and principals. */
int matrix_build(const struct config *cfg, char *const *principals, size_t n,
		 struct matrix **out) JG_WUR;
void matrix_free(struct matrix *m);

/* {principal, resource, role, policy, outcome, approvals, approvers,
 * max_duration_s, break_glass_max_duration_s, allow_self_approval,
 * require_reason, ticket_pattern}.  New reference or NULL. */
json_t *matrix_row_json(const struct matrix_row *r);
/* How access is reached, for people: "granted" or "2 of group:sre,
 * user:carol" (+ ", self-approval"). */
void matrix_access_text(const struct matrix_row *r, char *buf, size_t len);

/* ---- diff ---------------------------------------------------------- */

enum matrix_change { MX_ADDED, MX_REMOVED, MX_LOOSENED, MX_TIGHTENED, MX_CHANGED };

struct matrix_delta {
	enum matrix_change kind;
	const struct matrix_row *before; /* NULL when added */
	const struct matrix_row *after;  /* NULL when removed */
	char what[512]; /* "approvals 2 → 1; max 1h → 4h" */
};

/* The rows that differ between old and new (built over the same
 * principals).  *out owned by the caller (free); it borrows both
 * matrices. */
int matrix_diff(const struct matrix *old, const struct matrix *new_,
		struct matrix_delta **out, size_t *n) JG_WUR;
const char *matrix_change_name(enum matrix_change k);

#endif
