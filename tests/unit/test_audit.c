/* Audit hash chain: RFC 8785 canonical form, sealing, and the verifier's
 * verdict (line, seq, reason) for each way an export can be tampered with.
 * An independent Python verifier (the snippet in docs/audit.md) checks the
 * same export, so the format really is verifiable without jitgate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/canon.h"
#include "audit/chain.h"
#include "util/crypto.h"
#include "util/timeutil.h"

/* ---- canonical JSON ---------------------------------------------------- */

static void assert_canon_text(const char *json_in, const char *want)
{
	json_error_t err;
	json_t *v = json_loads(json_in, JSON_DECODE_ANY, &err);
	char *out = NULL;
	size_t len = 0;

	assert_non_null(v);
	assert_int_equal(canon_json(v, &out, &len), 0);
	assert_non_null(out);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	free(out);
	json_decref(v);
}

static void assert_canon_refused(json_t *v, int want_rc)
{
	char *out = (char *)"sentinel";
	size_t len = 7;

	assert_int_equal(canon_json(v, &out, &len), want_rc);
	assert_null(out);
	assert_int_equal(len, 0);
	json_decref(v);
}

/* RFC 8785 3.2.3: members sort by UTF-16 code units, so U+1F600 (D83D DE00)
 * comes before U+FB33 although its code point is larger. */
static void test_canon_rfc8785_sorting(void **state)
{
	(void)state;
	assert_canon_text(
		"{\n"
		"  \"\\u20ac\": \"Euro Sign\",\n"
		"  \"\\r\": \"Carriage Return\",\n"
		"  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n"
		"  \"1\": \"One\",\n"
		"  \"\\ud83d\\ude00\": \"Emoji: Grinning Face\",\n"
		"  \"\\u0080\": \"Control\",\n"
		"  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"\n"
		"}",
		"{\"\\r\":\"Carriage Return\","
		"\"1\":\"One\","
		"\"\xc2\x80\":\"Control\","
		"\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
		"\"\xe2\x82\xac\":\"Euro Sign\","
		"\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
		"\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

/* RFC 8785 3.2.2's example without its "numbers" member (reals are
 * refused, see below): literals, and the string escaping rules. */
static void test_canon_rfc8785_strings_literals(void **state)
{
	(void)state;
	assert_canon_text(
		"{\"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
		" \"literals\": [null, true, false]}",
		"{\"literals\":[null,true,false],"
		"\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

static void test_canon_escapes(void **state)
{
	/* every C0 control, DEL, U+2028 and '/' */
	static const char in[] = "\x00\x01\x07\b\t\n\x0b\f\r\x1f\x7f\xe2\x80\xa8/\"\\";
	json_t *v;
	char *out = NULL;

	(void)state;
	v = json_stringn(in, sizeof(in) - 1);
	assert_non_null(v);
	assert_int_equal(canon_json(v, &out, NULL), 0);
	assert_string_equal(out, "\"\\u0000\\u0001\\u0007\\b\\t\\n\\u000b\\f\\r\\u001f"
				 "\x7f\xe2\x80\xa8/\\\"\\\\\"");
	free(out);
	json_decref(v);
}

static void test_canon_structure(void **state)
{
	(void)state;
	assert_canon_text("{}", "{}");
	assert_canon_text("[]", "[]");
	assert_canon_text("\"\"", "\"\"");
	assert_canon_text("[ 0 , -1 , 9007199254740991, -9007199254740991 ]",
			  "[0,-1,9007199254740991,-9007199254740991]");
	/* nested objects are sorted too, arrays keep their order */
	assert_canon_text("{\"b\": [{\"z\": 1, \"a\": {\"y\": 2, \"x\": 3}}, 2, 1], \"a\": null,"
			  " \"ab\": true, \"B\": false}",
			  "{\"B\":false,\"a\":null,\"ab\":true,"
			  "\"b\":[{\"a\":{\"x\":3,\"y\":2},\"z\":1},2,1]}");
}

static void test_canon_refusals(void **state)
{
	json_t *deep, *cur;
	int i;

	(void)state;
	assert_canon_refused(json_real(1.5), JG_ERR_INVALID);
	assert_canon_refused(json_real(2.0), JG_ERR_INVALID);
	assert_canon_refused(json_pack("{s:[i,f]}", "n", 1, 0.25), JG_ERR_INVALID);
	assert_canon_refused(json_integer(9007199254740992LL), JG_ERR_INVALID);
	assert_canon_refused(json_integer(-9007199254740992LL), JG_ERR_INVALID);
	/* invalid UTF-8 in a member name (the sort order needs UTF-8) */
	cur = json_object();
	assert_int_equal(json_object_set_new_nocheck(cur, "k\xff", json_true()), 0);
	assert_canon_refused(cur, JG_ERR_INVALID);

	/* CANON_MAX_DEPTH nested arrays are fine, one more is not */
	deep = json_array();
	for (i = 1; i < CANON_MAX_DEPTH; i++) {
		cur = json_array();
		assert_int_equal(json_array_append_new(cur, deep), 0);
		deep = cur;
	}
	{
		char *out = NULL;

		assert_int_equal(canon_json(deep, &out, NULL), 0);
		assert_int_equal(strlen(out), 2 * CANON_MAX_DEPTH);
		free(out);
	}
	cur = json_array();
	assert_int_equal(json_array_append_new(cur, deep), 0);
	assert_canon_refused(cur, JG_ERR_INVALID);
}

static void assert_canon_bytes(json_t *v, const char *want)
{
	char *out = NULL, *again = NULL;
	json_t *back;

	assert_int_equal(canon_json(v, &out, NULL), 0);
	assert_string_equal(out, want);
	/* what is stored parses, and canonicalises to the same bytes (the
	 * hash chain verifies from the export) */
	back = json_loads(out, JSON_DECODE_ANY, NULL);
	assert_non_null(back);
	assert_int_equal(canon_json(back, &again, NULL), 0);
	assert_string_equal(again, out);
	json_decref(back);
	json_decref(v);
	free(out);
	free(again);
}

/* A value that is not UTF-8 (slipped past jansson, or made by
 * canon_string from outside bytes) is escaped, never a reason to refuse
 * the event. */
static void test_canon_escapes_invalid_utf8(void **state)
{
	(void)state;
	assert_canon_bytes(json_stringn_nocheck("a\xc0\xaf", 3), "\"a\\\\xc0\\\\xaf\"");
	assert_canon_bytes(json_stringn_nocheck("\xed\xa0\x80", 3),
			   "\"\\\\xed\\\\xa0\\\\x80\"");
	/* valid text around it stays as it is, controls are JSON-escaped */
	assert_canon_bytes(json_pack("{s:o}", "user", canon_string("d\xffve\n\xc3\xa9")),
			   "{\"user\":\"d\\\\xffve\\n\xc3\xa9\"}");
	/* a truncated sequence at the end */
	assert_canon_bytes(canon_stringn("ab\xe2\x82", 4), "\"ab\\\\xe2\\\\x82\"");
	/* canon_string of valid text is that text */
	assert_canon_bytes(canon_string("alice"), "\"alice\"");
	assert_canon_bytes(canon_string(NULL), "null");
}

static void test_canon_key_cmp(void **state)
{
	(void)state;
	assert_true(canon_key_cmp("a", 1, "ab", 2) < 0);
	assert_true(canon_key_cmp("ab", 2, "a", 1) > 0);
	assert_int_equal(canon_key_cmp("ab", 2, "ab", 2), 0);
	assert_int_equal(canon_key_cmp("", 0, "", 0), 0);
	assert_true(canon_key_cmp("B", 1, "a", 1) < 0);
	/* U+1F600 (D83D ...) < U+FB33 < U+FFFF, unlike code point order */
	assert_true(canon_key_cmp("\xf0\x9f\x98\x80", 4, "\xef\xac\xb3", 3) < 0);
	assert_true(canon_key_cmp("\xef\xbf\xbf", 3, "\xf0\x9f\x98\x80", 4) > 0);
	/* U+D7FF < U+10000 (D800 DC00) */
	assert_true(canon_key_cmp("\xed\x9f\xbf", 3, "\xf0\x90\x80\x80", 4) < 0);
	/* supplementary vs supplementary: high then low surrogate */
	assert_true(canon_key_cmp("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x81", 4) < 0);
	assert_true(canon_key_cmp("\xf0\x90\x8f\xbf", 4, "\xf0\x90\x90\x80", 4) < 0);
}

/* ---- the chain --------------------------------------------------------- */

#define N_EVENTS 50

static char *chain_lines[N_EVENTS];
static char chain_hashes[N_EVENTS][AUDIT_HASH_HEX_LEN + 1];

static json_t *make_event(int64_t seq)
{
	static const char *const actions[] = {
		"request.created", "request.approved", "request.activated",
		"session.started", "session.query", "request.revoked",
	};
	char t[TIME_RFC3339_LEN], rid[32];

	time_format(1790000000000LL + seq * 1500, t);
	snprintf(rid, sizeof(rid), "r-%lld", (long long)(seq / 3));
	/* non-ASCII text and controls in values make the Python cross-check
	 * exercise the escaping rules, not just ASCII */
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
			 " s:{s:s, s:I, s:[s,s], s:b, s:n}}",
			 "seq", (json_int_t)seq, "time", t,
			 "action", actions[seq % 6], "actor", "alice",
			 "request_id", rid, "subject", "alice",
			 "resource", "orders-db", "role", "read",
			 "detail", "reason", "Zo\xc3\xab needs \"it\"\n\tnow \x01 \xe2\x98\x95",
			 "n", (json_int_t)seq * 1000,
			 "tags", "\xf0\x9f\x98\x80", "\xef\xac\xb3",
			 "break_glass", 0, "ticket");
}

static char *dump_line(json_t *ev)
{
	char *s = json_dumps(ev, JSON_COMPACT);

	assert_non_null(s);
	return s;
}

static int build_chain(void **state)
{
	const char *prev = AUDIT_GENESIS_PREV;

	(void)state;
	for (int i = 0; i < N_EVENTS; i++) {
		json_t *ev = make_event(i + 1);
		char h[AUDIT_HASH_HEX_LEN + 1];

		if (!ev || audit_event_seal(ev, prev, h) != 0)
			return -1;
		if (strcmp(json_string_value(json_object_get(ev, "hash")), h) != 0)
			return -1;
		memcpy(chain_hashes[i], h, sizeof(h));
		chain_lines[i] = json_dumps(ev, JSON_COMPACT);
		json_decref(ev);
		if (!chain_lines[i])
			return -1;
		prev = chain_hashes[i];
	}
	return 0;
}

static int free_chain(void **state)
{
	(void)state;
	for (int i = 0; i < N_EVENTS; i++)
		free(chain_lines[i]);
	return 0;
}

/* A copy of the line array that a test may rearrange. */
struct lines {
	const char *l[N_EVENTS + 4];
	size_t n;
};

static void lines_init(struct lines *ls)
{
	for (int i = 0; i < N_EVENTS; i++)
		ls->l[i] = chain_lines[i];
	ls->n = N_EVENTS;
}

static void lines_delete(struct lines *ls, size_t idx)
{
	memmove(&ls->l[idx], &ls->l[idx + 1], (ls->n - idx - 1) * sizeof(ls->l[0]));
	ls->n--;
}

static void lines_insert(struct lines *ls, size_t idx, const char *s)
{
	memmove(&ls->l[idx + 1], &ls->l[idx], (ls->n - idx) * sizeof(ls->l[0]));
	ls->l[idx] = s;
	ls->n++;
}

/* Feeds every line (also after a failure, which must not change the
 * verdict) and returns the first error code. */
static int verify_lines(const struct lines *ls, int64_t head_seq,
			const char *head, struct audit_verify_result *r)
{
	struct audit_verifier *v = NULL;
	int first = 0;

	assert_int_equal(audit_verifier_new(&v), 0);
	if (head)
		assert_int_equal(audit_verifier_expect_head(v, head_seq, head), 0);
	for (size_t i = 0; i < ls->n; i++) {
		int rc = audit_verifier_feed_line(v, ls->l[i], strlen(ls->l[i]));

		if (rc < 0 && first == 0)
			first = rc;
		if (first < 0)
			assert_int_equal(rc, first);
	}
	audit_verifier_result(v, r);
	audit_verifier_free(v);
	return first;
}

static void assert_fails_at(const struct audit_verify_result *r, uint64_t line,
			    int64_t seq, const char *reason_part)
{
	assert_false(r->ok);
	assert_int_equal(r->bad_line, line);
	assert_int_equal(r->bad_seq, seq);
	if (!strstr(r->reason, reason_part))
		fail_msg("reason \"%s\" lacks \"%s\"", r->reason, reason_part);
}

/* A line with one member replaced (value is JSON text) or, with value
 * NULL, removed; hash left as it was. */
static char *edit_line(const char *line, const char *key, const char *value)
{
	json_t *ev = json_loads(line, 0, NULL);
	char *s;

	assert_non_null(ev);
	if (value)
		assert_int_equal(json_object_set_new(ev, key,
						     json_loads(value, JSON_DECODE_ANY, NULL)), 0);
	else
		assert_int_equal(json_object_del(ev, key), 0);
	s = dump_line(ev);
	json_decref(ev);
	return s;
}

static void test_chain_intact(void **state)
{
	struct audit_verify_result r;
	struct lines ls;
	char msg[256];

	(void)state;
	lines_init(&ls);
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), 0);
	assert_true(r.ok);
	assert_int_equal(r.count, N_EVENTS);
	assert_int_equal(r.head_seq, N_EVENTS);
	assert_string_equal(r.head, chain_hashes[N_EVENTS - 1]);
	assert_int_equal(r.bad_line, 0);
	audit_verify_result_format(&r, msg, sizeof(msg));
	assert_true(strncmp(msg, "ok: 50 events, head ", 20) == 0);
	assert_string_equal(msg + 20, chain_hashes[N_EVENTS - 1]);

	/* the head noted at any earlier point is still consistent */
	assert_int_equal(verify_lines(&ls, 17, chain_hashes[16], &r), 0);
	assert_true(r.ok);
	assert_int_equal(verify_lines(&ls, N_EVENTS, chain_hashes[N_EVENTS - 1], &r), 0);
	assert_true(r.ok);
}

static void test_seal_is_deterministic_and_links(void **state)
{
	json_t *ev = make_event(1), *again = make_event(1);
	char h1[AUDIT_HASH_HEX_LEN + 1], h2[AUDIT_HASH_HEX_LEN + 1];
	char *canon = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(audit_event_seal(ev, AUDIT_GENESIS_PREV, h1), 0);
	assert_string_equal(h1, chain_hashes[0]);
	assert_string_equal(json_string_value(json_object_get(ev, "prev")),
			    AUDIT_GENESIS_PREV);
	/* a stale hash member is ignored and replaced, member order is irrelevant */
	assert_int_equal(json_object_set_new(again, "hash", json_string("junk")), 0);
	assert_int_equal(audit_event_seal(again, AUDIT_GENESIS_PREV, h2), 0);
	assert_string_equal(h1, h2);
	/* the hash is SHA-256 of the canonical form without "hash" */
	assert_int_equal(json_object_del(ev, "hash"), 0);
	assert_int_equal(canon_json(ev, &canon, &len), 0);
	crypto_sha256_hex(canon, len, h2);
	assert_string_equal(h1, h2);
	free(canon);
	json_decref(ev);
	json_decref(again);
	for (int i = 1; i < N_EVENTS; i++) {
		json_t *e = json_loads(chain_lines[i], 0, NULL);

		assert_string_equal(json_string_value(json_object_get(e, "prev")),
				    chain_hashes[i - 1]);
		json_decref(e);
	}
}

/* Optional members may be absent or null; both seal and verify. */
static void test_optional_members(void **state)
{
	struct audit_verifier *v = NULL;
	struct audit_verify_result r;
	char h1[AUDIT_HASH_HEX_LEN + 1], h2[AUDIT_HASH_HEX_LEN + 1];
	json_t *a = json_pack("{s:i, s:s, s:s, s:s}", "seq", 1,
			      "time", "2026-01-01T00:00:00Z",
			      "action", "config.loaded", "actor", "system");
	json_t *b = json_pack("{s:i, s:s, s:s, s:s, s:n, s:n, s:n, s:n, s:n, s:i}",
			      "seq", 2, "time", "2026-01-01T00:00:01.5Z",
			      "action", "check.denied", "actor", "svc",
			      "subject", "resource", "role", "request_id", "detail",
			      "extra", 7);
	char *la, *lb;

	(void)state;
	assert_int_equal(audit_event_seal(a, AUDIT_GENESIS_PREV, h1), 0);
	assert_int_equal(audit_event_seal(b, h1, h2), 0);
	la = dump_line(a);
	lb = dump_line(b);
	assert_int_equal(audit_verifier_new(&v), 0);
	assert_int_equal(audit_verifier_feed_line(v, la, strlen(la)), 0);
	assert_int_equal(audit_verifier_feed_line(v, lb, strlen(lb)), 0);
	audit_verifier_result(v, &r);
	assert_true(r.ok);
	assert_string_equal(r.head, h2);
	audit_verifier_free(v);
	free(la);
	free(lb);
	json_decref(a);
	json_decref(b);
}

static void test_seal_refuses_malformed_events(void **state)
{
	char h[AUDIT_HASH_HEX_LEN + 1];
	json_t *ev;

	(void)state;
#define REFUSED(mutation)                                                   \
	do {                                                                \
		ev = make_event(3);                                         \
		mutation;                                                   \
		assert_int_equal(audit_event_seal(ev, AUDIT_GENESIS_PREV, h), \
				 JG_ERR_INVALID);                           \
		assert_string_equal(h, "");                                 \
		assert_null(json_object_get(ev, "hash"));                   \
		json_decref(ev);                                            \
	} while (0)
	REFUSED(json_object_del(ev, "time"));
	REFUSED(json_object_set_new(ev, "time", json_string("yesterday")));
	REFUSED(json_object_del(ev, "seq"));
	REFUSED(json_object_set_new(ev, "seq", json_integer(0)));
	REFUSED(json_object_set_new(ev, "seq", json_string("3")));
	REFUSED(json_object_set_new(ev, "action", json_string("request.teleported")));
	REFUSED(json_object_set_new(ev, "actor", json_string("")));
	REFUSED(json_object_set_new(ev, "detail", json_string("text")));
	REFUSED(json_object_set_new(ev, "role", json_integer(2)));
	REFUSED(json_object_set_new(json_object_get(ev, "detail"), "ratio",
				    json_real(0.5)));
#undef REFUSED
	ev = make_event(3);
	assert_int_equal(audit_event_seal(ev, "00", h), JG_ERR_INVALID);
	assert_int_equal(audit_event_seal(ev, "ABCDEF0000000000000000000000000000000000000000000000000000000000", h),
			 JG_ERR_INVALID);
	json_decref(ev);
	assert_int_equal(audit_event_seal(NULL, AUDIT_GENESIS_PREV, h), JG_ERR_INVALID);
}

static void test_tamper_edit_field(void **state)
{
	struct audit_verify_result r;
	struct lines ls;
	char *edited;

	(void)state;
	lines_init(&ls);
	edited = edit_line(chain_lines[19], "actor", "\"mallory\"");
	ls.l[19] = edited;
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_INVALID);
	assert_fails_at(&r, 20, 20, "hash mismatch (event edited)");
	assert_int_equal(r.count, 19);
	assert_string_equal(r.head, chain_hashes[18]);
	free(edited);

	/* an edit deep inside detail, too */
	lines_init(&ls);
	edited = edit_line(chain_lines[3], "detail", "{\"reason\":\"routine\"}");
	ls.l[3] = edited;
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_INVALID);
	assert_fails_at(&r, 4, 4, "hash mismatch");
	free(edited);
}

/* Editing an event and re-hashing it consistently moves the break to the
 * next event, whose prev no longer matches. */
static void test_tamper_edit_and_rehash(void **state)
{
	struct audit_verify_result r;
	struct lines ls;
	json_t *ev;
	char h[AUDIT_HASH_HEX_LEN + 1], *edited;

	(void)state;
	lines_init(&ls);
	ev = json_loads(chain_lines[29], 0, NULL);
	assert_int_equal(json_object_set_new(ev, "role", json_string("admin")), 0);
	assert_int_equal(audit_event_seal(ev, chain_hashes[28], h), 0);
	edited = dump_line(ev);
	json_decref(ev);
	ls.l[29] = edited;
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_INVALID);
	assert_fails_at(&r, 31, 31, "prev does not match previous hash");
	assert_int_equal(r.count, 30);
	assert_string_equal(r.head, h);
	free(edited);
}

static void test_tamper_delete(void **state)
{
	struct audit_verify_result r;
	struct lines ls;

	(void)state;
	lines_init(&ls);
	lines_delete(&ls, 29);
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_INVALID);
	assert_fails_at(&r, 30, 31, "seq gap: expected 30, got 31 (event deleted or reordered)");

	lines_init(&ls);
	lines_delete(&ls, 0);
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_INVALID);
	assert_fails_at(&r, 1, 2, "first event has seq 2, expected 1");
	assert_int_equal(r.count, 0);
	assert_string_equal(r.head, AUDIT_GENESIS_PREV);
}

static void test_tamper_swap(void **state)
{
	struct audit_verify_result r;
	struct lines ls;

	(void)state;
	lines_init(&ls);
	ls.l[9] = chain_lines[10];
	ls.l[10] = chain_lines[9];
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_INVALID);
	assert_fails_at(&r, 10, 11, "seq gap: expected 10, got 11");
}

static void test_tamper_swap_with_renumbering(void **state)
{
	struct audit_verify_result r;
	struct lines ls;
	char *a, *b;

	(void)state;
	/* swapped and renumbered but not re-hashed: the hash catches it */
	lines_init(&ls);
	a = edit_line(chain_lines[10], "seq", "10");
	b = edit_line(chain_lines[9], "seq", "11");
	ls.l[9] = a;
	ls.l[10] = b;
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_INVALID);
	assert_fails_at(&r, 10, 10, "prev does not match previous hash");
	free(a);
	free(b);
}

static void test_tamper_duplicate_line(void **state)
{
	struct audit_verify_result r;
	struct lines ls;

	(void)state;
	lines_init(&ls);
	lines_insert(&ls, 15, chain_lines[14]);
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_INVALID);
	assert_fails_at(&r, 16, 15, "seq goes back: expected 16, got 15 (event duplicated or reordered)");
	assert_int_equal(r.count, 15);
}

static void test_tamper_truncate_head(void **state)
{
	struct audit_verify_result r;
	struct lines ls;
	char msg[256];

	(void)state;
	lines_init(&ls);
	ls.n -= 3;
	/* alone, a cut-off tail looks like an older, complete export */
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), 0);
	assert_true(r.ok);
	assert_int_equal(r.count, N_EVENTS - 3);
	/* against the known head it is caught, where event 48 should be */
	assert_int_equal(verify_lines(&ls, N_EVENTS, chain_hashes[N_EVENTS - 1], &r), 0);
	assert_fails_at(&r, 48, 48, "truncated: export ends at seq 47 but the known head is seq 50");
	assert_int_equal(r.count, 47);
	audit_verify_result_format(&r, msg, sizeof(msg));
	assert_string_equal(msg, "FAIL at line 48 (seq 48): truncated: export ends "
				 "at seq 47 but the known head is seq 50");

	/* an empty export against a known head */
	ls.n = 0;
	verify_lines(&ls, 1, chain_hashes[0], &r);
	assert_fails_at(&r, 1, 1, "truncated");
}

/* The tail rewritten consistently (re-sealed from event 40 on) verifies on
 * its own; the known head exposes it. */
static void test_tamper_rewritten_tail(void **state)
{
	struct audit_verify_result r;
	struct lines ls;
	char *rewritten[N_EVENTS] = {0};
	char prev[AUDIT_HASH_HEX_LEN + 1];

	(void)state;
	lines_init(&ls);
	memcpy(prev, chain_hashes[38], sizeof(prev));
	for (int i = 39; i < N_EVENTS; i++) {
		json_t *ev = json_loads(chain_lines[i], 0, NULL);

		assert_int_equal(json_object_set_new(ev, "actor", json_string("mallory")), 0);
		assert_int_equal(audit_event_seal(ev, prev, prev), 0);
		rewritten[i] = dump_line(ev);
		ls.l[i] = rewritten[i];
		json_decref(ev);
	}
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), 0);
	assert_true(r.ok);
	assert_int_equal(verify_lines(&ls, N_EVENTS, chain_hashes[N_EVENTS - 1], &r),
			 JG_ERR_INVALID);
	assert_fails_at(&r, 50, 50, "differs from the known head");
	for (int i = 0; i < N_EVENTS; i++)
		free(rewritten[i]);
}

static void test_tamper_bad_json(void **state)
{
	struct audit_verify_result r;
	struct lines ls;
	char msg[256];

	(void)state;
	lines_init(&ls);
	ls.l[6] = "{\"seq\":7,\"time\":";
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_PARSE);
	assert_fails_at(&r, 7, 0, "not JSON");
	assert_int_equal(r.count, 6);
	audit_verify_result_format(&r, msg, sizeof(msg));
	assert_true(strncmp(msg, "FAIL at line 7: not JSON", 24) == 0);

	lines_init(&ls);
	ls.l[6] = "[7]";
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_INVALID);
	assert_fails_at(&r, 7, 0, "not a JSON object");

	lines_init(&ls);
	ls.l[6] = "";
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_PARSE);
	assert_fails_at(&r, 7, 0, "empty line");

	/* two events on one line */
	lines_init(&ls);
	{
		char *two = malloc(strlen(chain_lines[6]) + strlen(chain_lines[7]) + 1);

		strcpy(two, chain_lines[6]);
		strcat(two, chain_lines[7]);
		ls.l[6] = two;
		lines_delete(&ls, 7);
		assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_PARSE);
		assert_fails_at(&r, 7, 0, "not JSON");
		free(two);
	}
}

static void test_tamper_duplicate_key(void **state)
{
	struct audit_verify_result r;
	struct lines ls;
	char *dup = malloc(strlen(chain_lines[7]) + 32);

	(void)state;
	/* a second "actor" before the real one: parsers that keep the first
	 * and those that keep the last would disagree on who acted */
	strcpy(dup, "{\"actor\":\"mallory\",");
	strcat(dup, chain_lines[7] + 1);
	lines_init(&ls);
	ls.l[7] = dup;
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_PARSE);
	assert_fails_at(&r, 8, 0, "duplicate key");
	free(dup);
}

static void test_tamper_missing_fields(void **state)
{
	static const struct { const char *key, *value, *reason; } cases[] = {
		{"hash", NULL, "missing field hash"},
		{"seq", NULL, "missing field seq"},
		{"prev", NULL, "missing field prev"},
		{"time", NULL, "missing field time"},
		{"action", NULL, "missing field action"},
		{"actor", NULL, "missing field actor"},
		{"hash", "\"ABC\"", "field hash is not 64 lowercase hex digits"},
		{"seq", "\"12\"", "field seq is not an integer"},
		{"seq", "1.2e1", "field seq is not an integer"},
		{"time", "\"noon\"", "field time is not an RFC 3339 UTC time"},
		{"detail", "[]", "field detail is not an object"},
		{"subject", "7", "field subject is not a string"},
		{"request_id", "[1]", "field request_id is not a string or integer"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct audit_verify_result r;
		struct lines ls;
		char *edited = edit_line(chain_lines[11], cases[i].key, cases[i].value);

		lines_init(&ls);
		ls.l[11] = edited;
		assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_INVALID);
		/* seq is reported whenever it could be read */
		assert_fails_at(&r, 12, strcmp(cases[i].key, "seq") ? 12 : 0,
				cases[i].reason);
		free(edited);
	}
}

static void test_tamper_prev(void **state)
{
	struct audit_verify_result r;
	struct lines ls;
	char *edited, val[AUDIT_HASH_HEX_LEN + 3];

	(void)state;
	snprintf(val, sizeof(val), "\"%s\"", chain_hashes[22]);
	edited = edit_line(chain_lines[24], "prev", val);
	lines_init(&ls);
	ls.l[24] = edited;
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_INVALID);
	assert_fails_at(&r, 25, 25, "prev does not match previous hash");
	free(edited);

	snprintf(val, sizeof(val), "\"%s\"", chain_hashes[5]);
	edited = edit_line(chain_lines[0], "prev", val);
	lines_init(&ls);
	ls.l[0] = edited;
	assert_int_equal(verify_lines(&ls, 0, NULL, &r), JG_ERR_INVALID);
	assert_fails_at(&r, 1, 1, "not the genesis value");
	free(edited);
}

static void test_verifier_limits(void **state)
{
	struct audit_verifier *v = NULL;
	struct audit_verify_result r;
	char *big = malloc(AUDIT_LINE_MAX + 1);

	(void)state;
	memset(big, ' ', AUDIT_LINE_MAX + 1);
	assert_int_equal(audit_verifier_new(&v), 0);
	assert_int_equal(audit_verifier_feed_line(v, chain_lines[0], strlen(chain_lines[0])), 0);
	assert_int_equal(audit_verifier_feed_line(v, big, AUDIT_LINE_MAX + 1), JG_ERR_TOOBIG);
	/* sticky: a good line after a failure is not accepted */
	assert_int_equal(audit_verifier_feed_line(v, chain_lines[1], strlen(chain_lines[1])),
			 JG_ERR_TOOBIG);
	audit_verifier_result(v, &r);
	assert_fails_at(&r, 2, 0, "line too long");
	assert_int_equal(r.count, 1);
	audit_verifier_free(v);
	free(big);

	assert_int_equal(audit_verifier_new(&v), 0);
	assert_int_equal(audit_verifier_expect_head(v, 0, chain_hashes[0]), JG_ERR_INVALID);
	assert_int_equal(audit_verifier_expect_head(v, 1, "abc"), JG_ERR_INVALID);
	/* nothing fed: an empty log verifies, head is the genesis value */
	audit_verifier_result(v, &r);
	assert_true(r.ok);
	assert_int_equal(r.count, 0);
	assert_string_equal(r.head, AUDIT_GENESIS_PREV);
	audit_verifier_free(v);
}

/* ---- files and the independent Python verifier -------------------------- */

static FILE *export_file(char *path, size_t n, bool final_newline)
{
	int fd;
	FILE *f;

	strcpy(path, "/tmp/jg-audit-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w+");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", chain_lines[i], i + 1 < n || final_newline ? "\n" : "");
	fflush(f);
	rewind(f);
	return f;
}

static void test_verify_file(void **state)
{
	struct audit_verify_result r;
	char path[64], msg[256];
	FILE *f;

	(void)state;
	f = export_file(path, N_EVENTS, true);
	assert_int_equal(audit_verify_file(f, &r), 0);
	assert_true(r.ok);
	assert_int_equal(r.count, N_EVENTS);
	assert_string_equal(r.head, chain_hashes[N_EVENTS - 1]);
	rewind(f);
	assert_int_equal(audit_verify_file_head(f, 20, chain_hashes[19], &r), 0);
	rewind(f);
	assert_int_equal(audit_verify_file_head(f, 51, chain_hashes[19], &r), JG_ERR_INVALID);
	assert_fails_at(&r, 51, 51, "truncated");
	fclose(f);
	unlink(path);

	f = export_file(path, 10, false);
	assert_int_equal(audit_verify_file(f, &r), 0);
	assert_int_equal(r.count, 10);
	fclose(f);
	unlink(path);

	f = export_file(path, 0, false);
	assert_int_equal(audit_verify_file(f, &r), 0);
	audit_verify_result_format(&r, msg, sizeof(msg));
	assert_string_equal(msg, "ok: 0 events, head " AUDIT_GENESIS_PREV);
	fclose(f);
	unlink(path);

	/* a blank line in the middle, and an over-long line */
	f = export_file(path, 3, true);
	fseek(f, 0, SEEK_END);
	fputs("\n", f);
	for (size_t i = 0; i < AUDIT_LINE_MAX + 10; i++)
		fputc('x', f);
	rewind(f);
	assert_int_equal(audit_verify_file(f, &r), JG_ERR_PARSE);
	assert_fails_at(&r, 4, 0, "empty line");
	fclose(f);
	unlink(path);

	f = export_file(path, 3, true);
	fseek(f, 0, SEEK_END);
	for (size_t i = 0; i < AUDIT_LINE_MAX + 10; i++)
		fputc('x', f);
	fputs("\n", f);
	fputs(chain_lines[3], f);
	rewind(f);
	assert_int_equal(audit_verify_file(f, &r), JG_ERR_TOOBIG);
	assert_fails_at(&r, 4, 0, "line too long");
	assert_int_equal(r.count, 3);
	fclose(f);
	unlink(path);
}

/* The Python snippet exactly as docs/audit.md shows it, after the marker. */
static char *python_snippet(void)
{
	static const char marker[] = "<!-- test_audit runs this snippet -->";
	char *doc, *start, *end, *code;
	long size;
	FILE *f = fopen(JG_SOURCE_DIR "/docs/audit.md", "r");

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	doc = calloc(1, (size_t)size + 1);
	assert_int_equal(fread(doc, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	start = strstr(doc, marker);
	assert_non_null(start);
	start = strstr(start, "```python\n");
	assert_non_null(start);
	start += strlen("```python\n");
	end = strstr(start, "\n```");
	assert_non_null(end);
	code = strndup(start, (size_t)(end - start) + 1);
	free(doc);
	return code;
}

/* Runs the documented snippet on an export; returns its exit status and
 * its first output line (stdout and stderr) in out. */
static int run_python(const char *export_path, char *out, size_t outlen)
{
	char script[] = "/tmp/jg-audit-py-XXXXXX", cmd[256], res[64];
	char *code = python_snippet();
	int fd = mkstemp(script), status;
	FILE *f;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, code, strlen(code)), (ssize_t)strlen(code));
	close(fd);
	free(code);
	snprintf(res, sizeof(res), "%s.out", script);
	snprintf(cmd, sizeof(cmd), "python3 %s %s >%s 2>&1", script, export_path, res);
	status = system(cmd);
	assert_true(WIFEXITED(status));
	f = fopen(res, "r");
	assert_non_null(f);
	out[0] = '\0';
	if (!fgets(out, (int)outlen, f))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
	unlink(res);
	unlink(script);
	return WEXITSTATUS(status);
}

static void test_python_verifies_export(void **state)
{
	char path[64], out[512], want[256];
	FILE *f;

	(void)state;
	f = export_file(path, N_EVENTS, true);
	fclose(f);
	assert_int_equal(run_python(path, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "ok: %d events, head %s", N_EVENTS,
		 chain_hashes[N_EVENTS - 1]);
	assert_string_equal(out, want);
	unlink(path);

	/* and the snippet is a real check: an edited event fails it */
	f = export_file(path, 0, false);
	for (int i = 0; i < 8; i++) {
		char *line = i == 5 ? edit_line(chain_lines[i], "role", "\"admin\"")
				    : strdup(chain_lines[i]);

		fprintf(f, "%s\n", line);
		free(line);
	}
	fclose(f);
	assert_int_not_equal(run_python(path, out, sizeof(out)), 0);
	assert_string_equal(out, "FAIL at line 6: hash mismatch");
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon_rfc8785_sorting),
		cmocka_unit_test(test_canon_rfc8785_strings_literals),
		cmocka_unit_test(test_canon_escapes),
		cmocka_unit_test(test_canon_structure),
		cmocka_unit_test(test_canon_refusals),
		cmocka_unit_test(test_canon_escapes_invalid_utf8),
		cmocka_unit_test(test_canon_key_cmp),
		cmocka_unit_test(test_chain_intact),
		cmocka_unit_test(test_seal_is_deterministic_and_links),
		cmocka_unit_test(test_optional_members),
		cmocka_unit_test(test_seal_refuses_malformed_events),
		cmocka_unit_test(test_tamper_edit_field),
		cmocka_unit_test(test_tamper_edit_and_rehash),
		cmocka_unit_test(test_tamper_delete),
		cmocka_unit_test(test_tamper_swap),
		cmocka_unit_test(test_tamper_swap_with_renumbering),
		cmocka_unit_test(test_tamper_duplicate_line),
		cmocka_unit_test(test_tamper_truncate_head),
		cmocka_unit_test(test_tamper_rewritten_tail),
		cmocka_unit_test(test_tamper_bad_json),
		cmocka_unit_test(test_tamper_duplicate_key),
		cmocka_unit_test(test_tamper_missing_fields),
		cmocka_unit_test(test_tamper_prev),
		cmocka_unit_test(test_verifier_limits),
		cmocka_unit_test(test_verify_file),
		cmocka_unit_test(test_python_verifies_export),
	};

	return cmocka_run_group_tests(tests, build_chain, free_chain);
}
