/* jitgate: `serve` runs the daemon; every other subcommand is a client of
 * its API or an offline tool. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "jg_version.h"
#include "server/serve.h"

static void usage(FILE *f)
{
	fputs("usage: jitgate COMMAND [ARGS]\n"
	      "  serve -c FILE            run the daemon\n"
	      "  check-config -c FILE     validate a config file\n"
	      "  version                  version, commit and build type\n"
	      "  login [--device|--browser] | logout   sign in at the IdP (token kept for you)\n"
	      "  catalog                  what you may request\n"
	      "  request RESOURCE ROLE --for DURATION [--reason TEXT] [--wait] ...\n"
	      "  approve|deny|cancel|revoke|review|show ID\n"
	      "  list [--pending|--active|--mine|--approvable]\n"
	      "  check SUBJECT RESOURCE ROLE\n"
	      "  whoami\n"
	      "  audit [--follow] | audit export | audit verify [FILE]\n"
	      "  token new | token verify [...] TOKEN\n"
	      "  policy test|explain|matrix|diff|lint ...  offline policy tools\n"
	      "  audit replay -c NEW EXPORT.jsonl          past requests under a new config\n"
	      "  selftest [--addr URL] [--junit F] [--json] check a live deployment\n"
	      "  store copy SRC DST [--password-env VAR]  move a store between backends\n"
	      "see docs/cli.md for options, environment and exit codes\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		if (argc > 2 && (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0)) {
			puts("usage: jitgate version [--json]");
			return 0;
		}
		if (argc > 2 && strcmp(argv[2], "--json") == 0)
			printf("{\"version\":\"%s\",\"commit\":\"%s\",\"build_type\":\"%s\"}\n",
			       JG_VERSION, JG_COMMIT, JG_BUILD_TYPE);
		else
			printf("jitgate %s (commit %s, %s build)\n", JG_VERSION, JG_COMMIT,
			       JG_BUILD_TYPE);
		return 0;
	}
	if (strcmp(argv[1], "serve") == 0)
		return serve_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "check-config") == 0)
		return check_config_main(argc - 1, argv + 1);
	return cli_main(argc - 1, argv + 1);
}
