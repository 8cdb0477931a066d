#include "server/nodes.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

#define CUT_OFF_REASON \
	"cut off from the store for longer than stale_after: checks are denied" \
	" and gateway sessions cut until it answers again"

struct nodes {
	struct store *st;
	struct engine *e;
	_Atomic(const char *) *not_ready;
	char node_id[256];
};

static void on_changed(void *ctx, int64_t seq)
{
	struct nodes *n = ctx;

	engine_remote_changed(n->e, seq);
}

static void on_lease(void *ctx, bool held)
{
	struct nodes *n = ctx;

	engine_set_lease(n->e, held);
}

static void on_reachable(void *ctx, bool ok)
{
	struct nodes *n = ctx;

	atomic_store(n->not_ready, ok ? NULL : CUT_OFF_REASON);
	engine_set_reachable(n->e, ok);
}

int nodes_start(struct store *st, struct engine *e, const struct config *cfg,
		_Atomic(const char *) *not_ready, struct nodes **out)
{
	struct store_watch_hooks h = {.changed = on_changed, .lease = on_lease,
				      .reachable = on_reachable};
	struct nodes *n;
	int rc;

	*out = NULL;
	if (!store_shared(st))
		return JG_OK;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return JG_ERR_NOMEM;
	n->st = st;
	n->e = e;
	n->not_ready = not_ready;
	if (cfg->node_id)
		snprintf(n->node_id, sizeof(n->node_id), "%s", cfg->node_id);
	else if (gethostname(n->node_id, sizeof(n->node_id) - 1) != 0 || !n->node_id[0])
		snprintf(n->node_id, sizeof(n->node_id), "jitgate-%ld", (long)getpid());
	/* deadlines are fired by the node that holds the lease */
	engine_set_lease(e, false);
	h.ctx = n;
	rc = store_watch_start(st, n->node_id, cfg->stale_after_s * 1000, &h);
	if (rc != JG_OK) {
		free(n);
		return rc;
	}
	log_info(NULL, "node %s: shared store, stale_after %llds", n->node_id,
		 (long long)cfg->stale_after_s);
	*out = n;
	return JG_OK;
}

void nodes_stop(struct nodes *n)
{
	if (n == NULL)
		return;
	store_watch_stop(n->st);
	free(n);
}
