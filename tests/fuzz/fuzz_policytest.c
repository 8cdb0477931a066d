/* Fuzz target: the policy test-file parser (design section 11) and the
 * evaluation of what it accepts.  Any input must end in cases the core can
 * run or a "file:line: message" error, never a crash, leak or unbounded
 * allocation. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policytest/ptrun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CONFIG[] =
	"identities:\n"
	"  - subject: alice\n"
	"    groups: [engineering]\n"
	"    token_sha256: 0000000000000000000000000000000000000000000000000000000000000001\n"
	"resources:\n"
	"  - {name: orders-db, kind: generic, roles: {read: {}, write: {}}}\n"
	"  - {name: billing-api, kind: generic, roles: {read: {}, admin: {}}}\n"
	"policies:\n"
	"  - {name: engineers-read, requesters: [group:engineering], resources: [orders-db, billing-api],\n"
	"     roles: [read], max_duration: 4h, approvals: 0}\n"
	"  - {name: prod-write, requesters: [group:engineering], resources: [\"*\"], roles: [write, admin],\n"
	"     max_duration: 1h, approvals: 2, approvers: [group:sre, user:carol], require_reason: true,\n"
	"     ticket_pattern: \"^OPS-[0-9]+$\", break_glass: {max_duration: 30m},\n"
	"     remind_after: 15m, escalate_after: 1h, escalate_to: [user:dave]}\n";

static struct config *cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_file *f = NULL;
	struct pt_run run;
	char err[256];

	if (cfg == NULL && config_parse("c.yaml", CONFIG, sizeof(CONFIG) - 1, &cfg,
					err, sizeof(err)) != 0)
		__builtin_trap();
	if (ptfile_parse("fuzz.yaml", (const char *)data, size, cfg, &f, err,
			 sizeof(err)) == 0) {
		if (ptrun_run(cfg, &f, 1, 1772323200000LL, &run) == 0) {
			if (run.passed + run.failed != f->ncases)
				__builtin_trap();
			ptrun_free(&run);
		}
		ptfile_free(f);
	} else if (f != NULL || memchr(err, ':', sizeof(err)) == NULL) {
		__builtin_trap(); /* failure must leave nothing and say why */
	}
	return 0;
}
