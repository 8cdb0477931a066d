#include "identity/oidc_fetch.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct fetch_buf {
	char *data;
	size_t len, max;
	bool too_big;
	int64_t max_age_s;
	const atomic_bool *abort_flag;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[64];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n >= 2 && n < sizeof(buf) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

bool oidc_url_allowed(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	bool ok = false;

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, "https") == 0)
		ok = true;
	else if (strcasecmp(scheme, "http") == 0)
		ok = host_is_loopback(host);
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct fetch_buf *b = userdata;
	size_t n = size * nmemb;
	char *p;

	if (n > b->max - b->len) {
		b->too_big = true;
		return 0; /* aborts the transfer */
	}
	p = realloc(b->data, b->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->data = p;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* Picks max-age (or no-cache/no-store → 0) out of a Cache-Control header. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct fetch_buf *b = userdata;
	size_t n = size * nmemb;
	char line[512];
	const char *p;

	if (n < 14 || strncasecmp(ptr, "cache-control:", 14) != 0)
		return n;
	snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) - 1 ? n : sizeof(line) - 1), ptr);
	for (char *c = line; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (strstr(line, "no-cache") || strstr(line, "no-store"))
		b->max_age_s = 0;
	p = strstr(line, "max-age=");
	if (p) {
		long long v = 0;

		p += 8;
		while (isdigit((unsigned char)*p) && v < 100000000)
			v = v * 10 + (*p++ - '0');
		b->max_age_s = v;
	}
	return n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct fetch_buf *b = userdata;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return b->abort_flag && *b->abort_flag;
}

/* One request: GET, or POST of form (with HTTP Basic when user is set).
 * Any HTTP status is returned with its body (NUL-terminated, at most max
 * bytes; caller frees *body). */
static int perform(const char *url, const char *form, const char *user, const char *pass,
		   size_t max, const atomic_bool *abort_flag, struct fetch_buf *b,
		   long *status, char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	CURL *c = NULL;
	CURLcode cc;
	int rc = JG_ERR_UNAVAILABLE;

	*status = 0;
	b->max = max;
	b->max_age_s = -1;
	b->abort_flag = abort_flag;
	pthread_once(&curl_once, curl_init_once);
	if (!oidc_url_allowed(url)) {
		snprintf(err, errlen, "%s: only https (or http to loopback) is allowed", url);
		return JG_ERR_INVALID;
	}
	c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "curl_easy_init failed");
		return JG_ERR_NOMEM;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* the scheme was vetted above; never let curl speak anything else */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)OIDC_FETCH_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)OIDC_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, b);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, b);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "jitgate");
	if (form != NULL) {
		hdrs = curl_slist_append(hdrs, "Accept: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	}
	if (user != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, pass ? pass : "");
	}
	cc = curl_easy_perform(c);
	if (b->too_big) {
		snprintf(err, errlen, "%s: response larger than %zu bytes", url, max);
		rc = JG_ERR_TOOBIG;
	} else if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(cc));
		rc = cc == CURLE_OPERATION_TIMEDOUT ? JG_ERR_TIMEOUT : JG_ERR_UNAVAILABLE;
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		rc = JG_OK;
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return rc;
}

int oidc_http_get(const char *url, size_t max, const atomic_bool *abort_flag,
		  char **body, size_t *len, int64_t *max_age_s, char *err,
		  size_t errlen)
{
	struct fetch_buf b = {0};
	long status = 0;
	int rc;

	*body = NULL;
	*len = 0;
	*max_age_s = -1;
	rc = perform(url, NULL, NULL, NULL, max, abort_flag, &b, &status, err, errlen);
	if (rc != JG_OK)
		goto out;
	rc = JG_ERR_UNAVAILABLE;
	if (status != 200) {
		snprintf(err, errlen, "%s: HTTP status %ld", url, status);
		goto out;
	}
	if (!b.data) {
		snprintf(err, errlen, "%s: empty response", url);
		goto out;
	}
	*body = b.data;
	*len = b.len;
	*max_age_s = b.max_age_s;
	b.data = NULL;
	rc = JG_OK;
out:
	free(b.data);
	return rc;
}

int oidc_http_post(const char *url, const char *form, const char *user, const char *pass,
		   size_t max, const atomic_bool *abort_flag, long *status, char **body,
		   size_t *len, char *err, size_t errlen)
{
	struct fetch_buf b = {0};
	int rc;

	*body = NULL;
	*len = 0;
	rc = perform(url, form, user, pass, max, abort_flag, &b, status, err, errlen);
	if (rc == JG_OK) {
		*body = b.data ? b.data : strdup("");
		*len = b.len;
		b.data = NULL;
		if (*body == NULL)
			rc = JG_ERR_NOMEM;
	}
	free(b.data);
	return rc;
}

int oidc_discover_jwks_uri(const char *issuer, const atomic_bool *abort_flag,
			   char **jwks_uri, char *err, size_t errlen)
{
	char url[2048];
	char *body = NULL;
	size_t len, ilen = strlen(issuer);
	int64_t max_age;
	json_t *doc = NULL, *iss, *uri;
	json_error_t jerr;
	int rc;

	*jwks_uri = NULL;
	/* OIDC Discovery §4: the well-known path is appended after removing
	 * a trailing slash from the issuer. */
	if (ilen > 0 && issuer[ilen - 1] == '/')
		ilen--;
	if ((size_t)snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration",
			     (int)ilen, issuer) >= sizeof(url)) {
		snprintf(err, errlen, "issuer URL too long");
		return JG_ERR_INVALID;
	}
	rc = oidc_http_get(url, OIDC_DISCOVERY_MAX, abort_flag, &body, &len, &max_age,
			   err, errlen);
	if (rc != JG_OK)
		return rc;
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	iss = json_object_get(doc, "issuer");
	uri = json_object_get(doc, "jwks_uri");
	if (!json_is_object(doc) || !json_is_string(iss) || !json_is_string(uri)) {
		snprintf(err, errlen, "%s: not a discovery document with issuer and jwks_uri", url);
		rc = JG_ERR_PARSE;
		goto out;
	}
	/* §4.3: the document must be about exactly the issuer we asked for */
	if (strcmp(json_string_value(iss), issuer) != 0) {
		snprintf(err, errlen, "%s: issuer in the document differs from the configured issuer", url);
		rc = JG_ERR_INVALID;
		goto out;
	}
	if (!oidc_url_allowed(json_string_value(uri))) {
		snprintf(err, errlen, "%s: jwks_uri is neither https nor loopback http", url);
		rc = JG_ERR_INVALID;
		goto out;
	}
	*jwks_uri = strdup(json_string_value(uri));
	rc = *jwks_uri ? JG_OK : JG_ERR_NOMEM;
out:
	json_decref(doc);
	free(body);
	return rc;
}
