/* `jitgate audit replay -c NEW EXPORT.jsonl` (design section 11): every
 * request of an audit export judged again, with the core, under another
 * config; the ones whose outcome would differ.  The export is verified
 * while it is read (a log that does not verify is not replayed).
 *
 * What a request.created event carries and replay uses: subject, resource,
 * role, time, detail.{duration_s, reason, ticket, break_glass, extends,
 * policy, approvals_required, groups}.  detail.groups is written since
 * this version; for older events the groups come from the NEW config's
 * identity of that subject, or are unknown (an OIDC subject), which the
 * result says. */
#ifndef JG_POLICYTEST_REPLAY_H
#define JG_POLICYTEST_REPLAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "policytest/pteval.h"

enum replay_groups { RG_EVENT, RG_IDENTITY, RG_UNKNOWN };

struct replay_item {
	int64_t request_id;
	char time[40];
	char *subject, *resource, *role;
	int64_t duration_s;
	bool break_glass;
	enum replay_groups groups_from;
	/* then: from the event */
	enum pt_outcome was;
	char *was_policy;
	int was_approvals;
	/* now: from the core under the new config */
	struct pt_got now;
};

struct replay;

/* A replay against cfg (borrowed).  Caller owns *out (replay_free). */
int replay_new(const struct config *cfg, struct replay **out) JG_WUR;
void replay_free(struct replay *r);

/* One line of the export (without '\n').  JG_ERR_INVALID when the line
 * does not verify as the next event of the chain, with the verifier's
 * report in err; JG_ERR_NOMEM. */
int replay_feed_line(struct replay *r, const char *line, size_t len,
		     char *err, size_t errlen) JG_WUR;

/* After the last line: the requests replayed and those whose outcome
 * differs (owned by r). */
void replay_results(const struct replay *r, size_t *replayed,
		    const struct replay_item **differ, size_t *ndiffer);

json_t *replay_item_json(const struct replay_item *it);
/* "request 12 at T: alice orders-db write 30m: was pending via p (2
 * approvals), now granted via q" */
void replay_item_text(const struct replay_item *it, char *buf, size_t len);

#endif
