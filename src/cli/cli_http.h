/* A small libcurl (easy interface) client for the jitgate HTTP API.  It
 * holds the bearer token only inside the Authorization header it sends and
 * never puts it into an error message. */
#ifndef JG_CLI_CLI_HTTP_H
#define JG_CLI_CLI_HTTP_H

#include <jansson.h>
#include <stdio.h>

#include "util/err.h"

#define CLI_HTTP_DEFAULT_ADDR "http://127.0.0.1:8700"
/* Largest JSON response buffered in memory (one page of a listing). */
#define CLI_HTTP_BODY_MAX (64L * 1024 * 1024)
/* Largest bearer token accepted from the environment (OIDC JWTs can be a
 * few KiB). */
#define CLI_HTTP_TOKEN_MAX 16384
#define CLI_HTTP_ADDR_MAX 2048
#define CLI_HTTP_CONNECT_TIMEOUT_MS 5000L
#define CLI_HTTP_TIMEOUT_MS 30000L

struct cli_http;

/* A client for the server at addr ("http://host:port", "https://…", or a
 * bare "host:port" taken as http; NULL means CLI_HTTP_DEFAULT_ADDR), sending
 * token as bearer credentials (NULL: none).  JG_ERR_INVALID with a message in
 * err for a bad address or a token with characters a header cannot carry.
 * The caller owns *out and frees it with cli_http_free. */
int cli_http_new(const char *addr, const char *token, struct cli_http **out,
		 char *err, size_t errlen) JG_WUR;
void cli_http_free(struct cli_http *h);

/* The normalised base URL, e.g. "http://127.0.0.1:8700". */
const char *cli_http_base(const struct cli_http *h);

/* Sends method (GET or POST) to path ("/v1/…", with its query string) with
 * body as JSON (NULL: no body).  JG_OK once any HTTP response arrived: its
 * status in *status and its body parsed into *out (NULL for an empty or
 * non-JSON body; the caller owns it).  JG_ERR_IO when the server could not
 * be reached or the transfer failed, JG_ERR_TOOBIG for a body over
 * CLI_HTTP_BODY_MAX; err then says why. */
int cli_http_json(struct cli_http *h, const char *method, const char *path,
		  const json_t *body, long *status, json_t **out, char *err,
		  size_t errlen) JG_WUR;

/* GET path and copy a 2xx body to f as it arrives, never holding it in
 * memory; the transfer may run as long as data keeps coming.  Any other
 * status: its body (at most 64 KiB) is parsed into *err_body (or NULL).
 * Errors as cli_http_json, plus JG_ERR_IO when writing to f fails. */
int cli_http_stream(struct cli_http *h, const char *path, FILE *f,
		    long *status, json_t **err_body, char *err,
		    size_t errlen) JG_WUR;

#include "cli/cli_sse.h"

/* GETs path as an event stream (with Last-Event-ID when not NULL) and
 * calls on_event for each event until it returns non-zero (JG_OK) or the
 * server ends the stream (JG_OK; see *status).  A non-2xx answer: its
 * status and body as cli_http_stream.  JG_ERR_IO when the server cannot be
 * reached or goes quiet for a minute. */
int cli_http_events(struct cli_http *h, const char *path, const char *last_event_id,
		    cli_sse_event_fn on_event, void *ctx, long *status, json_t **err_body,
		    char *err, size_t errlen) JG_WUR;

#endif
