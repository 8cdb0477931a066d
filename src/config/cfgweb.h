/* The web: section (design section 10): the browser's sign-in and
 * sessions.  Read by config.c; kept apart because it is its own concern. */
#ifndef JG_CONFIG_CFGWEB_H
#define JG_CONFIG_CFGWEB_H

#include "config/cfgval.h"
#include "config/config.h"

/* Reads mapping m into w (defaults for what is absent).  The oidc section
 * must already be read: oidc_client_id needs it. */
int cfgweb_read(struct cfgval_ctx *c, const struct ytree *m,
		const struct oidc_cfg *oidc, struct web_cfg *w) JG_WUR;
/* Defaults when the file has no web: section. */
void cfgweb_defaults(struct web_cfg *w);
void cfgweb_free(struct web_cfg *w);

#endif
