/* selftest: (design section 11): the identity and resources `jitgate
 * selftest` works with against a live deployment. */
#ifndef JG_CONFIG_CFGSELFTEST_H
#define JG_CONFIG_CFGSELFTEST_H

#include "config/cfgval.h"
#include "config/config.h"

/* Reads the selftest: mapping m (resources must be read already: the
 * names are checked against them) into cfg->selftest. */
int cfgselftest_read(struct cfgval_ctx *c, const struct ytree *m,
		     struct config *cfg) JG_WUR;
void cfgselftest_free(struct selftest_cfg *s);

#endif
