/* Load generator for bench/cycle.sh: durable request+approve cycles.
 *
 *   bench_cycle_load http PORT SECONDS CLIENTS RESOURCE ROLE
 *       tokens from $JG_BENCH_REQUESTER_TOKEN and $JG_BENCH_APPROVER_TOKEN
 *   bench_cycle_load sqlite DBPATH SECONDS
 *   bench_cycle_load pg CONNINFO SECONDS     (password from PGPASSWORD)
 *
 * http: CLIENTS keep-alive connections to 127.0.0.1:PORT, driven by one
 * epoll thread so that the generator takes as little of the shared CPU as
 * possible.  Each client loops: POST /v1/requests (201, pending) as the
 * requester, then POST /v1/requests/ID/approve (200, active) as the
 * approver.  A cycle counts only when the approve reply says "active".
 *
 * sqlite: the baseline.  One connection, WAL, synchronous=FULL, one
 * single-row INSERT per transaction for SECONDS: the rate at which this
 * disk makes one SQLite commit durable, i.e. what a store without group
 * commit could reach at best with one write per transaction.
 *
 * pg: the same baseline on PostgreSQL (bench/ha.py): one connection, one
 * single-row INSERT per transaction, each COMMIT waiting for the server's
 * WAL flush (synchronous_commit as the server has it).
 *
 * Tokens come from the environment so they do not show in `ps`. */
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CLIENTS_MAX 1024
#define OUT_MAX 2048
#define IN_MAX (64 * 1024) /* a request object is well under 4 KiB */
#define LAT_MAX 4000000

enum phase { PH_CREATE, PH_APPROVE };

struct client {
	int fd;
	enum phase phase;
	int64_t id;
	int64_t started_ns; /* of the current cycle */
	char out[OUT_MAX];
	size_t out_len, out_off;
	char in[IN_MAX];
	size_t in_len;
};

struct load {
	int ep;
	int port;
	const char *resource, *role;
	const char *req_token, *appr_token;
	uint64_t cycles, errors, reconnects;
	int64_t *lat;
	size_t nlat;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int client_connect(struct load *l, struct client *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)l->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	/* a blocking connect to loopback is immediate; the I/O is not */
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	c->in_len = 0;
	return 0;
}

static int client_flush(struct load *l, struct client *c)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ev.events = EPOLLIN | EPOLLOUT;
			return epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
		if (n <= 0)
			return -1;
		c->out_off += (size_t)n;
	}
	return epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int client_send(struct load *l, struct client *c)
{
	char body[512], path[64];
	const char *token;
	int nb, n;

	if (c->phase == PH_CREATE) {
		c->started_ns = now_ns();
		nb = snprintf(body, sizeof(body),
			      "{\"resource\":\"%s\",\"role\":\"%s\",\"duration\":\"30m\","
			      "\"reason\":\"bench cycle\"}",
			      l->resource, l->role);
		snprintf(path, sizeof(path), "/v1/requests");
		token = l->req_token;
	} else {
		nb = snprintf(body, sizeof(body), "{}");
		snprintf(path, sizeof(path), "/v1/requests/%lld/approve", (long long)c->id);
		token = l->appr_token;
	}
	if (nb < 0 || (size_t)nb >= sizeof(body))
		return -1;
	n = snprintf(c->out, sizeof(c->out),
		     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		     "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
		     "Content-Length: %d\r\n\r\n%s",
		     path, token, nb, body);
	if (n < 0 || (size_t)n >= sizeof(c->out))
		return -1;
	c->out_len = (size_t)n;
	c->out_off = 0;
	return client_flush(l, c);
}

static void client_restart(struct load *l, struct client *c)
{
	if (c->fd >= 0) {
		epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	l->reconnects++;
	c->phase = PH_CREATE;
	if (client_connect(l, c) != 0 || client_send(l, c) != 0)
		l->errors++;
}

/* Parses one complete response at the start of c->in.  Returns its total
 * length, 0 when more bytes are needed, -1 when it is malformed. */
static long parse_response(struct client *c, int *status, const char **body,
			   size_t *body_len)
{
	char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	long clen = -1;
	size_t hlen;

	if (end == NULL)
		return c->in_len >= IN_MAX ? -1 : 0;
	hlen = (size_t)(end - c->in) + 4;
	if (sscanf(c->in, "HTTP/1.%*d %d", status) != 1)
		return -1;
	for (char *p = c->in; p < end;) {
		char *eol = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);

		if (eol == NULL)
			break;
		if (eol - p > 15 && strncasecmp(p, "Content-Length:", 15) == 0)
			clen = strtol(p + 15, NULL, 10);
		p = eol + 2;
	}
	if (clen < 0 || clen > IN_MAX)
		return -1; /* the daemon sends a length for these replies */
	if (c->in_len < hlen + (size_t)clen)
		return c->in_len >= IN_MAX ? -1 : 0;
	*body = c->in + hlen;
	*body_len = (size_t)clen;
	return (long)(hlen + (size_t)clen);
}

/* Acts on one reply; -1 restarts the client. */
static int on_reply(struct load *l, struct client *c, int status,
		    const char *body, size_t body_len)
{
	json_t *j = json_loadb(body, body_len, 0, NULL);
	const char *state = j ? json_string_value(json_object_get(j, "state")) : NULL;
	int rc = -1;

	if (c->phase == PH_CREATE && status == 201 && state &&
	    strcmp(state, "pending") == 0) {
		c->id = json_integer_value(json_object_get(j, "id"));
		c->phase = PH_APPROVE;
		rc = c->id > 0 ? 0 : -1;
	} else if (c->phase == PH_APPROVE && status == 200 && state &&
		   strcmp(state, "active") == 0) {
		l->cycles++;
		if (l->nlat < LAT_MAX)
			l->lat[l->nlat++] = now_ns() - c->started_ns;
		c->phase = PH_CREATE;
		rc = 0;
	} else {
		if (l->errors < 5)
			fprintf(stderr, "unexpected reply %d: %.*s\n", status,
				(int)(body_len > 200 ? 200 : body_len), body);
		l->errors++;
	}
	json_decref(j);
	if (rc == 0)
		rc = client_send(l, c);
	return rc;
}

static void on_event(struct load *l, struct client *c, uint32_t events)
{
	if (events & EPOLLOUT) {
		if (client_flush(l, c) != 0)
			goto restart;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->in_len, IN_MAX - c->in_len,
				 MSG_DONTWAIT);
		const char *body;
		size_t body_len;
		int status;
		long used;

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			l->errors++;
			goto restart;
		}
		c->in_len += (size_t)n;
		used = parse_response(c, &status, &body, &body_len);
		if (used < 0) {
			l->errors++;
			goto restart;
		}
		if (used == 0)
			continue;
		if (on_reply(l, c, status, body, body_len) != 0)
			goto restart;
		/* one request in flight per client: nothing follows the reply */
		c->in_len = 0;
		return;
	}
restart:
	client_restart(l, c);
}

static int run_http(int argc, char **argv)
{
	struct load l = {0};
	struct client *clients;
	struct epoll_event evs[64];
	int64_t t0, deadline, elapsed;
	int nclients, seconds;

	if (argc != 7) {
		fprintf(stderr, "usage: bench_cycle_load http PORT SECONDS CLIENTS "
				"RESOURCE ROLE\n");
		return 2;
	}
	l.port = atoi(argv[2]);
	seconds = atoi(argv[3]);
	nclients = atoi(argv[4]);
	l.resource = argv[5];
	l.role = argv[6];
	l.req_token = getenv("JG_BENCH_REQUESTER_TOKEN");
	l.appr_token = getenv("JG_BENCH_APPROVER_TOKEN");
	if (l.port <= 0 || l.port > 65535 || seconds <= 0 || seconds > 600 ||
	    nclients <= 0 || nclients > CLIENTS_MAX || !l.req_token ||
	    !l.appr_token || strlen(l.req_token) > 256 || strlen(l.appr_token) > 256 ||
	    strlen(l.resource) > 128 || strlen(l.role) > 128) {
		fprintf(stderr, "bad arguments or missing JG_BENCH_*_TOKEN\n");
		return 2;
	}
	clients = calloc((size_t)nclients, sizeof(*clients));
	l.lat = malloc(LAT_MAX * sizeof(*l.lat));
	l.ep = epoll_create1(0);
	if (clients == NULL || l.lat == NULL || l.ep < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	t0 = now_ns();
	for (int i = 0; i < nclients; i++) {
		clients[i].fd = -1;
		if (client_connect(&l, &clients[i]) != 0 ||
		    client_send(&l, &clients[i]) != 0) {
			perror("connect");
			return 1;
		}
	}
	deadline = t0 + (int64_t)seconds * 1000000000;
	while (now_ns() < deadline) {
		int n = epoll_wait(l.ep, evs, 64, 100);

		for (int i = 0; i < n; i++)
			on_event(&l, evs[i].data.ptr, evs[i].events);
	}
	elapsed = now_ns() - t0;
	qsort(l.lat, l.nlat, sizeof(*l.lat), cmp_i64);
	printf("cycles %llu in %.2f s with %d clients: %.0f cycles/s, "
	       "%.0f transitions/s (created->pending, approved->active), "
	       "errors %llu, reconnects %llu\n",
	       (unsigned long long)l.cycles, (double)elapsed / 1e9, nclients,
	       (double)l.cycles * 1e9 / (double)elapsed,
	       2.0 * (double)l.cycles * 1e9 / (double)elapsed,
	       (unsigned long long)l.errors,
	       (unsigned long long)(l.reconnects));
	if (l.nlat > 0)
		printf("cycle latency p50 %.2f ms, p99 %.2f ms\n",
		       (double)l.lat[l.nlat / 2] / 1e6,
		       (double)l.lat[(size_t)((double)(l.nlat - 1) * 0.99)] / 1e6);
	printf("RESULT cycles_per_s=%.0f errors=%llu\n",
	       (double)l.cycles * 1e9 / (double)elapsed, (unsigned long long)l.errors);
	for (int i = 0; i < nclients; i++)
		if (clients[i].fd >= 0)
			close(clients[i].fd);
	close(l.ep);
	free(l.lat);
	free(clients);
	return 0;
}

static int run_sqlite(int argc, char **argv)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	int64_t t0, deadline, elapsed;
	uint64_t commits = 0;
	int seconds, rc = 1;

	if (argc != 4 || (seconds = atoi(argv[3])) <= 0 || seconds > 600) {
		fprintf(stderr, "usage: bench_cycle_load sqlite DBPATH SECONDS\n");
		return 2;
	}
	if (sqlite3_open(argv[2], &db) != SQLITE_OK ||
	    sqlite3_exec(db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT);",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES ('bench row of a "
				   "typical request size, about one hundred bytes "
				   "long, to be fair to the store')",
			       -1, &ins, NULL) != SQLITE_OK) {
		fprintf(stderr, "sqlite: %s\n", db ? sqlite3_errmsg(db) : "open failed");
		goto out;
	}
	t0 = now_ns();
	deadline = t0 + (int64_t)seconds * 1000000000;
	/* autocommit: each INSERT is its own transaction, one WAL fsync each */
	while (now_ns() < deadline) {
		if (sqlite3_step(ins) != SQLITE_DONE) {
			fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
			goto out;
		}
		sqlite3_reset(ins);
		commits++;
	}
	elapsed = now_ns() - t0;
	printf("sqlite durable commits %llu in %.2f s: %.0f commits/s "
	       "(WAL, synchronous=FULL, one row each)\n",
	       (unsigned long long)commits, (double)elapsed / 1e9,
	       (double)commits * 1e9 / (double)elapsed);
	printf("RESULT commits_per_s=%.0f\n", (double)commits * 1e9 / (double)elapsed);
	rc = 0;
out:
	sqlite3_finalize(ins);
	sqlite3_close(db);
	return rc;
}

static int run_pg(int argc, char **argv)
{
	PGconn *c;
	PGresult *r;
	int64_t t0, deadline, elapsed;
	uint64_t commits = 0;
	int seconds, rc = 1;

	if (argc != 4 || (seconds = atoi(argv[3])) <= 0 || seconds > 600) {
		fprintf(stderr, "usage: bench_cycle_load pg CONNINFO SECONDS\n");
		return 2;
	}
	c = PQconnectdb(argv[2]);
	r = PQexec(c, "CREATE TABLE IF NOT EXISTS bench_t(id BIGSERIAL PRIMARY KEY, v TEXT)");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "pg: %s", PQerrorMessage(c));
		goto out;
	}
	PQclear(r);
	r = PQprepare(c, "ins", "INSERT INTO bench_t(v) VALUES ('bench row of a typical"
		      " request size, about one hundred bytes long, to be fair to the store')",
		      0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "pg: %s", PQerrorMessage(c));
		goto out;
	}
	PQclear(r);
	r = NULL;
	t0 = now_ns();
	deadline = t0 + (int64_t)seconds * 1000000000;
	/* autocommit: each INSERT is its own transaction */
	while (now_ns() < deadline) {
		r = PQexecPrepared(c, "ins", 0, NULL, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "pg: %s", PQerrorMessage(c));
			goto out;
		}
		PQclear(r);
		r = NULL;
		commits++;
	}
	elapsed = now_ns() - t0;
	printf("postgresql commits %llu in %.2f s: %.0f commits/s (one row each)\n",
	       (unsigned long long)commits, (double)elapsed / 1e9,
	       (double)commits * 1e9 / (double)elapsed);
	printf("RESULT commits_per_s=%.0f\n", (double)commits * 1e9 / (double)elapsed);
	rc = 0;
out:
	PQclear(r);
	PQfinish(c);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "http") == 0)
		return run_http(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "sqlite") == 0)
		return run_sqlite(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "pg") == 0)
		return run_pg(argc, argv);
	fprintf(stderr, "usage: bench_cycle_load http PORT SECONDS CLIENTS RESOURCE ROLE\n"
			"       bench_cycle_load sqlite DBPATH SECONDS\n"
			"       bench_cycle_load pg CONNINFO SECONDS\n");
	return 2;
}
