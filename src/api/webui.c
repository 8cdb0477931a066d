/* The web UI's files, answered from static storage. */
#include "api/webui.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "api/webui_assets.h"

#define UI_PREFIX "/ui/"
#define UI_PREFIX_LEN (sizeof(UI_PREFIX) - 1)

static const struct webui_asset *find(const char *path)
{
	for (size_t i = 0; i < webui_nassets; i++)
		if (strcmp(webui_assets[i].path, path) == 0)
			return &webui_assets[i];
	return NULL;
}

/* True for the app's own routes: /ui/requests/12, /ui/approvals... (no
 * dot in the last segment, so a missing script is a 404, not HTML). */
static bool is_page(const char *url)
{
	const char *last = strrchr(url, '/');

	return strchr(last, '.') == NULL;
}

/* Whether an Accept-Encoding value admits gzip: the token "gzip" (or "*")
 * not weighted q=0. */
static bool accepts_gzip(const char *ae)
{
	const char *p = ae;

	while (p != NULL && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		size_t tok;

		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		tok = strcspn(p, ";, \t");
		if (tok > n)
			tok = n;
		if ((tok == 4 && strncasecmp(p, "gzip", 4) == 0) || (tok == 1 && *p == '*')) {
			const char *q = memchr(p, ';', n);

			if (q == NULL)
				return true;
			q++;
			while (*q == ' ')
				q++;
			/* "q=0", "q=0.0", "q=0.000" refuse it */
			if (!(strncasecmp(q, "q=0", 3) == 0 &&
			      strspn(q + 3, ".0") == strcspn(q + 3, ", \t")))
				return true;
			return false;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* If-None-Match: "*" or a list that holds our tag (also as W/"..."). */
static bool etag_matches(const char *inm, const char *etag)
{
	const char *p;
	size_t n = strlen(etag);

	if (inm == NULL)
		return false;
	if (strcmp(inm, "*") == 0)
		return true;
	for (p = strstr(inm, etag); p != NULL; p = strstr(p + 1, etag)) {
		char after = p[n];

		if (after == '\0' || after == ',' || after == ' ' || after == '\t')
			return true;
	}
	return false;
}

void webui_security_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Content-Security-Policy", WEBUI_CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
}

static struct MHD_Response *not_found(int *status)
{
	static const char body[] = "not found\n";
	struct MHD_Response *r = MHD_create_response_from_buffer(
		sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);

	if (r == NULL)
		return NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	webui_security_headers(r);
	*status = MHD_HTTP_NOT_FOUND;
	return r;
}

struct MHD_Response *webui_response(struct MHD_Connection *mhd, const char *url,
				    int *status)
{
	const struct webui_asset *a;
	struct MHD_Response *r;
	const char *ae, *inm;
	bool gz;

	if (strcmp(url, "/") == 0)
		a = find("/");
	else if (strncmp(url, UI_PREFIX, UI_PREFIX_LEN) == 0)
		a = find(url);
	else
		return NULL;
	if (a == NULL && is_page(url))
		a = find("/");
	if (a == NULL)
		return not_found(status);

	ae = MHD_lookup_connection_value(mhd, MHD_HEADER_KIND,
					 MHD_HTTP_HEADER_ACCEPT_ENCODING);
	inm = MHD_lookup_connection_value(mhd, MHD_HEADER_KIND,
					  MHD_HTTP_HEADER_IF_NONE_MATCH);
	gz = a->gz != NULL && ae != NULL && accepts_gzip(ae);
	if (etag_matches(inm, a->etag) || etag_matches(inm, a->etag_gz)) {
		/* the client's copy is current, whichever encoding it holds */
		gz = etag_matches(inm, a->etag_gz);
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		*status = MHD_HTTP_NOT_MODIFIED;
	} else {
		r = MHD_create_response_from_buffer(gz ? a->gz_len : a->len,
						    (void *)(gz ? a->gz : a->data),
						    MHD_RESPMEM_PERSISTENT);
		*status = MHD_HTTP_OK;
	}
	if (r == NULL)
		return NULL;
	if (*status == MHD_HTTP_OK) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
		if (gz)
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, gz ? a->etag_gz : a->etag);
	/* revalidate every time: names are not content-hashed, and a 304 is
	 * a few hundred bytes */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	if (a->gz != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	webui_security_headers(r);
	return r;
}
