/* The selftest's gateway session; see stpg.h. */
#include "selftest/stpg.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"

struct stpg {
	PGconn *conn;
	char notice[512]; /* the last message the server sent unasked (FATAL) */
};

static void on_notice(void *arg, const char *message)
{
	struct stpg *p = arg;

	snprintf(p->notice, sizeof(p->notice), "%s", message);
}

/* libpq's messages end in a newline; one line reads better in a report. */
static void one_line(const char *in, char *out, size_t len)
{
	size_t k = 0;

	for (; *in && k + 1 < len; in++) {
		if ((unsigned char)*in < 0x20 && k > 0 && out[k - 1] == ' ')
			continue;
		out[k++] = (unsigned char)*in < 0x20 ? ' ' : *in;
	}
	while (k > 0 && out[k - 1] == ' ')
		k--;
	if (len > 0)
		out[k] = '\0';
}

int stpg_open(const char *host, const char *port, const char *user,
	      const char *password, const char *dbname, struct stpg **out,
	      char *err, size_t errlen)
{
	const char *keys[] = {"host", "port", "user", "password", "dbname",
			      "sslmode", "connect_timeout", "application_name", NULL};
	const char *vals[] = {host, port, user, password, dbname, "prefer", "5",
			      "jitgate-selftest", NULL};
	struct stpg *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return JG_ERR_NOMEM;
	p->conn = PQconnectdbParams(keys, vals, 0);
	if (p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK) {
		one_line(p->conn ? PQerrorMessage(p->conn) : "out of memory", err, errlen);
		stpg_close(p);
		return JG_ERR_IO;
	}
	PQsetNoticeProcessor(p->conn, on_notice, p);
	*out = p;
	return JG_OK;
}

int stpg_select1(struct stpg *p, char *err, size_t errlen)
{
	PGresult *r = PQexec(p->conn, "SELECT 1");
	int rc = JG_OK;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
	    strcmp(PQgetvalue(r, 0, 0), "1") != 0) {
		one_line(PQerrorMessage(p->conn), err, errlen);
		rc = JG_ERR_IO;
	}
	PQclear(r);
	return rc;
}

int stpg_wait_cut(struct stpg *p, int timeout_ms, char *msg, size_t len)
{
	int64_t deadline = time_mono_ns() / 1000000 + timeout_ms;

	for (;;) {
		struct pollfd pfd = {.fd = PQsocket(p->conn), .events = POLLIN};
		int64_t left = deadline - time_mono_ns() / 1000000;

		if (pfd.fd < 0 || PQstatus(p->conn) == CONNECTION_BAD)
			break;
		if (left <= 0)
			return JG_ERR_TIMEOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		/* PQisBusy parses what was read: an ErrorResponse while idle
		 * goes to the notice processor.  The end of the stream makes
		 * PQconsumeInput fail, after what came before it was read. */
		if (PQconsumeInput(p->conn) == 0) {
			(void)PQisBusy(p->conn);
			break;
		}
		(void)PQisBusy(p->conn);
	}
	one_line(p->notice[0] ? p->notice : PQerrorMessage(p->conn), msg, len);
	return JG_OK;
}

void stpg_close(struct stpg *p)
{
	if (p == NULL)
		return;
	PQfinish(p->conn);
	free(p);
}
