/* jitgate policy explain -c CONFIG --as SUBJECT[,group:G...] RESOURCE ROLE
 * [--duration D] [--reason R] [--ticket T] [--break-glass]. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_api.h"
#include "cli/cli_policy.h"
#include "config/cfgval.h"
#include "policytest/explain.h"
#include "util/duration.h"
#include "util/timeutil.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))
#define AS_GROUPS_MAX 64

static const char usage[] =
	"policy explain -c CONFIG --as SUBJECT[,group:G...] RESOURCE ROLE "
	"[--duration D] [--reason R] [--ticket T] [--break-glass]";

/* "alice,group:eng,group:sre" into who; without groups, those of the
 * config identity of that name.  buf holds the split copy. */
static int parse_as(const struct config *cfg, const char *as, char *buf,
		    size_t len, const char **groups, struct subject *who)
{
	char *save = NULL, *tok;
	size_t n = 0;

	if (strlen(as) >= len)
		return cli_api_usage_error("policy explain", "--as is too long", usage);
	strcpy(buf, as);
	tok = strtok_r(buf, ",", &save);
	if (tok == NULL || !cfgval_principal_name_ok(tok) || strchr(tok, ':'))
		return cli_api_usage_error("policy explain",
					   "--as wants SUBJECT[,group:G...]", usage);
	memset(who, 0, sizeof(*who));
	who->name = tok;
	while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
		if (strncmp(tok, "group:", 6) != 0 || !cfgval_principal_name_ok(tok + 6) ||
		    n == AS_GROUPS_MAX)
			return cli_api_usage_error("policy explain",
						   "--as wants SUBJECT[,group:G...]", usage);
		groups[n++] = tok + 6;
	}
	who->groups = groups;
	who->ngroups = n;
	if (n == 0) {
		for (size_t i = 0; i < cfg->nidentities; i++) {
			if (strcmp(cfg->identities[i].subject, who->name) == 0) {
				who->groups = (const char *const *)cfg->identities[i].groups;
				who->ngroups = cfg->identities[i].ngroups;
			}
		}
	}
	return CLI_EXIT_OK;
}

int cli_policy_explain(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{"-c", true}, {"--config", true}, {"--as", true}, {"--duration", true},
		{"--reason", true}, {"--ticket", true}, {"--break-glass", false},
	};
	const char *groups[AS_GROUPS_MAX], *dur, *as;
	struct create_input in = {0};
	const struct resource_cfg *res;
	struct config *cfg = NULL;
	char buf[CLI_ARG_MAX + 1];
	struct subject who;
	struct cli_args a;
	int rc;

	rc = cli_api_parse(argc, argv, opts, NOPTS(opts), 2, 2, usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((as = cli_args_opt(&a, "--as")) == NULL)
		return cli_api_usage_error("policy explain", "--as is required", usage);
	if ((rc = cli_policy_load(cli_policy_config_opt(&a), &cfg)) != CLI_EXIT_OK)
		return rc;
	if ((rc = parse_as(cfg, as, buf, sizeof(buf), groups, &who)) != CLI_EXIT_OK)
		goto out;
	in.resource = a.pos[0];
	in.role = a.pos[1];
	res = config_resource(cfg, in.resource);
	if (res == NULL || config_role(res, in.role) == NULL) {
		fprintf(stderr, "jitgate: %s has no %s %.64s\n", cfg->path,
			res == NULL ? "resource" : "role", res == NULL ? in.resource : in.role);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	dur = cli_args_opt(&a, "--duration");
	if (dur != NULL && duration_parse(dur, &in.duration_s) != JG_OK) {
		rc = cli_api_usage_error("policy explain",
					 "--duration wants a duration like 90s, 30m, 4h or 1h30m",
					 usage);
		goto out;
	}
	in.reason = cli_args_opt(&a, "--reason");
	in.ticket = cli_args_opt(&a, "--ticket");
	in.break_glass = cli_args_opt(&a, "--break-glass") != NULL;
	rc = explain_write(cfg, &who, &in, time_now_ms(), stdout);
	rc = rc < 0 ? CLI_EXIT_SERVER : CLI_EXIT_OK;
out:
	config_free(cfg);
	return rc;
}
