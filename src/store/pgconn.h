/* libpq with a bound on every wait: connect, send, receive all poll the
 * socket against a deadline, so a database that stops answering (a cut
 * network, a hung server) costs a caller at most timeout_ms, never a hung
 * thread.  Used by the PostgreSQL store backend and its listener.
 *
 * The password is passed as a separate libpq keyword (never formatted into
 * a conninfo string) and no function here ever logs a URL. */
#ifndef JG_STORE_PGCONN_H
#define JG_STORE_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Connects to url (a postgresql:// URI; its parameters override jitgate's
 * defaults such as keepalives) with password (may be NULL: libpq then uses
 * the URL, PGPASSWORD or PGPASSFILE).  On failure err says why without the
 * password. */
int pgconn_open(const char *url, const char *password, int timeout_ms,
		PGconn **out, char *err, size_t errlen) JG_WUR;

/* Sends sql (with n text parameters, NULL = SQL NULL; with n == 0 sql may
 * hold several statements) and waits for its result; *out (may be NULL to discard) gets the last result on success.
 * JG_ERR_STORE when the server refused the statement (logged, with the
 * SQLSTATE in *sqlstate when not NULL), JG_ERR_TIMEOUT or JG_ERR_IO when
 * the connection is no longer usable (the caller closes it). */
int pgconn_exec(PGconn *c, const char *sql, int n, const char *const *vals,
		int timeout_ms, PGresult **out, char sqlstate[6]) JG_WUR;

/* Prepares sql as the named statement on c (parameter types from the
 * text), and runs a prepared statement as pgconn_exec runs sql: planned
 * once per connection instead of at every call. */
int pgconn_prepare(PGconn *c, const char *name, const char *sql, int timeout_ms) JG_WUR;
int pgconn_exec_prepared(PGconn *c, const char *name, int n, const char *const *vals,
			 int timeout_ms, PGresult **out, char sqlstate[6]) JG_WUR;

/* Waits until the socket is readable or the deadline (CLOCK_MONOTONIC ms)
 * passes; then consumes input.  0, JG_ERR_TIMEOUT or JG_ERR_IO. */
int pgconn_wait_input(PGconn *c, int64_t deadline_ms) JG_WUR;

/* Sends what libpq has buffered before the deadline. */
int pgconn_flush(PGconn *c, int64_t deadline_ms) JG_WUR;

/* Pipeline mode (PQenterPipelineMode): statements are queued with
 * pgconn_pipe_send and their results read in order with pgconn_pipe_next
 * (after a PQsendFlushRequest or PQpipelineSync has been sent and
 * flushed).  pgconn_pipe_next: JG_ERR_STORE when the statement failed or
 * was aborted by an earlier failure; JG_ERR_TIMEOUT/JG_ERR_IO when the
 * connection is unusable.  pgconn_pipe_sync_wait reads up to and including
 * the result of the sync point. */
int pgconn_pipe_send(PGconn *c, const char *sql, int n, const char *const *vals) JG_WUR;
/* The same for a statement prepared on c (name), and the preparation
 * itself (one result in the pipeline, like a statement). */
int pgconn_pipe_prepare(PGconn *c, const char *name, const char *sql, int n) JG_WUR;
int pgconn_pipe_send_prepared(PGconn *c, const char *name, int n,
			      const char *const *vals) JG_WUR;
int pgconn_pipe_next(PGconn *c, int64_t deadline_ms, PGresult **out) JG_WUR;
int pgconn_pipe_sync_wait(PGconn *c, int64_t deadline_ms) JG_WUR;

/* A monotonic clock in ms, for deadlines. */
int64_t pgconn_mono_ms(void);

/* Integer cell (0 when NULL or unparsable). */
int64_t pgconn_int(const PGresult *r, int row, int col);
/* Text cell, NULL when SQL NULL. */
const char *pgconn_text(const PGresult *r, int row, int col);

#endif
