/* Copying a whole store into an empty one of either backend (design
 * section 12, `jitgate store copy`). */
#ifndef JG_STORE_COPY_H
#define JG_STORE_COPY_H

#include <stdint.h>

#include "store/store.h"

struct store_copy_result {
	int64_t requests, events, outbox, slack_messages;
	int64_t head_seq;
	char head[65];     /* the chain's head hash after the copy */
	char reason[320];  /* why it failed */
};

/* Copies every request (ids kept), every audit event (verbatim, in seq
 * order), every undelivered outbox row and every posted Slack channel
 * message (its channel id and ts) from src into dst in one
 * transaction of dst.  The source chain is verified as it is read (a
 * broken one is not copied: JG_ERR_INVALID) and the copy is verified
 * again afterwards against the same head.  JG_ERR_CONFLICT when dst is
 * not empty.  The key/value cache (IdP keys) is not copied: it refills. */
int store_copy(struct store *src, struct store *dst, struct store_copy_result *out) JG_WUR;

#endif
