#include "store/pgconn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

int64_t pgconn_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls the connection's socket for events until deadline. */
static int wait_sock(PGconn *c, short events, int64_t deadline_ms)
{
	struct pollfd p = {.fd = PQsocket(c), .events = events};

	if (p.fd < 0)
		return JG_ERR_IO;
	for (;;) {
		int64_t left = deadline_ms - pgconn_mono_ms();
		int n;

		if (left <= 0)
			return JG_ERR_TIMEOUT;
		n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (n > 0)
			return (p.revents & POLLNVAL) ? JG_ERR_IO : JG_OK;
		if (n < 0 && errno != EINTR)
			return JG_ERR_IO;
	}
}

/* The first line of libpq's message, trailing newline removed. */
static void first_line(const char *msg, char *buf, size_t len)
{
	snprintf(buf, len, "%s", msg ? msg : "");
	buf[strcspn(buf, "\r\n")] = '\0';
}

/* Server notices ("relation already exists, skipping") are not errors:
 * debug log only, never libpq's default of stderr. */
static void on_notice(void *arg, const char *msg)
{
	char line[256];

	(void)arg;
	first_line(msg, line, sizeof(line));
	log_debug(NULL, "postgresql: %s", line);
}

int pgconn_open(const char *url, const char *password, int timeout_ms,
		PGconn **out, char *err, size_t errlen)
{
	/* defaults first: the URL (dbname, expanded) overrides them */
	const char *keys[] = {"connect_timeout", "keepalives", "keepalives_idle",
			      "keepalives_interval", "keepalives_count",
			      "application_name", "dbname", "password", NULL};
	const char *vals[] = {"10", "1", "5", "2", "3", "jitgate", url, password, NULL};
	int64_t deadline = pgconn_mono_ms() + timeout_ms;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn *c;
	char msg[256];
	int rc = JG_OK;

	*out = NULL;
	if (password == NULL || password[0] == '\0')
		keys[7] = NULL; /* libpq: the URL, PGPASSWORD or PGPASSFILE */
	c = PQconnectStartParams(keys, vals, 1);
	if (c == NULL) {
		snprintf(err, errlen, "postgresql: out of memory");
		return JG_ERR_NOMEM;
	}
	while (PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
	       st != PGRES_POLLING_FAILED) {
		rc = wait_sock(c, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
		if (rc != JG_OK)
			break;
		st = PQconnectPoll(c);
	}
	if (rc == JG_OK && (PQstatus(c) != CONNECTION_OK || st != PGRES_POLLING_OK))
		rc = JG_ERR_STORE;
	if (rc != JG_OK) {
		first_line(PQerrorMessage(c), msg, sizeof(msg));
		snprintf(err, errlen, "postgresql: %s",
			 rc == JG_ERR_TIMEOUT ? "connection timed out" : msg);
		PQfinish(c);
		return rc == JG_ERR_TIMEOUT ? JG_ERR_TIMEOUT : JG_ERR_STORE;
	}
	PQsetNoticeProcessor(c, on_notice, NULL);
	if (PQsetnonblocking(c, 1) != 0) {
		snprintf(err, errlen, "postgresql: cannot make the connection non-blocking");
		PQfinish(c);
		return JG_ERR_STORE;
	}
	*out = c;
	return JG_OK;
}

int pgconn_wait_input(PGconn *c, int64_t deadline_ms)
{
	int rc = wait_sock(c, POLLIN, deadline_ms);

	if (rc == JG_OK && !PQconsumeInput(c))
		rc = JG_ERR_IO;
	return rc;
}

/* Flushes the send buffer before the deadline. */
int pgconn_flush(PGconn *c, int64_t deadline_ms)
{
	int f;

	while ((f = PQflush(c)) == 1) {
		int rc = wait_sock(c, POLLOUT | POLLIN, deadline_ms);

		if (rc != JG_OK)
			return rc;
		if (!PQconsumeInput(c))
			return JG_ERR_IO;
	}
	return f == 0 ? JG_OK : JG_ERR_IO;
}

/* Waits for the results of what was just sent on c, until its last:
 * *out (may be NULL) gets the last on success. */
static int collect(PGconn *c, int64_t deadline, PGresult **out, char sqlstate[6])
{
	PGresult *r, *last = NULL;
	int rc;
	char msg[256];

	rc = pgconn_flush(c, deadline);
	/* every result until NULL; keep the last, note the first error */
	while (rc == JG_OK || rc == JG_ERR_STORE) {
		while (PQisBusy(c)) {
			int w = pgconn_wait_input(c, deadline);

			if (w != JG_OK) {
				PQclear(last);
				return w;
			}
		}
		r = PQgetResult(c);
		if (r == NULL)
			break;
		switch (PQresultStatus(r)) {
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
			break;
		default:
			if (rc == JG_OK) {
				const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

				first_line(PQresultErrorMessage(r), msg, sizeof(msg));
				log_error(NULL, "postgresql: %s", msg);
				if (sqlstate && state)
					snprintf(sqlstate, 6, "%s", state);
				rc = JG_ERR_STORE;
			}
		}
		PQclear(last);
		last = r;
	}
	if (PQstatus(c) != CONNECTION_OK && rc == JG_OK)
		rc = JG_ERR_IO;
	if (rc == JG_OK && out)
		*out = last;
	else
		PQclear(last);
	return rc;
}

int pgconn_exec(PGconn *c, const char *sql, int n, const char *const *vals,
		int timeout_ms, PGresult **out, char sqlstate[6])
{
	int64_t deadline = pgconn_mono_ms() + timeout_ms;

	if (out)
		*out = NULL;
	if (sqlstate)
		sqlstate[0] = '\0';
	if (PQstatus(c) != CONNECTION_OK)
		return JG_ERR_IO;
	/* without parameters the simple protocol, which allows several
	 * statements (migrations) */
	if (!(n == 0 ? PQsendQuery(c, sql)
		     : PQsendQueryParams(c, sql, n, NULL, vals, NULL, NULL, 0)))
		return JG_ERR_IO;
	return collect(c, deadline, out, sqlstate);
}

int pgconn_prepare(PGconn *c, const char *name, const char *sql, int timeout_ms)
{
	int64_t deadline = pgconn_mono_ms() + timeout_ms;

	if (PQstatus(c) != CONNECTION_OK || !PQsendPrepare(c, name, sql, 0, NULL))
		return JG_ERR_IO;
	return collect(c, deadline, NULL, NULL);
}

int pgconn_exec_prepared(PGconn *c, const char *name, int n, const char *const *vals,
			 int timeout_ms, PGresult **out, char sqlstate[6])
{
	int64_t deadline = pgconn_mono_ms() + timeout_ms;

	if (out)
		*out = NULL;
	if (sqlstate)
		sqlstate[0] = '\0';
	if (PQstatus(c) != CONNECTION_OK ||
	    !PQsendQueryPrepared(c, name, n, vals, NULL, NULL, 0))
		return JG_ERR_IO;
	return collect(c, deadline, out, sqlstate);
}

int64_t pgconn_int(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return 0;
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

const char *pgconn_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

int pgconn_pipe_send(PGconn *c, const char *sql, int n, const char *const *vals)
{
	return PQsendQueryParams(c, sql, n, NULL, vals, NULL, NULL, 0) == 1 ? JG_OK : JG_ERR_IO;
}

int pgconn_pipe_prepare(PGconn *c, const char *name, const char *sql, int n)
{
	return PQsendPrepare(c, name, sql, n, NULL) == 1 ? JG_OK : JG_ERR_IO;
}

int pgconn_pipe_send_prepared(PGconn *c, const char *name, int n, const char *const *vals)
{
	return PQsendQueryPrepared(c, name, n, vals, NULL, NULL, 0) == 1 ? JG_OK : JG_ERR_IO;
}

/* Waits until a result can be taken without blocking. */
static int ready_result(PGconn *c, int64_t deadline_ms)
{
	while (PQisBusy(c)) {
		int w = pgconn_wait_input(c, deadline_ms);

		if (w != JG_OK)
			return w;
	}
	return JG_OK;
}

int pgconn_pipe_next(PGconn *c, int64_t deadline_ms, PGresult **out)
{
	PGresult *r, *last = NULL;
	int rc = JG_OK, w;
	char msg[256];

	if (out)
		*out = NULL;
	for (;;) {
		if ((w = ready_result(c, deadline_ms)) != JG_OK) {
			PQclear(last);
			return w;
		}
		r = PQgetResult(c);
		if (r == NULL)
			break; /* the end of this statement's results */
		switch (PQresultStatus(r)) {
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
			break;
		case PGRES_PIPELINE_ABORTED: /* an earlier statement failed */
			rc = JG_ERR_STORE;
			break;
		default:
			if (rc == JG_OK) {
				first_line(PQresultErrorMessage(r), msg, sizeof(msg));
				log_error(NULL, "postgresql: %s", msg);
			}
			rc = JG_ERR_STORE;
		}
		PQclear(last);
		last = r;
	}
	if (rc == JG_OK && out)
		*out = last;
	else
		PQclear(last);
	return rc;
}

int pgconn_pipe_sync_wait(PGconn *c, int64_t deadline_ms)
{
	for (;;) {
		PGresult *r;
		ExecStatusType st;
		int w = ready_result(c, deadline_ms);

		if (w != JG_OK)
			return w;
		r = PQgetResult(c);
		if (r == NULL)
			continue;
		st = PQresultStatus(r);
		PQclear(r);
		if (st == PGRES_PIPELINE_SYNC)
			return JG_OK;
	}
}
