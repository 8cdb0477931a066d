/* Resources and policies sections of the config (see config.c for the
 * rest).  Both fill cfg in place; on error cfg is left for config_free. */
#ifndef JG_CONFIG_CFGRULES_H
#define JG_CONFIG_CFGRULES_H

#include "config/cfgval.h"
#include "config/config.h"
#include "config/ytree.h"

int cfgrules_read_resources(struct cfgval_ctx *c, const struct ytree *v,
			    struct config *cfg) JG_WUR;
/* Needs the resources read first: policies are checked against them. */
int cfgrules_read_policies(struct cfgval_ctx *c, const struct ytree *v,
			   struct config *cfg) JG_WUR;

#endif
