/* The audit hash chain (design section 5): sealing events as they are
 * appended, and verifying a JSON-lines export offline.
 *
 * Every event carries seq (1, 2, ...), prev (the previous event's hash, or
 * AUDIT_GENESIS_PREV for seq 1) and hash = lowercase hex SHA-256 of the
 * event without its "hash" member in RFC 8785 canonical JSON (audit/canon.h).
 * docs/audit.md describes the format and what verification proves. */
#ifndef JG_AUDIT_CHAIN_H
#define JG_AUDIT_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "util/err.h"

#define AUDIT_HASH_HEX_LEN 64
#define AUDIT_GENESIS_PREV \
	"0000000000000000000000000000000000000000000000000000000000000000"
/* Longest export line accepted by the verifier, newline excluded. */
#define AUDIT_LINE_MAX (1024u * 1024)
#define AUDIT_REASON_LEN 192

/* Seals event for appending after the event whose hash is prev_hex (use
 * AUDIT_GENESIS_PREV for seq 1): sets "prev", drops any "hash", hashes the
 * canonical form and stores the result as "hash" and in hash_out.
 * The event must already carry what the verifier requires (seq >= 1,
 * RFC 3339 time, an action that core/actions.h knows, actor, and correctly
 * typed optional fields), so a
 * writer bug fails here instead of producing a log that never verifies.
 * JG_ERR_INVALID otherwise (event may then hold the new prev but no hash).
 * prev_hex may point into hash_out.  The caller keeps ownership of event. */
int audit_event_seal(json_t *event, const char *prev_hex,
		     char hash_out[AUDIT_HASH_HEX_LEN + 1]) JG_WUR;

/* Streaming verifier for a JSON-lines export, one event per line, starting
 * at seq 1.  Memory use does not depend on the length of the export. */
struct audit_verifier;

struct audit_verify_result {
	bool ok;          /* every line fed so far verified (and the head matched) */
	uint64_t count;   /* events that verified */
	int64_t head_seq; /* seq of the last event that verified, 0 if none */
	/* hash of the last event that verified; AUDIT_GENESIS_PREV if none, so
	 * it is always what the next event's prev must be */
	char head[AUDIT_HASH_HEX_LEN + 1];
	uint64_t bad_line; /* 1-based line of the first failure, 0 if ok */
	int64_t bad_seq;   /* seq claimed on that line if readable, else 0 */
	char reason[AUDIT_REASON_LEN];
};

/* *out is NULL on entry; owned by the caller, release with _free. */
int audit_verifier_new(struct audit_verifier **out) JG_WUR;
void audit_verifier_free(struct audit_verifier *v);

/* Records a head known from elsewhere (GET /v1/audit/verify at some time,
 * or noted by an operator): the export must then contain seq and that event
 * must hash to hash_hex.  Without it truncation after the last exported
 * event cannot be detected.  Call before feeding; JG_ERR_INVALID for seq < 1
 * or a hash that is not 64 lowercase hex digits. */
int audit_verifier_expect_head(struct audit_verifier *v, int64_t seq,
			       const char *hash_hex) JG_WUR;

/* Verifies the next line (without its '\n'; a trailing '\r' or other JSON
 * whitespace is tolerated).  0 if it verified; after the first failure every
 * call fails with the same code and the result keeps the first failure:
 * JG_ERR_TOOBIG (line over AUDIT_LINE_MAX), JG_ERR_PARSE (not JSON, or
 * duplicate keys), JG_ERR_INVALID (anything else). */
int audit_verifier_feed_line(struct audit_verifier *v, const char *line,
			     size_t len) JG_WUR;

/* The verdict on everything fed so far, taken as the whole export: this is
 * where an expected head beyond the last line is reported as truncation. */
void audit_verifier_result(const struct audit_verifier *v,
			   struct audit_verify_result *out);

/* Verifies the JSON-lines export in f (a final '\n' is optional) and fills
 * out.  0 if it verified, JG_ERR_IO if f could not be read, otherwise the
 * code of the first failure (out->reason says why). */
int audit_verify_file(FILE *f, struct audit_verify_result *out) JG_WUR;

/* Same with a known head (seq 0 and hash NULL for none). */
int audit_verify_file_head(FILE *f, int64_t head_seq, const char *head_hash,
			   struct audit_verify_result *out) JG_WUR;

/* The one-line report `jitgate audit verify` prints:
 * "ok: N events, head HASH" or "FAIL at line L (seq S): REASON". */
void audit_verify_result_format(const struct audit_verify_result *r,
				char *buf, size_t len);

#endif
