/* Client subcommands of `jitgate` (everything but serve/check-config). */
#ifndef JG_CLI_CLI_H
#define JG_CLI_CLI_H

/* argv[0] is the subcommand name ("request", "approve", ...).  Returns the
 * process exit code documented in docs/cli.md. */
int cli_main(int argc, char **argv);

#endif
