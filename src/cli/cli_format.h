/* Human-readable output of the client: aligned tables, key: value blocks and
 * one-line audit events.  Every string that came from the server is cleaned
 * of control characters before it reaches the terminal, so a crafted reason
 * or subject name cannot move the cursor or rewrite earlier lines. */
#ifndef JG_CLI_CLI_FORMAT_H
#define JG_CLI_CLI_FORMAT_H

#include <jansson.h>
#include <stdio.h>

#include "util/err.h"

#define CLI_TABLE_MAX_COLS 12
/* Widest cell, in characters, before it is cut with "...". */
#define CLI_CELL_MAX 48

struct cli_table;

/* A table with ncols columns named by headers (copied).  NULL on no memory.
 * The caller owns it and frees it with cli_table_free. */
struct cli_table *cli_table_new(size_t ncols, const char *const *headers);
void cli_table_free(struct cli_table *t);
/* Appends a row of ncols cells (copied, cleaned, cut to CLI_CELL_MAX; NULL
 * shows as "-"). */
int cli_table_add(struct cli_table *t, const char *const *cells) JG_WUR;
size_t cli_table_rows(const struct cli_table *t);
/* Prints header and rows, columns separated by two spaces; the last column
 * is not padded. */
void cli_table_print(const struct cli_table *t, FILE *f);

/* Copies s into out (len bytes) with control characters (C0, DEL, C1)
 * replaced by '?' and cut to max_chars characters ("..." marks a cut;
 * max_chars 0 means no cut).  Never splits a UTF-8 sequence. */
void cli_format_clean(const char *s, size_t max_chars, char *out, size_t len);

/* Writes s to f, whatever its length, with control characters (C0, DEL,
 * C1) shown as '?'. */
void cli_format_put(const char *s, FILE *f);

/* "2026-11-27T20:56:17.123Z" → "2026-11-27T20:56:17Z"; other text is
 * copied as is.  out holds len bytes. */
void cli_format_time(const char *s, char *out, size_t len);

/* The list table: ID STATE REQUESTER RESOURCE ROLE DURATION
 * EXPIRES/PENDING-UNTIL REASON for each request object of the array. */
int cli_format_requests(const json_t *requests, FILE *f) JG_WUR;

/* One request as "key: value" lines, approvals listed one per line. */
void cli_format_request(const json_t *req, FILE *f);

/* One audit event on one line: SEQ TIME ACTION actor=… key=value…. */
void cli_format_audit_event(const json_t *ev, FILE *f);

/* The answer of POST /v1/check: "allowed (request 7, expires …, 1790s
 * left)" or "denied". */
void cli_format_check(const json_t *res, FILE *f);

/* The answer of GET /v1/whoami: subject and groups lines. */
void cli_format_whoami(const json_t *res, FILE *f);

#endif
