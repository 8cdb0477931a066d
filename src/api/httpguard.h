/* The HTTP connection guard: every connection must deliver a complete
 * request head within limits.header_timeout of opening (and, on a kept-
 * alive connection, of its previous request finishing).  libmicrohttpd's
 * own timeout only counts inactivity, so a client sending one byte every
 * few seconds (slowloris) would hold its connection for ever; the guard's
 * thread shuts such sockets down instead, and libmicrohttpd then closes
 * them as it would any connection the peer dropped.
 *
 * Wire it with MHD_OPTION_NOTIFY_CONNECTION (httpguard_notify, the guard
 * as closure); call httpguard_head_done when the access handler first sees
 * a request and httpguard_request_done from the completion callback.
 *
 * Near the connection limit (three quarters of max_conns open) a
 * connection that has not sent its head within HTTPGUARD_PRESSURE_HEAD_MS
 * is shut down too: a slowloris spread over many addresses would otherwise
 * hold every slot until header_timeout, while a real client sends its head
 * in milliseconds. */
#ifndef JG_API_HTTPGUARD_H
#define JG_API_HTTPGUARD_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define HTTPGUARD_TICK_MS 200           /* how often deadlines are checked */
#define HTTPGUARD_PRESSURE_HEAD_MS 1000 /* the head deadline near the limit */

struct httpguard;

int httpguard_new(int64_t header_timeout_ms, size_t max_conns,
		  struct httpguard **out) JG_WUR;
/* Call after MHD_stop_daemon (no connection is left then). */
void httpguard_free(struct httpguard *g);
/* A reload changed limits.header_timeout: heads awaited from now on (new
 * connections, the next request of a kept-alive one) get the new
 * deadline; a head already awaited keeps the one it was given. */
void httpguard_set_timeout(struct httpguard *g, int64_t header_timeout_ms);

void httpguard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		      enum MHD_ConnectionNotificationCode code);
void httpguard_head_done(struct httpguard *g, struct MHD_Connection *c);
void httpguard_request_done(struct httpguard *g, struct MHD_Connection *c);

#endif
