/* Several `jitgate serve` nodes on one store (design section 12): the
 * store's watch wired to the engine (transitions of other nodes, the
 * deadline lease, being cut off) and to /readyz.  Nothing to do on a store
 * that one process owns (SQLite). */
#ifndef JG_SERVER_NODES_H
#define JG_SERVER_NODES_H

#include <stdatomic.h>

#include "config/config.h"
#include "server/engine.h"
#include "store/store.h"

struct nodes;

/* Call after engine_new and before engine_start.  not_ready is /readyz's
 * reason slot (api_deps.not_ready). */
int nodes_start(struct store *st, struct engine *e, const struct config *cfg,
		_Atomic(const char *) *not_ready, struct nodes **out) JG_WUR;
/* Before the engine is freed: no hook runs after this returns. */
void nodes_stop(struct nodes *n);

#endif
