#include "api/webpage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/webui.h"
#include "util/xmlout.h"

char *webpage_error_html(const char *title, const char *message, const char *hint,
			 const char *action, const char *href)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	fputs("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"color-scheme\" content=\"light dark\">\n"
	      "<meta name=\"referrer\" content=\"no-referrer\">\n<title>", f);
	xml_put(title, f);
	fputs(" · jitgate</title>\n"
	      "<link rel=\"icon\" href=\"/ui/icon.svg\" type=\"image/svg+xml\">\n"
	      "<link rel=\"stylesheet\" href=\"/ui/app.css\">\n</head>\n<body>\n"
	      "<header class=\"top\"><a class=\"brand\" href=\"/\">jitgate</a></header>\n"
	      "<main id=\"main\"><div class=\"signin panel\">\n<h1>", f);
	xml_put(title, f);
	fputs("</h1>\n<p class=\"notice bad\" role=\"alert\">", f);
	xml_put(message, f);
	fputs("</p>\n", f);
	if (hint != NULL) {
		fputs("<p class=\"muted\">", f);
		xml_put(hint, f);
		fputs("</p>\n", f);
	}
	fputs("<p><a class=\"button primary\" href=\"", f);
	xml_put(href, f);
	fputs("\">", f);
	xml_put(action, f);
	fputs("</a></p>\n</div></main>\n</body>\n</html>\n", f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

struct MHD_Response *webpage_response(char *html)
{
	struct MHD_Response *r;

	if (html == NULL)
		return NULL;
	r = MHD_create_response_from_buffer(strlen(html), html, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(html);
		return NULL;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
	webui_security_headers(r);
	return r;
}
