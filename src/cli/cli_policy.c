/* jitgate policy test|explain|matrix|diff|lint: offline tools that judge a
 * config with the daemon's own core (design section 11).  No server, no
 * store, no token.  Exit codes: 0 as expected, 1 a finding (failed case,
 * added access, lint warning with --strict), 2 bad usage or an invalid
 * config or test file. */
#include "cli/cli_cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_api.h"
#include "cli/cli_format.h"
#include "cli/cli_policy.h"
#include "policytest/ptrun.h"
#include "util/timeutil.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))

int cli_policy_load(const char *path, struct config **cfg)
{
	char err[512];

	if (path == NULL) {
		fputs("jitgate: -c CONFIG is required\n", stderr);
		return CLI_EXIT_USAGE;
	}
	if (config_load(path, cfg, err, sizeof(err)) != JG_OK) {
		fputs("jitgate: ", stderr);
		cli_format_put(err, stderr);
		fputc('\n', stderr);
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

const char *cli_policy_config_opt(const struct cli_args *a)
{
	const char *c = cli_args_opt(a, "-c");

	return c != NULL ? c : cli_args_opt(a, "--config");
}

static void print_result(const struct pt_result *r, FILE *f)
{
	fprintf(f, "%-5s ", r->passed ? "ok" : "FAIL");
	cli_format_put(r->file->path, f);
	fprintf(f, ":%d  ", r->c->line);
	cli_format_put(r->c->name, f);
	if (!r->passed) {
		fputs(": ", f);
		cli_format_put(r->why, f);
	}
	fputc('\n', f);
}

static void print_human(const struct pt_run *run, FILE *f)
{
	const struct config *cfg = run->cfg;

	for (size_t i = 0; i < run->nresults; i++)
		print_result(&run->results[i], f);
	fprintf(f, "coverage: %zu of %zu policies reached by a case",
		run->nreached, cfg->npolicies);
	if (run->nreached < cfg->npolicies)
		fputs("; not reached:", f);
	fputc('\n', f);
	for (size_t i = 0; i < cfg->npolicies; i++) {
		if (run->reached[i])
			continue;
		fprintf(f, "  %s (", cfg->policies[i].name);
		cli_format_put(cfg->path, f);
		fprintf(f, ":%d)\n", cfg->policies[i].line);
	}
	fprintf(f, "%zu passed, %zu failed\n", run->passed, run->failed);
}

static int write_junit(const char *path, const struct pt_run *run,
		       struct pt_file *const *files, size_t nfiles,
		       bool require_coverage)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (f == NULL) {
		fprintf(stderr, "jitgate: cannot write %s: %s\n", path, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	rc = ptrun_write_junit(run, files, nfiles, require_coverage, f);
	if (fclose(f) != 0 || rc != JG_OK) {
		fprintf(stderr, "jitgate: cannot write %s\n", path);
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

static int policy_test(int argc, char **argv)
{
	static const char usage[] =
		"policy test -c CONFIG TESTS.yaml... [--junit FILE] [--json] "
		"[--require-coverage]";
	static const struct cli_opt opts[] = {
		{"-c", true}, {"--config", true}, {"--junit", true},
		{"--require-coverage", false},
	};
	struct pt_file **files = NULL;
	struct config *cfg = NULL;
	struct pt_run run = {0};
	struct cli_args a;
	const char *junit;
	bool cover;
	char err[512];
	int rc;

	rc = cli_api_parse(argc, argv, opts, NOPTS(opts), 1, CLI_MAX_POS, usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_policy_load(cli_policy_config_opt(&a), &cfg)) != CLI_EXIT_OK)
		return rc;
	junit = cli_args_opt(&a, "--junit");
	cover = cli_args_opt(&a, "--require-coverage") != NULL;
	files = calloc((size_t)a.npos, sizeof(*files));
	if (files == NULL) {
		rc = CLI_EXIT_SERVER;
		goto out;
	}
	/* every file is read before any case runs: an invalid file is exit
	 * 2 whatever the others would have shown */
	for (int i = 0; i < a.npos; i++) {
		if (ptfile_load(a.pos[i], cfg, &files[i], err, sizeof(err)) != JG_OK) {
			fputs("jitgate: ", stderr);
			cli_format_put(err, stderr);
			fputc('\n', stderr);
			rc = CLI_EXIT_USAGE;
			goto out;
		}
	}
	if (ptrun_run(cfg, files, (size_t)a.npos, time_now_ms(), &run) != JG_OK) {
		fputs("jitgate: out of memory\n", stderr);
		rc = CLI_EXIT_SERVER;
		goto out;
	}
	if (junit != NULL &&
	    (rc = write_junit(junit, &run, files, (size_t)a.npos, cover)) != CLI_EXIT_OK)
		goto out;
	if (a.json) {
		json_t *doc = ptrun_json(&run);

		if (doc == NULL) {
			rc = CLI_EXIT_SERVER;
			goto out;
		}
		cli_api_print_json(doc, stdout);
		json_decref(doc);
	} else {
		print_human(&run, stdout);
	}
	rc = run.failed > 0 || (cover && run.nreached < cfg->npolicies)
		? CLI_EXIT_FALSE : CLI_EXIT_OK;
out:
	ptrun_free(&run);
	for (int i = 0; files && i < a.npos; i++)
		ptfile_free(files[i]);
	free(files);
	config_free(cfg);
	return rc;
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} policy_commands[] = {
	{"test", policy_test},
	{"explain", cli_policy_explain},
	{"matrix", cli_policy_matrix},
	{"diff", cli_policy_diff},
	{"lint", cli_policy_lint},
};

int cli_cmd_policy(int argc, char **argv)
{
	if (argc >= 2) {
		for (size_t i = 0; i < NOPTS(policy_commands); i++)
			if (strcmp(argv[1], policy_commands[i].name) == 0)
				return policy_commands[i].run(argc - 1, argv + 1);
	}
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs("usage: jitgate policy test|explain|matrix|diff|lint ... "
		      "(see docs/policy-testing.md)\n", stdout);
		return CLI_EXIT_OK;
	}
	fputs("usage: jitgate policy test|explain|matrix|diff|lint ... "
	      "(see docs/policy-testing.md)\n", stderr);
	return CLI_EXIT_USAGE;
}
