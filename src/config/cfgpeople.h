/* The notify_people: section (design section 13, docs/slack.md): who is
 * told what as a person (requester, approvers, everyone for break-glass),
 * through Slack DMs and/or webhooks, and how long before a grant ends its
 * holder is warned. */
#ifndef JG_CONFIG_CFGPEOPLE_H
#define JG_CONFIG_CFGPEOPLE_H

#include "config/cfgval.h"
#include "config/config.h"
#include "config/ytree.h"

#define CFGPEOPLE_WEBHOOKS_MAX 8
#define CFGPEOPLE_EXPIRING_MAX_S (24 * 3600)
#define CFGPEOPLE_EXPIRING_DEFAULT_S 300

/* Reads the section; slack is the already read slack: section (slack: true
 * needs it). */
int cfgpeople_read(struct cfgval_ctx *c, const struct ytree *v,
		   const struct slack_cfg *slack, struct people_cfg *out) JG_WUR;
void cfgpeople_free(struct people_cfg *p);

#endif
