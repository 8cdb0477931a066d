#include "util/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int num_parse_u64(const char *s, size_t len, uint64_t lo, uint64_t hi,
		  uint64_t *out)
{
	uint64_t v = 0;

	*out = 0;
	if (s == NULL || len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return JG_ERR_INVALID;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return JG_ERR_INVALID;
		v = v * 10 + d;
	}
	if (v < lo || v > hi)
		return JG_ERR_INVALID;
	*out = v;
	return JG_OK;
}

static int refuse(char *why, size_t whylen, const char *msg)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", msg);
	return JG_ERR_INVALID;
}

int netaddr_parse(const char *s, unsigned min_port, struct netaddr *out,
		  char *why, size_t whylen)
{
	char host[INET6_ADDRSTRLEN];
	const char *colon, *h;
	size_t hl;
	uint64_t port;

	memset(out, 0, sizeof(*out));
	if (s == NULL || strlen(s) > NETADDR_TEXT_MAX)
		return refuse(why, whylen, "expected ADDRESS:PORT");
	colon = strrchr(s, ':');
	if (colon == NULL || colon == s)
		return refuse(why, whylen, "expected ADDRESS:PORT");
	if (num_parse_u64(colon + 1, strlen(colon + 1), min_port, 65535, &port) != JG_OK)
		return refuse(why, whylen, min_port ? "the port must be a number 1..65535"
						    : "the port must be a number 0..65535");
	h = s;
	hl = (size_t)(colon - s);
	if (h[0] == '[') {
		if (hl < 3 || h[hl - 1] != ']')
			return refuse(why, whylen, "an IPv6 address is written [ADDRESS]:PORT");
		h++;
		hl -= 2;
		if (hl >= sizeof(host))
			return refuse(why, whylen, "not an IPv6 address");
		memcpy(host, h, hl);
		host[hl] = '\0';
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;

		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return refuse(why, whylen, "not an IPv6 address");
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*a6);
		return JG_OK;
	}
	if (hl >= sizeof(host) || memchr(h, ':', hl) != NULL)
		return refuse(why, whylen, "an IPv6 address is written [ADDRESS]:PORT");
	memcpy(host, h, hl);
	host[hl] = '\0';
	struct sockaddr_in *a4 = (struct sockaddr_in *)&out->ss;

	/* inet_pton takes only the dotted quad: no "1", "0x7f.1", " 1.2.3.4" */
	if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
		memset(out, 0, sizeof(*out));
		return refuse(why, whylen, "the address must be numeric (IPv4 or [IPv6]), "
					   "not a host name");
	}
	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)port);
	out->len = sizeof(*a4);
	return JG_OK;
}

void netaddr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, (unsigned)ntohs(a6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, (unsigned)ntohs(a4->sin_port));
	} else {
		snprintf(buf, len, "(address family %d)", (int)sa->sa_family);
	}
}

void netaddr_host(const struct sockaddr *sa, char *buf, size_t len)
{
	char t[16], *p = t;

	if (sa->sa_family == AF_INET6) {
		if (inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
			      (socklen_t)len) == NULL)
			snprintf(buf, len, "unknown");
		return;
	}
	if (sa->sa_family != AF_INET) {
		snprintf(buf, len, "unknown");
		return;
	}
	for (int i = 0; i < 4; i++) {
		unsigned b = ((const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr)[i];

		if (b >= 100)
			*p++ = (char)('0' + b / 100);
		if (b >= 10)
			*p++ = (char)('0' + b / 10 % 10);
		*p++ = (char)('0' + b % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
	if (len == 0)
		return;
	len = (size_t)(p - t) < len ? (size_t)(p - t) : len; /* with the NUL */
	memcpy(buf, t, len);
	buf[len - 1] = '\0';
}

int netaddr_listen(const struct netaddr *a, int backlog, int *fd, char *err,
		   size_t errlen)
{
	char shown[NETADDR_TEXT_MAX + 8];
	const char *step = "socket";
	int one = 1, s, e;

	*fd = -1;
	netaddr_format((const struct sockaddr *)&a->ss, shown, sizeof(shown));
	s = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		goto fail;
	step = "setsockopt";
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		goto fail;
	if (a->ss.ss_family == AF_INET6 &&
	    setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
		goto fail;
	step = "bind";
	if (bind(s, (const struct sockaddr *)&a->ss, a->len) != 0)
		goto fail;
	step = "listen";
	if (listen(s, backlog) != 0)
		goto fail;
	*fd = s;
	return JG_OK;
fail:
	e = errno;
	if (s >= 0)
		close(s);
	snprintf(err, errlen, "cannot listen on %s: %s: %s", shown, step, strerror(e));
	return JG_ERR_IO;
}

int netaddr_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

void netaddr_url_redact(const char *url, char *buf, size_t len)
{
	const char *sep = url ? strstr(url, "://") : NULL;
	const char *auth, *end, *at;
	size_t schemelen, hostlen;

	if (sep == NULL || sep == url || (size_t)(sep - url) > 16) {
		snprintf(buf, len, "(not a URL)");
		return;
	}
	schemelen = (size_t)(sep - url);
	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	/* userinfo ends at the last '@' before the path */
	at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at != NULL)
		auth = at + 1;
	hostlen = (size_t)(end - auth);
	if (hostlen > 255)
		hostlen = 255;
	snprintf(buf, len, "%.*s://%.*s%s", (int)schemelen, url, (int)hostlen, auth,
		 *end ? "/..." : "");
}

int netaddr_reserve_open(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

unsigned netaddr_shed(int lfd, int *reserve, unsigned max,
		      void (*answer)(int fd, void *arg), void *arg)
{
	unsigned n = 0;

	if (*reserve < 0)
		return 0;
	close(*reserve);
	*reserve = -1;
	while (n < max) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			break;
		answer(fd, arg);
		n++;
	}
	*reserve = netaddr_reserve_open();
	return n;
}
