/* Dispatch of the client subcommands; see docs/cli.md. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_api.h"
#include "cli/cli_cmd.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{"request", cli_cmd_request}, {"approve", cli_cmd_decide},
	{"deny", cli_cmd_decide},     {"cancel", cli_cmd_decide},
	{"revoke", cli_cmd_decide},   {"review", cli_cmd_decide},
	{"show", cli_cmd_show},       {"list", cli_cmd_list},
	{"check", cli_cmd_check},     {"whoami", cli_cmd_whoami},
	{"audit", cli_cmd_audit},     {"token", cli_cmd_token},
	{"policy", cli_cmd_policy},   {"selftest", cli_cmd_selftest},
	{"login", cli_cmd_login},     {"logout", cli_cmd_logout},
	{"catalog", cli_cmd_catalog},
	{"store", cli_cmd_store},
};

static int dispatch(int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++) {
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].run(argc, argv);
	}
	fprintf(stderr, "jitgate: unknown command '%.64s' (jitgate --help lists "
		"them)\n", argv[0]);
	return CLI_EXIT_USAGE;
}

int cli_main(int argc, char **argv)
{
	char **moved;
	int lead = 0, rc;

	/* "--json" is accepted before the subcommand too: move such leading
	 * flags behind it, where the subcommand's parser takes them. */
	while (lead < argc && strcmp(argv[lead], "--json") == 0)
		lead++;
	if (lead == argc) {
		fputs("jitgate: missing command (jitgate --help lists them)\n",
		      stderr);
		return CLI_EXIT_USAGE;
	}
	if (lead == 0)
		return dispatch(argc, argv);
	moved = calloc((size_t)argc + 1, sizeof(*moved));
	if (moved == NULL)
		return CLI_EXIT_SERVER;
	moved[0] = argv[lead];
	for (int i = 0; i < lead; i++)
		moved[1 + i] = argv[i];
	for (int i = lead + 1; i < argc; i++)
		moved[i] = argv[i];
	rc = dispatch(argc, moved);
	free(moved);
	return rc;
}
