/* The writing end of the audit hash chain: holds the head (seq and hash of
 * the last event), seals each new event after it (audit_event_seal) and
 * appends it to the store inside the caller's open transaction.
 *
 * One writer per store, used by one thread at a time (the engine's).  If
 * the transaction does not commit, the caller reloads the head from the
 * store (audit_writer_load) before appending again. */
#ifndef JG_AUDIT_WRITER_H
#define JG_AUDIT_WRITER_H

#include <jansson.h>
#include <stdint.h>

#include "audit/chain.h"
#include "core/actions.h"
#include "store/store.h"
#include "util/err.h"

struct audit_writer;

/* What audit_writer_append wrote. */
struct audit_appended {
	int64_t seq;
	enum audit_action action;
	char *text; /* the event as stored (canonical JSON); caller frees */
};

/* *out is NULL on entry; release with audit_writer_free. */
int audit_writer_new(struct audit_writer **out) JG_WUR;
void audit_writer_free(struct audit_writer *w);
/* Reads the head from st (inside a transaction, so that it is the head the
 * next append follows). */
int audit_writer_load(struct audit_writer *w, struct store *st) JG_WUR;
/* Seals ev (stolen) as the event after the head, stamped with now_ms, and
 * appends it to st.  On success the head advances and out is filled; on
 * failure nothing advances and out->text is NULL.  JG_ERR_INVALID for an
 * event the chain would not verify (unknown action, missing actor). */
int audit_writer_append(struct audit_writer *w, struct store *st, json_t *ev,
			int64_t now_ms, struct audit_appended *out) JG_WUR;
/* The head's seq (0 for an empty log). */
int64_t audit_writer_seq(const struct audit_writer *w);
/* The head's hash (AUDIT_GENESIS_PREV for an empty log). */
const char *audit_writer_hash(const struct audit_writer *w);

#endif
