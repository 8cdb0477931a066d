/* Command-line parsing for the client subcommands, and the pure pieces that
 * turn parsed arguments into API request bodies and query strings.  Nothing
 * here does I/O, so the unit tests drive it directly. */
#ifndef JG_CLI_CLI_ARGS_H
#define JG_CLI_CLI_ARGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CLI_MAX_OPTS 12
#define CLI_MAX_POS 64 /* policy test takes many test files */
/* Longest accepted argument (reason, comment, filter value...).  The server
 * has its own limits; this only keeps query strings and bodies bounded. */
#define CLI_ARG_MAX 4096
/* Largest page the client asks for with --limit; a bigger --limit takes
 * several pages.  These match what the server accepts (api/handlers.c,
 * api/audit_api.c) so a large --limit is never refused as a bad request. */
#define CLI_LIST_PAGE_MAX 500
#define CLI_AUDIT_PAGE_MAX 1000
/* Query strings are built into fixed buffers of this size. */
#define CLI_QUERY_MAX 16384

struct cli_opt {
	const char *name; /* "--for" */
	bool has_value;
};

/* The result of cli_args_parse.  Strings point into argv; nothing is owned. */
struct cli_args {
	const struct cli_opt *opts;
	size_t nopts;
	const char *value[CLI_MAX_OPTS]; /* NULL: not given; "" for a set flag */
	const char *pos[CLI_MAX_POS];
	int npos;
	bool json; /* --json: print the server's JSON */
	bool help; /* -h / --help */
};

/* Parses argv[1..argc) (argv[0] is the subcommand) against opts.  Accepts
 * "--name VALUE" and "--name=VALUE"; "--json" and "--help" anywhere; "--"
 * ends the options.  Requires between min_pos and max_pos positional
 * arguments unless --help was given.  On a usage error returns
 * JG_ERR_INVALID with a one-line message in err. */
int cli_args_parse(int argc, char **argv, const struct cli_opt *opts,
		   size_t nopts, int min_pos, int max_pos, struct cli_args *out,
		   char *err, size_t errlen) JG_WUR;

/* The value of option name ("--for"), "" for a set flag, NULL if absent. */
const char *cli_args_opt(const struct cli_args *a, const char *name);

/* A request id or sequence number: decimal digits only, 1..2^53-1 (what a
 * JSON number holds exactly). */
int cli_args_id(const char *s, int64_t *out) JG_WUR;
/* Like cli_args_id but 0 is allowed (an "after" cursor). */
int cli_args_uint(const char *s, int64_t *out) JG_WUR;

/* Body of POST /v1/requests from `request RESOURCE ROLE --for D [--reason R]
 * [--ticket T] [--break-glass] [--extends ID]`.  *out is a new reference
 * owned by the caller. */
int cli_args_request_body(const struct cli_args *a, json_t **out, char *err,
			  size_t errlen) JG_WUR;

/* Body {"comment": C} / {"reason": R} with the value of option name, or {}
 * when it is absent.  *out is a new reference owned by the caller. */
int cli_args_text_body(const struct cli_args *a, const char *opt,
		       const char *field, json_t **out) JG_WUR;

struct cli_list_filter {
	const char *state; /* NULL: any */
	bool mine;
	bool approvable;
	int64_t limit; /* 0: every page to the end */
};

/* From `list [--pending|--active|--state S] [--mine] [--approvable]
 * [--limit N]`. */
int cli_args_list_filter(const struct cli_args *a, struct cli_list_filter *out,
			 char *err, size_t errlen) JG_WUR;

/* "/v1/requests?..." for one page: after 0 means the first page. */
int cli_args_list_path(const struct cli_list_filter *f, int64_t after,
		       int64_t page_limit, char *buf, size_t len) JG_WUR;

struct cli_audit_filter {
	const char *subject;
	const char *resource;
	const char *action;
	int64_t after; /* start after this seq */
	int64_t limit; /* 0: to the end */
	bool follow;
};

/* From `audit [--follow] [--subject S] [--resource R] [--action A]
 * [--after SEQ] [--limit N]`. */
int cli_args_audit_filter(const struct cli_args *a,
			  struct cli_audit_filter *out, char *err,
			  size_t errlen) JG_WUR;

/* "/v1/audit?after=SEQ&limit=N&subject=..." for one page. */
int cli_args_audit_path(const struct cli_audit_filter *f, int64_t after,
			int64_t page_limit, char *buf, size_t len) JG_WUR;

/* Appends "?key=value" or "&key=value" (value percent-encoded) to the
 * NUL-terminated string in buf.  JG_ERR_TOOBIG when it does not fit. */
int cli_args_query_add(char *buf, size_t len, const char *key,
		       const char *value) JG_WUR;

#endif
