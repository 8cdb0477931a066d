/* jitgate selftest [--addr URL] [--junit FILE] [--json]: checks a live
 * deployment with the selftest identity's token (design section 11).
 * Exit 0 when every check passed, 1 otherwise, 2 for bad usage. */
#include "cli/cli_cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_api.h"
#include "selftest/selftest.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))

int cli_cmd_selftest(int argc, char **argv)
{
	static const char usage[] = "selftest [--addr URL] [--junit FILE] [--json]";
	static const struct cli_opt opts[] = {{"--addr", true}, {"--junit", true}};
	const char *addr, *junit;
	struct cli_http *h = NULL;
	struct st_report rep;
	struct cli_args a;
	int rc;

	rc = cli_api_parse(argc, argv, opts, NOPTS(opts), 0, 0, usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	addr = cli_args_opt(&a, "--addr");
	junit = cli_args_opt(&a, "--junit");
	if (addr != NULL && setenv("JITGATE_ADDR", addr, 1) != 0)
		return CLI_EXIT_USAGE;
	if ((rc = cli_api_open(&h)) != CLI_EXIT_OK)
		return rc;
	st_report_init(&rep);
	selftest_run(h, getenv("JITGATE_TOKEN"), &rep);
	if (rep.nomem) {
		fputs("jitgate: out of memory\n", stderr);
		rc = CLI_EXIT_SERVER;
		goto out;
	}
	if (junit != NULL) {
		FILE *f = fopen(junit, "w");

		if (f == NULL || st_write_junit(&rep, f) != JG_OK) {
			fprintf(stderr, "jitgate: cannot write %s: %s\n", junit, strerror(errno));
			if (f)
				fclose(f);
			rc = CLI_EXIT_USAGE;
			goto out;
		}
		fclose(f);
	}
	if (a.json) {
		json_t *doc = st_json(&rep);

		if (doc != NULL)
			cli_api_print_json(doc, stdout);
		json_decref(doc);
	} else {
		st_print(&rep, stdout);
	}
	rc = st_count(&rep, ST_FAIL) == 0 && st_count(&rep, ST_PASS) > 0 ? CLI_EXIT_OK
									: CLI_EXIT_FALSE;
out:
	st_report_free(&rep);
	cli_http_free(h);
	return rc;
}
