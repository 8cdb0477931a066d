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
/* approvals from approvers must be reachable: with only user: principals,
 * no more approvals than distinct users.  line: the approvals key. */
int cfgrules_check_reachable(struct cfgval_ctx *c, int line, int approvals,
			     const struct principal_list *approvers) JG_WUR;

#endif
