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
/* A reload in two steps, so that the swap can wait for something that
 * can fail (the engine's commit of config.loaded): stage does the
 * allocation (cfg owned by *staged from now on; on failure it stays the
 * caller's), publish makes it current and cannot fail; the old config is
 * freed when its last reference goes.  A staged config that is not
 * published is dropped with cfgref_put. */
int cfgholder_stage(struct cfgholder *h, struct config *cfg, struct cfgref **staged) JG_WUR;
void cfgholder_publish(struct cfgholder *h, struct cfgref *staged);

#endif
