/* Feeds arbitrary bytes, split at '\n', to one audit verifier as an export
 * would be, and checks that the verdict is self-consistent.  Each line that
 * is JSON is also canonicalised twice (canonical form re-parsed) to check
 * that canon_json is idempotent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/canon.h"
#include "audit/chain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_canon_idempotent(const char *line, size_t len)
{
	json_t *v = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	json_t *again;
	char *c1 = NULL, *c2 = NULL;
	size_t l1 = 0, l2 = 0;

	if (!v)
		return;
	if (canon_json(v, &c1, &l1) == 0) {
		again = json_loadb(c1, l1, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		if (!again || canon_json(again, &c2, &l2) != 0 || l1 != l2 ||
		    memcmp(c1, c2, l1) != 0)
			abort();
		json_decref(again);
	}
	free(c1);
	free(c2);
	json_decref(v);
}

static bool is_hex64(const char *s)
{
	return strlen(s) == AUDIT_HASH_HEX_LEN &&
	       strspn(s, "0123456789abcdef") == AUDIT_HASH_HEX_LEN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct audit_verifier *v = NULL;
	struct audit_verify_result r;
	uint64_t lines = 0;
	int first = 0;

	if (audit_verifier_new(&v) != 0)
		return 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int rc;

		check_canon_idempotent(p, len);
		rc = audit_verifier_feed_line(v, p, len);
		lines++;
		if (first < 0 && rc != first)
			abort(); /* the first failure must stick */
		if (rc < 0 && first == 0)
			first = rc;
		p += len + (nl ? 1 : 0);
	}
	audit_verifier_result(v, &r);
	if (r.ok != (first == 0) || !is_hex64(r.head) ||
	    r.count > lines || (int64_t)r.count != r.head_seq)
		abort();
	if (r.ok ? (r.bad_line != 0 || r.reason[0])
		 : (r.bad_line < 1 || r.bad_line > lines || !r.reason[0] ||
		    r.bad_line != r.count + 1))
		abort();
	audit_verifier_free(v);
	return 0;
}
