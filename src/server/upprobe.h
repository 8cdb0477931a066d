/* Whether the upstream PostgreSQL servers of the postgres resources can be
 * reached: a thread of its own opens (and at once closes) a TCP
 * connection to each, at start and every UPPROBE_INTERVAL_S, and keeps the
 * last result for `/v1/selftest` (design section 11, "upstreams
 * reachable").  It never logs in: no credentials are used and the
 * upstream sees a connection that ends before its startup message. */
#ifndef JG_SERVER_UPPROBE_H
#define JG_SERVER_UPPROBE_H

#include <jansson.h>

#include "server/cfgref.h"
#include "util/err.h"

#define UPPROBE_INTERVAL_S 30
#define UPPROBE_TIMEOUT_MS 3000

struct upprobe;

/* Starts the prober on the live config of h (borrowed). */
int upprobe_start(struct cfgholder *h, struct upprobe **out) JG_WUR;
void upprobe_stop(struct upprobe *p);
/* [{resource, host, port, reachable, error, checked_at}] for the last
 * round, JSON null before the first round ended; a new reference, NULL on
 * no memory. */
json_t *upprobe_json(struct upprobe *p);

#endif
