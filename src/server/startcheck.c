#include "server/startcheck.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway.h"
#include "identity/oidc_fetch.h"
#include "store/store.h"
#include "util/netaddr.h"

/* SHA-256 of the file, recorded with config.loaded so the audit log says
 * exactly which policy was in force. */
static void file_digest(const char *path, char out[SHA256_HEX_LEN + 1])
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;

	snprintf(out, SHA256_HEX_LEN + 1, "unknown");
	if (f == NULL)
		return;
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (buf) {
		n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
		crypto_sha256_hex(buf, n, out);
	}
	free(buf);
	fclose(f);
}

/* Whether two listeners would take the same port (the same address, or a
 * wildcard of the same family). */
static bool collide(const char *x, const char *y)
{
	struct netaddr a, b;

	if (netaddr_parse(x, 1, &a, NULL, 0) != JG_OK ||
	    netaddr_parse(y, 1, &b, NULL, 0) != JG_OK || a.ss.ss_family != b.ss.ss_family)
		return false;
	if (a.ss.ss_family == AF_INET) {
		const struct sockaddr_in *p = (const void *)&a.ss, *q = (const void *)&b.ss;

		return p->sin_port == q->sin_port &&
		       (p->sin_addr.s_addr == q->sin_addr.s_addr ||
			p->sin_addr.s_addr == htonl(INADDR_ANY) ||
			q->sin_addr.s_addr == htonl(INADDR_ANY));
	}
	const struct sockaddr_in6 *p = (const void *)&a.ss, *q = (const void *)&b.ss;

	return p->sin6_port == q->sin6_port &&
	       (memcmp(&p->sin6_addr, &q->sin6_addr, sizeof(p->sin6_addr)) == 0 ||
		IN6_IS_ADDR_UNSPECIFIED(&p->sin6_addr) ||
		IN6_IS_ADDR_UNSPECIFIED(&q->sin6_addr));
}

static int check(const struct config *cfg, char *err, size_t errlen)
{
	const char *where = cfg->path ? cfg->path : "config";

	if (!store_url_supported(cfg->storage)) {
		snprintf(err, errlen, "%s: storage: this build has no backend for that URL "
			 "(sqlite:PATH, postgresql://...)", where);
		return JG_ERR_INVALID;
	}
	if (cfg->oidc.enabled && !oidc_url_allowed(cfg->oidc.issuer)) {
		snprintf(err, errlen, "%s: oidc.issuer must be an https:// URL "
			 "(http:// only on loopback)", where);
		return JG_ERR_INVALID;
	}
	if (cfg->oidc.enabled && cfg->oidc.jwks_uri && !oidc_url_allowed(cfg->oidc.jwks_uri)) {
		snprintf(err, errlen, "%s: oidc.jwks_uri must be an https:// URL "
			 "(http:// only on loopback)", where);
		return JG_ERR_INVALID;
	}
	if (cfg->gateway.enabled && collide(cfg->listen, cfg->gateway.postgres_listen)) {
		snprintf(err, errlen, "%s: gateway.postgres_listen %s takes the port of listen %s",
			 where, cfg->gateway.postgres_listen, cfg->listen);
		return JG_ERR_INVALID;
	}
	if (cfg->gateway.enabled && cfg->gateway.tls_cert) {
		char why[400];

		if (gateway_tls_check(cfg, why, sizeof(why)) != JG_OK) {
			snprintf(err, errlen, "%s: %s", where, why);
			return JG_ERR_INVALID;
		}
	}
	return JG_OK;
}

int startcheck_load(const char *path, struct config **out,
		    char digest[SHA256_HEX_LEN + 1], char *err, size_t errlen)
{
	struct config *cfg = NULL;
	int rc;

	*out = NULL;
	rc = config_load(path, &cfg, err, errlen);
	if (rc != JG_OK)
		return rc;
	rc = check(cfg, err, errlen);
	if (rc != JG_OK) {
		config_free(cfg);
		return rc;
	}
	file_digest(path, digest);
	*out = cfg;
	return JG_OK;
}
