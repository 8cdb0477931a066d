/* The HTTP API's accept loop.  libmicrohttpd's own accept, in its thread
 * pool, spins when the process is out of descriptors: a worker that holds
 * no connection never pauses on EMFILE (it only sets its at-limit flag
 * when it has connections), so the listening socket stays readable and
 * that worker loops on epoll_wait + accept4 at full CPU.  This thread
 * accepts instead and hands each connection to libmicrohttpd
 * (MHD_add_connection, which applies the connection and per-address
 * limits); at EMFILE/ENFILE it spends a reserve descriptor to answer the
 * waiting connections 503 and pauses accepting for a moment, like the
 * gateway's listener (design section 9). */
#ifndef JG_API_HTTPACCEPT_H
#define JG_API_HTTPACCEPT_H

#include "util/err.h"

struct MHD_Daemon;
struct httpaccept;

/* Starts accepting on listen_fd (non-blocking, owned from here on: closed
 * by httpaccept_stop, or on failure) into d. */
int httpaccept_start(int listen_fd, struct MHD_Daemon *d,
		     struct httpaccept **out) JG_WUR;
/* Stops accepting and closes the listening socket; NULL is a no-op. */
void httpaccept_stop(struct httpaccept *h);

#endif
