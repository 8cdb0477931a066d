/* jitgate policy lint -c CONFIG [--strict]: "FILE:LINE: warning: ..." lines
 * and a count; exit 1 on any warning with --strict. */
#include <stdlib.h>

#include "cli/cli_api.h"
#include "cli/cli_format.h"
#include "cli/cli_policy.h"
#include "policytest/lint.h"
#include "util/fileio.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))

int cli_policy_lint(int argc, char **argv)
{
	static const char usage[] = "policy lint -c CONFIG [--strict] [--json]";
	static const struct cli_opt opts[] = {
		{"-c", true}, {"--config", true}, {"--strict", false},
	};
	struct lint_warning *w = NULL;
	struct config *cfg = NULL;
	char *text = NULL, err[512];
	size_t len = 0, n = 0;
	struct cli_args a;
	int rc;

	rc = cli_api_parse(argc, argv, opts, NOPTS(opts), 0, 0, usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_policy_load(cli_policy_config_opt(&a), &cfg)) != CLI_EXIT_OK)
		return rc;
	/* read again for the lines of list items; a file that changed in
	 * between only costs precision (lines fall back to the policy's) */
	if (file_read_all(cfg->path, CONFIG_FILE_MAX, &text, &len, err, sizeof(err)) != JG_OK)
		text = NULL;
	if (lint_config(cfg, text, len, &w, &n) != JG_OK) {
		fputs("jitgate: out of memory\n", stderr);
		rc = CLI_EXIT_SERVER;
		goto out;
	}
	if (a.json) {
		json_t *arr = json_array();

		for (size_t i = 0; arr && i < n; i++)
			json_array_append_new(arr, json_pack("{s:s, s:i, s:s}", "file",
							     cfg->path, "line", w[i].line,
							     "message", w[i].msg));
		json_t *doc = json_pack("{s:o*}", "warnings", arr);

		if (doc != NULL)
			cli_api_print_json(doc, stdout);
		json_decref(doc);
	} else {
		for (size_t i = 0; i < n; i++) {
			cli_format_put(cfg->path, stdout);
			printf(":%d: warning: ", w[i].line);
			cli_format_put(w[i].msg, stdout);
			putchar('\n');
		}
		printf("%zu warning%s\n", n, n == 1 ? "" : "s");
	}
	rc = n > 0 && cli_args_opt(&a, "--strict") != NULL ? CLI_EXIT_FALSE : CLI_EXIT_OK;
out:
	free(w);
	free(text);
	config_free(cfg);
	return rc;
}
