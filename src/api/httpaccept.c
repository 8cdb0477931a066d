#include "api/httpaccept.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "util/netaddr.h"
#include "util/timeutil.h"

#define ACCEPT_BATCH 64        /* connections taken per wake-up */
#define ACCEPT_PAUSE_MS 100    /* after EMFILE: let connections end */
#define SHED_MAX 64            /* waiting connections answered 503 */
#define LOG_EVERY_MS 10000     /* one line per 10 s at most */

struct httpaccept {
	int lfd;
	int wake[2];           /* httpaccept_stop writes here */
	int reserve_fd;        /* spent to shed connections at EMFILE */
	struct MHD_Daemon *d;
	pthread_t thread;
	/* the log's rate limit (this thread only) */
	int64_t last_log_ms;
	uint64_t errors;
};

#define SHED_BODY \
	"{\"error\":{\"code\":\"unavailable\",\"message\":" \
	"\"out of file descriptors; try again later\"}}\n"
#define SHED_BODY_LEN 86
#define STR_(x) #x
#define STR(x) STR_(x)
static const char SHED_ANSWER[] =
	"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
	"Retry-After: 1\r\nContent-Type: application/json\r\n"
	"Content-Length: " STR(SHED_BODY_LEN) "\r\n\r\n" SHED_BODY;
_Static_assert(sizeof(SHED_BODY) - 1 == SHED_BODY_LEN, "SHED_BODY_LEN");

/* Best effort, never waits (the socket is non-blocking). */
static void answer_503(int fd, void *arg)
{
	(void)arg;
	(void)send(fd, SHED_ANSWER, sizeof(SHED_ANSWER) - 1, MSG_NOSIGNAL);
	close(fd);
}

static void note_error(struct httpaccept *h, int err, unsigned shed)
{
	int64_t now = time_mono_ns() / 1000000;

	h->errors++;
	if (h->last_log_ms != 0 && now - h->last_log_ms < LOG_EVERY_MS)
		return;
	log_warn("http", "accept: %s (%llu times since the last line; %u waiting "
		 "connections answered 503 now)", strerror(err),
		 (unsigned long long)h->errors, shed);
	h->last_log_ms = now;
	h->errors = 0;
}

/* Takes what is waiting; returns the poll timeout for the next turn: -1,
 * or ACCEPT_PAUSE_MS after running out of descriptors. */
static int accept_some(struct httpaccept *h)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(h->lfd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			int err = errno;

			if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR ||
			    err == ECONNABORTED)
				return -1;
			if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
			    err == ENOMEM) {
				/* the waiting connection stays readable: without
				 * a pause this loop would spin */
				note_error(h, err, netaddr_shed(h->lfd, &h->reserve_fd, SHED_MAX,
							    answer_503, NULL));
				return ACCEPT_PAUSE_MS;
			}
			note_error(h, err, 0);
			return -1;
		}
		/* closes fd itself when refused (limits, no memory) */
		(void)MHD_add_connection(h->d, fd, (const struct sockaddr *)&ss, len);
	}
	return -1;
}

static void *accept_main(void *arg)
{
	struct httpaccept *h = arg;
	int timeout = -1;

	for (;;) {
		struct pollfd p[2] = {{.fd = h->wake[0], .events = POLLIN},
				      {.fd = h->lfd, .events = POLLIN}};
		/* paused: only the stop pipe is watched until the timeout */
		int rc = poll(p, timeout < 0 ? 2 : 1, timeout);

		if (rc < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (timeout >= 0 && rc == 0) {
			if (h->reserve_fd < 0)
				h->reserve_fd = netaddr_reserve_open();
			timeout = -1;
			continue;
		}
		if (rc > 0 && (p[1].revents & (POLLIN | POLLERR | POLLHUP)))
			timeout = accept_some(h);
	}
	return NULL;
}

int httpaccept_start(int listen_fd, struct MHD_Daemon *d, struct httpaccept **out)
{
	struct httpaccept *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (h == NULL) {
		close(listen_fd);
		return JG_ERR_NOMEM;
	}
	h->lfd = listen_fd;
	h->d = d;
	h->reserve_fd = netaddr_reserve_open();
	if (pipe2(h->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		if (h->reserve_fd >= 0)
			close(h->reserve_fd);
		close(listen_fd);
		free(h);
		return JG_ERR_IO;
	}
	if (pthread_create(&h->thread, NULL, accept_main, h) != 0) {
		close(h->wake[0]);
		close(h->wake[1]);
		if (h->reserve_fd >= 0)
			close(h->reserve_fd);
		close(listen_fd);
		free(h);
		return JG_ERR_IO;
	}
	*out = h;
	return JG_OK;
}

void httpaccept_stop(struct httpaccept *h)
{
	char b = 0;

	if (h == NULL)
		return;
	while (write(h->wake[1], &b, 1) < 0 && errno == EINTR)
		;
	pthread_join(h->thread, NULL);
	close(h->wake[0]);
	close(h->wake[1]);
	if (h->reserve_fd >= 0)
		close(h->reserve_fd);
	close(h->lfd);
	free(h);
}
