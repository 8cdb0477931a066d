/* Fan-out of request changes to the live event streams of /v1/events
 * (design section 10).  The engine publishes each durable change (engine
 * thread, never blocks: the change is copied into an inbox); the hub's own
 * thread judges, per stream, whether its subject may see the request (the
 * rule of GET /v1/requests/{id}), renders it once and appends it to each
 * stream's bounded queue.  A stream whose queue is full is dropped (a slow
 * client is disconnected, never buffered without bound).  Heartbeat
 * comments keep idle streams alive.
 *
 * A stream is read by the HTTP layer from MHD's content reader: when the
 * queue is empty, eventhub_read calls the given suspend function under the
 * stream's lock, and the hub calls the wake function (under the same lock)
 * when there is something to send, so no wakeup is ever lost. */
#ifndef JG_API_EVENTHUB_H
#define JG_API_EVENTHUB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/request.h"
#include "identity/auth.h"
#include "server/cfgref.h"
#include "server/metrics.h"
#include "util/err.h"

#define EVENTHUB_QUEUE_MAX (256 * 1024) /* bytes waiting for one stream */
#define EVENTHUB_INBOX_MAX 65536        /* changes waiting for the hub */
#define EVENTHUB_PER_SUBJECT 16         /* open streams of one subject */
#define EVENTHUB_HEARTBEAT_S 15

struct eventhub;
struct eventhub_sub;

/* max_streams bounds open streams in all.  cfg must outlive the hub. */
int eventhub_new(struct cfgholder *cfg, size_t max_streams, struct eventhub **out) JG_WUR;
/* Stops the thread; streams must be gone (eventhub_close_all first). */
void eventhub_free(struct eventhub *h);

/* The engine's request_changed hook (ctx: the hub). */
void eventhub_publish(void *hub, const struct request *r, int64_t seq);

/* Opens a stream for who (copied).  Live changes with seq > after_seq are
 * queued from now on.  JG_ERR_UNAVAILABLE: too many streams in all.  A
 * subject with EVENTHUB_PER_SUBJECT streams open loses its oldest. */
int eventhub_subscribe(struct eventhub *h, const struct authn *who, int64_t after_seq,
		       void (*wake)(void *arg), void *arg, struct eventhub_sub **out) JG_WUR;
/* Ties s to a browser session: it ends with eventhub_end_session(key), or
 * at the first keepalive after until_ms (the session's expiry). */
void eventhub_bind_session(struct eventhub_sub *s, const uint8_t key[32], int64_t until_ms);
/* Ends every stream bound to the session key (logout). */
void eventhub_end_session(struct eventhub *h, const uint8_t key[32]);
/* Puts text (the replay and the ready event) before anything queued and
 * drops queued live changes with seq <= upto (the replay covered them). */
int eventhub_prepend(struct eventhub_sub *s, const char *text, int64_t upto) JG_WUR;
/* Copies up to max bytes of the stream into buf.  0: nothing now, and
 * suspend(arg) was called (the hub will call wake(arg)); -1: the stream
 * was dropped or closed and must end. */
ssize_t eventhub_read(struct eventhub_sub *s, char *buf, size_t max,
		      void (*suspend)(void *arg), void *arg);
/* Closes the stream (the connection is gone). */
void eventhub_unsubscribe(struct eventhub_sub *s);
/* Ends every stream (shutdown): readers get -1. */
void eventhub_close_all(struct eventhub *h);

/* Open streams; streams dropped because their client did not keep up. */
size_t eventhub_streams(struct eventhub *h);
uint64_t eventhub_dropped(struct eventhub *h);

#endif
