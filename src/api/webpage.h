/* Pages the server writes itself rather than the app: where the browser
 * lands on a server URL (/auth/callback) and no script of the app runs,
 * an error must still be a page a person can read and act on, in the
 * app's look (/ui/app.css), under the same CSP (no inline script or
 * style).  Every text given is HTML-escaped here; callers pass plain
 * text. */
#ifndef JG_API_WEBPAGE_H
#define JG_API_WEBPAGE_H

#include <microhttpd.h>

/* An error page: title, message, an optional hint (NULL: none) and a
 * link labelled action to href (a path of this site, escaped here as
 * well).  NULL when out of memory; caller frees. */
char *webpage_error_html(const char *title, const char *message, const char *hint,
			 const char *action, const char *href);

/* html (taken, freed also on failure) as a text/html answer with the
 * UI's security headers; NULL when out of memory. */
struct MHD_Response *webpage_response(char *html);

#endif
