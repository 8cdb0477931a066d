/* `jitgate selftest` (design section 11): checks a live deployment with
 * the token of its selftest identity, in the five QA areas — permission
 * boundaries, audit, timeout and revocation, integration, fail-safe — and
 * measures the latencies that matter (deny after revoke, session cut after
 * revoke, expiry lateness).  It acts only on the resources of the config's
 * selftest: section, as that identity, so everything it does is audited.
 * See docs/policy-testing.md for each check. */
#ifndef JG_SELFTEST_SELFTEST_H
#define JG_SELFTEST_SELFTEST_H

#include "cli/cli_http.h"
#include "selftest/streport.h"

/* A grant "expires on time" when the daemon denies it at most this long
 * after expires_at; a session must be cut within this after a revoke. */
#define SELFTEST_EXPIRY_SLACK_MS 2000
#define SELFTEST_CUT_WAIT_MS 5000

/* Runs every check against the server h talks to; token is the one h
 * sends (the gateway login needs it too).  Fills rep; never fails as a
 * whole: what it cannot do is a failed check. */
void selftest_run(struct cli_http *h, const char *token, struct st_report *rep);

#endif
