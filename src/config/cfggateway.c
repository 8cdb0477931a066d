#include "config/cfggateway.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/netaddr.h"

#define PATH_MAX_STR 4096

static bool dns_name_ok(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-'))
			return false;
		if ((ch == '-' && label == 0) || ++label > 63)
			return false;
	}
	return s[n - 1] != '.' && s[n - 1] != '-';
}

bool cfggateway_address_ok(const char *s)
{
	const char *colon;
	size_t n = strnlen(s, CFGGATEWAY_ADDRESS_MAX + 1);
	uint64_t port;

	if (n > CFGGATEWAY_ADDRESS_MAX || (colon = strrchr(s, ':')) == NULL ||
	    num_parse_u64(colon + 1, strlen(colon + 1), 1, 65535, &port) != JG_OK)
		return false;
	if (s[0] == '[') {
		char ip6[64];
		struct in6_addr a;
		size_t hn = (size_t)(colon - s);

		if (hn < 3 || s[hn - 1] != ']' || hn - 2 >= sizeof(ip6))
			return false;
		memcpy(ip6, s + 1, hn - 2);
		ip6[hn - 2] = '\0';
		return inet_pton(AF_INET6, ip6, &a) == 1;
	}
	return dns_name_ok(s, (size_t)(colon - s));
}

int cfggateway_read(struct cfgval_ctx *c, const struct ytree *m, struct gateway_cfg *g)
{
	static const char *const keys[] = {"postgres_listen", "tls", "public_address", NULL};
	static const char *const tls_keys[] = {"cert", "key", NULL};
	const struct ytree *v[3], *t[2];
	int rc;

	rc = cfgval_fields(c, m, "gateway", keys, v);
	if (rc < 0)
		return rc;
	g->enabled = true;
	if (v[0] == NULL)
		return cfgval_missing(c, m, "gateway", "postgres_listen");
	rc = cfgval_checked(c, v[0], "postgres_listen", cfgval_listen_ok,
			    "ADDRESS:PORT (numeric IPv4, or [IPv6]; port 1..65535)",
			    true, &g->postgres_listen);
	if (rc == JG_OK && v[2] != NULL)
		rc = cfgval_checked(c, v[2], "public_address", cfggateway_address_ok,
				    "HOST:PORT (a DNS name, numeric IPv4 or [IPv6]; "
				    "port 1..65535)",
				    true, &g->public_address);
	if (rc < 0 || v[1] == NULL)
		return rc;
	rc = cfgval_fields(c, v[1], "gateway.tls", tls_keys, t);
	if (rc < 0)
		return rc;
	if (t[0] == NULL)
		return cfgval_missing(c, v[1], "gateway.tls", "cert");
	if (t[1] == NULL)
		return cfgval_missing(c, v[1], "gateway.tls", "key");
	rc = cfgval_str(c, t[0], "cert", PATH_MAX_STR, &g->tls_cert);
	if (rc < 0)
		return rc;
	return cfgval_str(c, t[1], "key", PATH_MAX_STR, &g->tls_key);
}

/* The host of an origin "scheme://host[:port]" (IPv6 with its brackets). */
static bool url_host(const char *url, char *out, size_t cap)
{
	const char *h = strstr(url, "://"), *end;
	size_t n;

	if (h == NULL)
		return false;
	h += 3;
	if (*h == '[')
		end = strchr(h, ']') ? strchr(h, ']') + 1 : NULL;
	else
		end = h + strcspn(h, ":/");
	if (end == NULL || end == h || (n = (size_t)(end - h)) >= cap)
		return false;
	memcpy(out, h, n);
	out[n] = '\0';
	return true;
}

int cfggateway_finish(struct gateway_cfg *g, const struct web_cfg *w)
{
	const char *port;
	char host[CFGGATEWAY_ADDRESS_MAX + 1], addr[2 * CFGGATEWAY_ADDRESS_MAX];

	if (!g->enabled || g->public_address != NULL)
		return JG_OK;
	port = strrchr(g->postgres_listen, ':');
	if (strncmp(g->postgres_listen, "0.0.0.0:", 8) != 0 &&
	    strncmp(g->postgres_listen, "[::]:", 5) != 0) {
		g->public_address = strdup(g->postgres_listen);
		return g->public_address ? JG_OK : JG_ERR_NOMEM;
	}
	if (w->public_url == NULL || !url_host(w->public_url, host, sizeof(host)))
		return JG_OK;
	snprintf(addr, sizeof(addr), "%s%s", host, port);
	if (!cfggateway_address_ok(addr))
		return JG_OK; /* not a host a client can be told; the UI says less */
	g->public_address = strdup(addr);
	return g->public_address ? JG_OK : JG_ERR_NOMEM;
}

void cfggateway_free(struct gateway_cfg *g)
{
	free(g->postgres_listen);
	free(g->tls_cert);
	free(g->tls_key);
	free(g->public_address);
}
