/* What every API subcommand shares: the exit codes, connecting from the
 * environment, calling the API with errors reported the same way, and
 * printing JSON. */
#ifndef JG_CLI_CLI_API_H
#define JG_CLI_CLI_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli/cli_args.h"
#include "cli/cli_http.h"

/* Process exit codes, documented in docs/cli.md. */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FALSE = 1,        /* check denied, audit verify failed */
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_UNREACHABLE = 3,  /* connection failure */
	CLI_EXIT_AUTH = 4,         /* 401 */
	CLI_EXIT_FORBIDDEN = 5,    /* 403 */
	CLI_EXIT_NOTFOUND = 6,     /* 404 */
	CLI_EXIT_CONFLICT = 7,     /* 409 */
	CLI_EXIT_BADREQ = 8,       /* 400, 413 */
	CLI_EXIT_SERVER = 9,       /* 503, other server errors */
};

/* Returned by cli_api_parse when the command should go on. */
#define CLI_CONTINUE (-1)

/* Exit code for a non-2xx HTTP status. */
int cli_api_exit_for_status(long status);

/* "jitgate: <message> (<code>, HTTP <status>)" from an API error body, or a
 * generic line when the body is not one. */
void cli_api_print_error(long status, const json_t *body, FILE *f);

/* Parses the subcommand's arguments.  Prints the usage on --help (returns
 * 0) or with the problem on a usage error (returns 2); CLI_CONTINUE when
 * the command should run.  usage is the text after "usage: jitgate ". */
int cli_api_parse(int argc, char **argv, const struct cli_opt *opts,
		  size_t nopts, int min_pos, int max_pos, const char *usage,
		  struct cli_args *a);

/* Prints "jitgate: <cmd>: <msg>" and the usage to stderr; returns 2. */
int cli_api_usage_error(const char *cmd, const char *msg, const char *usage);

/* A client for JITGATE_ADDR with JITGATE_TOKEN.  On failure prints why
 * (never the token) and returns the exit code; *out is then NULL. */
int cli_api_open(struct cli_http **out);

/* Calls the API.  0 with the parsed 2xx body in *out (owned by the caller;
 * never NULL on success); otherwise prints the error and returns its exit
 * code. */
int cli_api_call(struct cli_http *h, const char *method, const char *path,
		 const json_t *body, json_t **out);

/* The server's JSON, pretty-printed in its key order, and a newline. */
void cli_api_print_json(const json_t *j, FILE *f);

#endif
