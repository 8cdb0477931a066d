/* Many gateway sessions against the real daemon (bench/gateway_hold.sh).
 *
 *   gw_hold respond PORT
 *       a minimal PostgreSQL-protocol server that can hold tens of
 *       thousands of backends: one epoll thread, trust login
 *       (AuthenticationOk at once), a few ParameterStatus, BackendKeyData,
 *       ReadyForQuery; every simple Query gets "SELECT 0" + ReadyForQuery,
 *       Sync gets ReadyForQuery, Terminate closes.  Until SIGTERM.
 *   gw_hold hold GWPORT HTTPPORT DAEMON_PID N CUTFILE
 *       env JG_BENCH_TOKEN (subject "bench"), JG_BENCH_ADMIN (admin token).
 *       Opens N sessions as bench to resp-db@read (in flight at most 256
 *       logins at a time), checks one relays a query, and prints the
 *       daemon's RSS growth per session.  Then for every line
 *       "SUBJECT TOKEN REQUEST_ID" of CUTFILE: one more session as SUBJECT,
 *       and with the N sessions still open, POST /v1/requests/ID/revoke as
 *       admin and time the FATAL on that session: from sending the revoke
 *       (send->FATAL) and the revoke's own HTTP latency.  p50/p99/max.
 *       GW_TLS=1: the N sessions log in over TLS (one at a time); the
 *       timed ones stay plain.
 *       Around the revokes it reads the daemon's /metrics: how many group
 *       commits the engine made meanwhile and how long they took
 *       (jitgate_audit_commit_duration_seconds: BEGIN to COMMIT, fsync
 *       included), to tell the durable write from the rest; and around
 *       each revoke (unless GW_HOLD_SPLIT=0): the commits in its window
 *       against the rest of its HTTP answer, p50/p99, and the slowest.
 *   gw_hold fsync DIR COUNT
 *       the disk's own durable-write time, the baseline of the above:
 *       COUNT times a 4 KiB pwrite + fdatasync of a file in DIR (what a
 *       SQLite WAL commit costs the disk), p50/p99/max.
 *   gw_hold expire GWPORT CUTFILE
 *       for every line "SUBJECT TOKEN REQUEST_ID EXPIRES_MS" one session
 *       as SUBJECT (in flight at most 256 logins at a time); then waits
 *       for each to be cut and prints how late after its grant's
 *       expires_at (wall clock) the FATAL arrived: p50/p99/max, and how
 *       many distinct expires_at the grants had.  Exit status 1 when a
 *       login fails, a session is cut before its expires_at, or not
 *       within 10 s after it.
 *
 * Exit status 1 when a login fails, a session is cut that should not be,
 * or a revoke does not cut its session within 5 s; timing never fails it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
	return 4;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int msg(unsigned char *out, char type, const void *body, int len)
{
	out[0] = (unsigned char)type;
	put32(out + 1, (uint32_t)len + 4);
	memcpy(out + 5, body, (size_t)len);
	return 5 + len;
}

static void send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* peer gone: the read side notices */
		p += n;
		len -= (size_t)n;
	}
}

/* ---------------------------------------------------------------- respond */

struct rconn {
	int fd;
	int started;
	unsigned len;
	unsigned char buf[1024];
};

static volatile sig_atomic_t stop;
static void on_term(int s)
{
	(void)s;
	stop = 1;
}

static void r_login(int fd)
{
	unsigned char out[512];
	int n = 0;
	unsigned char auth[4] = {0, 0, 0, 0};
	static const char ps1[] = "server_version\0" "15.0";
	static const char ps2[] = "client_encoding\0" "UTF8";
	static const char ps3[] = "standard_conforming_strings\0" "on";
	unsigned char key[8];

	n += msg(out + n, 'R', auth, 4);
	n += msg(out + n, 'S', ps1, sizeof(ps1));
	n += msg(out + n, 'S', ps2, sizeof(ps2));
	n += msg(out + n, 'S', ps3, sizeof(ps3));
	put32(key, (uint32_t)fd);
	put32(key + 4, 12345);
	n += msg(out + n, 'K', key, 8);
	n += msg(out + n, 'Z', "I", 1);
	send_all(fd, out, (size_t)n);
}

/* 1: keep, 0: close */
static int r_feed(struct rconn *c)
{
	unsigned off = 0;

	for (;;) {
		unsigned avail = c->len - off;
		unsigned char *p = c->buf + off;
		unsigned need;

		if (!c->started) {
			if (avail < 8)
				break;
			need = get32(p);
			if (need < 8 || need > sizeof(c->buf))
				return 0;
			if (avail < need)
				break;
			if (get32(p + 4) == 80877103) { /* SSLRequest */
				send_all(c->fd, "N", 1);
			} else if (get32(p + 4) == 80877102) { /* cancel */
				return 0;
			} else {
				c->started = 1;
				r_login(c->fd);
			}
			off += need;
			continue;
		}
		if (avail < 5)
			break;
		need = get32(p + 1) + 1;
		if (need < 5 || need > sizeof(c->buf))
			return 0;
		if (avail < need)
			break;
		if (p[0] == 'X')
			return 0;
		if (p[0] == 'Q') {
			unsigned char out[64];
			int n = msg(out, 'C', "SELECT 0", 9);

			n += msg(out + n, 'Z', "I", 1);
			send_all(c->fd, out, (size_t)n);
		} else if (p[0] == 'S') {
			unsigned char out[8];

			send_all(c->fd, out, (size_t)msg(out, 'Z', "I", 1));
		}
		off += need;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	return 1;
}

static int respond(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	int one = 1, lfd, ep;
	struct epoll_event ev[256];

	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lfd, 4096) < 0)
		die("bind/listen");
	ep = epoll_create1(0);
	ev[0] = (struct epoll_event){.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev[0]);
	while (!stop) {
		int n = epoll_wait(ep, ev, 256, 500);

		for (int i = 0; i < n; i++) {
			struct rconn *c = ev[i].data.ptr;

			if (!c) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL,
						     SOCK_NONBLOCK)) >= 0) {
					struct epoll_event e = {.events = EPOLLIN};

					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
						   &one, sizeof(one));
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					e.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
				}
				continue;
			}
			ssize_t r = recv(c->fd, c->buf + c->len,
					 sizeof(c->buf) - c->len, 0);

			if ((r < 0 && errno == EAGAIN) ||
			    (r > 0 && r_feed((c->len += (unsigned)r, c))))
				continue;
			close(c->fd);
			free(c);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------- hold */

enum { C_LOGIN, C_READY, C_CUT };
struct hconn {
	int fd;
	int state;
	const char *token;
	unsigned len;
	double cut_at;
	unsigned char buf[2048];
};

static int gw_port;

static void startup(struct hconn *c, const char *user, const char *db)
{
	unsigned char out[256];
	int n = 8;

	n += sprintf((char *)out + n, "user") + 1;
	n += sprintf((char *)out + n, "%s", user) + 1;
	n += sprintf((char *)out + n, "database") + 1;
	n += sprintf((char *)out + n, "%s", db) + 1;
	out[n++] = 0;
	put32(out, (uint32_t)n);
	put32(out + 4, 196608);
	send_all(c->fd, out, (size_t)n);
}

static int hconnect(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)gw_port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect to the gateway");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Parses what arrived; returns -1 on a FATAL/ErrorResponse or EOF. */
static int h_feed(struct hconn *c)
{
	ssize_t r;
	unsigned off = 0;

	r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r <= 0)
		return -1;
	c->len += (unsigned)r;
	for (;;) {
		unsigned char *p = c->buf + off;
		unsigned need;

		if (c->len - off < 5)
			break;
		need = get32(p + 1) + 1;
		if (need > sizeof(c->buf))
			return -1;
		if (c->len - off < need)
			break;
		if (p[0] == 'E')
			return -1;
		if (p[0] == 'R' && get32(p + 5) == 3) {
			unsigned char out[256];

			send_all(c->fd, out, (size_t)msg(out, 'p', c->token,
						  (int)strlen(c->token) + 1));
		}
		if (p[0] == 'Z' && c->state == C_LOGIN)
			c->state = C_READY;
		off += need;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	return 0;
}

static long rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* POST /v1/requests/ID/revoke as admin; returns the status code. */
static int api_revoke(int http_port, const char *id, const char *admin)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)http_port)};
	char req[1024], resp[512];
	int fd = socket(AF_INET, SOCK_STREAM, 0), n, code = 0;
	static const char body[] = "{\"reason\":\"bench\"}";

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect to the API");
	n = snprintf(req, sizeof(req),
		     "POST /v1/requests/%s/revoke HTTP/1.1\r\nHost: x\r\n"
		     "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		     id, admin, sizeof(body) - 1, body);
	send_all(fd, req, (size_t)n);
	n = (int)recv(fd, resp, sizeof(resp) - 1, MSG_WAITALL);
	if (n > 12)
		code = atoi(resp + 9);
	close(fd);
	return code;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v and prints p50/p99/max; out (if not NULL) gets the three. */
static void pct(const char *what, double *v, int n, double out[3])
{
	if (n == 0)
		return;
	qsort(v, (size_t)n, sizeof(*v), cmpd);
	printf("%s (%d): p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", what, n,
	       v[n / 2], v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1],
	       v[n - 1]);
	if (out) {
		out[0] = v[n / 2];
		out[1] = v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
		out[2] = v[n - 1];
	}
}

/* The engine's commit histogram from GET /metrics: cumulative bucket
 * counts by upper bound (seconds), count and sum.  0, or -1. */
struct commits {
	double le[32];
	double cum[32];
	int nb;
	double count, sum;
};

static int read_commits(int http_port, struct commits *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)http_port)};
	static char resp[1 << 20];
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n"
				  "Connection: close\r\n\r\n";
	size_t got = 0;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	const char *name = "jitgate_audit_commit_duration_seconds_";

	memset(c, 0, sizeof(*c));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	send_all(fd, req, sizeof(req) - 1);
	while (got < sizeof(resp) - 1 &&
	       (r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0)) > 0)
		got += (size_t)r;
	close(fd);
	resp[got] = 0;
	for (char *l = resp; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		double le, v;

		if (strncmp(l, name, strlen(name)) != 0)
			continue;
		l += strlen(name);
		if (sscanf(l, "bucket{le=\"%lf\"} %lf", &le, &v) == 2 && c->nb < 32) {
			c->le[c->nb] = le;
			c->cum[c->nb++] = v;
		} else if (sscanf(l, "count %lf", &v) == 1) {
			c->count = v;
		} else if (sscanf(l, "sum %lf", &v) == 1) {
			c->sum = v;
		}
	}
	return c->nb > 0 ? 0 : -1;
}

/* What the engine committed between two readings: count, mean, and how
 * many took longer than 2.5 ms and 10 ms (bucket bounds). */
static void print_commits(const struct commits *a, const struct commits *b)
{
	double n = b->count - a->count, over25 = 0, over10 = 0;

	if (a->nb != b->nb || n <= 0)
		return;
	for (int i = 0; i < b->nb; i++) {
		if (b->le[i] == 2.5e-3)
			over25 = n - (b->cum[i] - a->cum[i]);
		if (b->le[i] == 1e-2)
			over10 = n - (b->cum[i] - a->cum[i]);
	}
	printf("engine group commits meanwhile: %.0f, mean %.2f ms (BEGIN to "
	       "COMMIT, fsync included); %.0f over 2.5 ms, %.0f over 10 ms\n",
	       n, (b->sum - a->sum) / n * 1e3, over25, over10);
	printf("RESULT gw_hold_commits n=%.0f mean_ms=%.3f over_2_5ms=%.0f over_10ms=%.0f\n",
	       n, (b->sum - a->sum) / n * 1e3, over25, over10);
}

/* The disk's durable-write time in DIR: COUNT x (4 KiB pwrite +
 * fdatasync), each timed. */
static int fsync_probe(const char *dir, int count)
{
	char path[4096], buf[4096];
	double *lat = calloc((size_t)count, sizeof(*lat)), r[3] = {0};
	int fd;

	snprintf(path, sizeof(path), "%s/fsync-probe", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !lat || count <= 0)
		die(path);
	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < count; i++) {
		double t = now_ms();

		if (pwrite(fd, buf, sizeof(buf), (off_t)(i % 64) * 4096) != (ssize_t)sizeof(buf) ||
		    fdatasync(fd) != 0)
			die("fdatasync probe");
		lat[i] = now_ms() - t;
	}
	close(fd);
	unlink(path);
	pct("disk: 4 KiB pwrite + fdatasync", lat, count, r);
	printf("RESULT disk_fdatasync n=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
	       count, r[0], r[1], r[2]);
	free(lat);
	return 0;
}

/* GW_TLS=1: one blocking login over TLS (SSLRequest, handshake, startup,
 * password, until ReadyForQuery); the session stays open.  0 or -1. */
static int tls_login(SSL_CTX *ctx, const char *user, const char *tok)
{
	unsigned char req[8], b = 0, buf[4096], out[512];
	unsigned len = 0;
	int fd = hconnect(), n;
	SSL *ssl;

	fcntl(fd, F_SETFL, 0);
	put32(req, 8);
	put32(req + 4, 80877103);
	send_all(fd, req, 8);
	if (recv(fd, &b, 1, 0) != 1 || b != 'S')
		return -1;
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1)
		return -1;
	n = 8;
	n += sprintf((char *)out + n, "user") + 1;
	n += sprintf((char *)out + n, "%s", user) + 1;
	n += sprintf((char *)out + n, "database") + 1;
	n += sprintf((char *)out + n, "resp-db@read") + 1;
	out[n++] = 0;
	put32(out, (uint32_t)n);
	put32(out + 4, 196608);
	SSL_write(ssl, out, n);
	for (;;) {
		int r = SSL_read(ssl, buf + len, (int)(sizeof(buf) - len));
		unsigned off = 0;

		if (r <= 0)
			return -1;
		len += (unsigned)r;
		while (len - off >= 5 && len - off >= get32(buf + off + 1) + 1) {
			unsigned char *p = buf + off;

			if (p[0] == 'E')
				return -1;
			if (p[0] == 'R' && get32(p + 5) == 3)
				SSL_write(ssl, out, msg(out, 'p', tok, (int)strlen(tok) + 1));
			if (p[0] == 'Z')
				return 0; /* ssl and fd stay open: that is the point */
			off += get32(p + 1) + 1;
		}
		memmove(buf, buf + off, len - off);
		len -= off;
	}
}

/* Opens sessions cs[0..n) to resp-db@read, at most 256 logins in flight,
 * each as user/tok or users[i]/toks[i]; epoll data is the index.  0, or 1
 * when a login fails or stalls. */
static int open_all(int ep, struct hconn *cs, int n, const char *user,
		    const char *tok, char (*users)[32], char (*toks)[96])
{
	struct epoll_event ev[256];
	int next = 0, inflight = 0, ready = 0;

	while (ready < n) {
		while (next < n && inflight < 256) {
			struct hconn *c = &cs[next];
			struct epoll_event e = {.events = EPOLLIN,
						.data.u32 = (uint32_t)next};

			c->token = toks ? toks[next] : tok;
			c->fd = hconnect();
			epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
			startup(c, users ? users[next] : user, "resp-db@read");
			next++;
			inflight++;
		}
		int k = epoll_wait(ep, ev, 256, 10000);

		if (k == 0) {
			fprintf(stderr, "logins stalled at %d of %d\n", ready, n);
			return 1;
		}
		for (int i = 0; i < k; i++) {
			struct hconn *c = &cs[ev[i].data.u32];
			int was = c->state;

			if (h_feed(c) < 0) {
				fprintf(stderr, "session %u refused or cut (%d ready)\n",
					ev[i].data.u32, ready);
				return 1;
			}
			if (was == C_LOGIN && c->state == C_READY) {
				ready++;
				inflight--;
			}
		}
	}
	return 0;
}

static int hold(int http_port, int pid, int n, const char *cutfile)
{
	const char *tok = getenv("JG_BENCH_TOKEN"), *admin = getenv("JG_BENCH_ADMIN");
	struct hconn *cs = calloc((size_t)n, sizeof(*cs));
	struct epoll_event ev[256];
	int ep = epoll_create1(0), ready = 0, bad = 0;
	long rss0, rss1;
	double t0;
	FILE *cf;
	char subj[128], ctok[256], id[64];
	double sendlat[1024], httplat[1024], fr[3] = {0}, hr[3] = {0};
	int ncut = 0;
	struct commits c0, c1, w0, w1;
	bool have_c0, have_w0;
	bool split = !getenv("GW_HOLD_SPLIT") || strcmp(getenv("GW_HOLD_SPLIT"), "0") != 0;
	static double wcommits[1024], wcommit_ms[1024], wrest[1024];
	double worst_http = -1;
	int nsplit = 0, worst = 0;

	if (!tok || !admin || !cs)
		die("JG_BENCH_TOKEN/JG_BENCH_ADMIN");
	/* the daemon's baseline: one session in and out first, so that its
	 * per-process one-offs (TLS contexts, first upstream) are not counted */
	{
		struct hconn w = {.token = tok};

		w.fd = hconnect();
		startup(&w, "bench", "resp-db@read");
		fcntl(w.fd, F_SETFL, 0);
		while (w.state != C_READY)
			if (h_feed(&w) < 0) {
				fprintf(stderr, "warm-up login failed\n");
				return 1;
			}
		send_all(w.fd, "Q\0\0\0\015select 1\0", 14);
		w.state = C_LOGIN; /* wait for the next Z */
		while (w.state != C_READY)
			if (h_feed(&w) < 0) {
				fprintf(stderr, "query through the gateway failed\n");
				return 1;
			}
		close(w.fd);
		usleep(200000);
	}
	rss0 = rss_kib(pid);
	t0 = now_ms();
	if (getenv("GW_TLS")) {
		SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

		for (; ready < n; ready++)
			if (!ctx || tls_login(ctx, "bench", tok) != 0) {
				fprintf(stderr, "TLS login %d failed\n", ready);
				return 1;
			}
	}
	if (ready < n && open_all(ep, cs, n, "bench", tok, NULL, NULL) != 0)
		return 1;
	usleep(500000);
	rss1 = rss_kib(pid);
	printf("sessions held: %d%s (logins took %.0f ms)\n", n,
	       getenv("GW_TLS") ? " over TLS" : "", now_ms() - t0);
	printf("daemon RSS: %ld KiB before, %ld KiB with %d sessions: %.1f KiB "
	       "per session (target <= 64 KiB)\n",
	       rss0, rss1, n, (double)(rss1 - rss0) / n);
	printf("RESULT gw_hold sessions=%d tls=%d rss_before_kib=%ld rss_after_kib=%ld kib_per_session=%.1f\n",
	       n, getenv("GW_TLS") ? 1 : 0, rss0, rss1, (double)(rss1 - rss0) / n);
	fflush(stdout);
	have_c0 = read_commits(http_port, &c0) == 0;

	cf = fopen(cutfile, "r");
	if (!cf)
		die(cutfile);
	while (ncut < 1024 && fscanf(cf, "%127s %255s %63s", subj, ctok, id) == 3) {
		struct hconn c = {.token = ctok};
		double ts, th;
		int code;

		c.fd = hconnect();
		fcntl(c.fd, F_SETFL, 0);
		startup(&c, subj, "resp-db@read");
		while (c.state != C_READY)
			if (h_feed(&c) < 0) {
				fprintf(stderr, "login as %s failed\n", subj);
				return 1;
			}
		fcntl(c.fd, F_SETFL, O_NONBLOCK);
		/* the engine's commits around this revoke (its own, and any
		 * it had to wait behind: the session.started of the login just
		 * made, the session.ended of the last cut) */
		have_w0 = split && read_commits(http_port, &w0) == 0;
		ts = now_ms();
		code = api_revoke(http_port, id, admin);
		th = now_ms();
		if (code != 200) {
			fprintf(stderr, "revoke %s: HTTP %d\n", id, code);
			return 1;
		}
		for (;;) {
			struct epoll_event e;
			int cep = epoll_create1(0);

			e.events = EPOLLIN;
			e.data.ptr = NULL;
			epoll_ctl(cep, EPOLL_CTL_ADD, c.fd, &e);
			int k = epoll_wait(cep, &e, 1, 5000);

			close(cep);
			if (k == 0) {
				fprintf(stderr, "revoke of %s did not cut within 5 s\n", id);
				return 1;
			}
			if (h_feed(&c) < 0)
				break;
		}
		sendlat[ncut] = now_ms() - ts;
		httplat[ncut] = th - ts;
		if (have_w0 && read_commits(http_port, &w1) == 0) {
			wcommits[nsplit] = w1.count - w0.count;
			wcommit_ms[nsplit] = (w1.sum - w0.sum) * 1e3;
			/* what is not the engine's commits: HTTP, queueing,
			 * scheduling (a commit after the answer, e.g. the cut's
			 * session.ended, makes it smaller, never larger) */
			wrest[nsplit] = httplat[ncut] - wcommit_ms[nsplit];
			if (wrest[nsplit] < 0)
				wrest[nsplit] = 0;
			if (httplat[ncut] > worst_http) {
				worst_http = httplat[ncut];
				worst = nsplit;
			}
			nsplit++;
		}
		ncut++;
		close(c.fd);
	}
	fclose(cf);
	if (have_c0 && read_commits(http_port, &c1) == 0)
		print_commits(&c0, &c1);
	pct("revoke sent -> FATAL on its session", sendlat, ncut, fr);
	pct("revoke HTTP round trip (baseline: includes the durable write)", httplat, ncut, hr);
	printf("RESULT gw_hold_revoke open=%d cuts=%d fatal_p50_ms=%.2f fatal_p99_ms=%.2f fatal_max_ms=%.2f http_p50_ms=%.2f http_p99_ms=%.2f http_max_ms=%.2f\n",
	       n, ncut, fr[0], fr[1], fr[2], hr[0], hr[1], hr[2]);
	if (nsplit > 0) {
		double cr[3] = {0}, rr[3] = {0}, wc = wcommits[worst], wm = wcommit_ms[worst],
		       wr = wrest[worst], ncommits = 0;

		for (int i = 0; i < nsplit; i++)
			ncommits += wcommits[i];
		printf("split of each revoke (GW_HOLD_SPLIT=0 turns it off): %.1f engine "
		       "commits per revoke window on average\n", ncommits / nsplit);
		pct("  engine commit time in the window (BEGIN..COMMIT, fsync included)",
		    wcommit_ms, nsplit, cr);
		pct("  the rest of the HTTP answer (HTTP, queueing, scheduling)", wrest, nsplit, rr);
		printf("  slowest revoke: HTTP %.2f ms = %.0f commits taking %.2f ms + %.2f ms else\n",
		       worst_http, wc, wm, wr);
		printf("RESULT gw_hold_split revokes=%d commits_per_revoke=%.2f commit_p50_ms=%.2f "
		       "commit_p99_ms=%.2f rest_p50_ms=%.2f rest_p99_ms=%.2f worst_http_ms=%.2f "
		       "worst_commits=%.0f worst_commit_ms=%.2f worst_rest_ms=%.2f\n",
		       nsplit, ncommits / nsplit, cr[0], cr[1], rr[0], rr[1], worst_http, wc, wm, wr);
	}

	/* none of the N may have been cut meanwhile */
	for (;;) {
		int k = epoll_wait(ep, ev, 256, 0);

		if (k <= 0)
			break;
		for (int i = 0; i < k; i++)
			if (h_feed(&cs[ev[i].data.u32]) < 0)
				bad++;
	}
	if (bad) {
		fprintf(stderr, "%d held sessions were cut\n", bad);
		return 1;
	}
	printf("all %d held sessions still open\n", n);
	return 0;
}

static double wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmpll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static int expire(const char *cutfile)
{
	enum { MAXN = 20000 };
	static char subj[MAXN][32], tok[MAXN][96];
	static long long at[MAXN], sorted[MAXN];
	static double late[MAXN];
	struct hconn *cs = calloc(MAXN, sizeof(*cs));
	struct epoll_event ev[256];
	int ep = epoll_create1(0), n = 0;
	int cut = 0, distinct = 0, biggest = 0;
	long long last;
	char id[64];
	FILE *cf = fopen(cutfile, "r");

	if (!cf || !cs || ep < 0)
		die(cutfile);
	while (n < MAXN && fscanf(cf, "%31s %95s %63s %lld", subj[n], tok[n],
				  id, &at[n]) == 4)
		n++;
	fclose(cf);
	memcpy(sorted, at, sizeof(*at) * (size_t)n);
	qsort(sorted, (size_t)n, sizeof(*sorted), cmpll);
	for (int i = 0, run = 0; i < n; i++) {
		bool same = i > 0 && sorted[i] == sorted[i - 1];

		distinct += !same;
		run = same ? run + 1 : 1;
		if (run > biggest)
			biggest = run;
	}
	if (open_all(ep, cs, n, NULL, NULL, subj, tok) != 0)
		return 1;
	last = sorted[n - 1];
	printf("%d sessions open, %.0f ms before the first expires_at; %d "
	       "distinct expires_at over %lld ms, up to %d sessions on the "
	       "same instant\n", n, sorted[0] - wall_ms(), distinct,
	       last - sorted[0], biggest);
	fflush(stdout);
	if (wall_ms() >= sorted[0]) {
		fprintf(stderr, "the first grant expired before all sessions "
			"were open: use a longer DURATION\n");
		return 1;
	}
	while (cut < n) {
		int k = epoll_wait(ep, ev, 256, (int)(last + 10000 - wall_ms()));
		double t = wall_ms();

		if (k <= 0) {
			fprintf(stderr, "%d of %d sessions not cut within 10 s "
				"of expiry\n", n - cut, n);
			return 1;
		}
		for (int i = 0; i < k; i++) {
			uint32_t j = ev[i].data.u32;

			if (h_feed(&cs[j]) == 0)
				continue; /* not the FATAL yet */
			epoll_ctl(ep, EPOLL_CTL_DEL, cs[j].fd, NULL);
			close(cs[j].fd);
			late[cut++] = t - (double)at[j];
			if (t < (double)at[j]) {
				fprintf(stderr, "session of %s cut %.1f ms before "
					"its grant expired\n", subj[j],
					(double)at[j] - t);
				return 1;
			}
		}
	}
	{
		double r[3] = {0};

		pct("FATAL after expires_at", late, cut, r);
		printf("RESULT gw_expire sessions=%d cut=%d distinct_expires_at=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
		       n, cut, distinct, r[0], r[1], r[2]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && strcmp(argv[1], "respond") == 0)
		return respond(atoi(argv[2]));
	if (argc == 7 && strcmp(argv[1], "hold") == 0) {
		gw_port = atoi(argv[2]);
		return hold(atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argv[6]);
	}
	if (argc == 4 && strcmp(argv[1], "fsync") == 0)
		return fsync_probe(argv[2], atoi(argv[3]));
	if (argc == 4 && strcmp(argv[1], "expire") == 0) {
		gw_port = atoi(argv[2]);
		return expire(argv[3]);
	}
	fprintf(stderr, "usage: gw_hold respond PORT | hold GWPORT HTTPPORT "
			"DAEMON_PID N CUTFILE | expire GWPORT CUTFILE | fsync DIR COUNT\n");
	return 2;
}
