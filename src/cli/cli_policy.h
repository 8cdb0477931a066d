/* Shared by the `jitgate policy` subcommands (cli_policy*.c). */
#ifndef JG_CLI_CLI_POLICY_H
#define JG_CLI_CLI_POLICY_H

#include "cli/cli_args.h"
#include "config/config.h"

/* Loads the config named by -c; on failure prints "jitgate: FILE:LINE:
 * message" and returns exit code 2, else 0 with *cfg owned by the caller. */
int cli_policy_load(const char *path, struct config **cfg);
/* The value of -c or --config, NULL when neither was given. */
const char *cli_policy_config_opt(const struct cli_args *a);

int cli_policy_explain(int argc, char **argv);
int cli_policy_matrix(int argc, char **argv);
int cli_policy_diff(int argc, char **argv);
int cli_policy_lint(int argc, char **argv);

#endif
