/* Serves the web UI (design section 10): "/" and "/ui/..." from the files
 * compiled into the binary, with the page's security headers.  The app
 * itself holds no data: everything it shows comes from the API with the
 * caller's session. */
#ifndef JG_API_WEBUI_H
#define JG_API_WEBUI_H

#include <microhttpd.h>

/* The Content-Security-Policy of every UI answer. */
#define WEBUI_CSP                                                                  \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " \
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " \
	"form-action 'self'; frame-ancestors 'none'"

/* Adds the page's security headers (CSP, nosniff, no framing, no
 * referrer) to r: every HTML or asset answer carries them. */
void webui_security_headers(struct MHD_Response *r);

/* For a GET (or HEAD) of url: the answer and its status when url is the UI's ("/",
 * "/ui/..."), NULL otherwise.  A path under /ui/ without a file extension
 * is one of the app's pages and gets index.html (the app routes in the
 * browser); an unknown file is 404.  Honours If-None-Match (304) and
 * Accept-Encoding: gzip.  The caller queues and destroys the answer. */
struct MHD_Response *webui_response(struct MHD_Connection *mhd, const char *url,
				    int *status);

#endif
