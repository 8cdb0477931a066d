/* The slack: section (design section 13): where the signing secret and
 * bot token are (environment variable names, never the values), the API
 * base URL, and the Slack user id -> subject map. */
#ifndef JG_CONFIG_CFGSLACK_H
#define JG_CONFIG_CFGSLACK_H

#include "config/cfgval.h"
#include "config/config.h"
#include "config/ytree.h"

#define CFGSLACK_USERS_MAX 10000

int cfgslack_read(struct cfgval_ctx *c, const struct ytree *v,
		  struct slack_cfg *out) JG_WUR;
void cfgslack_free(struct slack_cfg *s);

/* The subject a Slack user id maps to, or NULL. */
const char *config_slack_subject(const struct config *cfg, const char *slack_id);

#endif
