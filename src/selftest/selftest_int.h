/* Shared by the selftest's modules (selftest.c: the flow, boundaries,
 * timeout and revocation, audit, fail-safe; selftest_gw.c: the gateway and
 * the IdP).  Not for use outside src/selftest. */
#ifndef JG_SELFTEST_SELFTEST_INT_H
#define JG_SELFTEST_SELFTEST_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "selftest/selftest.h"

#define MAX_EXPECT 32
#define REASON "jitgate selftest"

/* An audit event the selftest's own actions must have written. */
struct expect {
	int64_t id;
	const char *action;
};

struct st {
	struct cli_http *h;
	const char *token;
	struct st_report *rep;
	json_t *info; /* GET /v1/selftest */
	const char *subject, *resource, *role, *pg_resource, *pg_role;
	int64_t audit_start; /* events before the selftest began */
	bool audit_readable;
	struct expect exp[MAX_EXPECT];
	size_t nexp;
	int denied_checks;   /* check.denied events it caused */
	int sessions;        /* gateway sessions it opened */
	int64_t expired_id;  /* the grant left to expire */
};

void st_sleep_ms(long ms);
int64_t st_mono_us(void);
/* Records an audit event the selftest's actions must have written. */
void st_expect(struct st *x, int64_t id, const char *action);
/* One API call (body borrowed).  *status 0 when nothing answered; text
 * says why for anything but a 2xx.  The answer's JSON or NULL. */
json_t *st_call(struct st *x, const char *method, const char *path,
		const json_t *body, long *status, char *text, size_t len);
/* The string member key of o, "" when absent. */
const char *st_jstr(const json_t *o, const char *key);
/* Asks for a grant that must be active at once: its request object, or
 * NULL with why in text. */
json_t *st_grant(struct st *x, const char *resource, const char *role,
		 const char *duration, char *text, size_t len);
int st_revoke(struct st *x, int64_t id, char *text, size_t len);

/* Re-reads the names taken from x->info after it was replaced. */
void st_refresh_info(struct st *x);

/* selftest_gw.c */
void st_gateway(struct st *x);
void st_idp(struct st *x);
void st_upstreams(struct st *x);

#endif
