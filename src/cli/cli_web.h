/* Shared by the request subcommands: waiting for a decision. */
#ifndef JG_CLI_CLI_WEB_H
#define JG_CLI_CLI_WEB_H

#include <jansson.h>
#include <stdint.h>

#include "cli/cli_http.h"

/* Blocks until request id leaves pending, following GET /v1/events (and
 * asking now and then when no stream can be had).  CLI_EXIT_OK with the
 * request in *final (caller owns it), or an exit code after printing why. */
int cli_wait_decided(struct cli_http *h, int64_t id, json_t **final);

#endif
