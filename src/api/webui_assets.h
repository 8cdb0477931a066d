/* The web UI's files, compiled in from src/web/ by cmake/web_assets.py
 * into the generated web_assets.c.  Read-only, static storage. */
#ifndef JG_API_WEBUI_ASSETS_H
#define JG_API_WEBUI_ASSETS_H

#include <stddef.h>

struct webui_asset {
	const char *path;         /* "/" for index.html, else "/ui/NAME" */
	const char *content_type;
	const char *etag;         /* strong, quoted */
	const char *etag_gz;      /* the same for the gzip encoding */
	const unsigned char *data;
	size_t len;
	const unsigned char *gz;  /* gzip of data, NULL when not smaller */
	size_t gz_len;
};

extern const struct webui_asset webui_assets[];
extern const size_t webui_nassets;

#endif
