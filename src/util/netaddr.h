/* Numbers and socket addresses as operators write them: the one parser for
 * decimal numbers with bounds and for "ADDRESS:PORT" listeners, used by the
 * config loader, the HTTP API and the gateway.
 *
 * A listener address is numeric: "127.0.0.1:8700", "0.0.0.0:8700",
 * "[::1]:8700", "[::]:8700".  Host names (also "localhost") are refused: a
 * listener binds an address, and a name that resolves differently tomorrow
 * would silently move it. */
#ifndef JG_UTIL_NETADDR_H
#define JG_UTIL_NETADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/err.h"

/* Longest text form: "[" IPv6 "]:65535". */
#define NETADDR_TEXT_MAX 56

struct netaddr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Parses the len bytes at s as a plain decimal number (digits only, no
 * sign, no spaces, no leading zero unless the number is 0) within lo..hi.
 * JG_ERR_INVALID otherwise, with *out 0. */
int num_parse_u64(const char *s, size_t len, uint64_t lo, uint64_t hi,
		  uint64_t *out) JG_WUR;

/* Parses "IPV4:PORT" or "[IPV6]:PORT" with PORT in min_port..65535.  On
 * failure returns JG_ERR_INVALID and, when why is not NULL, says what is
 * wrong (never echoing more than the input's shape). */
int netaddr_parse(const char *s, unsigned min_port, struct netaddr *out,
		  char *why, size_t whylen) JG_WUR;

/* Binds a listening TCP socket on a: non-blocking, close-on-exec,
 * IPV6_V6ONLY for IPv6, and never SO_REUSEPORT, so a second process cannot
 * bind the same address (SO_REUSEADDR is set: on Linux it only lets a
 * restarted daemon rebind over connections left in TIME_WAIT, never next
 * to a live listener).  On failure *fd is -1 and err names the address and
 * the system's reason ("address in use"). */
int netaddr_listen(const struct netaddr *a, int backlog, int *fd, char *err,
		   size_t errlen) JG_WUR;

/* Writes sa as "1.2.3.4:5" or "[::1]:5" into buf. */
void netaddr_format(const struct sockaddr *sa, char *buf, size_t len);

/* Writes the host of sa ("1.2.3.4", "::1"), without the port, into buf
 * (at least INET6_ADDRSTRLEN bytes); "unknown" for another family.  IPv4
 * is formatted by hand, the same text as inet_ntop: this runs for every
 * authenticated HTTP request. */
void netaddr_host(const struct sockaddr *sa, char *buf, size_t len);

/* The port a bound socket listens on, or -1. */
int netaddr_local_port(int fd);

/* Writes a form of url that is safe to log or echo: the scheme, host and
 * port only ("postgresql://db.example:5432/..."); user names, passwords,
 * paths (a webhook's path is its secret) and queries are left out.  Text
 * without "://" is written as "(not a URL)". */
void netaddr_url_redact(const char *url, char *buf, size_t len);

/* Running out of descriptors (EMFILE) on a listening socket: a waiting
 * connection stays readable, so a loop would fire again at once.  A
 * reserve descriptor opened ahead (netaddr_reserve_open: /dev/null, -1
 * when it cannot) is closed to accept up to max waiting connections on
 * lfd, each handed to answer (which must close it) so the client learns
 * why, and then opened again.  Returns how many were answered; 0 without
 * a reserve. */
int netaddr_reserve_open(void);
unsigned netaddr_shed(int lfd, int *reserve, unsigned max,
		      void (*answer)(int fd, void *arg), void *arg);

#endif
