#include "cli/cli_http.h"

#include <curl/curl.h>

#include "cli/cli_sse.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/netaddr.h"

/* An error body of a streamed request is small; anything longer is cut. */
#define ERR_BODY_MAX (64 * 1024)

struct cli_http {
	CURL *curl;
	char *base;                 /* "http://host:port", no trailing '/' */
	/* Both lists hold the Authorization header; the second adds
	 * Content-Type for requests with a body. */
	struct curl_slist *headers;
	struct curl_slist *headers_json;
};

/* Response body being received. */
struct sink {
	char *buf;
	size_t len, cap, max;
	FILE *stream;   /* when set, 2xx bodies go here */
	CURL *curl;
	bool too_big;
	bool write_failed;
	bool stopped; /* an event reader ended the stream on purpose */
};

static void set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

static int global_init(void)
{
	static bool done;

	/* The CLI is single-threaded, so a plain flag is enough. */
	if (!done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return JG_ERR_INTERNAL;
		done = true;
	}
	return JG_OK;
}

static bool token_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > CLI_HTTP_TOKEN_MAX)
		return false;
	/* Visible ASCII only: anything else could split or corrupt the
	 * header line. */
	for (; *t != '\0'; t++) {
		if (*t < 0x21 || *t > 0x7e)
			return false;
	}
	return true;
}

static int normalise_addr(const char *addr, char **out)
{
	const char *scheme = "";
	size_t n;
	char *base;

	*out = NULL;
	if (strlen(addr) == 0 || strlen(addr) > CLI_HTTP_ADDR_MAX)
		return JG_ERR_INVALID;
	for (const char *p = addr; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return JG_ERR_INVALID;
	}
	if (strstr(addr, "://") != NULL) {
		if (strncmp(addr, "http://", 7) != 0 &&
		    strncmp(addr, "https://", 8) != 0)
			return JG_ERR_INVALID;
	} else {
		scheme = "http://";
	}
	if (asprintf(&base, "%s%s", scheme, addr) < 0)
		return JG_ERR_NOMEM;
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	if (strcmp(base, "http:") == 0 || strcmp(base, "https:") == 0) {
		free(base);
		return JG_ERR_INVALID;
	}
	*out = base;
	return JG_OK;
}

/* Frees a header list after wiping its strings: they hold the token. */
static void free_headers(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p != NULL; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static int build_headers(const char *auth, const char *extra,
			 struct curl_slist **out)
{
	const char *lines[] = {"Accept: application/json", auth, extra};
	struct curl_slist *l = NULL, *n;

	*out = NULL;
	for (size_t i = 0; i < 3; i++) {
		if (lines[i] == NULL)
			continue;
		n = curl_slist_append(l, lines[i]);
		if (n == NULL) {
			free_headers(l);
			return JG_ERR_NOMEM;
		}
		l = n;
	}
	*out = l;
	return JG_OK;
}

int cli_http_new(const char *addr, const char *token, struct cli_http **out,
		 char *err, size_t errlen)
{
	struct cli_http *h = NULL;
	char *auth = NULL;
	int rc;

	*out = NULL;
	if ((rc = global_init()) != JG_OK) {
		set_err(err, errlen, "cannot initialise libcurl");
		return rc;
	}
	if (token != NULL && !token_ok(token)) {
		set_err(err, errlen,
			"JITGATE_TOKEN is not a usable bearer token (visible "
			"ASCII, at most 16384 characters)");
		return JG_ERR_INVALID;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return JG_ERR_NOMEM;
	rc = normalise_addr(addr != NULL ? addr : CLI_HTTP_DEFAULT_ADDR, &h->base);
	if (rc != JG_OK) {
		set_err(err, errlen,
			"JITGATE_ADDR must look like http://HOST:PORT or "
			"https://HOST:PORT");
		goto out;
	}
	rc = JG_ERR_NOMEM;
	h->curl = curl_easy_init();
	if (h->curl == NULL)
		goto out;
	if (token != NULL &&
	    asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
		auth = NULL;
		goto out;
	}
	if ((rc = build_headers(auth, NULL, &h->headers)) != JG_OK ||
	    (rc = build_headers(auth, "Content-Type: application/json",
				&h->headers_json)) != JG_OK)
		goto out;
	*out = h;
	h = NULL;
	rc = JG_OK;
out:
	if (auth != NULL) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	cli_http_free(h);
	return rc;
}

void cli_http_free(struct cli_http *h)
{
	if (h == NULL)
		return;
	free_headers(h->headers);
	free_headers(h->headers_json);
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	free(h->base);
	free(h);
}

const char *cli_http_base(const struct cli_http *h)
{
	return h->base;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	long status = 0;

	if (s->stream != NULL) {
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			if (fwrite(ptr, 1, n, s->stream) != n) {
				s->write_failed = true;
				return 0;
			}
			return n;
		}
	}
	if (n > s->max - s->len) {
		s->too_big = true;
		return 0; /* aborts the transfer */
	}
	if (s->len + n + 1 > s->cap) {
		size_t ncap = s->cap == 0 ? 4096 : s->cap;
		char *nb;

		while (ncap < s->len + n + 1)
			ncap *= 2;
		nb = realloc(s->buf, ncap);
		if (nb == NULL)
			return 0;
		s->buf = nb;
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, ptr, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

/* Runs the prepared request; fills status and sink. */
static int perform_with(struct cli_http *h, struct curl_slist *headers,
			curl_write_callback write, void *warg, struct sink *s,
			long *status, char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE] = "";
	CURLcode cc;

	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, write);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, warg);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	/* A redirect would carry the token to wherever it points. */
	curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 CLI_HTTP_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "jitgate-cli");
	s->curl = h->curl;
	cc = curl_easy_perform(h->curl);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, NULL);
	*status = 0;
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
	if (s->too_big) {
		set_err(err, errlen, "response larger than the client accepts");
		return JG_ERR_TOOBIG;
	}
	if (s->write_failed) {
		set_err(err, errlen, "cannot write the output");
		return JG_ERR_IO;
	}
	if (s->stopped)
		return JG_OK; /* the reader had what it wanted */
	if (cc != CURLE_OK) {
		if (err != NULL && errlen > 0) {
			char shown[300];

			/* JITGATE_ADDR may carry user:password@ */
			netaddr_url_redact(h->base, shown, sizeof(shown));
			snprintf(err, errlen, "cannot reach %s: %s", shown,
				 cerr[0] != '\0' ? cerr : curl_easy_strerror(cc));
		}
		return JG_ERR_IO;
	}
	return JG_OK;
}

static int perform(struct cli_http *h, struct curl_slist *headers,
		   struct sink *s, long *status, char *err, size_t errlen)
{
	return perform_with(h, headers, on_data, s, s, status, err, errlen);
}

static int prepare(struct cli_http *h, const char *method, const char *path)
{
	char *url;

	if (path[0] != '/')
		return JG_ERR_INVALID;
	if (asprintf(&url, "%s%s", h->base, path) < 0)
		return JG_ERR_NOMEM;
	curl_easy_reset(h->curl);
	/* CURLOPT_URL copies the string. */
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	free(url);
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
	else
		curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, method);
	return JG_OK;
}

int cli_http_json(struct cli_http *h, const char *method, const char *path,
		  const json_t *body, long *status, json_t **out, char *err,
		  size_t errlen)
{
	struct sink s = {.max = CLI_HTTP_BODY_MAX};
	char *text = NULL;
	int rc;

	*out = NULL;
	*status = 0;
	if ((rc = prepare(h, method, path)) != JG_OK)
		goto out;
	if (body != NULL || strcmp(method, "POST") == 0) {
		/* A POST without arguments still sends a JSON object, so the
		 * server never sees a form-encoded or empty body. */
		text = body != NULL ? json_dumps(body, JSON_COMPACT) : strdup("{}");
		if (text == NULL) {
			rc = JG_ERR_NOMEM;
			goto out;
		}
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	}
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, CLI_HTTP_TIMEOUT_MS);
	rc = perform(h, text != NULL ? h->headers_json : h->headers, &s,
		     status, err, errlen);
	if (rc == JG_OK && s.len > 0)
		*out = json_loadb(s.buf, s.len, 0, NULL);
out:
	free(text);
	free(s.buf);
	return rc;
}

int cli_http_stream(struct cli_http *h, const char *path, FILE *f,
		    long *status, json_t **err_body, char *err, size_t errlen)
{
	struct sink s = {.max = ERR_BODY_MAX, .stream = f};
	int rc;

	*err_body = NULL;
	*status = 0;
	if ((rc = prepare(h, "GET", path)) != JG_OK)
		return rc;
	/* No total timeout: an export takes as long as the log is big.
	 * A stalled server still ends it (under 1 byte/s for 30 s). */
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, 0L);
	curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_TIME, 30L);
	rc = perform(h, h->headers, &s, status, err, errlen);
	if (rc == JG_ERR_TOOBIG && (*status < 200 || *status >= 300))
		rc = JG_OK; /* a cut error body still has its status */
	if (rc == JG_OK && s.len > 0)
		*err_body = json_loadb(s.buf, s.len, 0, NULL);
	free(s.buf);
	return rc;
}

/* ---- Server-Sent Events ---- */

struct sse {
	CURL *curl;
	struct cli_sse parser;
	struct sink sink; /* a non-2xx body, and the outcome */
};

static size_t on_sse(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sse *s = arg;
	size_t n = size * nmemb;
	long status = 0;
	int rc;

	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300)
		return on_data(ptr, size, nmemb, &s->sink);
	rc = cli_sse_feed(&s->parser, ptr, n);
	if (rc == JG_OK)
		return n;
	if (rc == CLI_SSE_STOP)
		s->sink.stopped = true;
	else
		s->sink.too_big = true;
	return 0; /* ends the transfer */
}

int cli_http_events(struct cli_http *h, const char *path, const char *last_event_id,
		    cli_sse_event_fn on_event, void *ctx, long *status, json_t **err_body,
		    char *err, size_t errlen)
{
	struct sse s = {.parser = {.on_event = on_event, .ctx = ctx},
			.sink = {.max = ERR_BODY_MAX}};
	struct curl_slist *hdrs = NULL, *n;
	char *lei = NULL;
	int rc;

	*err_body = NULL;
	*status = 0;
	if ((rc = prepare(h, "GET", path)) != JG_OK)
		return rc;
	rc = JG_ERR_NOMEM;
	for (struct curl_slist *l = h->headers; l; l = l->next) {
		if ((n = curl_slist_append(hdrs, l->data)) == NULL)
			goto out;
		hdrs = n;
	}
	if ((n = curl_slist_append(hdrs, "Accept: text/event-stream")) == NULL)
		goto out;
	hdrs = n;
	if (last_event_id != NULL) {
		if (asprintf(&lei, "Last-Event-ID: %s", last_event_id) < 0) {
			lei = NULL;
			goto out;
		}
		if ((n = curl_slist_append(hdrs, lei)) == NULL)
			goto out;
		hdrs = n;
	}
	/* a stream has no end: only a server gone quiet (no keepalive for a
	 * minute) ends it */
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, 0L);
	curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_TIME, 60L);
	s.curl = h->curl;
	rc = perform_with(h, hdrs, on_sse, &s, &s.sink, status, err, errlen);
	if (rc == JG_ERR_TOOBIG && (*status < 200 || *status >= 300))
		rc = JG_OK;
	if (rc == JG_OK && s.sink.len > 0)
		*err_body = json_loadb(s.sink.buf, s.sink.len, 0, NULL);
out:
	free(lei);
	cli_sse_clear(&s.parser);
	curl_slist_free_all(hdrs);
	free(s.sink.buf);
	return rc;
}
