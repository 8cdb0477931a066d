/* The live config, swapped whole on reload.  Readers take a counted
 * reference for the span of one piece of work, so a reload never frees a
 * config that a thread is still reading. */
#ifndef JG_SERVER_CFGREF_H
#define JG_SERVER_CFGREF_H

#include "config/config.h"

struct cfgref;
struct cfgholder;

/* Takes ownership of cfg. */
int cfgholder_new(struct config *cfg, struct cfgholder **out) JG_WUR;
void cfgholder_free(struct cfgholder *h);
/* A reference to the current config; release it with cfgref_put. */
struct cfgref *cfgholder_get(struct cfgholder *h);
const struct config *cfgref_config(const struct cfgref *r);
void cfgref_put(struct cfgref *r);
/* Makes cfg (owned from now on) current; the old one is freed when its
 * last reference goes. */
int cfgholder_swap(struct cfgholder *h, struct config *cfg) JG_WUR;

#endif
