/* The client subcommands.  Each takes argv with argv[0] = its own name and
 * returns the process exit code (enum cli_exit). */
#ifndef JG_CLI_CLI_CMD_H
#define JG_CLI_CLI_CMD_H

int cli_cmd_request(int argc, char **argv);
/* approve, deny, cancel, revoke, review: argv[0] names the action. */
int cli_cmd_decide(int argc, char **argv);
int cli_cmd_show(int argc, char **argv);
int cli_cmd_list(int argc, char **argv);
int cli_cmd_check(int argc, char **argv);
int cli_cmd_whoami(int argc, char **argv);
/* audit [--follow] …, audit export, audit verify [FILE]. */
int cli_cmd_audit(int argc, char **argv);
/* audit replay -c NEW EXPORT.jsonl (offline; from cli_cmd_audit) */
int cli_audit_replay(int argc, char **argv);
/* policy test|explain|matrix|diff|lint (offline) */
int cli_cmd_policy(int argc, char **argv);
/* selftest against a live deployment */
int cli_cmd_selftest(int argc, char **argv);
/* login, logout (cli_login.c) */
int cli_cmd_login(int argc, char **argv);
int cli_cmd_logout(int argc, char **argv);
/* catalog (cli_web.c) */
int cli_cmd_catalog(int argc, char **argv);
/* store copy SRC DST (offline) */
int cli_cmd_store(int argc, char **argv);
/* token new, token verify … */
int cli_cmd_token(int argc, char **argv);

#endif
