/* The gateway: section (design section 6) and where people reach it
 * (gateway.public_address, shown in the web UI's psql line and the
 * catalog).  Read by config.c; kept apart because it is its own concern. */
#ifndef JG_CONFIG_CFGGATEWAY_H
#define JG_CONFIG_CFGGATEWAY_H

#include <stdbool.h>

#include "config/cfgval.h"
#include "config/config.h"

#define CFGGATEWAY_ADDRESS_MAX 262 /* a 253-byte name, ':', a port */

/* Reads mapping m into g. */
int cfggateway_read(struct cfgval_ctx *c, const struct ytree *m,
		    struct gateway_cfg *g) JG_WUR;
/* Once web: is read: public_address defaults to postgres_listen, or, when
 * that listens on every address (0.0.0.0, [::]), to the host of
 * web.public_url with postgres_listen's port; NULL when neither says. */
int cfggateway_finish(struct gateway_cfg *g, const struct web_cfg *w) JG_WUR;
void cfggateway_free(struct gateway_cfg *g);

/* "HOST:PORT": HOST a DNS name (letters, digits, '-', '.'; labels of
 * 1..63 bytes not starting or ending with '-'), numeric IPv4 or [IPv6];
 * PORT 1..65535; at most CFGGATEWAY_ADDRESS_MAX bytes.  Nothing in it
 * needs quoting in a libpq connection string or a shell. */
bool cfggateway_address_ok(const char *s);

#endif
