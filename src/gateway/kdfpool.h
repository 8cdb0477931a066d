/* SCRAM key derivation off the gateway loop.  PBKDF2 with an iteration
 * count the upstream chooses costs up to half a second of CPU; computed on
 * the loop it would stall every session.  The loop submits a job, a worker
 * thread computes SaltedPassword, and the job's callback runs back on the
 * loop (woken through an eventfd, so the base needs no libevent threading
 * support).  A job whose session went away is cancelled on the loop: its
 * callback never runs, and the pool frees it when the worker is done. */
#ifndef JG_GATEWAY_KDFPOOL_H
#define JG_GATEWAY_KDFPOOL_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/scram.h"
#include "util/err.h"

#define KDFPOOL_THREADS 2
#define KDFPOOL_QUEUE_MAX 256 /* jobs waiting for a worker */
#define KDFPOOL_NICE 10       /* workers run at this niceness */

struct kdfpool;
struct kdf_job;

/* Runs on the loop thread.  rc is 0 (salted holds SaltedPassword) or
 * negative. */
typedef void (*kdf_done_fn)(void *arg, int rc,
			    const uint8_t salted[SCRAM_KEY_LEN]);

int kdfpool_new(struct event_base *base, size_t nthreads,
		struct kdfpool **out) JG_WUR;
/* Stops and joins the workers (each finishes the job it holds) and frees
 * every job; no callback runs.  Loop thread, or after the loop stopped. */
void kdfpool_free(struct kdfpool *p);
/* Queues a derivation for password (copied, wiped after use).  Loop
 * thread.  JG_ERR_UNAVAILABLE when KDFPOOL_QUEUE_MAX jobs already wait. */
int kdfpool_submit(struct kdfpool *p, const char *password,
		   const struct scram_kdf *kdf, kdf_done_fn done, void *arg,
		   struct kdf_job **out) JG_WUR;
/* Loop thread: the callback of job will not run (its arg may be freed). */
void kdfpool_cancel(struct kdf_job *job);
/* Tests only: while held, workers take no job (a derivation that takes as
 * long as the test wants, without a timing assumption). */
void kdfpool_test_hold(struct kdfpool *p, bool hold);

#endif
