#include "audit/chain.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "audit/canon.h"
#include "core/actions.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Invariants: once failed is set nothing else changes; head is the hash of
 * event last_seq (or the genesis value while count == 0); count == last_seq
 * because an export starts at seq 1 and has no gaps. */
struct audit_verifier {
	uint64_t lines;
	uint64_t count;
	int64_t last_seq;
	char head[AUDIT_HASH_HEX_LEN + 1];

	bool want_head;
	int64_t want_seq;
	char want_hash[AUDIT_HASH_HEX_LEN + 1];

	bool failed;
	int fail_rc;
	uint64_t bad_line;
	int64_t bad_seq;
	char reason[AUDIT_REASON_LEN];
};

static bool is_hash_hex(const char *s)
{
	size_t i;

	for (i = 0; i < AUDIT_HASH_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

static void set_reason(char *buf, size_t len, const char *fmt, ...) JG_PRINTF(3, 4);
static void set_reason(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* The shape every event must have, shared by the writer (seal) and the
 * verifier so that nothing is sealed that would not verify.  seq is checked
 * by the caller, which needs its value; hash only when need_hash.  An
 * optional member may be null: it is hashed like any value, and writers
 * that fill a fixed set of members should not fail closed over it. */
static bool check_fields(json_t *ev, bool need_hash, char *why, size_t whylen)
{
	static const char *const required_str[] = {"time", "action", "actor", "prev"};
	static const char *const optional_str[] = {"subject", "resource", "role"};
	const char *name;
	json_t *f;
	int64_t ms;
	size_t i;

	for (i = 0; i < sizeof(required_str) / sizeof(required_str[0]); i++) {
		name = required_str[i];
		f = json_object_get(ev, name);
		if (!f) {
			set_reason(why, whylen, "missing field %s", name);
			return false;
		}
		if (!json_is_string(f) || json_string_length(f) == 0) {
			set_reason(why, whylen, "field %s is not a non-empty string", name);
			return false;
		}
	}
	if (time_parse(json_string_value(json_object_get(ev, "time")), &ms) < 0) {
		set_reason(why, whylen, "field time is not an RFC 3339 UTC time");
		return false;
	}
	if (!is_hash_hex(json_string_value(json_object_get(ev, "prev")))) {
		set_reason(why, whylen, "field prev is not 64 lowercase hex digits");
		return false;
	}
	if (need_hash) {
		f = json_object_get(ev, "hash");
		if (!f) {
			set_reason(why, whylen, "missing field hash");
			return false;
		}
		if (!json_is_string(f) || !is_hash_hex(json_string_value(f))) {
			set_reason(why, whylen, "field hash is not 64 lowercase hex digits");
			return false;
		}
	}
	for (i = 0; i < sizeof(optional_str) / sizeof(optional_str[0]); i++) {
		f = json_object_get(ev, optional_str[i]);
		if (f && !json_is_string(f) && !json_is_null(f)) {
			set_reason(why, whylen, "field %s is not a string", optional_str[i]);
			return false;
		}
	}
	f = json_object_get(ev, "request_id");
	if (f && !json_is_string(f) && !json_is_integer(f) && !json_is_null(f)) {
		set_reason(why, whylen, "field request_id is not a string or integer");
		return false;
	}
	f = json_object_get(ev, "detail");
	if (f && !json_is_object(f) && !json_is_null(f)) {
		set_reason(why, whylen, "field detail is not an object");
		return false;
	}
	return true;
}

/* seq as an integer in 1 .. 2^53-1, or false with the reason. */
static bool get_seq(json_t *ev, int64_t *seq, char *why, size_t whylen)
{
	json_t *f = json_object_get(ev, "seq");

	*seq = 0;
	if (!f) {
		set_reason(why, whylen, "missing field seq");
		return false;
	}
	if (!json_is_integer(f)) {
		set_reason(why, whylen, "field seq is not an integer");
		return false;
	}
	*seq = (int64_t)json_integer_value(f);
	if (*seq < 1 || *seq > (int64_t)CANON_MAX_INT) {
		set_reason(why, whylen, "field seq is out of range");
		return false;
	}
	return true;
}

/* Hash of ev without its "hash" member; removes that member from ev. */
static int hash_event(json_t *ev, char out[AUDIT_HASH_HEX_LEN + 1])
{
	char *canon = NULL;
	size_t len = 0;
	int rc;

	out[0] = '\0';
	(void)json_object_del(ev, "hash"); /* absent is fine */
	rc = canon_json(ev, &canon, &len);
	if (rc < 0)
		return rc;
	crypto_sha256_hex(canon, len, out);
	free(canon);
	return JG_OK;
}

int audit_event_seal(json_t *event, const char *prev_hex,
		     char hash_out[AUDIT_HASH_HEX_LEN + 1])
{
	char why[AUDIT_REASON_LEN], prev[AUDIT_HASH_HEX_LEN + 1];
	enum audit_action act;
	int64_t seq;
	int rc;

	/* prev_hex may be hash_out itself (a writer rolling its head) */
	if (!prev_hex || !is_hash_hex(prev_hex)) {
		hash_out[0] = '\0';
		return JG_ERR_INVALID;
	}
	memcpy(prev, prev_hex, sizeof(prev));
	hash_out[0] = '\0';
	if (!json_is_object(event))
		return JG_ERR_INVALID;
	if (json_object_set_new(event, "prev", json_string(prev)) < 0)
		return JG_ERR_NOMEM;
	(void)json_object_del(event, "hash");
	if (!get_seq(event, &seq, why, sizeof(why)) ||
	    !check_fields(event, false, why, sizeof(why))) {
		log_error(NULL, "audit event refused: %s", why);
		return JG_ERR_INVALID;
	}
	if (!action_parse(json_string_value(json_object_get(event, "action")), &act)) {
		log_error(NULL, "audit event refused: unknown action");
		return JG_ERR_INVALID;
	}
	rc = hash_event(event, hash_out);
	if (rc < 0) {
		log_error(NULL, "audit event refused: no canonical form (%s)",
			  jg_strerror(rc));
		return rc;
	}
	if (json_object_set_new(event, "hash", json_string(hash_out)) < 0) {
		hash_out[0] = '\0';
		return JG_ERR_NOMEM;
	}
	return JG_OK;
}

int audit_verifier_new(struct audit_verifier **out)
{
	struct audit_verifier *v;

	*out = NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return JG_ERR_NOMEM;
	memcpy(v->head, AUDIT_GENESIS_PREV, sizeof(v->head));
	*out = v;
	return JG_OK;
}

void audit_verifier_free(struct audit_verifier *v)
{
	free(v);
}

int audit_verifier_expect_head(struct audit_verifier *v, int64_t seq,
			       const char *hash_hex)
{
	if (seq < 1 || !hash_hex || !is_hash_hex(hash_hex))
		return JG_ERR_INVALID;
	v->want_head = true;
	v->want_seq = seq;
	memcpy(v->want_hash, hash_hex, sizeof(v->want_hash));
	return JG_OK;
}

static int fail(struct audit_verifier *v, int rc, int64_t seq, const char *why)
{
	v->failed = true;
	v->fail_rc = rc;
	v->bad_line = v->lines;
	v->bad_seq = seq;
	snprintf(v->reason, sizeof(v->reason), "%s", why);
	return rc;
}

static bool all_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

int audit_verifier_feed_line(struct audit_verifier *v, const char *line,
			     size_t len)
{
	char why[AUDIT_REASON_LEN];
	char claimed[AUDIT_HASH_HEX_LEN + 1], actual[AUDIT_HASH_HEX_LEN + 1];
	json_error_t jerr;
	json_t *ev = NULL;
	int64_t seq = 0;
	int rc;

	if (v->failed)
		return v->fail_rc;
	v->lines++;
	if (len > AUDIT_LINE_MAX) {
		snprintf(why, sizeof(why), "line too long (over %u bytes)",
			 AUDIT_LINE_MAX);
		return fail(v, JG_ERR_TOOBIG, 0, why);
	}
	if (all_space(line, len))
		return fail(v, JG_ERR_PARSE, 0, "empty line");
	ev = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!ev) {
		if (json_error_code(&jerr) == json_error_duplicate_key)
			return fail(v, JG_ERR_PARSE, 0, "duplicate key");
		snprintf(why, sizeof(why), "not JSON: %s (column %d)", jerr.text,
			 jerr.column);
		return fail(v, JG_ERR_PARSE, 0, why);
	}
	if (!json_is_object(ev)) {
		rc = fail(v, JG_ERR_INVALID, 0, "not a JSON object");
		goto out;
	}
	if (!get_seq(ev, &seq, why, sizeof(why)) ||
	    !check_fields(ev, true, why, sizeof(why))) {
		rc = fail(v, JG_ERR_INVALID, seq, why);
		goto out;
	}
	/* Order matters for the reason given: a removed or moved event shows
	 * first as a seq break, a rewritten predecessor as a prev break, an
	 * edit in place as a hash mismatch. */
	if (seq != v->last_seq + 1) {
		if (v->count == 0)
			snprintf(why, sizeof(why),
				 "first event has seq %" PRId64
				 ", expected 1 (an export starts at seq 1)", seq);
		else if (seq > v->last_seq + 1)
			snprintf(why, sizeof(why),
				 "seq gap: expected %" PRId64 ", got %" PRId64
				 " (event deleted or reordered)", v->last_seq + 1, seq);
		else
			snprintf(why, sizeof(why),
				 "seq goes back: expected %" PRId64 ", got %" PRId64
				 " (event duplicated or reordered)", v->last_seq + 1, seq);
		rc = fail(v, JG_ERR_INVALID, seq, why);
		goto out;
	}
	if (strcmp(json_string_value(json_object_get(ev, "prev")), v->head) != 0) {
		rc = fail(v, JG_ERR_INVALID, seq, v->count == 0
			  ? "prev of the first event is not the genesis value (64 zeros)"
			  : "prev does not match previous hash");
		goto out;
	}
	memcpy(claimed, json_string_value(json_object_get(ev, "hash")),
	       sizeof(claimed));
	rc = hash_event(ev, actual);
	if (rc == JG_ERR_NOMEM) {
		rc = fail(v, rc, seq, "out of memory");
		goto out;
	}
	if (rc < 0) {
		rc = fail(v, JG_ERR_INVALID, seq,
			  "event has no canonical form (non-integer or too large "
			  "number, invalid UTF-8, or nested too deep)");
		goto out;
	}
	if (!crypto_ct_equal(claimed, actual, AUDIT_HASH_HEX_LEN)) {
		rc = fail(v, JG_ERR_INVALID, seq, "hash mismatch (event edited)");
		goto out;
	}
	if (v->want_head && seq == v->want_seq &&
	    strcmp(actual, v->want_hash) != 0) {
		snprintf(why, sizeof(why),
			 "event differs from the known head at seq %" PRId64
			 " (log rewritten since the head was noted)", seq);
		rc = fail(v, JG_ERR_INVALID, seq, why);
		goto out;
	}
	v->count++;
	v->last_seq = seq;
	memcpy(v->head, actual, sizeof(v->head));
	rc = JG_OK;
out:
	json_decref(ev);
	return rc;
}

void audit_verifier_result(const struct audit_verifier *v,
			   struct audit_verify_result *out)
{
	memset(out, 0, sizeof(*out));
	out->count = v->count;
	out->head_seq = v->last_seq;
	memcpy(out->head, v->head, sizeof(out->head));
	if (v->failed) {
		out->bad_line = v->bad_line;
		out->bad_seq = v->bad_seq;
		snprintf(out->reason, sizeof(out->reason), "%s", v->reason);
		return;
	}
	if (v->want_head && v->last_seq < v->want_seq) {
		/* Reported where the first missing event should have been. */
		out->bad_line = v->lines + 1;
		out->bad_seq = v->last_seq + 1;
		snprintf(out->reason, sizeof(out->reason),
			 "truncated: export ends at seq %" PRId64
			 " but the known head is seq %" PRId64,
			 v->last_seq, v->want_seq);
		return;
	}
	out->ok = true;
}

int audit_verify_file_head(FILE *f, int64_t head_seq, const char *head_hash,
			   struct audit_verify_result *out)
{
	struct audit_verifier *v = NULL;
	char *buf = NULL;
	int rc, fed = JG_OK;

	memset(out, 0, sizeof(*out));
	rc = audit_verifier_new(&v);
	if (rc < 0)
		goto out;
	if (head_hash && (rc = audit_verifier_expect_head(v, head_seq, head_hash)) < 0)
		goto out;
	/* One byte past the limit is enough to know a line is too long. */
	buf = malloc(AUDIT_LINE_MAX + 1);
	if (!buf) {
		rc = JG_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		size_t len = 0;
		int c = EOF;

		while (len <= AUDIT_LINE_MAX && (c = getc_unlocked(f)) != EOF && c != '\n')
			buf[len++] = (char)c;
		if (len > AUDIT_LINE_MAX) {
			fed = audit_verifier_feed_line(v, buf, len);
			break;
		}
		if (c == EOF && len == 0)
			break; /* end of file, or the newline ending the last line */
		fed = audit_verifier_feed_line(v, buf, len);
		if (fed < 0 || c == EOF)
			break;
	}
	audit_verifier_result(v, out);
	if (ferror(f)) {
		out->ok = false;
		out->bad_line = v->lines + 1;
		out->bad_seq = 0;
		snprintf(out->reason, sizeof(out->reason), "read error: %s",
			 strerror(errno));
		rc = JG_ERR_IO;
		goto out;
	}
	rc = out->ok ? JG_OK : (fed < 0 ? fed : JG_ERR_INVALID);
out:
	if (rc < 0 && !out->reason[0]) {
		out->ok = false;
		snprintf(out->reason, sizeof(out->reason), "%s", jg_strerror(rc));
	}
	free(buf);
	audit_verifier_free(v);
	return rc;
}

int audit_verify_file(FILE *f, struct audit_verify_result *out)
{
	return audit_verify_file_head(f, 0, NULL, out);
}

void audit_verify_result_format(const struct audit_verify_result *r,
				char *buf, size_t len)
{
	if (r->ok)
		snprintf(buf, len, "ok: %" PRIu64 " events, head %s", r->count,
			 r->head);
	else if (r->bad_seq > 0)
		snprintf(buf, len, "FAIL at line %" PRIu64 " (seq %" PRId64 "): %s",
			 r->bad_line, r->bad_seq, r->reason);
	else
		snprintf(buf, len, "FAIL at line %" PRIu64 ": %s", r->bad_line,
			 r->reason);
}
