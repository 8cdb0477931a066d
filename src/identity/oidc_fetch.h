/* HTTP side of OIDC: discovery and JWKS download with libcurl.  https only,
 * except http:// to a loopback address (local IdPs, tests); redirects are
 * never followed; every fetch has timeouts and a size limit. */
#ifndef JG_IDENTITY_OIDC_FETCH_H
#define JG_IDENTITY_OIDC_FETCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define OIDC_DISCOVERY_MAX (64 * 1024)  /* bytes of a discovery document */
#define OIDC_FETCH_TIMEOUT_MS 10000
#define OIDC_CONNECT_TIMEOUT_MS 5000

/* True when url may be fetched: https://, or http:// with a loopback host
 * (127.0.0.0/8, ::1, localhost). */
bool oidc_url_allowed(const char *url);

/* GETs url; on HTTP 200 returns the body (NUL-terminated, at most max
 * bytes, caller frees) and the Cache-Control max-age in seconds (-1 when
 * absent; 0 for no-cache/no-store).  abort_flag, when not NULL, is polled
 * so a shutdown does not wait for the timeout.  err gets a message. */
int oidc_http_get(const char *url, size_t max, const atomic_bool *abort_flag,
		  char **body, size_t *len, int64_t *max_age_s, char *err,
		  size_t errlen) JG_WUR;

/* POSTs form (application/x-www-form-urlencoded) to url under the same
 * rules as oidc_http_get; with user, HTTP Basic authentication.  Any HTTP
 * status is returned in *status with its body (caller frees *body). */
int oidc_http_post(const char *url, const char *form, const char *user, const char *pass,
		   size_t max, const atomic_bool *abort_flag, long *status, char **body,
		   size_t *len, char *err, size_t errlen) JG_WUR;

/* Reads ISSUER/.well-known/openid-configuration, checks that its issuer is
 * exactly ours and returns its jwks_uri (caller frees). */
int oidc_discover_jwks_uri(const char *issuer, const atomic_bool *abort_flag,
			   char **jwks_uri, char *err, size_t errlen) JG_WUR;

#endif
